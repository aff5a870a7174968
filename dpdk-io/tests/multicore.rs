//! Two engines on two lcores (software steering over a net_ring pair: no
//! RSS) against one peer engine: 200 active connections from the two-core
//! side to the peer's echo server and 40 from the peer to the two-core
//! side's listeners all echo intact, and every connection lives on the
//! core its 4-tuple hashes to; then the same at MTU 9000 with frames of
//! several segments cut by the loops (messages of 40,000 bytes, so the
//! data goes in jumbo frames through the steering). One EAL per process:
//! one test.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as Wall};

use dpdk_io::{
    create_ring_pair, App, Eal, EalArgs, MbufPool, Runtime, RuntimeConfig, SteeringMode, Worker,
};
use stack::wire::{EthernetAddress, Ipv4Cidr};
use stack::{Engine, EventKind, Handle, Instant, StaticNeighbor};

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);
const A_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 9, 1]);
const B_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 9, 2]);
const PEER_ECHO: u16 = 7;
const MC_ECHO: u16 = 7000;

/// One run of the two-core side against the peer.
struct Case {
    /// Ring and pool names start with this.
    name: &'static str,
    mtu: u16,
    /// Connections each core opens to the peer.
    per_core: usize,
    /// Connections the peer opens to the two-core side.
    passive: usize,
    /// Bytes each connection sends and expects back.
    msg_len: usize,
    /// `engine.offload.tx_segmentation` on every engine.
    segmentation: bool,
}

const CASES: [Case; 2] = [
    Case {
        name: "mc",
        mtu: 1500,
        per_core: 100,
        passive: 40,
        msg_len: 300,
        segmentation: false,
    },
    Case {
        name: "mcj",
        mtu: 9000,
        per_core: 20,
        passive: 10,
        msg_len: 40_000,
        segmentation: true,
    },
];

fn config(case: &Case, me: Ipv4Addr, mac: EthernetAddress) -> RuntimeConfig {
    let mut cfg = RuntimeConfig::default();
    cfg.engine.mtu = case.mtu;
    cfg.engine.offload.tx_segmentation = case.segmentation;
    cfg.eal.lcores = "0-1".into();
    cfg.port.use_port_mac = false;
    cfg.port.link_timeout_ms = 1000;
    cfg.engine.mac = mac;
    cfg.engine.address = Ipv4Cidr::new(me, 24).unwrap();
    cfg.engine.tcp.max_backlog = 512;
    cfg
}

fn message(tag: &str, len: usize) -> Vec<u8> {
    tag.bytes().cycle().take(len).collect()
}

/// Echoes whatever arrives on accepted connections; closes after the
/// peer's FIN once everything is echoed.
#[derive(Default)]
struct EchoConns {
    pending: HashMap<Handle, Vec<u8>>,
    peer_closed: HashSet<Handle>,
}

impl EchoConns {
    fn accept_all(
        &mut self,
        engine: &mut Engine<MbufPool>,
        l: Handle,
    ) -> Vec<(Handle, SocketAddrV4)> {
        let mut out = Vec::new();
        while let Ok((h, remote)) = engine.accept(l) {
            self.pending.insert(h, Vec::new());
            out.push((h, remote));
        }
        out
    }

    /// Handles an event for one of our connections; false if not ours.
    fn on_event(&mut self, engine: &mut Engine<MbufPool>, h: Handle, kind: EventKind) -> bool {
        let Some(buf) = self.pending.get_mut(&h) else {
            return false;
        };
        match kind {
            EventKind::Readable => {
                let mut tmp = [0u8; 2048];
                loop {
                    match engine.read(h, &mut tmp) {
                        Ok(0) => {
                            self.peer_closed.insert(h);
                            break;
                        }
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                        Err(_) => break,
                    }
                }
            }
            EventKind::PeerClosed => {
                self.peer_closed.insert(h);
            }
            EventKind::Closed { .. } => {
                self.pending.remove(&h);
                return true;
            }
            _ => {}
        }
        let buf = self.pending.get_mut(&h).expect("still there");
        if !buf.is_empty() {
            if let Ok(n) = engine.write(h, buf) {
                buf.drain(..n);
            }
        }
        if buf.is_empty() && self.peer_closed.remove(&h) {
            engine.close(h).unwrap();
            self.pending.remove(&h);
        }
        true
    }
}

/// Opens `total` connections to `server`, at most 32 at a time, sends a
/// message on each, checks the echo and closes.
struct Clients {
    tag: String,
    server: SocketAddrV4,
    total: usize,
    msg_len: usize,
    opened: usize,
    live: HashMap<Handle, (Vec<u8>, Vec<u8>)>,
    done: Vec<(SocketAddrV4, SocketAddrV4)>,
    errors: Vec<String>,
}

impl Clients {
    fn new(tag: String, server: SocketAddrV4, total: usize, msg_len: usize) -> Clients {
        Clients {
            tag,
            server,
            total,
            msg_len,
            opened: 0,
            live: HashMap::new(),
            done: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn open_more(&mut self, engine: &mut Engine<MbufPool>) {
        while self.opened < self.total && self.live.len() < 32 {
            match engine.connect(self.server) {
                Ok(h) => {
                    let msg = message(
                        &format!("{} conn {} |", self.tag, self.opened),
                        self.msg_len,
                    );
                    self.live.insert(h, (msg, Vec::new()));
                }
                Err(e) => self.errors.push(format!("connect: {e:?}")),
            }
            self.opened += 1;
        }
    }

    fn on_event(&mut self, engine: &mut Engine<MbufPool>, h: Handle, kind: EventKind) -> bool {
        let Some((msg, got)) = self.live.get_mut(&h) else {
            return false;
        };
        match kind {
            EventKind::Connected => {
                assert_eq!(engine.write(h, msg), Ok(msg.len()));
            }
            EventKind::Readable => {
                let mut tmp = [0u8; 2048];
                while let Ok(n) = engine.read(h, &mut tmp) {
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&tmp[..n]);
                }
                if got.len() >= msg.len() {
                    if got != msg {
                        self.errors.push(format!("echo mismatch on {h:?}"));
                    }
                    let tuple = engine.addresses(h).unwrap();
                    self.done.push(tuple);
                    engine.close(h).unwrap();
                    self.live.remove(&h);
                }
            }
            EventKind::Reset { cause } => {
                self.errors.push(format!("reset {cause:?}"));
                let _ = engine.close(h);
                self.live.remove(&h);
            }
            _ => {}
        }
        true
    }

    fn finished(&self) -> bool {
        self.opened == self.total && self.live.is_empty()
    }
}

/// What one core of the two-core side did.
#[derive(Debug, Default, Clone)]
struct CoreLog {
    active: Vec<(SocketAddrV4, SocketAddrV4)>,
    passive: Vec<(SocketAddrV4, SocketAddrV4)>,
    errors: Vec<String>,
}

/// A core of the two-core side: clients to the peer, and an echo server.
struct CoreApp {
    clients: Clients,
    echo: EchoConns,
    listener: Option<Handle>,
    log: Arc<Mutex<CoreLog>>,
    passive: Vec<(SocketAddrV4, SocketAddrV4)>,
}

impl App for CoreApp {
    fn start(&mut self, engine: &mut Engine<MbufPool>) -> Result<(), dpdk_io::AppError> {
        self.listener = Some(engine.listen(MC_ECHO, 256).map_err(|e| e.to_string())?);
        Ok(())
    }

    fn poll(&mut self, engine: &mut Engine<MbufPool>, _now: Instant) {
        self.clients.open_more(engine);
        while let Some(ev) = engine.poll_event() {
            if Some(ev.handle) == self.listener {
                let l = ev.handle;
                for (h, remote) in self.echo.accept_all(engine, l) {
                    assert_eq!(engine.addresses(h).unwrap().1, remote);
                    self.passive.push((engine.addresses(h).unwrap().0, remote));
                }
                continue;
            }
            if !self.clients.on_event(engine, ev.handle, ev.kind) {
                self.echo.on_event(engine, ev.handle, ev.kind);
            }
        }
        // Publish (once per change) for the test thread; not the hot path
        // of a real application.
        let mut log = self.log.lock().unwrap();
        if log.active.len() != self.clients.done.len() || log.passive.len() != self.passive.len() {
            log.active = self.clients.done.clone();
            log.passive = self.passive.clone();
            log.errors = self.clients.errors.clone();
        }
    }

    fn finished(&self) -> bool {
        self.clients.finished()
    }
}

/// The peer: an echo server, and clients to the two-core side.
struct PeerApp {
    clients: Clients,
    echo: EchoConns,
    listener: Option<Handle>,
    accepted: usize,
}

impl App for PeerApp {
    fn start(&mut self, engine: &mut Engine<MbufPool>) -> Result<(), dpdk_io::AppError> {
        self.listener = Some(engine.listen(PEER_ECHO, 512).map_err(|e| e.to_string())?);
        Ok(())
    }

    fn poll(&mut self, engine: &mut Engine<MbufPool>, _now: Instant) {
        self.clients.open_more(engine);
        while let Some(ev) = engine.poll_event() {
            if Some(ev.handle) == self.listener {
                let l = ev.handle;
                self.accepted += self.echo.accept_all(engine, l).len();
                continue;
            }
            if !self.clients.on_event(engine, ev.handle, ev.kind) {
                self.echo.on_event(engine, ev.handle, ev.kind);
            }
        }
    }

    fn finished(&self) -> bool {
        self.clients.finished()
    }
}

#[test]
fn two_cores_software_steering() {
    let args = EalArgs::ci(768).lcores("0-1").log_level("notice").build();
    let eal = Eal::init(&args).expect("EAL");
    assert_eq!(eal.lcore_count(), 2);
    for case in &CASES {
        run_case(case);
    }
}

fn run_case(case: &Case) {
    let t0 = Wall::now();
    let (per_core, passive) = (case.per_core, case.passive);
    let ring = |side: &str| format!("{}_{side}", case.name);
    let (pa, pb) = create_ring_pair(&ring("a"), &ring("b")).expect("ring pair");
    let room = if case.mtu > 1500 { 9216 + 128 } else { 2176 };
    let pool_a = MbufPool::with_indirect(&ring("pool_a"), 16383, 8191, 256, room).unwrap();
    let pool_b = MbufPool::with_indirect(&ring("pool_b"), 16383, 8191, 256, room).unwrap();

    // The peer knows us statically; the two-core side learns the peer's
    // MAC by ARP (so ARP replies must reach both cores).
    let mut cfg_b = config(case, B_IP, B_MAC);
    cfg_b.engine.neighbors = vec![StaticNeighbor {
        ip: A_IP,
        mac: A_MAC,
    }];
    let cfg_a = config(case, A_IP, A_MAC);

    let logs: Vec<Arc<Mutex<CoreLog>>> = (0..2).map(|_| Default::default()).collect();
    let apps: Vec<Box<dyn App + Send>> = (0..2)
        .map(|core| {
            Box::new(CoreApp {
                clients: Clients::new(
                    format!("core{core}"),
                    SocketAddrV4::new(B_IP, PEER_ECHO),
                    per_core,
                    case.msg_len,
                ),
                echo: EchoConns::default(),
                listener: None,
                log: logs[core].clone(),
                passive: Vec::new(),
            }) as Box<dyn App + Send>
        })
        .collect();
    let rt = Runtime::start(&cfg_a, pa, pool_a.clone(), apps).expect("runtime");
    assert_eq!(rt.mode(), SteeringMode::Software, "net_ring has no RSS");
    assert_eq!(rt.cores(), 2);

    let mut peer = Worker::open(&cfg_b, pb, pool_b.clone()).expect("peer");
    let mut peer_app = PeerApp {
        clients: Clients::new(
            "peer".into(),
            SocketAddrV4::new(A_IP, MC_ECHO),
            passive,
            case.msg_len,
        ),
        echo: EchoConns::default(),
        listener: None,
        accepted: 0,
    };
    peer_app.start(&mut peer.engine).unwrap();
    let start = Wall::now();
    while !(rt.all_finished() && peer_app.finished()) {
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "not finished: logs {:?}\npeer accepted {} done {} errors {:?}\nsteer {:?}\npeer {:?}",
            logs.iter()
                .map(|l| {
                    let l = l.lock().unwrap();
                    (l.active.len(), l.passive.len(), l.errors.clone())
                })
                .collect::<Vec<_>>(),
            peer_app.accepted,
            peer_app.clients.done.len(),
            peer_app.clients.errors,
            rt.steer_counts(),
            peer.engine.stats(),
        );
        if peer.iterate(&mut peer_app) == 0 {
            std::thread::yield_now();
        }
    }
    let elapsed = start.elapsed();
    // Let the last FINs and ACKs cross.
    let settle = Wall::now();
    while settle.elapsed() < Duration::from_millis(300) {
        if peer.iterate(&mut peer_app) == 0 {
            std::thread::yield_now();
        }
    }
    let owner_rule = rt.steering().clone();
    let reports = rt.join().expect("cores");

    assert_eq!(peer_app.clients.errors, Vec::<String>::new());
    assert_eq!(peer_app.clients.done.len(), passive);
    assert_eq!(peer_app.accepted, 2 * per_core);
    let mut passive_total = 0;
    let mut all_ports = HashSet::new();
    for (core, r) in reports.iter().enumerate() {
        let log = logs[core].lock().unwrap().clone();
        assert_eq!(log.errors, Vec::<String>::new(), "core {core}");
        assert_eq!(log.active.len(), per_core, "core {core} active");
        for &(local, remote) in &log.active {
            assert_eq!(local.ip(), &A_IP);
            assert_eq!(remote, SocketAddrV4::new(B_IP, PEER_ECHO));
            assert_eq!(
                owner_rule.owner_of_connection(local, remote),
                core,
                "active {local} -> {remote} opened on core {core}"
            );
            assert!(
                all_ports.insert(local.port()),
                "port {} used twice",
                local.port()
            );
        }
        for &(local, remote) in &log.passive {
            assert_eq!(local, SocketAddrV4::new(A_IP, MC_ECHO));
            assert_eq!(
                owner_rule.owner_of_connection(local, remote),
                core,
                "passive {remote} -> {local} accepted on core {core}"
            );
        }
        passive_total += log.passive.len();
        assert_eq!(r.core, core);
        assert_eq!(r.engine.active_opens, per_core as u64, "core {core}");
        assert_eq!(
            r.engine.passive_opens,
            log.passive.len() as u64,
            "core {core}"
        );
        // A frame reaching a core that does not own its connection would
        // be answered with RST (no connection): none was.
        assert_eq!(r.engine.resets_sent.no_connection, 0, "core {core}");
        assert_eq!(r.engine.resets_received, 0, "core {core}");
        assert_eq!(r.steer.dropped, 0, "core {core}");
        assert_ne!(r.lcore_id, u32::MAX, "core {core} registered with the EAL");
        assert!(r.pinned, "core {core} pinned");
        println!(
            "core {core}: lcore {} (EAL lcore {}), {} active + {} passive, steer {:?}, loop {:?}",
            r.lcore_id,
            r.eal_lcore,
            log.active.len(),
            log.passive.len(),
            r.steer,
            r.loop_stats
        );
    }
    assert_eq!(passive_total, passive);
    // Software steering: core 0 polls the device and forwards core 1's
    // frames; core 1 sends through core 0.
    let (s0, s1) = (&reports[0].steer, &reports[1].steer);
    assert_eq!(s1.device_rx, 0);
    assert!(s0.forwarded > 0 && s0.forwarded == s1.received_forwarded);
    assert!(s1.tx_forwarded > 0 && s1.tx_forwarded == s0.tx_for_others);
    assert_eq!(s0.tx_forwarded, 0);
    if case.segmentation {
        // Both sides cut frames of several segments, and the data crossed
        // in jumbo frames (net_ring passes the sender's chains on, so the
        // receiver copies each into one mbuf and counts it).
        for (core, r) in reports.iter().enumerate() {
            let l = &r.loop_stats;
            assert!(l.tx_cut_frames > 0, "core {core} cut nothing: {l:?}");
            assert_eq!(
                l.tx_cut_failed + l.rx_too_long + l.rx_no_buffer,
                0,
                "core {core}"
            );
        }
        let l = &peer.stats;
        assert!(l.tx_cut_frames > 0, "the peer cut nothing: {l:?}");
        let (frames, bytes) = (l.rx_linearized, l.rx_linearized_bytes);
        assert!(
            frames > 0 && bytes / frames > 1514,
            "{frames} frames of {bytes} bytes reached the peer"
        );
        assert_eq!(l.tx_cut_failed + l.rx_too_long + l.rx_no_buffer, 0);
    }
    println!(
        "{} + {passive} connections in {elapsed:?}; test {:?}",
        2 * per_core,
        t0.elapsed()
    );
    drop(reports);
    drop(peer);
}
