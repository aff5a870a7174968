//! The engine's fast paths, against a scripted peer (see `bench::Fixture`).
//!
//! - `rx_data_segment/{delayed_ack,ack_every_segment}`: one in-order
//!   1460-byte segment on an established connection: the frame is copied
//!   into a pool buffer (what a NIC's DMA would have done), handed to
//!   `handle_rx`, its event taken with `poll_event`, read back zero-copy
//!   with `read_buf`, and any ACK the engine owes is built by
//!   `poll_transmit`. Per segment. (Every benchmark drains the events it
//!   raises, as an application does; left in the queue they made it grow
//!   without bound and the benchmark measure the allocator.)
//! - `tx_data_segment`: `write` of 1460 bytes and the `poll_transmit` that
//!   builds its segment (headers in a fresh buffer, payload shared, TCP
//!   checksum in software), with one peer ACK every 16 segments. Per
//!   segment.
//! - `rx_out_of_order_pair`: a segment that arrives ahead of a gap, then
//!   the one that fills it (reassembly insert, then release of both). Per
//!   pair.
//! - `lookup/{1k,100k,1M}`: a pure ACK for one of N established
//!   connections picked at random: demultiplexing (the flow table) plus
//!   the cheapest TCB work. Per segment.

use std::hint::black_box;
use std::time::Duration;

use bench::{config, data_repr, patched, peer_frame, Fixture, PeerConn, DST_PORT_AT, SRC_PORT_AT};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use stack::PacketBuf;

const MSS: u32 = 1460;

fn one_connection(delayed_ack: bool) -> (Fixture, PeerConn) {
    let mut cfg = config(1024);
    if !delayed_ack {
        cfg.tcp.delayed_ack = Duration::ZERO;
    }
    cfg.tcp.nodelay = true;
    let mut f = Fixture::new(cfg, 8192);
    let c = f.establish(40_000, 80);
    (f, c)
}

fn rx_data(c: &mut Criterion) {
    let mut g = c.benchmark_group("rx_data_segment");
    for (name, delayed) in [("delayed_ack", true), ("ack_every_segment", false)] {
        let (mut f, conn) = one_connection(delayed);
        let payload = vec![0x61u8; MSS as usize];
        let template = peer_frame(&data_repr(&conn, &payload));
        let mut seq = conn.peer_seq;
        g.bench_function(name, |b| {
            b.iter(|| {
                let frame = patched(&mut f.pool, &template, seq, conn.peer_ack);
                seq = seq.wrapping_add(MSS);
                f.engine.handle_rx(f.now, frame);
                while let Some(ev) = f.engine.poll_event() {
                    black_box(ev);
                }
                while let Ok(Some(buf)) = f.engine.read_buf(conn.handle) {
                    black_box(buf.len());
                }
                while let Some(t) = f.engine.poll_transmit(f.now) {
                    black_box(t.len());
                }
            })
        });
    }
    g.finish();
}

fn tx_data(c: &mut Criterion) {
    let (mut f, mut conn) = one_connection(true);
    let payload = vec![0x62u8; MSS as usize];
    let ack_template = peer_frame(&data_repr(&conn, &[]));
    let mut next = conn.peer_ack;
    let mut sent = 0u32;
    c.bench_function("tx_data_segment", |b| {
        b.iter(|| {
            f.engine
                .write(conn.handle, &payload)
                .expect("room in the send buffer");
            while let Some(t) = f.engine.poll_transmit(f.now) {
                next = next.wrapping_add((t.len() - 54) as u32);
                black_box(t.len());
            }
            sent += 1;
            if sent % 16 == 0 {
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

fn rx_out_of_order(c: &mut Criterion) {
    let (mut f, conn) = one_connection(true);
    let payload = vec![0x63u8; MSS as usize];
    let template = peer_frame(&data_repr(&conn, &payload));
    let mut seq = conn.peer_seq;
    c.bench_function("rx_out_of_order_pair", |b| {
        b.iter(|| {
            let ahead = patched(&mut f.pool, &template, seq.wrapping_add(MSS), conn.peer_ack);
            let gap = patched(&mut f.pool, &template, seq, conn.peer_ack);
            seq = seq.wrapping_add(2 * MSS);
            f.engine.handle_rx(f.now, ahead);
            f.engine.handle_rx(f.now, gap);
            while let Some(ev) = f.engine.poll_event() {
                black_box(ev);
            }
            while let Ok(Some(buf)) = f.engine.read_buf(conn.handle) {
                black_box(buf.len());
            }
            while let Some(t) = f.engine.poll_transmit(f.now) {
                black_box(t.len());
            }
        })
    });
}

/// `n` connections from ports spread over 62 peer ports (16 k each).
fn many_connections(n: usize) -> (Fixture, Vec<PeerConn>) {
    let mut f = Fixture::new(config(n + 16), 4096);
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let local = 1024 + (i % 64_000) as u16;
        let peer = 10_000 + (i / 64_000) as u16;
        conns.push(f.establish(local, peer));
    }
    (f, conns)
}

/// Whether this is a real measurement (`cargo bench` passes `--bench`) or
/// the quick check `cargo test --benches` runs, where building a million
/// connections would only cost time.
fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("lookup");
    g.sample_size(20);
    let sizes: &[(&str, usize)] = if measuring() {
        &[("1k", 1_000), ("100k", 100_000), ("1M", 1_000_000)]
    } else {
        &[("1k", 1_000)]
    };
    for &(name, n) in sizes {
        let (mut f, conns) = many_connections(n);
        let template = peer_frame(&data_repr(&conns[0], &[]));
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let c = &conns[(rng % n as u64) as usize];
                    let mut frame = patched(&mut f.pool, &template, c.peer_seq, c.peer_ack);
                    let bytes = frame.data_mut().expect("unique");
                    bytes[SRC_PORT_AT..SRC_PORT_AT + 2].copy_from_slice(&c.peer_port.to_be_bytes());
                    bytes[DST_PORT_AT..DST_PORT_AT + 2]
                        .copy_from_slice(&c.local_port.to_be_bytes());
                    frame
                },
                |frame| f.engine.handle_rx(f.now, frame),
                BatchSize::SmallInput,
            )
        });
        assert_eq!(f.engine.connection_count(), n, "all connections stayed up");
    }
    g.finish();
}

criterion_group!(benches, rx_data, tx_data, rx_out_of_order, lookup);
criterion_main!(benches);
