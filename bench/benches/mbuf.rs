//! The engine's fast paths over DPDK mbufs, as the runtime drives them
//! (the EAL runs without hugepages or devices; nothing reaches a wire).
//! The same work as `benches/engine.rs`, which runs over heap buffers, so
//! the two read side by side: what the mbufs themselves cost.
//!
//! - `mbuf/rx_data_segment/{device_verified,software_checksum}`: one
//!   in-order 1460-byte segment copied into an mbuf (the NIC's DMA),
//!   handed to `handle_rx`, read back zero-copy with `read_buf`, the
//!   delayed ACK left owed. With `software_checksum` the engine sums the
//!   IPv4 header and the whole segment, as on a device without RX
//!   checksum offload (memif, net_ring); the benchmark then brings the
//!   patched frame's checksum up to date (a few additions). Per segment.
//! - `mbuf/tx_data_segment`: `write` of 1460 bytes, the `poll_transmit`
//!   that builds its segment (headers in a fresh mbuf, payload an
//!   indirect mbuf, TCP checksum in software) and the chaining the loop
//!   does before `tx_burst`; the chain is then freed, as the driver would
//!   once it is sent. One peer ACK every 16 segments. Per segment.
//! - `mbuf/tx_segmented_8`: the same with `offload.tx_segmentation`: 8
//!   segments written, handed out as one frame and cut in software
//!   (`stack::segment::cut`), each piece chained. Per segment.

use std::hint::black_box;
use std::sync::OnceLock;

use bench::{config, data_repr, patched, patched_checked, peer_frame, Fixture, PeerConn};
use criterion::{criterion_group, criterion_main, Criterion};
use dpdk_io::{Eal, EalArgs, Mbuf, MbufPool};
use stack::{PacketBuf, Transmit};

const MSS: u32 = 1460;

/// The EAL, once per process, and a pool per benchmark.
fn pool(name: &str) -> MbufPool {
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
fn chained(t: Transmit<Mbuf>) -> Mbuf {
    let mut head = t.head;
    for part in t.payload {
        head.chain(part).expect("a short chain");
    }
    head
}

fn rx_data(c: &mut Criterion) {
    let mut g = c.benchmark_group("mbuf/rx_data_segment");
    for (name, software) in [("device_verified", false), ("software_checksum", true)] {
        let (mut f, conn) = one_connection(&format!("rx_{}", u8::from(software)), software, false);
        let payload = vec![0x61u8; MSS as usize];
        let template = peer_frame(&data_repr(&conn, &payload));
        let mut seq = conn.peer_seq;
        g.bench_function(name, |b| {
            b.iter(|| {
                let frame = if software {
                    patched_checked(&mut f.pool, &template, seq, conn.peer_ack)
                } else {
                    patched(&mut f.pool, &template, seq, conn.peer_ack)
                };
                seq = seq.wrapping_add(MSS);
                f.engine.handle_rx(f.now, frame);
                while let Some(ev) = f.engine.poll_event() {
                    black_box(ev);
                }
                while let Ok(Some(buf)) = f.engine.read_buf(conn.handle) {
                    black_box(buf.len());
                }
                while let Some(t) = f.engine.poll_transmit(f.now) {
                    black_box(chained(t));
                }
            })
        });
        // Every segment was taken in, none dropped for its checksum.
        let s = f.engine.stats();
        assert_eq!(
            (s.drops.bad_checksum, s.drops.out_of_window),
            (0, 0),
            "{name}"
        );
    }
    g.finish();
}

/// Sends `segments` segments of `MSS` bytes per iteration and acknowledges
/// everything every 16 segments; `cut` frames of several segments first.
fn tx(c: &mut Criterion, name: &str, segmentation: bool, segments: usize) {
    let (mut f, mut conn) = one_connection(name, false, segmentation);
    let payload = vec![0x62u8; MSS as usize * segments];
    let ack_template = peer_frame(&data_repr(&conn, &[]));
    let mut next = conn.peer_ack;
    let mut sent = 0usize;
    let mut pieces = Vec::with_capacity(segments);
    let mut pool = f.pool.clone();
    c.bench_function(name, |b| {
        b.iter(|| {
            f.engine
                .write(conn.handle, &payload)
                .expect("room in the send buffer");
            while let Some(t) = f.engine.poll_transmit(f.now) {
                stack::segment::cut(t, &mut pool, |p| pieces.push(p)).expect("cut");
                for p in pieces.drain(..) {
                    // Ethernet, IPv4 and TCP headers without options.
                    next = next.wrapping_add((p.len() - 54) as u32);
                    black_box(chained(p));
                }
            }
            sent += segments;
            if sent >= 16 {
                sent = 0;
                conn.peer_ack = next;
                let ack = patched(&mut f.pool, &ack_template, conn.peer_seq, next);
                f.engine.handle_rx(f.now, ack);
                while let Some(ev) = f.engine.poll_event() {
                    black_box(ev);
                }
            }
        })
    });
}

fn tx_data(c: &mut Criterion) {
    tx(c, "mbuf/tx_data_segment", false, 1);
    tx(c, "mbuf/tx_segmented_8", true, 8);
}

criterion_group!(benches, rx_data, tx_data);
criterion_main!(benches);
