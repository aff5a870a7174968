//! Buffer-pool exhaustion is survived: a host with a pool far smaller than
//! its send and receive buffers could hold still moves every byte both
//! ways. The memory limit (derived from the pool) pushes writers back
//! before the pool runs dry and drops received data beyond it, so
//! receiving goes on and the pool never empties; with a limit set larger
//! than the pool, frames that find no buffer at all are dropped and
//! counted, and the retransmission timer recovers them. Every buffer comes
//! back to the pool at the end.

use std::time::Duration;

use integration_tests::rng::seed_from_env;
use integration_tests::transfer::{Receiver, Sender};
use integration_tests::{LinkConfig, Sim};
use stack::Shutdown;

#[test]
fn a_tiny_pool_slows_the_transfer_but_loses_nothing() {
    let seed = seed_from_env(0x9001);
    let mut sim = Sim::new(seed);
    // 160 buffers: less than one send buffer (256 KiB is ~180 buffers).
    let small = sim.add_node_with(Sim::host_config(1), 160, LinkConfig::default());
    let big = sim.add_host(2, LinkConfig::default());
    let initial = sim.nodes[small].pool.available();
    let l = sim.nodes[big].engine.listen(80, 4).unwrap();
    let (hs, hb) = sim.open(small, big, l, 80);
    let total = 4u64 << 20;
    let (mut s_small, mut s_big) = (Sender::new(seed, total), Sender::new(seed ^ 1, total));
    let (mut r_small, mut r_big) = (Receiver::default(), Receiver::default());
    let (mut shut_small, mut shut_big) = (false, false);
    let mut lowest_free = initial;
    let mut peak_held = 0;
    let done = sim.run_until(Duration::from_secs(3600), |sim| {
        let e = &mut sim.nodes[small].engine;
        s_small.pump(e, hs).unwrap();
        lowest_free = lowest_free.min(e.pool_mut().available());
        peak_held = peak_held.max(e.stats().memory.held);
        r_small.pump(e, hs).unwrap();
        if s_small.done() && !shut_small {
            e.shutdown(hs, Shutdown::Write).unwrap();
            shut_small = true;
        }
        while e.poll_event().is_some() {}
        let e = &mut sim.nodes[big].engine;
        s_big.pump(e, hb).unwrap();
        r_big.pump(e, hb).unwrap();
        if s_big.done() && !shut_big {
            e.shutdown(hb, Shutdown::Write).unwrap();
            shut_big = true;
        }
        while e.poll_event().is_some() {}
        r_small.eof && r_big.eof
    });
    assert!(
        done,
        "seed {seed:#x}: stalled at {} / {} bytes; small host {:?}",
        r_big.received,
        r_small.received,
        sim.nodes[small].engine.stats()
    );
    assert_eq!(
        r_big.digest(),
        s_small.digest(),
        "seed {seed:#x}: small -> big"
    );
    assert_eq!(
        r_small.digest(),
        s_big.digest(),
        "seed {seed:#x}: big -> small"
    );
    let mem = &sim.nodes[small].engine.stats().memory;
    assert!(
        mem.write_refused > 0,
        "seed {seed:#x}: writes were never pushed back"
    );
    // The limit is every buffer but the 64 of the reserve; the reserve and
    // the frames in flight stay free for receiving.
    assert_eq!(
        mem.limit,
        (160 - 64) * integration_tests::sim::BUF_SIZE as u64
    );
    assert!(
        peak_held <= mem.limit,
        "seed {seed:#x}: {peak_held} > {}",
        mem.limit
    );
    assert!(lowest_free > 0, "seed {seed:#x}: the pool ran dry");
    assert_eq!(sim.link_stats.rx_no_buffer, 0, "seed {seed:#x}");
    // Recovery: once the connection is gone, every buffer is back.
    sim.nodes[small].engine.close(hs).unwrap();
    sim.nodes[big].engine.close(hb).unwrap();
    sim.run_for(Duration::from_secs(130));
    assert_eq!(sim.nodes[small].engine.connection_count(), 0);
    assert_eq!(sim.nodes[small].pool.available(), initial, "seed {seed:#x}");
}

/// What a slow-reader run saw of the small host.
struct SlowReader {
    sim: Sim,
    small: usize,
    /// The fewest buffers free in the small host's pool at any step.
    lowest_free: usize,
    /// The most memory its connections held at any step.
    peak_held: u64,
}

/// A big host sends 2 MiB to a small one (`cfg`, `buffers` pool buffers)
/// whose reader reads only every 100 ms of virtual time; asserts that
/// every byte arrives intact and that, once both close, every buffer is
/// back.
fn slow_reader(seed: u64, cfg: stack::EngineConfig, buffers: usize) -> SlowReader {
    let mut sim = Sim::new(seed);
    let small = sim.add_node_with(cfg, buffers, LinkConfig::default());
    let big = sim.add_host(2, LinkConfig::default());
    let initial = sim.nodes[small].pool.available();
    let l = sim.nodes[big].engine.listen(80, 4).unwrap();
    let (hs, hb) = sim.open(small, big, l, 80);
    let mut sender = Sender::new(seed, 2 << 20);
    let mut receiver = Receiver::default();
    let mut next_read = sim.now;
    let (mut shut, mut lowest_free, mut peak_held) = (false, initial, 0);
    let done = sim.run_until(Duration::from_secs(3600), |sim| {
        let e = &mut sim.nodes[big].engine;
        sender.pump(e, hb).unwrap();
        if sender.done() && !shut {
            e.shutdown(hb, Shutdown::Write).unwrap();
            shut = true;
        }
        while e.poll_event().is_some() {}
        let e = &mut sim.nodes[small].engine;
        lowest_free = lowest_free.min(e.pool_mut().available());
        peak_held = peak_held.max(e.stats().memory.held);
        if sim.now >= next_read {
            receiver.pump(e, hs).unwrap();
            next_read = sim.now + Duration::from_millis(100);
        }
        while e.poll_event().is_some() {}
        receiver.eof
    });
    assert!(
        done,
        "seed {seed:#x}: stalled at {} bytes",
        receiver.received
    );
    assert_eq!(receiver.digest(), sender.digest(), "seed {seed:#x}");
    assert!(
        sim.nodes[big].engine.stats().retransmits > 0,
        "seed {seed:#x}"
    );
    sim.nodes[small].engine.close(hs).unwrap();
    sim.nodes[big].engine.close(hb).unwrap();
    sim.run_for(Duration::from_secs(130));
    assert_eq!(sim.nodes[small].pool.available(), initial, "seed {seed:#x}");
    assert_eq!(sim.nodes[small].engine.stats().memory.held, 0);
    SlowReader {
        sim,
        small,
        lowest_free,
        peak_held,
    }
}

// A reader that holds its buffers: the pool (32 buffers) is smaller than
// the receive window (64 KiB is about 45 full segments). With the memory
// limit set above the pool and the smallest reserve (a misconfiguration),
// arriving frames find no buffer, as on a NIC whose ring cannot be
// refilled. They are dropped and counted; when the reader catches up, the
// sender's retransmissions get through and nothing is lost.
#[test]
fn a_receiver_out_of_buffers_drops_counts_and_recovers() {
    let seed = seed_from_env(0x9002);
    let mut cfg = Sim::host_config(1);
    cfg.tcp.pool_reserve = 1;
    cfg.memory.limit = Some(1 << 30);
    cfg.memory.conn_recv_limit = Some(1 << 30);
    let run = slow_reader(seed, cfg, 32);
    assert!(
        run.sim.link_stats.rx_no_buffer > 0,
        "seed {seed:#x}: the pool never ran dry"
    );
}

// The same slow reader with the memory limit derived from the pool: data
// beyond what the pool can spare is dropped by the engine (counted, not
// acknowledged), so the pool never runs dry and the frames that free
// buffers (ACKs, window updates) are always received.
#[test]
fn a_slow_reader_within_the_memory_limit_never_empties_the_pool() {
    let seed = seed_from_env(0x9003);
    let run = slow_reader(seed, Sim::host_config(1), 96);
    let stats = run.sim.nodes[run.small].engine.stats();
    assert_eq!(
        run.sim.link_stats.rx_no_buffer, 0,
        "seed {seed:#x}: the pool ran dry"
    );
    // The 64 buffers of the reserve, less frames in flight.
    assert!(
        run.lowest_free >= 64 - 8,
        "seed {seed:#x}: {} buffers free at worst",
        run.lowest_free
    );
    assert!(run.peak_held <= stats.memory.limit, "seed {seed:#x}");
    let refused = stats.drops.memory_pressure + stats.drops.conn_memory;
    assert!(
        refused > 0,
        "seed {seed:#x}: nothing was refused: {stats:?}"
    );
}
