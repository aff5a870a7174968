//! Out-of-order segments waiting for the gap before them to fill.
//!
//! Segments are kept sorted by sequence number and never overlap: a new
//! segment is trimmed against its neighbours, and segments it covers are
//! dropped. Memory is bounded by buffer truesize, not payload, so tiny
//! segments cannot exhaust the pool; a small segment that continues the
//! one before it is copied onto that one's buffer.

use crate::buf::PacketBuf;
use crate::memory::worth_collapsing;
use crate::wire::SeqNumber;

use super::seq_diff;

pub(crate) struct Reassembly<B> {
    /// Sorted by `start`, non-overlapping, each non-empty.
    segs: Vec<(SeqNumber, B)>,
    truesize: usize,
    limit: usize,
}

/// What [`Reassembly::insert`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// Stored (perhaps trimmed).
    Stored,
    /// Copied onto the buffer of the segment before it (which it
    /// continues); its own buffer is free.
    Collapsed(usize),
    /// Every byte was already held.
    Duplicate,
    /// Over the memory bound: dropped.
    Full,
    /// Needed a buffer of its own, and the caller did not allow one.
    Refused,
}

impl<B: PacketBuf> Reassembly<B> {
    pub fn new(limit: usize) -> Self {
        Reassembly {
            segs: Vec::new(),
            truesize: 0,
            limit,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    pub fn segments(&self) -> usize {
        self.segs.len()
    }

    pub fn truesize(&self) -> usize {
        self.truesize
    }

    pub fn heap_bytes(&self) -> usize {
        self.segs.capacity() * core::mem::size_of::<(SeqNumber, B)>()
    }

    /// Stores `buf`, whose first byte has sequence number `start`. A
    /// segment worth collapsing (see [`worth_collapsing`]; any size when
    /// `pressure`) that continues its predecessor is copied onto it; one
    /// that needs a buffer of its own is stored only if `admit`.
    pub fn insert(
        &mut self,
        mut start: SeqNumber,
        mut buf: B,
        pressure: bool,
        admit: bool,
    ) -> Inserted {
        // First segment that ends after `start`.
        let mut i = self
            .segs
            .partition_point(|(s, b)| seq_diff(*s + b.len(), start) <= 0);
        if let Some((s, _)) = self.segs.get(i) {
            let overlap = seq_diff(start, *s);
            if overlap >= 0 {
                // Starts inside segment i: keep only what runs past it.
                let end_i = *s + self.segs[i].1.len();
                let past = seq_diff(start + buf.len(), end_i);
                if past <= 0 {
                    return Inserted::Duplicate;
                }
                buf.trim_front(buf.len() - past as usize);
                start = end_i;
                i += 1;
            }
        }
        // Drop the segments the new one covers entirely; trim at the next.
        let end = start + buf.len();
        while let Some((s, b)) = self.segs.get(i) {
            if seq_diff(*s + b.len(), end) <= 0 {
                let (_, gone) = self.segs.remove(i);
                self.truesize -= gone.truesize();
            } else {
                let overlap = seq_diff(end, *s);
                if overlap > 0 {
                    buf.trim_back(overlap as usize);
                }
                break;
            }
        }
        if buf.is_empty() {
            return Inserted::Duplicate;
        }
        let n = buf.len();
        if i > 0 && worth_collapsing(n, buf.truesize(), pressure) {
            let (s, prev) = &mut self.segs[i - 1];
            if *s + prev.len() == start && prev.tailroom() >= n {
                if let Some(dst) = prev.append(n) {
                    dst.copy_from_slice(buf.data());
                    return Inserted::Collapsed(n);
                }
            }
        }
        if self.truesize + buf.truesize() > self.limit {
            return Inserted::Full;
        }
        if !admit {
            return Inserted::Refused;
        }
        self.truesize += buf.truesize();
        self.segs.insert(i, (start, buf));
        Inserted::Stored
    }

    /// Removes and returns the segment that continues the stream at
    /// `rcv_nxt`, trimmed to start there. Segments wholly before `rcv_nxt`
    /// are discarded on the way.
    pub fn pop_ready(&mut self, rcv_nxt: SeqNumber) -> Option<B> {
        while let Some((s, _)) = self.segs.first() {
            let behind = seq_diff(rcv_nxt, *s);
            if behind < 0 {
                return None;
            }
            let (_, mut buf) = self.segs.remove(0);
            self.truesize -= buf.truesize();
            if (behind as usize) < b_len(&buf) {
                buf.trim_front(behind as usize);
                return Some(buf);
            }
        }
        None
    }

    /// The contiguous run of held data around `seq`, if `seq` is held.
    pub fn run_around(&self, seq: SeqNumber) -> Option<(SeqNumber, SeqNumber)> {
        let i = self
            .segs
            .partition_point(|(s, b)| seq_diff(*s + b.len(), seq) <= 0);
        let (s, _) = self.segs.get(i)?;
        if seq_diff(seq, *s) < 0 {
            return None;
        }
        let (mut first, mut last) = (i, i);
        while first > 0 {
            let (ps, pb) = &self.segs[first - 1];
            if *ps + pb.len() != self.segs[first].0 {
                break;
            }
            first -= 1;
        }
        while let Some((ns, _)) = self.segs.get(last + 1) {
            let (ls, lb) = &self.segs[last];
            if *ls + lb.len() != *ns {
                break;
            }
            last += 1;
        }
        let (ls, lb) = &self.segs[last];
        Some((self.segs[first].0, *ls + lb.len()))
    }

    /// Whether `[left, right)` is held whole.
    pub fn holds(&self, (left, right): (SeqNumber, SeqNumber)) -> bool {
        self.run_around(left)
            .is_some_and(|(l, r)| seq_diff(left, l) >= 0 && seq_diff(right, r) <= 0)
    }

    /// Drops segments from the highest sequence number down until `need`
    /// bytes of truesize are freed or none is left (Linux
    /// `tcp_prune_ofo_queue`: what the stream needs soonest stays);
    /// returns the truesize freed.
    pub fn prune_tail(&mut self, need: usize) -> usize {
        let mut freed = 0;
        while freed < need {
            let Some((_, buf)) = self.segs.pop() else {
                break;
            };
            freed += buf.truesize();
        }
        self.truesize -= freed;
        freed
    }

    /// Drops everything; returns the truesize freed.
    pub fn clear(&mut self) -> usize {
        self.segs.clear();
        core::mem::take(&mut self.truesize)
    }
}

fn b_len<B: PacketBuf>(b: &B) -> usize {
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::{HeapBuf, HeapPool};

    fn seg(pool: &mut HeapPool, bytes: &[u8]) -> HeapBuf {
        pool.alloc_with(bytes).unwrap()
    }

    #[test]
    fn overlapping_segments_are_trimmed_and_released_in_order() {
        let mut pool = HeapPool::new(16, 256, 0);
        let mut r = Reassembly::new(1 << 20);
        let base = SeqNumber(u32::MAX - 5); // across the wrap
        let data: Vec<u8> = (0..40u8).collect();
        assert_eq!(
            r.insert(base + 10, seg(&mut pool, &data[10..20]), false, true),
            Inserted::Stored
        );
        assert_eq!(
            r.insert(base + 15, seg(&mut pool, &data[15..30]), false, true),
            Inserted::Collapsed(10)
        );
        assert_eq!(
            r.insert(base + 12, seg(&mut pool, &data[12..18]), false, true),
            Inserted::Duplicate
        );
        assert_eq!(
            r.insert(base + 5, seg(&mut pool, &data[5..35]), false, true),
            Inserted::Stored
        );
        assert!(r.pop_ready(base).is_none());
        let mut got = Vec::new();
        let mut next = base + 5;
        while let Some(b) = r.pop_ready(next) {
            got.extend_from_slice(b.data());
            next += b.len();
        }
        assert_eq!(got, &data[5..35]);
        assert!(r.is_empty());
        assert_eq!(pool.available(), 16);
    }

    #[test]
    fn memory_bound_is_enforced() {
        let mut pool = HeapPool::new(4, 256, 0);
        let mut r = Reassembly::new(512);
        assert_eq!(
            r.insert(SeqNumber(100), seg(&mut pool, b"a"), false, true),
            Inserted::Stored
        );
        assert_eq!(
            r.insert(SeqNumber(200), seg(&mut pool, b"b"), false, true),
            Inserted::Stored
        );
        assert_eq!(
            r.insert(SeqNumber(300), seg(&mut pool, b"c"), false, true),
            Inserted::Full
        );
        assert_eq!(r.segments(), 2);
    }

    #[test]
    fn a_small_segment_continuing_its_predecessor_is_copied_onto_it() {
        let mut pool = HeapPool::new(8, 2048, 0);
        let mut r = Reassembly::new(1 << 20);
        assert_eq!(
            r.insert(SeqNumber(100), seg(&mut pool, &[1; 10]), false, true),
            Inserted::Stored
        );
        // Contiguous and small: copied, its buffer freed at once.
        assert_eq!(
            r.insert(SeqNumber(110), seg(&mut pool, &[2; 10]), false, false),
            Inserted::Collapsed(10)
        );
        // Not contiguous: needs a buffer, which the caller refuses.
        assert_eq!(
            r.insert(SeqNumber(200), seg(&mut pool, &[3; 10]), false, false),
            Inserted::Refused
        );
        assert_eq!((r.segments(), r.truesize(), pool.available()), (1, 2048, 7));
        let got = r.pop_ready(SeqNumber(100)).unwrap();
        assert_eq!(got.data(), &[[1u8; 10], [2; 10]].concat()[..]);
    }

    #[test]
    fn pruning_starts_from_the_highest_sequence_number() {
        let mut pool = HeapPool::new(8, 256, 0);
        let mut r = Reassembly::new(1 << 20);
        for at in [300u32, 100, 500] {
            let stored = r.insert(SeqNumber(at), seg(&mut pool, &[1; 50]), false, true);
            assert_eq!(stored, Inserted::Stored);
        }
        assert_eq!(r.prune_tail(300), 512, "two buffers, the last two");
        assert_eq!((r.segments(), r.truesize()), (1, 256));
        assert!(r.pop_ready(SeqNumber(100)).is_some(), "the first one stays");
    }

    #[test]
    fn runs_of_contiguous_segments_are_found_around_any_byte() {
        let mut pool = HeapPool::new(8, 256, 0);
        let mut r = Reassembly::new(1 << 20);
        for at in [100u32, 150, 300] {
            let stored = r.insert(SeqNumber(at), seg(&mut pool, &[1; 50]), false, true);
            assert_eq!(stored, Inserted::Stored, "50 bytes: kept whole");
        }
        let run = |at| r.run_around(SeqNumber(at)).map(|(a, b)| (a.0, b.0));
        assert_eq!(run(160), Some((100, 200)));
        assert_eq!(run(100), Some((100, 200)));
        assert_eq!(run(200), None);
        assert_eq!(run(349), Some((300, 350)));
        assert!(r.holds((SeqNumber(120), SeqNumber(200))));
        assert!(!r.holds((SeqNumber(120), SeqNumber(201))));
    }
}
