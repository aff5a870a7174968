//! Timers that end or keep connections: retransmission timeout against a
//! dead peer, SYN retries, keepalive, and zero-window probing against a
//! reader that stalls for minutes.

use std::net::SocketAddrV4;
use std::time::Duration;

use integration_tests::rng::seed_from_env;
use integration_tests::transfer::{Receiver, Sender};
use integration_tests::{LinkConfig, Sim};
use stack::{Error, EventKind, ResetCause, State};

const PORT: u16 = 7000;

fn dead() -> LinkConfig {
    LinkConfig {
        loss: 1.0,
        ..LinkConfig::default()
    }
}

fn pair(
    seed: u64,
    client_cfg: stack::EngineConfig,
) -> (Sim, usize, usize, stack::Handle, stack::Handle) {
    let mut sim = Sim::new(seed);
    let c = sim.add_node_with(
        client_cfg,
        integration_tests::sim::POOL_BUFFERS,
        LinkConfig::default(),
    );
    let s = sim.add_host(2, LinkConfig::default());
    let l = sim.nodes[s].engine.listen(PORT, 8).unwrap();
    let (ch, sh) = sim.open(c, s, l, PORT);
    (sim, c, s, ch, sh)
}

fn reset_cause(sim: &mut Sim, node: usize) -> Option<ResetCause> {
    sim.events(node).into_iter().find_map(|e| match e.kind {
        EventKind::Reset { cause } => Some(cause),
        _ => None,
    })
}

// contract 17 (Reset event) and RFC 6298 5.5 backoff: a peer that vanishes
// mid-connection ends it with TimedOut after max_retransmits.
#[test]
fn retransmission_timeout_ends_a_connection_to_a_dead_peer() {
    let seed = seed_from_env(0x71);
    let mut cfg = Sim::host_config(1);
    cfg.tcp.max_retransmits = 6;
    let (mut sim, c, s, ch, _sh) = pair(seed, cfg);
    sim.set_link(s, dead());
    sim.events(c);
    let start = sim.now;
    assert_eq!(sim.nodes[c].engine.write(ch, b"anyone there?"), Ok(13));
    let mut cause = None;
    let ended = sim.run_until(Duration::from_secs(3600), |sim| {
        cause = cause.or(reset_cause(sim, c));
        cause.is_some()
    });
    assert!(ended, "seed {seed:#x}: no timeout");
    assert_eq!(cause, Some(ResetCause::RetransmitTimeout));
    // The handshake's RTT sample puts the RTO at its 200 ms floor. First a
    // tail loss probe, at the time the timeout would fire (RFC 8985 7.2),
    // then the timeout from there, doubled six times: 0.2 + 0.2 * (1+2+4+
    // 8+16+32+64) = 25.6 s before giving up.
    let took = sim.now - start;
    assert!(
        took >= Duration::from_millis(25_600) && took < Duration::from_millis(25_700),
        "gave up after {took:?}"
    );
    let mut buf = [0u8; 8];
    assert_eq!(sim.nodes[c].engine.read(ch, &mut buf), Err(Error::TimedOut));
    // contract 3: the error was reported once; writes then see BrokenPipe.
    assert_eq!(sim.nodes[c].engine.write(ch, b"x"), Err(Error::BrokenPipe));
    assert_eq!(sim.nodes[c].engine.state(ch), Ok(State::Closed));
    assert_eq!(sim.nodes[c].engine.stats().timeouts, 1);
}

// contract 15: SYN retries exhausted give TimedOut.
#[test]
fn connect_to_a_silent_host_times_out_after_syn_retries() {
    let seed = seed_from_env(0x72);
    let mut sim = Sim::new(seed);
    let mut cfg = Sim::host_config(1);
    cfg.tcp.syn_retries = 3;
    let c = sim.add_node_with(cfg, 1024, LinkConfig::default());
    let s = sim.add_host(2, dead());
    let _ = s;
    // The peer answers nothing, not even ARP: give the client its MAC.
    let h = {
        let e = &mut sim.nodes[c].engine;
        e.connect(SocketAddrV4::new(
            std::net::Ipv4Addr::new(10, 0, 0, 2),
            PORT,
        ))
        .unwrap()
    };
    let mut cause = None;
    sim.run_until(Duration::from_secs(600), |sim| {
        cause = cause.or(reset_cause(sim, c));
        cause.is_some()
    });
    // ARP gives up before TCP does; the SYNs queued behind it are
    // dropped and counted, and the SYN retries run out all the same.
    assert_eq!(cause, Some(ResetCause::RetransmitTimeout), "seed {seed:#x}");
    let mut buf = [0u8; 4];
    assert_eq!(sim.nodes[c].engine.read(h, &mut buf), Err(Error::TimedOut));
    assert_eq!(
        sim.nodes[c].engine.stats().attempt_fails + sim.nodes[c].engine.stats().timeouts,
        1
    );
}

fn keepalive_config() -> stack::EngineConfig {
    let mut cfg = Sim::host_config(1);
    cfg.tcp.keepalive.enabled = true;
    cfg.tcp.keepalive.idle = Duration::from_secs(10);
    cfg.tcp.keepalive.interval = Duration::from_secs(2);
    cfg.tcp.keepalive.count = 3;
    cfg
}

// contract 17: keepalive timeout is a Reset cause; read reports TimedOut.
#[test]
fn keepalive_detects_a_dead_peer() {
    let seed = seed_from_env(0x73);
    let (mut sim, c, s, ch, _sh) = pair(seed, keepalive_config());
    sim.events(c);
    sim.set_link(s, dead());
    let start = sim.now;
    let mut cause = None;
    sim.run_until(Duration::from_secs(600), |sim| {
        cause = cause.or(reset_cause(sim, c));
        cause.is_some()
    });
    assert_eq!(cause, Some(ResetCause::KeepaliveTimeout), "seed {seed:#x}");
    let took = sim.now - start;
    // 10 s idle (from the handshake's last segment), three probes 2 s
    // apart, then the verdict.
    assert!(
        took >= Duration::from_millis(15_990) && took <= Duration::from_millis(16_010),
        "after {took:?}"
    );
    assert_eq!(sim.nodes[c].engine.stats().keepalive_probes, 3);
    let mut buf = [0u8; 4];
    assert_eq!(sim.nodes[c].engine.read(ch, &mut buf), Err(Error::TimedOut));
}

#[test]
fn keepalive_keeps_an_idle_connection_to_a_live_peer() {
    let seed = seed_from_env(0x74);
    let (mut sim, c, _s, ch, _sh) = pair(seed, keepalive_config());
    sim.run_for(Duration::from_secs(3600));
    assert_eq!(sim.nodes[c].engine.state(ch), Ok(State::Established));
    let probes = sim.nodes[c].engine.stats().keepalive_probes;
    assert!(
        probes >= 300,
        "seed {seed:#x}: only {probes} probes in an hour"
    );
    assert!(sim
        .events(c)
        .iter()
        .all(|e| !matches!(e.kind, EventKind::Reset { .. })));
}

// contract 7 and RFC 9293 3.8.6.1: a reader that stalls for minutes stops
// the writer through flow control; persist probes keep the connection
// alive; nothing is lost when it reads again.
#[test]
fn zero_window_probing_survives_a_reader_stalled_for_minutes() {
    let seed = seed_from_env(0x75);
    let (mut sim, c, s, ch, sh) = pair(seed, Sim::host_config(1));
    let total = 2 * 1024 * 1024;
    let mut sender = Sender::new(seed, total);
    sender.pump(&mut sim.nodes[c].engine, ch).unwrap();
    // The receiver does not read for ten minutes.
    sim.run_for(Duration::from_secs(600));
    assert_eq!(sim.nodes[c].engine.state(ch), Ok(State::Established));
    let probes = sim.nodes[c].engine.stats().window_probes;
    assert!(
        probes >= 5,
        "seed {seed:#x}: {probes} window probes; {:?}",
        sim.nodes[c].engine.stats()
    );
    let buffered = sim.nodes[s].engine.readiness(sh).unwrap().readable_bytes;
    // The 64 KiB receive buffer used up, to the window scale's 2-byte
    // granularity (RFC 7323 2.3: a shift of 1 covers 64 KiB).
    assert!(
        (65_534..=65_536).contains(&buffered),
        "the receive window is used up: {buffered} bytes"
    );
    let mut receiver = Receiver::default();
    let ok = sim.run_until(Duration::from_secs(600), |sim| {
        sender.pump(&mut sim.nodes[c].engine, ch).unwrap();
        receiver.pump(&mut sim.nodes[s].engine, sh).unwrap();
        receiver.received == total
    });
    assert!(
        ok,
        "seed {seed:#x}: only {} bytes after the stall",
        receiver.received
    );
    assert_eq!(receiver.digest(), sender.digest());
    assert_eq!(sim.nodes[c].engine.stats().timeouts, 0);
}
