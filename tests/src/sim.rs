//! The simulator: engines on a virtual switch, one seeded link model per
//! sending node, and a virtual clock that jumps from event to event.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::Ipv4Addr;
use std::time::Duration;

use stack::wire::{EthernetAddress, Ipv4Cidr};
use stack::{Engine, EngineConfig, HeapPool, Instant, PacketBuf};

use crate::rng::Rng;
use crate::trace::{Segment, TraceEntry};

/// How a node's outgoing link treats frames. All probabilities are per
/// frame.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Frames lost.
    pub loss: f64,
    /// Frames delivered twice.
    pub duplicate: f64,
    /// Frames held back by `reorder_delay`, so later ones overtake them.
    pub reorder: f64,
    /// Extra delay of a reordered frame.
    pub reorder_delay: Duration,
    /// Frames with one byte flipped.
    pub corrupt: f64,
    /// One-way propagation delay.
    pub delay: Duration,
    /// Uniform random extra delay in `[0, jitter)` (may reorder too).
    pub jitter: Duration,
    /// Serialisation rate in bits per second; 0 means infinitely fast.
    pub bandwidth_bps: u64,
    /// Most queueing delay before the link drops frames (drop-tail).
    pub max_queue_delay: Duration,
    /// Largest frame (Ethernet header included) the link carries.
    pub max_frame: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(3),
            corrupt: 0.0,
            delay: Duration::from_micros(500),
            jitter: Duration::ZERO,
            bandwidth_bps: 0,
            max_queue_delay: Duration::from_millis(50),
            max_frame: 1514,
        }
    }
}

impl LinkConfig {
    /// A lossy link: `loss` and, at a fifth of that rate each,
    /// duplication, reordering and corruption.
    pub fn lossy(loss: f64) -> LinkConfig {
        LinkConfig {
            loss,
            duplicate: loss / 5.0,
            reorder: loss / 5.0,
            corrupt: loss / 5.0,
            ..LinkConfig::default()
        }
    }
}

/// Counts of what the links did.
#[derive(Debug, Clone, Default)]
pub struct LinkStats {
    /// Frames offered to links.
    pub sent: u64,
    /// Frames lost on purpose.
    pub lost: u64,
    /// Frames dropped by a full queue.
    pub queue_drops: u64,
    /// Frames too large for the link.
    pub too_big: u64,
    /// Duplicates made.
    pub duplicated: u64,
    /// Frames delayed for reordering.
    pub reordered: u64,
    /// Frames corrupted.
    pub corrupted: u64,
    /// Frames a receiver had no buffer for.
    pub rx_no_buffer: u64,
    /// Frames of several segments that could not be cut (all or part of
    /// them lost).
    pub cut_failed: u64,
}

/// One simulated host.
pub struct Node {
    /// Its engine.
    pub engine: Engine<HeapPool>,
    /// Its buffer pool (shared with the engine).
    pub pool: HeapPool,
    /// Its IPv4 address.
    pub ip: Ipv4Addr,
    /// Its MAC address.
    pub mac: EthernetAddress,
    link: LinkConfig,
    busy_until: Instant,
}

/// A raw endpoint on the virtual switch, for tests that play a host by
/// hand (an attacker, a prober): frames addressed to its MAC, and
/// broadcasts, collect in `inbox`; [`Sim::send_raw`] puts its frames on
/// the wire as they are.
pub struct Tap {
    /// Its MAC address.
    pub mac: EthernetAddress,
    /// Frames received, oldest first, with the time they arrived.
    pub inbox: std::collections::VecDeque<(Instant, Vec<u8>)>,
}

/// Where a frame on the switch is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    Node(usize),
    Tap(usize),
}

struct Delivery {
    at: Instant,
    order: u64,
    to: Port,
    frame: Vec<u8>,
}

impl PartialEq for Delivery {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for Delivery {}
impl PartialOrd for Delivery {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delivery {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// The simulated network.
pub struct Sim {
    /// Virtual time.
    pub now: Instant,
    /// The hosts.
    pub nodes: Vec<Node>,
    /// The seed everything random derives from.
    pub seed: u64,
    /// What the links did.
    pub link_stats: LinkStats,
    /// Every TCP segment sent, when tracing is on.
    pub trace: Vec<TraceEntry>,
    /// Whether to record the trace.
    pub tracing: bool,
    /// Every frame put on a link (time, sending node, bytes as sent),
    /// when set to `Some`.
    pub capture: Option<Vec<(Instant, usize, Vec<u8>)>>,
    /// Raw endpoints (see [`Tap`]).
    pub taps: Vec<Tap>,
    rng: Rng,
    queue: BinaryHeap<Reverse<Delivery>>,
    order: u64,
}

/// Buffers per node pool, and their size (an mbuf's 2048-byte data room
/// plus 128 bytes of headroom, as in DPDK).
pub const POOL_BUFFERS: usize = 16 * 1024;
/// Size of each pool buffer.
pub const BUF_SIZE: usize = 2048 + 128;
/// Headroom of each pool buffer.
pub const HEADROOM: usize = 128;

impl Sim {
    /// An empty network; everything random is derived from `seed`.
    pub fn new(seed: u64) -> Sim {
        Sim {
            now: Instant::ZERO,
            nodes: Vec::new(),
            seed,
            link_stats: LinkStats::default(),
            trace: Vec::new(),
            tracing: false,
            capture: None,
            taps: Vec::new(),
            rng: Rng::new(seed),
            queue: BinaryHeap::new(),
            order: 0,
        }
    }

    /// A configuration for host number `n` (1-based) on 10.0.0.0/24.
    pub fn host_config(n: u8) -> EngineConfig {
        EngineConfig {
            mac: EthernetAddress([0x02, 0, 0, 0, 0, n]),
            address: Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, n), 24).expect("valid"),
            ..EngineConfig::default()
        }
    }

    /// Adds a host with `config`, `buffers` pool buffers, and an outgoing
    /// link shaped by `link`. Returns its index.
    pub fn add_node_with(
        &mut self,
        config: EngineConfig,
        buffers: usize,
        link: LinkConfig,
    ) -> usize {
        let pool = HeapPool::new(buffers, BUF_SIZE, HEADROOM);
        let mut secret = [0u8; 16];
        self.rng.fill(&mut secret);
        let ip = config.address.address;
        let mac = config.mac;
        let engine = Engine::new(config, pool.clone(), secret, self.now).expect("valid config");
        self.nodes.push(Node {
            engine,
            pool,
            ip,
            mac,
            link,
            busy_until: self.now,
        });
        self.nodes.len() - 1
    }

    /// Adds host number `n` with the default pool and `link`.
    pub fn add_host(&mut self, n: u8, link: LinkConfig) -> usize {
        self.add_node_with(Sim::host_config(n), POOL_BUFFERS, link)
    }

    /// Changes node `i`'s outgoing link.
    pub fn set_link(&mut self, i: usize, link: LinkConfig) {
        self.nodes[i].link = link;
    }

    /// Sends everything every engine wants to send. A frame of several
    /// segments (`offload.tx_segmentation`) is cut as a driver without
    /// TSO cuts it ([`stack::segment::cut`]).
    pub fn flush(&mut self) {
        let mut frames = Vec::new();
        for i in 0..self.nodes.len() {
            while let Some(t) = self.nodes[i].engine.poll_transmit(self.now) {
                let node = &mut self.nodes[i];
                let cut = stack::segment::cut(t, &mut node.pool, |f| frames.push(f.to_vec()));
                if cut.is_err() {
                    self.link_stats.cut_failed += 1;
                }
                for frame in frames.drain(..) {
                    self.transmit(i, frame);
                }
            }
        }
    }

    fn transmit(&mut self, from: usize, mut frame: Vec<u8>) {
        self.link_stats.sent += 1;
        if let Some(c) = &mut self.capture {
            c.push((self.now, from, frame.clone()));
        }
        if self.tracing {
            self.trace.push(TraceEntry {
                sent: self.now,
                from,
                segment: Segment::decode(&frame),
            });
        }
        let link = self.nodes[from].link.clone();
        if frame.len() > link.max_frame {
            self.link_stats.too_big += 1;
            return;
        }
        // Serialisation and drop-tail queueing.
        let start = self.now.max(self.nodes[from].busy_until);
        if start - self.now > link.max_queue_delay {
            self.link_stats.queue_drops += 1;
            return;
        }
        // 24 bytes of preamble, FCS and inter-frame gap per frame.
        let wire_bits = (frame.len() as u64 + 24) * 8 * 1_000_000_000;
        let wire_time =
            Duration::from_nanos(wire_bits.checked_div(link.bandwidth_bps).unwrap_or(0));
        let departed = start + wire_time;
        self.nodes[from].busy_until = departed;
        if self.rng.chance(link.loss) {
            self.link_stats.lost += 1;
            return;
        }
        if self.rng.chance(link.corrupt) && !frame.is_empty() {
            let at = self.rng.below(frame.len() as u64) as usize;
            frame[at] ^= 1 << self.rng.below(8);
            self.link_stats.corrupted += 1;
        }
        let copies = if self.rng.chance(link.duplicate) {
            self.link_stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut at = departed + link.delay;
            if !link.jitter.is_zero() {
                at += Duration::from_nanos(self.rng.below(link.jitter.as_nanos() as u64));
            }
            if self.rng.chance(link.reorder) {
                self.link_stats.reordered += 1;
                at += link.reorder_delay;
            }
            self.switch(Some(from), at, &frame);
        }
    }

    /// Queues `frame` for every port its destination MAC names (all of
    /// them for a broadcast) but the sender's.
    fn switch(&mut self, from: Option<usize>, at: Instant, frame: &[u8]) {
        let dst: [u8; 6] = frame
            .get(..6)
            .and_then(|d| d.try_into().ok())
            .unwrap_or([0xff; 6]);
        let wanted = |mac: EthernetAddress| dst == mac.0 || dst == [0xff; 6];
        let mut ports: Vec<Port> = (0..self.nodes.len())
            .filter(|&i| Some(i) != from && wanted(self.nodes[i].mac))
            .map(Port::Node)
            .collect();
        ports.extend(
            (0..self.taps.len())
                .filter(|&i| wanted(self.taps[i].mac) && from.is_some())
                .map(Port::Tap),
        );
        for to in ports {
            self.order += 1;
            self.queue.push(Reverse(Delivery {
                at,
                order: self.order,
                to,
                frame: frame.to_vec(),
            }));
        }
    }

    /// Adds a raw endpoint with `mac`; returns its index in `taps`.
    pub fn add_tap(&mut self, mac: EthernetAddress) -> usize {
        self.taps.push(Tap {
            mac,
            inbox: Default::default(),
        });
        self.taps.len() - 1
    }

    /// Puts a frame from a tap on the wire: it reaches the nodes it is
    /// addressed to after the default link delay, with no loss (taps
    /// do not hear each other).
    pub fn send_raw(&mut self, frame: Vec<u8>) {
        self.link_stats.sent += 1;
        let at = self.now + LinkConfig::default().delay;
        self.switch(None, at, &frame);
    }

    /// Takes every frame that arrived at tap `i` so far.
    pub fn take_inbox(&mut self, i: usize) -> Vec<(Instant, Vec<u8>)> {
        self.taps[i].inbox.drain(..).collect()
    }

    /// When the next thing happens, if anything is pending at all.
    fn next_event(&self) -> Option<Instant> {
        let mut next = self.queue.peek().map(|Reverse(d)| d.at);
        for n in &self.nodes {
            if let Some(t) = n.engine.poll_timeout() {
                next = Some(next.map_or(t, |x: Instant| x.min(t)));
            }
        }
        next
    }

    /// Advances to the next event (not past `limit`) and processes it.
    /// Returns false when nothing is pending before `limit`.
    pub fn step(&mut self, limit: Instant) -> bool {
        self.flush();
        let Some(next) = self.next_event() else {
            self.now = self.now.max(limit);
            return false;
        };
        if next > limit {
            self.now = limit;
            return false;
        }
        self.now = self.now.max(next);
        while self.queue.peek().is_some_and(|Reverse(d)| d.at <= self.now) {
            let Reverse(d) = self.queue.pop().expect("peeked");
            let to = match d.to {
                Port::Node(i) => i,
                Port::Tap(i) => {
                    self.taps[i].inbox.push_back((d.at, d.frame));
                    continue;
                }
            };
            let node = &mut self.nodes[to];
            let Some(mut buf) = stack::BufferPool::alloc(&mut node.pool) else {
                self.link_stats.rx_no_buffer += 1;
                continue;
            };
            match buf.append(d.frame.len()) {
                Some(dst) => dst.copy_from_slice(&d.frame),
                None => continue,
            }
            node.engine.handle_rx(self.now, buf);
        }
        for n in &mut self.nodes {
            n.engine.handle_timeouts(self.now);
        }
        self.flush();
        true
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let limit = self.now + d;
        while self.now < limit {
            self.step(limit);
        }
    }

    /// Steps until `done` returns true (checked after every step) or `d` of
    /// virtual time passed. Returns whether `done` became true.
    pub fn run_until(&mut self, d: Duration, mut done: impl FnMut(&mut Sim) -> bool) -> bool {
        let limit = self.now + d;
        loop {
            if done(self) {
                return true;
            }
            if self.now >= limit {
                return false;
            }
            self.step(limit);
        }
    }

    /// The TCP segments recorded so far, with the sending node.
    pub fn segments(&self) -> Vec<(usize, Segment)> {
        self.trace
            .iter()
            .filter_map(|t| t.segment.clone().map(|s| (t.from, s)))
            .collect()
    }
}

/// Helpers for test code that plays the application on a node.
impl Sim {
    /// All pending events of node `i`.
    pub fn events(&mut self, i: usize) -> Vec<stack::Event> {
        std::iter::from_fn(|| self.nodes[i].engine.poll_event()).collect()
    }

    /// Reads everything node `i` has buffered on `h` into a vector; returns
    /// it and the final read result (`Ok(0)` at end of stream,
    /// `Err(WouldBlock)` when drained).
    pub fn read_all(&mut self, i: usize, h: stack::Handle) -> (Vec<u8>, stack::Result<usize>) {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.nodes[i].engine.read(h, &mut buf) {
                Ok(0) => return (out, Ok(0)),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, Err(e)),
            }
        }
    }

    /// Opens a connection from node `client` to `port` on node `server`,
    /// which must be listening on `listener`, and runs until it is accepted.
    pub fn open(
        &mut self,
        client: usize,
        server: usize,
        listener: stack::Handle,
        port: u16,
    ) -> (stack::Handle, stack::Handle) {
        let addr = std::net::SocketAddrV4::new(self.nodes[server].ip, port);
        let c = self.nodes[client].engine.connect(addr).expect("connect");
        let mut accepted = None;
        let ok = self.run_until(Duration::from_secs(30), |sim| {
            if accepted.is_none() {
                accepted = sim.nodes[server].engine.accept(listener).ok();
            }
            accepted.is_some() && sim.nodes[client].engine.state(c) == Ok(stack::State::Established)
        });
        assert!(ok, "seed {}: handshake did not complete", self.seed);
        (c, accepted.expect("accepted").0)
    }
}
