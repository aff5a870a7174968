//! The engine's fast paths over DPDK mbufs, one step at a time: shared by
//! the criterion benchmark `benches/mbuf.rs` (time per step) and the
//! `per-segment` tool (run under callgrind: instructions and C calls per
//! step).

use std::hint::black_box;
use std::sync::OnceLock;

use dpdk_io::{Eal, EalArgs, Mbuf, MbufPool};
use stack::{PacketBuf, Transmit};

use crate::{config, data_repr, patched, patched_checked, peer_frame, Fixture, PeerConn};

/// Payload bytes per segment.
pub const MSS: u32 = 1460;

/// The EAL (without hugepages or devices), once per process, and a pool
/// named `name`.
pub fn pool(name: &str) -> MbufPool {
    static EAL: OnceLock<Eal> = OnceLock::new();
    EAL.get_or_init(|| {
        let args = EalArgs::ci(512).lcores("0").log_level("error").build();
        Eal::init(&args).expect("EAL without hugepages")
    });
    MbufPool::new(name, 8191, 256, 2176).expect("mbuf pool")
}

fn one_connection(
    name: &str,
    software_checksum: bool,
    segmentation: bool,
) -> (Fixture<MbufPool>, PeerConn) {
    let mut cfg = config(1024);
    cfg.offload.rx_checksum = !software_checksum;
    cfg.offload.tx_segmentation = segmentation;
    cfg.tcp.nodelay = true;
    let mut f = Fixture::with_pool(cfg, pool(name));
    let c = f.establish(40_000, 80);
    (f, c)
}

/// What the loop does with a frame before `tx_burst`: payload parts
/// chained behind the headers.
pub fn chained(t: Transmit<Mbuf>) -> Mbuf {
    let mut head = t.head;
    for part in t.payload {
        head.chain(part).expect("a short chain");
    }
    head
}

/// One in-order full-sized segment received per step: copied into an
/// mbuf (the NIC's DMA), `handle_rx`, `read_buf`, any ACK built and
/// chained. With `software_checksum` the engine verifies the checksums
/// (the step brings the patched frame's checksum up to date first).
pub struct Rx {
    f: Fixture<MbufPool>,
    conn: PeerConn,
    template: Vec<u8>,
    seq: u32,
    software_checksum: bool,
}

impl Rx {
    /// A connection ready for the first step; `name` names its pool.
    pub fn new(name: &str, software_checksum: bool) -> Rx {
        let (f, conn) = one_connection(name, software_checksum, false);
        let payload = vec![0x61u8; MSS as usize];
        let template = peer_frame(&data_repr(&conn, &payload));
        Rx {
            f,
            seq: conn.peer_seq,
            conn,
            template,
            software_checksum,
        }
    }

    /// Receives one segment.
    pub fn step(&mut self) {
        let f = &mut self.f;
        let (seq, ack) = (self.seq, self.conn.peer_ack);
        let frame = if self.software_checksum {
            patched_checked(&mut f.pool, &self.template, seq, ack)
        } else {
            patched(&mut f.pool, &self.template, seq, ack)
        };
        self.seq = seq.wrapping_add(MSS);
        f.engine.handle_rx(f.now, frame);
        while let Some(ev) = f.engine.poll_event() {
            black_box(ev);
        }
        while let Ok(Some(buf)) = f.engine.read_buf(self.conn.handle) {
            black_box(buf.len());
        }
        while let Some(t) = f.engine.poll_transmit(f.now) {
            black_box(chained(t));
        }
    }

    /// Panics unless every segment so far was taken in (none dropped for
    /// its checksum or its place).
    pub fn check(&self) {
        let s = self.f.engine.stats();
        assert_eq!((s.drops.bad_checksum, s.drops.out_of_window), (0, 0));
    }
}

/// `segments` full-sized segments written and sent per step (frames of
/// several segments cut in software with `segmentation`), each frame
/// chained and freed as the driver would; the peer acknowledges
/// everything every 16 segments.
pub struct Tx {
    f: Fixture<MbufPool>,
    conn: PeerConn,
    payload: Vec<u8>,
    ack_template: Vec<u8>,
    next: u32,
    since_ack: usize,
    segments: usize,
    pieces: Vec<Transmit<Mbuf>>,
    pool: MbufPool,
}

impl Tx {
    /// A connection ready for the first step; `name` names its pool.
    pub fn new(name: &str, segmentation: bool, segments: usize) -> Tx {
        let (f, conn) = one_connection(name, false, segmentation);
        Tx {
            payload: vec![0x62u8; MSS as usize * segments],
            ack_template: peer_frame(&data_repr(&conn, &[])),
            next: conn.peer_ack,
            since_ack: 0,
            segments,
            pieces: Vec::with_capacity(segments),
            pool: f.pool.clone(),
            f,
            conn,
        }
    }

    /// Sends `segments` segments.
    pub fn step(&mut self) {
        let f = &mut self.f;
        f.engine
            .write(self.conn.handle, &self.payload)
            .expect("room in the send buffer");
        while let Some(t) = f.engine.poll_transmit(f.now) {
            stack::segment::cut(t, &mut self.pool, |p| self.pieces.push(p)).expect("cut");
            for p in self.pieces.drain(..) {
                // Ethernet, IPv4 and TCP headers without options.
                self.next = self.next.wrapping_add((p.len() - 54) as u32);
                black_box(chained(p));
            }
        }
        self.since_ack += self.segments;
        if self.since_ack >= 16 {
            self.since_ack = 0;
            self.conn.peer_ack = self.next;
            let ack = patched(
                &mut f.pool,
                &self.ack_template,
                self.conn.peer_seq,
                self.next,
            );
            f.engine.handle_rx(f.now, ack);
            while let Some(ev) = f.engine.poll_event() {
                black_box(ev);
            }
        }
    }
}
