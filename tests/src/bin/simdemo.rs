//! The simulator demo: two engines over simulated links.
//!
//! 1. Scenario S1 of docs/contract.md (close with a reply still coming), shown
//!    as a tcpdump-style trace;
//! 2. a bidirectional bulk transfer at several loss rates (with
//!    duplication, reordering and corruption), SHA-256 checked, as a table;
//! 3. the engines' counters.
//!
//! Usage: `simdemo [MIB_PER_DIRECTION] [SEED]` (defaults 16 and 1).

use std::net::SocketAddrV4;
use std::time::{Duration, Instant as WallClock};

use integration_tests::transfer::{Receiver, Sender};
use integration_tests::{LinkConfig, Sim};
use stack::Shutdown;

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    scenario_s1(seed);
    println!();
    println!(
        "Bulk transfer: {mib} MiB each way over one connection, 1 Gbit/s links, 0.5 ms one way"
    );
    println!(
        "{:>6}  {:>12}  {:>14}  {:>11}  {:>6}  {:>10}  {:>9}",
        "loss", "virtual s", "Mbit/s per dir", "retransmits", "RTOs", "real s", "SHA-256"
    );
    for loss in [0.0, 0.01, 0.02, 0.05] {
        bulk(seed, loss, mib);
    }
}

fn scenario_s1(seed: u64) {
    println!("Scenario S1: the client sends \"aaa\" and closes; the server replies 3 s later");
    let mut sim = Sim::new(seed);
    let c = sim.add_host(1, LinkConfig::default());
    let s = sim.add_host(2, LinkConfig::default());
    let l = sim.nodes[s].engine.listen(9527, 8).unwrap();
    sim.tracing = true;
    let (ch, sh) = sim.open(c, s, l, 9527);
    sim.nodes[c].engine.write(ch, b"aaa").unwrap();
    sim.run_for(Duration::from_secs(1));
    let mut buf = [0u8; 64];
    let n = sim.nodes[s].engine.read(sh, &mut buf).unwrap();
    sim.nodes[c].engine.close(ch).unwrap();
    sim.run_for(Duration::from_secs(3));
    let eof = sim.nodes[s].engine.read(sh, &mut buf);
    let mut reply = b"Hi, ".to_vec();
    reply.extend_from_slice(&buf[..n]);
    sim.nodes[s].engine.write(sh, &reply).unwrap();
    sim.run_for(Duration::from_secs(1));
    for t in &sim.trace {
        if let Some(seg) = &t.segment {
            println!("  {:>9.6}  {seg}", t.sent.as_nanos() as f64 / 1e9);
        }
    }
    println!("  server: read before the RST -> {eof:?}");
    println!(
        "  server: read after the RST  -> {:?}",
        sim.nodes[s].engine.read(sh, &mut buf)
    );
    println!(
        "  server: write after that    -> {:?}",
        sim.nodes[s].engine.write(sh, b"?")
    );
}

fn bulk(seed: u64, loss: f64, mib: u64) {
    let bytes = mib << 20;
    let link = LinkConfig {
        bandwidth_bps: 1_000_000_000,
        ..LinkConfig::lossy(loss)
    };
    let mut sim = Sim::new(seed);
    let a = sim.add_host(1, link.clone());
    let b = sim.add_host(2, link);
    let l = sim.nodes[b].engine.listen(5001, 8).unwrap();
    let wall = WallClock::now();
    let (ha, hb) = sim.open(a, b, l, 5001);
    let _ = SocketAddrV4::new(sim.nodes[b].ip, 5001);
    let start = sim.now;
    let (mut sa, mut sb) = (Sender::new(seed ^ 1, bytes), Sender::new(seed ^ 2, bytes));
    let (mut ra, mut rb) = (Receiver::default(), Receiver::default());
    let (mut shut_a, mut shut_b) = (false, false);
    let ok = sim.run_until(Duration::from_secs(24 * 3600), |sim| {
        for (node, h, snd, rcv, shut) in [
            (a, ha, &mut sa, &mut ra, &mut shut_a),
            (b, hb, &mut sb, &mut rb, &mut shut_b),
        ] {
            let e = &mut sim.nodes[node].engine;
            snd.pump(e, h).expect("write");
            rcv.pump(e, h).expect("read");
            if snd.done() && !*shut {
                e.shutdown(h, Shutdown::Write).unwrap();
                *shut = true;
            }
            while e.poll_event().is_some() {}
        }
        ra.eof && rb.eof
    });
    let secs = (sim.now - start).as_secs_f64();
    let intact = ok && ra.digest() == sb.digest() && rb.digest() == sa.digest();
    let st = sim.nodes[a].engine.stats();
    println!(
        "{:>5.1}%  {:>12.3}  {:>14.1}  {:>11}  {:>6}  {:>10.2}  {:>9}",
        loss * 100.0,
        secs,
        bytes as f64 * 8.0 / secs / 1e6,
        st.retransmits,
        st.rto_expired,
        wall.elapsed().as_secs_f64(),
        if intact { "match" } else { "MISMATCH" }
    );
    assert!(intact, "seed {seed}: transfer at loss {loss} failed");
}
