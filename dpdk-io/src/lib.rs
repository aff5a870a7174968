//! The DPDK side of the stack: EAL, mempools, mbufs implementing
//! `stack::PacketBuf`, ports, and the per-core runtime.
//!
//! Not implemented yet: this crate currently holds only the plan. The
//! engine (`stack`) runs today under the deterministic simulator in the
//! workspace's `tests/` crate.
