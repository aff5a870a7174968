//! DPDK smoke test over software devices. The EAL initialises once per
//! process, so everything runs as sub-steps of one test, in order.

use std::time::Duration;

use dpdk_io::{
    create_ring_pair, App, DpdkError, Eal, EalArgs, Mbuf, MbufPool, Mempool, Port, PortConfig,
    Runtime, RuntimeConfig, Worker,
};
use stack::{BufferPool, Engine, Instant, PacketBuf};

const POOL_SIZE: u32 = 1023;
const DATA_ROOM: u16 = 2176;

fn frame(seq: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]); // dst
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // src
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes()); // local experimental
    f[14..18].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in f[18..].iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(31).wrapping_add(seq) as u8;
    }
    f
}

#[test]
fn dpdk_over_net_ring() {
    let memif_sock = format!("/tmp/dpdk-io-test-{}.sock", std::process::id());
    let args = EalArgs::ci(256)
        .lcores("0")
        .log_level("notice")
        .vdev("net_ring0")
        .vdev(&format!(
            "net_memif0,role=server,socket={memif_sock},socket-abstract=no"
        ))
        .build();
    eprintln!("EAL args: {args:?}");
    let eal = Eal::init(&args).expect("EAL init");

    double_init_is_an_error();
    plugins_loaded();
    standalone_mempool();

    let mut pool = MbufPool::new("test_pool", POOL_SIZE, 32, DATA_ROOM).expect("mbuf pool");
    assert_eq!(pool.direct().available(), POOL_SIZE);

    mbuf_room_and_trim(&mut pool);
    mbuf_sharing(&mut pool);
    share_fails_when_indirect_pool_is_exhausted();
    chain_and_bulk(&mut pool);
    loopback_port(&pool);
    ring_pair(&pool);
    port_mtu(&pool);

    assert_eq!(
        pool.direct().available(),
        POOL_SIZE,
        "every direct mbuf is back"
    );
    assert_eq!(
        pool.indirect().available(),
        POOL_SIZE,
        "every indirect mbuf is back"
    );
    drop(pool);
    drop(eal); // the last handle: rte_eal_cleanup runs here

    assert_eq!(
        Mempool::new("after", 63, 0, DATA_ROOM).unwrap_err(),
        DpdkError::NotInitialized
    );
    assert_eq!(Eal::init(&[]).unwrap_err(), DpdkError::AlreadyInitialized);
    let _ = std::fs::remove_file(&memif_sock);
}

fn double_init_is_an_error() {
    let again = Eal::init(&EalArgs::ci(64).build());
    assert_eq!(again.unwrap_err(), DpdkError::AlreadyInitialized);
}

fn plugins_loaded() {
    let ring = Port::id_by_name("net_ring0").expect("net_ring0 exists");
    assert_eq!(Port::info_of(ring).unwrap().driver, "net_ring");
    let memif = Port::id_by_name("net_memif0").expect("net_memif0 exists");
    assert_eq!(Port::info_of(memif).unwrap().driver, "net_memif");
    assert_eq!(Port::count().unwrap(), 2);
}

fn standalone_mempool() {
    let mp = Mempool::new("standalone", 255, 0, DATA_ROOM).expect("mempool");
    assert_eq!(mp.size(), 255);
    assert_eq!(mp.available(), 255);
    assert_eq!(mp.in_use(), 0);
    let err = Mempool::new("standalone", 255, 0, DATA_ROOM).unwrap_err();
    assert!(matches!(err, DpdkError::MempoolCreate { .. }), "{err}");
    eprintln!("duplicate pool name: {err}");
}

fn mbuf_room_and_trim(pool: &mut MbufPool) {
    let mut m = pool.alloc().expect("alloc");
    assert!(m.is_empty());
    assert_eq!(m.headroom(), dpdk_io::sys::RTE_PKTMBUF_HEADROOM as usize);
    assert_eq!(m.tailroom(), usize::from(DATA_ROOM) - m.headroom());
    assert_eq!(m.truesize(), usize::from(DATA_ROOM));
    assert_eq!(m.refcnt(), 1);
    assert!(m.is_direct() && !m.is_shared());

    m.append(10).unwrap().copy_from_slice(b"0123456789");
    m.prepend(4).unwrap().copy_from_slice(b"hdr:");
    assert_eq!(m.data(), b"hdr:0123456789");
    assert_eq!(m.headroom(), 124);
    m.data_mut().unwrap()[0] = b'H';
    m.trim_front(4);
    m.trim_back(2);
    assert_eq!(m.data(), b"01234567");
    m.trim_back(1000);
    assert!(m.is_empty());

    assert!(m.prepend(129).is_none(), "more than the headroom");
    assert!(
        m.append(usize::from(DATA_ROOM)).is_none(),
        "more than the tailroom"
    );
    assert!(m.append(70_000).is_none(), "more than u16");
    assert_eq!(pool.direct().in_use(), 1);
    drop(m);
    assert_eq!(pool.direct().in_use(), 0);
}

fn mbuf_sharing(pool: &mut MbufPool) {
    let mut a = pool.alloc_with(b"abcdef").unwrap();
    let mut b = a.share().expect("share");
    assert_eq!(a.refcnt(), 2, "direct counts itself and the clone");
    assert!(!b.is_direct());
    assert!(a.is_shared() && b.is_shared());
    assert_eq!(pool.indirect().in_use(), 1);

    // Shared: read-only for both handles.
    assert!(a.append(1).is_none());
    assert!(a.prepend(1).is_none());
    assert!(a.data_mut().is_none());
    assert_eq!(a.tailroom(), 0);
    assert!(b.append(1).is_none());
    assert!(b.prepend(1).is_none());
    assert!(b.data_mut().is_none());
    assert_eq!(b.tailroom(), 0);
    assert_eq!(b.truesize(), a.truesize());

    // Trimming changes only the handle's own view.
    b.trim_front(1);
    b.trim_back(1);
    assert_eq!(b.data(), b"bcde");
    assert_eq!(a.data(), b"abcdef");

    drop(b);
    assert_eq!(a.refcnt(), 1);
    assert!(!a.is_shared());
    a.append(1).unwrap().copy_from_slice(b"g");
    assert_eq!(a.data(), b"abcdefg");

    // The clone outlives the original: it keeps the buffer alive and, as
    // the only handle left, may write.
    let mut c = a.share().unwrap();
    drop(a);
    assert_eq!(pool.direct().in_use(), 1, "the clone pins the direct mbuf");
    assert_eq!(c.data(), b"abcdefg");
    assert!(!c.is_shared());
    c.data_mut().unwrap()[0] = b'A';
    assert_eq!(c.data(), b"Abcdefg");
    drop(c);
    assert_eq!(pool.direct().in_use(), 0);
    assert_eq!(pool.indirect().in_use(), 0);
}

fn share_fails_when_indirect_pool_is_exhausted() {
    let mut small = MbufPool::with_indirect("small", 3, 1, 0, DATA_ROOM).unwrap();
    let a = small.alloc_with(b"x").unwrap();
    let s1 = a.share().expect("one indirect mbuf");
    assert!(a.share().is_none(), "indirect pool exhausted");
    drop(s1);
    let s2 = a.share().expect("indirect mbuf returned");
    let b = small.alloc().unwrap();
    let c = small.alloc().unwrap();
    assert!(small.alloc().is_none(), "direct pool exhausted");
    assert_eq!(small.direct().available_here(), 0, "nothing free here");
    drop((a, b, c, s2));
    assert_eq!(small.direct().available(), 3);
    // The ring-backed count (ring plus this lcore's cache) sees them too.
    assert_eq!(small.direct().available_here(), 3);
}

fn chain_and_bulk(pool: &mut MbufPool) {
    let mut head = pool.alloc_with(b"head").unwrap();
    let tail = pool.alloc_with(b"tail!").unwrap();
    head.chain(tail).expect("chain");
    assert_eq!(head.nb_segs(), 2);
    assert_eq!(head.pkt_len(), 9);
    assert_eq!(head.data(), b"head", "data() is the first segment");
    assert_eq!(head.truesize(), 2 * usize::from(DATA_ROOM));
    let clone = head.share().unwrap();
    assert_eq!(clone.nb_segs(), 2);
    drop((head, clone));
    // A chain onto a chain: segments and length add up, in order.
    let mut head = pool.alloc_with(b"a").unwrap();
    let mut rest = pool.alloc_with(b"bc").unwrap();
    rest.chain(pool.alloc_with(b"def").unwrap()).expect("chain");
    head.chain(rest).expect("chain of two");
    head.chain(pool.alloc_with(b"g").unwrap()).expect("chain");
    assert_eq!((head.nb_segs(), head.pkt_len()), (4, 7));
    assert_eq!(head.frame_bytes(), b"abcdefg");
    let lens: Vec<usize> = head.segments().map(<[u8]>::len).collect();
    assert_eq!(lens, [1, 2, 3, 1]);
    drop(head);
    assert_eq!(
        pool.direct().in_use(),
        0,
        "the whole chain freed with its head"
    );

    let mut v = Vec::new();
    assert!(pool.alloc_bulk(100, &mut v));
    assert_eq!(v.len(), 100);
    assert_eq!(pool.direct().in_use(), 100);
    assert!(
        !pool.alloc_bulk(POOL_SIZE as usize, &mut v),
        "all or nothing"
    );
    assert_eq!(v.len(), 100);
    v.clear();
    assert_eq!(pool.direct().in_use(), 0);
}

/// A single net_ring vdev receives what it sends.
fn loopback_port(pool: &MbufPool) {
    let id = Port::id_by_name("net_ring0").unwrap();
    let mut port = Port::configure(id, &PortConfig::default(), pool).expect("configure");
    port.start().expect("start");
    port.set_promiscuous(true).expect("promiscuous");
    let link = port.wait_link_up(Duration::from_secs(2)).expect("link up");
    let info = port.info().unwrap();
    eprintln!(
        "net_ring0: {info:?} {link:?} mac {:02x?}",
        port.mac_addr().unwrap()
    );
    let rss = port.rss_hash_conf();
    eprintln!("net_ring0 RSS key: {rss:?}");
    assert!(rss.is_err(), "net_ring has no RSS");

    let mut p = pool.clone();
    let mut out: Vec<Mbuf> = (0..8)
        .map(|i| p.alloc_with(&frame(i, 64)).unwrap())
        .collect();
    assert_eq!(port.tx_burst(0, &mut out), 8);
    assert!(out.is_empty());
    let mut got = Vec::new();
    assert_eq!(port.rx_burst(0, &mut got, 32), 8);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.data(), frame(i as u32, 64).as_slice());
    }
    drop(got);
    let stats = port.stats().unwrap();
    assert_eq!((stats.opackets, stats.ipackets), (8, 8));
    drop(port);
}

/// Two ports wired back to back: frames cross with their bytes intact.
fn ring_pair(pool: &MbufPool) {
    let (a_id, b_id) = create_ring_pair("ra", "rb").expect("ring pair");
    let mut a = Port::configure(a_id, &PortConfig::default(), pool).unwrap();
    let mut b = Port::configure(b_id, &PortConfig::default(), pool).unwrap();
    a.start().unwrap();
    b.start().unwrap();
    a.wait_link_up(Duration::from_secs(2)).unwrap();
    b.wait_link_up(Duration::from_secs(2)).unwrap();

    let mut p = pool.clone();
    let sizes = [60usize, 64, 128, 1000, 1514];
    let mut sent_frames = Vec::new();
    for round in 0..4u32 {
        let mut out = Vec::new();
        for i in 0..50u32 {
            let f = frame(round * 50 + i, sizes[(i as usize) % sizes.len()]);
            out.push(p.alloc_with(&f).unwrap());
            sent_frames.push(f);
        }
        assert_eq!(a.tx_burst(0, &mut out), 50);
        let mut got = Vec::new();
        assert_eq!(b.rx_burst(0, &mut got, 64), 50);
        assert_eq!(
            a.rx_burst(0, &mut Vec::new(), 64),
            0,
            "A does not hear itself"
        );
        for (m, f) in got.iter().zip(&sent_frames[(round * 50) as usize..]) {
            assert_eq!(m.data(), f.as_slice());
        }
        // Echo back B -> A, retransmission style: a share, not a copy.
        let mut echo: Vec<Mbuf> = got.iter().map(|m| m.share().unwrap()).collect();
        assert_eq!(b.tx_burst(0, &mut echo), 50);
        let mut back = Vec::new();
        assert_eq!(a.rx_burst(0, &mut back, 64), 50);
        for (m, f) in back.iter().zip(&got) {
            assert_eq!(m.data(), f.data());
        }
    }
    let (sa, sb) = (a.stats().unwrap(), b.stats().unwrap());
    eprintln!("ring pair stats: A {sa:?} B {sb:?}");
    assert_eq!(
        (sa.opackets, sa.ipackets, sb.opackets, sb.ipackets),
        (200, 200, 200, 200)
    );
    drop((a, b));
}

/// Does nothing (a worker needs an application).
struct Idle;
impl App for Idle {
    fn poll(&mut self, _engine: &mut Engine<MbufPool>, _now: Instant) {}
}

/// The MTU a port is configured with. net_ring takes 9000. net_memif
/// reports a largest frame of 1518 bytes (MTU 1500): `Port::configure`
/// refuses 9000, and so do the single- and the multi-core runtime for
/// `engine.mtu` 9000, naming the key, unless `port.mtu_beyond_reported_limit`
/// says the report is no real limit; the device then keeps MTU 1500.
fn port_mtu(pool: &MbufPool) {
    let jumbo = PortConfig {
        mtu: Some(9000),
        ..PortConfig::default()
    };
    let (a, b) = create_ring_pair("mtu_a", "mtu_b").expect("ring pair");
    assert_eq!(Port::info_of(a).unwrap().mtu_limit(), 65535);
    let pa = Port::configure(a, &jumbo, pool).expect("net_ring takes MTU 9000");
    let pb = Port::configure(b, &PortConfig::default(), pool).unwrap();
    assert_eq!(pa.mtu().unwrap(), 9000);
    assert_eq!(pb.mtu().unwrap(), 1500, "the default");
    drop((pa, pb));

    let memif = Port::id_by_name("net_memif0").unwrap();
    let info = Port::info_of(memif).unwrap();
    assert_eq!((info.max_rx_pktlen, info.mtu_limit()), (1518, 1500));
    let e = Port::configure(memif, &jumbo, pool).unwrap_err();
    assert!(matches!(e, DpdkError::PortCapability { .. }), "{e}");
    eprintln!("net_memif0 at MTU 9000: {e}");

    let mut cfg = RuntimeConfig::default();
    cfg.port.device = "net_memif0".into();
    cfg.port.link_timeout_ms = 0;
    cfg.port.rx_ring = 256;
    cfg.port.tx_ring = 256;
    cfg.mempool.cache = 32;
    cfg.engine.mtu = 9000;
    let jumbo_pool = MbufPool::new("jumbo_pool", 2047, 32, 9344).unwrap();
    let Err(e) = Worker::open(&cfg, memif, jumbo_pool.clone()) else {
        panic!("net_memif0 does not report MTU 9000");
    };
    eprintln!("Worker::open: {e}");
    assert!(e.to_string().contains("`engine.mtu`"), "{e}");
    assert!(e.to_string().contains("mtu_beyond_reported_limit"), "{e}");
    let Err(e) = Runtime::start(&cfg, memif, jumbo_pool.clone(), vec![Box::new(Idle)]) else {
        panic!("net_memif0 does not report MTU 9000");
    };
    assert!(e.to_string().contains("`engine.mtu`"), "{e}");

    cfg.port.mtu_beyond_reported_limit = true;
    let worker = Worker::open(&cfg, memif, jumbo_pool.clone()).expect("told to go beyond");
    assert_eq!(worker.port().mtu().unwrap(), 1500, "the device's default");
    assert_eq!(worker.engine.config().mtu, 9000);
    assert_eq!(worker.engine.config().effective_mss(), 8960);
    drop(worker);
}
