//! Sockets for application threads over an engine that runs on its own
//! core.
//!
//! The engine is run-to-completion: one thread owns it and polls it. A
//! server written against blocking or non-blocking sockets runs on other
//! threads. This crate joins the two:
//!
//! - [`Sockets`] is the application's side (`Clone`, `Send`, `Sync`):
//!   [`Sockets::listen`], [`Sockets::connect`], and the [`TcpStream`] and
//!   [`TcpListener`] they return, with `std::io::Read` and `Write`
//!   (vectored too), blocking by default or non-blocking, `shutdown`,
//!   linger, `TCP_NODELAY`, keepalive, and `poll`-style readiness;
//! - [`Host`] is the engine's side: [`Host::poll`], called once per
//!   iteration of the engine's loop, serves requests, moves bytes and
//!   turns events into socket state.
//!
//! Bytes travel in chunks through bounded lock-free queues, one per
//! direction per connection: a `read` or `write` touches only its own
//! socket's queues and never waits for the engine's thread. Calls that
//! change the connection (open, shutdown, close, options) go through a
//! bounded request queue and wait for their own reply; a reply cannot
//! reach another call. Flow control holds end to end: when the receive
//! queue is full the engine stops reading, and its window closes.
//!
//! Every rule of the connection contract (`docs/contract.md`) holds as it
//! does on the engine, except where a thread interface must differ: a
//! blocking `read` waits for data (rule 4 is the non-blocking case), and
//! `close` with linger set waits for the outcome, as on Linux.

mod host;
mod shared;
mod stream;

use std::io;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam::queue::ArrayQueue;
use stack::Shutdown;

pub use host::Host;
pub use stream::{Ready, TcpListener, TcpStream};

use shared::{Notifier, Shared};

/// Sizes of the queues between the threads.
#[derive(Debug, Clone)]
pub struct SocketsConfig {
    /// Requests waiting for the engine's thread, over all threads.
    pub requests: usize,
    /// Received chunks (16 KiB each) a connection may hold beyond the
    /// engine's own receive buffer.
    pub rx_chunks: usize,
    /// Bytes a connection may queue for the engine beyond the engine's own
    /// send buffer (`SO_SNDBUF` changes it per socket).
    pub send_buffer: usize,
    /// Sockets waiting for the engine's attention.
    pub kicks: usize,
}

impl Default for SocketsConfig {
    fn default() -> Self {
        SocketsConfig {
            requests: 4096,
            rx_chunks: 16,
            send_buffer: 256 * 1024,
            kicks: 65_536,
        }
    }
}

thread_local! {
    /// Set while [`Host::run_inline`] runs application code on the
    /// engine's thread: serves a request at once.
    pub(crate) static INLINE: std::cell::Cell<Option<*mut dyn FnMut(Request)>> =
        const { std::cell::Cell::new(None) };
}

/// Whether the calling thread is the engine's, inside
/// [`Host::run_inline`]: nothing may wait there.
pub fn in_engine_thread() -> bool {
    INLINE.with(|slot| slot.get().is_some())
}

/// What a request asks of the engine's thread.
pub(crate) enum Op {
    Listen {
        port: u16,
        backlog: usize,
    },
    Connect {
        remote: SocketAddrV4,
        local_port: u16,
    },
    Shutdown(Shutdown),
    Close,
    Abort,
    SetNodelay(bool),
    SetKeepalive(bool),
    SetLinger(Option<Duration>),
}

/// A request and where its answer goes.
pub(crate) struct Request {
    pub sock: Arc<Shared>,
    pub op: Op,
    pub reply: Arc<Reply>,
}

/// The answer to one request: `Ok(value)` or `Err(errno)`.
#[derive(Default)]
pub(crate) struct Reply {
    done: AtomicBool,
    result: Mutex<Option<Result<u64, i32>>>,
}

impl Reply {
    pub fn finish(&self, result: Result<u64, i32>) {
        *self.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
        self.done.store(true, Ordering::Release);
    }

    fn take(&self) -> Option<Result<u64, i32>> {
        if !self.done.load(Ordering::Acquire) {
            return None;
        }
        self.result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// What the two sides share.
pub(crate) struct Inner {
    pub requests: ArrayQueue<Request>,
    pub kicks: ArrayQueue<Arc<Shared>>,
    pub notify: Notifier,
    pub rx_chunks: usize,
    pub sndbuf: AtomicUsize,
    /// How long a call waits for the engine's thread before it gives up
    /// (`TimedOut`): only a stopped engine takes that long.
    pub reply_timeout: Duration,
}

/// The application's side of the sockets of one engine.
#[derive(Clone)]
pub struct Sockets {
    inner: Arc<Inner>,
}

/// A thread waits outside the sockets ([`Sockets::external_wait`]).
pub struct ExternalWait<'a> {
    sockets: &'a Sockets,
}

impl Drop for ExternalWait<'_> {
    fn drop(&mut self) {
        self.sockets
            .inner
            .notify
            .external_waiters
            .fetch_sub(1, Ordering::SeqCst);
    }
}

/// An `io::Error` from an errno, with the engine's error as its source
/// where one matches.
pub(crate) fn errno_error(errno: i32) -> io::Error {
    use stack::Error as E;
    let e = [
        E::WouldBlock,
        E::BrokenPipe,
        E::ConnectionReset,
        E::ConnectionRefused,
        E::TimedOut,
        E::HostUnreachable,
        E::NetworkUnreachable,
        E::NotConnected,
        E::AddrInUse,
        E::AddrNotAvailable,
        E::InvalidHandle,
        E::InvalidInput,
        E::TooManyConnections,
        E::NoBuffers,
    ]
    .into_iter()
    .find(|e| e.errno() == errno);
    match e {
        Some(e) => e.into(),
        None => io::Error::from_raw_os_error(errno),
    }
}

impl Sockets {
    /// Sockets with default queue sizes, and the [`Host`] the engine's
    /// loop must poll.
    pub fn new() -> (Sockets, Host) {
        Sockets::with_config(&SocketsConfig::default())
    }

    /// Sockets with the given queue sizes.
    pub fn with_config(cfg: &SocketsConfig) -> (Sockets, Host) {
        let inner = Arc::new(Inner {
            requests: ArrayQueue::new(cfg.requests.max(1)),
            kicks: ArrayQueue::new(cfg.kicks.max(1)),
            notify: Notifier::default(),
            rx_chunks: cfg.rx_chunks.max(1),
            sndbuf: AtomicUsize::new(cfg.send_buffer.max(1)),
            reply_timeout: Duration::from_secs(10),
        });
        (
            Sockets {
                inner: Arc::clone(&inner),
            },
            Host::new(inner),
        )
    }

    /// Listens on `port` of the engine's address with an accept queue of
    /// `backlog` (contract 14).
    pub fn listen(&self, port: u16, backlog: usize) -> io::Result<TcpListener> {
        let sock = Arc::new(Shared::listener(u32::MAX, backlog));
        self.call(&sock, Op::Listen { port, backlog })?;
        Ok(TcpListener::new(self.clone(), sock))
    }

    /// Connects to `remote` and waits until the handshake completes or
    /// fails (contract 15), at most `timeout` if given.
    pub fn connect(
        &self,
        remote: SocketAddrV4,
        timeout: Option<Duration>,
    ) -> io::Result<TcpStream> {
        let s = self.connect_nonblocking(remote, 0)?;
        s.set_nonblocking(false);
        s.wait_connected(timeout)?;
        Ok(s)
    }

    /// Starts connecting to `remote` (from `local_port`, or an ephemeral
    /// port if 0) and returns at once, like a non-blocking `connect`
    /// (`EINPROGRESS`): writability, or an error, tells when it is done.
    pub fn connect_nonblocking(
        &self,
        remote: SocketAddrV4,
        local_port: u16,
    ) -> io::Result<TcpStream> {
        let sndbuf = self.inner.sndbuf.load(Ordering::Relaxed);
        let sock = Arc::new(Shared::connection(u32::MAX, self.inner.rx_chunks, sndbuf));
        self.call(&sock, Op::Connect { remote, local_port })?;
        let s = TcpStream::new(self.clone(), sock);
        s.set_nonblocking(true);
        Ok(s)
    }

    /// Sends a request and waits for its answer.
    pub(crate) fn call(&self, sock: &Arc<Shared>, op: Op) -> io::Result<u64> {
        let reply = Arc::new(Reply::default());
        let mut req = Request {
            sock: Arc::clone(sock),
            op,
            reply: Arc::clone(&reply),
        };
        if let Some(serve) = INLINE.with(|slot| slot.get()) {
            // On the engine's thread (run_inline): served now. A close
            // with linger set is answered when its outcome is known, which
            // cannot be waited for here: it counts as done.
            // SAFETY: the pointer is valid while run_inline runs, which is
            // the only time it is set, and this thread is inside it.
            unsafe { (*serve)(req) };
            return reply.take().unwrap_or(Ok(0)).map_err(errno_error);
        }
        let deadline = Instant::now() + self.inner.reply_timeout;
        loop {
            match self.inner.requests.push(req) {
                Ok(()) => break,
                Err(back) => {
                    // Full: the engine's thread is behind; let it catch up.
                    req = back;
                    if Instant::now() >= deadline {
                        return Err(stack::Error::TimedOut.into());
                    }
                    std::thread::yield_now();
                }
            }
        }
        loop {
            let seen = self.inner.notify.generation();
            if let Some(result) = reply.take() {
                return result.map_err(errno_error);
            }
            if !self.inner.notify.wait(seen, Some(deadline)) {
                return Err(stack::Error::TimedOut.into());
            }
        }
    }

    /// Asks the engine's thread to look at `sock` (bytes to send, room to
    /// receive), once however often it is asked before it looks.
    pub(crate) fn kick(&self, sock: &Arc<Shared>) {
        if sock.kicked.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut s = Arc::clone(sock);
        // The queue holds a socket at most once (the flag), so it is full
        // only with more sockets than it has room for: wait for the engine.
        while let Err(back) = self.inner.kicks.push(s) {
            s = back;
            std::thread::yield_now();
        }
    }

    /// Sets how to wake threads that wait outside these sockets (in a
    /// kernel `epoll_wait` or `poll` that also watches the program's own
    /// descriptors): called on every change while such a thread waits
    /// ([`Sockets::external_wait`]). Set once; false if it was set.
    pub fn set_external_waker(&self, wake: Box<dyn Fn() + Send + Sync>) -> bool {
        self.inner.notify.external.set(wake).is_ok()
    }

    /// A counter that moves on every change the engine's thread makes.
    pub fn generation(&self) -> u32 {
        self.inner.notify.generation()
    }

    /// Marks the calling thread as about to wait outside (see
    /// [`Sockets::set_external_waker`]) until the guard is dropped. Check
    /// [`Sockets::generation`] again after taking it: a change between the
    /// last check and the guard is not signalled.
    pub fn external_wait(&self) -> ExternalWait<'_> {
        self.inner
            .notify
            .external_waiters
            .fetch_add(1, Ordering::SeqCst);
        ExternalWait { sockets: self }
    }

    /// Waits until `ready` holds or `deadline` passes (false): `ready` is
    /// checked again each time the engine's thread changes something (for
    /// `poll` and `epoll` over several sockets).
    pub fn wait_until(&self, deadline: Option<Instant>, mut ready: impl FnMut() -> bool) -> bool {
        if in_engine_thread() {
            // Waiting here would wait for ourselves.
            return ready();
        }
        loop {
            let seen = self.inner.notify.generation();
            if ready() {
                return true;
            }
            if !self.inner.notify.wait(seen, deadline) {
                return ready();
            }
        }
    }
}
