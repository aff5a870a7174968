//! The engine's side of packet-buffer memory (see [`crate::memory`]):
//! counting what each connection holds after every call into it, the
//! levels and what they trigger (pruning out-of-order queues, waking
//! writers), and making room on a connection over its own limit.

use crate::buf::BufferPool;
use crate::memory::{Holding, MemoryLevel, QueueKind};
use crate::tcp::timers::TimerKind;
use crate::tcp::{seq_diff, EventBits};
use crate::wire::SeqNumber;

use super::Engine;

impl<P: BufferPool> Engine<P> {
    /// Whether the pool is down to its reserve (`tcp.pool_reserve`). Asked
    /// only under pressure: below the pressure mark the accounting alone
    /// keeps the connections clear of the reserve.
    pub(super) fn pool_low(&self) -> bool {
        self.stats.memory.level != MemoryLevel::Normal && self.pool_at_reserve()
    }

    /// Whether the pool has no more than its reserve free.
    pub(super) fn pool_at_reserve(&self) -> bool {
        self.pool
            .available()
            .is_some_and(|free| free <= self.cfg.tcp.pool_reserve)
    }

    /// Counts what connection `idx` holds now (see [`Holding`]), and keeps
    /// the lists the memory levels work on.
    pub(super) fn sync_memory(&mut self, idx: u32) {
        let Some(conn) = self.conns.get_mut(idx) else {
            return;
        };
        let waiting = core::mem::take(&mut conn.tcb.mem_waiting);
        if !waiting && !conn.tcb.holding_changed() {
            return;
        }
        let now = conn.tcb.holding();
        let before = core::mem::replace(&mut conn.tcb.charged, now);
        let track_ooo = now.bufs[QueueKind::Ooo as usize] > 0 && !conn.in_ooo_list;
        conn.in_ooo_list |= track_ooo;
        let generation = self.conns.generation(idx);
        if waiting {
            self.mem_waiters.push((idx, generation));
        }
        if track_ooo {
            self.ooo_list.push_back((idx, generation));
            self.forget_stale_ooo_entries();
        }
        if now != before {
            self.account(&before, &now);
        }
    }

    /// Moves the engine's gauges from `before` to `now` for one connection.
    pub(super) fn account(&mut self, before: &Holding, now: &Holding) {
        let m = &mut self.stats.memory;
        let gauges = [
            (&mut m.held_recv, &mut m.bufs_recv),
            (&mut m.held_ooo, &mut m.bufs_ooo),
            (&mut m.held_send, &mut m.bufs_send),
        ];
        for (kind, (bytes, bufs)) in QueueKind::ALL.into_iter().zip(gauges) {
            let k = kind as usize;
            *bytes = *bytes + u64::from(now.bytes[k]) - u64::from(before.bytes[k]);
            *bufs = *bufs + u64::from(now.bufs[k]) - u64::from(before.bufs[k]);
        }
        m.held = m.held_recv + m.held_ooo + m.held_send;
        m.peak_held = m.peak_held.max(m.held);
        let level = self.budget.level(m.held as usize);
        if level > m.level {
            match level {
                MemoryLevel::Pressure => m.entered_pressure += 1,
                MemoryLevel::Critical => m.entered_critical += 1,
                MemoryLevel::Reserved => m.entered_reserved += 1,
                MemoryLevel::Normal => {}
            }
        }
        m.level = level;
    }

    /// After any call into a connection: at the critical mark, out-of-order
    /// queues go, the longest-listed first, until the level falls below
    /// it; well below the reserved top, writers refused for memory hear
    /// `Writable`.
    #[inline]
    pub(super) fn relieve_pressure(&mut self) {
        if self.stats.memory.level >= MemoryLevel::Critical || !self.mem_waiters.is_empty() {
            self.prune_and_wake();
        }
    }

    fn prune_and_wake(&mut self) {
        while self.stats.memory.level >= MemoryLevel::Critical {
            let Some((idx, generation)) = self.ooo_list.pop_front() else {
                break;
            };
            let Some(conn) = self.conns.get_gen_mut(idx, generation) else {
                continue;
            };
            conn.in_ooo_list = false;
            let freed = conn.tcb.ooo.clear();
            conn.tcb.deadlines.clear(TimerKind::Reassembly);
            if freed > 0 {
                self.stats.memory.ooo_pruned += 1;
                self.stats.memory.ooo_pruned_bytes += freed as u64;
            }
            self.sync_memory(idx);
            self.sync_timers(idx);
        }
        if !self.mem_waiters.is_empty() && self.stats.memory.held as usize <= self.budget.wake {
            self.wake_mem_waiters();
        }
    }

    /// `Writable` for every connection a memory limit refused.
    fn wake_mem_waiters(&mut self) {
        for (idx, generation) in core::mem::take(&mut self.mem_waiters) {
            let Some(conn) = self.conns.get_gen_mut(idx, generation) else {
                continue;
            };
            if conn.tcb.want_writable {
                conn.tcb.want_writable = false;
                self.post_events(idx, EventBits::only(EventBits::WRITABLE));
            }
        }
    }

    /// Drops entries at the front of the out-of-order list whose
    /// connection is gone or holds nothing out of order any more, so the
    /// list stays as short as the episodes it tracks.
    fn forget_stale_ooo_entries(&mut self) {
        while let Some(&(idx, generation)) = self.ooo_list.front() {
            match self.conns.get_gen_mut(idx, generation) {
                Some(conn) if !conn.tcb.ooo.is_empty() => break,
                Some(conn) => conn.in_ooo_list = false,
                None => {}
            }
            self.ooo_list.pop_front();
        }
    }

    /// A segment of `truesize` bytes starting at `seq` is about to arrive
    /// on connection `idx`: if that would take the connection over its
    /// receive limit, compact its receive queue, and if that is not enough
    /// and the segment is the one the stream needs next, drop out-of-order
    /// data from the highest sequence number down until it fits (Linux
    /// `tcp_prune_queue`). The segment itself is admitted or not by the
    /// TCB.
    pub(super) fn make_room(&mut self, idx: u32, truesize: usize, seq: SeqNumber) {
        let limit = self.budget.conn_recv_limit;
        let reserve = self.cfg.tcp.pool_reserve;
        let Some(conn) = self.conns.get_mut(idx) else {
            return;
        };
        let tcb = &mut conn.tcb;
        let held = |t: &crate::tcp::Tcb<P::Buf>| t.recv.truesize() + t.ooo.truesize();
        if held(tcb) + truesize <= limit {
            return;
        }
        let done = tcb.recv.collapse(&mut self.pool, reserve);
        self.stats.memory.collapsed_segments += done.segments as u64;
        self.stats.memory.collapsed_bytes += done.bytes as u64;
        self.stats.rx_copied_bytes += done.bytes as u64;
        let over = (held(tcb) + truesize).saturating_sub(limit);
        let in_order = seq_diff(seq, tcb.rcv_nxt) <= 0;
        if over > 0 && in_order && !tcb.ooo.is_empty() {
            let freed = tcb.ooo.prune_tail(over);
            if tcb.ooo.is_empty() {
                tcb.deadlines.clear(TimerKind::Reassembly);
            }
            self.stats.memory.ooo_pruned += 1;
            self.stats.memory.ooo_pruned_bytes += freed as u64;
        }
        self.sync_memory(idx);
    }
}
