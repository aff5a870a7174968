//! 64 MiB each way over one connection, through links that lose,
//! duplicate, reorder and corrupt frames: every byte arrives, in order
//! (checked by SHA-256), and the transfer finishes.

use std::time::Duration;

use integration_tests::rng::seed_from_env;
use integration_tests::transfer::{Receiver, Sender};
use integration_tests::{LinkConfig, Sim};
use stack::Shutdown;

const PORT: u16 = 5001;
const MIB: u64 = 1024 * 1024;

/// Runs the bidirectional transfer; returns (virtual seconds, goodput in
/// Mbit/s per direction).
fn transfer(seed: u64, loss: f64, bytes: u64) -> (f64, f64) {
    let link = LinkConfig {
        bandwidth_bps: 1_000_000_000,
        ..LinkConfig::lossy(loss)
    };
    let mut sim = Sim::new(seed);
    sim.tracing = std::env::var("SIM_TRACE").is_ok();
    let a = sim.add_host(1, link.clone());
    let b = sim.add_host(2, link);
    let l = sim.nodes[b].engine.listen(PORT, 8).unwrap();
    let (ha, hb) = sim.open(a, b, l, PORT);
    let start = sim.now;

    let mut send_a = Sender::new(seed ^ 0xa, bytes);
    let mut send_b = Sender::new(seed ^ 0xb, bytes);
    let mut recv_a = Receiver::default();
    let mut recv_b = Receiver::default();
    let (mut shut_a, mut shut_b) = (false, false);
    let finished = sim.run_until(Duration::from_secs(4 * 3600), |sim| {
        let ea = &mut sim.nodes[a].engine;
        if let Err(e) = send_a.pump(ea, ha).and_then(|_| recv_a.pump(ea, ha)) {
            // With SIM_TRACE set, show the last segments before failing.
            let segs = sim.segments();
            for (from, s) in &segs[segs.len().saturating_sub(60)..] {
                println!("node{from}: {s}");
            }
            panic!(
                "seed {seed:#x} loss {loss}: a: {e}; stats {:?}",
                sim.nodes[a].engine.stats()
            );
        }
        let ea = &mut sim.nodes[a].engine;
        if send_a.done() && !shut_a {
            ea.shutdown(ha, Shutdown::Write).unwrap();
            shut_a = true;
        }
        while ea.poll_event().is_some() {}
        let eb = &mut sim.nodes[b].engine;
        if let Err(e) = send_b.pump(eb, hb).and_then(|_| recv_b.pump(eb, hb)) {
            panic!(
                "seed {seed:#x} loss {loss}: b: {e}; stats {:?}",
                sim.nodes[b].engine.stats()
            );
        }
        if send_b.done() && !shut_b {
            eb.shutdown(hb, Shutdown::Write).unwrap();
            shut_b = true;
        }
        while eb.poll_event().is_some() {}
        recv_a.eof && recv_b.eof
    });
    let secs = (sim.now - start).as_secs_f64();
    assert!(
        finished,
        "seed {seed:#x} loss {loss}: transfer stalled at a->b {} / b->a {} bytes after {secs:.1} s\nlinks: {:?}\na: {:?}\nb: {:?}",
        recv_b.received,
        recv_a.received,
        sim.link_stats,
        sim.nodes[a].engine.stats(),
        sim.nodes[b].engine.stats()
    );
    assert_eq!(recv_b.received, bytes, "seed {seed:#x}: a->b byte count");
    assert_eq!(recv_a.received, bytes, "seed {seed:#x}: b->a byte count");
    assert_eq!(
        recv_b.digest(),
        send_a.digest(),
        "seed {seed:#x}: a->b content"
    );
    assert_eq!(
        recv_a.digest(),
        send_b.digest(),
        "seed {seed:#x}: b->a content"
    );
    let goodput = bytes as f64 * 8.0 / secs / 1e6;
    let sa = sim.nodes[a].engine.stats();
    println!(
        "loss {:>4.1}%: {} MiB each way in {secs:8.2} s virtual, goodput {goodput:8.1} Mbit/s per direction \
         (a: {} retransmits, {} RTOs, {} fast retransmits; link: {} lost, {} corrupted, {} duplicated, {} reordered)",
        loss * 100.0,
        bytes / MIB,
        sa.retransmits,
        sa.rto_expired,
        sa.fast_retransmits,
        sim.link_stats.lost,
        sim.link_stats.corrupted,
        sim.link_stats.duplicated,
        sim.link_stats.reordered,
    );
    (secs, goodput)
}

#[test]
fn bulk_64mib_each_way_without_loss() {
    transfer(seed_from_env(0xb0_0000), 0.0, 64 * MIB);
}

#[test]
fn bulk_64mib_each_way_at_1_percent_loss() {
    transfer(seed_from_env(0xb0_0001), 0.01, 64 * MIB);
}

#[test]
fn bulk_64mib_each_way_at_5_percent_loss() {
    transfer(seed_from_env(0xb0_0005), 0.05, 64 * MIB);
}

#[test]
fn bulk_64mib_each_way_at_10_percent_loss() {
    transfer(seed_from_env(0xb0_0010), 0.10, 64 * MIB);
}

/// Many seeds, smaller transfers: the loss patterns differ every run.
#[test]
fn bulk_1mib_each_way_across_20_seeds_per_loss_rate() {
    let base = seed_from_env(0xb1_0000);
    for (i, loss) in [0.01, 0.05, 0.10].into_iter().enumerate() {
        for s in 0..20u64 {
            transfer(base + (i as u64) * 1000 + s, loss, MIB);
        }
    }
}
