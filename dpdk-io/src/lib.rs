//! The DPDK side of the stack: EAL, mempools, mbufs implementing
//! [`stack::PacketBuf`], ports, and the per-core runtime that drives a
//! `stack` engine.
//!
//! - [`Eal`] (once per process), [`Mempool`] and [`MbufPool`] (direct
//!   mbufs plus the indirect mbufs [`stack::PacketBuf::share`] uses),
//!   [`Mbuf`], [`Port`] (one per device in a process) and its queue
//!   handles [`RxQueue`] and [`TxQueue`] (one owner per queue);
//! - [`RuntimeConfig`]: the TOML configuration (`configs/*.toml`);
//! - [`Worker`]: one engine on one queue in a run-to-completion loop, with
//!   the application inside it ([`App`]); [`FaultInjector`] and
//!   [`PcapWriter`] on its path;
//! - [`Runtime`] ([`multi`]): N workers on N pinned lcores over one port,
//!   flows spread by RSS or by software [`steering`];
//! - [`RemoteEngine`] ([`remote`]): application threads talking to an
//!   engine through lock-free queues;
//! - [`apps`]: the example applications (echo, discard, the servers and
//!   client of seed 000, bulk transfer).
//!
//! Lifetimes: DPDK frees every pool in `rte_eal_cleanup`, so the EAL is
//! cleaned up only when the [`Eal`] handle and every pool, port and queue
//! handle are dropped. A device is closed when its port and every queue
//! handle taken from it are dropped. A pool dropped while some of its mbufs are still out (in an
//! [`Mbuf`], or in a device ring) is leaked instead of freed, and then the
//! EAL is never cleaned up: a leak, never a dangling mbuf.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(feature = "apps")]
pub mod apps;
mod clock;
mod config;
mod eal;
mod error;
mod fault;
mod mbuf;
mod mempool;
pub mod multi;
mod pcap;
mod port;
pub mod remote;
mod runtime;
pub mod steering;

/// Logs the stack's and the runtime's `tracing` events on standard error,
/// filtered by `RUST_LOG` (`RUST_LOG=stack=debug`: connections opened and
/// reset, retransmission timeouts; `stack::drop=trace`: every drop with its
/// reason); without `RUST_LOG`, warnings only. Does nothing if a
/// subscriber is installed already. Without a subscriber the events cost a
/// branch each.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub use clock::TscClock;
pub use config::{ConfigError, EalConfig, LoopConfig, MempoolConfig, PortSection, RuntimeConfig};
pub use dpdk_sys as sys;
pub use eal::{lcore_id, rdtsc, socket_id, tsc_hz, Eal, EalArgs};
pub use error::{AppError, CoreFailure, DpdkError, JoinError, RunError};
pub use fault::{FaultConfig, FaultDirection, FaultInjector, FaultStats};
pub use mbuf::{Mbuf, MbufPool};
pub use mempool::Mempool;
pub use multi::{CoreReport, Runtime, SteerCounts, SteeringMode};
pub use pcap::PcapWriter;
pub use port::{
    create_ring_pair, LinkStatus, Port, PortConfig, PortInfo, PortStats, RssConfig, RxQueue,
    TxQueue,
};
pub use remote::{remote_pair, RemoteApp, RemoteEngine, RemoteError, RemoteResult};
pub use runtime::{iterate_pair, random_secret, App, LoopStats, Worker};
pub use steering::Steering;

/// Directory of DPDK's PMD plugins, found when `dpdk-sys` was built.
pub const PMD_DIR: &str = dpdk_sys::PMD_DIR;
