//! The TCB on its own, without an engine: every call returns what it did
//! (an [`Outcome`]), and nothing else tells the engine. These tests drive
//! one passive connection by hand and check those outcomes; the engine's
//! segment-level suite (`engine/tests`) checks what goes on the wire.

use core::time::Duration;
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::api::{CloseOutcome, State};
use crate::buf::{HeapBuf, HeapPool};
use crate::config::EngineConfig;
use crate::memory::{Budget, MemView, MemoryLevel};
use crate::stats::{RstReason, Stats};
use crate::time::Instant;
use crate::wire::{SeqNumber, TcpFlags};

use super::input::SegmentInfo;
use super::timers::TimerKind;
use super::{Ctx, EventBits, Outcome, Secrets, Tcb};

const PEER_ISS: u32 = 1_000;
const OUR_ISS: u32 = 5_000;

/// The context of a call: nothing held, memory plentiful.
fn ctx<'a>(cfg: &'a EngineConfig, budget: &'a Budget, now: Instant) -> Ctx<'a> {
    Ctx {
        cfg: &cfg.tcp,
        mss: 1460,
        now,
        mem: MemView {
            budget,
            held: 0,
            level: MemoryLevel::Normal,
            pool_low: false,
        },
    }
}

/// What a TCB needs around it: configuration, memory limits, a clock.
struct Bench {
    cfg: EngineConfig,
    budget: Budget,
    now: Instant,
    pool: HeapPool,
    stats: Stats,
}

impl Bench {
    fn new() -> Bench {
        let cfg = EngineConfig::default();
        let budget = Budget::new(&cfg, Some(1024), Some(2048));
        Bench {
            cfg,
            budget,
            now: Instant::from_nanos(1_000_000_000),
            pool: HeapPool::new(1024, 2048, 128),
            stats: Stats::default(),
        }
    }

    fn ctx(&self) -> Ctx<'_> {
        ctx(&self.cfg, &self.budget, self.now)
    }

    /// A segment from the peer: `seq` and `ack` relative to the ISNs.
    fn segment(seq: u32, ack: u32, flags: TcpFlags, len: usize) -> SegmentInfo {
        SegmentInfo {
            seq: SeqNumber(PEER_ISS.wrapping_add(seq)),
            ack: SeqNumber(OUR_ISS.wrapping_add(ack)),
            flags,
            window: 65_535,
            mss: None,
            wscale: None,
            ts: None,
            sack_permitted: false,
            sack: [None; 4],
            len,
            urgent: None,
        }
    }

    fn arrive(&mut self, tcb: &mut Tcb<HeapBuf>, seg: SegmentInfo, data: &[u8]) -> Outcome {
        let payload = (!data.is_empty()).then(|| self.pool.alloc_with(data).expect("a buffer"));
        let ctx = ctx(&self.cfg, &self.budget, self.now);
        tcb.on_segment(&ctx, &seg, payload, &mut self.stats)
    }

    /// A connection a SYN opened: SYN-RECEIVED, its SYN-ACK not sent yet.
    fn syn_received(&self) -> Tcb<HeapBuf> {
        let mut syn = Bench::segment(0, 0, TcpFlags::SYN, 0);
        syn.mss = Some(1460);
        let local = SocketAddrV4::new(Ipv4Addr::new(10, 99, 0, 1), 80);
        let remote = SocketAddrV4::new(Ipv4Addr::new(10, 99, 0, 2), 40_000);
        let secrets = Secrets {
            iss: SeqNumber(OUR_ISS),
            ts_offset: 0,
        };
        let mut tcb = Tcb::new_passive(&self.ctx(), local, remote, secrets, &syn);
        let _ = tcb.finish();
        tcb
    }

    /// A connection through the handshake: SYN in, SYN-ACK out, ACK in.
    fn established(&mut self) -> Tcb<HeapBuf> {
        let mut tcb = self.syn_received();
        let (synack, out) = tcb.poll_segment(&self.ctx());
        let synack = synack.expect("a SYN-ACK");
        assert!(synack.flags.contains(TcpFlags::SYN | TcpFlags::ACK));
        assert!(out.timers, "the SYN-ACK arms the retransmission timer");
        let out = self.arrive(&mut tcb, Bench::segment(1, 1, TcpFlags::ACK, 0), &[]);
        assert_eq!(tcb.state, State::Established);
        assert!(out.events.has(EventBits::CONNECTED) && out.events.has(EventBits::WRITABLE));
        tcb
    }
}

#[test]
fn handshake_outcomes_raise_connected_and_nothing_else() {
    let mut bench = Bench::new();
    let mut tcb = bench.established();
    // A pure ACK for nothing new: no events, no abort, no reply.
    let out = bench.arrive(&mut tcb, Bench::segment(1, 1, TcpFlags::ACK, 0), &[]);
    assert_eq!(out.events, EventBits::default());
    assert_eq!((out.abort, out.reply_rst), (None, None));
}

/// RFC 9293 3.10.7.4, SYN-RECEIVED: an ACK outside SND.UNA..SND.MAX is
/// answered with a RST formed from it.
#[test]
fn bad_ack_in_syn_received_asks_for_a_reset_reply() {
    let mut bench = Bench::new();
    let mut tcb = bench.syn_received();
    let _ = tcb.poll_segment(&bench.ctx());
    let out = bench.arrive(&mut tcb, Bench::segment(1, 999, TcpFlags::ACK, 0), &[]);
    assert_eq!(out.reply_rst, Some(RstReason::BadAck));
    assert_eq!(out.events, EventBits::default());
    assert_eq!(tcb.state, State::SynReceived);
}

/// RFC 5681 4.2: data in order is readable; data beyond a hole asks for
/// an ACK now (a duplicate ACK), and is not readable.
#[test]
fn in_order_data_is_readable_and_out_of_order_data_acks_now() {
    let mut bench = Bench::new();
    let mut tcb = bench.established();
    let out = bench.arrive(
        &mut tcb,
        Bench::segment(101, 1, TcpFlags::ACK, 100),
        &[7; 100],
    );
    assert!(
        out.ack_now,
        "an out-of-order segment is acknowledged at once"
    );
    assert!(!out.events.has(EventBits::READABLE));
    assert!(out.timers, "out-of-order data starts the reassembly timer");

    let out = bench.arrive(
        &mut tcb,
        Bench::segment(1, 1, TcpFlags::ACK, 100),
        &[3; 100],
    );
    assert!(out.events.has(EventBits::READABLE));
    assert!(
        out.ack_now,
        "the segment that fills a hole is acknowledged at once"
    );
    assert_eq!(tcb.recv.len(), 200);
}

/// RFC 9293 3.10.7.4 "eighth": the peer's FIN is acknowledged at once and
/// announced as end of stream.
#[test]
fn peer_fin_raises_peer_closed_and_readable() {
    let mut bench = Bench::new();
    let mut tcb = bench.established();
    let out = bench.arrive(
        &mut tcb,
        Bench::segment(1, 1, TcpFlags::ACK | TcpFlags::FIN, 0),
        &[],
    );
    assert!(out.events.has(EventBits::PEER_CLOSED) && out.events.has(EventBits::READABLE));
    assert!(out.ack_now);
    assert_eq!(tcb.state, State::CloseWait);
}

/// Contract 8a: closing with unread data aborts; the outcome says so and
/// why, and the TCB itself sends nothing.
#[test]
fn close_with_unread_data_asks_for_an_abort() {
    let mut bench = Bench::new();
    let mut tcb = bench.established();
    let _ = bench.arrive(&mut tcb, Bench::segment(1, 1, TcpFlags::ACK, 10), &[1; 10]);
    let out = tcb.close(&bench.ctx());
    assert_eq!(out.abort, Some(RstReason::UnreadData));
}

/// Contract 9b: with linger set, a close that cannot finish in time ends
/// in an abort the outcome of the linger timer asks for, with `Closed`
/// reporting `Aborted`.
#[test]
fn linger_timeout_asks_for_an_abort_and_reports_closed() {
    let mut bench = Bench::new();
    let mut tcb = bench.established();
    let ctx = ctx(&bench.cfg, &bench.budget, bench.now);
    let (written, out) =
        tcb.call(|tcb| tcb.write(&ctx, &mut bench.pool, &[9; 1000], &mut bench.stats));
    assert_eq!(written, Ok(1000));
    assert_eq!(out.abort, None);
    let (seg, _) = tcb.poll_segment(&bench.ctx());
    assert_eq!(seg.expect("the data").data_len, 1000);

    tcb.linger = Some(Duration::from_secs(1));
    let out = tcb.close(&bench.ctx());
    assert_eq!(out.abort, None, "a graceful close waits for the peer");
    assert!(out.timers, "the linger timer was armed");
    assert!(tcb.deadlines.is_set(TimerKind::Linger));

    bench.now += Duration::from_secs(1);
    let ctx = bench.ctx();
    let out = tcb.on_timer(&ctx, TimerKind::Linger, &mut Stats::default());
    assert_eq!(out.abort, Some(RstReason::Abort));
    assert!(out.events.has(EventBits::CLOSED));
    assert_eq!(tcb.close_outcome, Some(CloseOutcome::Aborted));
}

/// An outcome is handed over once: the next call starts from nothing.
#[test]
fn an_outcome_is_handed_over_once() {
    let mut bench = Bench::new();
    let mut tcb = bench.established();
    let out = bench.arrive(
        &mut tcb,
        Bench::segment(1, 1, TcpFlags::ACK | TcpFlags::FIN, 0),
        &[],
    );
    assert!(out.events.has(EventBits::PEER_CLOSED));
    let ((), out) = tcb.call(|_| ());
    assert_eq!(out.events, EventBits::default());
    assert!(!out.timers);
}
