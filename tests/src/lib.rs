//! Cross-crate test support: a deterministic network simulator that runs
//! several `stack` engines over seeded, lossy virtual links, on a virtual
//! clock, and records what crossed the wire.

pub mod apps;
pub mod pcap;
pub mod raw;
pub mod rng;
pub mod sim;
pub mod trace;
pub mod transfer;

pub use rng::Rng;
pub use sim::{LinkConfig, Node, Sim};
pub use trace::{Segment, TraceEntry};
