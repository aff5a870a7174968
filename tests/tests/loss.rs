//! TCP on lossy paths, between two engines in the simulator: goodput at
//! each loss rate against a model of what a TCP sender achieves there;
//! reordering that loses nothing; and request/response whose tail losses
//! are repaired by probes rather than by the retransmission timeout.
//!
//! Every link also duplicates, reorders and corrupts frames at a fifth of
//! its loss rate (`LinkConfig::lossy`). Goodput is in virtual time, so it
//! does not depend on the machine: the floors are a model's, not timings.

use std::time::Duration;

use integration_tests::rng::seed_from_env;
use integration_tests::transfer::{Receiver, Sender};
use integration_tests::{LinkConfig, Sim};
use stack::{Shutdown, Stats};

const PORT: u16 = 5001;
const MIB: u64 = 1024 * 1024;

/// The path: 1 ms round trip, 1 Gbit/s, 64 KiB receive buffers.
const RTT_S: f64 = 1e-3;
const RECV_BUFFER: f64 = 65_536.0;
/// Payload per segment beside the timestamps option.
const MSS: f64 = 1448.0;

/// What a Reno-style TCP sender is expected to achieve over the path when
/// a share `p` of its segments is lost: the model of Padhye et al. (1998),
/// with `b = 2` segments per ACK and the retransmission timeout at its
/// 200 ms floor, capped by what the receive window allows. In Mbit/s. It
/// counts timeouts at the rate a sender without SACK suffers them; SACK,
/// RACK and probes should do better, never worse.
fn model_mbps(p: f64) -> f64 {
    let (b, t0) = (2.0, 0.2);
    let per_segment = RTT_S * (2.0 * b * p / 3.0).sqrt()
        + t0 * (3.0 * (3.0 * b * p / 8.0).sqrt()).min(1.0) * p * (1.0 + 32.0 * p * p);
    let law = MSS * 8.0 / per_segment / 1e6;
    let window = RECV_BUFFER * 8.0 / RTT_S / 1e6;
    law.min(window)
}

struct Outcome {
    mbps: f64,
    sender: Stats,
    receiver: Stats,
}

/// `bytes` from node a to node b over `link` (both directions); checks
/// every byte arrived intact and returns the goodput.
fn one_way(seed: u64, link: LinkConfig, bytes: u64) -> Outcome {
    let link = LinkConfig {
        bandwidth_bps: 1_000_000_000,
        ..link
    };
    let mut sim = Sim::new(seed);
    let a = sim.add_host(1, link.clone());
    let b = sim.add_host(2, link);
    let l = sim.nodes[b].engine.listen(PORT, 8).unwrap();
    let (ha, hb) = sim.open(a, b, l, PORT);
    let start = sim.now;
    let mut send = Sender::new(seed ^ 0x5e, bytes);
    let mut recv = Receiver::default();
    let mut shut = false;
    let finished = sim.run_until(Duration::from_secs(3600), |sim| {
        let ea = &mut sim.nodes[a].engine;
        send.pump(ea, ha)
            .unwrap_or_else(|e| panic!("seed {seed:#x}: a: {e}"));
        if send.done() && !shut {
            ea.shutdown(ha, Shutdown::Write).unwrap();
            shut = true;
        }
        while ea.poll_event().is_some() {}
        let eb = &mut sim.nodes[b].engine;
        recv.pump(eb, hb)
            .unwrap_or_else(|e| panic!("seed {seed:#x}: b: {e}"));
        while eb.poll_event().is_some() {}
        recv.eof
    });
    let secs = (sim.now - start).as_secs_f64();
    assert!(
        finished,
        "seed {seed:#x}: stalled at {} of {bytes} bytes after {secs:.1} s; a: {:?}",
        recv.received,
        sim.nodes[a].engine.stats()
    );
    assert_eq!(recv.received, bytes, "seed {seed:#x}: byte count");
    assert_eq!(recv.digest(), send.digest(), "seed {seed:#x}: content");
    Outcome {
        mbps: bytes as f64 * 8.0 / secs / 1e6,
        sender: sim.nodes[a].engine.stats().clone(),
        receiver: sim.nodes[b].engine.stats().clone(),
    }
}

// At each loss rate the transfer is complete and intact, and the goodput
// reaches the model's: losses are repaired by SACK recovery, RACK and
// probes, with the window reduced once per episode; timeouts are few.
#[test]
fn goodput_under_loss_reaches_the_model_at_every_rate() {
    let base = seed_from_env(0x1055_0000);
    println!(
        "loss % | goodput Mbit/s | model | retransmits | RTOs | recoveries | TLP | RACK | undone"
    );
    for (i, percent) in [0.1, 1.0, 2.0, 5.0, 10.0].into_iter().enumerate() {
        let seed = base + i as u64;
        let loss = percent / 100.0;
        let out = one_way(seed, LinkConfig::lossy(loss), 16 * MIB);
        // A data segment is lost when dropped or corrupted.
        let p = loss * 1.2;
        let model = model_mbps(p);
        let s = &out.sender;
        println!(
            "{percent:>6} | {:>14.1} | {model:>5.1} | {:>11} | {:>4} | {:>10} | {:>3} | {:>4} | {:>6}",
            out.mbps,
            s.retransmits,
            s.rto_expired,
            s.recoveries,
            s.tlp_probes,
            s.rack_lost,
            s.spurious_rtos + s.spurious_recoveries,
        );
        assert!(
            out.mbps >= model,
            "seed {seed:#x}: {percent} % loss: {:.1} Mbit/s, below the model's {model:.1}",
            out.mbps
        );
        // Timeouts are the exception: far fewer than recovery episodes.
        assert!(
            s.rto_expired * 10 <= s.recoveries.max(10),
            "seed {seed:#x}: {percent} %: {} timeouts for {} recoveries",
            s.rto_expired,
            s.recoveries
        );
        assert!(
            out.receiver.sack_blocks_sent > 0,
            "the receiver reports SACK blocks"
        );
    }
}

// RFC 8985: reordering loses nothing and costs no goodput. Before any
// reordering is seen, three segments SACKed above a hole mark it lost at
// once (as DupThresh would, 6.2); the D-SACK for that retransmission shows
// the network reorders, widens the reordering window, and undoes the
// episode's reduction (RFC 3708). So a handful of episodes at the start,
// every one undone, and the transfer as fast as without reordering.
#[test]
fn reordering_alone_causes_no_lasting_spurious_retransmission() {
    let seed = seed_from_env(0x2e02_0000);
    let clean = one_way(seed, LinkConfig::default(), 16 * MIB);
    let link = LinkConfig {
        reorder: 0.02,
        reorder_delay: Duration::from_micros(200),
        ..LinkConfig::default()
    };
    let out = one_way(seed, link, 16 * MIB);
    let s = &out.sender;
    println!(
        "reordering 2 %: {:.1} Mbit/s ({:.1} without), {} retransmits, {} recoveries, {} undone, \
         {} reorderings seen, {} D-SACKs",
        out.mbps,
        clean.mbps,
        s.retransmits,
        s.recoveries,
        s.spurious_recoveries,
        s.reorderings,
        s.dsacks_received
    );
    assert!(s.reorderings > 0, "seed {seed:#x}: the reordering was seen");
    assert!(
        s.recoveries <= 3,
        "seed {seed:#x}: {} recoveries",
        s.recoveries
    );
    assert_eq!(
        s.recoveries, s.spurious_recoveries,
        "seed {seed:#x}: every episode was undone"
    );
    assert_eq!(s.rto_expired, 0);
    assert!(
        out.mbps >= 0.9 * clean.mbps,
        "seed {seed:#x}: {:.1} Mbit/s against {:.1} without reordering",
        out.mbps,
        clean.mbps
    );
}

// RFC 8985 7: at 1 % loss, request/response where a response is several
// segments: a lost last segment is found by a tail loss probe about two
// round trips later, not by the retransmission timeout (200 ms); a lost
// request, a single segment, too, with the peer's delayed ACK bound
// configured as what it is (`tcp.peer_max_ack_delay_ms`). Timeouts are
// left for the rare probe that is lost too.
#[test]
fn request_response_tail_losses_are_repaired_without_timeouts() {
    const REQUEST: usize = 100;
    const RESPONSE: usize = 8 * 1024;
    const ROUNDS: usize = 3000;
    let seed = seed_from_env(0x7a11_0000);
    let mut sim = Sim::new(seed);
    let cfg = |n: u8| {
        let mut c = Sim::host_config(n);
        c.tcp.peer_max_ack_delay = c.tcp.delayed_ack;
        c
    };
    let link = LinkConfig {
        bandwidth_bps: 1_000_000_000,
        ..LinkConfig::lossy(0.01)
    };
    let a = sim.add_node_with(cfg(1), integration_tests::sim::POOL_BUFFERS, link.clone());
    let b = sim.add_node_with(cfg(2), integration_tests::sim::POOL_BUFFERS, link);
    let l = sim.nodes[b].engine.listen(PORT, 8).unwrap();
    let (ha, hb) = sim.open(a, b, l, PORT);
    for (n, h) in [(a, ha), (b, hb)] {
        sim.nodes[n].engine.set_nodelay(h, true).unwrap();
    }
    let request = vec![0x51u8; REQUEST];
    let response = vec![0x52u8; RESPONSE];
    let mut latencies = Vec::with_capacity(ROUNDS);
    let (mut server_got, mut server_owed) = (0usize, 0usize);
    let (mut client_got, mut sent_at) = (0usize, None);
    let mut buf = vec![0u8; 64 * 1024];
    let done = sim.run_until(Duration::from_secs(600), |sim| {
        let now = sim.now;
        let ea = &mut sim.nodes[a].engine;
        if sent_at.is_none() {
            assert_eq!(ea.write(ha, &request), Ok(REQUEST));
            sent_at = Some(now);
        }
        while let Ok(n) = ea.read(ha, &mut buf) {
            if n == 0 {
                break;
            }
            client_got += n;
        }
        if client_got >= RESPONSE {
            assert_eq!(
                client_got, RESPONSE,
                "seed {seed:#x}: one response per request"
            );
            client_got = 0;
            latencies.push(now - sent_at.take().expect("a request is out"));
        }
        while ea.poll_event().is_some() {}
        let eb = &mut sim.nodes[b].engine;
        while let Ok(n) = eb.read(hb, &mut buf) {
            if n == 0 {
                break;
            }
            server_got += n;
        }
        while server_got >= REQUEST {
            server_got -= REQUEST;
            server_owed += RESPONSE;
        }
        while server_owed > 0 {
            let from = RESPONSE - server_owed % RESPONSE;
            let from = if from == RESPONSE { 0 } else { from };
            match eb.write(hb, &response[from..]) {
                Ok(n) => server_owed -= n,
                Err(_) => break,
            }
        }
        while eb.poll_event().is_some() {}
        latencies.len() == ROUNDS
    });
    assert!(
        done,
        "seed {seed:#x}: {} of {ROUNDS} rounds",
        latencies.len()
    );
    latencies.sort();
    let pct = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let (ca, sb) = (sim.nodes[a].engine.stats(), sim.nodes[b].engine.stats());
    println!(
        "rr at 1 % loss: p50 {:?} p99 {:?} p99.9 {:?} max {:?}; client {} TLP {} RTOs, server {} TLP {} RTOs; link lost {}",
        pct(0.5),
        pct(0.99),
        pct(0.999),
        latencies[latencies.len() - 1],
        ca.tlp_probes,
        ca.rto_expired,
        sb.tlp_probes,
        sb.rto_expired,
        sim.link_stats.lost
    );
    // About 3 % of the rounds lose a segment. Were tails left to the
    // timeout, p99 would be 200 ms; probes repair them in a few ms, and
    // only a lost probe (or its lost ACK) leaves one to the timeout.
    let rto = Duration::from_millis(200);
    assert!(
        sb.tlp_probes > 0 && ca.tlp_probes > 0,
        "seed {seed:#x}: probes repaired the tails"
    );
    assert!(pct(0.99) < rto / 4, "seed {seed:#x}: p99 {:?}", pct(0.99));
    let (timeouts, probes) = (
        ca.rto_expired + sb.rto_expired,
        ca.tlp_probes + sb.tlp_probes,
    );
    assert!(
        timeouts * 10 <= probes,
        "seed {seed:#x}: {timeouts} timeouts against {probes} probes"
    );
}
