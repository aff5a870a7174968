//! The TCP connection: one transmission control block (TCB) and the logic
//! that drives it, split by concern:
//!
//! - [`input`]: segment arrival, RFC 9293 section 3.10.7;
//! - [`output`]: what to send next (data, FIN, ACKs, probes);
//! - [`timers`]: retransmission, delayed ACK, persist, keepalive, linger,
//!   FIN_WAIT_2 and TIME_WAIT;
//! - [`user`]: the application's calls (read, write, shutdown, close);
//! - queues, reassembly, RTT estimation and congestion control in their own
//!   modules.
//!
//! A TCB never does I/O. Each call the engine makes into it returns an
//! [`Outcome`]: the application events it raised, whether an ACK must
//! leave at once, a RST to answer or an abort to carry out, and whether
//! its deadlines moved. The engine turns those into [`crate::Event`]s,
//! frames and timer-wheel entries. What to send is state the engine pulls
//! segment by segment ([`output`]).

pub(crate) mod cc;
pub(crate) mod icmp;
pub(crate) mod input;
pub(crate) mod loss;
pub(crate) mod output;
pub(crate) mod rack;
pub(crate) mod reassembly;
pub(crate) mod recovery;
pub(crate) mod recv_queue;
pub(crate) mod rtt;
pub(crate) mod sack;
pub(crate) mod scoreboard;
pub(crate) mod send_queue;
pub(crate) mod timers;
pub(crate) mod timestamps;
pub(crate) mod urgent;
pub(crate) mod user;

#[cfg(test)]
mod tests;

use core::time::Duration;
use std::net::SocketAddrV4;

use crate::api::{CloseOutcome, ResetCause, State};
use crate::buf::PacketBuf;
use crate::config::TcpConfig;
use crate::memory::{Holding, MemView, MemoryLevel, QueueKind};
use crate::stats::{DropReason, RstReason};
use crate::time::Instant;
use crate::wire::SeqNumber;

use cc::{Cc, CongestionControl};
use loss::SendTimer;
use rack::Rack;
use reassembly::Reassembly;
use recovery::{FirstRepair, Recovery};
use recv_queue::RecvQueue;
use rtt::RttEstimator;
use sack::SackReport;
use scoreboard::Scoreboard;
use send_queue::SendQueue;
use timers::Deadlines;
use timestamps::{Timestamps, TS_OPTION_LEN};

/// `a - b` in sequence space (RFC 9293 3.4: comparisons are modulo 2^32).
pub(crate) fn seq_diff(a: SeqNumber, b: SeqNumber) -> i32 {
    a.0.wrapping_sub(b.0) as i32
}

/// The largest window field: without scaling, the largest window.
pub(crate) const MAX_WINDOW: usize = 65_535;

/// The smallest window-scale shift that lets `buffer` bytes be advertised
/// (RFC 7323 2.3: at most 14).
pub(crate) fn wscale_for(buffer: usize) -> u8 {
    let mut shift = 0;
    while shift < 14 && (buffer >> shift) > MAX_WINDOW {
        shift += 1;
    }
    shift
}

/// The per-connection values the engine derives from its secret (RFC
/// 6528 for the ISN, RFC 7323 5.4 for the timestamp offset).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Secrets {
    pub iss: SeqNumber,
    pub ts_offset: u32,
}

/// The per-engine context a TCB works in.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a TcpConfig,
    /// Our MSS: what we advertise and the most we send.
    pub mss: usize,
    pub now: Instant,
    /// The engine's packet-buffer memory.
    pub mem: MemView<'a>,
}

/// A send queue's room in memory, taken buffer by buffer
/// ([`Tcb::send_allowance`]).
pub(crate) struct SendAllowance<'a> {
    budget: &'a crate::memory::Budget,
    /// What the send queue holds, with the buffers taken so far.
    send: usize,
    /// What the connection holds both ways, likewise.
    conn: usize,
    /// What the engine holds, likewise.
    held: usize,
    /// The engine's budget (not the connection's own limit) refused a
    /// buffer: only memory freed elsewhere will make room.
    pub engine_refused: bool,
}

impl SendAllowance<'_> {
    /// Takes a buffer of `truesize` bytes if the limits allow it.
    pub fn admit(&mut self, truesize: usize) -> bool {
        if self.send + truesize > self.budget.conn_send_limit {
            return false;
        }
        if !self.budget.admits(self.held, self.conn, truesize) {
            self.engine_refused = true;
            return false;
        }
        self.send += truesize;
        self.conn += truesize;
        self.held += truesize;
        true
    }
}

/// Application events, as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct EventBits(u8);

impl EventBits {
    pub const CONNECTED: u8 = 1;
    pub const READABLE: u8 = 2;
    pub const WRITABLE: u8 = 4;
    pub const PEER_CLOSED: u8 = 8;
    pub const RESET: u8 = 16;
    pub const CLOSED: u8 = 32;
    pub const URGENT: u8 = 64;

    /// Just these bits.
    pub fn only(bits: u8) -> Self {
        EventBits(bits)
    }

    pub fn set(&mut self, bit: u8) {
        self.0 |= bit;
    }

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The bits of both.
    pub fn union(self, other: EventBits) -> EventBits {
        EventBits(self.0 | other.0)
    }

    /// The bits of `self` in `mask`, and the rest.
    pub fn split(self, mask: u8) -> (EventBits, EventBits) {
        (EventBits(self.0 & mask), EventBits(self.0 & !mask))
    }
}

/// What one call into a TCB did, for the engine to act on.
#[must_use]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Events for the application (or, before `accept`, its listener).
    pub events: EventBits,
    /// An ACK must leave now rather than with the driver's next
    /// `poll_transmit` (duplicate ACKs, every second full segment: RFC
    /// 5681 4.2).
    pub ack_now: bool,
    /// Answer the arriving segment with a RST formed from it (RFC 9293
    /// 3.10.7), for this reason.
    pub reply_rst: Option<RstReason>,
    /// End the connection now: RST|ACK at SND.MAX, buffers discarded
    /// (contracts 8a, 9b, 9c).
    pub abort: Option<RstReason>,
    /// The TCB's deadlines moved: the timer wheel must follow.
    pub timers: bool,
}

impl Outcome {
    /// Only these events (raised by the engine on the connection's behalf).
    pub fn events(bits: u8) -> Self {
        Outcome {
            events: EventBits::only(bits),
            ..Outcome::default()
        }
    }
}

/// One TCP connection's state (RFC 9293 3.3.1 names).
pub(crate) struct Tcb<B> {
    pub state: State,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    /// Opened by a SYN to a listener (as opposed to `connect`).
    pub passive: bool,

    // Send sequence space.
    pub iss: SeqNumber,
    pub snd_una: SeqNumber,
    pub snd_nxt: SeqNumber,
    /// One past the highest sequence number ever sent; `snd_nxt` falls back
    /// to `snd_una` after a timeout (go-back-N) while this stays.
    pub snd_max: SeqNumber,
    pub snd_wnd: usize,
    pub max_snd_wnd: usize,
    pub snd_wl1: SeqNumber,
    pub snd_wl2: SeqNumber,
    /// The most payload we put in one segment.
    pub snd_mss: usize,
    /// Window scale: the peer's shift (applied to windows it sends) and
    /// ours (applied to windows we send); both 0 unless both SYNs carried
    /// the option (RFC 7323 2.2).
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    /// We offer (SYN-SENT) or agreed to (both SYNs) window scaling.
    pub wscale_ok: bool,
    /// Timestamps, while offered (SYN-SENT) or agreed (both SYNs).
    pub ts: Option<Timestamps>,
    /// SACK offered (SYN-SENT) or agreed (both SYNs carried
    /// SACK-permitted, RFC 2018 2).
    pub sack_ok: bool,
    /// The SACK blocks our next ACKs report.
    pub sack: SackReport,
    /// Sequence number of the first byte in the send queue.
    pub snd_data_start: SeqNumber,
    /// Sequence number of our FIN, once the application asked for one and
    /// all data before it is queued.
    pub fin_seq: Option<SeqNumber>,

    // Receive sequence space.
    pub irs: SeqNumber,
    pub rcv_nxt: SeqNumber,
    /// Right edge of the window we last advertised; never moves left.
    pub rcv_adv: SeqNumber,
    /// Sequence number of a FIN that arrived ahead of missing data.
    pub ooo_fin: Option<SeqNumber>,
    pub peer_fin: bool,

    pub send: SendQueue<B>,
    pub recv: RecvQueue<B>,
    pub ooo: Reassembly<B>,
    pub recv_capacity: usize,

    pub rtt: RttEstimator,
    /// The SYN being timed (data segments are timed by RACK's record of
    /// what each ACK delivered).
    pub rtt_probe: Option<(SeqNumber, Instant)>,
    /// The last RTT sample (for HyStart++).
    pub last_rtt: Option<core::time::Duration>,
    pub cc: Cc,
    /// Every segment in flight, and what SACK says of it.
    pub sb: Scoreboard,
    /// The fast recovery episode under way, if any.
    pub recovery: Option<Recovery>,
    /// After an episode: its retransmissions not yet reported duplicates
    /// (D-SACK); when the last one is, the episode is undone.
    pub dsack_undo: Option<recovery::Unconfirmed>,
    /// After a timeout: SND.MAX then; until SND.UNA passes it, lost
    /// segments go out again at the pace of slow start, and no new
    /// episode begins.
    pub loss_point: Option<SeqNumber>,
    pub rack: Rack,
    /// What the retransmission timer slot is armed for.
    pub send_timer: SendTimer,
    /// RACK's reordering timer: when the next segment may be deemed lost.
    pub reorder_at: Option<Instant>,
    /// A tail loss probe is due.
    pub probe_now: bool,
    /// The first repair after the first timeout, for Eifel (RFC 3522).
    pub rto_first: FirstRepair,
    /// When data last left (RFC 5681 4.1 idle restart).
    pub last_send: Instant,
    /// Duplicate ACKs in a row (loss detection without SACK).
    pub dup_acks: u32,
    /// Consecutive retransmission timeouts without progress.
    pub retries: u32,

    /// An ACK is owed; sent with the next segment or when the delayed-ACK
    /// timer fires.
    pub ack_pending: bool,
    /// An ACK must go out now.
    pub ack_now: bool,
    /// ... and without data: a duplicate ACK (RFC 5681 2).
    pub ack_pure: bool,
    /// Full-sized segments received since our last ACK.
    pub unacked_segments: u32,
    /// In-order segments still to be acknowledged at once rather than
    /// delayed (Linux's quick-ACK mode: at the start of the connection and
    /// after the receive side was idle, so the sender's slow start is not
    /// held back by delayed ACKs).
    pub quickacks: u8,
    /// Data goes out within the delayed-ACK time of data coming in
    /// (request and response): ACKs are delayed to ride on the answers,
    /// so quick ACKs are not sent (Linux's ping-pong mode). Left when the
    /// delayed-ACK timer fires with an ACK still owed.
    pub pingpong: bool,
    /// When in-order data last arrived, if it did.
    pub last_data_rx: Option<Instant>,
    /// Send a probe (zero-window or keepalive): sequence `snd_una - 1`.
    pub send_probe: bool,
    /// The persist timer fired with a small window: send what fits.
    pub force_send: bool,
    pub probes_unanswered: u32,
    /// When the last reply to a segment that should not have come went: a
    /// challenge ACK (RFC 5961 7), or a SYN-ACK again for a duplicate SYN.
    pub last_challenge: Option<Instant>,
    pub persist_backoff: u32,
    pub keepalive: bool,

    pub nodelay: bool,
    /// Hold back segments shorter than the MSS until uncorked (Linux
    /// `TCP_CORK`).
    pub cork: bool,
    /// One past the last byte of the last segment sent shorter than the
    /// MSS: while the peer has not acknowledged it, Nagle holds another
    /// short segment back (Minshall's variant, as Linux).
    pub snd_sml: SeqNumber,
    pub linger: Option<Duration>,
    pub read_shut: bool,
    pub write_shut: bool,
    /// No application handle refers to the connection any more.
    pub orphan: bool,
    /// RCV.UP: the octet after the urgent data the peer marked last,
    /// while the application has not read up to it (RFC 9293 3.8.5).
    pub rcv_up: Option<SeqNumber>,
    /// SND.UP: the octet after the urgent data we queued last, until the
    /// peer acknowledges it.
    pub snd_up: Option<SeqNumber>,
    /// Why the connection was reset, once it was.
    pub reset: Option<ResetCause>,
    /// The last ICMP error about the path since data was last
    /// acknowledged (RFC 1122 4.2.3.9): reported if the connection times
    /// out ([`Tcb::time_out`]).
    pub soft_error: Option<crate::api::Unreachable>,
    /// `read` or `write` reported the reset already (contract 3).
    pub reset_reported: bool,
    pub want_writable: bool,
    /// The engine's budget refused a write: `Writable` is owed once the
    /// engine holds well below the reserved top again (the connection may
    /// have nothing in flight whose acknowledgment would announce it).
    pub mem_waiting: bool,
    pub close_outcome: Option<CloseOutcome>,
    /// We ended the connection with a RST (`abort`, linger 0, unread data
    /// at close, the linger time out).
    pub aborted: bool,
    /// What the call under way did so far; handed to the engine when it
    /// returns ([`Tcb::finish`]).
    outcome: Outcome,
    pub deadlines: Deadlines,
    /// What the engine last counted this connection as holding.
    pub charged: Holding,
    /// Queued data may wait this long for an acknowledgment (zero: for
    /// ever), `TCP_USER_TIMEOUT`.
    pub user_timeout: Duration,
    /// When the send side last made progress: SND.UNA advanced, or data
    /// was queued with nothing outstanding.
    pub progress_at: Instant,
}

impl<B: PacketBuf> Tcb<B> {
    /// A TCB for an active open (`connect`): state SYN_SENT, SYN not sent yet.
    pub fn new_active(
        ctx: &Ctx,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        secrets: Secrets,
    ) -> Self {
        let mut tcb = Tcb::new(ctx, local, remote, secrets, State::SynSent);
        tcb.rcv_nxt = SeqNumber(0);
        tcb
    }

    /// A TCB for a SYN that arrived at a listener: state SYN_RECEIVED.
    pub fn new_passive(
        ctx: &Ctx,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        secrets: Secrets,
        syn: &input::SegmentInfo,
    ) -> Self {
        let mut tcb = Tcb::new(ctx, local, remote, secrets, State::SynReceived);
        tcb.passive = true;
        tcb.accept_syn(ctx, syn);
        tcb
    }

    fn new(
        ctx: &Ctx,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        secrets: Secrets,
        state: State,
    ) -> Self {
        let cfg = ctx.cfg;
        let iss = secrets.iss;
        // RFC 9293 3.7.1: without an MSS option the peer accepts 536 bytes.
        let snd_mss = 536.min(ctx.mss);
        Tcb {
            state,
            local,
            remote,
            passive: false,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: SeqNumber(0),
            snd_wl2: iss,
            snd_mss,
            snd_wscale: 0,
            rcv_wscale: if cfg.window_scaling {
                wscale_for(cfg.recv_buffer)
            } else {
                0
            },
            wscale_ok: cfg.window_scaling,
            ts: cfg
                .timestamps
                .then(|| Timestamps::new(secrets.ts_offset, ctx.now)),
            sack_ok: cfg.sack,
            sack: SackReport::default(),
            snd_data_start: iss + 1,
            fin_seq: None,
            irs: SeqNumber(0),
            rcv_nxt: SeqNumber(0),
            rcv_adv: SeqNumber(0),
            ooo_fin: None,
            peer_fin: false,
            send: SendQueue::new(cfg.send_buffer, snd_mss),
            recv: RecvQueue::new(),
            ooo: Reassembly::new(cfg.reassembly_limit),
            recv_capacity: cfg.recv_buffer,
            rtt: RttEstimator::new(cfg.rto_initial, cfg.rto_min, cfg.rto_max),
            rtt_probe: None,
            last_rtt: None,
            cc: Cc::new(cfg.congestion, snd_mss, cfg.initial_window),
            sb: Scoreboard::default(),
            recovery: None,
            dsack_undo: None,
            loss_point: None,
            rack: Rack::default(),
            send_timer: SendTimer::Rto,
            reorder_at: None,
            probe_now: false,
            rto_first: FirstRepair::Settled,
            last_send: ctx.now,
            dup_acks: 0,
            retries: 0,
            ack_pending: false,
            ack_now: false,
            ack_pure: false,
            unacked_segments: 0,
            quickacks: cfg.quickacks,
            pingpong: false,
            last_data_rx: None,
            send_probe: false,
            force_send: false,
            probes_unanswered: 0,
            last_challenge: None,
            persist_backoff: 0,
            keepalive: cfg.keepalive.enabled,
            nodelay: cfg.nodelay,
            cork: false,
            snd_sml: iss,
            linger: None,
            read_shut: false,
            write_shut: false,
            orphan: false,
            reset: None,
            soft_error: None,
            rcv_up: None,
            snd_up: None,
            reset_reported: false,
            want_writable: false,
            mem_waiting: false,
            close_outcome: None,
            outcome: Outcome::default(),
            aborted: false,
            deadlines: Deadlines::default(),
            charged: Holding::default(),
            user_timeout: cfg.user_timeout,
            progress_at: ctx.now,
        }
    }

    /// Records the peer's SYN: its ISN, window and MSS (RFC 9293 3.10.7.2-3).
    pub(crate) fn accept_syn(&mut self, ctx: &Ctx, syn: &input::SegmentInfo) {
        self.irs = syn.seq;
        self.rcv_nxt = syn.seq + 1;
        self.rcv_adv = self.rcv_nxt;
        self.snd_wnd = usize::from(syn.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = syn.seq;
        // RFC 7323 2.2: scaling is on only if both SYNs carry the option.
        match syn.wscale {
            Some(shift) if ctx.cfg.window_scaling => {
                self.snd_wscale = shift.min(14);
                self.wscale_ok = true;
            }
            _ => {
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
                self.wscale_ok = false;
            }
        }
        // RFC 2018 2: SACK only if both SYNs carry SACK-permitted.
        self.sack_ok &= syn.sack_permitted;
        // RFC 7323 3.2: timestamps are on only if both SYNs carry them.
        match (syn.ts, &mut self.ts) {
            (Some(opt), Some(ts)) => ts.on_syn(opt.tsval, ctx.now),
            _ => self.ts = None,
        }
        let peer_mss = syn.mss.map_or(536, usize::from);
        // The MSS counts no options (RFC 6691): a segment carrying
        // timestamps has that much less room for data.
        let options = if self.ts.is_some() { TS_OPTION_LEN } else { 0 };
        self.snd_mss = peer_mss.min(ctx.mss).max(64) - options;
        self.send.set_chunk(self.snd_mss);
        self.cc.set_mss(self.snd_mss, ctx.cfg.initial_window);
    }

    /// The application may no longer receive: both directions shut, or no
    /// handle left (contracts 8c and 12).
    pub fn app_closed_receive(&self) -> bool {
        self.orphan || (self.read_shut && self.write_shut)
    }

    /// Whether our FIN was sent and acknowledged.
    pub fn fin_acked(&self) -> bool {
        self.fin_seq.is_some_and(|f| seq_diff(self.snd_una, f) > 0)
    }

    /// Sequence number one past the last byte queued to send.
    pub fn data_end(&self) -> SeqNumber {
        self.snd_data_start + self.send.len()
    }

    /// Bytes in flight (sent, not acknowledged), SYN and FIN included.
    pub fn flight(&self) -> usize {
        seq_diff(self.snd_nxt, self.snd_una).max(0) as usize
    }

    /// Moves to `state`. In TIME_WAIT and CLOSED nothing remains to send
    /// or reassemble; data the application has not read yet stays readable
    /// (only a reset or an abort discards it: [`Tcb::discard_buffers`]).
    pub fn set_state(&mut self, state: State) {
        self.state = state;
        if matches!(state, State::Closed | State::TimeWait) {
            self.send.clear();
            self.ooo.clear();
            self.deadlines.clear_all_but_lifetime();
            if state == State::Closed {
                self.deadlines.clear_all();
            }
        }
    }

    /// Contract 9b: a close with linger waits for its outcome; once known
    /// (here, or when the linger timer fires), `Closed` reports it.
    pub(crate) fn report_close(&mut self, outcome: CloseOutcome) {
        let lingering = self.orphan && self.linger.is_some_and(|t| !t.is_zero());
        if lingering && self.close_outcome.is_none() {
            self.close_outcome = Some(outcome);
            self.raise(EventBits::CLOSED);
            self.deadlines.clear(timers::TimerKind::Linger);
        }
    }

    /// The SYN-ACK went out already, carrying our ISN as a SYN cookie: the
    /// connection takes up in SYN-RECEIVED as if it had sent it, with the
    /// window that SYN-ACK advertised.
    pub(crate) fn syn_ack_sent_as_cookie(&mut self) {
        self.snd_nxt = self.iss + 1;
        self.snd_max = self.snd_nxt;
        self.rcv_adv = self.rcv_nxt + self.recv_capacity.min(MAX_WINDOW);
    }

    /// Raises application events for the call under way.
    pub(crate) fn raise(&mut self, bits: u8) {
        self.outcome.events.set(bits);
    }

    /// Asks the engine to end the connection with RST|ACK.
    pub(crate) fn abort_with(&mut self, reason: RstReason) {
        self.outcome.abort = Some(reason);
    }

    /// The outcome of the call that is returning.
    pub(crate) fn finish(&mut self) -> Outcome {
        let mut out = core::mem::take(&mut self.outcome);
        out.ack_now = self.ack_now;
        out.timers = self.deadlines.take_changed();
        out
    }

    /// Runs an application call (read, write, an option) and returns its
    /// result with what it did.
    pub fn call<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> (T, Outcome) {
        let result = f(self);
        (result, self.finish())
    }

    /// Drops both buffers (reset, abort: contracts 8a, 9c).
    pub fn discard_buffers(&mut self) {
        self.send.clear();
        self.recv.clear();
        self.ooo.clear();
    }

    /// The connection was reset (by the peer, a timeout, or us): report it
    /// and free everything (RFC 9293 3.10.7.4, "RST bit").
    pub fn reset_with(&mut self, cause: ResetCause) {
        if self.reset.is_none() {
            self.reset = Some(cause);
            tracing::debug!(
                target: "stack::conn",
                local = %self.local,
                remote = %self.remote,
                state = ?self.state,
                ?cause,
                "connection ends with a reset"
            );
        }
        self.report_close(CloseOutcome::Reset);
        self.raise(EventBits::RESET | EventBits::READABLE);
        if self.want_writable {
            self.raise(EventBits::WRITABLE);
        }
        self.discard_buffers();
        self.set_state(State::Closed);
    }

    /// The largest window we can advertise on this connection.
    pub fn max_window(&self) -> usize {
        MAX_WINDOW << self.rcv_wscale
    }

    /// The buffers the connection holds now, by queue.
    pub fn holding(&self) -> Holding {
        Holding {
            bytes: [
                self.recv.truesize() as u32,
                self.ooo.truesize() as u32,
                self.send.truesize() as u32,
            ],
            bufs: [
                self.recv.buffers() as u32,
                self.ooo.segments() as u32,
                self.send.buffers() as u32,
            ],
        }
    }

    /// Whether the bytes held in any queue differ from what the engine
    /// last counted (buffer counts change only with bytes).
    pub fn holding_changed(&self) -> bool {
        let c = &self.charged.bytes;
        self.recv.truesize() != c[QueueKind::Recv as usize] as usize
            || self.ooo.truesize() != c[QueueKind::Ooo as usize] as usize
            || self.send.truesize() != c[QueueKind::Send as usize] as usize
    }

    /// Bytes of buffers this connection holds now, both ways.
    fn held(&self) -> usize {
        self.recv.truesize() + self.ooo.truesize() + self.send.truesize()
    }

    /// What the engine's connections hold with this one counted as it
    /// stands now (the engine last counted it as `charged`).
    fn engine_held(&self, mem: &MemView) -> usize {
        (mem.held + self.held()).saturating_sub(self.charged.total())
    }

    /// Whether a received buffer of `truesize` bytes may be kept: within
    /// this connection's receive limit, and within the engine's budget
    /// (out-of-order data only below the critical mark).
    pub(crate) fn admit_recv(
        &self,
        ctx: &Ctx,
        truesize: usize,
        in_order: bool,
    ) -> Result<(), DropReason> {
        let mem = &ctx.mem;
        let conn = self.recv.truesize() + self.ooo.truesize();
        if conn + truesize > mem.budget.conn_recv_limit {
            return Err(DropReason::ConnMemory);
        }
        if mem.pool_low {
            return Err(DropReason::PoolReserve);
        }
        let held = self.engine_held(mem);
        let ok = if in_order {
            mem.budget.admits(held, self.held(), truesize)
        } else {
            mem.budget.admits_ooo(held, truesize)
        };
        ok.then_some(()).ok_or(DropReason::MemoryPressure)
    }

    /// What the send queue may take now, buffer by buffer: within this
    /// connection's send limit and the engine's budget.
    pub(crate) fn send_allowance<'a>(&self, ctx: &Ctx<'a>) -> SendAllowance<'a> {
        SendAllowance {
            budget: ctx.mem.budget,
            send: self.send.truesize(),
            conn: self.held(),
            held: self.engine_held(&ctx.mem),
            engine_refused: false,
        }
    }

    /// The most window the memory level lets this connection offer beyond
    /// what it has promised already: unlimited below the pressure mark,
    /// four segments under pressure, and from the critical mark one
    /// segment to a connection holding less than `conn_min` (both ways
    /// together), none to the others (Linux clamps `rcv_ssthresh` the same
    /// way).
    pub(crate) fn window_clamp(&self, ctx: &Ctx) -> usize {
        match ctx.mem.level {
            MemoryLevel::Normal => usize::MAX,
            MemoryLevel::Pressure => 4 * ctx.mss,
            MemoryLevel::Critical | MemoryLevel::Reserved => {
                if self.held() < ctx.mem.budget.conn_min {
                    ctx.mss
                } else {
                    0
                }
            }
        }
    }

    /// Heap memory the TCB's queues occupy beyond the TCB itself (buffer
    /// handles, not the packet buffers they hold).
    pub fn heap_bytes(&self) -> usize {
        self.send.heap_bytes()
            + self.recv.heap_bytes()
            + self.ooo.heap_bytes()
            + self.sb.heap_bytes()
    }

    /// Whether the engine may forget this TCB once no handle refers to it.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }
}
