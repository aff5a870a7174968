//! Packet-buffer memory: what connections hold, counted by buffer truesize,
//! and the levels of pressure that regulate it (Linux's `tcp_mem`).
//!
//! Every queue that holds buffers (receive, out-of-order, send, and the
//! buffers `write_buf` queues) knows its truesize. After every call into a
//! TCB the engine compares what the connection holds with what it last
//! counted for it ([`Holding`]) and moves the engine's totals by the
//! difference, so the totals are exact at every driver call without a walk
//! over connections. The TCB sees the totals through [`MemView`] and asks
//! [`Budget`] before it takes a new buffer.

use core::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::EngineConfig;

/// How close the engine's connections are to their memory limit
/// (see [`crate::MemoryConfig`]).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum MemoryLevel {
    /// Below the pressure mark: nothing is regulated.
    #[default]
    Normal,
    /// Small segments are copied into full buffers; windows grow by at
    /// most four segments.
    Pressure,
    /// Out-of-order queues are pruned and windows stop growing.
    Critical,
    /// In the reserved top of the limit: only connections holding less
    /// than `conn_min` in a direction take new buffers.
    Reserved,
}

/// The queues a connection holds buffers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueKind {
    Recv = 0,
    Ooo = 1,
    Send = 2,
}

impl QueueKind {
    pub const ALL: [QueueKind; 3] = [QueueKind::Recv, QueueKind::Ooo, QueueKind::Send];
}

/// What one connection holds: truesize bytes and buffers per queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Holding {
    pub bytes: [u32; 3],
    pub bufs: [u32; 3],
}

impl Holding {
    pub fn total(&self) -> usize {
        self.bytes.iter().map(|&b| b as usize).sum()
    }
}

/// The engine's limits in bytes, fixed when the engine is made.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    pub limit: usize,
    pub pressure: usize,
    pub critical: usize,
    /// Where the reserved top of the limit begins.
    pub reserved: usize,
    /// Writers refused for memory are told `Writable` once the engine
    /// holds no more than this: far enough below the reserved top that
    /// their next buffer is taken (else they would be refused again at
    /// once, and woken again, for ever).
    pub wake: usize,
    pub conn_min: usize,
    pub conn_recv_limit: usize,
    pub conn_send_limit: usize,
    pub ooo_timeout: Duration,
}

impl Budget {
    /// The limits `cfg` asks for; a limit it leaves open is derived from
    /// the pool: `capacity` buffers of `buffer_size` bytes, less the
    /// `tcp.pool_reserve` buffers kept for receiving. A pool that cannot
    /// tell its size leaves the engine unlimited (per-connection limits
    /// still hold).
    pub fn new(cfg: &EngineConfig, capacity: Option<usize>, buffer_size: Option<usize>) -> Budget {
        let m = &cfg.memory;
        let derived = match (capacity, buffer_size) {
            (Some(n), Some(size)) => Some(n.saturating_sub(cfg.tcp.pool_reserve) * size),
            _ => None,
        };
        let limit = m.limit.or(derived).unwrap_or(usize::MAX);
        // Per-connection defaults: twice the buffer in bytes (a full
        // segment fills two thirds of its buffer), and a few buffers more
        // so that small buffer settings still hold whole segments.
        let slack = 4 * buffer_size.unwrap_or(2048);
        let share = |percent: u8| {
            if limit == usize::MAX {
                usize::MAX
            } else {
                (limit as u128 * u128::from(percent) / 100) as usize
            }
        };
        let (critical, reserved) = (share(m.critical_percent), share(100 - m.reserved_percent));
        let margin = ((reserved - critical) / 2).max(2 * buffer_size.unwrap_or(2048));
        Budget {
            limit,
            pressure: share(m.pressure_percent),
            critical,
            reserved,
            wake: reserved.saturating_sub(margin),
            conn_min: m.conn_min,
            conn_recv_limit: m.conn_recv_limit.unwrap_or(2 * cfg.tcp.recv_buffer + slack),
            conn_send_limit: m.conn_send_limit.unwrap_or(2 * cfg.tcp.send_buffer + slack),
            ooo_timeout: m.ooo_timeout,
        }
    }

    /// The level for `held` bytes.
    pub fn level(&self, held: usize) -> MemoryLevel {
        if held >= self.reserved {
            MemoryLevel::Reserved
        } else if held >= self.critical {
            MemoryLevel::Critical
        } else if held >= self.pressure {
            MemoryLevel::Pressure
        } else {
            MemoryLevel::Normal
        }
    }

    /// Whether a connection holding `conn` bytes (both ways) may take a
    /// buffer of `add` bytes while the engine holds `held`: anyone below
    /// the reserved top, and a connection under its minimum up to the
    /// limit itself. The minimum counts both ways so that connections
    /// that already hold much in one direction (a peer that never reads)
    /// cannot spend the reserved top on the other.
    pub fn admits(&self, held: usize, conn: usize, add: usize) -> bool {
        let after = held.saturating_add(add);
        after <= self.reserved || (conn < self.conn_min && after <= self.limit)
    }

    /// Whether an out-of-order segment of `add` bytes may be stored: only
    /// below the critical mark (data the stream cannot use yet is the
    /// first thing to go).
    pub fn admits_ooo(&self, held: usize, add: usize) -> bool {
        held.saturating_add(add) < self.critical
    }
}

/// What a TCB call sees of the engine's memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemView<'a> {
    pub budget: &'a Budget,
    /// Bytes the engine counted for all connections before this call.
    pub held: usize,
    pub level: MemoryLevel,
    /// The pool is down to its reserve: no connection may keep another
    /// buffer, whatever the accounting says.
    pub pool_low: bool,
}

impl MemView<'_> {
    /// Whether segments that are not full should be copied together.
    pub fn collapse_all(&self) -> bool {
        self.level >= MemoryLevel::Pressure
    }
}

/// Whether a buffer carrying `len` bytes is small enough to be copied into
/// a neighbour rather than held whole: under an eighth of its truesize, or
/// any size under pressure.
pub(crate) fn worth_collapsing(len: usize, truesize: usize, pressure: bool) -> bool {
    pressure || len < truesize / 8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(limit: usize) -> Budget {
        let mut cfg = EngineConfig::default();
        cfg.memory.limit = Some(limit);
        Budget::new(&cfg, None, None)
    }

    #[test]
    fn levels_follow_the_marks() {
        let b = budget(100_000);
        assert_eq!(
            (b.pressure, b.critical, b.reserved),
            (50_000, 75_000, 90_000)
        );
        assert_eq!(b.level(0), MemoryLevel::Normal);
        assert_eq!(b.level(49_999), MemoryLevel::Normal);
        assert_eq!(b.level(50_000), MemoryLevel::Pressure);
        assert_eq!(b.level(75_000), MemoryLevel::Critical);
        assert_eq!(b.level(90_000), MemoryLevel::Reserved);
        assert_eq!(b.level(200_000), MemoryLevel::Reserved);
    }

    #[test]
    fn the_reserved_top_is_for_connections_under_their_minimum() {
        let b = budget(100_000);
        // Below the reserved top: anyone.
        assert!(b.admits(80_000, 1_000_000, 10_000));
        // Into it: only a connection under conn_min (4096), and never past
        // the limit.
        assert!(!b.admits(85_000, 4096, 10_000));
        assert!(b.admits(85_000, 4095, 10_000));
        assert!(!b.admits(95_000, 0, 10_000));
        // Out-of-order data stops at the critical mark.
        assert!(b.admits_ooo(70_000, 4_000));
        assert!(!b.admits_ooo(72_000, 4_000));
    }

    #[test]
    fn the_limit_is_derived_from_the_pool_less_its_reserve() {
        let cfg = EngineConfig::default();
        let b = Budget::new(&cfg, Some(1064), Some(2176));
        assert_eq!(b.limit, 1000 * 2176);
        assert_eq!(b.conn_recv_limit, 2 * cfg.tcp.recv_buffer + 4 * 2176);
        let unlimited = Budget::new(&cfg, None, Some(2176));
        assert_eq!(unlimited.level(usize::MAX / 2), MemoryLevel::Normal);
    }
}
