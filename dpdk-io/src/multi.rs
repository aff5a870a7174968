//! N engines on N lcores: the multi-core runtime.
//!
//! One [`Worker`] (one engine, one application) per EAL lcore, each on its
//! own pinned thread, all on one port. Which core owns a connection is
//! decided by [`Steering`]: with RSS, by the device itself; without RSS,
//! by the same Toeplitz-and-table rule computed in software. Active opens
//! pick their source port with the engine's port selector so that the
//! peer's replies reach the opening core; every core listens, and a
//! passive connection belongs to the core its SYN hashes to.
//!
//! # How frames move
//!
//! - **RSS** (the port reports IPv4/TCP RSS and has N RX and N TX
//!   queues): core `k` polls RX queue `k` and sends on TX queue `k`. The
//!   key and redirection table are read back from the device after it
//!   starts. Frames the NIC cannot hash (ARP, ICMP) arrive on some queue
//!   and are steered like in software mode below (ARP replies copied to
//!   every core, the rest to core 0).
//! - **Software steering** (`net_ring`, `net_memif` and other ports
//!   without RSS): one RX and one TX queue, both polled by core 0, the
//!   I/O core. Core 0 classifies each received frame and pushes the ones
//!   other cores own into a single-producer, single-consumer lock-free
//!   ring (crossbeam [`ArrayQueue`]) per core pair; core `k` drains its
//!   rings instead of a device queue. For transmit, core `k` pushes its
//!   finished frames (mbuf chains, checksums and offload flags set) into
//!   its own ring to core 0, which sends them on the one TX queue at its
//!   next iteration. One TX queue with a single owner needs no lock and
//!   works with every device; the cost is one ring hop per frame.
//!
//! A full ring drops the frame (counted in [`SteerCounts`]), as a full
//! device ring would: TCP retransmits.
//!
//! # Threads
//!
//! Each worker runs on a `std::thread` that registers with the EAL
//! (`rte_thread_register`, giving it an lcore id of its own so the mbuf
//! pool's per-lcore cache works) and pins itself to the CPU of the
//! matching EAL lcore (`sched_setaffinity`). The EAL's own worker-lcore
//! threads are left idle, waiting for a launch that never comes: this way
//! the caller's thread stays free (tests drive a peer on it) and the
//! runtime works the same whether or not the caller is the main lcore.
//! If registration fails (e.g. multi-process mode), the thread runs
//! unregistered: mempools then bypass their cache, slower but correct.
//! The registration is made first in the thread and undone last, and it
//! holds the EAL alive until then: the worker may drop the last queue
//! handle or pool, and with it every other hold on the EAL, and the
//! thread still unregisters before `rte_eal_cleanup` runs.

use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam::queue::ArrayQueue;
use stack::Stats;

use crate::config::RuntimeConfig;
use crate::eal::{Eal, EalToken, ThreadRegistration};
use crate::error::{CoreFailure, DpdkError};
use crate::mbuf::{Mbuf, MbufPool};
use crate::port::{Port, PortConfig, RssConfig, RxQueue, TxQueue};
use crate::runtime::{App, DeviceFacts, FrameIo, LoopStats, Worker};
use crate::steering::{Destination, Steering};

/// Frames each core-to-core ring holds.
const RING_SLOTS: usize = 4096;

/// Forwarded transmit frames core 0 keeps when the device's TX ring is
/// full; beyond this the oldest are dropped.
const TX_FORWARD_BACKLOG: usize = 2048;

/// Frames a burst from the device brings, at most (the scratch vector's
/// starting size).
const BURST: usize = 32;

/// How frames reach their owning core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SteeringMode {
    /// The device spreads flows over N RX queues; one TX queue per core.
    Rss,
    /// One queue pair polled by core 0, which forwards to the other cores
    /// and sends for them.
    Software,
}

/// What one core's steering did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SteerCounts {
    /// Frames this core received from the device.
    pub device_rx: u64,
    /// Frames this core forwarded to other cores (ARP copies included).
    pub forwarded: u64,
    /// Frames other cores forwarded to this core.
    pub received_forwarded: u64,
    /// Frames this core handed to core 0 for transmission.
    pub tx_forwarded: u64,
    /// Frames this core sent on behalf of other cores (core 0).
    pub tx_for_others: u64,
    /// Frames dropped because a ring or the TX backlog was full, or an
    /// ARP copy could not get a buffer.
    pub dropped: u64,
}

/// Live counters behind [`SteerCounts`] (one writer: the core's thread).
#[derive(Debug, Default)]
struct Counters {
    device_rx: AtomicU64,
    forwarded: AtomicU64,
    received_forwarded: AtomicU64,
    tx_forwarded: AtomicU64,
    tx_for_others: AtomicU64,
    dropped: AtomicU64,
}

impl Counters {
    fn add(c: &AtomicU64, n: usize) {
        c.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn snapshot(&self) -> SteerCounts {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SteerCounts {
            device_rx: g(&self.device_rx),
            forwarded: g(&self.forwarded),
            received_forwarded: g(&self.received_forwarded),
            tx_forwarded: g(&self.tx_forwarded),
            tx_for_others: g(&self.tx_for_others),
            dropped: g(&self.dropped),
        }
    }
}

type Ring = Arc<ArrayQueue<Mbuf>>;

/// One core's frame I/O: its device queues (if any) and its rings.
struct SteerIo {
    me: usize,
    pool: MbufPool,
    /// The device queue we poll; `None`: frames come only from `inbound`.
    rx_queue: Option<RxQueue>,
    /// Our TX queue; `None`: hand frames to core 0 through `tx_out`.
    tx_queue: Option<TxQueue>,
    steering: Arc<Steering>,
    /// Rings from each core to us (our own slot unused).
    inbound: Vec<Ring>,
    /// Rings from us to each core (our own slot unused).
    outbound: Vec<Ring>,
    tx_out: Option<Ring>,
    /// Core 0 in software mode: the other cores' transmit rings.
    tx_in: Vec<Ring>,
    tx_pending: Vec<Mbuf>,
    scratch: Vec<Mbuf>,
    counters: Arc<Counters>,
}

impl SteerIo {
    /// Sends the frames other cores handed us (core 0, software mode).
    fn send_for_others(&mut self) {
        let Some(queue) = &mut self.tx_queue else {
            return;
        };
        for ring in &self.tx_in {
            while self.tx_pending.len() < TX_FORWARD_BACKLOG {
                match ring.pop() {
                    Some(m) => self.tx_pending.push(m),
                    None => break,
                }
            }
        }
        if self.tx_pending.is_empty() {
            return;
        }
        let n = queue.tx_burst(&mut self.tx_pending);
        Counters::add(&self.counters.tx_for_others, n);
    }

    fn forward(&self, to: usize, m: Mbuf) {
        match self.outbound[to].push(m) {
            Ok(()) => Counters::add(&self.counters.forwarded, 1),
            Err(_dropped) => Counters::add(&self.counters.dropped, 1),
        }
    }
}

impl FrameIo for SteerIo {
    fn rx(&mut self, out: &mut Vec<Mbuf>, max: usize) -> usize {
        let start = out.len();
        if !self.tx_in.is_empty() {
            self.send_for_others();
        }
        for (from, ring) in self.inbound.iter().enumerate() {
            if from == self.me {
                continue;
            }
            while out.len() - start < max {
                match ring.pop() {
                    Some(m) => out.push(m),
                    None => break,
                }
            }
        }
        Counters::add(&self.counters.received_forwarded, out.len() - start);
        let Some(queue) = &mut self.rx_queue else {
            return out.len() - start;
        };
        let room = max.saturating_sub(out.len() - start);
        if room == 0 {
            return out.len() - start;
        }
        let mut frames = std::mem::take(&mut self.scratch);
        let got = queue.rx_burst(&mut frames, room);
        Counters::add(&self.counters.device_rx, got);
        for m in frames.drain(..) {
            let dest = self.steering.classify_segments(m.segments());
            match dest {
                Destination::Core(k) if k == self.me => out.push(m),
                Destination::Core(k) => self.forward(k, m),
                Destination::All => {
                    let bytes = m.frame_bytes();
                    for k in (0..self.steering.cores()).filter(|&k| k != self.me) {
                        match self.pool.alloc_with(&bytes) {
                            Some(copy) => self.forward(k, copy),
                            None => Counters::add(&self.counters.dropped, 1),
                        }
                    }
                    out.push(m);
                }
            }
        }
        self.scratch = frames;
        out.len() - start
    }

    fn tx(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        if let Some(queue) = &mut self.tx_queue {
            return queue.tx_burst(pkts);
        }
        let ring = self
            .tx_out
            .as_ref()
            .expect("a core without a TX queue has a ring");
        // We are the ring's only producer: the room seen now can only grow.
        let n = (ring.capacity() - ring.len()).min(pkts.len());
        let mut sent = 0;
        for m in pkts.drain(..n) {
            match ring.push(m) {
                Ok(()) => sent += 1,
                Err(_lost) => Counters::add(&self.counters.dropped, 1),
            }
        }
        Counters::add(&self.counters.tx_forwarded, sent);
        sent
    }
}

/// What one core did, handed back by [`Runtime::join`].
pub struct CoreReport {
    /// The core's index (0-based; core 0 is the I/O core in software mode).
    pub core: usize,
    /// The EAL lcore whose CPU the thread was pinned to.
    pub eal_lcore: u32,
    /// The lcore id the thread registered as (`u32::MAX` if unregistered).
    pub lcore_id: u32,
    /// Whether pinning to the lcore's CPU succeeded.
    pub pinned: bool,
    /// The loop's counters.
    pub loop_stats: LoopStats,
    /// The engine's counters.
    pub engine: Stats,
    /// The steering's counters.
    pub steer: SteerCounts,
    /// Connections the engine still held at the end.
    pub connections: usize,
    /// The application, returned to the caller.
    pub app: Box<dyn App + Send>,
}

/// N workers on N lcores over one port; see the module documentation.
///
/// [`Runtime::join`] stops the workers, waits for them and hands back what
/// each did. Dropping the runtime instead stops them too and waits for
/// them, dropping their reports (and so the applications): no worker
/// outlives its runtime.
pub struct Runtime {
    mode: SteeringMode,
    steering: Arc<Steering>,
    stop: Arc<AtomicBool>,
    finished: Vec<Arc<AtomicBool>>,
    counters: Vec<Arc<Counters>>,
    threads: Vec<JoinHandle<Result<CoreReport, CoreFailure>>>,
}

/// The EAL's lcores, in id order (main lcore included). `_eal` shows the
/// EAL is alive.
fn eal_lcores(_eal: &EalToken) -> Vec<u32> {
    let mut out = Vec::new();
    let mut i = u32::MAX;
    loop {
        // SAFETY: a plain iterator over the live EAL's lcore table; -1
        // (as u32::MAX) starts from the first lcore.
        i = unsafe { dpdk_sys::rte_get_next_lcore(i, 0, 0) };
        if i >= dpdk_sys::RTE_MAX_LCORE {
            return out;
        }
        out.push(i);
    }
}

/// Pins the calling thread to the CPU of EAL lcore `lcore`.
fn pin_to_lcore_cpu(lcore: u32) -> bool {
    // SAFETY: a getter on the EAL's lcore table; `lcore` is an EAL lcore.
    let cpu = unsafe { dpdk_sys::rte_lcore_to_cpu_id(lcore as i32) };
    let Ok(cpu) = usize::try_from(cpu) else {
        return false;
    };
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET only write into
    // it, and sched_setaffinity reads size_of::<cpu_set_t>() bytes of it
    // for the calling thread (pid 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

impl Runtime {
    /// Opens port `port_id` for `apps.len()` cores and starts one worker
    /// per EAL lcore, each running one application; `apps.len()` must
    /// equal the number of EAL lcores (`eal.lcores`).
    ///
    /// RSS is used when the port has IPv4/TCP RSS and enough queues,
    /// software steering otherwise (see the module documentation). The
    /// workers run until [`Runtime::stop`]; an application finishing does
    /// not stop its core (core 0 may be moving the others' frames).
    pub fn start(
        cfg: &RuntimeConfig,
        port_id: u16,
        pool: MbufPool,
        apps: Vec<Box<dyn App + Send>>,
    ) -> Result<Runtime, DpdkError> {
        // Held while we set up, and by each core's thread.
        let eal = Eal::token()?;
        let n = apps.len();
        let lcores = eal_lcores(&eal);
        if n == 0 || n != lcores.len() {
            return Err(DpdkError::Config(format!(
                "{n} applications for {} EAL lcores",
                lcores.len()
            )));
        }
        let info = Port::info_of(port_id)?;
        let rss_type = dpdk_sys::RTE_ETH_RSS_NONFRAG_IPV4_TCP;
        let rss = n > 1
            && info.flow_type_rss_offloads & rss_type != 0
            && usize::from(info.max_rx_queues) >= n
            && usize::from(info.max_tx_queues) >= n;
        let queues = if rss { n as u16 } else { 1 };
        let port_cfg = PortConfig {
            rx_queues: queues,
            tx_queues: queues,
            rx_ring_size: cfg.port.rx_ring,
            tx_ring_size: cfg.port.tx_ring,
            tx_offloads: crate::runtime::tx_offloads_for(cfg, info.tx_offload_capa),
            rss: rss.then_some(RssConfig {
                hash_types: rss_type | dpdk_sys::RTE_ETH_RSS_IPV4,
                key: None,
            }),
            ..PortConfig::default()
        };
        let mut port = crate::runtime::start_port(port_id, port_cfg, cfg, &pool)?;
        let mac = port.mac_addr()?;
        let tx_offloads = port.tx_offloads();
        let steering = if rss {
            let (key, _) = port.rss_hash_conf()?;
            let reta = port.rss_reta()?;
            Steering::rss(key, reta, n).ok_or_else(|| {
                DpdkError::Config("the device's RSS key or redirection table is unusable".into())
            })?
        } else {
            Steering::software(n)
        };
        let steering = Arc::new(steering);
        let ring = || Arc::new(ArrayQueue::new(RING_SLOTS));
        // links[from][to]
        let links: Vec<Vec<Ring>> = (0..n).map(|_| (0..n).map(|_| ring()).collect()).collect();
        let tx_links: Vec<Ring> = (0..n).map(|_| ring()).collect();
        // Made before the threads start: should one fail to start, the
        // runtime's drop stops and joins those already running.
        let mut runtime = Runtime {
            mode: if rss {
                SteeringMode::Rss
            } else {
                SteeringMode::Software
            },
            steering: steering.clone(),
            stop: Arc::new(AtomicBool::new(false)),
            finished: Vec::with_capacity(n),
            counters: Vec::with_capacity(n),
            threads: Vec::with_capacity(n),
        };
        for (core, app) in apps.into_iter().enumerate() {
            // With RSS core k owns queue pair k; in software mode core 0
            // owns the one pair and the other cores none.
            let queue = (rss || core == 0).then_some(if rss { core as u16 } else { 0 });
            let io = SteerIo {
                me: core,
                pool: pool.clone(),
                rx_queue: queue.map(|q| port.take_rx_queue(q)).transpose()?,
                tx_queue: queue.map(|q| port.take_tx_queue(q)).transpose()?,
                steering: steering.clone(),
                inbound: links.iter().map(|from| from[core].clone()).collect(),
                outbound: links[core].clone(),
                tx_out: (!rss && core > 0).then(|| tx_links[core].clone()),
                tx_in: if !rss && core == 0 {
                    tx_links[1..].to_vec()
                } else {
                    Vec::new()
                },
                tx_pending: Vec::with_capacity(TX_FORWARD_BACKLOG),
                scratch: Vec::with_capacity(BURST),
                counters: Arc::new(Counters::default()),
            };
            let done = Arc::new(AtomicBool::new(false));
            runtime.finished.push(done.clone());
            runtime.counters.push(io.counters.clone());
            let mut core_cfg = cfg.clone();
            if let Some(p) = &cfg.run.pcap {
                core_cfg.run.pcap = Some(p.with_extension(format!("core{core}.pcap")));
            }
            let (eal, info, pool, stop, lcore) = (
                eal.clone(),
                info.clone(),
                pool.clone(),
                runtime.stop.clone(),
                lcores[core],
            );
            let selector = steering.selector(core);
            let thread = std::thread::Builder::new()
                .name(format!("stack-core{core}"))
                .spawn(move || {
                    // First in, last out: whatever run_core drops, the
                    // thread unregisters before the EAL can go.
                    let registration = ThreadRegistration::register(eal);
                    let device = DeviceFacts {
                        mac,
                        info,
                        tx_offloads,
                    };
                    let report = run_core(
                        core, n, lcore, &core_cfg, device, pool, io, selector, app, &stop, &done,
                    );
                    drop(registration);
                    report
                })
                .map_err(|e| DpdkError::Io(e.to_string()))?;
            runtime.threads.push(thread);
        }
        // The cores hold the queues they poll, and those keep the device
        // open until the last of them ends; the port itself is done with.
        drop(port);
        Ok(runtime)
    }

    /// The port named by `cfg.port.device`, with a pool sized by
    /// `cfg.mempool`, started as [`Runtime::start`] does.
    pub fn from_config(
        cfg: &RuntimeConfig,
        apps: Vec<Box<dyn App + Send>>,
    ) -> Result<Runtime, DpdkError> {
        let m = &cfg.mempool;
        let pool = MbufPool::with_indirect(
            "stack_pool",
            m.mbufs,
            m.indirect_mbufs,
            m.cache,
            m.data_room,
        )?;
        let id = Port::id_by_name(&cfg.port.device)?;
        Runtime::start(cfg, id, pool, apps)
    }

    /// RSS or software steering.
    pub fn mode(&self) -> SteeringMode {
        self.mode
    }

    /// The flow-to-core rule in force.
    pub fn steering(&self) -> &Steering {
        &self.steering
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.threads.len()
    }

    /// The core owning the connection `local` ↔ `remote`.
    pub fn owner(&self, local: SocketAddrV4, remote: SocketAddrV4) -> usize {
        self.steering.owner_of_connection(local, remote)
    }

    /// Whether every core's application reports
    /// [`App::finished`] (or its thread has ended).
    pub fn all_finished(&self) -> bool {
        self.finished.iter().all(|f| f.load(Ordering::Acquire))
    }

    /// The steering counters of each core now.
    pub fn steer_counts(&self) -> Vec<SteerCounts> {
        self.counters.iter().map(|c| c.snapshot()).collect()
    }

    /// Asks every worker to stop (after a last few iterations that let
    /// final FINs and RSTs leave).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Stops the workers and waits for them; the reports come in core
    /// order. The error lists each core whose worker or start failed, or
    /// whose thread panicked.
    pub fn join(mut self) -> Result<Vec<CoreReport>, crate::JoinError> {
        self.stop();
        // Taken, so that the drop that follows has nothing left to join.
        let threads = std::mem::take(&mut self.threads);
        let mut reports = Vec::with_capacity(threads.len());
        let mut failures = Vec::new();
        for (core, t) in threads.into_iter().enumerate() {
            match t.join() {
                Ok(Ok(r)) => reports.push(r),
                Ok(Err(e)) => failures.push((core, e)),
                Err(_) => failures.push((core, CoreFailure::Panicked)),
            }
        }
        if failures.is_empty() {
            Ok(reports)
        } else {
            Err(crate::JoinError { failures })
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop();
        for t in self.threads.drain(..) {
            // A core that failed or panicked has nothing left to stop.
            let _ = t.join();
        }
    }
}

/// One core's thread, registered with the EAL: pin, build the worker,
/// loop until `stop`.
#[allow(clippy::too_many_arguments)]
fn run_core(
    core: usize,
    engines: usize,
    eal_lcore: u32,
    cfg: &RuntimeConfig,
    device: DeviceFacts,
    pool: MbufPool,
    io: SteerIo,
    selector: stack::PortSelector,
    mut app: Box<dyn App + Send>,
    stop: &AtomicBool,
    done: &AtomicBool,
) -> Result<CoreReport, CoreFailure> {
    let pinned = pin_to_lcore_cpu(eal_lcore);
    let counters = io.counters.clone();
    let result = (|| {
        let mut worker = Worker::with_io(cfg, device, Box::new(io), pool, engines)
            .map_err(CoreFailure::Worker)?;
        worker.engine.set_port_selector(Some(selector));
        let lcore_id = crate::eal::lcore_id();
        let result = app.start(&mut worker.engine);
        if let Err(e) = result {
            done.store(true, Ordering::Release);
            return Err(CoreFailure::Start(e));
        }
        while !stop.load(Ordering::Acquire) {
            let moved = worker.iterate(&mut *app);
            if !done.load(Ordering::Relaxed) && app.finished() {
                done.store(true, Ordering::Release);
            }
            if moved == 0 && cfg.run.idle_yield {
                std::thread::yield_now();
            }
        }
        // Let queued frames (a final FIN or RST, other cores' frames)
        // leave.
        for _ in 0..256 {
            if worker.iterate(&mut *app) == 0 {
                std::thread::yield_now();
            }
        }
        worker.flush_pcap();
        Ok(CoreReport {
            core,
            eal_lcore,
            lcore_id,
            pinned,
            loop_stats: worker.stats.clone(),
            engine: worker.engine.stats().clone(),
            steer: counters.snapshot(),
            connections: worker.engine.connection_count(),
            app,
        })
    })();
    done.store(true, Ordering::Release);
    result
}
