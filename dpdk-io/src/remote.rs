//! Application threads that are not engine threads: commands go to the
//! engine's loop through a lock-free queue, answers and events come back
//! through others.
//!
//! The engine thread runs a [`RemoteApp`] as its [`App`]: once per loop
//! iteration it drains the command queue (at most
//! [`RemoteApp::COMMANDS_PER_POLL`] commands, so a flood cannot starve the
//! network), runs each command on the engine, and sends the answer back;
//! then it forwards every engine event. Nothing on the engine's path
//! takes a lock or waits: the queues are bounded crossbeam channels, the
//! engine only `try_send`s, and an event that finds its queue full is
//! dropped and counted ([`RemoteApp::events_dropped`]; `readiness` still
//! tells the state).
//!
//! An application thread holds a [`RemoteEngine`]: each call sends one
//! command, numbered, and blocks until the answer with its number comes
//! back (a late answer to a call that gave up is recognised and thrown
//! away, never taken for another call's), so calls behave exactly as the
//! same calls on [`stack::Engine`] do (the same contract, the same
//! errors), only later. Data crosses as `Vec<u8>` (one copy each way, made
//! by the engine thread's `read`/`write`), or as the packet buffers
//! themselves with `read_buf`/`write_buf`. For socket-style threads
//! (blocking `std::io::Read`/`Write`), see the `stack-sockets` crate.

use std::net::SocketAddrV4;
use std::time::Duration;

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender};
use stack::{Engine, Error, Event, Handle, Instant, Readiness, Shutdown, State};

use crate::mbuf::MbufPool;
use crate::runtime::App;

/// Why a [`RemoteEngine`] call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteError {
    /// The engine refused, as [`stack::Engine`] would have.
    Stack(Error),
    /// The engine thread is gone (its [`RemoteApp`] was dropped).
    Disconnected,
    /// The engine thread did not take the command or answer it within the
    /// handle's timeout (it may still run it later).
    TimedOut,
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteError::Stack(e) => write!(f, "{e}"),
            RemoteError::Disconnected => write!(f, "the engine thread is gone"),
            RemoteError::TimedOut => write!(f, "the engine thread did not answer in time"),
        }
    }
}

impl std::error::Error for RemoteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RemoteError::Stack(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Error> for RemoteError {
    fn from(e: Error) -> Self {
        RemoteError::Stack(e)
    }
}

/// The result of a [`RemoteEngine`] call.
pub type RemoteResult<T> = Result<T, RemoteError>;

/// One command for the engine thread.
enum Command {
    Listen { port: u16, backlog: usize },
    Accept(Handle),
    Connect(SocketAddrV4),
    Read { h: Handle, max: usize },
    Write { h: Handle, data: Vec<u8> },
    Shutdown(Handle, Shutdown),
    Close(Handle),
    Abort(Handle),
    SetLinger(Handle, Option<Duration>),
    SetNodelay(Handle, bool),
    State(Handle),
    Readiness(Handle),
    Addresses(Handle),
    ConnectFrom(u16, SocketAddrV4),
    ReadBuf(Handle),
    WriteBuf(Handle, crate::mbuf::Mbuf),
    TryClone(Handle),
    SetCork(Handle, bool),
    SetKeepalive(Handle, bool),
    SetToken(Handle, u64),
    TcpInfo(Handle),
}

/// The engine thread's answer.
enum Reply {
    Unit(stack::Result<()>),
    Handle(stack::Result<Handle>),
    Accepted(stack::Result<(Handle, SocketAddrV4)>),
    Data(stack::Result<Vec<u8>>),
    Written(stack::Result<usize>),
    State(stack::Result<State>),
    Readiness(stack::Result<Readiness>),
    Addresses(stack::Result<(SocketAddrV4, SocketAddrV4)>),
    Buf(stack::Result<Option<crate::mbuf::Mbuf>>),
    WriteBuf(Result<(), (Error, crate::mbuf::Mbuf)>),
    TcpInfo(stack::Result<stack::TcpInfo>),
}

/// A command, its number, and where to answer it.
struct Request {
    id: u64,
    command: Command,
    reply: Sender<(u64, Reply)>,
}

/// Commands waiting for the engine thread, over all handles.
const COMMAND_QUEUE: usize = 4096;
/// Events waiting for application threads.
const EVENT_QUEUE: usize = 65_536;

/// The engine-thread side: an [`App`] that executes the commands of
/// [`RemoteEngine`]s and forwards the engine's events. It never reports
/// itself finished: the engine loop runs until it is stopped.
pub struct RemoteApp {
    commands: Receiver<Request>,
    events: Sender<Event>,
    /// Commands executed so far.
    pub executed: u64,
    /// Events dropped because the event queue was full.
    pub events_dropped: u64,
    read_scratch: Vec<u8>,
}

/// The application-thread side: a handle on an engine running a
/// [`RemoteApp`] in another thread. Clones share the engine and the event
/// queue (an event goes to whichever clone receives it first); each clone
/// has its own answer queue, so clones may be used from different threads.
pub struct RemoteEngine {
    commands: Sender<Request>,
    reply_tx: Sender<(u64, Reply)>,
    reply_rx: Receiver<(u64, Reply)>,
    events: Receiver<Event>,
    timeout: Duration,
    /// The number of the next call.
    next_id: std::cell::Cell<u64>,
}

/// Makes a connected pair: the [`RemoteApp`] for the engine thread's loop
/// and the [`RemoteEngine`] for application threads. Calls give up with
/// [`RemoteError::Disconnected`] after `timeout` without an answer.
pub fn remote_pair(timeout: Duration) -> (RemoteApp, RemoteEngine) {
    let (cmd_tx, cmd_rx) = channel::bounded(COMMAND_QUEUE);
    let (ev_tx, ev_rx) = channel::bounded(EVENT_QUEUE);
    let (reply_tx, reply_rx) = channel::bounded(4);
    (
        RemoteApp {
            commands: cmd_rx,
            events: ev_tx,
            executed: 0,
            events_dropped: 0,
            read_scratch: Vec::new(),
        },
        RemoteEngine {
            commands: cmd_tx,
            reply_tx,
            reply_rx,
            events: ev_rx,
            timeout,
            next_id: std::cell::Cell::new(0),
        },
    )
}

impl RemoteApp {
    /// Most commands executed per loop iteration.
    pub const COMMANDS_PER_POLL: usize = 256;

    fn execute(&mut self, engine: &mut Engine<MbufPool>, command: Command) -> Reply {
        match command {
            Command::Listen { port, backlog } => Reply::Handle(engine.listen(port, backlog)),
            Command::Accept(l) => Reply::Accepted(engine.accept(l)),
            Command::Connect(remote) => Reply::Handle(engine.connect(remote)),
            Command::Read { h, max } => {
                self.read_scratch.resize(max, 0);
                Reply::Data(
                    engine
                        .read(h, &mut self.read_scratch)
                        .map(|n| self.read_scratch[..n].to_vec()),
                )
            }
            Command::Write { h, data } => Reply::Written(engine.write(h, &data)),
            Command::Shutdown(h, how) => Reply::Unit(engine.shutdown(h, how)),
            Command::Close(h) => Reply::Unit(engine.close(h)),
            Command::Abort(h) => Reply::Unit(engine.abort(h)),
            Command::SetLinger(h, linger) => Reply::Unit(engine.set_linger(h, linger)),
            Command::SetNodelay(h, on) => Reply::Unit(engine.set_nodelay(h, on)),
            Command::State(h) => Reply::State(engine.state(h)),
            Command::Readiness(h) => Reply::Readiness(engine.readiness(h)),
            Command::Addresses(h) => Reply::Addresses(engine.addresses(h)),
            Command::ConnectFrom(port, remote) => Reply::Handle(engine.connect_from(port, remote)),
            Command::ReadBuf(h) => Reply::Buf(engine.read_buf(h)),
            Command::WriteBuf(h, buf) => Reply::WriteBuf(engine.write_buf(h, buf)),
            Command::TryClone(h) => Reply::Handle(engine.try_clone(h)),
            Command::SetCork(h, on) => Reply::Unit(engine.set_cork(h, on)),
            Command::SetKeepalive(h, on) => Reply::Unit(engine.set_keepalive(h, on)),
            Command::SetToken(h, t) => Reply::Unit(engine.set_token(h, t)),
            Command::TcpInfo(h) => Reply::TcpInfo(engine.tcp_info(h)),
        }
    }
}

impl App for RemoteApp {
    fn poll(&mut self, engine: &mut Engine<MbufPool>, _now: Instant) {
        for _ in 0..Self::COMMANDS_PER_POLL {
            let Ok(req) = self.commands.try_recv() else {
                break;
            };
            let reply = self.execute(engine, req.command);
            self.executed += 1;
            // The asker may have given up (timeout) and gone, or have a
            // late answer waiting still: not an error either way.
            let _ = req.reply.try_send((req.id, reply));
        }
        while let Some(ev) = engine.poll_event() {
            match self.events.try_send(ev) {
                Ok(()) => {}
                // Nobody reads the events (or nobody is left): the engine
                // does not wait for them.
                Err(channel::TrySendError::Full(_)) => self.events_dropped += 1,
                Err(channel::TrySendError::Disconnected(_)) => {}
            }
        }
    }
}

macro_rules! expect_reply {
    ($reply:expr, $variant:ident) => {
        match $reply {
            Reply::$variant(r) => r.map_err(RemoteError::Stack),
            _ => unreachable!("the engine answers each command with its own kind"),
        }
    };
}

impl RemoteEngine {
    fn call(&self, command: Command) -> RemoteResult<Reply> {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        // Whatever waits in the answer queue now is late, for calls that
        // gave up: room for this call's answer.
        while self.reply_rx.try_recv().is_ok() {}
        let deadline = std::time::Instant::now() + self.timeout;
        self.commands
            .send_deadline(
                Request {
                    id,
                    command,
                    reply: self.reply_tx.clone(),
                },
                deadline,
            )
            .map_err(|e| match e {
                channel::SendTimeoutError::Timeout(_) => RemoteError::TimedOut,
                channel::SendTimeoutError::Disconnected(_) => RemoteError::Disconnected,
            })?;
        loop {
            match self.reply_rx.recv_deadline(deadline) {
                Ok((got, r)) if got == id => return Ok(r),
                // The late answer of an earlier call that gave up.
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => return Err(RemoteError::TimedOut),
                Err(RecvTimeoutError::Disconnected) => return Err(RemoteError::Disconnected),
            }
        }
    }

    /// [`stack::Engine::listen`].
    pub fn listen(&self, port: u16, backlog: usize) -> RemoteResult<Handle> {
        expect_reply!(self.call(Command::Listen { port, backlog })?, Handle)
    }

    /// [`stack::Engine::accept`].
    pub fn accept(&self, listener: Handle) -> RemoteResult<(Handle, SocketAddrV4)> {
        expect_reply!(self.call(Command::Accept(listener))?, Accepted)
    }

    /// [`stack::Engine::connect`]: the handle at once, `Connected` later
    /// as an event.
    pub fn connect(&self, remote: SocketAddrV4) -> RemoteResult<Handle> {
        expect_reply!(self.call(Command::Connect(remote))?, Handle)
    }

    /// [`stack::Engine::read`] of at most `max` bytes: an empty vector is
    /// end of stream, `WouldBlock` means nothing yet.
    pub fn read(&self, h: Handle, max: usize) -> RemoteResult<Vec<u8>> {
        expect_reply!(self.call(Command::Read { h, max })?, Data)
    }

    /// [`stack::Engine::write`]: how many bytes of `data` were queued.
    pub fn write(&self, h: Handle, data: &[u8]) -> RemoteResult<usize> {
        expect_reply!(
            self.call(Command::Write {
                h,
                data: data.to_vec()
            })?,
            Written
        )
    }

    /// [`stack::Engine::shutdown`].
    pub fn shutdown(&self, h: Handle, how: Shutdown) -> RemoteResult<()> {
        expect_reply!(self.call(Command::Shutdown(h, how))?, Unit)
    }

    /// [`stack::Engine::close`].
    pub fn close(&self, h: Handle) -> RemoteResult<()> {
        expect_reply!(self.call(Command::Close(h))?, Unit)
    }

    /// [`stack::Engine::abort`].
    pub fn abort(&self, h: Handle) -> RemoteResult<()> {
        expect_reply!(self.call(Command::Abort(h))?, Unit)
    }

    /// [`stack::Engine::set_linger`].
    pub fn set_linger(&self, h: Handle, linger: Option<Duration>) -> RemoteResult<()> {
        expect_reply!(self.call(Command::SetLinger(h, linger))?, Unit)
    }

    /// [`stack::Engine::set_nodelay`].
    pub fn set_nodelay(&self, h: Handle, nodelay: bool) -> RemoteResult<()> {
        expect_reply!(self.call(Command::SetNodelay(h, nodelay))?, Unit)
    }

    /// [`stack::Engine::state`].
    pub fn state(&self, h: Handle) -> RemoteResult<State> {
        expect_reply!(self.call(Command::State(h))?, State)
    }

    /// [`stack::Engine::readiness`].
    pub fn readiness(&self, h: Handle) -> RemoteResult<Readiness> {
        expect_reply!(self.call(Command::Readiness(h))?, Readiness)
    }

    /// [`stack::Engine::addresses`]: (local, remote).
    pub fn addresses(&self, h: Handle) -> RemoteResult<(SocketAddrV4, SocketAddrV4)> {
        expect_reply!(self.call(Command::Addresses(h))?, Addresses)
    }

    /// How long calls wait for the engine thread from now on.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// [`stack::Engine::connect_from`].
    pub fn connect_from(&self, local_port: u16, remote: SocketAddrV4) -> RemoteResult<Handle> {
        expect_reply!(self.call(Command::ConnectFrom(local_port, remote))?, Handle)
    }

    /// [`stack::Engine::read_buf`]: the received buffer itself.
    pub fn read_buf(&self, h: Handle) -> RemoteResult<Option<crate::mbuf::Mbuf>> {
        expect_reply!(self.call(Command::ReadBuf(h))?, Buf)
    }

    /// [`stack::Engine::write_buf`]: queues `buf` whole, or hands it back
    /// with the reason (a timeout loses it: the engine may still queue
    /// it).
    pub fn write_buf(
        &self,
        h: Handle,
        buf: crate::mbuf::Mbuf,
    ) -> Result<(), (RemoteError, Option<crate::mbuf::Mbuf>)> {
        match self.call(Command::WriteBuf(h, buf)) {
            Ok(Reply::WriteBuf(r)) => r.map_err(|(e, b)| (RemoteError::Stack(e), Some(b))),
            Ok(_) => unreachable!("the engine answers each command with its own kind"),
            Err(e) => Err((e, None)),
        }
    }

    /// [`stack::Engine::try_clone`].
    pub fn try_clone(&self, h: Handle) -> RemoteResult<Handle> {
        expect_reply!(self.call(Command::TryClone(h))?, Handle)
    }

    /// [`stack::Engine::set_cork`].
    pub fn set_cork(&self, h: Handle, cork: bool) -> RemoteResult<()> {
        expect_reply!(self.call(Command::SetCork(h, cork))?, Unit)
    }

    /// [`stack::Engine::set_keepalive`].
    pub fn set_keepalive(&self, h: Handle, on: bool) -> RemoteResult<()> {
        expect_reply!(self.call(Command::SetKeepalive(h, on))?, Unit)
    }

    /// [`stack::Engine::set_token`]: events of `h` carry `token`.
    pub fn set_token(&self, h: Handle, token: u64) -> RemoteResult<()> {
        expect_reply!(self.call(Command::SetToken(h, token))?, Unit)
    }

    /// [`stack::Engine::tcp_info`].
    pub fn tcp_info(&self, h: Handle) -> RemoteResult<stack::TcpInfo> {
        expect_reply!(self.call(Command::TcpInfo(h))?, TcpInfo)
    }

    /// The next engine event, without waiting.
    pub fn poll_event(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// The next engine event, waiting at most `timeout`.
    pub fn wait_event(&self, timeout: Duration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }
}

impl Clone for RemoteEngine {
    fn clone(&self) -> Self {
        let (reply_tx, reply_rx) = channel::bounded(4);
        RemoteEngine {
            commands: self.commands.clone(),
            reply_tx,
            reply_rx,
            events: self.events.clone(),
            timeout: self.timeout,
            next_id: std::cell::Cell::new(0),
        }
    }
}
