//! The per-core runtime: one engine on one RX/TX queue pair, driven in a
//! run-to-completion loop.
//!
//! Each iteration: RX burst (up to `loop.burst` frames) ->
//! `handle_rx_burst` -> `handle_timeouts` -> the application's
//! [`App::poll`] (in the same thread: no hop, best latency) ->
//! `poll_transmit_burst` -> TX burst, until the engine has nothing more or
//! the iteration's budget is spent. Time is read from the TSC once per
//! iteration; transmit is flushed at the end of every iteration (no
//! batching delay).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use stack::{BufferPool, Engine, EngineConfig, Instant, RxFrame, Transmit};

use crate::clock::TscClock;
use crate::config::RuntimeConfig;
use crate::error::DpdkError;
use crate::fault::{FaultConfig, FaultInjector, FaultStats};
use crate::mbuf::{Mbuf, MbufPool};
use crate::pcap::PcapWriter;
use crate::port::{Port, PortConfig, PortInfo};

/// Application code that runs inside the engine's loop (run-to-completion
/// integration). It owns no thread: the loop calls it once per iteration,
/// after received frames and timers were handled, and it reacts to
/// `engine.poll_event()` and calls the engine's API directly.
///
/// Generic over the engine's buffers: the DPDK loop runs `App` (on
/// mbufs), and an application written for any `P` runs as well on an
/// engine over heap buffers (a simulator, a test).
pub trait App<P: BufferPool = MbufPool> {
    /// Called once before the first iteration (listen, connect ...).
    fn start(&mut self, engine: &mut Engine<P>) -> Result<(), crate::AppError> {
        let _ = engine;
        Ok(())
    }

    /// Called every iteration with the iteration's time.
    fn poll(&mut self, engine: &mut Engine<P>, now: Instant);

    /// Whether the application has finished (the loop then stops).
    fn finished(&self) -> bool {
        false
    }

    /// A summary to print when the loop ends (JSON for the bulk transfer).
    fn report(&self) -> Option<String> {
        None
    }
}

/// Counters of the loop itself (the engine keeps its own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoopStats {
    /// Iterations run.
    pub iterations: u64,
    /// Frames received from the port.
    pub rx_frames: u64,
    /// Receive polls that returned frames (`rx_frames / rx_bursts` is the
    /// mean receive burst).
    pub rx_bursts: u64,
    /// Frames handed to the port.
    pub tx_frames: u64,
    /// Transmit bursts the port took frames from (`tx_frames / tx_bursts`
    /// is the mean transmit burst).
    pub tx_bursts: u64,
    /// Transmit bursts the port did not take whole (its ring was full):
    /// the rest waited for the next try.
    pub tx_ring_full: u64,
    /// TSC cycles spent in iterations that moved at least one frame: with
    /// the engine's segment counts, the cost of a segment on this core.
    pub busy_cycles: u64,
    /// Frames the port did not take after retrying (TX ring full).
    pub tx_dropped: u64,
    /// Frames of several segments from the engine handed to the device
    /// whole, for its TCP segmentation offload to cut.
    pub tx_tso_frames: u64,
    /// Frames of several segments cut in software.
    pub tx_cut_frames: u64,
    /// Frames made by cutting them.
    pub tx_cut_segments: u64,
    /// Frames of several segments not cut (or not wholly) for want of a
    /// buffer: their segments are lost, as on the wire.
    pub tx_cut_failed: u64,
    /// Frames written to the pcap file.
    pub pcap_frames: u64,
    /// Received frames that came as a chain of mbufs and were copied into
    /// one for the engine, which reads a frame from one segment. net_ring
    /// passes the sender's chains through as they are; net_memif chains a
    /// frame larger than one mbuf of the pool.
    pub rx_linearized: u64,
    /// Bytes copied by that.
    pub rx_linearized_bytes: u64,
    /// Received frames dropped for want of a buffer to linearize into, or
    /// (raw reflection) to write into.
    pub rx_no_buffer: u64,
    /// Received chains longer than one mbuf of the pool holds (frames
    /// beyond the MTU the pool is sized for), dropped.
    pub rx_too_long: u64,
    /// RX polls made while the pool had fewer free mbufs than a burst:
    /// the device may have dropped frames for want of a buffer (its own
    /// count is `port.rx_nombuf`, or `port.imissed` where the kernel or
    /// the NIC drops them). Zero while connections keep to their memory
    /// limit.
    pub rx_pool_short: u64,
    /// Raw benchmark frames counted and dropped.
    pub raw_sunk: u64,
    /// Frames the device marked with a bad IPv4 or TCP checksum, dropped.
    pub rx_bad_checksum: u64,
    /// Times the heap's free memory went back to the system after many
    /// connections had gone (`malloc_trim`).
    pub heap_trims: u64,
}

/// Connections the engine must have held before their going makes the
/// loop hand freed heap memory back to the system.
const TRIM_AFTER_CONNECTIONS: usize = 1024;

/// The IPv4 and TCP transmit checksum offloads.
const TX_CKSUM: u64 =
    dpdk_sys::RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | dpdk_sys::RTE_ETH_TX_OFFLOAD_TCP_CKSUM;

/// The transmit offloads to configure a port with, of the ones it offers
/// (`capa`): chained frames (the payload parts follow the headers),
/// checksums with `engine.offload.tx_checksum`, and TSO as well with
/// `engine.offload.tx_segmentation` (a device without it gets frames cut
/// in software).
pub(crate) fn tx_offloads_for(cfg: &RuntimeConfig, capa: u64) -> u64 {
    let mut offloads = capa & dpdk_sys::RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
    let offload = &cfg.engine.offload;
    if offload.tx_checksum && capa & TX_CKSUM == TX_CKSUM {
        offloads |= TX_CKSUM;
        if offload.tx_segmentation && capa & dpdk_sys::RTE_ETH_TX_OFFLOAD_TCP_TSO != 0 {
            offloads |= dpdk_sys::RTE_ETH_TX_OFFLOAD_TCP_TSO;
        }
    }
    offloads
}

/// The device's RX checksum offloads the worker uses when offered.
const RX_CKSUM: u64 =
    dpdk_sys::RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | dpdk_sys::RTE_ETH_RX_OFFLOAD_TCP_CKSUM;

/// What a device's RX checksum flags say about a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RxChecksum {
    /// Both the IPv4 and the TCP checksum were checked and are right.
    Good,
    /// One of them was checked and is wrong.
    Bad,
    /// Not (fully) checked: the engine verifies in software.
    Unknown,
}

/// Reads `RTE_MBUF_F_RX_IP_CKSUM_*` and `RTE_MBUF_F_RX_L4_CKSUM_*`.
pub(crate) fn rx_checksum_verdict(ol_flags: u64) -> RxChecksum {
    use dpdk_sys::{
        RTE_MBUF_F_RX_IP_CKSUM_BAD as IP_BAD, RTE_MBUF_F_RX_IP_CKSUM_GOOD as IP_GOOD,
        RTE_MBUF_F_RX_IP_CKSUM_MASK as IP_MASK, RTE_MBUF_F_RX_L4_CKSUM_BAD as L4_BAD,
        RTE_MBUF_F_RX_L4_CKSUM_GOOD as L4_GOOD, RTE_MBUF_F_RX_L4_CKSUM_MASK as L4_MASK,
    };
    let (ip, l4) = (ol_flags & IP_MASK, ol_flags & L4_MASK);
    if ip == IP_BAD || l4 == L4_BAD {
        RxChecksum::Bad
    } else if ip == IP_GOOD && l4 == L4_GOOD {
        RxChecksum::Good
    } else {
        RxChecksum::Unknown
    }
}

/// Most frames built per iteration, in RX bursts' worth.
const TX_BUDGET_BURSTS: usize = 4;

/// How long [`Worker::run`] keeps iterating after the application
/// finished or the stop flag was set.
const EXIT_GRACE: Duration = Duration::from_millis(100);

/// Frames kept for the next TX burst when the ring is full; beyond this
/// the oldest are dropped (and counted) rather than holding mbufs forever.
pub(crate) const TX_BACKLOG: usize = 1024;

/// Where a worker's frames come from and go to when it does not poll a
/// queue of a port it owns: the multi-core runtime's steering
/// ([`crate::multi`]), over the queue handles its core holds.
pub(crate) trait FrameIo: Send {
    /// Appends up to `max` received frames to `out`; returns how many.
    fn rx(&mut self, out: &mut Vec<Mbuf>, max: usize) -> usize;
    /// Sends frames from the front of `pkts`, removing the sent ones (the
    /// rest stay, in order); returns how many were sent.
    fn tx(&mut self, pkts: &mut Vec<Mbuf>) -> usize;
}

/// Where a worker's frames come from and go to.
enum Io {
    /// Queue 0 of a port the worker owns.
    Port(Port),
    /// A core of a multi-core runtime: its steering, over the queue
    /// handles that core holds (if any).
    Steered(Box<dyn FrameIo>),
}

/// Why a worker without a port of its own is never asked for it: the
/// multi-core runtime makes such workers inside its threads and hands
/// them to no one.
const STEERED: &str = "a multi-core runtime's worker has no port and never leaves its thread";

/// What a worker of a multi-core runtime, which holds no [`Port`], needs
/// to know of the device to set its engine up.
pub(crate) struct DeviceFacts {
    /// The port's MAC address.
    pub mac: [u8; 6],
    /// The port's capabilities.
    pub info: PortInfo,
    /// The transmit offloads the port was configured with.
    pub tx_offloads: u64,
}

/// One engine on one queue of one port.
pub struct Worker {
    /// The engine (the application may also reach it through [`App`]).
    pub engine: Engine<MbufPool>,
    io: Io,
    /// The queue polled when `io` is a port.
    queue: u16,
    pool: MbufPool,
    clock: TscClock,
    burst: usize,
    pcap: Option<PcapWriter>,
    fault_rx: Option<FaultInjector>,
    fault_tx: Option<FaultInjector>,
    tx_offload: bool,
    /// The device cuts frames of several segments (TSO); else the loop
    /// does ([`stack::segment::cut`]).
    tso: bool,
    /// The longest segment (headers and payload, Ethernet header
    /// included) the device's TSO makes: net_tap in DPDK 22.11 refuses a
    /// TSO frame whose segments with their Ethernet header exceed the MTU,
    /// so there frames of full-sized segments are cut in the loop.
    tso_segment_limit: usize,
    /// The segments of a frame being cut.
    cut: Vec<Transmit<Mbuf>>,
    /// The port verifies received checksums (RX offload enabled).
    rx_offload: bool,
    idle_yield: bool,
    /// Frames of the first EtherType are reflected to their sender, of the
    /// second counted and dropped, bypassing the engine (the raw no-TCP
    /// baseline of the benchmarks).
    raw_ethertypes: Option<(u16, u16)>,
    rx: Vec<Mbuf>,
    /// The received frames the engine takes in one call.
    rx_burst: Vec<RxFrame<Mbuf>>,
    /// The frames the engine hands out in one call.
    tx_burst: Vec<Transmit<Mbuf>>,
    tx: Vec<Mbuf>,
    /// The most connections held since the heap was last trimmed.
    conns_peak: usize,
    /// `loop.stats_interval_ms`, if not 0.
    stats_every: Option<Duration>,
    /// What the loop did.
    pub stats: LoopStats,
}

/// 16 random bytes for the engine's secret (RFC 6528 ISNs, RFC 6056
/// ports), from the operating system.
pub fn random_secret() -> io::Result<[u8; 16]> {
    use std::io::Read;
    let mut s = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut s)?;
    Ok(s)
}

impl Worker {
    /// A worker on queue 0 of `port`, set up from `cfg`: the engine takes
    /// the port's MAC address if `port.use_port_mac`, and the TX checksum
    /// and segmentation offloads the port was configured with.
    pub fn new(cfg: &RuntimeConfig, port: Port, pool: MbufPool) -> Result<Worker, DpdkError> {
        let device = DeviceFacts {
            mac: port.mac_addr()?,
            info: port.info()?,
            tx_offloads: port.tx_offloads(),
        };
        Worker::build(cfg, Io::Port(port), device, pool, 1)
    }

    /// A worker of a multi-core runtime: `io` moves its frames, over the
    /// queue handles of `device` its core holds. `engines` is how many
    /// workers share `pool` (each gets its share of the memory limit).
    pub(crate) fn with_io(
        cfg: &RuntimeConfig,
        device: DeviceFacts,
        io: Box<dyn FrameIo>,
        pool: MbufPool,
        engines: usize,
    ) -> Result<Worker, DpdkError> {
        Worker::build(cfg, Io::Steered(io), device, pool, engines)
    }

    fn build(
        cfg: &RuntimeConfig,
        io: Io,
        device: DeviceFacts,
        pool: MbufPool,
        engines: usize,
    ) -> Result<Worker, DpdkError> {
        let direct = pool.direct();
        let mut engine_cfg: EngineConfig = cfg
            .engine_for(engines, direct.size() as usize, direct.data_room())
            .map_err(DpdkError::Config)?;
        if cfg.port.use_port_mac {
            engine_cfg.mac = stack::wire::EthernetAddress(device.mac);
        }
        // Frames ask the device only for what the port was configured
        // with.
        let enabled = device.tx_offloads;
        let tx_offload = engine_cfg.offload.tx_checksum && enabled & TX_CKSUM == TX_CKSUM;
        engine_cfg.offload.tx_checksum = tx_offload;
        let tso = tx_offload
            && engine_cfg.offload.tx_segmentation
            && enabled & dpdk_sys::RTE_ETH_TX_OFFLOAD_TCP_TSO != 0;
        let tso_segment_limit = if device.info.driver == "net_tap" {
            usize::from(engine_cfg.mtu)
        } else {
            usize::MAX
        };
        // RX offload is decided per frame from the mbuf's flags (a device
        // may not check every frame), never for the engine as a whole.
        let rx_capa = device.info.rx_offload_capa;
        let rx_offload = engine_cfg.offload.rx_checksum && rx_capa & RX_CKSUM == RX_CKSUM;
        engine_cfg.offload.rx_checksum = false;
        let secret = random_secret().map_err(|e| DpdkError::Io(e.to_string()))?;
        let clock = TscClock::start_now();
        let engine = Engine::new(engine_cfg, pool.clone(), secret, clock.now())
            .map_err(|e| DpdkError::Config(e.to_string()))?;
        let pcap = match &cfg.run.pcap {
            Some(path) => Some(
                PcapWriter::create(path)
                    .map_err(|e| DpdkError::Io(format!("{}: {e}", path.display())))?,
            ),
            None => None,
        };
        let fault = cfg.fault.clone().unwrap_or_else(|| FaultConfig {
            direction: crate::fault::FaultDirection::Both,
            ..FaultConfig::default()
        });
        let faulty = cfg.fault.is_some();
        Ok(Worker {
            engine,
            io,
            queue: 0,
            pool,
            clock,
            burst: usize::from(cfg.run.burst),
            pcap,
            fault_rx: faulty.then(|| FaultInjector::new(&fault, true)).flatten(),
            fault_tx: faulty.then(|| FaultInjector::new(&fault, false)).flatten(),
            tx_offload,
            tso,
            tso_segment_limit,
            cut: Vec::with_capacity(stack::MAX_PAYLOAD_PARTS),
            rx_offload,
            idle_yield: cfg.run.idle_yield,
            raw_ethertypes: None,
            conns_peak: 0,
            stats_every: (cfg.run.stats_interval_ms > 0)
                .then(|| Duration::from_millis(cfg.run.stats_interval_ms)),
            rx: Vec::with_capacity(usize::from(cfg.run.burst)),
            rx_burst: Vec::with_capacity(usize::from(cfg.run.burst)),
            tx_burst: Vec::with_capacity(usize::from(cfg.run.burst)),
            tx: Vec::with_capacity(TX_BACKLOG),
            stats: LoopStats::default(),
        })
    }

    /// Configures and starts port `port_id` as `cfg` says (one queue pair,
    /// the MTU `engine.mtu`, TX checksum offload if the port has it and
    /// `engine.offload.tx_checksum` asks for it), waits up to `port.link_timeout_ms` for its link, and
    /// makes a worker on it. A link still down then is not an error (a
    /// memif server's link comes up when its client connects): frames flow
    /// once it is up, and [`Worker::link_up`] tells.
    pub fn open(cfg: &RuntimeConfig, port_id: u16, pool: MbufPool) -> Result<Worker, DpdkError> {
        let info = Port::info_of(port_id)?;
        let tx_offloads = tx_offloads_for(cfg, info.tx_offload_capa);
        let rx_offloads =
            if cfg.engine.offload.rx_checksum && info.rx_offload_capa & RX_CKSUM == RX_CKSUM {
                RX_CKSUM
            } else {
                0
            };
        let port_cfg = PortConfig {
            rx_ring_size: cfg.port.rx_ring,
            tx_ring_size: cfg.port.tx_ring,
            tx_offloads,
            rx_offloads,
            ..PortConfig::default()
        };
        let port = start_port(port_id, port_cfg, cfg, &pool)?;
        Worker::new(cfg, port, pool)
    }

    /// The port named by `cfg.port.device`, opened as [`Worker::open`] does,
    /// with a pool sized by `cfg.mempool`.
    pub fn from_config(cfg: &RuntimeConfig) -> Result<Worker, DpdkError> {
        let m = &cfg.mempool;
        let pool = MbufPool::with_indirect(
            "stack_pool",
            m.mbufs,
            m.indirect_mbufs,
            m.cache,
            m.data_room,
        )?;
        let id = Port::id_by_name(&cfg.port.device)?;
        Worker::open(cfg, id, pool)
    }

    /// Whether the port's link is up now.
    pub fn link_up(&self) -> bool {
        self.port().link().is_ok_and(|l| l.up)
    }

    /// The port.
    pub fn port(&self) -> &Port {
        match &self.io {
            Io::Port(p) => p,
            Io::Steered(_) => unreachable!("{STEERED}"),
        }
    }

    /// The port, for raw access between iterations (benchmark baselines).
    /// Taking one of its queues' handles leaves the worker without it:
    /// [`Worker::iterate`] then panics.
    pub fn port_mut(&mut self) -> &mut Port {
        match &mut self.io {
            Io::Port(p) => p,
            Io::Steered(_) => unreachable!("{STEERED}"),
        }
    }

    /// The mbuf pool.
    pub fn pool(&self) -> &MbufPool {
        &self.pool
    }

    /// The clock's current time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// What the fault injectors did (receive, transmit).
    pub fn fault_stats(&self) -> (Option<&FaultStats>, Option<&FaultStats>) {
        (
            self.fault_rx.as_ref().map(|f| &f.stats),
            self.fault_tx.as_ref().map(|f| &f.stats),
        )
    }

    /// One iteration of the loop. Returns the number of frames moved (0
    /// means the iteration was idle).
    pub fn iterate(&mut self, app: &mut dyn App) -> usize {
        let start = crate::rdtsc();
        let now = self.clock.at(start);
        self.stats.iterations += 1;
        if (self.pool.direct().available_here() as usize) < self.burst {
            self.stats.rx_pool_short += 1;
        }
        match &mut self.io {
            Io::Port(p) => p.rx_burst(self.queue, &mut self.rx, self.burst),
            Io::Steered(io) => io.rx(&mut self.rx, self.burst),
        };
        let received = self.rx.len();
        if received > 0 {
            self.stats.rx_frames += received as u64;
            self.stats.rx_bursts += 1;
        }
        if let Some(f) = &mut self.fault_rx {
            f.apply(now, &mut self.rx, &mut self.pool);
        }
        let mut frames = std::mem::take(&mut self.rx);
        let mut burst = std::mem::take(&mut self.rx_burst);
        for m in frames.drain(..) {
            if let Some(m) = self.prepare_rx(m) {
                burst.push(m);
            }
        }
        self.rx = frames;
        if !burst.is_empty() {
            self.engine.handle_rx_burst(now, burst.drain(..));
        }
        self.rx_burst = burst;
        self.engine.handle_timeouts(now);
        app.poll(&mut self.engine, now);
        // A budget per iteration: a connection with much to send cannot
        // keep the loop from coming back to receive.
        let budget = TX_BUDGET_BURSTS * self.burst;
        // Both counted in segments: a frame of several takes room for
        // all it stands for.
        let per_frame = self.engine.segments_per_frame();
        let mut sent = 0;
        let mut out = std::mem::take(&mut self.tx_burst);
        while sent < budget {
            let room = (self.burst.min(budget - sent) / per_frame).max(1);
            if self.engine.poll_transmit_burst(now, &mut out, room) == 0 {
                break;
            }
            for t in out.drain(..) {
                sent += t.segment_count();
                self.queue_transmit(t);
            }
            self.flush(now);
        }
        self.tx_burst = out;
        self.flush(now);
        self.trim_heap();
        if received + sent > 0 {
            self.stats.busy_cycles += crate::rdtsc().saturating_sub(start);
        }
        received + sent
    }

    /// What the loop does to a received frame before the engine sees it:
    /// the pcap, the raw benchmark frames, chains made flat, the device's
    /// checksum verdict. `None` when the frame went no further.
    fn prepare_rx(&mut self, m: Mbuf) -> Option<RxFrame<Mbuf>> {
        if let Some(p) = &mut self.pcap {
            let _ = p.write(m.segments());
            self.stats.pcap_frames += 1;
        }
        let m = self.reflect(m)?;
        // The engine reads a frame from one segment: a chain is copied
        // into one mbuf, or dropped, never handed on as if its first
        // segment were the frame.
        let m = if m.nb_segs() > 1 {
            self.linearize(&m)?
        } else {
            m
        };
        let checksums_verified = match self.rx_offload.then(|| rx_checksum_verdict(m.ol_flags())) {
            Some(RxChecksum::Good) => true,
            Some(RxChecksum::Bad) => {
                self.stats.rx_bad_checksum += 1;
                return None;
            }
            _ => false,
        };
        Some(RxFrame {
            buf: m,
            checksums_verified,
        })
    }

    /// Connections live in the heap (one allocation each, plus their
    /// queues): after many have gone, the allocator keeps the pages unless
    /// told. When the count falls to half a peak of at least
    /// [`TRIM_AFTER_CONNECTIONS`], the free pages go back to the system
    /// (a few milliseconds, once per such fall, never per connection).
    fn trim_heap(&mut self) {
        let n = self.engine.connection_count();
        if n > self.conns_peak {
            self.conns_peak = n;
        } else if self.conns_peak >= TRIM_AFTER_CONNECTIONS && n <= self.conns_peak / 2 {
            // SAFETY: malloc_trim only walks the allocator's own free
            // lists; it takes no pointer of ours.
            unsafe { libc::malloc_trim(0) };
            self.stats.heap_trims += 1;
            tracing::debug!(
                target: "dpdk_io::loop",
                connections = n,
                peak = self.conns_peak,
                "heap trimmed"
            );
            self.conns_peak = n;
        }
    }

    /// Frames of EtherType `reflect` go straight back to their sender (MAC
    /// addresses swapped) and frames of EtherType `sink` are counted and
    /// dropped, instead of reaching the engine: the other end measures the
    /// raw device round trip and packet rate with them.
    pub fn raw_ethertypes(&mut self, reflect_and_sink: Option<(u16, u16)>) {
        self.raw_ethertypes = reflect_and_sink;
    }

    /// Reflects `m` if it is a raw benchmark frame (consuming it), else
    /// hands it back.
    fn reflect(&mut self, mut m: Mbuf) -> Option<Mbuf> {
        use stack::PacketBuf;
        let Some((reflect, sink)) = self.raw_ethertypes else {
            return Some(m);
        };
        let ethertype = m
            .data()
            .get(12..14)
            .map(|t| u16::from_be_bytes([t[0], t[1]]));
        if ethertype == Some(sink) {
            self.stats.raw_sunk += 1;
            return None;
        }
        if ethertype != Some(reflect) {
            return Some(m);
        }
        match m.data_mut() {
            Some(bytes) => {
                let (dst, src) = bytes.split_at_mut(6);
                dst.swap_with_slice(&mut src[..6]);
                self.tx.push(m);
            }
            None => self.stats.rx_no_buffer += 1,
        }
        None
    }

    /// The frame of the chain `m` copied into one mbuf of the pool (its
    /// receive flags are not carried over: the engine checks the copy's
    /// checksums itself), counted in `rx_linearized`. `None`, counted, when
    /// the frame is longer than an mbuf holds (`rx_too_long`) or the pool
    /// has no mbuf (`rx_no_buffer`). The length is the segments' sum, not
    /// the head's `pkt_len`, which a broken chain could misstate.
    fn linearize(&mut self, m: &Mbuf) -> Option<Mbuf> {
        use stack::{BufferPool, PacketBuf};
        let len: usize = m.segments().map(<[u8]>::len).sum();
        let room = usize::from(self.pool.direct().data_room())
            .saturating_sub(dpdk_sys::RTE_PKTMBUF_HEADROOM as usize);
        if len > room {
            self.stats.rx_too_long += 1;
            return None;
        }
        let Some(mut flat) = self.pool.alloc() else {
            self.stats.rx_no_buffer += 1;
            return None;
        };
        let Some(out) = flat.append(len) else {
            // A pool whose mbufs have less headroom or room than asked.
            self.stats.rx_too_long += 1;
            return None;
        };
        let mut at = 0;
        for seg in m.segments() {
            out[at..at + seg.len()].copy_from_slice(seg);
            at += seg.len();
        }
        self.stats.rx_linearized += 1;
        self.stats.rx_linearized_bytes += len as u64;
        Some(flat)
    }

    /// Queues the frames of `t` for the port: `t` itself, or with several
    /// segments and no TSO, the frames it is cut into.
    fn queue_transmit(&mut self, t: Transmit<Mbuf>) {
        let Some(size) = t.segment_size else {
            return self.queue_frame(t);
        };
        if self.tso && usize::from(size) + stack::PacketBuf::len(&t.head) <= self.tso_segment_limit
        {
            return self.queue_frame(t);
        }
        let mut pieces = std::mem::take(&mut self.cut);
        match stack::segment::cut(t, &mut self.pool, |piece| pieces.push(piece)) {
            Ok(_) => self.stats.tx_cut_frames += 1,
            Err(_) => self.stats.tx_cut_failed += 1,
        }
        self.stats.tx_cut_segments += pieces.len() as u64;
        for piece in pieces.drain(..) {
            self.queue_frame(piece);
        }
        self.cut = pieces;
    }

    fn queue_frame(&mut self, t: Transmit<Mbuf>) {
        let Some(m) = self.frame(t) else {
            return;
        };
        if let Some(p) = &mut self.pcap {
            let _ = p.write(m.segments());
            self.stats.pcap_frames += 1;
        }
        self.tx.push(m);
    }

    /// Turns a transmit into one mbuf chain (headers, then the shared
    /// payload parts) with offload flags set when the device fills
    /// checksums or cuts segments. `None` (counted as dropped) if the
    /// chain cannot take the parts, which only a chain of 65,535 segments
    /// could refuse.
    fn frame(&mut self, t: Transmit<Mbuf>) -> Option<Mbuf> {
        let mut head = t.head;
        match t.segment_size {
            Some(size) if self.tso => {
                if !prepare_tso(&mut head, size) {
                    self.stats.tx_dropped += 1;
                    return None;
                }
                self.stats.tx_tso_frames += 1;
            }
            _ if t.checksum_offload && self.tx_offload => {
                head.request_tcp_checksum_offload(14, 20);
            }
            _ => {}
        }
        for part in t.payload {
            if head.chain(part).is_err() {
                self.stats.tx_dropped += 1;
                return None;
            }
        }
        Some(head)
    }

    fn flush(&mut self, now: Instant) {
        if let Some(f) = &mut self.fault_tx {
            f.apply(now, &mut self.tx, &mut self.pool);
        }
        if self.tx.is_empty() {
            return;
        }
        let n = match &mut self.io {
            Io::Port(p) => p.tx_burst(self.queue, &mut self.tx),
            Io::Steered(io) => io.tx(&mut self.tx),
        };
        self.stats.tx_frames += n as u64;
        if n > 0 {
            self.stats.tx_bursts += 1;
        }
        if !self.tx.is_empty() {
            self.stats.tx_ring_full += 1;
        }
        if self.tx.len() > TX_BACKLOG - self.burst {
            let excess = self.tx.len() - (TX_BACKLOG - self.burst);
            self.tx.drain(..excess);
            self.stats.tx_dropped += excess as u64;
        }
    }

    /// Runs until `stop` is set or the application finishes, spinning
    /// (a poll-mode loop uses its core fully). Calls `app.start` first.
    pub fn run(&mut self, app: &mut dyn App, stop: &AtomicBool) -> Result<(), crate::RunError> {
        // Every event of the loop and its engine is inside this span.
        let _span = tracing::info_span!(
            "stack",
            address = %self.engine.config().address,
            lcore = crate::eal::lcore_id()
        )
        .entered();
        app.start(&mut self.engine)
            .map_err(crate::RunError::Start)?;
        tracing::info!(
            target: "dpdk_io::loop",
            address = %self.engine.config().address,
            mac = %self.engine.config().mac,
            "loop running"
        );
        let mut next_stats = self.stats_every.map(|d| self.clock.now() + d);
        while !stop.load(Ordering::Relaxed) && !app.finished() {
            if self.iterate(app) == 0 && self.idle_yield {
                std::thread::yield_now();
            }
            if let (Some(at), Some(every)) = (next_stats, self.stats_every) {
                let now = self.clock.now();
                if now >= at {
                    self.print_stats();
                    next_stats = Some(now + every);
                }
            }
        }
        tracing::info!(target: "dpdk_io::loop", iterations = self.stats.iterations, "loop stopping");
        // Keep the loop alive a little: the last frames (an ACK of the
        // peer's FIN, a RST) must leave, and a device that goes away with
        // the process (a memif client) must not take them with it before
        // the peer has read them.
        let end = self.clock.now() + EXIT_GRACE;
        while self.clock.now() < end {
            if self.iterate(app) == 0 && self.idle_yield {
                std::thread::yield_now();
            }
        }
        if let Some(p) = &mut self.pcap {
            let _ = p.flush();
        }
        Ok(())
    }

    /// One JSON line on standard error with the engine's and the loop's
    /// counters (`loop.stats_interval_ms`).
    fn print_stats(&self) {
        let line = serde_json::json!({
            "stats": { "engine": self.engine.stats(), "loop": &self.stats }
        });
        eprintln!("{line}");
    }

    /// Runs iterations for `d` of wall time (tests and tools).
    pub fn run_for(&mut self, app: &mut dyn App, d: Duration) {
        let end = self.clock.now() + d;
        while self.clock.now() < end {
            self.iterate(app);
        }
    }

    /// Flushes the pcap file (also done when `run` returns).
    pub fn flush_pcap(&mut self) {
        if let Some(p) = &mut self.pcap {
            let _ = p.flush();
        }
    }
}

/// Configures and starts a port with the MTU `cfg` asks for (see
/// [`port_mtu`]), turns promiscuous mode on if asked (not every vdev has
/// it; a port without still works for frames addressed to it), and waits
/// up to `port.link_timeout_ms` for the link: a link still down then is
/// not an error (a memif server's comes up when its client connects). The
/// single-core [`Worker::open`] and the multi-core [`crate::Runtime`]
/// both start their port here.
/// Marks the header buffer `head` (Ethernet, IPv4 of 20 bytes, TCP) of a
/// frame of several segments for the device's TSO, and writes what TSO
/// wants in the TCP checksum field: the pseudo-header sum without the
/// length. False if the headers are not that.
fn prepare_tso(head: &mut Mbuf, segment_size: u16) -> bool {
    use stack::wire::checksum::{fold, pseudo_header_sum};
    use stack::PacketBuf;
    const L4: usize = 14 + 20;
    let Some(h) = head.data_mut() else {
        return false;
    };
    let Some(l4_len) = h.len().checked_sub(L4).and_then(|n| u8::try_from(n).ok()) else {
        return false;
    };
    if l4_len < 20 {
        return false;
    }
    let ip = stack::wire::Ipv4Packet::new_unchecked(&h[14..]);
    let sum = fold(pseudo_header_sum(ip.src_addr(), ip.dst_addr(), 6, 0));
    h[L4 + 16..L4 + 18].copy_from_slice(&sum.to_be_bytes());
    head.request_tcp_segmentation(14, 20, l4_len, segment_size);
    true
}

pub(crate) fn start_port(
    port_id: u16,
    port_cfg: PortConfig,
    cfg: &RuntimeConfig,
    pool: &MbufPool,
) -> Result<Port, DpdkError> {
    let info = Port::info_of(port_id)?;
    let mtu = port_mtu(cfg, &info)?;
    // What the pool's buffers hold, as `RuntimeConfig::validate` checks
    // for a pool made from the file; a pool handed in is checked here.
    let room = usize::from(pool.direct().data_room());
    let frame = usize::from(cfg.engine.mtu) + 14;
    if room < frame + dpdk_sys::RTE_PKTMBUF_HEADROOM as usize {
        return Err(DpdkError::Config(format!(
            "invalid configuration: `mempool.data_room`: the pool's {room} bytes do not hold \
             a frame of engine.mtu {} ({frame} bytes) and {} bytes of headroom",
            cfg.engine.mtu,
            dpdk_sys::RTE_PKTMBUF_HEADROOM
        )));
    }
    let port_cfg = PortConfig { mtu, ..port_cfg };
    let section = &cfg.port;
    let mut port = Port::configure(port_id, &port_cfg, pool)?;
    port.start()?;
    if section.promiscuous {
        let _ = port.set_promiscuous(true);
    }
    tracing::info!(
        target: "dpdk_io::loop",
        device = %section.device,
        engine_mtu = cfg.engine.mtu,
        port_mtu = port.mtu().ok(),
        "port started"
    );
    match port.wait_link_up(Duration::from_millis(section.link_timeout_ms)) {
        Ok(_) | Err(DpdkError::LinkTimeout { .. }) => Ok(port),
        Err(e) => Err(e),
    }
}

/// The MTU to configure a device described by `info` with: `engine.mtu`
/// when the device takes it ([`PortInfo::mtu_limit`]); when it does not, a
/// configuration error naming `engine.mtu`, unless
/// `port.mtu_beyond_reported_limit` says the device's report is not a
/// real limit: then `None`, the device keeps its default MTU and the
/// engine still builds frames for `engine.mtu`.
pub(crate) fn port_mtu(cfg: &RuntimeConfig, info: &PortInfo) -> Result<Option<u32>, DpdkError> {
    let mtu = u32::from(cfg.engine.mtu);
    let limit = info.mtu_limit();
    if (u32::from(info.min_mtu)..=limit).contains(&mtu) {
        return Ok(Some(mtu));
    }
    if mtu > limit && cfg.port.mtu_beyond_reported_limit {
        tracing::info!(
            target: "dpdk_io::loop",
            device = %cfg.port.device,
            driver = %info.driver,
            engine_mtu = mtu,
            device_limit = limit,
            "engine.mtu beyond the device's reported limit (port.mtu_beyond_reported_limit)"
        );
        return Ok(None);
    }
    let hint = if mtu > limit {
        "; if the device carries larger frames than it reports (net_memif does), \
         set `port.mtu_beyond_reported_limit = true`"
    } else {
        ""
    };
    Err(DpdkError::Config(format!(
        "invalid configuration: `engine.mtu`: {mtu} is outside what {} ({}) takes, \
         {}..={} (its largest MTU {}, largest frame {} bytes){hint}",
        cfg.port.device, info.driver, info.min_mtu, limit, info.max_mtu, info.max_rx_pktlen
    )))
}

/// Two workers driven alternately from one thread: two engines in one
/// process over a connected port pair (net_ring), with no threads at all.
pub fn iterate_pair(a: (&mut Worker, &mut dyn App), b: (&mut Worker, &mut dyn App)) -> usize {
    a.0.iterate(a.1) + b.0.iterate(b.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dpdk_sys::*;

    /// What a driver reports, as `rte_eth_dev_info_get` fills it in.
    fn device(driver: &str, max_mtu: u16, max_rx_pktlen: u32) -> PortInfo {
        PortInfo {
            driver: driver.into(),
            max_rx_queues: 1,
            max_tx_queues: 1,
            rx_offload_capa: 0,
            tx_offload_capa: 0,
            flow_type_rss_offloads: 0,
            reta_size: 0,
            hash_key_size: 0,
            min_mtu: 46,
            max_mtu,
            max_rx_pktlen,
        }
    }

    #[test]
    fn the_device_limit_is_counted_as_ethdev_counts_it() {
        // net_ring: no limit of its own.
        assert_eq!(device("net_ring", u16::MAX, u32::MAX).mtu_limit(), 65535);
        // net_memif, net_af_packet: only a largest frame, less 18 bytes.
        assert_eq!(device("net_memif", u16::MAX, 1518).mtu_limit(), 1500);
        // net_tap: a VLAN-tagged frame.
        assert_eq!(device("net_tap", u16::MAX, 1522).mtu_limit(), 1504);
        // A NIC reporting both: the smaller wins.
        assert_eq!(device("nic", 9000, 9018).mtu_limit(), 9000);
        assert_eq!(device("nic", 9600, 9018).mtu_limit(), 9000);
    }

    #[test]
    fn the_port_takes_engine_mtu_or_the_configuration_is_refused() {
        let mut cfg = RuntimeConfig::default();
        cfg.engine.mtu = 9000;
        let ring = device("net_ring", u16::MAX, u32::MAX);
        assert_eq!(port_mtu(&cfg, &ring).unwrap(), Some(9000));
        let memif = device("net_memif", u16::MAX, 1518);
        let e = port_mtu(&cfg, &memif).unwrap_err().to_string();
        assert!(e.contains("`engine.mtu`"), "{e}");
        assert!(e.contains("1500"), "the device's limit is named: {e}");
        assert!(e.contains("port.mtu_beyond_reported_limit"), "{e}");
        // Told that the report is not a real limit: the device keeps its
        // default MTU, the engine runs at 9000.
        cfg.port.mtu_beyond_reported_limit = true;
        assert_eq!(port_mtu(&cfg, &memif).unwrap(), None);
        // Within the limit the device is always told.
        cfg.engine.mtu = 1500;
        assert_eq!(port_mtu(&cfg, &memif).unwrap(), Some(1500));
        cfg.port.mtu_beyond_reported_limit = false;
        cfg.engine.mtu = 1280;
        assert_eq!(port_mtu(&cfg, &memif).unwrap(), Some(1280));
    }

    #[test]
    fn rx_checksum_flags_decide_per_frame() {
        let good = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
        assert_eq!(rx_checksum_verdict(good), RxChecksum::Good);
        assert_eq!(
            rx_checksum_verdict(RTE_MBUF_F_RX_IP_CKSUM_BAD | RTE_MBUF_F_RX_L4_CKSUM_GOOD),
            RxChecksum::Bad
        );
        assert_eq!(
            rx_checksum_verdict(RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_BAD),
            RxChecksum::Bad
        );
        // Only one of the two checked, or neither: software decides.
        assert_eq!(
            rx_checksum_verdict(RTE_MBUF_F_RX_IP_CKSUM_GOOD),
            RxChecksum::Unknown
        );
        assert_eq!(rx_checksum_verdict(0), RxChecksum::Unknown);
        assert_eq!(
            rx_checksum_verdict(RTE_MBUF_F_RX_IP_CKSUM_NONE | RTE_MBUF_F_RX_L4_CKSUM_NONE),
            RxChecksum::Unknown
        );
    }
}
