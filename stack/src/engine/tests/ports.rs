//! Ephemeral ports under a port selector (contract 16 on a multi-core
//! engine): only accepted ports are chosen, still randomised, and
//! `AddrNotAvailable` when none is left.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;
use crate::Error;

fn peer_service() -> SocketAddrV4 {
    SocketAddrV4::new(PEER_IP, PEER_SERVICE)
}

#[test]
fn connect_uses_only_ports_the_selector_accepts() {
    let mut t = Harness::with_config(|c| {
        c.tcp.ephemeral_first = 50_000;
        c.tcp.ephemeral_last = 50_199;
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    t.engine
        .set_port_selector(Some(Box::new(move |local, remote| {
            seen.fetch_add(1, Ordering::Relaxed);
            assert_eq!(*local.ip(), LOCAL_IP);
            assert_eq!(remote, peer_service());
            local.port() % 2 == 0
        })));
    let mut ports = Vec::new();
    for _ in 0..100 {
        let h = t.engine.connect(peer_service()).unwrap();
        let (local, remote) = t.engine.addresses(h).unwrap();
        assert_eq!(remote, peer_service());
        assert_eq!(local.port() % 2, 0, "odd port {}", local.port());
        assert!((50_000..=50_199).contains(&local.port()));
        ports.push(local.port());
    }
    assert!(calls.load(Ordering::Relaxed) >= 100);
    // All 100 even ports of the range are in use, each once.
    let distinct: HashSet<u16> = ports.iter().copied().collect();
    assert_eq!(distinct.len(), 100);
    // Randomised: not simply ascending from the start of the range.
    assert!(ports.windows(2).any(|w| w[1] != w[0] + 2) || ports[0] != 50_000);
    assert_eq!(
        t.engine.connect(peer_service()),
        Err(Error::AddrNotAvailable)
    );
    // Another destination has the whole even half again.
    let other = SocketAddrV4::new(PEER_IP, PEER_SERVICE + 1);
    t.engine
        .set_port_selector(Some(Box::new(|l, _| l.port() % 2 == 0)));
    let h = t.engine.connect(other).unwrap();
    assert_eq!(t.engine.addresses(h).unwrap().0.port() % 2, 0);
}

#[test]
fn selector_choice_depends_on_the_secret() {
    let first = |secret: u8| {
        let mut cfg = EngineConfig {
            mac: LOCAL_MAC,
            address: Ipv4Cidr::new(LOCAL_IP, 24).unwrap(),
            ..EngineConfig::default()
        };
        cfg.neighbors = vec![StaticNeighbor {
            ip: PEER_IP,
            mac: PEER_MAC,
        }];
        let pool = HeapPool::new(64, 2048, 128);
        let mut e = Engine::new(cfg, pool, [secret; 16], Instant::ZERO).unwrap();
        e.set_port_selector(Some(Box::new(|l, _| l.port() % 2 == 0)));
        let h = e.connect(peer_service()).unwrap();
        e.addresses(h).unwrap().0.port()
    };
    let ports: HashSet<u16> = (1..=8).map(first).collect();
    assert!(ports.iter().all(|p| p % 2 == 0));
    assert!(
        ports.len() > 1,
        "the start depends on the secret: {ports:?}"
    );
}

#[test]
fn selector_refusing_everything_gives_addr_not_available() {
    let mut t = Harness::new();
    t.engine.set_port_selector(Some(Box::new(|_, _| false)));
    assert_eq!(
        t.engine.connect(peer_service()),
        Err(Error::AddrNotAvailable)
    );
    assert_eq!(t.engine.connection_count(), 0);
    t.recv_nothing();
    // Removing the selector restores the whole range.
    t.engine.set_port_selector(None);
    assert!(t.engine.connect(peer_service()).is_ok());
}

#[test]
fn connect_from_respects_the_selector() {
    let mut t = Harness::new();
    t.engine
        .set_port_selector(Some(Box::new(|l, _| l.port() == 50_002)));
    assert_eq!(
        t.engine.connect_from(50_001, peer_service()),
        Err(Error::AddrNotAvailable)
    );
    let h = t.engine.connect_from(50_002, peer_service()).unwrap();
    assert_eq!(t.engine.addresses(h).unwrap().0.port(), 50_002);
    // The only accepted port is taken towards this peer.
    assert_eq!(
        t.engine.connect_from(50_002, peer_service()),
        Err(Error::AddrInUse)
    );
    assert_eq!(
        t.engine.connect(peer_service()),
        Err(Error::AddrNotAvailable)
    );
    // The SYN leaves from the chosen port.
    assert_eq!(t.recv_seg().sport, 50_002);
}
