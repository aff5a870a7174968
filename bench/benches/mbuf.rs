//! The engine's fast paths over DPDK mbufs, as the runtime drives them
//! (the EAL runs without hugepages or devices; nothing reaches a wire).
//! The same work as `benches/engine.rs`, which runs over heap buffers, so
//! the two read side by side: what the mbufs themselves cost. The steps
//! are in `bench::mbuf_paths` (the `per-segment` tool counts their
//! instructions and C calls under callgrind).
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
//!   (`stack::segment::cut`), each piece chained. Per 8 segments.

use bench::mbuf_paths::{Rx, Tx};
use criterion::{criterion_group, criterion_main, Criterion};

fn rx_data(c: &mut Criterion) {
    let mut g = c.benchmark_group("mbuf/rx_data_segment");
    for (name, software) in [("device_verified", false), ("software_checksum", true)] {
        let mut rx = Rx::new(&format!("rx_{}", u8::from(software)), software);
        g.bench_function(name, |b| b.iter(|| rx.step()));
        rx.check();
    }
    g.finish();
}

fn tx_data(c: &mut Criterion) {
    let mut one = Tx::new("tx_1", false, 1);
    c.bench_function("mbuf/tx_data_segment", |b| b.iter(|| one.step()));
    let mut eight = Tx::new("tx_8", true, 8);
    c.bench_function("mbuf/tx_segmented_8", |b| b.iter(|| eight.step()));
}

criterion_group!(benches, rx_data, tx_data);
criterion_main!(benches);
