//! The wire tool's TCP workloads, each an [`App`] that runs inside the
//! client's engine loop (no thread hop between the measurement and the
//! stack) and stops by itself after its measuring time.
//!
//! Latencies are taken with the TSC around the application's own calls:
//! from the `write` of a request to the `read` that completes its echo.

use std::net::SocketAddrV4;
use std::time::Duration;

use dpdk_io::{App, MbufPool, TscClock};
use hdrhistogram::Histogram;
use stack::{Engine, Error, EventKind, Handle, Instant, PacketBuf, Shutdown, State};

type Eng = Engine<MbufPool>;

/// A latency histogram in nanoseconds, 1 ns to 10 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("valid bounds")
}

/// One closed-loop request/response stream on a connection.
struct Stream {
    h: Handle,
    got: usize,
    sent_at: Option<Instant>,
}

/// Closed-loop request/response over `conns` connections to an echo
/// server (`rtt` is the case `conns == 1`): each connection has one
/// request of `size` bytes outstanding at a time.
pub struct RequestResponse {
    server: SocketAddrV4,
    conns: usize,
    size: usize,
    warmup: Duration,
    measure: Duration,
    clock: TscClock,
    streams: Vec<Stream>,
    msg: Vec<u8>,
    buf: Vec<u8>,
    started: Option<Instant>,
    /// Latency of each request, ns (after the warm-up).
    pub hist: Histogram<u64>,
    /// Requests completed in the measuring window.
    pub completed: u64,
    /// The first error, if any ended the run.
    pub error: Option<Error>,
    done: bool,
}

impl RequestResponse {
    /// `conns` connections to `server`, `size`-byte messages.
    pub fn new(
        server: SocketAddrV4,
        conns: usize,
        size: usize,
        warmup: Duration,
        measure: Duration,
        clock: TscClock,
    ) -> Self {
        RequestResponse {
            server,
            conns,
            size,
            warmup,
            measure,
            clock,
            streams: Vec::with_capacity(conns),
            msg: (0..size).map(|i| i as u8).collect(),
            buf: vec![0; size.max(2048)],
            started: None,
            hist: histogram(),
            completed: 0,
            error: None,
            done: false,
        }
    }

    /// Requests per second over the measuring window.
    pub fn rate(&self) -> f64 {
        self.completed as f64 / self.measure.as_secs_f64()
    }

    fn send(&mut self, engine: &mut Eng, i: usize) {
        let s = &mut self.streams[i];
        s.got = 0;
        s.sent_at = Some(self.clock.now());
        if let Err(e) = engine.write(s.h, &self.msg) {
            self.error.get_or_insert(e);
            self.done = true;
        }
    }
}

impl App for RequestResponse {
    fn start(&mut self, engine: &mut Eng) -> Result<(), dpdk_io::AppError> {
        for _ in 0..self.conns {
            let h = engine.connect(self.server).map_err(|e| e.to_string())?;
            engine.set_nodelay(h, true).map_err(|e| e.to_string())?;
            self.streams.push(Stream {
                h,
                got: 0,
                sent_at: None,
            });
        }
        Ok(())
    }

    fn poll(&mut self, engine: &mut Eng, now: Instant) {
        while let Some(ev) = engine.poll_event() {
            let Some(i) = self.streams.iter().position(|s| s.h == ev.handle) else {
                continue;
            };
            match ev.kind {
                // Start measuring once every connection is up.
                EventKind::Connected
                    if self.started.is_none()
                        && self
                            .streams
                            .iter()
                            .all(|s| engine.state(s.h) == Ok(State::Established)) =>
                {
                    self.started = Some(now);
                    for j in 0..self.streams.len() {
                        self.send(engine, j);
                    }
                }
                EventKind::Reset { cause } => {
                    self.error.get_or_insert(cause.error());
                    self.done = true;
                }
                _ => {}
            }
            if self.streams[i].sent_at.is_none() {
                continue;
            }
            loop {
                let h = self.streams[i].h;
                match engine.read(h, &mut self.buf) {
                    Ok(0) => {
                        self.error.get_or_insert(Error::NotConnected);
                        self.done = true;
                        break;
                    }
                    Ok(n) => {
                        let s = &mut self.streams[i];
                        s.got += n;
                        if s.got >= self.size {
                            let t = self.clock.now();
                            let started = self.started.unwrap_or(now);
                            if t > started + self.warmup {
                                let sent = s.sent_at.unwrap_or(t);
                                let _ = self.hist.record((t - sent).as_nanos().max(1) as u64);
                                self.completed += 1;
                            }
                            if t > started + self.warmup + self.measure {
                                self.done = true;
                            } else {
                                self.send(engine, i);
                            }
                        }
                    }
                    Err(Error::WouldBlock) => break,
                    Err(e) => {
                        self.error.get_or_insert(e);
                        self.done = true;
                        break;
                    }
                }
            }
        }
        if self.done {
            for s in self.streams.drain(..) {
                let _ = engine.close(s.h);
            }
        }
    }

    fn finished(&self) -> bool {
        self.done && self.streams.is_empty()
    }
}

/// Which way a bulk transfer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// To the discard server.
    OneWay,
    /// To the echo server: the same bytes come back.
    BothWays,
}

/// One connection moving bulk data for `measure`, then closing.
pub struct BulkFlow {
    server: SocketAddrV4,
    direction: Direction,
    measure: Duration,
    conn: Option<Handle>,
    chunk: Vec<u8>,
    started: Option<Instant>,
    /// Bytes handed to the engine.
    pub written: u64,
    /// Bytes read back (both ways).
    pub read: u64,
    /// Seconds from the first byte to the peer's end of stream (one way:
    /// every byte delivered) or to the end of the window (both ways).
    pub seconds: f64,
    /// The first error.
    pub error: Option<Error>,
    shut: bool,
    done: bool,
}

impl BulkFlow {
    /// A flow to `server` (discard or echo port) for `measure`.
    pub fn new(server: SocketAddrV4, direction: Direction, measure: Duration) -> BulkFlow {
        BulkFlow {
            server,
            direction,
            measure,
            conn: None,
            chunk: vec![0x5a; 256 * 1024],
            started: None,
            written: 0,
            read: 0,
            seconds: 0.0,
            error: None,
            shut: false,
            done: false,
        }
    }

    /// Goodput per direction in Gbit/s.
    pub fn gbps(&self) -> f64 {
        let bytes = match self.direction {
            Direction::OneWay => self.written,
            Direction::BothWays => self.read,
        };
        if self.seconds > 0.0 {
            bytes as f64 * 8.0 / self.seconds / 1e9
        } else {
            0.0
        }
    }
}

impl App for BulkFlow {
    fn start(&mut self, engine: &mut Eng) -> Result<(), dpdk_io::AppError> {
        self.conn = Some(engine.connect(self.server).map_err(|e| e.to_string())?);
        Ok(())
    }

    fn poll(&mut self, engine: &mut Eng, now: Instant) {
        let Some(h) = self.conn else { return };
        while let Some(ev) = engine.poll_event() {
            if let EventKind::Reset { cause } = ev.kind {
                self.error.get_or_insert(cause.error());
                self.done = true;
            }
        }
        if self.done || engine.state(h) == Ok(State::SynSent) {
            return;
        }
        let start = *self.started.get_or_insert(now);
        let window_over = now > start + self.measure;
        if !window_over {
            loop {
                match engine.write(h, &self.chunk) {
                    Ok(n) => self.written += n as u64,
                    Err(Error::WouldBlock) | Err(Error::NoBuffers) => break,
                    Err(e) => {
                        self.error.get_or_insert(e);
                        self.done = true;
                        return;
                    }
                }
            }
        } else if self.direction == Direction::BothWays && !self.done {
            self.seconds = (now - start).as_secs_f64();
            self.done = true;
            let _ = engine.abort(h);
            self.conn = None;
            return;
        } else if !self.shut {
            self.shut = engine.shutdown(h, Shutdown::Write).is_ok();
        }
        loop {
            match engine.read_buf(h) {
                Ok(Some(b)) => self.read += b.len() as u64,
                Ok(None) => {
                    // One way: the discard server saw every byte and closed.
                    self.seconds = (now - start).as_secs_f64();
                    self.done = true;
                    let _ = engine.close(h);
                    self.conn = None;
                    return;
                }
                Err(Error::WouldBlock) => break,
                Err(e) => {
                    self.error.get_or_insert(e);
                    self.done = true;
                    return;
                }
            }
        }
    }

    fn finished(&self) -> bool {
        self.done
    }
}

/// Connect, request, response, close, repeated on `parallel` independent
/// loops for `measure`.
pub struct ConnectRequestResponse {
    server: SocketAddrV4,
    parallel: usize,
    size: usize,
    measure: Duration,
    msg: Vec<u8>,
    buf: Vec<u8>,
    live: Vec<(Handle, usize)>,
    started: Option<Instant>,
    /// Completed connect-request-response-close cycles.
    pub completed: u64,
    /// Failed attempts (refused, reset, no port).
    pub failures: u64,
    done: bool,
}

impl ConnectRequestResponse {
    /// `parallel` loops to `server` with `size`-byte messages.
    pub fn new(server: SocketAddrV4, parallel: usize, size: usize, measure: Duration) -> Self {
        ConnectRequestResponse {
            server,
            parallel,
            size,
            measure,
            msg: vec![0x42; size],
            buf: vec![0; size.max(2048)],
            live: Vec::new(),
            started: None,
            completed: 0,
            failures: 0,
            done: false,
        }
    }

    /// Connections per second.
    pub fn rate(&self) -> f64 {
        self.completed as f64 / self.measure.as_secs_f64()
    }

    fn open(&mut self, engine: &mut Eng) {
        match engine.connect(self.server) {
            Ok(h) => {
                let _ = engine.set_nodelay(h, true);
                self.live.push((h, 0));
            }
            Err(_) => self.failures += 1,
        }
    }
}

impl App for ConnectRequestResponse {
    fn start(&mut self, engine: &mut Eng) -> Result<(), dpdk_io::AppError> {
        for _ in 0..self.parallel {
            self.open(engine);
        }
        Ok(())
    }

    fn poll(&mut self, engine: &mut Eng, now: Instant) {
        let start = *self.started.get_or_insert(now);
        let over = now > start + self.measure;
        while let Some(ev) = engine.poll_event() {
            let Some(i) = self.live.iter().position(|c| c.0 == ev.handle) else {
                continue;
            };
            let h = ev.handle;
            match ev.kind {
                EventKind::Connected => {
                    if engine.write(h, &self.msg).is_err() {
                        self.failures += 1;
                    }
                    continue;
                }
                EventKind::Reset { .. } => {
                    self.failures += 1;
                    let _ = engine.close(h);
                    self.live.swap_remove(i);
                    if !over {
                        self.open(engine);
                    }
                    continue;
                }
                _ => {}
            }
            while let Ok(n) = engine.read(h, &mut self.buf) {
                if n == 0 {
                    break;
                }
                self.live[i].1 += n;
            }
            if self.live[i].1 >= self.size {
                let _ = engine.close(h);
                self.live.swap_remove(i);
                self.completed += 1;
                if !over {
                    self.open(engine);
                }
            }
        }
        if over && self.live.is_empty() {
            self.done = true;
        }
    }

    fn finished(&self) -> bool {
        self.done
    }
}

/// Holds `count` established, idle connections to the echo service
/// spread over `ports` ports (64 k ephemeral ports each).
pub struct IdleHold {
    server: std::net::Ipv4Addr,
    ports: Vec<u16>,
    count: usize,
    opened: usize,
    /// Connections that reached ESTABLISHED.
    pub established: usize,
    /// Failed opens.
    pub failures: usize,
    in_flight: usize,
}

impl IdleHold {
    /// `count` connections to `server` across `ports`.
    pub fn new(server: std::net::Ipv4Addr, ports: Vec<u16>, count: usize) -> IdleHold {
        IdleHold {
            server,
            ports,
            count,
            opened: 0,
            established: 0,
            failures: 0,
            in_flight: 0,
        }
    }
}

/// Connections opened per loop iteration while filling.
const OPEN_BATCH: usize = 256;
/// Handshakes in flight at once.
const OPEN_WINDOW: usize = 4096;

impl App for IdleHold {
    fn poll(&mut self, engine: &mut Eng, _now: Instant) {
        while let Some(ev) = engine.poll_event() {
            match ev.kind {
                EventKind::Connected => {
                    self.established += 1;
                    self.in_flight -= 1;
                }
                EventKind::Reset { .. } => {
                    self.failures += 1;
                    self.in_flight -= 1;
                }
                _ => {}
            }
        }
        let mut batch = 0;
        while self.opened < self.count && self.in_flight < OPEN_WINDOW && batch < OPEN_BATCH {
            let port = self.ports[self.opened % self.ports.len()];
            match engine.connect(SocketAddrV4::new(self.server, port)) {
                Ok(_) => self.in_flight += 1,
                Err(_) => self.failures += 1,
            }
            self.opened += 1;
            batch += 1;
        }
    }

    fn finished(&self) -> bool {
        self.opened == self.count && self.in_flight == 0
    }
}
