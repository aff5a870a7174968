//! The types of the application-facing API: handles, events, errors.

use core::fmt;

/// A connection or listener, as the application holds it: the analogue of a
/// file descriptor.
///
/// Handles are generational indices: once a handle is closed its slot may be
/// reused, but the old value never reaches the new occupant; every call with
/// it returns [`Error::InvalidHandle`] (the `EBADF` analogue). A handle also
/// names the engine that issued it: another engine (another core's) refuses
/// it with the same error rather than reaching an unrelated connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle {
    pub(crate) index: u32,
    pub(crate) generation: u32,
    /// The issuing engine's tag ([`crate::Engine::tag`]).
    pub(crate) engine: u8,
}

/// Slot indices fit in 24 bits of [`Handle::to_raw`].
pub(crate) const HANDLE_INDEX_BITS: u32 = 24;

impl Handle {
    /// The handle as one integer, for use as a map key or a C handle: the
    /// generation in the high 32 bits, the engine's tag in the next 8, the
    /// slot in the low 24.
    pub fn to_raw(self) -> u64 {
        (u64::from(self.generation) << 32)
            | (u64::from(self.engine) << HANDLE_INDEX_BITS)
            | u64::from(self.index & ((1 << HANDLE_INDEX_BITS) - 1))
    }

    /// A handle from [`Handle::to_raw`]; a made-up value is merely invalid.
    pub fn from_raw(raw: u64) -> Handle {
        Handle {
            index: (raw as u32) & ((1 << HANDLE_INDEX_BITS) - 1),
            generation: (raw >> 32) as u32,
            engine: (raw >> HANDLE_INDEX_BITS) as u8,
        }
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}.{}", self.engine, self.index, self.generation)
    }
}

/// Which direction [`crate::Engine::shutdown`] closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Stop reading: buffered and future data is discarded (contract 11).
    Read,
    /// Stop writing: queued data is sent, then FIN (contract 10).
    Write,
    /// Both (contract 12).
    Both,
}

/// The connection states of RFC 9293 section 3.3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a connection request (listeners only).
    Listen,
    /// Sent a SYN, waiting for the matching SYN.
    SynSent,
    /// Received a SYN, sent ours, waiting for its acknowledgment.
    SynReceived,
    /// Open: data flows both ways.
    Established,
    /// We sent FIN; waiting for its ACK or the peer's FIN.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// The peer sent FIN; waiting for the application to close.
    CloseWait,
    /// Both sent FIN before seeing the other's; waiting for our FIN's ACK.
    Closing,
    /// The peer closed first, we sent our FIN; waiting for its ACK.
    LastAck,
    /// Both FINs acknowledged; waiting 2·MSL before forgetting the connection.
    TimeWait,
}

/// Why a connection was reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetCause {
    /// The peer sent RST.
    PeerReset,
    /// The peer answered our SYN with RST (nothing listens there).
    Refused,
    /// Data or SYN retransmissions ran out.
    RetransmitTimeout,
    /// Keepalive probes went unanswered.
    KeepaliveTimeout,
    /// We sent RST because data arrived after the application closed the
    /// receive side (contract 12).
    DataAfterClose,
    /// ICMP said the peer cannot be reached: a hard error (protocol or
    /// port unreachable, communication prohibited) while opening, or
    /// retransmissions, probes or keepalives ran out after such a report
    /// (RFC 1122 4.2.3.9: an established connection is not aborted by
    /// ICMP alone; the report explains the timeout).
    Unreachable(Unreachable),
}

/// What an ICMP error said of a connection's path (RFC 792, RFC 1122
/// 3.2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unreachable {
    /// Destination Unreachable, network (codes 0, 6, 11).
    Network,
    /// Destination Unreachable, host (codes 1, 5, 7, 8, 12).
    Host,
    /// Destination Unreachable, protocol (code 2): the peer runs no TCP.
    Protocol,
    /// Destination Unreachable, port (code 3).
    Port,
    /// Destination Unreachable, communication administratively prohibited
    /// (codes 9, 10, 13, 14, 15: a filter on the path).
    Prohibited,
    /// Time Exceeded in transit: a routing loop, or a path longer than
    /// our TTL.
    TtlExceeded,
}

impl Unreachable {
    /// A Destination Unreachable code, or `None` for code 4
    /// (fragmentation needed: path MTU discovery, not an error) and codes
    /// RFC 1812 does not define.
    pub fn from_code(code: u8) -> Option<Unreachable> {
        Some(match code {
            0 | 6 | 11 => Unreachable::Network,
            1 | 5 | 7 | 8 | 12 => Unreachable::Host,
            2 => Unreachable::Protocol,
            3 => Unreachable::Port,
            9 | 10 | 13..=15 => Unreachable::Prohibited,
            _ => return None,
        })
    }

    /// A hard error (RFC 1122 4.2.3.9): nothing at the destination will
    /// answer, so an open in progress is aborted. Every report is soft for
    /// a synchronized connection (RFC 5927 7.2: otherwise a forged ICMP
    /// message could reset it).
    pub fn is_hard(self) -> bool {
        matches!(
            self,
            Unreachable::Protocol | Unreachable::Port | Unreachable::Prohibited
        )
    }

    /// The error a call reports for it (as Linux maps the codes).
    pub fn error(self) -> Error {
        match self {
            Unreachable::Network => Error::NetworkUnreachable,
            Unreachable::Host | Unreachable::Prohibited | Unreachable::TtlExceeded => {
                Error::HostUnreachable
            }
            Unreachable::Protocol | Unreachable::Port => Error::ConnectionRefused,
        }
    }
}

impl ResetCause {
    /// The error `read` and `write` report for a connection reset this way.
    pub fn error(self) -> Error {
        match self {
            ResetCause::PeerReset | ResetCause::DataAfterClose => Error::ConnectionReset,
            ResetCause::Refused => Error::ConnectionRefused,
            ResetCause::RetransmitTimeout | ResetCause::KeepaliveTimeout => Error::TimedOut,
            ResetCause::Unreachable(u) => u.error(),
        }
    }
}

/// How a connection closed with linger set ended (contract 9b).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseOutcome {
    /// All data and our FIN were acknowledged in time.
    Graceful,
    /// The linger time ran out, `abort` was called, or `close` found
    /// unread data (contract 8a) or an open not yet answered: we sent RST
    /// (or, before the handshake, nothing), and data may have been lost.
    Aborted,
    /// The connection was reset (by the peer, or because retransmissions
    /// or keepalives ran out) before or after it was closed, before the
    /// outcome was known.
    Reset,
}

/// What happened, reported through [`crate::Engine::poll_event`] (the epoll
/// analogue, contract 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The connection or listener: the handle `connect` or `accept` returned
    /// (or `listen`, for listeners). After `close` the value is stale but
    /// still names the connection the event is about.
    pub handle: Handle,
    /// What happened.
    pub kind: EventKind,
    /// The application's token for the connection or listener
    /// ([`crate::Engine::set_token`]; 0 until set), as epoll returns
    /// `epoll_data`: no map from handles to the application's state needed.
    pub token: u64,
}

/// The kinds of [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// The handshake completed.
    Connected,
    /// Data, end of stream or an error is ready to read.
    Readable,
    /// The send buffer has room again after a write fell short.
    Writable,
    /// The peer sent FIN (EPOLLRDHUP).
    PeerClosed,
    /// The connection was reset (EPOLLHUP | EPOLLERR).
    Reset {
        /// Why.
        cause: ResetCause,
    },
    /// A closed connection with linger set finished (contract 9b).
    Closed {
        /// How it ended.
        outcome: CloseOutcome,
    },
    /// A listener has a connection to accept.
    Acceptable,
    /// The peer marked urgent data beyond what was read (RFC 9293 3.8.5;
    /// EPOLLPRI): read on to reach it,
    /// [`crate::Engine::urgent_pending`] tells how far.
    Urgent,
}

/// Errors of the application API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Nothing to read or no room to write now; an event will tell when.
    WouldBlock,
    /// Writing after our own `shutdown(Write)`, or after a reset was
    /// reported (contract 3).
    BrokenPipe,
    /// The peer reset the connection.
    ConnectionReset,
    /// The peer answered our SYN with RST.
    ConnectionRefused,
    /// Retransmissions or keepalive probes went unanswered.
    TimedOut,
    /// ICMP reported the peer's host unreachable (or the path filtered,
    /// or a routing loop): `EHOSTUNREACH`.
    HostUnreachable,
    /// ICMP reported the peer's network unreachable: `ENETUNREACH`.
    NetworkUnreachable,
    /// The connection is not established yet (or no longer).
    NotConnected,
    /// The local port (or 4-tuple) is taken.
    AddrInUse,
    /// No ephemeral port is free for this destination.
    AddrNotAvailable,
    /// The handle was closed, never existed, or is of the wrong kind.
    InvalidHandle,
    /// An argument is out of range (port 0, backlog 0, an address we cannot
    /// route to).
    InvalidInput,
    /// The engine holds `max_connections` connections already.
    TooManyConnections,
    /// The buffer pool is empty; retry after buffers come back.
    NoBuffers,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Error::WouldBlock => "operation would block",
            Error::BrokenPipe => "broken pipe: the write side is closed",
            Error::ConnectionReset => "connection reset by peer",
            Error::ConnectionRefused => "connection refused",
            Error::TimedOut => "connection timed out",
            Error::HostUnreachable => "no route to host",
            Error::NetworkUnreachable => "network is unreachable",
            Error::NotConnected => "not connected",
            Error::AddrInUse => "address in use",
            Error::AddrNotAvailable => "no free ephemeral port for this destination",
            Error::InvalidHandle => "invalid or closed handle",
            Error::InvalidInput => "invalid argument",
            Error::TooManyConnections => "connection limit reached",
            Error::NoBuffers => "packet buffer pool exhausted",
        };
        f.write_str(text)
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The `errno` Linux returns in the same situation (for a C ABI):
    /// `EAGAIN`, `EPIPE`, `ECONNRESET`, `ECONNREFUSED`, `ETIMEDOUT`,
    /// `EHOSTUNREACH`, `ENETUNREACH`, `ENOTCONN`, `EADDRINUSE`,
    /// `EADDRNOTAVAIL`, `EBADF`, `EINVAL`, `EMFILE` (the connection limit,
    /// as a process's descriptor limit) and `ENOBUFS`.
    pub fn errno(self) -> i32 {
        match self {
            Error::WouldBlock => 11,
            Error::BrokenPipe => 32,
            Error::ConnectionReset => 104,
            Error::ConnectionRefused => 111,
            Error::TimedOut => 110,
            Error::HostUnreachable => 113,
            Error::NetworkUnreachable => 101,
            Error::NotConnected => 107,
            Error::AddrInUse => 98,
            Error::AddrNotAvailable => 99,
            Error::InvalidHandle => 9,
            Error::InvalidInput => 22,
            Error::TooManyConnections => 24,
            Error::NoBuffers => 105,
        }
    }
}

/// The matching [`std::io::ErrorKind`], with the engine's error as the
/// source, so code written against `std::io` handles the stack's errors
/// as it handles the kernel's.
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        use std::io::ErrorKind as K;
        let kind = match e {
            Error::WouldBlock => K::WouldBlock,
            Error::BrokenPipe => K::BrokenPipe,
            Error::ConnectionReset => K::ConnectionReset,
            Error::ConnectionRefused => K::ConnectionRefused,
            Error::TimedOut => K::TimedOut,
            Error::HostUnreachable => K::HostUnreachable,
            Error::NetworkUnreachable => K::NetworkUnreachable,
            Error::NotConnected => K::NotConnected,
            Error::AddrInUse => K::AddrInUse,
            Error::AddrNotAvailable => K::AddrNotAvailable,
            Error::InvalidHandle | Error::InvalidInput => K::InvalidInput,
            Error::TooManyConnections => K::QuotaExceeded,
            Error::NoBuffers => K::OutOfMemory,
        };
        std::io::Error::new(kind, e)
    }
}

/// Result of the application API.
pub type Result<T> = core::result::Result<T, Error>;
