//! The error type of every fallible DPDK call.

use std::ffi::CStr;
use std::fmt;

/// Why a DPDK operation failed. `errno` values are DPDK's (positive, as in
/// `rte_errno`), printed with `rte_strerror`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpdkError {
    /// `Eal::init` was already called in this process (DPDK allows one
    /// initialisation per process, even after a failed one or a cleanup).
    AlreadyInitialized,
    /// An operation needs the EAL and no [`crate::Eal`] is alive.
    NotInitialized,
    /// An argument contained a NUL byte and cannot be passed to C.
    NulInArgument(String),
    /// `rte_eal_init` failed.
    EalInit {
        /// `rte_errno` after the failure.
        errno: i32,
    },
    /// `rte_pktmbuf_pool_create` failed.
    MempoolCreate {
        /// The pool's name.
        name: String,
        /// `rte_errno` after the failure.
        errno: i32,
    },
    /// No port has this name.
    NoSuchPort(String),
    /// The port is already configured in this process: a [`crate::Port`]
    /// of it, or a queue handle taken from one, is still alive.
    PortInUse(u16),
    /// The port was not configured with this queue.
    NoSuchQueue {
        /// Port id.
        port: u16,
        /// `"RX"` or `"TX"`.
        direction: &'static str,
        /// Queue id.
        queue: u16,
    },
    /// The queue's handle was already taken from its port.
    QueueTaken {
        /// Port id.
        port: u16,
        /// `"RX"` or `"TX"`.
        direction: &'static str,
        /// Queue id.
        queue: u16,
    },
    /// The port cannot be started or stopped while a queue handle taken
    /// from it is alive (another thread may be polling the queue).
    QueuesInUse(u16),
    /// The port cannot do what was asked (more queues than it has, an
    /// offload it does not report).
    PortCapability {
        /// Port id.
        port: u16,
        /// What was asked.
        what: String,
    },
    /// The driver does not implement this operation (`-ENOTSUP`).
    NotSupported {
        /// Port id.
        port: u16,
        /// The DPDK function.
        op: &'static str,
    },
    /// An ethdev call failed.
    Port {
        /// Port id.
        port: u16,
        /// The DPDK function.
        op: &'static str,
        /// Its error, as a positive errno.
        errno: i32,
    },
    /// The link did not come up in time.
    LinkTimeout {
        /// Port id.
        port: u16,
    },
    /// Creating a ring or a ring-backed port failed.
    Ring {
        /// Ring or port name.
        name: String,
        /// `rte_errno` after the failure.
        errno: i32,
    },
    /// The configuration cannot be used (the message names the key).
    Config(String),
    /// A file or the operating system failed (pcap file, random source).
    Io(String),
}

impl DpdkError {
    /// The error of an ethdev call that returned `ret < 0`.
    pub(crate) fn port(port: u16, op: &'static str, ret: i32) -> DpdkError {
        let errno = ret.saturating_neg();
        if errno == libc_enotsup() {
            DpdkError::NotSupported { port, op }
        } else {
            DpdkError::Port { port, op, errno }
        }
    }
}

const fn libc_enotsup() -> i32 {
    // ENOTSUP == EOPNOTSUPP == 95 on Linux, the only target DPDK supports here.
    95
}

/// `rte_strerror(errno)`, copied out of DPDK's per-thread buffer.
pub(crate) fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror accepts any value and returns a pointer to a
    // static or per-thread NUL-terminated string, valid until the next call
    // on this thread; it is copied before anything else runs here.
    unsafe {
        let s = dpdk_sys::rte_strerror(errno);
        if s.is_null() {
            format!("errno {errno}")
        } else {
            CStr::from_ptr(s).to_string_lossy().into_owned()
        }
    }
}

/// `rte_errno` of the calling thread.
pub(crate) fn rte_errno() -> i32 {
    // SAFETY: reads a thread-local integer; no preconditions.
    unsafe { dpdk_sys::shim_errno() }
}

impl fmt::Display for DpdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DpdkError::AlreadyInitialized => {
                write!(f, "the EAL was already initialised in this process")
            }
            DpdkError::NotInitialized => write!(f, "the EAL is not initialised"),
            DpdkError::NulInArgument(a) => write!(f, "argument contains a NUL byte: {a:?}"),
            DpdkError::EalInit { errno } => {
                write!(f, "rte_eal_init failed: {}", strerror(*errno))
            }
            DpdkError::MempoolCreate { name, errno } => {
                write!(f, "creating mempool {name:?} failed: {}", strerror(*errno))
            }
            DpdkError::NoSuchPort(name) => write!(f, "no port named {name:?}"),
            DpdkError::PortInUse(port) => write!(
                f,
                "port {port} is already in use: a Port or queue handle of it is alive"
            ),
            DpdkError::NoSuchQueue {
                port,
                direction,
                queue,
            } => write!(f, "port {port} has no {direction} queue {queue}"),
            DpdkError::QueueTaken {
                port,
                direction,
                queue,
            } => write!(
                f,
                "port {port}: the handle of {direction} queue {queue} was already taken"
            ),
            DpdkError::QueuesInUse(port) => write!(
                f,
                "port {port} cannot be started or stopped while a queue handle taken from it is alive"
            ),
            DpdkError::PortCapability { port, what } => {
                write!(f, "port {port} cannot do this: {what}")
            }
            DpdkError::NotSupported { port, op } => {
                write!(f, "port {port}: {op} is not supported by the driver")
            }
            DpdkError::Config(m) => write!(f, "{m}"),
            DpdkError::Io(m) => write!(f, "I/O error: {m}"),
            DpdkError::Port { port, op, errno } => {
                write!(f, "port {port}: {op} failed: {}", strerror(*errno))
            }
            DpdkError::LinkTimeout { port } => write!(f, "port {port}: link did not come up"),
            DpdkError::Ring { name, errno } => {
                write!(f, "ring {name:?}: {}", strerror(*errno))
            }
        }
    }
}

impl std::error::Error for DpdkError {}

/// What an application's start ([`crate::App::start`]) fails with: any
/// error, its sources kept.
pub type AppError = Box<dyn std::error::Error + Send + Sync>;

/// Why the loop did not run ([`crate::Worker::run`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// The application's start failed.
    Start(AppError),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Start(e) => write!(f, "the application did not start: {e}"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Start(e) => Some(e.as_ref()),
        }
    }
}

/// Why one core of a runtime ended badly.
#[derive(Debug)]
#[non_exhaustive]
pub enum CoreFailure {
    /// Its worker could not be made (queues, pool, configuration).
    Worker(DpdkError),
    /// Its application's start failed.
    Start(AppError),
    /// Its thread panicked.
    Panicked,
}

impl fmt::Display for CoreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreFailure::Worker(e) => write!(f, "worker: {e}"),
            CoreFailure::Start(e) => write!(f, "the application did not start: {e}"),
            CoreFailure::Panicked => write!(f, "the thread panicked"),
        }
    }
}

impl std::error::Error for CoreFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CoreFailure::Worker(e) => Some(e),
            CoreFailure::Start(e) => Some(e.as_ref()),
            CoreFailure::Panicked => None,
        }
    }
}

/// The cores of a runtime that ended badly ([`crate::Runtime::join`]), by
/// core number.
#[derive(Debug)]
pub struct JoinError {
    /// Each failed core and why.
    pub failures: Vec<(usize, CoreFailure)>,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (core, why)) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "core {core}: {why}")?;
        }
        Ok(())
    }
}

impl std::error::Error for JoinError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.failures
            .first()
            .map(|(_, e)| e as &(dyn std::error::Error + 'static))
    }
}
