//! The DPDK side of the stack: EAL, mempools, mbufs implementing
//! [`stack::PacketBuf`], ports, and (later) the per-core runtime.
//!
//! This is the first slice: [`Eal`] (once per process), [`Mempool`] and
//! [`MbufPool`] (a pool of direct mbufs plus the indirect mbufs that
//! [`stack::PacketBuf::share`] uses), [`Mbuf`], and a minimal [`Port`].
//!
//! Lifetimes: DPDK frees every pool in `rte_eal_cleanup`, so the EAL is
//! cleaned up only when the [`Eal`] handle and every pool and port are
//! dropped. A pool dropped while some of its mbufs are still out (in an
//! [`Mbuf`], or in a device ring) is leaked instead of freed, and then the
//! EAL is never cleaned up: a leak, never a dangling mbuf.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod eal;
mod error;
mod mbuf;
mod mempool;
mod port;

pub use dpdk_sys as sys;
pub use eal::{lcore_id, rdtsc, socket_id, tsc_hz, Eal, EalArgs};
pub use error::DpdkError;
pub use mbuf::{Mbuf, MbufPool};
pub use mempool::Mempool;
pub use port::{create_ring_pair, LinkStatus, Port, PortConfig, PortInfo, PortStats, RssConfig};

/// Directory of DPDK's PMD plugins, found when `dpdk-sys` was built.
pub const PMD_DIR: &str = dpdk_sys::PMD_DIR;
