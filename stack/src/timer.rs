//! A hierarchical timing wheel holding the engine's per-connection timers.
//!
//! A per-core engine owns many thousands of connections, each with a few
//! timers (delayed ACK, retransmission, TIME_WAIT, keepalive) that are armed
//! and cancelled far more often than they fire. The wheel therefore makes
//! [`insert`](TimerWheel::insert) and [`cancel`](TimerWheel::cancel) O(1)
//! and defers all sorting to the moment time passes a timer's slot.
//!
//! # Layout
//!
//! Time is measured in ticks of the configured granularity since the wheel's
//! start. There are 11 levels of 64 slots; a slot at level `l` spans
//! `64^l` ticks, so the wheel spans the entire `u64` tick range (2^66 ticks)
//! and no deadline ever has to be clamped. A pending timer sits in the slot chosen
//! by the highest 6-bit digit in which its deadline tick differs from the
//! wheel's current tick (`elapsed`). That rule gives two properties the rest
//! of the code relies on:
//!
//! * every timer at level `l` is due before every timer at level `l + 1`,
//!   and within a level slot order is time order, so the earliest pending
//!   timer is in the lowest set bit of the lowest non-empty level's
//!   occupancy bitmap;
//! * moving `elapsed` forward up to (not past) the start of the earliest
//!   occupied slot leaves every timer in a valid slot, so time can jump any
//!   distance with work proportional to the occupied slots crossed, never to
//!   the ticks crossed. Timers of a slot that is reached are re-placed
//!   ("cascaded") relative to the new `elapsed`, which moves each to a lower
//!   level; a timer is moved at most once per level in its life.
//!
//! Two extra lists sit below the wheel: `DUE` holds timers whose deadline is
//! not after the latest `now` seen (they fire on the next poll), `CURRENT`
//! holds timers in the current tick whose exact deadline is still ahead.
//! Deadlines are kept exact (nanoseconds), so a timer fires exactly when
//! `now >= deadline`, independent of the tick.
//!
//! Entries live in a slab (`Vec` plus free list) and are linked into their
//! list by `u32` indices, so once the slab has grown to its peak, inserting
//! reuses freed entries and the wheel performs no heap allocation.

use crate::time::Instant;
use core::fmt;
use core::time::Duration;

/// 11 levels of 6 bits cover all 64 bits of a tick count, so even a 1 ns
/// tick never needs far deadlines clamped.
const LEVELS: usize = 11;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const WHEEL_LISTS: usize = LEVELS * SLOTS;
/// List of timers whose deadline is `<= self.now`.
const DUE: usize = WHEEL_LISTS;
/// List of timers whose tick is `elapsed` but whose deadline is `> self.now`.
const CURRENT: usize = WHEEL_LISTS + 1;
const NUM_LISTS: usize = WHEEL_LISTS + 2;
/// "No entry" in the intrusive links.
const NIL: u32 = u32::MAX;
/// `Entry::list` of a vacant slab entry.
const VACANT: u16 = u16::MAX;

/// Handle to a timer in a [`TimerWheel`].
///
/// It is a slab index plus the generation the entry had when the timer was
/// inserted. The generation changes whenever the entry is freed, so a handle
/// kept after its timer fired or was cancelled is recognised as stale even
/// once the entry has been reused (until the generation wraps, after 2^32
/// reuses of the same entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    generation: u32,
}

/// One slab entry: a pending timer, or a vacant entry on the free list.
struct Entry<T> {
    value: Option<T>,
    /// Exact deadline in nanoseconds since the driver's epoch.
    deadline: u64,
    prev: u32,
    /// Next entry in the same list, or the next free entry when vacant.
    next: u32,
    generation: u32,
    /// Index of the list holding the entry, or [`VACANT`].
    list: u16,
}

/// Head and tail of an intrusive list, plus its cached minimum deadline.
#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
    /// Minimum deadline of the list. If `stale`, only a lower bound: the
    /// entry holding it was removed and the walk to find the new minimum is
    /// deferred until someone needs it (see [`TimerWheel::next_deadline`]).
    min: u64,
    stale: bool,
}

const EMPTY_LIST: List = List {
    head: NIL,
    tail: NIL,
    min: u64::MAX,
    stale: false,
};

/// A hierarchical timing wheel mapping deadlines to values of type `T`.
///
/// Costs: [`insert`](Self::insert), [`cancel`](Self::cancel) and
/// [`deadline`](Self::deadline) are O(1). [`poll_expired`](Self::poll_expired)
/// is amortised O(1) per fired timer plus O(levels) per occupied slot
/// that time moves past; within the current tick it may walk the timers of
/// that one tick when one of them becomes due.
/// [`next_deadline`](Self::next_deadline) is O(levels) (see its docs).
pub struct TimerWheel<T> {
    entries: Vec<Entry<T>>,
    free_head: u32,
    /// `WHEEL_LISTS` wheel slots (level-major), then `DUE` and `CURRENT`.
    lists: Vec<List>,
    /// Bit `s` of `occupied[l]` is set iff slot `s` of level `l` is non-empty.
    occupied: [u64; LEVELS],
    /// The wheel's origin, in nanoseconds.
    start: u64,
    tick_ns: u64,
    /// Tick of `now`: timers in wheel slots all have a later tick.
    elapsed: u64,
    /// Latest time seen by `poll_expired` (initially `start`), nanoseconds.
    now: u64,
    len: usize,
}

impl<T> TimerWheel<T> {
    /// Creates an empty wheel.
    ///
    /// `tick`: granularity (the engine uses 1 ms). It only trades cascading
    /// work against slot occupancy; deadlines stay exact. A zero tick is
    /// treated as 1 ns. `start`: the wheel's time origin.
    pub fn new(start: Instant, tick: Duration) -> Self {
        Self::with_capacity(start, tick, 0)
    }

    /// Like [`new`](Self::new), but preallocates the entry slab for
    /// `capacity` timers, so that inserting up to that many never allocates.
    pub fn with_capacity(start: Instant, tick: Duration, capacity: usize) -> Self {
        let tick_ns = u64::try_from(tick.as_nanos()).unwrap_or(u64::MAX).max(1);
        TimerWheel {
            entries: Vec::with_capacity(capacity),
            free_head: NIL,
            lists: vec![EMPTY_LIST; NUM_LISTS],
            occupied: [0; LEVELS],
            start: start.as_nanos(),
            tick_ns,
            elapsed: 0,
            now: start.as_nanos(),
            len: 0,
        }
    }

    /// Schedules `value` to fire at `deadline` and returns its handle. O(1).
    ///
    /// A deadline at or before the latest `now` passed to
    /// [`poll_expired`](Self::poll_expired) fires on the next poll.
    ///
    /// # Panics
    ///
    /// If more than `u32::MAX` timers are pending at once (entries are
    /// linked by `u32` indices to keep them small).
    pub fn insert(&mut self, deadline: Instant, value: T) -> TimerId {
        let index = if self.free_head != NIL {
            let index = self.free_head;
            self.free_head = self.entries[index as usize].next;
            index
        } else {
            let index = u32::try_from(self.entries.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("TimerWheel: too many pending timers");
            self.entries.push(Entry {
                value: None,
                deadline: 0,
                prev: NIL,
                next: NIL,
                generation: 0,
                list: VACANT,
            });
            index
        };
        let entry = &mut self.entries[index as usize];
        entry.value = Some(value);
        entry.deadline = deadline.as_nanos();
        let generation = entry.generation;
        self.place(index);
        self.len += 1;
        TimerId { index, generation }
    }

    /// Cancels the timer `id` and returns its value. O(1).
    ///
    /// Returns `None` if `id` already fired, was cancelled, or never came
    /// from this wheel; in that case no other timer is affected.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        self.live(id)?;
        Some(self.remove(id.index))
    }

    /// The deadline of timer `id`, or `None` if it is no longer pending.
    pub fn deadline(&self, id: TimerId) -> Option<Instant> {
        self.live(id).map(|e| Instant::from_nanos(e.deadline))
    }

    /// Removes and returns one timer whose deadline is `<= now`, or `None`
    /// if there is none. Call it until it returns `None` to drain all due
    /// timers; their order is unspecified.
    ///
    /// `now` normally never decreases. If it does, only timers whose
    /// deadline is `<=` that earlier `now` fire (found by walking the list
    /// of due timers), so no timer ever fires before its deadline.
    pub fn poll_expired(&mut self, now: Instant) -> Option<(TimerId, T)> {
        let now = now.as_nanos();
        if now > self.now {
            self.advance(now);
        } else if now < self.now {
            return self.poll_backwards(now);
        }
        let head = self.lists[DUE].head;
        if head != NIL {
            return Some(self.fire(head));
        }
        // Nothing is due: settle any minima invalidated by cancels now,
        // while we hold `&mut self`, so that the `next_deadline` call that
        // typically follows is a pure bitmap lookup.
        self.refresh_min(CURRENT);
        if let Some(slot) = self.first_slot() {
            self.refresh_min(slot);
        }
        None
    }

    /// The exact earliest deadline of any pending timer, or `None`.
    ///
    /// Cost: O(levels) = 11 word tests to find the earliest non-empty list from the
    /// occupancy bitmaps, then that list's cached minimum. Only if that
    /// list's earliest timer was cancelled (or, for timers already due, some
    /// of them were polled) since the last `poll_expired` that returned
    /// `None`, the minimum is recomputed by walking that one list: a single
    /// slot, never the whole wheel.
    pub fn next_deadline(&self) -> Option<Instant> {
        // DUE deadlines are <= self.now < CURRENT deadlines < wheel deadlines.
        let list = if self.lists[DUE].head != NIL {
            DUE
        } else if self.lists[CURRENT].head != NIL {
            CURRENT
        } else {
            self.first_slot()?
        };
        Some(Instant::from_nanos(self.list_min(list)))
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap memory the wheel's entry slab occupies, in bytes (for the
    /// engine's memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * core::mem::size_of::<Entry<T>>()
    }

    /// Capacity of the entry slab.
    pub fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// The entry behind `id` if `id` names a pending timer.
    fn live(&self, id: TimerId) -> Option<&Entry<T>> {
        self.entries
            .get(id.index as usize)
            .filter(|e| e.generation == id.generation && e.list != VACANT)
    }

    fn tick_of(&self, nanos: u64) -> u64 {
        nanos.saturating_sub(self.start) / self.tick_ns
    }

    /// Links entry `index` into the list its deadline belongs to, relative
    /// to the current `now` and `elapsed`.
    fn place(&mut self, index: u32) {
        let deadline = self.entries[index as usize].deadline;
        let list = if deadline <= self.now {
            DUE
        } else {
            let tick = self.tick_of(deadline);
            if tick <= self.elapsed {
                CURRENT
            } else {
                // The highest differing bit picks the level; the deadline's
                // digit at that level is necessarily above elapsed's.
                let top_bit = 63 - (tick ^ self.elapsed).leading_zeros();
                let level = top_bit / SLOT_BITS;
                let digit = (tick >> (level * SLOT_BITS)) as usize & (SLOTS - 1);
                level as usize * SLOTS + digit
            }
        };
        self.push_back(list, index);
    }

    fn push_back(&mut self, list: usize, index: u32) {
        let tail = self.lists[list].tail;
        let entry = &mut self.entries[index as usize];
        let deadline = entry.deadline;
        entry.list = list as u16;
        entry.prev = tail;
        entry.next = NIL;
        let l = &mut self.lists[list];
        if tail == NIL {
            *l = List {
                head: index,
                tail: index,
                min: deadline,
                stale: false,
            };
            if list < WHEEL_LISTS {
                self.occupied[list / SLOTS] |= 1 << (list % SLOTS);
            }
        } else {
            l.tail = index;
            // A stale `min` is a lower bound, so a deadline below it is the
            // exact new minimum.
            if deadline < l.min {
                l.min = deadline;
                l.stale = false;
            }
            self.entries[tail as usize].next = index;
        }
    }

    fn unlink(&mut self, index: u32) {
        let e = &self.entries[index as usize];
        let (prev, next, list, deadline) = (e.prev, e.next, e.list as usize, e.deadline);
        match prev {
            NIL => self.lists[list].head = next,
            p => self.entries[p as usize].next = next,
        }
        match next {
            NIL => self.lists[list].tail = prev,
            n => self.entries[n as usize].prev = prev,
        }
        let l = &mut self.lists[list];
        if l.head == NIL {
            *l = EMPTY_LIST;
            if list < WHEEL_LISTS {
                self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
            }
        } else if deadline == l.min {
            // Rescanning here would make cancelling a slot's timers in
            // deadline order (the common RTO pattern) quadratic; defer it.
            l.stale = true;
        }
    }

    /// Unlinks and frees entry `index`, returning its value.
    fn remove(&mut self, index: u32) -> T {
        self.unlink(index);
        let entry = &mut self.entries[index as usize];
        entry.list = VACANT;
        entry.generation = entry.generation.wrapping_add(1);
        entry.next = self.free_head;
        self.free_head = index;
        self.len -= 1;
        entry.value.take().expect("pending timer has a value")
    }

    fn fire(&mut self, index: u32) -> (TimerId, T) {
        let id = TimerId {
            index,
            generation: self.entries[index as usize].generation,
        };
        (id, self.remove(index))
    }

    /// Moves the wheel's notion of time forward to `now` (> `self.now`),
    /// moving every timer due by then onto the `DUE` list.
    fn advance(&mut self, now: u64) {
        let now_tick = self.tick_of(now);
        self.now = now;
        if now_tick == self.elapsed {
            // Same tick: only CURRENT can hold newly due timers, and its
            // exact minimum tells whether any is due without walking it.
            let current = self.lists[CURRENT];
            if current.head != NIL && (current.stale || current.min <= now) {
                let mut cursor = current.head;
                while cursor != NIL {
                    let next = self.entries[cursor as usize].next;
                    if self.entries[cursor as usize].deadline <= now {
                        self.unlink(cursor);
                        self.push_back(DUE, cursor);
                    }
                    cursor = next;
                }
                self.refresh_min(CURRENT);
            }
            return;
        }
        // A later tick: everything in CURRENT (an earlier tick) is due.
        while self.lists[CURRENT].head != NIL {
            let index = self.lists[CURRENT].head;
            self.unlink(index);
            self.push_back(DUE, index);
        }
        // Visit occupied slots in time order, skipping empty ones via the
        // bitmaps, and re-place the timers of each slot that `now` reaches.
        while let Some(slot) = self.first_slot() {
            let slot_start = self.slot_start(slot);
            if slot_start > now_tick {
                break;
            }
            self.elapsed = slot_start;
            let mut cursor = self.lists[slot].head;
            self.lists[slot] = EMPTY_LIST;
            self.occupied[slot / SLOTS] &= !(1 << (slot % SLOTS));
            while cursor != NIL {
                let next = self.entries[cursor as usize].next;
                self.place(cursor);
                cursor = next;
            }
        }
        // Sound because no occupied slot starts at or before `now_tick`.
        self.elapsed = now_tick;
    }

    /// Handles a `now` earlier than one already seen: fires a due-list timer
    /// only if its deadline is also `<= now`.
    fn poll_backwards(&mut self, now: u64) -> Option<(TimerId, T)> {
        let mut cursor = self.lists[DUE].head;
        while cursor != NIL {
            let entry = &self.entries[cursor as usize];
            if entry.deadline <= now {
                return Some(self.fire(cursor));
            }
            cursor = entry.next;
        }
        None
    }

    /// The earliest occupied wheel slot: lowest set bit of the lowest
    /// non-empty level (no wrap-around, since every occupied digit is above
    /// `elapsed`'s digit at that level).
    fn first_slot(&self) -> Option<usize> {
        let level = self.occupied.iter().position(|&bits| bits != 0)?;
        Some(level * SLOTS + self.occupied[level].trailing_zeros() as usize)
    }

    /// The first tick covered by wheel slot `slot`, given `elapsed`.
    fn slot_start(&self, slot: usize) -> u64 {
        let level = (slot / SLOTS) as u32;
        let digit = (slot % SLOTS) as u64;
        let span_bits = (level + 1) * SLOT_BITS;
        let base = if span_bits >= 64 {
            0
        } else {
            self.elapsed >> span_bits << span_bits
        };
        base + (digit << (level * SLOT_BITS))
    }

    /// Exact minimum deadline of a non-empty list.
    fn list_min(&self, list: usize) -> u64 {
        let l = self.lists[list];
        if !l.stale {
            return l.min;
        }
        let mut min = u64::MAX;
        let mut cursor = l.head;
        while cursor != NIL {
            let entry = &self.entries[cursor as usize];
            min = min.min(entry.deadline);
            cursor = entry.next;
        }
        min
    }

    /// Recomputes a stale cached minimum.
    fn refresh_min(&mut self, list: usize) {
        if self.lists[list].stale {
            self.lists[list].min = self.list_min(list);
            self.lists[list].stale = false;
        }
    }
}

impl<T> fmt::Debug for TimerWheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerWheel")
            .field("len", &self.len)
            .field("now", &Instant::from_nanos(self.now))
            .field("next_deadline", &self.next_deadline())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    const MS: u64 = 1_000_000;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    fn wheel<T>() -> TimerWheel<T> {
        TimerWheel::new(Instant::ZERO, Duration::from_millis(1))
    }

    fn drain<T>(w: &mut TimerWheel<T>, now: Instant) -> Vec<T> {
        std::iter::from_fn(|| w.poll_expired(now).map(|(_, v)| v)).collect()
    }

    #[test]
    fn fires_in_deadline_order_and_exactly_on_time() {
        let mut w = wheel();
        w.insert(ms(30), "c");
        w.insert(ms(10), "a");
        w.insert(Instant::from_nanos(20 * MS + MS / 2), "b");
        assert_eq!(w.len(), 3);
        assert_eq!(w.next_deadline(), Some(ms(10)));
        assert!(drain(&mut w, ms(5)).is_empty());
        assert!(drain(&mut w, Instant::from_nanos(10 * MS - 1)).is_empty());
        assert_eq!(drain(&mut w, ms(10)), ["a"]);
        assert_eq!(
            w.next_deadline(),
            Some(Instant::from_nanos(20 * MS + MS / 2))
        );
        // Same tick as "b", but before its sub-tick deadline.
        assert!(drain(&mut w, ms(20)).is_empty());
        assert!(drain(&mut w, Instant::from_nanos(20 * MS + MS / 2 - 1)).is_empty());
        assert_eq!(drain(&mut w, Instant::from_nanos(20 * MS + MS / 2)), ["b"]);
        assert_eq!(drain(&mut w, ms(100)), ["c"]);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn cancel_removes_only_that_timer() {
        let mut w = wheel();
        let a = w.insert(ms(10), 1);
        let b = w.insert(ms(10), 2);
        assert_eq!(w.deadline(a), Some(ms(10)));
        assert_eq!(w.cancel(a), Some(1));
        assert_eq!(w.cancel(a), None);
        assert_eq!(w.deadline(a), None);
        assert_eq!(w.len(), 1);
        let fired: Vec<_> = std::iter::from_fn(|| w.poll_expired(ms(10))).collect();
        assert_eq!(fired, [(b, 2)]);
        assert_eq!(w.cancel(b), None, "a fired timer cannot be cancelled");
    }

    #[test]
    fn stale_id_is_rejected_after_entry_reuse() {
        let mut w = wheel();
        let old = w.insert(ms(50), "old");
        assert_eq!(w.cancel(old), Some("old"));
        let new = w.insert(ms(60), "new");
        assert_eq!(old.index, new.index, "the entry is reused");
        assert_ne!(old, new);
        assert_eq!(w.cancel(old), None);
        assert_eq!(w.deadline(old), None);
        assert_eq!(w.deadline(new), Some(ms(60)));
        let foreign = TimerId {
            index: 1000,
            generation: 0,
        };
        assert_eq!(w.cancel(foreign), None);
        assert_eq!(drain(&mut w, ms(60)), ["new"]);
    }

    #[test]
    fn deadline_in_the_past_fires_on_next_poll() {
        let start = Instant::from_millis(1000);
        let mut w = TimerWheel::new(start, Duration::from_millis(1));
        assert!(drain(&mut w, ms(1100)).is_empty());
        w.insert(ms(1050), "past");
        w.insert(ms(10), "before start");
        w.insert(ms(1100), "now");
        assert_eq!(w.next_deadline(), Some(ms(10)));
        let mut fired = drain(&mut w, ms(1100));
        fired.sort_unstable();
        assert_eq!(fired, ["before start", "now", "past"]);
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn large_jumps_fire_everything_and_nothing_early() {
        // 1 ms, 65 s, 3 h, 400 days.
        let deadlines = [1, 65_000, 3 * 3_600_000, 400 * 86_400_000].map(ms);
        // Step to just before each deadline, then past all in one step.
        let mut w = wheel();
        for (i, &d) in deadlines.iter().enumerate() {
            w.insert(d, i);
        }
        for (i, &d) in deadlines.iter().enumerate() {
            assert_eq!(w.next_deadline(), Some(d));
            assert!(drain(&mut w, d - Duration::from_nanos(1)).is_empty());
            assert_eq!(drain(&mut w, d), [i]);
        }
        // One jump over all of them.
        let mut w = wheel();
        for (i, &d) in deadlines.iter().enumerate() {
            w.insert(d, i);
        }
        let mut fired = drain(&mut w, ms(401 * 24 * 3600 * 1000));
        fired.sort_unstable();
        assert_eq!(fired, [0, 1, 2, 3]);
        // Extreme deadlines with a 1 ns tick use the top level.
        let mut w = TimerWheel::new(Instant::ZERO, Duration::from_nanos(1));
        let end = Instant::from_nanos(u64::MAX);
        w.insert(end, "end of time");
        w.insert(Instant::from_nanos(1 << 62), "far");
        assert!(drain(&mut w, Instant::from_nanos((1 << 62) - 1)).is_empty());
        assert_eq!(drain(&mut w, Instant::from_nanos(u64::MAX - 1)), ["far"]);
        assert_eq!(w.next_deadline(), Some(end));
        assert_eq!(drain(&mut w, end), ["end of time"]);
    }

    #[test]
    fn time_going_backwards_never_fires_early() {
        let mut w = wheel();
        assert!(drain(&mut w, ms(100)).is_empty());
        w.insert(ms(90), "a");
        w.insert(ms(99), "b");
        assert_eq!(drain(&mut w, ms(95)), ["a"]);
        assert_eq!(drain(&mut w, ms(100)), ["b"]);
    }

    #[test]
    fn steady_state_reuses_the_slab() {
        let mut w = TimerWheel::with_capacity(Instant::ZERO, Duration::from_millis(1), 64);
        assert_eq!(w.capacity(), 64);
        let mut now = 0;
        for round in 0..10_000u64 {
            let ids: Vec<_> = (0..64).map(|i| w.insert(ms(now + 1 + i % 7), i)).collect();
            for id in ids.iter().skip((round % 2) as usize).step_by(2) {
                assert!(w.cancel(*id).is_some());
            }
            now += 10;
            assert_eq!(drain(&mut w, ms(now)).len(), 32);
        }
        assert_eq!(w.capacity(), 64);
    }

    /// splitmix64: tiny, seedable, good enough to drive the model test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// `TIMER_SEED` (decimal or 0x-hex) or a fixed default.
    fn seed() -> u64 {
        let Ok(s) = std::env::var("TIMER_SEED") else {
            return 0x7153_eed5_2024_0001;
        };
        let parsed = match s.trim().strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => s.trim().parse(),
        };
        parsed.unwrap_or_else(|_| panic!("TIMER_SEED={s:?} is not a u64"))
    }

    /// Runs `ops` random operations against the wheel and a BTreeSet model.
    fn model(seed: u64, tick: Duration, ops: usize) {
        let mut rng = Rng(seed);
        let start = rng.below(1 << 40);
        let mut now = start;
        let mut w = TimerWheel::new(Instant::from_nanos(start), tick);
        // (deadline, serial) of every pending timer.
        let mut reference = BTreeSet::new();
        // serial -> (id, deadline); `pending` lists serials for random picks.
        let mut info: HashMap<u64, (TimerId, u64)> = HashMap::new();
        let mut pending: Vec<u64> = Vec::new();
        let mut dead: Vec<TimerId> = Vec::new();
        let mut serial = 0u64;
        let ctx = |op: usize| format!("seed={seed:#x} tick={tick:?} op={op}");

        let (mut inserts, mut cancels) = (45, 20);
        for op in 0..ops {
            if op % 10_000 == 0 {
                // Phases with different mixes grow and shrink the population.
                inserts = [30, 50, 70][rng.below(3) as usize];
                cancels = [5, 15, 25][rng.below(3) as usize];
            }
            match rng.below(100) {
                r if r < inserts => {
                    let delay = match rng.below(100) {
                        0..=29 => rng.below(2 * MS),
                        30..=59 => rng.below(300 * MS),
                        60..=79 => rng.below(120_000 * MS),
                        80..=89 => rng.below(10 * 3600 * 1000 * MS),
                        90..=91 => rng.below(1 << 50),
                        _ => 0,
                    };
                    let deadline = if rng.below(10) == 0 {
                        now.saturating_sub(rng.below(5 * MS))
                    } else {
                        now + delay
                    };
                    let at = Instant::from_nanos(deadline);
                    let id = w.insert(at, serial);
                    assert_eq!(w.deadline(id), Some(at), "{}", ctx(op));
                    reference.insert((deadline, serial));
                    info.insert(serial, (id, deadline));
                    pending.push(serial);
                    serial += 1;
                }
                r if r < inserts + cancels && !info.is_empty() => {
                    // `pending` may still hold serials that fired: skip them.
                    let (s, id, deadline) = loop {
                        let pos = rng.below(pending.len() as u64) as usize;
                        let s = pending.swap_remove(pos);
                        if let Some((id, deadline)) = info.remove(&s) {
                            break (s, id, deadline);
                        }
                    };
                    assert_eq!(w.cancel(id), Some(s), "{}", ctx(op));
                    assert!(reference.remove(&(deadline, s)), "{}", ctx(op));
                    dead.push(id);
                }
                r if r < inserts + cancels + 5 && !dead.is_empty() => {
                    let id = dead[rng.below(dead.len() as u64) as usize];
                    assert_eq!(w.cancel(id), None, "stale {id:?}: {}", ctx(op));
                    assert_eq!(w.deadline(id), None, "stale {id:?}: {}", ctx(op));
                }
                _ => {
                    // Mostly small steps so thousands of timers accumulate,
                    // with rare jumps of up to hours.
                    now += match rng.below(1000) {
                        0..=99 => 0,
                        100..=599 => rng.below(100_000),
                        600..=949 => rng.below(3 * MS),
                        950..=989 => rng.below(200 * MS),
                        990..=998 => rng.below(5000 * MS),
                        _ => rng.below(4 * 3600 * 1000 * MS),
                    };
                    let t = Instant::from_nanos(now);
                    let mut fired: Vec<u64> = Vec::new();
                    while let Some((id, s)) = w.poll_expired(t) {
                        let (expected_id, deadline) = info.remove(&s).unwrap_or_else(|| {
                            panic!("fired unknown or twice: serial {s}: {}", ctx(op))
                        });
                        assert_eq!(id, expected_id, "{}", ctx(op));
                        assert!(deadline <= now, "early: {deadline}: {}", ctx(op));
                        fired.push(s);
                        dead.push(id);
                    }
                    fired.sort_unstable();
                    let due: Vec<(u64, u64)> =
                        reference.range(..=(now, u64::MAX)).copied().collect();
                    let mut due_serials: Vec<u64> = due.iter().map(|&(_, s)| s).collect();
                    due_serials.sort_unstable();
                    assert_eq!(fired, due_serials, "fired set != due set: {}", ctx(op));
                    for key in &due {
                        reference.remove(key);
                    }
                    if pending.len() > 2 * info.len() + 1024 {
                        pending.retain(|s| info.contains_key(s));
                    }
                }
            }
            if dead.len() > 4096 {
                dead.drain(..2048);
            }
            let expected = reference.first().map(|&(d, _)| Instant::from_nanos(d));
            assert_eq!(w.next_deadline(), expected, "next_deadline: {}", ctx(op));
            assert_eq!(w.len(), reference.len(), "len: {}", ctx(op));
        }
    }

    #[test]
    fn randomized_against_btree_model_1ms_tick() {
        model(seed(), Duration::from_millis(1), 200_000);
    }

    #[test]
    fn randomized_against_btree_model_odd_ticks() {
        let seed = seed();
        model(seed ^ 1, Duration::from_nanos(1), 40_000);
        model(seed ^ 2, Duration::from_micros(7), 40_000);
        model(seed ^ 3, Duration::from_secs(1), 40_000);
    }
}
