//! The engine: one per core, owning its connections outright.
//!
//! # Driving an engine
//!
//! The engine does no I/O and reads no clock. A driver (the DPDK runtime,
//! the simulator, a test) calls, in this order, as often as it likes:
//!
//! 1. [`Engine::handle_rx_burst`] with the received frames (the buffers
//!    move in), or [`Engine::handle_rx`] for each;
//! 2. [`Engine::handle_timeouts`] once;
//! 3. the application: [`Engine::poll_event`] until `None`, and the
//!    connection calls (`read`, `write`, `close`, ...);
//! 4. [`Engine::poll_transmit_burst`] until it returns 0, or
//!    [`Engine::poll_transmit`] until `None`, sending each frame;
//! 5. sleep or spin until [`Engine::poll_timeout`] or the next frame.
//!
//! The methods fall into four kinds, as in quinn-proto: getters, `handle_*`
//! (input), mutators (the application API in [`user`]), and `poll_*`
//! (output, `#[must_use]`).

mod cookies;
mod icmp;
mod memory;
mod owned;
mod payload;
mod rx;
mod table;
mod tx;
mod user;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use crate::api::{CloseOutcome, Event, EventKind, ResetCause, State};
use crate::arp::NeighborCache;
use crate::buf::{BufferPool, PacketBuf};
use crate::config::{ConfigError, EngineConfig};
use crate::memory::{Budget, Holding};
use crate::stats::Stats;
use crate::tcp::timers::TimerKind;
use crate::tcp::{Ctx, EventBits, Outcome};
use crate::time::Instant;
use crate::timer::TimerWheel;

/// The context of a TCB call, built from the engine's fields one by one
/// (a macro, so that it can sit beside a mutable borrow of `conns`).
macro_rules! tcb_ctx {
    ($engine:ident, $pool_low:expr) => {
        crate::tcp::Ctx {
            cfg: &$engine.cfg.tcp,
            mss: $engine.mss,
            now: $engine.now,
            mem: crate::memory::MemView {
                budget: &$engine.budget,
                held: $engine.stats.memory.held as usize,
                level: $engine.stats.memory.level,
                pool_low: $pool_low,
            },
        }
    };
}
pub(crate) use tcb_ctx;

pub use owned::{Conn, Stream};
pub use payload::{Payload, MAX_PAYLOAD_PARTS};
pub use rx::RxFrame;
use table::{ConnEntry, FlowKey, FlowTable, Listener, Slab, Target, TimerRef};
pub use user::{PortSelector, Readiness, TcpInfo};

/// A frame for the driver to send: headers in `head`, and the payload,
/// when it was not copied, in `payload` (shared buffers from the send
/// queue: the DPDK runtime chains them as indirect mbufs).
#[derive(Debug)]
pub struct Transmit<B> {
    /// Ethernet, IPv4 and TCP headers (and a small payload copied in).
    pub head: B,
    /// Payload that follows `head` on the wire, part after part.
    pub payload: Payload<B>,
    /// The device must fill the IPv4 and TCP checksums (the TCP checksum
    /// field holds the pseudo-header sum; the Ethernet header is 14 bytes
    /// and the IPv4 header 20). Set only with `offload.tx_checksum`.
    pub checksum_offload: bool,
    /// `None` for a frame of one segment, as it goes on the wire. With
    /// `offload.tx_segmentation`, `Some(n)` for a frame that carries
    /// several TCP segments' payload, `n` bytes each but the last: the
    /// driver cuts it into one frame per segment, by the device's TSO or
    /// with [`crate::segment::cut`]. Its headers are those of the first
    /// segment but for the IPv4 total length (the whole payload's), the
    /// IPv4 and TCP checksums (to be filled per segment) and PSH and FIN
    /// (the last segment's); the segments take consecutive sequence
    /// numbers and IPv4 identifications. `head` holds the headers alone.
    pub segment_size: Option<u16>,
}

impl<B: PacketBuf> Transmit<B> {
    /// Bytes on the wire (without the Ethernet FCS).
    pub fn len(&self) -> usize {
        self.head.len() + self.payload.len()
    }

    /// The TCP segments the frame stands for on the wire: 1, or with
    /// [`Transmit::segment_size`] as many as its payload makes.
    pub fn segment_count(&self) -> usize {
        self.segment_size.map_or(1, |size| {
            self.payload.len().div_ceil(usize::from(size).max(1)).max(1)
        })
    }

    /// Whether the frame is empty (never, for frames the engine builds).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The frame as one contiguous byte vector (for simulators and pcap).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        self.copy_to(&mut v);
        v
    }

    /// Appends the frame's bytes to `out`.
    pub fn copy_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.head.data());
        for part in self.payload.slices() {
            out.extend_from_slice(part);
        }
    }
}

/// A TCP/IPv4 endpoint with one address, generic over the packet buffers
/// its driver provides.
pub struct Engine<P: BufferPool> {
    cfg: EngineConfig,
    /// Our MSS (configuration or MTU less headers).
    mss: usize,
    pool: P,
    secret: [u8; 16],
    /// Set in every handle this engine issues; a handle with another
    /// engine's tag is refused ([`Engine::tag`]).
    tag: u8,
    now: Instant,
    /// Each connection in a box of its own: the table holds a pointer per
    /// slot, so the memory of connections that went is the allocator's
    /// again instead of staying in the table at its largest size.
    conns: Slab<Box<ConnEntry<P::Buf>>>,
    flows: FlowTable,
    listeners: Slab<Listener>,
    handles: Slab<Target>,
    /// Handles of dropped [`Conn`]s, closed at the next driver call.
    release: std::sync::Arc<owned::ReleaseQueue>,
    wheel: TimerWheel<TimerRef>,
    /// No timer is due before this (it may be earlier than the wheel's
    /// true minimum after a cancel): lets an idle `handle_timeouts` return
    /// after one comparison.
    timers_due_at: Instant,
    /// Connections that may have something to send.
    ready: VecDeque<u32>,
    /// Frames built already (RSTs, ARP, ICMP, released after resolution).
    control: VecDeque<Transmit<P::Buf>>,
    /// Connections on listeners per remote address (only kept with
    /// `max_connections_per_source` set).
    per_source: std::collections::HashMap<std::net::Ipv4Addr, u32, crate::hash::KeyedState>,
    /// SYN cookies went out recently: until then, an ACK to a listener may
    /// return one (otherwise it is not even checked).
    cookies_until: Instant,
    /// The budget of ICMP errors we may send.
    icmp_limit: icmp::IcmpLimit,
    /// A header buffer taken before a TCB was asked for a segment and not
    /// used (it had nothing to send): kept for the next one.
    spare_head: Option<P::Buf>,
    events: VecDeque<Event>,
    neighbors: NeighborCache<Transmit<P::Buf>>,
    stats: Stats,
    /// Packet-buffer memory limits (the totals live in `stats.memory`).
    budget: Budget,
    /// Connections that held out-of-order data when last counted, in the
    /// order they started to: pruned from the front at the critical mark.
    /// Entries may be stale (checked when popped).
    ooo_list: VecDeque<(u32, u32)>,
    /// Connections the engine's budget refused a write, owed `Writable`
    /// once it holds no more than `budget.wake`.
    mem_waiters: Vec<(u32, u32)>,
    ip_ident: u16,
    /// The most segments one frame may carry: 1, or
    /// [`MAX_PAYLOAD_PARTS`] with `offload.tx_segmentation`.
    segments_per_frame: usize,
    /// Header buffers the driver will take from the pool to cut the
    /// frames of several segments handed out in the current transmit
    /// burst (see [`Engine::segments_allowed`]).
    cut_promised: usize,
    ephemeral_next: u32,
    /// Which local ports active opens may use (multi-core drivers).
    port_selector: Option<PortSelector>,
    /// Inside [`Engine::handle_rx_burst`]: `Readable` and `Writable`, and
    /// the sync of timers, wait for the burst's end.
    in_burst: bool,
    /// Connections (index, generation) with work deferred to the end of
    /// the burst; empty between bursts, its capacity kept.
    burst_touched: Vec<(u32, u32)>,
}

/// The tag the next engine takes: engines made in one process (the cores
/// of a runtime) have distinct tags, up to 256 of them.
static NEXT_TAG: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

impl<P: BufferPool> Engine<P> {
    /// The tag this engine sets in its handles: distinct among the first
    /// 256 engines of a process, so a handle used on the wrong engine is
    /// refused ([`crate::Error::InvalidHandle`]).
    pub fn tag(&self) -> u8 {
        self.tag
    }

    /// An engine with `config`, taking buffers from `pool`.
    ///
    /// `secret` keys the initial sequence numbers (RFC 6528), the ephemeral
    /// port choice (RFC 6056) and the flow table hash: the driver draws it
    /// from a real random source. `now` is the driver's current time.
    pub fn new(
        config: EngineConfig,
        pool: P,
        secret: [u8; 16],
        now: Instant,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let key = crate::hash::derive_key(&secret, b"neighbour cache");
        let mut neighbors = NeighborCache::new(config.arp.clone(), key);
        for n in &config.neighbors {
            neighbors.add_static(n.ip, n.mac);
        }
        let capacity = config.max_connections.min(1 << 16);
        let flow_key = crate::hash::siphash24(&secret, b"flow table");
        let budget = Budget::new(&config, pool.capacity(), pool.buffer_size());
        let mut stats = Stats::default();
        let as_u64 = |b: usize| u64::try_from(b).unwrap_or(u64::MAX);
        stats.memory.limit = as_u64(budget.limit);
        stats.memory.pressure_mark = as_u64(budget.pressure);
        stats.memory.critical_mark = as_u64(budget.critical);
        stats.memory.reserved_mark = as_u64(budget.reserved);
        let segments_per_frame = if config.offload.tx_segmentation {
            MAX_PAYLOAD_PARTS
        } else {
            1
        };
        Ok(Engine {
            mss: usize::from(config.effective_mss()),
            icmp_limit: icmp::IcmpLimit::new(config.icmp_error_burst, now),
            cfg: config,
            pool,
            secret,
            tag: NEXT_TAG.fetch_add(1, core::sync::atomic::Ordering::Relaxed),
            now,
            conns: Slab::with_capacity(capacity),
            flows: FlowTable::new(capacity, flow_key),
            listeners: Slab::with_capacity(16),
            handles: Slab::with_capacity(capacity),
            release: Default::default(),
            timers_due_at: Instant::from_nanos(u64::MAX),
            wheel: TimerWheel::with_capacity(
                now,
                core::time::Duration::from_millis(1),
                capacity * 2,
            ),
            ready: VecDeque::with_capacity(capacity),
            control: VecDeque::with_capacity(256),
            spare_head: None,
            cookies_until: Instant::ZERO,
            per_source: std::collections::HashMap::with_hasher(crate::hash::KeyedState::new(
                crate::hash::derive_key(&secret, b"per source"),
            )),
            events: VecDeque::with_capacity(1024),
            neighbors,
            stats,
            budget,
            ooo_list: VecDeque::new(),
            mem_waiters: Vec::new(),
            ip_ident: 0,
            segments_per_frame,
            cut_promised: 0,
            ephemeral_next: 0,
            port_selector: None,
            in_burst: false,
            burst_touched: Vec::new(),
        })
    }

    /// The most TCP segments one frame from [`Engine::poll_transmit`] may
    /// carry ([`Transmit::segment_size`]): 1 unless
    /// `offload.tx_segmentation` is on. A driver sizing its transmit
    /// burst in wire frames divides by it.
    pub fn segments_per_frame(&self) -> usize {
        self.segments_per_frame
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The buffer pool (for `write_buf` callers that allocate from it).
    pub fn pool_mut(&mut self) -> &mut P {
        &mut self.pool
    }

    /// Connections the engine holds, in any state (TIME_WAIT included).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Entries in the neighbour cache, resolved or waiting for a reply
    /// (static neighbours included).
    pub fn neighbor_count(&self) -> usize {
        self.neighbors.len()
    }

    /// Entries in the flow table (equals `connection_count` when the
    /// engine's books are straight).
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Live application handles (connections and listeners).
    pub fn handle_count(&self) -> usize {
        self.handles.len()
    }

    /// Pending timers.
    pub fn timer_count(&self) -> usize {
        self.wheel.len()
    }

    /// Whether nothing is queued inside the engine: no frames, no events,
    /// no connection waiting to transmit, no packet waiting for ARP.
    pub fn is_idle(&self) -> bool {
        self.control.is_empty() && self.events.is_empty() && self.ready.is_empty()
    }

    /// Memory the engine holds for its connections and tables, in bytes,
    /// packet buffers excluded (they belong to the pool): connection
    /// entries, flow table, handles, timers, queues. Divide by
    /// [`Engine::connection_count`] for the cost of one connection.
    pub fn memory_footprint(&self) -> usize {
        let queues: usize = self.conns.iter().map(|(_, c)| c.tcb.heap_bytes()).sum();
        self.conns.heap_bytes()
            + queues
            + self.flows.heap_bytes()
            + self.handles.heap_bytes()
            + self.wheel.heap_bytes()
            + self.ready.capacity() * 4
            + self.events.capacity() * core::mem::size_of::<Event>()
    }

    /// Connections in each state, for observability and tests.
    pub fn state_counts(&self) -> Vec<(State, usize)> {
        let mut counts: Vec<(State, usize)> = Vec::new();
        for (_, c) in self.conns.iter() {
            match counts.iter_mut().find(|(s, _)| *s == c.tcb.state) {
                Some((_, n)) => *n += 1,
                None => counts.push((c.tcb.state, 1)),
            }
        }
        counts
    }

    /// The earliest time [`Engine::handle_timeouts`] has work to do.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.wheel.next_deadline(), self.neighbors.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeouts(&mut self, now: Instant) {
        self.now = now;
        self.release_dropped();
        if now < self.timers_due_at && self.neighbors.next_deadline().is_none_or(|d| d > now) {
            return;
        }
        while let Some((_, r)) = self.wheel.poll_expired(now) {
            let Some(conn) = self.conns.get_gen_mut(r.conn, r.generation) else {
                continue;
            };
            conn.timers[r.kind as usize] = None;
            let due = conn.tcb.deadlines.get(r.kind).is_some_and(|at| at <= now);
            if !due {
                // The deadline moved on, or went: the mirror must follow.
                self.sync_timers(r.conn);
                continue;
            }
            let ctx = tcb_ctx!(self, false);
            let before = conn.tcb.retries;
            let ooo_before = conn.tcb.ooo.truesize();
            let was_reset = conn.tcb.reset.is_some();
            let out = conn.tcb.on_timer(&ctx, r.kind, &mut self.stats);
            let timed_out = !was_reset && conn.tcb.reset.is_some() && conn.tcb.is_closed();
            match r.kind {
                TimerKind::Rto if conn.tcb.retries > before => self.stats.rto_expired += 1,
                TimerKind::Rto | TimerKind::Persist | TimerKind::Keepalive if timed_out => {
                    self.stats.timeouts += 1;
                    if conn.tcb.user_deadline().is_some_and(|at| at <= now) {
                        self.stats.user_timeouts += 1;
                    }
                }
                TimerKind::Reassembly if ooo_before > 0 => {
                    self.stats.memory.ooo_timeouts += 1;
                    self.stats.memory.ooo_pruned_bytes += ooo_before as u64;
                }
                _ => {}
            }
            self.after_tcb(r.conn, out);
        }
        self.timers_due_at = self
            .wheel
            .next_deadline()
            .unwrap_or(Instant::from_nanos(u64::MAX));
        self.poll_neighbors(now);
    }

    /// The next application event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        let mut ev = self.events.pop_front()?;
        // The token as it is now (it may have been set since the event was
        // raised, e.g. right after `accept`); for a handle closed since,
        // the token it had then.
        if let Ok(token) = self.token(ev.handle) {
            ev.token = token;
        }
        Some(ev)
    }

    /// The context a TCB call runs in.
    fn ctx(&self) -> Ctx<'_> {
        tcb_ctx!(self, self.pool_low())
    }

    /// Acts on what a call into connection `idx` did ([`Engine::settle`]);
    /// the connection may have something to send now.
    fn after_tcb(&mut self, idx: u32, out: Outcome) {
        if let Some(conn) = self.conns.get_mut(idx) {
            if !conn.in_ready && !conn.tcb.is_closed() {
                conn.in_ready = true;
                self.ready.push_back(idx);
            }
        }
        self.settle(idx, out);
    }

    /// Carries out an outcome: the abort it asks for, its events, an ACK
    /// that must go now, the memory the connection holds, its timers, and
    /// freeing a finished connection.
    fn settle(&mut self, idx: u32, out: Outcome) {
        if let Some(reason) = out.abort {
            self.abort_conn(idx, reason);
        }
        self.post_or_defer(idx, out.events);
        if out.ack_now {
            self.transmit_ack_now(idx);
        }
        self.sync_memory(idx);
        self.relieve_pressure();
        if out.timers {
            self.sync_or_defer_timers(idx);
        }
        self.maybe_free(idx);
    }

    /// Starts a burst of calls whose repeatable work waits for
    /// [`Engine::end_burst`].
    fn begin_burst(&mut self, now: Instant) {
        self.now = now;
        self.release_dropped();
        self.in_burst = true;
    }

    /// Ends a burst: each connection it touched gets its deferred events
    /// (one `Readable`, one `Writable`, however many segments raised them)
    /// and one sync of its timers.
    fn end_burst(&mut self) {
        self.in_burst = false;
        let mut touched = core::mem::take(&mut self.burst_touched);
        for &(idx, generation) in &touched {
            let Some(conn) = self.conns.get_gen_mut(idx, generation) else {
                continue;
            };
            let bits = core::mem::take(&mut conn.deferred);
            let timers = core::mem::take(&mut conn.deferred_timers);
            self.post_events(idx, bits);
            if timers {
                self.sync_timers(idx);
            }
        }
        touched.clear();
        self.burst_touched = touched;
    }

    /// Notes that connection `idx` has work deferred to the burst's end.
    fn touch(&mut self, idx: u32) -> Option<&mut ConnEntry<P::Buf>> {
        let generation = self.conns.generation(idx);
        let conn = self.conns.get_mut(idx)?;
        if conn.deferred.is_empty() && !conn.deferred_timers {
            self.burst_touched.push((idx, generation));
        }
        Some(conn)
    }

    /// Posts `bits` now, or, inside a burst and when they are only
    /// `Readable` or `Writable`, at its end (coalesced). Any other event
    /// goes now, with what was deferred before it, in the usual order.
    fn post_or_defer(&mut self, idx: u32, bits: EventBits) {
        let (repeatable, rest) = bits.split(EventBits::READABLE | EventBits::WRITABLE);
        if self.in_burst && rest.is_empty() {
            if repeatable.is_empty() {
                return;
            }
            if let Some(conn) = self.touch(idx) {
                conn.deferred = conn.deferred.union(repeatable);
            }
            return;
        }
        self.post_events(idx, bits);
    }

    fn sync_or_defer_timers(&mut self, idx: u32) {
        if !self.in_burst {
            return self.sync_timers(idx);
        }
        if let Some(conn) = self.touch(idx) {
            conn.deferred_timers = true;
        }
    }

    /// Mirrors the TCB's deadlines into the timing wheel.
    fn sync_timers(&mut self, idx: u32) {
        let generation = self.conns.generation(idx);
        let Some(conn) = self.conns.get_mut(idx) else {
            return;
        };
        // The mirror is brought up to date here, whoever moved them.
        let _ = conn.tcb.deadlines.take_changed();
        for kind in TimerKind::ALL {
            let want = conn.tcb.deadlines.get(kind);
            let have = conn.timers[kind as usize].map(|(_, at)| at);
            if want == have {
                continue;
            }
            if let (Some(w), Some(h)) = (want, have) {
                if w > h {
                    // Moved later (the retransmission timer restarts on
                    // every ACK): the entry stays; when it fires early,
                    // `handle_timeouts` finds the deadline not due and
                    // files it again then. One wheel operation per
                    // timeout period instead of two per ACK.
                    continue;
                }
            }
            if let Some((id, _)) = conn.timers[kind as usize].take() {
                self.wheel.cancel(id);
            }
            if let Some(at) = want {
                self.timers_due_at = self.timers_due_at.min(at);
                let id = self.wheel.insert(
                    at,
                    TimerRef {
                        conn: idx,
                        generation,
                        kind,
                    },
                );
                conn.timers[kind as usize] = Some((id, at));
            }
        }
    }

    /// Turns a connection's event bits into [`Event`]s.
    fn post_events(&mut self, idx: u32, bits: EventBits) {
        let Some(conn) = self.conns.get_mut(idx) else {
            return;
        };
        // Events deferred within a burst go first, in the usual order.
        let bits = bits.union(core::mem::take(&mut conn.deferred));
        if bits.is_empty() {
            return;
        }
        if bits.has(EventBits::CONNECTED) {
            tracing::debug!(
                target: "stack::conn",
                local = %conn.tcb.local,
                remote = %conn.tcb.remote,
                passive = conn.tcb.passive,
                "connection established"
            );
        }
        if let Some(lidx) = conn.listener {
            // Not accepted yet: the listener hears of it, the connection's
            // own events start with `accept`.
            if bits.has(EventBits::CONNECTED) && !conn.in_accept_queue {
                conn.in_accept_queue = true;
                if let Some(l) = self.listeners.get_mut(lidx) {
                    l.half_open = l.half_open.saturating_sub(1);
                    l.accept_queue.push_back(idx);
                    self.stats.established += 1;
                    let (handle, token) = (l.handle, l.token);
                    self.events.push_back(Event {
                        handle,
                        kind: EventKind::Acceptable,
                        token,
                    });
                }
            }
            return;
        }
        let Some(handle) = conn.event_handle else {
            return;
        };
        let tcb = &conn.tcb;
        if bits.has(EventBits::CLOSED) {
            tracing::debug!(
                target: "stack::conn",
                local = %tcb.local,
                remote = %tcb.remote,
                outcome = ?tcb.close_outcome,
                "linger outcome"
            );
        }
        let orphan = conn.handles == 0;
        let token = conn.token;
        let mut push = |kind| {
            self.events.push_back(Event {
                handle,
                kind,
                token,
            })
        };
        if bits.has(EventBits::CLOSED) {
            push(EventKind::Closed {
                outcome: tcb.close_outcome.unwrap_or(CloseOutcome::Graceful),
            });
        }
        if orphan {
            return;
        }
        if bits.has(EventBits::CONNECTED) {
            self.stats.established += 1;
            push(EventKind::Connected);
        }
        if bits.has(EventBits::READABLE) {
            push(EventKind::Readable);
        }
        if bits.has(EventBits::URGENT) {
            push(EventKind::Urgent);
        }
        if bits.has(EventBits::WRITABLE) {
            push(EventKind::Writable);
        }
        if bits.has(EventBits::PEER_CLOSED) {
            push(EventKind::PeerClosed);
        }
        if bits.has(EventBits::RESET) {
            push(EventKind::Reset {
                cause: tcb.reset.unwrap_or(ResetCause::PeerReset),
            });
        }
    }

    /// Forgets a connection nobody can reach any more: closed, and with no
    /// handle and no listener queue referring to it.
    fn maybe_free(&mut self, idx: u32) {
        let Some(conn) = self.conns.get(idx) else {
            return;
        };
        if !conn.tcb.is_closed() || conn.handles > 0 || conn.in_accept_queue {
            return;
        }
        let listener = conn.listener;
        let key = FlowKey {
            local_port: conn.tcb.local.port(),
            remote: conn.tcb.remote,
        };
        let timers = conn.timers;
        for (id, _) in timers.into_iter().flatten() {
            self.wheel.cancel(id);
        }
        if let Some(lidx) = listener {
            if let Some(l) = self.listeners.get_mut(lidx) {
                l.half_open = l.half_open.saturating_sub(1);
            }
        }
        if self.flows.get(&key) == Some(idx) {
            self.flows.remove(&key);
        }
        if let Some(conn) = self.conns.remove(idx) {
            if conn.tcb.passive {
                self.source_gone(*conn.tcb.remote.ip());
            }
            // Unread data of a closed connection goes with it.
            self.account(&conn.tcb.charged, &Holding::default());
        }
    }
}
