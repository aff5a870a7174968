//! Example applications, run inside the engine loop ([`crate::App`]):
//! echo, discard, the server and client of seed 000, and a bulk transfer
//! that checks a hash of every byte. The `stackd` binary runs them.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddrV4;
use std::time::Duration;

use crossbeam::channel::{Receiver, TryRecvError};
use sha2::{Digest, Sha256};
use stack::{BufferPool, Engine, Error, EventKind, Handle, Instant, PacketBuf, Shutdown};

use crate::mbuf::{Mbuf, MbufPool};
use crate::runtime::App;

fn listen<P: BufferPool>(engine: &mut Engine<P>, port: u16) -> Result<Handle, String> {
    engine
        .listen(port, 1024)
        .map_err(|e| format!("listen on port {port}: {e}"))
}

/// Echoes every byte back, zero copy: received buffers are queued for
/// sending as they arrived. Closes when the peer has closed and everything
/// was echoed.
///
/// Generic over the buffers of the engine it runs on (`Echo` alone is the
/// DPDK runtime's, on mbufs); the same code runs on any engine.
pub struct Echo<B = Mbuf> {
    port: u16,
    listener: Option<Handle>,
    pending: HashMap<Handle, VecDeque<B>>,
    /// Bytes echoed so far.
    pub bytes: u64,
    /// Connections accepted so far.
    pub accepted: u64,
}

impl Echo {
    /// An echo server on `port`, for the DPDK runtime.
    pub fn new(port: u16) -> Echo {
        Echo::for_buffers(port)
    }
}

impl<B: PacketBuf> Echo<B> {
    /// An echo server on `port` for engines whose buffers are `B`.
    pub fn for_buffers(port: u16) -> Echo<B> {
        Echo {
            port,
            listener: None,
            pending: HashMap::new(),
            bytes: 0,
            accepted: 0,
        }
    }

    /// Connections accepted and not closed yet.
    pub fn open_connections(&self) -> usize {
        self.pending.len()
    }

    fn service<P: BufferPool<Buf = B>>(&mut self, engine: &mut Engine<P>, h: Handle) {
        let Some(queue) = self.pending.get_mut(&h) else {
            return;
        };
        loop {
            // Send what is waiting before reading more (flow control: a
            // slow reader on the other side slows our reading too).
            while let Some(buf) = queue.pop_front() {
                let n = buf.len();
                match engine.write_buf(h, buf) {
                    Ok(()) => self.bytes += n as u64,
                    Err((Error::WouldBlock, buf)) => {
                        queue.push_front(buf);
                        return;
                    }
                    Err(_) => {
                        let _ = engine.close(h);
                        self.pending.remove(&h);
                        return;
                    }
                }
            }
            match engine.read_buf(h) {
                Ok(Some(buf)) => queue.push_back(buf),
                Ok(None) => {
                    let _ = engine.close(h);
                    self.pending.remove(&h);
                    return;
                }
                Err(Error::WouldBlock) => return,
                Err(_) => {
                    let _ = engine.close(h);
                    self.pending.remove(&h);
                    return;
                }
            }
        }
    }
}

impl<P: BufferPool> App<P> for Echo<P::Buf> {
    fn start(&mut self, engine: &mut Engine<P>) -> Result<(), crate::AppError> {
        self.listener = Some(listen(engine, self.port)?);
        Ok(())
    }

    fn poll(&mut self, engine: &mut Engine<P>, _now: Instant) {
        while let Some(ev) = engine.poll_event() {
            if Some(ev.handle) == self.listener {
                while let Ok((h, _)) = engine.accept(ev.handle) {
                    self.accepted += 1;
                    self.pending.insert(h, VecDeque::new());
                    self.service(engine, h);
                }
            } else {
                self.service(engine, ev.handle);
            }
        }
    }
}

/// Reads and drops everything; closes at end of stream.
pub struct Discard {
    port: u16,
    listener: Option<Handle>,
    /// Bytes received so far.
    pub bytes: u64,
}

impl Discard {
    /// A discard server on `port`.
    pub fn new(port: u16) -> Discard {
        Discard {
            port,
            listener: None,
            bytes: 0,
        }
    }
}

impl<P: BufferPool> App<P> for Discard {
    fn start(&mut self, engine: &mut Engine<P>) -> Result<(), crate::AppError> {
        self.listener = Some(listen(engine, self.port)?);
        Ok(())
    }

    fn poll(&mut self, engine: &mut Engine<P>, _now: Instant) {
        while let Some(ev) = engine.poll_event() {
            if Some(ev.handle) == self.listener {
                while engine.accept(ev.handle).is_ok() {}
                continue;
            }
            loop {
                match engine.read_buf(ev.handle) {
                    Ok(Some(buf)) => self.bytes += buf.len() as u64,
                    Ok(None) | Err(Error::ConnectionReset) | Err(Error::TimedOut) => {
                        let _ = engine.close(ev.handle);
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
    }
}

/// The server of seed 000: reads a message, waits `delay`, replies
/// `"Hi, <message>"`. Prints what happens (like the seed's C program);
/// closes when the client has closed or reset the connection.
pub struct SeedServer {
    port: u16,
    delay: Duration,
    listener: Option<Handle>,
    replies: Vec<(Instant, Handle, Vec<u8>)>,
    out: Box<dyn FnMut(String)>,
}

impl SeedServer {
    /// The server on `port`, replying after `delay`; lines go to `out`.
    pub fn new(port: u16, delay: Duration, out: Box<dyn FnMut(String)>) -> SeedServer {
        SeedServer {
            port,
            delay,
            listener: None,
            replies: Vec::new(),
            out,
        }
    }
}

impl SeedServer {
    /// Reads what `h` has, as seed 000's server does: one message, then a
    /// reply after the delay, and only then the next read (so end of
    /// stream is seen after the reply went out, as in the captures).
    fn read_from<P: BufferPool>(&mut self, engine: &mut Engine<P>, h: Handle, now: Instant) {
        if self.replies.iter().any(|r| r.1 == h) {
            return;
        }
        let mut buf = [0u8; 4096];
        match engine.read(h, &mut buf) {
            Ok(0) => {
                (self.out)("client closed".into());
                let _ = engine.close(h);
            }
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                (self.out)(format!("received {n} bytes: {msg}"));
                let mut reply = b"Hi, ".to_vec();
                reply.extend_from_slice(&buf[..n]);
                self.replies.push((now + self.delay, h, reply));
            }
            Err(Error::WouldBlock) | Err(Error::InvalidHandle) => {}
            Err(e) => {
                (self.out)(format!("read error: {e}"));
                let _ = engine.close(h);
            }
        }
    }
}

impl<P: BufferPool> App<P> for SeedServer {
    fn start(&mut self, engine: &mut Engine<P>) -> Result<(), crate::AppError> {
        self.listener = Some(listen(engine, self.port)?);
        (self.out)(format!("listening on port {}", self.port));
        Ok(())
    }

    fn poll(&mut self, engine: &mut Engine<P>, now: Instant) {
        while let Some(ev) = engine.poll_event() {
            if Some(ev.handle) == self.listener {
                while let Ok((_, peer)) = engine.accept(ev.handle) {
                    (self.out)(format!("accepted {peer}"));
                }
            } else if matches!(ev.kind, EventKind::Readable) {
                self.read_from(engine, ev.handle, now);
            }
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.replies)
            .into_iter()
            .partition(|r| r.0 <= now);
        self.replies = later;
        for (_, h, reply) in due {
            match engine.write(h, &reply) {
                Ok(n) => (self.out)(format!("sent {n} bytes")),
                Err(e) => (self.out)(format!("write error: {e}")),
            }
            // What arrived while we were "sleeping" (more data, end of
            // stream, a reset) is read now; its event has passed.
            self.read_from(engine, h, now);
        }
    }
}

/// A command for [`SeedClient`], one per input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCommand {
    /// Send this text.
    Send(String),
    /// `shutdown(Write)`.
    Shutdown,
    /// `close`.
    Close,
}

impl ClientCommand {
    /// The command a line of input means (as in seed 000's client).
    pub fn parse(line: &str) -> ClientCommand {
        let line = line.trim_end_matches(['\n', '\r']);
        if line.starts_with("shutdown") {
            ClientCommand::Shutdown
        } else if line.starts_with("close") {
            ClientCommand::Close
        } else {
            ClientCommand::Send(line.to_string())
        }
    }
}

/// The client of seed 000: commands come from another thread (stdin) over
/// a channel; received text is printed, end of stream prints "server
/// terminated", errors are printed as they come.
pub struct SeedClient {
    server: SocketAddrV4,
    commands: Receiver<ClientCommand>,
    conn: Option<Handle>,
    closed_at: Option<Instant>,
    linger_after_close: Duration,
    done: bool,
    out: Box<dyn FnMut(String)>,
}

impl SeedClient {
    /// A client of `server`, taking commands from `commands`; after
    /// `close` it keeps the loop running `linger_after_close` (the seed's
    /// client sleeps 6 s) so the RST of scenario S1 can go out.
    pub fn new(
        server: SocketAddrV4,
        commands: Receiver<ClientCommand>,
        linger_after_close: Duration,
        out: Box<dyn FnMut(String)>,
    ) -> SeedClient {
        SeedClient {
            server,
            commands,
            conn: None,
            closed_at: None,
            linger_after_close,
            done: false,
            out,
        }
    }

    fn command<P: BufferPool>(
        &mut self,
        engine: &mut Engine<P>,
        h: Handle,
        cmd: ClientCommand,
        now: Instant,
    ) {
        match cmd {
            ClientCommand::Send(text) => {
                (self.out)(format!("now sending {text}"));
                match engine.write(h, text.as_bytes()) {
                    Ok(n) => (self.out)(format!("send bytes: {n}")),
                    Err(e) => (self.out)(format!("write failed: {e}")),
                }
            }
            ClientCommand::Shutdown => {
                if let Err(e) = engine.shutdown(h, Shutdown::Write) {
                    (self.out)(format!("shutdown failed: {e}"));
                }
            }
            ClientCommand::Close => {
                if let Err(e) = engine.close(h) {
                    (self.out)(format!("close failed: {e}"));
                }
                self.conn = None;
                self.closed_at = Some(now);
            }
        }
    }
}

impl<P: BufferPool> App<P> for SeedClient {
    fn start(&mut self, engine: &mut Engine<P>) -> Result<(), crate::AppError> {
        let h = engine
            .connect(self.server)
            .map_err(|e| format!("connect to {}: {e}", self.server))?;
        self.conn = Some(h);
        Ok(())
    }

    fn poll(&mut self, engine: &mut Engine<P>, now: Instant) {
        if let Some(t) = self.closed_at {
            self.done = now >= t + self.linger_after_close;
            while engine.poll_event().is_some() {}
            return;
        }
        let Some(h) = self.conn else { return };
        while let Some(ev) = engine.poll_event() {
            match ev.kind {
                EventKind::Connected => (self.out)(format!("connected to {}", self.server)),
                EventKind::Reset { cause } if engine.state(h) == Ok(stack::State::Closed) => {
                    let _ = cause;
                }
                _ => {}
            }
            let mut buf = [0u8; 4096];
            loop {
                match engine.read(h, &mut buf) {
                    Ok(0) => {
                        (self.out)("server terminated".into());
                        let _ = engine.close(h);
                        self.conn = None;
                        self.done = true;
                        return;
                    }
                    Ok(n) => (self.out)(String::from_utf8_lossy(&buf[..n]).into_owned()),
                    Err(Error::WouldBlock) => break,
                    Err(e) => {
                        (self.out)(format!("read error: {e}"));
                        let _ = engine.close(h);
                        self.conn = None;
                        self.done = true;
                        return;
                    }
                }
            }
        }
        if engine.state(h).is_ok_and(|s| s == stack::State::SynSent) {
            return;
        }
        loop {
            match self.commands.try_recv() {
                Ok(cmd) => {
                    self.command(engine, h, cmd, now);
                    if self.conn.is_none() {
                        return;
                    }
                }
                Err(TryRecvError::Empty) => break,
                // Input ended: behave as the seed's client does at EOF of
                // stdin (it stops reading stdin and waits for the server).
                Err(TryRecvError::Disconnected) => break,
            }
        }
    }

    fn finished(&self) -> bool {
        self.done
    }
}

/// Fills `buf` from a SplitMix64 stream (the bulk payload).
fn fill(state: &mut u64, buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
    }
}

/// Which side of a bulk transfer this is.
#[derive(Debug, Clone, Copy)]
pub enum BulkRole {
    /// Accept one connection on this port.
    Listen(u16),
    /// Connect to this address.
    Connect(SocketAddrV4),
}

/// A bulk transfer: sends `send_bytes` of seeded pseudo-random data (then
/// half-closes) while reading and hashing everything the peer sends,
/// until end of stream. Both directions run at once.
pub struct Bulk {
    role: BulkRole,
    conn: Option<Handle>,
    listener: Option<Handle>,
    rng: u64,
    chunk: Vec<u8>,
    chunk_off: usize,
    to_send: u64,
    sent_hash: Sha256,
    recv_hash: Sha256,
    /// Bytes written so far.
    pub sent: u64,
    /// Bytes read so far.
    pub received: u64,
    started: Option<Instant>,
    finished_at: Option<Instant>,
    error: Option<Error>,
    eof: bool,
    shut: bool,
    /// Our FIN and every byte before it were acknowledged.
    closed: bool,
}

/// The outcome of a [`Bulk`] transfer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BulkReport {
    /// Bytes sent.
    pub sent: u64,
    /// SHA-256 of what was sent, hex.
    pub sent_sha256: String,
    /// Bytes received.
    pub received: u64,
    /// SHA-256 of what was received, hex.
    pub received_sha256: String,
    /// Seconds from connection to end of stream.
    pub seconds: f64,
    /// The error that ended it early, if any.
    pub error: Option<String>,
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl Bulk {
    /// A bulk transfer in `role`, sending `send_bytes` drawn from `seed`.
    pub fn new(role: BulkRole, send_bytes: u64, seed: u64) -> Bulk {
        Bulk {
            role,
            conn: None,
            listener: None,
            rng: seed,
            chunk: vec![0; 64 * 1024],
            chunk_off: 64 * 1024,
            to_send: send_bytes,
            sent_hash: Sha256::new(),
            recv_hash: Sha256::new(),
            sent: 0,
            received: 0,
            started: None,
            finished_at: None,
            error: None,
            eof: false,
            shut: false,
            closed: false,
        }
    }

    /// What happened, once finished.
    pub fn summary(&self) -> BulkReport {
        BulkReport {
            sent: self.sent,
            sent_sha256: hex(&self.sent_hash.clone().finalize()),
            received: self.received,
            received_sha256: hex(&self.recv_hash.clone().finalize()),
            seconds: match (self.started, self.finished_at) {
                (Some(a), Some(b)) => (b - a).as_secs_f64(),
                _ => 0.0,
            },
            error: self.error.map(|e| e.to_string()),
        }
    }

    fn pump<P: BufferPool>(&mut self, engine: &mut Engine<P>, h: Handle, now: Instant) {
        while self.sent < self.to_send {
            if self.chunk_off == self.chunk.len() {
                let n = (self.to_send - self.sent).min(self.chunk.len() as u64) as usize;
                self.chunk.truncate(n);
                fill(&mut self.rng, &mut self.chunk);
                self.sent_hash.update(&self.chunk);
                self.chunk_off = 0;
            }
            match engine.write(h, &self.chunk[self.chunk_off..]) {
                Ok(n) => {
                    self.chunk_off += n;
                    self.sent += n as u64;
                }
                Err(Error::WouldBlock) | Err(Error::NoBuffers) => break,
                Err(e) => {
                    self.fail(e, now);
                    return;
                }
            }
        }
        if self.sent == self.to_send && !self.shut {
            self.shut = engine.shutdown(h, Shutdown::Write).is_ok();
        }
        loop {
            match engine.read_buf(h) {
                Ok(Some(buf)) => {
                    self.recv_hash.update(buf.data());
                    self.received += buf.len() as u64;
                }
                Ok(None) => {
                    self.eof = true;
                    break;
                }
                Err(Error::WouldBlock) => break,
                Err(e) => {
                    self.fail(e, now);
                    return;
                }
            }
        }
        if self.eof && self.shut && self.finished_at.is_none() {
            self.finished_at = Some(now);
            // Finished only once our data and FIN are acknowledged (the
            // Closed event of contract 9b): a process that exits earlier
            // can leave the tail unsent on a lossy link.
            let _ = engine.set_linger(h, Some(Duration::from_secs(30)));
            let _ = engine.close(h);
        }
    }

    fn fail(&mut self, e: Error, now: Instant) {
        self.error = Some(e);
        self.finished_at = Some(now);
    }
}

impl<P: BufferPool> App<P> for Bulk {
    fn start(&mut self, engine: &mut Engine<P>) -> Result<(), crate::AppError> {
        match self.role {
            BulkRole::Listen(port) => self.listener = Some(listen(engine, port)?),
            BulkRole::Connect(addr) => {
                self.conn = Some(
                    engine
                        .connect(addr)
                        .map_err(|e| format!("connect to {addr}: {e}"))?,
                );
            }
        }
        Ok(())
    }

    fn poll(&mut self, engine: &mut Engine<P>, now: Instant) {
        while let Some(ev) = engine.poll_event() {
            if Some(ev.handle) == self.listener && self.conn.is_none() {
                if let Ok((h, _)) = engine.accept(ev.handle) {
                    self.conn = Some(h);
                }
            }
            if let EventKind::Reset { cause } = ev.kind {
                if Some(ev.handle) == self.conn && self.finished_at.is_none() {
                    self.fail(cause.error(), now);
                }
            }
            if let EventKind::Closed { .. } = ev.kind {
                if Some(ev.handle) == self.conn {
                    self.closed = true;
                }
            }
        }
        let Some(h) = self.conn else { return };
        if self.finished_at.is_some() {
            return;
        }
        if engine.state(h).is_ok_and(|s| s == stack::State::SynSent) {
            return;
        }
        self.started.get_or_insert(now);
        self.pump(engine, h, now);
    }

    fn finished(&self) -> bool {
        self.finished_at.is_some() && (self.closed || self.error.is_some())
    }

    fn report(&self) -> Option<String> {
        serde_json::to_string(&self.summary()).ok()
    }
}

/// How [`Closer`] ends its connection (contracts 8a, 9b, 9c).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseMode {
    /// `close` once the peer's data has arrived, without reading it: RST
    /// (contract 8a).
    Unread,
    /// Send "hello", read the peer's reply, then `abort`: RST (contract 9c).
    Abort,
    /// Send "hello", read the peer's reply, set linger to this time and
    /// `close`. Zero is abortive (contract 9c); otherwise the engine sends
    /// RST at the linger time if the data and FIN are not acknowledged by
    /// then, and reports the outcome (contract 9b). With `fill` (see
    /// [`Closer::new`]), the send buffer is filled first, so a peer that
    /// does not read makes the linger time run out.
    Linger(Duration),
}

/// A client that opens one connection and ends it one way, to show each
/// close variant on the wire against another TCP (the Linux peer tests).
/// Prints what happens, one line each: `connected`, `received N bytes`,
/// `closing: ...` and, for linger, `closed: <outcome> after <ms> ms`.
/// Finishes `grace` after the close (or the outcome), so the RST leaves
/// and stray replies are answered.
pub struct Closer {
    server: SocketAddrV4,
    mode: CloseMode,
    fill: bool,
    grace: Duration,
    conn: Option<Handle>,
    hello_sent: bool,
    received: usize,
    closed_at: Option<Instant>,
    done_at: Option<Instant>,
    now: Option<Instant>,
    out: Box<dyn FnMut(String)>,
}

impl Closer {
    /// A closer of a connection to `server`; `fill` fills the send buffer
    /// before a linger close. Lines go to `out`.
    pub fn new(
        server: SocketAddrV4,
        mode: CloseMode,
        fill: bool,
        out: Box<dyn FnMut(String)>,
    ) -> Closer {
        Closer {
            server,
            mode,
            fill,
            grace: Duration::from_millis(500),
            conn: None,
            hello_sent: false,
            received: 0,
            closed_at: None,
            done_at: None,
            now: None,
            out,
        }
    }

    fn close_now<P: BufferPool>(&mut self, engine: &mut Engine<P>, h: Handle, now: Instant) {
        let unread = engine.readiness(h).map(|r| r.readable_bytes).unwrap_or(0);
        let result = match self.mode {
            CloseMode::Unread => {
                (self.out)(format!("closing: close with {unread} unread bytes"));
                engine.close(h)
            }
            CloseMode::Abort => {
                (self.out)("closing: abort".into());
                engine.abort(h)
            }
            CloseMode::Linger(t) => {
                let mut queued = 0usize;
                if self.fill {
                    let block = [0x6cu8; 16 * 1024];
                    while let Ok(n) = engine.write(h, &block) {
                        queued += n;
                    }
                }
                (self.out)(format!(
                    "closing: linger {} ms, {queued} bytes queued",
                    t.as_millis()
                ));
                engine.set_linger(h, Some(t)).and_then(|()| engine.close(h))
            }
        };
        if let Err(e) = result {
            (self.out)(format!("close failed: {e}"));
        }
        self.conn = None;
        self.closed_at = Some(now);
        // Without linger there is no outcome to wait for.
        if !matches!(self.mode, CloseMode::Linger(t) if !t.is_zero()) {
            self.done_at = Some(now + self.grace);
        }
    }
}

impl<P: BufferPool> App<P> for Closer {
    fn start(&mut self, engine: &mut Engine<P>) -> Result<(), crate::AppError> {
        self.conn = Some(
            engine
                .connect(self.server)
                .map_err(|e| format!("connect to {}: {e}", self.server))?,
        );
        Ok(())
    }

    fn poll(&mut self, engine: &mut Engine<P>, now: Instant) {
        self.now = Some(now);
        while let Some(ev) = engine.poll_event() {
            match ev.kind {
                EventKind::Connected => (self.out)(format!("connected to {}", self.server)),
                EventKind::Closed { outcome } => {
                    if let Some(t) = self.closed_at {
                        (self.out)(format!(
                            "closed: {outcome:?} after {} ms",
                            (now - t).as_millis()
                        ));
                    }
                    self.done_at.get_or_insert(now + self.grace);
                }
                EventKind::Reset { cause } if self.conn == Some(ev.handle) => {
                    (self.out)(format!("reset: {cause:?}"));
                    let _ = engine.close(ev.handle);
                    self.conn = None;
                    self.done_at = Some(now);
                }
                _ => {}
            }
        }
        let Some(h) = self.conn else { return };
        if !engine
            .state(h)
            .is_ok_and(|s| s == stack::State::Established)
        {
            return;
        }
        if self.mode == CloseMode::Unread {
            // The peer sends first; close as soon as something is buffered.
            if engine.readiness(h).is_ok_and(|r| r.readable_bytes > 0) {
                self.close_now(engine, h, now);
            }
            return;
        }
        if !self.hello_sent {
            self.hello_sent = engine.write(h, b"hello").is_ok();
            return;
        }
        let mut buf = [0u8; 64];
        match engine.read(h, &mut buf) {
            Ok(0) => {
                (self.out)("end of stream before the reply".into());
                let _ = engine.close(h);
                self.conn = None;
                self.done_at = Some(now);
            }
            Ok(n) => {
                self.received += n;
                (self.out)(format!("received {n} bytes"));
                if self.received >= 2 {
                    self.close_now(engine, h, now);
                }
            }
            Err(Error::WouldBlock) => {}
            Err(e) => {
                (self.out)(format!("read error: {e}"));
                let _ = engine.close(h);
                self.conn = None;
                self.done_at = Some(now);
            }
        }
    }

    fn finished(&self) -> bool {
        matches!((self.done_at, self.now), (Some(done), Some(now)) if now >= done)
    }
}

/// Keeps the loop running after the application it wraps has finished,
/// until every connection has settled (TIME_WAIT or CLOSED: everything
/// it sent, FIN included, was acknowledged) or `limit` has passed. An
/// application that finishes as soon as it has closed (like [`Bulk`])
/// would otherwise end the process with data or its FIN still
/// unacknowledged, which a lossy link then never gets. `stackd
/// --settle-ms N` wraps the chosen application in it.
pub struct Settle<P: BufferPool = MbufPool> {
    inner: Box<dyn App<P>>,
    limit: Duration,
    inner_done_at: Option<Instant>,
    settled: bool,
}

impl<P: BufferPool> Settle<P> {
    /// Wraps `inner`, waiting at most `limit` for its connections.
    pub fn new(inner: Box<dyn App<P>>, limit: Duration) -> Settle<P> {
        Settle {
            inner,
            limit,
            inner_done_at: None,
            settled: false,
        }
    }
}

impl<P: BufferPool> App<P> for Settle<P> {
    fn start(&mut self, engine: &mut Engine<P>) -> Result<(), crate::AppError> {
        self.inner.start(engine)
    }

    fn poll(&mut self, engine: &mut Engine<P>, now: Instant) {
        self.inner.poll(engine, now);
        if !self.inner.finished() {
            return;
        }
        let since = *self.inner_done_at.get_or_insert(now);
        self.settled = now - since >= self.limit
            || engine
                .state_counts()
                .iter()
                .all(|(s, _)| matches!(s, stack::State::TimeWait | stack::State::Closed));
    }

    fn finished(&self) -> bool {
        self.settled
    }

    fn report(&self) -> Option<String> {
        self.inner.report()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddrV4};

    use stack::wire::{EthernetAddress, Ipv4Cidr};
    use stack::{EngineConfig, HeapBuf, HeapPool, StaticNeighbor};

    use super::*;

    fn engine(me: u8, peer: u8) -> Engine<HeapPool> {
        let cfg = EngineConfig {
            mac: EthernetAddress([2, 0, 0, 0, 0, me]),
            address: Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, me), 24).unwrap(),
            neighbors: vec![StaticNeighbor {
                ip: Ipv4Addr::new(10, 0, 0, peer),
                mac: EthernetAddress([2, 0, 0, 0, 0, peer]),
            }],
            ..EngineConfig::default()
        };
        let pool = HeapPool::new(1024, 2176, 128);
        Engine::new(cfg, pool, [me; 16], Instant::ZERO).unwrap()
    }

    // The echo server stackd runs on DPDK, here on engines over heap
    // buffers: the same application code, another kind of buffer.
    #[test]
    fn the_echo_app_runs_on_heap_buffers_too() {
        let mut server = engine(1, 2);
        let mut client = engine(2, 1);
        let mut echo: Echo<HeapBuf> = Echo::for_buffers(7);
        App::<HeapPool>::start(&mut echo, &mut server).unwrap();
        let h = client
            .connect(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 7))
            .unwrap();
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        let (mut sent, mut got) = (0, Vec::new());
        let mut now = Instant::ZERO;
        let mut buf = [0u8; 4096];
        for _ in 0..10_000 {
            now += Duration::from_micros(100);
            if sent < data.len() {
                if let Ok(n) = client.write(h, &data[sent..]) {
                    sent += n;
                }
            }
            while let Ok(n @ 1..) = client.read(h, &mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
            echo.poll(&mut server, now);
            while let Some(f) = client.poll_transmit(now) {
                let b = server.pool_mut().alloc_with(&f.to_vec()).unwrap();
                server.handle_rx(now, b);
            }
            while let Some(f) = server.poll_transmit(now) {
                let b = client.pool_mut().alloc_with(&f.to_vec()).unwrap();
                client.handle_rx(now, b);
            }
            client.handle_timeouts(now);
            server.handle_timeouts(now);
            while client.poll_event().is_some() {}
            if got.len() == data.len() {
                break;
            }
        }
        assert!(got == data, "{} of {} bytes echoed", got.len(), data.len());
        assert_eq!((echo.accepted, echo.bytes), (1, data.len() as u64));
    }
}
