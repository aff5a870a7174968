//! What the application threads and the engine's thread share: per socket,
//! two bounded queues of byte chunks (received, to send) and a word of
//! state flags; for the whole host, the queue of requests, the queue of
//! sockets that need the engine's attention, and the wake-up of waiting
//! threads.
//!
//! The engine's side takes no lock: queues are crossbeam's bounded
//! lock-free `ArrayQueue`, flags are atomics, and waking takes the
//! notifier's lock only when a thread is waiting.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Instant;

use crossbeam::queue::ArrayQueue;

/// Bytes per chunk: what one engine read fills, one application write
/// copies into at most.
pub(crate) const CHUNK: usize = 16 * 1024;

/// Socket state flags (`Shared::flags`).
pub(crate) mod flag {
    /// The handshake completed.
    pub const CONNECTED: u32 = 1;
    /// The peer sent FIN and everything before it is in the receive queue.
    pub const EOF: u32 = 2;
    /// The connection failed; `Shared::error` holds the errno.
    pub const ERROR: u32 = 4;
    /// `shutdown(Write)` (or `Both`) was called.
    pub const WRITE_SHUT: u32 = 8;
    /// `shutdown(Read)` (or `Both`) was called.
    pub const READ_SHUT: u32 = 16;
    /// The engine stopped reading because the receive queue was full; the
    /// application kicks it when it makes room.
    pub const RX_STALLED: u32 = 32;
    /// A listener.
    pub const LISTENER: u32 = 64;
}

/// One socket, as both sides see it.
pub(crate) struct Shared {
    /// Its slot in the host's table (the engine's token for it); set by
    /// the engine's thread when it files the socket.
    pub id: AtomicU32,
    pub flags: AtomicU32,
    /// The errno of a failed connection (with `flag::ERROR`).
    pub error: AtomicI32,
    /// Received bytes, oldest first (connections).
    pub rx: ArrayQueue<Vec<u8>>,
    /// Bytes to send, oldest first (connections).
    pub tx: ArrayQueue<Vec<u8>>,
    /// Bytes in `rx` (`FIONREAD`).
    pub rx_bytes: AtomicUsize,
    /// Bytes in `tx`, for the send-buffer limit.
    pub tx_bytes: AtomicUsize,
    /// The send-buffer limit in bytes (`SO_SNDBUF`).
    pub tx_limit: AtomicUsize,
    /// Connections ready for `accept` (listeners).
    pub accepted: ArrayQueue<(std::sync::Arc<Shared>, std::net::SocketAddrV4)>,
    /// Already in the kick queue: not pushed again.
    pub kicked: AtomicBool,
    /// Moves whenever the engine's thread changes something about the
    /// socket (bytes in or out, state): edge-triggered readiness.
    pub changes: AtomicU32,
    /// The local and remote addresses, once known (packed, see
    /// [`pack_addr`]).
    pub local: std::sync::atomic::AtomicU64,
    pub remote: std::sync::atomic::AtomicU64,
}

/// An IPv4 socket address in one word (0: none).
pub(crate) fn pack_addr(a: std::net::SocketAddrV4) -> u64 {
    (u64::from(u32::from(*a.ip())) << 16) | u64::from(a.port()) | (1 << 63)
}

pub(crate) fn unpack_addr(w: u64) -> Option<std::net::SocketAddrV4> {
    (w != 0).then(|| {
        std::net::SocketAddrV4::new(
            std::net::Ipv4Addr::from(((w >> 16) & 0xffff_ffff) as u32),
            w as u16,
        )
    })
}

impl Shared {
    pub fn connection(id: u32, rx_chunks: usize, tx_limit: usize) -> Shared {
        Shared {
            id: AtomicU32::new(id),
            flags: AtomicU32::new(0),
            error: AtomicI32::new(0),
            rx: ArrayQueue::new(rx_chunks.max(1)),
            tx: ArrayQueue::new(tx_limit.div_ceil(CHUNK).max(1) + 1),
            rx_bytes: AtomicUsize::new(0),
            tx_bytes: AtomicUsize::new(0),
            tx_limit: AtomicUsize::new(tx_limit),
            accepted: ArrayQueue::new(1),
            kicked: AtomicBool::new(false),
            changes: AtomicU32::new(0),
            local: Default::default(),
            remote: Default::default(),
        }
    }

    pub fn listener(id: u32, backlog: usize) -> Shared {
        Shared {
            id: AtomicU32::new(id),
            flags: AtomicU32::new(flag::LISTENER),
            error: AtomicI32::new(0),
            rx: ArrayQueue::new(1),
            tx: ArrayQueue::new(1),
            rx_bytes: AtomicUsize::new(0),
            tx_bytes: AtomicUsize::new(0),
            tx_limit: AtomicUsize::new(0),
            accepted: ArrayQueue::new(backlog.max(1)),
            kicked: AtomicBool::new(false),
            changes: AtomicU32::new(0),
            local: Default::default(),
            remote: Default::default(),
        }
    }

    /// Notes a change ([`Shared::changes`]).
    pub fn touch(&self) {
        self.changes.fetch_add(1, Ordering::Release);
    }

    pub fn has(&self, f: u32) -> bool {
        self.flags.load(Ordering::Acquire) & f != 0
    }

    pub fn set(&self, f: u32) {
        self.flags.fetch_or(f, Ordering::AcqRel);
    }

    pub fn clear(&self, f: u32) {
        self.flags.fetch_and(!f, Ordering::AcqRel);
    }

    /// Marks the connection failed with `errno` (the first failure wins).
    pub fn fail(&self, errno: i32) {
        let _ = self
            .error
            .compare_exchange(0, errno, Ordering::AcqRel, Ordering::Acquire);
        self.set(flag::ERROR);
    }

    pub fn errno(&self) -> Option<i32> {
        self.has(flag::ERROR)
            .then(|| self.error.load(Ordering::Acquire))
    }
}

/// Wakes application threads that wait for something the engine does
/// (a reply, a state change). Waiters note the generation, check their
/// condition, and sleep until the generation moves; the engine moves it
/// and, only if someone waits, takes the lock to notify.
#[derive(Default)]
pub(crate) struct Notifier {
    generation: AtomicU32,
    waiters: AtomicUsize,
    lock: Mutex<()>,
    cond: Condvar,
    /// Threads blocked somewhere else (a kernel `epoll_wait` or `poll`
    /// over the program's own descriptors too) that `external` wakes.
    pub external_waiters: AtomicUsize,
    pub external: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl Notifier {
    /// The current generation: read it before checking a condition.
    pub fn generation(&self) -> u32 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Something changed: wake every waiter.
    pub fn wake(&self) {
        // SeqCst on both sides: the waker's bump then load, and the
        // waiter's count then check, must not both miss each other.
        self.generation.fetch_add(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.cond.notify_all();
        }
        if self.external_waiters.load(Ordering::SeqCst) > 0 {
            if let Some(wake) = self.external.get() {
                wake();
            }
        }
    }

    /// Sleeps until the generation differs from `seen` or `deadline`
    /// passes. Returns false on the deadline.
    pub fn wait(&self, seen: u32, deadline: Option<Instant>) -> bool {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let moved = loop {
            if self.generation.load(Ordering::SeqCst) != seen {
                break true;
            }
            match deadline {
                None => {
                    guard = self
                        .cond
                        .wait(guard)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break false;
                    }
                    guard = self
                        .cond
                        .wait_timeout(guard, d - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        };
        drop(guard);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        moved
    }
}
