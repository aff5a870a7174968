//! Who owns a device: a port id is configured once per process, each
//! queue has one owner, and the device stays open while its port or a
//! queue handle is alive; a runtime's threads end with the runtime and
//! hold the EAL until they are done with it. The EAL initialises once per
//! process, so everything runs as sub-steps of one test, in order.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant as Wall};

use dpdk_io::{
    create_ring_pair, App, DpdkError, Eal, EalArgs, Mbuf, MbufPool, Mempool, Port, PortConfig,
    Runtime, RuntimeConfig,
};
use stack::{Engine, Instant, PacketBuf};

#[test]
fn device_ownership() {
    let args = EalArgs::ci(256).lcores("0").log_level("notice").build();
    let eal = Eal::init(&args).expect("EAL init");
    let pool = MbufPool::new("own_pool", 1023, 32, 2176).expect("mbuf pool");

    port_claimed_once(&pool);
    queue_handed_out_once(&pool);
    handles_keep_the_device_open(&pool);

    runtime_stops_when_dropped(&pool);
    assert_eq!(pool.direct().in_use(), 0, "every mbuf is back");

    // Last: this hands a runtime's thread the last hold on the EAL.
    runtime_outlives_the_eal_handle(eal, pool);
    assert_eq!(
        Mempool::new("after", 63, 0, 2176).unwrap_err(),
        DpdkError::NotInitialized,
        "the EAL was cleaned up once the runtime's thread let it go"
    );
}

/// Configures and starts port `id` with one queue pair.
fn started(id: u16, pool: &MbufPool) -> Port {
    let mut port = Port::configure(id, &PortConfig::default(), pool).expect("configure");
    port.start().expect("start");
    port.wait_link_up(Duration::from_secs(2)).expect("link up");
    port
}

/// Sends `n` frames from `from` and checks they all arrive at `to`.
fn cross(from: &mut Port, to: &mut Port, n: usize) {
    let mut pool = from.pool().clone();
    let mut out: Vec<Mbuf> = (0..n)
        .map(|i| pool.alloc_with(&[i as u8; 60]).expect("mbuf"))
        .collect();
    assert_eq!(from.tx_burst(0, &mut out), n);
    let mut got = Vec::new();
    assert_eq!(to.rx_burst(0, &mut got, 64), n);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.data(), &[i as u8; 60]);
    }
}

/// A second `Port` of a live port's id is refused, and the id is free
/// again once the first is dropped.
fn port_claimed_once(pool: &MbufPool) {
    let (a, b) = create_ring_pair("own_a", "own_b").expect("ring pair");
    let mut first = started(a, pool);

    let err = Port::configure(a, &PortConfig::default(), pool).unwrap_err();
    assert_eq!(err, DpdkError::PortInUse(a));
    assert!(
        err.to_string()
            .starts_with(&format!("port {a} is already in use")),
        "the message names the port: {err}"
    );
    // The claim is per id: the other end of the pair is another port.
    let mut other = started(b, pool);
    // The refused configure left the live port alone: frames still cross
    // both ways.
    cross(&mut first, &mut other, 16);
    cross(&mut other, &mut first, 16);

    drop(first);
    // The claim went with the port. The device is closed and DPDK has
    // released its id, so configuring it fails, but not for being in use.
    let err = Port::configure(a, &PortConfig::default(), pool).unwrap_err();
    assert_ne!(err, DpdkError::PortInUse(a));
    // A new device takes the lowest free id, the one just released, and
    // configuring it succeeds.
    let (c, d) = create_ring_pair("own_c", "own_d").expect("second ring pair");
    assert_eq!(c, a, "DPDK reuses the released id");
    let mut again = started(c, pool);
    let mut peer = started(d, pool);
    cross(&mut again, &mut peer, 8);
    drop((again, peer, other));
}

/// Each queue's handle is taken once; the port then neither polls that
/// queue nor starts or stops the device until the handle is gone.
fn queue_handed_out_once(pool: &MbufPool) {
    let (a, _) = create_ring_pair("own_e", "own_f").expect("ring pair");
    let mut port = started(a, pool);

    let rx = port.take_rx_queue(0).expect("RX queue 0");
    let tx = port.take_tx_queue(0).expect("TX queue 0");
    assert_eq!((rx.port_id(), rx.queue_id()), (a, 0));
    assert_eq!((tx.port_id(), tx.queue_id()), (a, 0));
    for direction in ["RX", "TX"] {
        let (again, missing) = if direction == "RX" {
            (
                port.take_rx_queue(0).map(drop),
                port.take_rx_queue(1).map(drop),
            )
        } else {
            (
                port.take_tx_queue(0).map(drop),
                port.take_tx_queue(1).map(drop),
            )
        };
        let taken = DpdkError::QueueTaken {
            port: a,
            direction,
            queue: 0,
        };
        assert_eq!(again.unwrap_err(), taken, "{direction}: a second handle");
        assert!(taken.to_string().contains(&format!("{direction} queue 0")));
        assert_eq!(
            missing.unwrap_err(),
            DpdkError::NoSuchQueue {
                port: a,
                direction,
                queue: 1
            },
            "{direction}: a queue the port was not configured with"
        );
    }
    // The port no longer polls the queues it handed out.
    let polled = catch_unwind(AssertUnwindSafe(|| port.rx_burst(0, &mut Vec::new(), 1)));
    assert!(polled.is_err(), "rx_burst on a taken queue panics");
    let sent = catch_unwind(AssertUnwindSafe(|| port.tx_burst(0, &mut Vec::new())));
    assert!(sent.is_err(), "tx_burst on a taken queue panics");
    // A thread may be polling them: the device is neither stopped nor
    // restarted under its feet.
    assert_eq!(port.stop().unwrap_err(), DpdkError::QueuesInUse(a));
    assert_eq!(port.start().unwrap_err(), DpdkError::QueuesInUse(a));
    drop(tx);
    assert_eq!(
        port.stop().unwrap_err(),
        DpdkError::QueuesInUse(a),
        "the RX handle is still out"
    );
    drop(rx);
    port.stop().expect("no handle out: stop");
    port.start().expect("no handle out: start");
    drop(port);
}

/// The handles outlive their port: they keep the device open and its id
/// claimed, and they work from another thread.
fn handles_keep_the_device_open(pool: &MbufPool) {
    let (a, b) = create_ring_pair("own_g", "own_h").expect("ring pair");
    let mut port = started(a, pool);
    let mut peer = started(b, pool);
    let mut rx = port.take_rx_queue(0).expect("RX queue 0");
    let mut tx = port.take_tx_queue(0).expect("TX queue 0");
    drop(port);
    assert_eq!(
        Port::configure(a, &PortConfig::default(), pool).unwrap_err(),
        DpdkError::PortInUse(a),
        "the handles hold the claim"
    );

    // The TX handle sends from its own thread...
    let mut p = pool.clone();
    let frames: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 60 + usize::from(i)]).collect();
    let mut out: Vec<Mbuf> = frames.iter().map(|f| p.alloc_with(f).unwrap()).collect();
    let tx_thread = std::thread::spawn(move || {
        let sent = tx.tx_burst(&mut out);
        (tx, sent)
    });
    let (tx, sent) = tx_thread.join().expect("TX thread");
    assert_eq!(sent, frames.len());
    // ... the peer echoes what arrives ...
    let mut got = Vec::new();
    assert_eq!(peer.rx_burst(0, &mut got, 64), frames.len());
    assert_eq!(peer.tx_burst(0, &mut got), frames.len());
    // ... and the RX handle receives it on another.
    let rx_thread = std::thread::spawn(move || {
        let mut back = Vec::new();
        rx.rx_burst(&mut back, 64);
        let bytes: Vec<Vec<u8>> = back.iter().map(|m| m.data().to_vec()).collect();
        (rx, bytes)
    });
    let (rx, back) = rx_thread.join().expect("RX thread");
    assert_eq!(back, frames);

    drop(tx);
    assert_eq!(
        Port::configure(a, &PortConfig::default(), pool).unwrap_err(),
        DpdkError::PortInUse(a),
        "the RX handle still holds the claim"
    );
    drop(rx);
    // The last handle closed the device and let the id go.
    let err = Port::configure(a, &PortConfig::default(), pool).unwrap_err();
    assert_ne!(err, DpdkError::PortInUse(a));
    drop(peer);
}

/// An application that counts its polls and tells when it is dropped.
struct Probe {
    polls: Arc<AtomicU64>,
    dropped: Arc<AtomicBool>,
}

impl App for Probe {
    fn poll(&mut self, _engine: &mut Engine<MbufPool>, _now: Instant) {
        self.polls.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

/// A one-core runtime on port `port` running a [`Probe`], once it has
/// polled; with the probe's counters.
fn probed_runtime(port: u16, pool: &MbufPool) -> (Runtime, Arc<AtomicU64>, Arc<AtomicBool>) {
    let mut cfg = RuntimeConfig::default();
    cfg.eal.lcores = "0".into();
    cfg.port.rx_ring = 256;
    cfg.port.tx_ring = 256;
    // The test's pool is small: give the engine a limit of its own rather
    // than a share of the pool.
    cfg.engine.memory.limit = Some(64 * 2176);
    let polls = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    let probe = Probe {
        polls: polls.clone(),
        dropped: dropped.clone(),
    };
    let rt = Runtime::start(&cfg, port, pool.clone(), vec![Box::new(probe)]).expect("runtime");
    assert_eq!(rt.cores(), 1);
    let start = Wall::now();
    while polls.load(Ordering::Relaxed) == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "never polled");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        Port::configure(port, &PortConfig::default(), pool).unwrap_err(),
        DpdkError::PortInUse(port),
        "the core holds the port's queues"
    );
    (rt, polls, dropped)
}

/// Dropping a runtime without `join` stops its thread and waits for it:
/// when the drop returns, the application is dropped and polled no more,
/// and the queue handles went with the thread, closing the device.
fn runtime_stops_when_dropped(pool: &MbufPool) {
    let (a, _) = create_ring_pair("own_i", "own_j").expect("ring pair");
    let (rt, polls, dropped) = probed_runtime(a, pool);
    assert!(!dropped.load(Ordering::SeqCst));
    drop(rt);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the thread ended and its application was dropped"
    );
    let after = polls.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        polls.load(Ordering::Relaxed),
        after,
        "nothing polls any more"
    );
    let err = Port::configure(a, &PortConfig::default(), pool).unwrap_err();
    assert_ne!(err, DpdkError::PortInUse(a), "the device was closed");
}

/// A runtime whose thread holds the last hold on the EAL (through its
/// queue handles, its pool and its registration) runs on and ends
/// cleanly: the thread unregisters from the EAL before the EAL goes.
fn runtime_outlives_the_eal_handle(eal: Eal, pool: MbufPool) {
    let (a, _) = create_ring_pair("own_k", "own_l").expect("ring pair");
    let (rt, polls, dropped) = probed_runtime(a, &pool);
    drop((pool, eal));
    let before = polls.load(Ordering::Relaxed);
    let start = Wall::now();
    while polls.load(Ordering::Relaxed) == before {
        assert!(start.elapsed() < Duration::from_secs(10), "polls on");
        std::thread::sleep(Duration::from_millis(1));
    }
    let reports = rt.join().expect("the core ends cleanly");
    assert_eq!(reports.len(), 1);
    assert_ne!(reports[0].lcore_id, u32::MAX, "the core was registered");
    assert!(
        !dropped.load(Ordering::SeqCst),
        "the report holds the probe"
    );
    drop(reports);
    assert!(dropped.load(Ordering::SeqCst));
}
