//! A sans-IO TCP/IPv4 engine for kernel-bypass stacks.
//!
//! The engine speaks Ethernet, ARP, IPv4, ICMP and TCP. It does no I/O,
//! reads no clock and draws no random numbers: frames, time and a secret key
//! come in through arguments, frames and events go out through `poll_*`
//! calls. The DPDK runtime (`dpdk-io`) drives one engine per core; the
//! simulator in the test tree drives several over a virtual network.
//!
//! ```
//! use std::net::{Ipv4Addr, SocketAddrV4};
//! use stack::{Engine, EngineConfig, HeapPool, Instant};
//!
//! let mut config = EngineConfig::default(); // 10.99.0.1/24
//! let pool = HeapPool::new(1024, 2048, 128);
//! let mut engine = Engine::new(config, pool, [7; 16], Instant::ZERO).unwrap();
//! let listener = engine.listen(7, 128).unwrap();
//! let client = engine.connect(SocketAddrV4::new(Ipv4Addr::new(10, 99, 0, 2), 9)).unwrap();
//! // The SYN waits for ARP: the first frame out is the ARP request.
//! let frame = engine.poll_transmit(Instant::ZERO).unwrap();
//! assert_eq!(&frame.head.data()[12..14], &[0x08, 0x06]);
//! # use stack::PacketBuf;
//! # let _ = (listener, client);
//! ```
//!
//! See `docs/contract.md` for the connection contract the API implements, and
//! the crate README for what is and is not implemented yet.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod arp;
mod buf;
mod config;
mod engine;
pub mod hash;
mod memory;
pub mod segment;
mod stats;
mod tcp;
mod time;
pub mod timer;
pub mod wire;

pub use api::{
    CloseOutcome, Error, Event, EventKind, Handle, ResetCause, Result, Shutdown, State, Unreachable,
};
pub use buf::{BufferPool, HeapBuf, HeapPool, PacketBuf};
pub use config::{
    ArpConfig, ConfigError, EngineConfig, KeepaliveConfig, MemoryConfig, OffloadConfig,
    StaticNeighbor, TcpConfig,
};
pub use engine::{
    Conn, Engine, Payload, PortSelector, Readiness, RxFrame, Stream, TcpInfo, Transmit,
    MAX_PAYLOAD_PARTS,
};
pub use memory::MemoryLevel;
pub use stats::{DropReason, Drops, MemoryStats, Resets, RstReason, Stats};
pub use tcp::cc::CongestionAlgorithm;
pub use time::Instant;
