//! Two stack engines in one process over a connected net_ring port pair,
//! driven alternately from one thread: handshake, 256 MiB each way
//! (SHA-256 checked), every close variant, and 1,000 connections; then,
//! on a second pair at MTU 9000, jumbo frames (the MSS in the handshake,
//! 64 MiB each way) and chained frames received (copied into one mbuf, or
//! dropped and counted); and on a third pair, frames of several segments
//! cut in software (the same transfer, every frame on the wire within the
//! MTU with right checksums). The EAL initialises once per process, so
//! everything runs in one test, in order.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant as Wall};

use dpdk_io::apps::{Bulk, BulkRole, Echo};
use dpdk_io::{
    create_ring_pair, iterate_pair, App, Eal, EalArgs, Mbuf, MbufPool, RuntimeConfig, Worker,
};
use stack::wire::{EthernetAddress, Ipv4Cidr};

mod frames;
use frames::{echo_reply_id, syn_mss, End};
use stack::{CloseOutcome, Engine, Error, EventKind, Handle, Instant, Shutdown, StaticNeighbor};

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 2);

fn config(n: u8) -> RuntimeConfig {
    let (me, peer) = if n == 1 { (A_IP, B_IP) } else { (B_IP, A_IP) };
    let mut cfg = RuntimeConfig::default();
    cfg.port.use_port_mac = false;
    cfg.port.link_timeout_ms = 1000;
    cfg.engine.mac = EthernetAddress([2, 0, 0, 0, 7, n]);
    cfg.engine.address = Ipv4Cidr::new(me, 24).unwrap();
    cfg.engine.neighbors = vec![StaticNeighbor {
        ip: peer,
        mac: EthernetAddress([2, 0, 0, 0, 7, 3 - n]),
    }];
    cfg.engine.tcp.max_backlog = 2048;
    cfg
}

fn run_pair(
    a: &mut Worker,
    app_a: &mut dyn App,
    b: &mut Worker,
    app_b: &mut dyn App,
    limit: Duration,
    what: &str,
) {
    app_a.start(&mut a.engine).unwrap();
    app_b.start(&mut b.engine).unwrap();
    drive_pair(a, app_a, b, app_b, limit, what);
}

/// Iterates both workers until both applications are finished (asserting
/// that it takes less than `limit`), and 1,000 times more.
fn drive_pair(
    a: &mut Worker,
    app_a: &mut dyn App,
    b: &mut Worker,
    app_b: &mut dyn App,
    limit: Duration,
    what: &str,
) {
    let start = Wall::now();
    while !(app_a.finished() && app_b.finished()) {
        assert!(
            start.elapsed() < limit,
            "{what}: not finished after {limit:?}\napp a: {:?}\napp b: {:?}\nstates a {:?} b {:?}\nengine a: {:?}\nengine b: {:?}\nloop a: {:?}\nloop b: {:?}\npools: a {} free, b {} free",
            app_a.report(),
            app_b.report(),
            a.engine.state_counts(),
            b.engine.state_counts(),
            a.engine.stats(),
            b.engine.stats(),
            a.stats,
            b.stats,
            a.pool().direct().available(),
            b.pool().direct().available(),
        );
        iterate_pair((a, app_a), (b, app_b));
    }
    // Let the last FINs and ACKs cross.
    for _ in 0..1000 {
        iterate_pair((a, app_a), (b, app_b));
    }
}

/// Does nothing: keeps an engine running while the other side works.
struct Idle;
impl App for Idle {
    fn poll(&mut self, engine: &mut Engine<MbufPool>, _now: Instant) {
        while engine.poll_event().is_some() {}
    }
    fn finished(&self) -> bool {
        true
    }
}

#[test]
fn stack_over_net_ring() {
    let args = EalArgs::ci(512).lcores("0").log_level("notice").build();
    let _eal = Eal::init(&args).expect("EAL");
    let (pa, pb) = create_ring_pair("ring_a", "ring_b").expect("ring pair");
    let pool_a = MbufPool::new("pool_a", 32767, 256, 2176).unwrap();
    let pool_b = MbufPool::new("pool_b", 32767, 256, 2176).unwrap();
    let mut a = Worker::open(&config(1), pa, pool_a.clone()).expect("worker a");
    let mut b = Worker::open(&config(2), pb, pool_b.clone()).expect("worker b");

    bulk_both_ways(&mut a, &mut b);
    close_variants(&mut a, &mut b);
    thousand_connections(&mut a, &mut b);

    println!("a: {:?}\nb: {:?}", a.engine.stats(), b.engine.stats());
    println!("loops: a {:?} b {:?}", a.stats, b.stats);
    drop((a, b, pool_a, pool_b));

    let (mut a, mut b) = jumbo_pair();
    jumbo_handshake(&mut a, &mut b);
    jumbo_bulk(&mut a, &mut b);
    chained_frames_received(&mut a, &mut b);
    println!("jumbo loops: a {:?} b {:?}", a.stats, b.stats);
    drop((a, b));

    segmented_bulk();
}

fn bulk_both_ways(a: &mut Worker, b: &mut Worker) {
    let bytes: u64 = std::env::var("RING_BULK_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
        << 20;
    let secs = transfer_both_ways(a, b, bytes, 1, "bulk");
    println!(
        "{} MiB each way over net_ring in {secs:.2} s wall: {:.2} Gbit/s per direction (both engines on one core)",
        bytes >> 20,
        bytes as f64 * 8.0 / secs / 1e9
    );
}

/// `bytes` each way between a client on A and a server on B (port 5001,
/// payload streams seeded `seed` and `seed + 1`), checked intact by
/// count and SHA-256; returns the wall time it took, in seconds.
fn transfer_both_ways(a: &mut Worker, b: &mut Worker, bytes: u64, seed: u64, what: &str) -> f64 {
    let mut server = Bulk::new(BulkRole::Listen(5001), bytes, seed + 1);
    let mut client = Bulk::new(
        BulkRole::Connect(SocketAddrV4::new(B_IP, 5001)),
        bytes,
        seed,
    );
    let t = Wall::now();
    run_pair(
        a,
        &mut client,
        b,
        &mut server,
        Duration::from_secs(120),
        what,
    );
    let (c, s) = (client.summary(), server.summary());
    assert_eq!((c.error.clone(), s.error.clone()), (None, None));
    assert_eq!(
        (c.sent, c.received, s.sent, s.received),
        (bytes, bytes, bytes, bytes)
    );
    assert_eq!(c.sent_sha256, s.received_sha256, "a->b content");
    assert_eq!(s.sent_sha256, c.received_sha256, "b->a content");
    t.elapsed().as_secs_f64()
}

/// How a client connection ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Variant {
    Graceful,
    HalfClose,
    UnreadData,
    LingerTimeout,
    Abort,
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

/// The client side of the close variants: one connection per variant to a
/// server that answers each request with a reply and never reads on the
/// linger-timeout connection.
struct CloseClient {
    conns: Vec<(Variant, Handle, bool)>,
    got: [usize; 6],
    outcomes: Vec<(Variant, CloseOutcome)>,
    started: bool,
}

impl App for CloseClient {
    fn start(&mut self, engine: &mut Engine<MbufPool>) -> Result<(), dpdk_io::AppError> {
        for v in VARIANTS {
            let port = 6000 + v as u16;
            let h = engine
                .connect(SocketAddrV4::new(B_IP, port))
                .map_err(|e| e.to_string())?;
            self.conns.push((v, h, false));
        }
        self.started = true;
        Ok(())
    }

    fn poll(&mut self, engine: &mut Engine<MbufPool>, _now: Instant) {
        while let Some(ev) = engine.poll_event() {
            let Some(i) = self.conns.iter().position(|c| c.1 == ev.handle) else {
                continue;
            };
            let (v, h, _) = self.conns[i];
            match ev.kind {
                EventKind::Closed { outcome } => self.outcomes.push((v, outcome)),
                EventKind::Connected => {
                    engine.write(h, b"request").unwrap();
                    match v {
                        Variant::HalfClose => engine.shutdown(h, Shutdown::Write).unwrap(),
                        Variant::LingerTimeout => {
                            // More than the server's window takes: it never reads.
                            let big = vec![7u8; 200_000];
                            let _ = engine.write(h, &big);
                            engine
                                .set_linger(h, Some(Duration::from_millis(300)))
                                .unwrap();
                            engine.close(h).unwrap();
                            self.conns[i].2 = true;
                        }
                        Variant::LingerGraceful => {
                            engine.set_linger(h, Some(Duration::from_secs(10))).unwrap()
                        }
                        _ => {}
                    }
                }
                _ if !self.conns[i].2 => {
                    let r = engine.readiness(h).unwrap();
                    let close = match v {
                        // contract 8a: close with the reply unread.
                        Variant::UnreadData => r.readable_bytes >= 5,
                        Variant::Abort => {
                            if r.readable_bytes >= 5 {
                                engine.abort(h).unwrap();
                                self.conns[i].2 = true;
                            }
                            false
                        }
                        // Read the reply, then close (after end of stream
                        // for the half-closed one).
                        _ => {
                            let mut buf = [0u8; 64];
                            let mut eof = false;
                            while let Ok(n) = engine.read(h, &mut buf) {
                                if n == 0 {
                                    eof = true;
                                    break;
                                }
                                self.got[i] += n;
                            }
                            if v == Variant::HalfClose {
                                eof
                            } else {
                                self.got[i] >= 5
                            }
                        }
                    };
                    if close {
                        engine.close(h).unwrap();
                        self.conns[i].2 = true;
                    }
                }
                _ => {}
            }
        }
    }

    fn finished(&self) -> bool {
        self.started && self.conns.iter().all(|c| c.2) && self.outcomes.len() == 2
    }
}

/// The server side: answers "reply" to each request (after end of stream
/// on the half-closed one), never reads on the linger-timeout port, and
/// records how each connection ended.
struct CloseServer {
    listeners: Vec<(Variant, Handle)>,
    conns: Vec<(Variant, Handle)>,
    results: Vec<(Variant, Result<usize, Error>)>,
}

impl App for CloseServer {
    fn start(&mut self, engine: &mut Engine<MbufPool>) -> Result<(), dpdk_io::AppError> {
        for v in VARIANTS {
            let l = engine
                .listen(6000 + v as u16, 4)
                .map_err(|e| e.to_string())?;
            self.listeners.push((v, l));
        }
        Ok(())
    }

    fn poll(&mut self, engine: &mut Engine<MbufPool>, _now: Instant) {
        while let Some(ev) = engine.poll_event() {
            if let Some(&(v, l)) = self.listeners.iter().find(|x| x.1 == ev.handle) {
                while let Ok((h, _)) = engine.accept(l) {
                    self.conns.push((v, h));
                }
                continue;
            }
            let Some(&(v, h)) = self.conns.iter().find(|x| x.1 == ev.handle) else {
                continue;
            };
            if self.results.iter().any(|r| r.0 == v) {
                continue;
            }
            if v == Variant::LingerTimeout {
                if let Some(e) = engine.readiness(h).unwrap().error {
                    self.results.push((v, Err(e)));
                    engine.close(h).unwrap();
                }
                continue;
            }
            let mut buf = [0u8; 64];
            loop {
                match engine.read(h, &mut buf) {
                    Ok(0) => {
                        if v == Variant::HalfClose {
                            engine.write(h, b"reply").unwrap();
                        }
                        self.results.push((v, Ok(0)));
                        engine.close(h).unwrap();
                        break;
                    }
                    Ok(_) => {
                        if v != Variant::HalfClose {
                            engine.write(h, b"reply").unwrap();
                        }
                    }
                    Err(Error::WouldBlock) => break,
                    Err(e) => {
                        self.results.push((v, Err(e)));
                        engine.close(h).unwrap();
                        break;
                    }
                }
            }
        }
    }

    fn finished(&self) -> bool {
        self.results.len() == VARIANTS.len()
    }
}

fn close_variants(a: &mut Worker, b: &mut Worker) {
    let mut client = CloseClient {
        conns: Vec::new(),
        got: [0; 6],
        outcomes: Vec::new(),
        started: false,
    };
    let mut server = CloseServer {
        listeners: Vec::new(),
        conns: Vec::new(),
        results: Vec::new(),
    };
    run_pair(
        a,
        &mut client,
        b,
        &mut server,
        Duration::from_secs(30),
        "close variants",
    );
    let result = |v| server.results.iter().find(|r| r.0 == v).map(|r| r.1);
    // contract 8b, 10: graceful ends are end of stream.
    assert_eq!(result(Variant::Graceful), Some(Ok(0)));
    assert_eq!(result(Variant::HalfClose), Some(Ok(0)));
    assert_eq!(result(Variant::LingerGraceful), Some(Ok(0)));
    // contracts 8a, 9b, 9c: the server sees the reset.
    assert_eq!(
        result(Variant::UnreadData),
        Some(Err(Error::ConnectionReset))
    );
    assert_eq!(result(Variant::Abort), Some(Err(Error::ConnectionReset)));
    assert_eq!(
        result(Variant::LingerTimeout),
        Some(Err(Error::ConnectionReset))
    );
    let mut outcomes = client.outcomes.clone();
    outcomes.sort_by_key(|o| o.0 as u8);
    assert_eq!(
        outcomes,
        [
            (Variant::LingerTimeout, CloseOutcome::Aborted),
            (Variant::LingerGraceful, CloseOutcome::Graceful)
        ]
    );
}

/// 1,000 connections to an echo server, each sending a distinct message
/// and checking the echo, then closing.
struct ManyClients {
    n: usize,
    conns: Vec<(Handle, Vec<u8>, Vec<u8>, bool)>,
}

impl App for ManyClients {
    fn start(&mut self, engine: &mut Engine<MbufPool>) -> Result<(), dpdk_io::AppError> {
        for i in 0..self.n {
            let h = engine
                .connect(SocketAddrV4::new(B_IP, 7))
                .map_err(|e| e.to_string())?;
            self.conns.push((
                h,
                format!("message number {i} ")
                    .repeat(1 + i % 7)
                    .into_bytes(),
                Vec::new(),
                false,
            ));
        }
        Ok(())
    }

    fn poll(&mut self, engine: &mut Engine<MbufPool>, _now: Instant) {
        while let Some(ev) = engine.poll_event() {
            let Some(c) = self.conns.iter_mut().find(|c| c.0 == ev.handle) else {
                continue;
            };
            if c.3 {
                continue;
            }
            if ev.kind == EventKind::Connected {
                assert_eq!(engine.write(c.0, &c.1), Ok(c.1.len()));
                continue;
            }
            let mut buf = [0u8; 512];
            while let Ok(n) = engine.read(c.0, &mut buf) {
                if n == 0 {
                    break;
                }
                c.2.extend_from_slice(&buf[..n]);
            }
            if c.2.len() == c.1.len() {
                assert_eq!(c.2, c.1, "echo intact");
                engine.close(c.0).unwrap();
                c.3 = true;
            }
        }
    }

    fn finished(&self) -> bool {
        self.conns.len() == self.n && self.conns.iter().all(|c| c.3)
    }

    fn report(&self) -> Option<String> {
        let done = self.conns.iter().filter(|c| c.3).count();
        let partial = self
            .conns
            .iter()
            .filter(|c| !c.3 && !c.2.is_empty())
            .count();
        Some(format!(
            "{done} of {} echoed and closed; {partial} partly echoed",
            self.n
        ))
    }
}

/// An echo server that is finished once it has served `n` connections to
/// the end.
struct EchoN(Echo, u64);

impl App for EchoN {
    fn start(&mut self, engine: &mut Engine<MbufPool>) -> Result<(), dpdk_io::AppError> {
        self.0.start(engine)
    }
    fn poll(&mut self, engine: &mut Engine<MbufPool>, now: Instant) {
        self.0.poll(engine, now)
    }
    fn finished(&self) -> bool {
        self.0.accepted == self.1 && self.0.open_connections() == 0
    }
}

fn thousand_connections(a: &mut Worker, b: &mut Worker) {
    let mut clients = ManyClients {
        n: 1000,
        conns: Vec::new(),
    };
    let mut echo = EchoN(Echo::new(7), 1000);
    run_pair(
        a,
        &mut clients,
        b,
        &mut echo,
        Duration::from_secs(60),
        "1,000 connections",
    );
    assert_eq!(echo.0.accepted, 1000);
    // The server closed every connection after the client's FIN: nothing
    // but the client's TIME_WAIT entries remain.
    let mut idle = Idle;
    for _ in 0..1000 {
        iterate_pair((a, &mut idle), (b, &mut Idle));
    }
    for (side, w) in [("client", &*a), ("server", &*b)] {
        let counts = w.engine.state_counts();
        assert!(
            counts.iter().all(|(s, _)| *s == stack::State::TimeWait),
            "{side} side: {counts:?}"
        );
    }
    let time_wait = a.engine.state_counts().iter().map(|c| c.1).sum::<usize>();
    assert!(
        time_wait >= 1000,
        "the clients closed first: {time_wait} in TIME_WAIT"
    );
}

/// The jumbo pair's MTU, and the MSS that follows from it.
const JUMBO_MTU: u16 = 9000;
const JUMBO_MSS: u16 = JUMBO_MTU - 40;
/// A frame of the jumbo MTU: 9014 bytes.
const JUMBO_FRAME: usize = JUMBO_MTU as usize + 14;
/// Bytes per mbuf for it: 9216 of room after 128 of headroom.
const JUMBO_ROOM: u16 = 9216 + 128;

fn jumbo_config(n: u8) -> RuntimeConfig {
    let mut cfg = config(n);
    cfg.engine.mtu = JUMBO_MTU;
    cfg.engine.tcp.recv_buffer = 1 << 20;
    cfg.engine.tcp.send_buffer = 1 << 21;
    // A hands over frames of several segments (cut by its loop), B not.
    cfg.engine.offload.tx_segmentation = n == 1;
    cfg
}

/// Two workers at MTU 9000 on a second net_ring pair; the ports are
/// configured with that MTU, and a pool too small for such frames is
/// refused.
fn jumbo_pair() -> (Worker, Worker) {
    let (pa, pb) = create_ring_pair("jring_a", "jring_b").expect("ring pair");
    let small = MbufPool::new("jpool_small", 4095, 0, 2176).unwrap();
    let Err(e) = Worker::open(&jumbo_config(1), pa, small) else {
        panic!("a 2176-byte data room cannot hold a 9014-byte frame");
    };
    assert!(e.to_string().contains("`mempool.data_room`"), "{e}");
    let pool_a = MbufPool::new("jpool_a", 8191, 256, JUMBO_ROOM).unwrap();
    let pool_b = MbufPool::new("jpool_b", 8191, 256, JUMBO_ROOM).unwrap();
    let a = Worker::open(&jumbo_config(1), pa, pool_a).expect("worker a");
    let b = Worker::open(&jumbo_config(2), pb, pool_b).expect("worker b");
    assert_eq!(a.port().mtu().unwrap(), JUMBO_MTU);
    assert_eq!(b.port().mtu().unwrap(), JUMBO_MTU);
    (a, b)
}

/// Opens one connection and records the MSS each side sends with.
struct MssProbe {
    peer: Option<SocketAddrV4>,
    handle: Option<Handle>,
    snd_mss: Option<usize>,
}

impl App for MssProbe {
    fn start(&mut self, engine: &mut Engine<MbufPool>) -> Result<(), dpdk_io::AppError> {
        self.handle = Some(match self.peer {
            Some(peer) => engine.connect(peer).map_err(|e| e.to_string())?,
            None => engine.listen(5002, 4).map_err(|e| e.to_string())?,
        });
        Ok(())
    }

    fn poll(&mut self, engine: &mut Engine<MbufPool>, _now: Instant) {
        while let Some(ev) = engine.poll_event() {
            // The server's connection once accepted, the client's once
            // connected: either is past the handshake.
            let h = match self.peer {
                None if Some(ev.handle) == self.handle => match engine.accept(ev.handle) {
                    Ok((h, _)) => h,
                    Err(_) => continue,
                },
                Some(_) if ev.kind == EventKind::Connected => ev.handle,
                _ => continue,
            };
            self.snd_mss = Some(engine.tcp_info(h).unwrap().snd_mss);
            engine.close(h).unwrap();
        }
    }

    fn finished(&self) -> bool {
        self.snd_mss.is_some()
    }
}

/// One hop of the handshake: `from`'s iteration puts its frame on the
/// ring; it is read from `to`'s port, its MSS option taken, and handed to
/// `to`'s engine.
fn hop(from: &mut Worker, app: &mut MssProbe, to: &mut Worker) -> u16 {
    from.iterate(app);
    let mut frames = Vec::new();
    to.port_mut().rx_burst(0, &mut frames, 32);
    let mut mss = None;
    for m in frames {
        assert_eq!(m.nb_segs(), 1, "a handshake frame has no payload");
        mss = mss.or(syn_mss(stack::PacketBuf::data(&m)));
        let now = to.now();
        to.engine.handle_rx(now, m);
    }
    mss.expect("a SYN on the ring")
}

/// The SYN and the SYN-ACK, taken off the ring and handed to the engines
/// by hand: each advertises the MTU less 40 bytes (8960), and both sides
/// then send data in full 9014-byte frames.
fn jumbo_handshake(a: &mut Worker, b: &mut Worker) {
    let mut client = MssProbe {
        peer: Some(SocketAddrV4::new(B_IP, 5002)),
        handle: None,
        snd_mss: None,
    };
    let mut server = MssProbe {
        peer: None,
        handle: None,
        snd_mss: None,
    };
    server.start(&mut b.engine).unwrap();
    client.start(&mut a.engine).unwrap();
    assert_eq!(hop(a, &mut client, b), JUMBO_MSS, "the SYN's MSS");
    assert_eq!(hop(b, &mut server, a), JUMBO_MSS, "the SYN-ACK's MSS");
    drive_pair(
        a,
        &mut client,
        b,
        &mut server,
        Duration::from_secs(10),
        "jumbo handshake",
    );
    // Data goes in segments of the MSS less the timestamps option (12
    // bytes) that every segment carries: frames of 9014 bytes.
    let data = usize::from(JUMBO_MSS) - 12;
    assert_eq!(client.snd_mss, Some(data));
    assert_eq!(server.snd_mss, Some(data));
}

/// 64 MiB each way at MTU 9000, SHA-256 checked. net_ring passes the
/// sender's chains (headers, then the payload) through, so every data
/// frame is linearized on receipt: the bytes copied per frame show the
/// frames' size.
fn jumbo_bulk(a: &mut Worker, b: &mut Worker) {
    let bytes: u64 = 64 << 20;
    let before = (a.stats.clone(), b.stats.clone());
    let secs = transfer_both_ways(a, b, bytes, 3, "jumbo bulk");
    for (side, w, was) in [("a", &*a, &before.0), ("b", &*b, &before.1)] {
        let frames = w.stats.rx_linearized - was.rx_linearized;
        let copied = w.stats.rx_linearized_bytes - was.rx_linearized_bytes;
        // At least the payload, in frames that average more than a
        // standard Ethernet frame holds.
        assert!(copied > bytes, "{side}: {copied} bytes in {frames} frames");
        assert!(
            copied / frames > 1514,
            "{side}: {frames} frames of {} bytes on average",
            copied / frames
        );
        assert_eq!(w.stats.rx_too_long + w.stats.rx_no_buffer, 0, "{side}");
        println!(
            "jumbo: {side} received {frames} chained frames of {} bytes on average",
            copied / frames
        );
    }
    println!(
        "64 MiB each way at MTU {JUMBO_MTU} over net_ring in {secs:.2} s wall: {:.2} Gbit/s per direction (both engines on one core)",
        bytes as f64 * 8.0 / secs / 1e9
    );
}

/// An ICMP echo request from A to B, `len` bytes of frame in all.
fn ping(id: u16, len: usize) -> Vec<u8> {
    let a = End {
        mac: [2, 0, 0, 0, 7, 1],
        ip: A_IP,
    };
    let b = End {
        mac: [2, 0, 0, 0, 7, 2],
        ip: B_IP,
    };
    frames::ping(a, b, id, len)
}

/// `frame` as a chain of mbufs from `pool`, cut at `cuts`.
fn chain(pool: &MbufPool, frame: &[u8], cuts: &[usize]) -> Mbuf {
    let mut pool = pool.clone();
    let mut at = 0;
    let mut head: Option<Mbuf> = None;
    for end in cuts.iter().copied().chain([frame.len()]) {
        let seg = pool.alloc_with(&frame[at..end]).expect("a segment");
        at = end;
        match &mut head {
            None => head = Some(seg),
            Some(h) => h.chain(seg).expect("chain"),
        }
    }
    let head = head.unwrap();
    assert_eq!(usize::from(head.nb_segs()), cuts.len() + 1);
    head
}

/// Sends `m` from A's port (raw) and runs B's loop until `done` says so
/// (at most 1,000 iterations); returns the ICMP echo replies that came
/// back to A as (identifier, frame length, frame).
fn send_to_b(
    a: &mut Worker,
    b: &mut Worker,
    m: Mbuf,
    done: impl Fn(&Worker) -> bool,
) -> Vec<(u16, usize, Vec<u8>)> {
    let mut out = vec![m];
    assert_eq!(a.port_mut().tx_burst(0, &mut out), 1);
    for _ in 0..1000 {
        b.iterate(&mut Idle);
        if done(b) {
            break;
        }
    }
    // B's answers, if any, wait on the ring to A.
    b.run_for(&mut Idle, Duration::from_millis(10));
    let mut got = Vec::new();
    a.port_mut().rx_burst(0, &mut got, 512);
    got.iter()
        .map(Mbuf::frame_bytes)
        .filter_map(|f| Some((echo_reply_id(&f)?, f.len(), f)))
        .collect()
}

/// Chains received by the runtime (net_ring passes hand-built chains
/// through as they are): one that fits an mbuf is copied into one and
/// handled, even cut inside the Ethernet header; one longer than an mbuf
/// holds is dropped and counted; with the pool empty, dropped and counted;
/// none panics, none reaches the engine as its first segment alone.
fn chained_frames_received(a: &mut Worker, b: &mut Worker) {
    // Let the previous connections' last frames go.
    for _ in 0..1000 {
        iterate_pair((a, &mut Idle), (b, &mut Idle));
    }
    a.port_mut().rx_burst(0, &mut Vec::new(), 512);
    let pool = a.pool().clone();
    let replies = b.engine.stats().icmp_echo_replies;
    let before = b.stats.clone();

    // A jumbo ping cut in three, the first cut inside the Ethernet header.
    let big = ping(1, JUMBO_FRAME);
    let got = send_to_b(a, b, chain(&pool, &big, &[1, 40]), |b| {
        b.engine.stats().icmp_echo_replies > replies
    });
    assert_eq!(b.stats.rx_linearized, before.rx_linearized + 1);
    assert_eq!(
        b.stats.rx_linearized_bytes,
        before.rx_linearized_bytes + JUMBO_FRAME as u64
    );
    assert_eq!(b.engine.stats().icmp_echo_replies, replies + 1);
    let reply = got
        .iter()
        .find(|r| r.0 == 1)
        .expect("the jumbo ping's reply");
    assert_eq!(reply.1, JUMBO_FRAME, "the reply is a 9014-byte frame too");
    assert_eq!(reply.2[42..], big[42..], "the payload came back intact");

    // Longer than one mbuf of B's pool holds (9216 bytes): dropped.
    let too_long = ping(2, 9300);
    let got = send_to_b(a, b, chain(&pool, &too_long, &[4000]), |b| {
        b.stats.rx_too_long > before.rx_too_long
    });
    assert_eq!(b.stats.rx_too_long, before.rx_too_long + 1);
    assert!(got.iter().all(|r| r.0 != 2), "no reply to a dropped frame");

    // No mbuf to copy into: dropped, and answered once there is one.
    let small = ping(3, 1000);
    let mut b_pool = b.pool().clone();
    let mut held = Vec::new();
    while let Some(m) = stack::BufferPool::alloc(&mut b_pool) {
        held.push(m);
    }
    let got = send_to_b(a, b, chain(&pool, &small, &[14]), |b| {
        b.stats.rx_no_buffer > before.rx_no_buffer
    });
    assert_eq!(b.stats.rx_no_buffer, before.rx_no_buffer + 1);
    assert!(got.iter().all(|r| r.0 != 3), "no reply to a dropped frame");
    drop(held);
    let replies = b.engine.stats().icmp_echo_replies;
    let got = send_to_b(a, b, chain(&pool, &small, &[14]), |b| {
        b.engine.stats().icmp_echo_replies > replies
    });
    assert_eq!(got.iter().filter(|r| r.0 == 3).count(), 1, "{got:?}");
    assert_eq!(b.stats.rx_linearized, before.rx_linearized + 2);
}

/// `engine.offload.tx_segmentation` on A and not on B, at MTU 1500 over
/// net_ring (no TSO: A's loop cuts the frames itself): 16 MiB each way,
/// SHA-256 checked. A's pcap then shows what went on the wire: no frame
/// over 1514 bytes, every TCP frame from A with right IPv4 and TCP
/// checksums, and most data in full-sized segments.
fn segmented_bulk() {
    let (pa, pb) = create_ring_pair("sring_a", "sring_b").expect("ring pair");
    let pool_a = MbufPool::new("spool_a", 16383, 256, 2176).unwrap();
    let pool_b = MbufPool::new("spool_b", 16383, 256, 2176).unwrap();
    let dir = std::env::temp_dir().join(format!("stack-segmented-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a.pcap");
    let mut cfg_a = config(1);
    cfg_a.engine.offload.tx_segmentation = true;
    cfg_a.engine.tcp.send_buffer = 1 << 20;
    cfg_a.engine.tcp.recv_buffer = 1 << 20;
    cfg_a.run.pcap = Some(file.clone());
    let mut cfg_b = config(2);
    cfg_b.engine.tcp.recv_buffer = 1 << 20;
    let mut a = Worker::open(&cfg_a, pa, pool_a).expect("worker a");
    let mut b = Worker::open(&cfg_b, pb, pool_b).expect("worker b");
    let bytes = 16 << 20;
    transfer_both_ways(&mut a, &mut b, bytes, 5, "segmented bulk");
    let (ea, la) = (a.engine.stats().clone(), a.stats.clone());
    println!("segmented: engine a {ea:?}\nloop a {la:?}");
    assert!(la.tx_cut_frames > 0, "frames of several segments were cut");
    assert!(la.tx_cut_segments > 2 * la.tx_cut_frames, "{la:?}");
    assert_eq!((la.tx_cut_failed, la.tx_tso_frames), (0, 0));
    assert_eq!(ea.tx_multi_segment_frames, la.tx_cut_frames);
    assert_eq!(
        b.stats.tx_cut_frames + b.engine.stats().tx_multi_segment_frames,
        0
    );
    drop((a, b));

    let capture = std::fs::read(&file).unwrap();
    let (mut from_a, mut full) = (0, 0);
    let a_mac = [2, 0, 0, 0, 7, 1];
    for f in frames::pcap_frames(&capture) {
        assert!(f.len() <= 1514, "a frame of {} bytes on the wire", f.len());
        if f[6..12] != a_mac || f[12..14] != [8, 0] || f[23] != 6 {
            continue;
        }
        from_a += 1;
        assert_eq!(
            frames::checksum(&f[14..34]),
            0,
            "IPv4 checksum of frame {from_a}"
        );
        let ip = stack::wire::Ipv4Packet::new_checked(&f[14..]).unwrap();
        let tcp = stack::wire::TcpPacket::new_checked(ip.payload()).unwrap();
        assert!(
            tcp.verify_checksum(A_IP, B_IP),
            "TCP checksum of frame {from_a}, seq {}",
            tcp.seq_number()
        );
        full += usize::from(tcp.payload().len() == 1448);
    }
    assert!(
        full as u64 * 1448 > bytes / 2,
        "{full} full segments of {from_a}"
    );
    println!("segmented: {from_a} TCP frames from a, {full} full-sized, all within the MTU, checksums right");
    let _ = std::fs::remove_dir_all(&dir);
}
