//! Application threads that are not engine threads: commands go to the
//! engine's loop through a lock-free queue, answers and events come back
//! through others.
//!
//! The engine thread runs a [`RemoteApp`] as its [`App`]: once per loop
//! iteration it drains the command queue (at most
//! [`RemoteApp::COMMANDS_PER_POLL`] commands, so a flood cannot starve the
//! network), runs each command on the engine, and sends the answer back;
//! then it forwards every engine event. Nothing on the engine's path
//! takes a lock: the queues are crossbeam channels (lock-free for the
//! bounded reply queues and the unbounded command and event queues alike,
//! except when a receiver blocks, which only application threads do).
//!
//! An application thread holds a [`RemoteEngine`]: each call sends one
//! command and blocks until the engine thread answers, so calls behave
//! exactly as the same calls on [`stack::Engine`] do (the same contract,
//! the same errors), only later. Data crosses as `Vec<u8>` (one copy each
//! way, made by the engine thread's `read`/`write`).

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
    /// The engine thread is gone (its [`RemoteApp`] was dropped) or did
    /// not answer within the handle's timeout.
    Disconnected,
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteError::Stack(e) => write!(f, "{e}"),
            RemoteError::Disconnected => write!(f, "the engine thread does not answer"),
        }
    }
}

impl std::error::Error for RemoteError {}

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
}

/// A command and where to answer it.
struct Request {
    command: Command,
    reply: Sender<Reply>,
}

/// The engine-thread side: an [`App`] that executes the commands of
/// [`RemoteEngine`]s and forwards the engine's events. It never reports
/// itself finished: the engine loop runs until it is stopped.
pub struct RemoteApp {
    commands: Receiver<Request>,
    events: Sender<Event>,
    /// Commands executed so far.
    pub executed: u64,
    read_scratch: Vec<u8>,
}

/// The application-thread side: a handle on an engine running a
/// [`RemoteApp`] in another thread. Clones share the engine and the event
/// queue (an event goes to whichever clone receives it first); each clone
/// has its own answer queue, so clones may be used from different threads.
pub struct RemoteEngine {
    commands: Sender<Request>,
    reply_tx: Sender<Reply>,
    reply_rx: Receiver<Reply>,
    events: Receiver<Event>,
    timeout: Duration,
}

/// Makes a connected pair: the [`RemoteApp`] for the engine thread's loop
/// and the [`RemoteEngine`] for application threads. Calls give up with
/// [`RemoteError::Disconnected`] after `timeout` without an answer.
pub fn remote_pair(timeout: Duration) -> (RemoteApp, RemoteEngine) {
    let (cmd_tx, cmd_rx) = channel::unbounded();
    let (ev_tx, ev_rx) = channel::unbounded();
    let (reply_tx, reply_rx) = channel::bounded(1);
    (
        RemoteApp {
            commands: cmd_rx,
            events: ev_tx,
            executed: 0,
            read_scratch: Vec::new(),
        },
        RemoteEngine {
            commands: cmd_tx,
            reply_tx,
            reply_rx,
            events: ev_rx,
            timeout,
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
            // The asker may have given up (timeout) and gone: not an error.
            let _ = req.reply.try_send(reply);
        }
        while let Some(ev) = engine.poll_event() {
            // No receiver left: events are dropped, as nobody can ask.
            let _ = self.events.send(ev);
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
        // A previous call that timed out may have left its late answer.
        while self.reply_rx.try_recv().is_ok() {}
        self.commands
            .send(Request {
                command,
                reply: self.reply_tx.clone(),
            })
            .map_err(|_| RemoteError::Disconnected)?;
        match self.reply_rx.recv_timeout(self.timeout) {
            Ok(r) => Ok(r),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                Err(RemoteError::Disconnected)
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
        let (reply_tx, reply_rx) = channel::bounded(1);
        RemoteEngine {
            commands: self.commands.clone(),
            reply_tx,
            reply_rx,
            events: self.events.clone(),
            timeout: self.timeout,
        }
    }
}
