//! Attacks on an echo server. First, memory under pressure: three ways a
//! peer can try to take every packet buffer of it, each played against a victim with a small
//! pool, while a well-behaved client connects and echoes every 50 ms and a
//! prober asks for ARP and pings every 100 ms.
//!
//! 1. out-of-order data with one-byte holes on 200 connections;
//! 2. one connection sending 16,001 one-byte segments into a closed
//!    window, which the zero-copy echo queues back;
//! 3. 100 clients that send 400 kB each and never read.
//!
//! Throughout, the victim answers ARP, ping and the client, and what its
//! connections hold stays under its memory limit; afterwards every buffer
//! is back in the pool. Each test prints the client's success rate during
//! and after the attack and the peak memory held.
//!
//! Then a SYN flood from spoofed sources (SYN cookies, RFC 4987) and blind
//! RST, SYN and data injection into a stream (RFC 5961), against the same
//! victim with the same client and prober.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use integration_tests::apps::{Echo, EchoClient, Prober};
use integration_tests::raw::{Heard, RawConn, RawHost, TcpFields};
use integration_tests::rng::seed_from_env;
use integration_tests::sim::BUF_SIZE;
use integration_tests::{LinkConfig, Sim};
use stack::wire::{EthernetAddress, TcpFlags};
use stack::Handle;

const VICTIM_POOL: usize = 4096;
/// The victim's connections may hold three quarters of its pool; the rest
/// is for the echo application (which holds up to one buffer per
/// connection) and frames in flight.
const VICTIM_LIMIT: usize = 3072 * BUF_SIZE;
const ECHO_PORT: u16 = 7;
const VICTIM_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const VICTIM_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The victim, its echo server, the client, the prober, and what was
/// seen of the victim's memory.
struct Bed {
    sim: Sim,
    victim: usize,
    client: usize,
    echo: Echo,
    legit: EchoClient,
    prober: Prober,
    initial_free: usize,
    peak_held: u64,
    peak_bufs: u64,
    lowest_free: usize,
}

/// The client's and the prober's results over one stretch of time.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    attempts: u64,
    successes: u64,
    probes: u64,
    arp: u64,
    ping: u64,
}

impl Bed {
    fn new(seed: u64) -> Bed {
        let mut sim = Sim::new(seed);
        let mut cfg = Sim::host_config(1);
        cfg.memory.limit = Some(VICTIM_LIMIT);
        let victim = sim.add_node_with(cfg, VICTIM_POOL, LinkConfig::default());
        let client = sim.add_host(3, LinkConfig::default());
        let echo = Echo::new(&mut sim.nodes[victim].engine, ECHO_PORT);
        let legit = EchoClient::new(SocketAddrV4::new(VICTIM_IP, ECHO_PORT), sim.now, ms(50));
        let me = RawHost {
            mac: EthernetAddress([0x02, 0, 0, 0, 0, 0x77]),
            ip: Ipv4Addr::new(10, 0, 0, 77),
        };
        let tap = sim.add_tap(me.mac);
        let prober = Prober::new(tap, me, VICTIM_IP, sim.now, ms(100));
        let initial_free = sim.nodes[victim].pool.available();
        Bed {
            sim,
            victim,
            client,
            echo,
            legit,
            prober,
            initial_free,
            peak_held: 0,
            peak_bufs: 0,
            lowest_free: initial_free,
        }
    }

    /// Runs for `d` (in steps of at most a millisecond, so the client and
    /// the prober keep their pace), with `attack` after every step.
    fn run(&mut self, d: Duration, attack: &mut dyn FnMut(&mut Sim)) -> Tally {
        let before = self.tally();
        let end = self.sim.now + d;
        while self.sim.now < end {
            let limit = end.min(self.sim.now + ms(1));
            self.sim.step(limit);
            self.echo.poll(&mut self.sim.nodes[self.victim].engine);
            self.legit.poll(&mut self.sim, self.client, end);
            self.prober.poll(&mut self.sim, end);
            attack(&mut self.sim);
            let node = &self.sim.nodes[self.victim];
            let m = &node.engine.stats().memory;
            assert!(
                m.held <= m.limit,
                "seed {:#x}: {} bytes held, limit {}",
                self.sim.seed,
                m.held,
                m.limit
            );
            self.peak_held = self.peak_held.max(m.held);
            self.peak_bufs = self.peak_bufs.max(m.bufs_recv + m.bufs_ooo + m.bufs_send);
            self.lowest_free = self.lowest_free.min(node.pool.available());
        }
        // Let the last attempt and probe finish before counting.
        while self.legit.busy() {
            self.sim.step(self.sim.now + ms(1));
            self.echo.poll(&mut self.sim.nodes[self.victim].engine);
            self.legit.poll(&mut self.sim, self.client, end);
            self.prober.poll(&mut self.sim, end);
            attack(&mut self.sim);
        }
        let after = self.tally();
        Tally {
            attempts: after.attempts - before.attempts,
            successes: after.successes - before.successes,
            probes: after.probes - before.probes,
            arp: after.arp - before.arp,
            ping: after.ping - before.ping,
        }
    }

    fn tally(&self) -> Tally {
        Tally {
            attempts: self.legit.attempts,
            successes: self.legit.successes,
            probes: self.prober.sent,
            arp: self.prober.arp_answered,
            ping: self.prober.ping_answered,
        }
    }

    /// Everything was answered during `t`.
    #[track_caller]
    fn assert_served(&self, what: &str, t: Tally) {
        let seed = self.sim.seed;
        assert!(t.attempts >= 10, "seed {seed:#x}: {what}: {t:?}");
        assert_eq!(
            t.successes,
            t.attempts,
            "seed {seed:#x}: {what}: the client failed (attempts started at {:?}); {:?}",
            self.legit.failures,
            self.sim.nodes[self.victim].engine.stats()
        );
        assert!(t.probes >= 5, "seed {seed:#x}: {what}: {t:?}");
        assert_eq!(
            (t.arp, t.ping),
            (t.probes, t.probes),
            "seed {seed:#x}: {what}: {t:?}"
        );
    }

    /// After the attack: every buffer back in the pool, nothing held, once
    /// the last exchanges have had a second to end (no new attempts).
    #[track_caller]
    fn assert_recovered(&mut self) {
        let quiet = self.sim.now + ms(1000);
        while self.sim.now < quiet {
            self.sim.step(quiet.min(self.sim.now + ms(1)));
            self.echo.poll(&mut self.sim.nodes[self.victim].engine);
            let now = self.sim.now;
            self.legit.poll(&mut self.sim, self.client, now);
        }
        let seed = self.sim.seed;
        let node = &self.sim.nodes[self.victim];
        assert_eq!(
            node.engine.stats().memory.held,
            0,
            "seed {seed:#x}: {:?}; states {:?}",
            node.engine.stats().memory,
            node.engine.state_counts()
        );
        assert_eq!(self.echo.open(), 0, "seed {seed:#x}");
        assert_eq!(node.pool.available(), self.initial_free, "seed {seed:#x}");
    }

    fn report(&self, name: &str, during: Tally, after: Tally) {
        let m = &self.sim.nodes[self.victim].engine.stats().memory;
        println!(
            "{name}: client {}/{} during, {}/{} after; ARP and ping {}/{} during; \
             peak held {} bytes ({} buffers) of a {}-byte limit; pool low point {} free of {}; \
             {} collapsed, {} out-of-order queues pruned, {} timed out",
            during.successes,
            during.attempts,
            after.successes,
            after.attempts,
            during.ping.min(during.arp),
            during.probes,
            self.peak_held,
            self.peak_bufs,
            m.limit,
            self.lowest_free,
            self.initial_free,
            m.collapsed_segments,
            m.ooo_pruned,
            m.ooo_timeouts
        );
    }
}

/// A host of hand-built frames with many connections to the echo server.
struct Attacker {
    host: RawHost,
    tap: usize,
    conns: Vec<RawConn>,
}

impl Attacker {
    fn new(sim: &mut Sim) -> Attacker {
        let host = RawHost {
            mac: EthernetAddress([0x02, 0, 0, 0, 0, 0x66]),
            ip: Ipv4Addr::new(10, 0, 0, 66),
        };
        let tap = sim.add_tap(host.mac);
        Attacker {
            host,
            tap,
            conns: Vec::new(),
        }
    }

    /// Answers ARP for itself and notes what the victim sent.
    fn hear(&mut self, sim: &mut Sim) {
        for (_, frame) in sim.take_inbox(self.tap) {
            match Heard::decode(&frame) {
                Heard::ArpRequest { target } if target == self.host.ip => {
                    sim.send_raw(self.host.arp_reply(VICTIM_MAC, VICTIM_IP));
                }
                Heard::Tcp(seg) => {
                    if let Some(c) = self.conns.iter_mut().find(|c| c.port == seg.dst_port) {
                        c.hear(&seg);
                    }
                }
                _ => {}
            }
        }
    }

    fn send(&self, sim: &mut Sim, c: usize, flags: TcpFlags, offset: usize, data: &[u8], win: u16) {
        let conn = &self.conns[c];
        let frame = self.host.tcp(
            VICTIM_MAC,
            VICTIM_IP,
            &TcpFields {
                src_port: conn.port,
                dst_port: ECHO_PORT,
                flags,
                seq: conn.seq(offset),
                ack: conn.peer_seq(0),
                window: win,
                mss: None,
                payload: data,
            },
        );
        sim.send_raw(frame);
    }

    /// Opens `n` connections advertising `window`, all the way to the
    /// final ACK of the handshake.
    fn open(&mut self, bed: &mut Bed, n: u16, window: u16) {
        // Introduce ourselves, so the SYN-ACKs do not wait for ARP.
        bed.sim.send_raw(self.host.arp_request(VICTIM_IP));
        bed.run(ms(5), &mut |sim| self.hear(sim));
        for i in 0..n {
            let c = RawConn::new(20_000 + i, 1_000_000 * u32::from(i));
            let syn = TcpFields {
                src_port: c.port,
                dst_port: ECHO_PORT,
                flags: TcpFlags::SYN,
                seq: c.iss,
                window,
                mss: Some(1460),
                ..TcpFields::default()
            };
            bed.sim.send_raw(self.host.tcp(VICTIM_MAC, VICTIM_IP, &syn));
            self.conns.push(c);
        }
        bed.run(ms(50), &mut |sim| self.hear(sim));
        for i in 0..self.conns.len() {
            assert!(self.conns[i].irs.is_some(), "no SYN-ACK for connection {i}");
            self.send(&mut bed.sim, i, TcpFlags::ACK, 0, &[], window);
        }
        bed.run(ms(20), &mut |sim| self.hear(sim));
        assert_eq!(bed.echo.open(), usize::from(n));
    }

    /// Resets every connection.
    fn reset_all(&mut self, sim: &mut Sim, sent: impl Fn(usize) -> usize) {
        for i in 0..self.conns.len() {
            self.send(sim, i, TcpFlags::RST | TcpFlags::ACK, sent(i), &[], 0);
        }
    }
}

// Attack 1: 200 connections each send 400-byte segments with a one-byte
// hole before every one of them (130 segments a connection, over and
// over for three seconds). Nothing can ever be delivered; without limits
// the reassembly queues hold every buffer.
#[test]
fn out_of_order_flood_on_200_connections() {
    let seed = seed_from_env(0x7001);
    let mut bed = Bed::new(seed);
    let mut attacker = Attacker::new(&mut bed.sim);
    attacker.open(&mut bed, 200, 65_535);
    let segment = [0x5a; 400];
    let mut round = 0usize;
    let mut next = bed.sim.now;
    let during = bed.run(Duration::from_secs(3), &mut |sim| {
        attacker.hear(sim);
        if sim.now < next {
            return;
        }
        next = sim.now + ms(50);
        for c in 0..attacker.conns.len() {
            for k in 0..10 {
                let at = 1 + ((round * 10 + k) % 130) * 401;
                attacker.send(sim, c, TcpFlags::ACK, at, &segment, 65_535);
            }
        }
        round += 1;
    });
    let m = bed.sim.nodes[bed.victim].engine.stats().memory.clone();
    assert!(
        m.entered_critical > 0 && m.ooo_pruned > 0,
        "seed {seed:#x}: {m:?}"
    );
    // The attacker goes quiet: its out-of-order data times out.
    let after = bed.run(Duration::from_secs(11), &mut |sim| attacker.hear(sim));
    let m = bed.sim.nodes[bed.victim].engine.stats().memory.clone();
    assert_eq!(
        (m.bufs_ooo, m.level),
        (0, stack::MemoryLevel::Normal),
        "seed {seed:#x}"
    );
    assert!(m.ooo_timeouts > 0, "seed {seed:#x}: {m:?}");
    attacker.reset_all(&mut bed.sim, |_| 0);
    bed.run(ms(200), &mut |sim| attacker.hear(sim));
    bed.report("out-of-order flood", during, after);
    bed.assert_served("during the flood", during);
    bed.assert_served("after the flood", after);
    bed.assert_recovered();
}

// Attack 2: one connection whose peer keeps its window closed sends
// 16,001 one-byte segments; the echo server queues every received buffer
// back with write_buf. Collapsing keeps it to a handful of buffers.
#[test]
fn one_byte_segments_into_a_closed_window() {
    let seed = seed_from_env(0x7002);
    let mut bed = Bed::new(seed);
    let mut attacker = Attacker::new(&mut bed.sim);
    attacker.open(&mut bed, 1, 0);
    let mut sent = 0usize;
    let during = bed.run(Duration::from_secs(2), &mut |sim| {
        attacker.hear(sim);
        for _ in 0..100 {
            if sent < 16_001 {
                attacker.send(sim, 0, TcpFlags::ACK | TcpFlags::PSH, sent, b"x", 0);
                sent += 1;
            }
        }
    });
    assert_eq!(sent, 16_001);
    let engine = &bed.sim.nodes[bed.victim].engine;
    let m = engine.stats().memory.clone();
    // Every byte queued back (the client's echoes count too).
    assert!(
        bed.echo.bytes >= 16_001,
        "seed {seed:#x}: {}",
        bed.echo.bytes
    );
    assert!(m.bufs_send <= 16_001 / 1460 + 2, "seed {seed:#x}: {m:?}");
    assert!(m.collapsed_segments >= 15_000, "seed {seed:#x}: {m:?}");
    let after = bed.run(ms(1000), &mut |sim| attacker.hear(sim));
    attacker.reset_all(&mut bed.sim, |_| sent);
    bed.run(ms(200), &mut |sim| attacker.hear(sim));
    bed.report("one-byte segments", during, after);
    bed.assert_served("during the one-byte flood", during);
    bed.assert_served("after the one-byte flood", after);
    bed.assert_recovered();
}

// Attack 3: 100 ordinary clients (engines with a 2 KiB receive buffer)
// each send 400 kB to the echo server and never read. The echo server's
// send queues fill; under pressure the windows it offers grow slowly and
// from the critical mark not at all, which stops the clients while the
// rest of the limit keeps serving the client. When the clients reset,
// the RSTs get through.
#[test]
fn a_hundred_clients_that_never_read() {
    let seed = seed_from_env(0x7003);
    let mut bed = Bed::new(seed);
    let mut cfg = Sim::host_config(4);
    cfg.tcp.recv_buffer = 2048;
    let hogs = bed.sim.add_node_with(cfg, 32 * 1024, LinkConfig::default());
    let server = SocketAddrV4::new(VICTIM_IP, ECHO_PORT);
    let conns: Vec<Handle> = (0..100)
        .map(|_| bed.sim.nodes[hogs].engine.connect(server).unwrap())
        .collect();
    let mut sent = vec![0usize; conns.len()];
    let payload = vec![0xa5u8; 16 * 1024];
    let during = bed.run(Duration::from_secs(5), &mut |sim| {
        let e = &mut sim.nodes[hogs].engine;
        while e.poll_event().is_some() {}
        for (h, sent) in conns.iter().zip(sent.iter_mut()) {
            while *sent < 400_000 {
                let n = (400_000 - *sent).min(payload.len());
                match e.write(*h, &payload[..n]) {
                    Ok(k) => *sent += k,
                    Err(_) => break,
                }
            }
        }
    });
    // The windows stopped growing at the critical mark, which stopped the
    // clients before the reserved top.
    let m = bed.sim.nodes[bed.victim].engine.stats().memory.clone();
    assert!(m.entered_critical > 0, "seed {seed:#x}: {m:?}");
    assert!(m.held_send > m.pressure_mark, "seed {seed:#x}: {m:?}");
    for h in &conns {
        bed.sim.nodes[hogs].engine.abort(*h).unwrap();
    }
    let after = bed.run(ms(1000), &mut |sim| {
        while sim.nodes[hogs].engine.poll_event().is_some() {}
    });
    bed.report("never-reading clients", during, after);
    bed.assert_served("during the never-reading clients", during);
    bed.assert_served("after the never-reading clients", after);
    bed.assert_recovered();
}

/// SYNs from spoofed sources across the subnet, `per_ms` each millisecond.
struct SynFlood {
    rng: integration_tests::rng::Rng,
    tap_mac: EthernetAddress,
    sent: u64,
}

impl SynFlood {
    fn send(&mut self, sim: &mut Sim, per_ms: usize) {
        for _ in 0..per_ms {
            let host = RawHost {
                mac: self.tap_mac,
                ip: Ipv4Addr::new(10, 0, 0, 100 + (self.rng.next_u64() % 150) as u8),
            };
            let syn = TcpFields {
                src_port: 1024 + (self.rng.next_u64() % 60_000) as u16,
                dst_port: ECHO_PORT,
                flags: TcpFlags::SYN,
                seq: self.rng.next_u64() as u32,
                window: 65_535,
                mss: Some(1460),
                ..TcpFields::default()
            };
            sim.send_raw(host.tcp(VICTIM_MAC, VICTIM_IP, &syn));
            self.sent += 1;
        }
    }
}

// A SYN flood (RFC 4987): 100 SYNs a millisecond for three seconds from
// spoofed sources that never complete the handshake. The SYN queue fills,
// SYN cookies answer the rest, and the client keeps connecting; the
// connection table stays within the SYN queue, and afterwards the
// half-open connections time out and everything is released.
#[test]
fn a_syn_flood_from_spoofed_sources() {
    let seed = seed_from_env(0x7004);
    let mut bed = Bed::new(seed);
    let tap_mac = EthernetAddress([0x02, 0, 0, 0, 0, 0x55]);
    let _tap = bed.sim.add_tap(tap_mac);
    let mut flood = SynFlood {
        rng: integration_tests::rng::Rng::new(seed ^ 0x5f10),
        tap_mac,
        sent: 0,
    };
    let syn_queue = bed.sim.nodes[bed.victim].engine.config().tcp.syn_queue;
    let mut most = 0;
    let during = bed.run(Duration::from_secs(3), &mut |sim| {
        flood.send(sim, 100);
        most = most.max(sim.nodes[0].engine.connection_count());
    });
    let stats = bed.sim.nodes[bed.victim].engine.stats().clone();
    assert!(flood.sent >= 290_000, "seed {seed:#x}: {}", flood.sent);
    assert!(stats.syn_cookies_sent > 0, "seed {seed:#x}: {stats:?}");
    // The half-open connections of the queue, the client's and the
    // prober's: the flood holds no more than the SYN queue.
    assert!(most <= syn_queue + 16, "seed {seed:#x}: {most} connections");
    // SYN-ACK retransmissions end (1+2+4+8+16+32 s) and the queue empties.
    let after = bed.run(Duration::from_secs(70), &mut |_| {});
    bed.report("SYN flood", during, after);
    println!(
        "SYN flood: {} SYNs, {} cookies sent, at most {most} connections",
        flood.sent, stats.syn_cookies_sent
    );
    bed.assert_served("during the flood", during);
    bed.assert_served("after the flood", after);
    bed.assert_recovered();
}

// Blind injection (RFC 5961): while a client streams data through the
// echo server, frames claiming to come from its connection carry RSTs,
// SYNs and data at random sequence and acknowledgment numbers. The
// connection is neither reset nor desynchronised: every byte echoed is a
// byte the client sent.
#[test]
fn blind_injection_into_a_stream() {
    let seed = seed_from_env(0x7005);
    let mut bed = Bed::new(seed);
    let (client, victim) = (bed.client, bed.victim);
    let h = bed.sim.nodes[client]
        .engine
        .connect(SocketAddrV4::new(VICTIM_IP, ECHO_PORT))
        .unwrap();
    let (local, _) = bed.sim.nodes[client].engine.addresses(h).unwrap();
    // The attack begins once the connection is open (before it, a forged
    // SYN would simply be the first to open the 4-tuple).
    bed.run(ms(50), &mut |_| {});
    assert_eq!(
        bed.sim.nodes[client].engine.state(h),
        Ok(stack::State::Established),
        "seed {seed:#x}"
    );
    let spoof = RawHost {
        mac: bed.sim.nodes[client].mac,
        ip: bed.sim.nodes[client].ip,
    };
    let mut rng = integration_tests::rng::Rng::new(seed ^ 0x5961);
    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let (mut written, mut echoed) = (0usize, Vec::new());
    let mut injected = 0u64;
    let mut buf = [0u8; 65_536];
    let during = bed.run(Duration::from_secs(3), &mut |sim| {
        let engine = &mut sim.nodes[client].engine;
        if written < data.len() {
            if let Ok(n) = engine.write(h, &data[written..(written + 65_536).min(data.len())]) {
                written += n;
            }
        }
        while let Ok(n @ 1..) = engine.read(h, &mut buf) {
            echoed.extend_from_slice(&buf[..n]);
        }
        for flags in [
            TcpFlags::RST,
            TcpFlags::RST | TcpFlags::ACK,
            TcpFlags::SYN,
            TcpFlags::PSH | TcpFlags::ACK,
        ] {
            let f = TcpFields {
                src_port: local.port(),
                dst_port: ECHO_PORT,
                flags,
                seq: rng.next_u64() as u32,
                ack: rng.next_u64() as u32,
                window: 65_535,
                mss: None,
                payload: if flags.contains(TcpFlags::PSH) {
                    b"BLIND-INJECT"
                } else {
                    &[]
                },
            };
            for _ in 0..25 {
                sim.send_raw(spoof.tcp(VICTIM_MAC, VICTIM_IP, &f));
                injected += 1;
            }
        }
    });
    let finish = bed.sim.now + Duration::from_secs(20);
    while echoed.len() < written && bed.sim.now < finish {
        bed.sim.step(bed.sim.now + ms(1));
        bed.echo.poll(&mut bed.sim.nodes[victim].engine);
        while let Ok(n @ 1..) = bed.sim.nodes[client].engine.read(h, &mut buf) {
            echoed.extend_from_slice(&buf[..n]);
        }
    }
    let stats = bed.sim.nodes[victim].engine.stats().clone();
    println!(
        "blind injection: {injected} frames; {written} bytes written, {} echoed; \
         {} out of the window; {} challenge ACKs, {} held back; resets received {}",
        echoed.len(),
        stats.drops.out_of_window,
        stats.challenge_acks,
        stats.challenge_acks_suppressed,
        stats.resets_received
    );
    assert!(injected >= 300_000, "seed {seed:#x}");
    assert!(
        stats.drops.out_of_window >= 100_000,
        "seed {seed:#x}: {stats:?}"
    );
    assert!(
        written >= 1_000_000,
        "seed {seed:#x}: {written} bytes written"
    );
    assert_eq!(stats.resets_received, 0, "seed {seed:#x}: {stats:?}");
    assert_eq!(
        bed.sim.nodes[client].engine.state(h),
        Ok(stack::State::Established),
        "seed {seed:#x}"
    );
    assert_eq!(echoed.len(), written, "seed {seed:#x}");
    assert!(
        echoed == data[..written],
        "seed {seed:#x}: the echo differs from what was sent"
    );
    bed.assert_served("during the injection", during);
}
