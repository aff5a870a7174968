//! An application thread drives a client through `RemoteEngine` (commands
//! over lock-free queues to the engine's loop) against an echo server
//! engine, over a net_ring pair: data intact, errors as the contract says.
//! One EAL per process: one test.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant as Wall};

use dpdk_io::{
    create_ring_pair, iterate_pair, remote_pair, App, Eal, EalArgs, MbufPool, RemoteEngine,
    RemoteError, RuntimeConfig, Worker,
};
use stack::wire::{EthernetAddress, Ipv4Cidr};
use stack::{Engine, Error, EventKind, Handle, Instant, Shutdown, State, StaticNeighbor};

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 11, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 11, 0, 2);
const ECHO: u16 = 7;
const BYTES: usize = 200_000;

fn config(n: u8) -> RuntimeConfig {
    let (me, peer) = if n == 1 { (A_IP, B_IP) } else { (B_IP, A_IP) };
    let mut cfg = RuntimeConfig::default();
    cfg.port.use_port_mac = false;
    cfg.port.link_timeout_ms = 1000;
    cfg.engine.mac = EthernetAddress([2, 0, 0, 0, 11, n]);
    cfg.engine.address = Ipv4Cidr::new(me, 24).unwrap();
    cfg.engine.neighbors = vec![StaticNeighbor {
        ip: peer,
        mac: EthernetAddress([2, 0, 0, 0, 11, 3 - n]),
    }];
    cfg
}

/// Echo server: echoes everything, closes after the peer's FIN once all
/// is echoed.
#[derive(Default)]
struct EchoServer {
    listener: Option<Handle>,
    conns: HashMap<Handle, (Vec<u8>, bool)>,
}

impl App for EchoServer {
    fn start(&mut self, engine: &mut Engine<MbufPool>) -> Result<(), dpdk_io::AppError> {
        self.listener = Some(engine.listen(ECHO, 16).map_err(|e| e.to_string())?);
        Ok(())
    }

    fn poll(&mut self, engine: &mut Engine<MbufPool>, _now: Instant) {
        while let Some(ev) = engine.poll_event() {
            if Some(ev.handle) == self.listener {
                while let Ok((h, _)) = engine.accept(ev.handle) {
                    self.conns.insert(h, (Vec::new(), false));
                }
                continue;
            }
            let h = ev.handle;
            let Some((pending, fin)) = self.conns.get_mut(&h) else {
                continue;
            };
            match ev.kind {
                EventKind::Closed { .. } => {
                    self.conns.remove(&h);
                    continue;
                }
                EventKind::Reset { .. } => {
                    engine.close(h).unwrap();
                    self.conns.remove(&h);
                    continue;
                }
                EventKind::Readable | EventKind::PeerClosed => {
                    let mut tmp = [0u8; 4096];
                    loop {
                        match engine.read(h, &mut tmp) {
                            Ok(0) => {
                                *fin = true;
                                break;
                            }
                            Ok(n) => pending.extend_from_slice(&tmp[..n]),
                            Err(_) => break,
                        }
                    }
                }
                _ => {}
            }
            if !pending.is_empty() {
                if let Ok(n) = engine.write(h, pending) {
                    pending.drain(..n);
                }
            }
            if pending.is_empty() && *fin {
                engine.close(h).unwrap();
                self.conns.remove(&h);
            }
        }
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Waits (bounded) for an event of `kind` on `h`, ignoring others.
fn wait_for(r: &RemoteEngine, h: Handle, want: fn(&EventKind) -> bool) {
    let end = Wall::now() + Duration::from_secs(10);
    while Wall::now() < end {
        if let Some(ev) = r.wait_event(Duration::from_millis(50)) {
            if ev.handle == h && want(&ev.kind) {
                return;
            }
        }
    }
    panic!("no such event on {h:?}");
}

/// The application thread's client; returns what it read back.
fn client(r: RemoteEngine) -> Vec<u8> {
    let server = SocketAddrV4::new(B_IP, ECHO);
    // Contract errors cross the queues unchanged.
    assert_eq!(
        r.connect(SocketAddrV4::new(B_IP, 0)),
        Err(RemoteError::Stack(Error::InvalidInput))
    );
    let l = r.listen(9000, 4).unwrap();
    assert_eq!(r.listen(9000, 4), Err(RemoteError::Stack(Error::AddrInUse)));
    assert_eq!(r.accept(l), Err(RemoteError::Stack(Error::WouldBlock)));
    r.close(l).unwrap();
    assert_eq!(r.accept(l), Err(RemoteError::Stack(Error::InvalidHandle)));

    let h = r.connect(server).unwrap();
    // The engine thread may finish the handshake before we ask.
    assert!(matches!(
        r.state(h),
        Ok(State::SynSent | State::Established)
    ));
    wait_for(&r, h, |k| *k == EventKind::Connected);
    assert_eq!(r.state(h), Ok(State::Established));
    let (local, remote) = r.addresses(h).unwrap();
    assert_eq!((*local.ip(), remote), (A_IP, server));
    r.set_nodelay(h, true).unwrap();
    r.set_linger(h, Some(Duration::from_secs(2))).unwrap();
    assert_eq!(r.read(h, 100), Err(RemoteError::Stack(Error::WouldBlock)));

    let data = pattern(BYTES);
    let mut sent = 0;
    let mut got = Vec::with_capacity(BYTES);
    let end = Wall::now() + Duration::from_secs(20);
    while sent < data.len() || got.len() < data.len() {
        assert!(
            Wall::now() < end,
            "transfer stuck: sent {sent} got {}",
            got.len()
        );
        let mut progress = false;
        if sent < data.len() {
            match r.write(h, &data[sent..(sent + 16_384).min(data.len())]) {
                Ok(n) => {
                    sent += n;
                    progress |= n > 0;
                }
                Err(RemoteError::Stack(Error::WouldBlock)) => {}
                Err(e) => panic!("write: {e}"),
            }
        }
        match r.read(h, 65_536) {
            Ok(bytes) => {
                assert!(!bytes.is_empty(), "no end of stream before our FIN");
                got.extend_from_slice(&bytes);
                progress = true;
            }
            Err(RemoteError::Stack(Error::WouldBlock)) => {}
            Err(e) => panic!("read: {e}"),
        }
        if !progress {
            let _ = r.wait_event(Duration::from_millis(1));
        }
    }
    // Half-close: writing is over (contract 3), reading goes on until the
    // server's FIN.
    r.shutdown(h, Shutdown::Write).unwrap();
    assert_eq!(
        r.write(h, b"late"),
        Err(RemoteError::Stack(Error::BrokenPipe))
    );
    let end = Wall::now() + Duration::from_secs(10);
    loop {
        assert!(Wall::now() < end, "no end of stream");
        match r.read(h, 4096) {
            Ok(bytes) if bytes.is_empty() => break,
            Ok(bytes) => panic!("{} unexpected bytes", bytes.len()),
            Err(RemoteError::Stack(Error::WouldBlock)) => {
                let _ = r.wait_event(Duration::from_millis(5));
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    assert!(r.readiness(h).unwrap().peer_closed);
    r.close(h).unwrap();
    assert_eq!(r.state(h), Err(RemoteError::Stack(Error::InvalidHandle)));
    assert_eq!(r.close(h), Err(RemoteError::Stack(Error::InvalidHandle)));

    // A second connection, aborted: RST, the handle is gone.
    let h2 = r.connect(server).unwrap();
    wait_for(&r, h2, |k| *k == EventKind::Connected);
    r.abort(h2).unwrap();
    assert_eq!(
        r.write(h2, b"x"),
        Err(RemoteError::Stack(Error::InvalidHandle))
    );
    got
}

#[test]
fn remote_engine_over_net_ring() {
    let t0 = Wall::now();
    let args = EalArgs::ci(256).lcores("0").log_level("notice").build();
    let _eal = Eal::init(&args).expect("EAL");
    let (pa, pb) = create_ring_pair("re_a", "re_b").expect("ring pair");
    let pool_a = MbufPool::new("re_pool_a", 8191, 256, 2176).unwrap();
    let pool_b = MbufPool::new("re_pool_b", 8191, 256, 2176).unwrap();
    let mut a = Worker::open(&config(1), pa, pool_a.clone()).expect("worker a");
    let mut b = Worker::open(&config(2), pb, pool_b.clone()).expect("worker b");

    let (mut remote_app, handle) = remote_pair(Duration::from_secs(5));
    let spare = handle.clone();
    let mut server = EchoServer::default();
    remote_app.start(&mut a.engine).unwrap();
    server.start(&mut b.engine).unwrap();
    let app_thread = std::thread::spawn(move || client(handle));
    let start = Wall::now();
    while !app_thread.is_finished() {
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "client thread stuck"
        );
        if iterate_pair((&mut a, &mut remote_app), (&mut b, &mut server)) == 0 {
            std::thread::yield_now();
        }
    }
    let got = app_thread.join().expect("client thread");
    assert_eq!(got.len(), BYTES);
    assert!(got == pattern(BYTES), "echoed data differs");
    // Let the RST of the aborted connection and the last ACKs cross.
    for _ in 0..2000 {
        iterate_pair((&mut a, &mut remote_app), (&mut b, &mut server));
    }
    // A call that gives up while the engine thread is busy: its answer
    // comes late and is thrown away, never taken for the next call's.
    let (paused_tx, paused_rx) = std::sync::mpsc::channel();
    let late = std::thread::spawn(move || {
        let mut r = spare;
        r.set_timeout(Duration::from_millis(20));
        assert_eq!(r.listen(9100, 4), Err(RemoteError::TimedOut));
        paused_tx.send(()).unwrap();
        // The engine runs again: the listen happens, its answer arrives
        // here late.
        std::thread::sleep(Duration::from_millis(200));
        r.set_timeout(Duration::from_secs(5));
        assert_eq!(
            r.state(Handle::from_raw(u64::MAX)),
            Err(RemoteError::Stack(Error::InvalidHandle)),
            "the answer to this call, not the late one"
        );
        assert_eq!(
            r.listen(9100, 4),
            Err(RemoteError::Stack(Error::AddrInUse)),
            "the late listen did run"
        );
    });
    paused_rx.recv().unwrap();
    while !late.is_finished() {
        iterate_pair((&mut a, &mut remote_app), (&mut b, &mut server));
    }
    late.join()
        .expect("the late answer was taken for another call's");
    assert!(remote_app.executed > 10);
    assert_eq!(a.engine.stats().resets_sent.abort, 1);
    assert_eq!(b.engine.stats().resets_received, 1);
    assert_eq!(
        a.engine.connection_count(),
        1,
        "the graceful one in TIME_WAIT"
    );
    assert_eq!(b.engine.connection_count(), 0);
    println!(
        "remote client: {BYTES} bytes echoed, {} commands, {:?} (test {:?})",
        remote_app.executed,
        start.elapsed(),
        t0.elapsed()
    );
}
