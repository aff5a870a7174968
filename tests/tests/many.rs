//! 10,000 concurrent connections between two engines, opened, used and
//! closed with every close variant of docs/contract.md. Afterwards (once
//! TIME_WAIT has expired) every connection table, handle table, queue and
//! timer is empty and both buffer pools are back to their initial count.

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::time::Duration;

use integration_tests::rng::seed_from_env;
use integration_tests::{LinkConfig, Sim};
use stack::{CloseOutcome, Error, EventKind, Handle, Shutdown};

const PORT: u16 = 80;
const CONNS: usize = 10_000;

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// Both sides close after the exchange (contract 8b).
    Graceful,
    /// The client half-closes after its request and reads the reply
    /// (contract 10).
    HalfClose,
    /// The client closes with the reply unread: RST (contract 8a).
    UnreadData,
    /// The client lingers 1 s on a peer that stopped reading: RST at 1 s
    /// (contract 9b).
    LingerTimeout,
    /// The client aborts (contract 9c).
    Abort,
    /// The client lingers 30 s and everything is acknowledged in time
    /// (contract 9b).
    LingerGraceful,
}

const VARIANTS: [Variant; 6] = [
    Variant::Graceful,
    Variant::HalfClose,
    Variant::UnreadData,
    Variant::LingerTimeout,
    Variant::Abort,
    Variant::LingerGraceful,
];

#[derive(Debug)]
struct Conn {
    variant: Variant,
    req_len: usize,
    resp_len: usize,
    client: Handle,
    server: Option<Handle>,
    client_got: usize,
    server_got: usize,
    replied: bool,
    client_closed: bool,
    server_closed: bool,
    /// What the test expects to have seen, checked at the end.
    server_saw_reset: bool,
    client_outcome: Option<CloseOutcome>,
}

#[test]
fn ten_thousand_connections_every_close_variant_leave_nothing_behind() {
    let seed = seed_from_env(0x10_000);
    let mut sim = Sim::new(seed);
    let mut client_cfg = Sim::host_config(1);
    client_cfg.tcp.max_backlog = CONNS;
    let mut server_cfg = Sim::host_config(2);
    server_cfg.tcp.max_backlog = CONNS;
    server_cfg.tcp.syn_queue = CONNS;
    // A small receive window makes the linger-timeout peers stall quickly.
    server_cfg.tcp.recv_buffer = 8 * 1024;
    // A client's RST can be lost on the lossy link after the server's data
    // was all acknowledged: then only keepalive finds the half-open
    // connection (the client's closed port answers the probe with RST).
    server_cfg.tcp.keepalive.enabled = true;
    server_cfg.tcp.keepalive.idle = Duration::from_secs(5);
    server_cfg.tcp.keepalive.interval = Duration::from_secs(1);
    let link = LinkConfig::lossy(0.001);
    let c = sim.add_node_with(client_cfg, 128 * 1024, link.clone());
    let s = sim.add_node_with(server_cfg, 64 * 1024, link);
    let pools = [
        (sim.nodes[c].pool.clone(), sim.nodes[c].pool.available()),
        (sim.nodes[s].pool.clone(), sim.nodes[s].pool.available()),
    ];
    let listener = sim.nodes[s].engine.listen(PORT, CONNS).unwrap();
    let server_addr = SocketAddrV4::new(sim.nodes[s].ip, PORT);

    let mut conns = Vec::with_capacity(CONNS);
    let mut by_client = HashMap::new();
    let mut by_port = HashMap::new();
    for i in 0..CONNS {
        let client = sim.nodes[c].engine.connect(server_addr).expect("connect");
        let (local, _) = sim.nodes[c].engine.addresses(client).unwrap();
        assert!(
            by_port.insert(local.port(), i).is_none(),
            "ephemeral port reused"
        );
        by_client.insert(client, i);
        conns.push(Conn {
            variant: VARIANTS[i % VARIANTS.len()],
            req_len: 1 + (i * 7) % 2000,
            resp_len: 1 + (i * 13) % 3000,
            client,
            server: None,
            client_got: 0,
            server_got: 0,
            replied: false,
            client_closed: false,
            server_closed: false,
            server_saw_reset: false,
            client_outcome: None,
        });
    }
    let mut by_server: HashMap<Handle, usize> = HashMap::new();
    let mut done = 0;
    let finished = sim.run_until(Duration::from_secs(600), |sim| {
        for ev in sim.events(c) {
            let Some(&i) = by_client.get(&ev.handle) else {
                continue;
            };
            client_event(sim, c, &mut conns[i], ev.kind, &mut done);
            if let (EventKind::Closed { .. }, Some(h)) = (ev.kind, conns[i].server) {
                // The client's RST may be lost on the link, leaving the
                // server half-open. A server that sends something learns
                // of the reset from the RST the closed port answers with.
                let _ = sim.nodes[s].engine.write(h, b"?");
            }
        }
        for ev in sim.events(s) {
            if ev.handle == listener {
                while let Ok((h, _)) = sim.nodes[s].engine.accept(listener) {
                    let (_, remote) = sim.nodes[s].engine.addresses(h).unwrap();
                    let i = by_port[&remote.port()];
                    conns[i].server = Some(h);
                    by_server.insert(h, i);
                    server_ready(sim, s, &mut conns[i], &mut done);
                }
                continue;
            }
            let Some(&i) = by_server.get(&ev.handle) else {
                continue;
            };
            server_ready(sim, s, &mut conns[i], &mut done);
        }
        done == 2 * CONNS
    });
    assert!(
        finished,
        "seed {seed:#x}: {done} of {} closes done; stuck: {:?}",
        2 * CONNS,
        conns.iter().find(|x| !(x.client_closed && x.server_closed))
    );
    for x in &conns {
        match x.variant {
            Variant::UnreadData | Variant::Abort | Variant::LingerTimeout => {
                assert!(x.server_saw_reset, "seed {seed:#x}: {x:?}")
            }
            _ => assert!(!x.server_saw_reset, "seed {seed:#x}: {x:?}"),
        }
        let want = match x.variant {
            Variant::LingerTimeout => Some(CloseOutcome::Aborted),
            Variant::LingerGraceful => Some(CloseOutcome::Graceful),
            _ => None,
        };
        assert_eq!(x.client_outcome, want, "seed {seed:#x}: {x:?}");
    }
    sim.nodes[s].engine.close(listener).unwrap();
    // TIME_WAIT (60 s) and FIN_WAIT_2 timeouts run out.
    sim.run_for(Duration::from_secs(130));
    for (i, node) in sim.nodes.iter().enumerate() {
        let e = &node.engine;
        assert_eq!(
            e.connection_count(),
            0,
            "seed {seed:#x}: node {i} states {:?}",
            e.state_counts()
        );
        assert_eq!(e.flow_count(), 0, "seed {seed:#x}: node {i}");
        assert_eq!(e.handle_count(), 0, "seed {seed:#x}: node {i}");
        assert_eq!(e.timer_count(), 0, "seed {seed:#x}: node {i}");
        assert!(e.is_idle(), "seed {seed:#x}: node {i}");
    }
    drop(conns);
    for (i, (pool, initial)) in pools.iter().enumerate() {
        assert_eq!(
            pool.available(),
            *initial,
            "seed {seed:#x}: pool of node {i}"
        );
    }
    let cs = sim.nodes[c].engine.stats();
    let ss = sim.nodes[s].engine.stats();
    println!(
        "client: {cs:?}\nserver: {ss:?}\nlinks: {:?}",
        sim.link_stats
    );
}

fn client_event(sim: &mut Sim, c: usize, x: &mut Conn, kind: EventKind, done: &mut usize) {
    let e = &mut sim.nodes[c].engine;
    match kind {
        EventKind::Closed { outcome } => {
            x.client_outcome = Some(outcome);
            return;
        }
        EventKind::Connected => {
            let req = vec![b'q'; x.req_len];
            assert_eq!(e.write(x.client, &req), Ok(x.req_len));
            match x.variant {
                Variant::HalfClose => e.shutdown(x.client, Shutdown::Write).unwrap(),
                Variant::LingerTimeout => {
                    // More than the server's 8 KiB window can take.
                    let bulk = vec![b'b'; 32 * 1024];
                    assert_eq!(e.write(x.client, &bulk), Ok(bulk.len()));
                    e.set_linger(x.client, Some(Duration::from_secs(1)))
                        .unwrap();
                    e.close(x.client).unwrap();
                    x.client_closed = true;
                    *done += 1;
                }
                Variant::LingerGraceful => e
                    .set_linger(x.client, Some(Duration::from_secs(30)))
                    .unwrap(),
                _ => {}
            }
            return;
        }
        _ => {}
    }
    if x.client_closed {
        return;
    }
    match x.variant {
        Variant::UnreadData => {
            // contract 8a: close with the whole reply unread.
            let r = e.readiness(x.client).unwrap();
            if r.readable_bytes == x.resp_len {
                e.close(x.client).unwrap();
                x.client_closed = true;
                *done += 1;
            }
        }
        Variant::Abort => {
            if e.readiness(x.client).unwrap().readable_bytes > 0 {
                e.abort(x.client).unwrap();
                x.client_closed = true;
                *done += 1;
            }
        }
        _ => {
            let (data, end) = sim.read_all(c, x.client);
            x.client_got += data.len();
            let complete = match x.variant {
                Variant::HalfClose => end == Ok(0),
                _ => x.client_got == x.resp_len,
            };
            if complete {
                assert_eq!(x.client_got, x.resp_len, "{x:?}");
                sim.nodes[c].engine.close(x.client).unwrap();
                x.client_closed = true;
                *done += 1;
            }
        }
    }
}

fn server_ready(sim: &mut Sim, s: usize, x: &mut Conn, done: &mut usize) {
    let Some(h) = x.server else { return };
    if x.server_closed {
        return;
    }
    if x.variant == Variant::LingerTimeout {
        // This peer never reads; it only notices the reset.
        if let Some(err) = sim.nodes[s].engine.readiness(h).unwrap().error {
            assert_eq!(err, Error::ConnectionReset);
            x.server_saw_reset = true;
            sim.nodes[s].engine.close(h).unwrap();
            x.server_closed = true;
            *done += 1;
        }
        return;
    }
    let (data, end) = sim.read_all(s, h);
    x.server_got += data.len();
    let e = &mut sim.nodes[s].engine;
    let request_done = match x.variant {
        Variant::HalfClose => end == Ok(0),
        _ => x.server_got == x.req_len,
    };
    if request_done && !x.replied {
        x.replied = true;
        let resp = vec![b'r'; x.resp_len];
        assert_eq!(e.write(h, &resp), Ok(x.resp_len));
    }
    let finished = match end {
        Err(Error::ConnectionReset) => {
            x.server_saw_reset = true;
            true
        }
        Ok(0) => x.variant != Variant::HalfClose || x.replied,
        _ => false,
    };
    if finished {
        e.close(h).unwrap();
        x.server_closed = true;
        *done += 1;
    }
}
