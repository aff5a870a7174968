//! Out-of-order segments waiting for the gap before them to fill.
//!
//! Segments are kept sorted by sequence number and never overlap: a new
//! segment is trimmed against its neighbours, and segments it covers are
//! dropped. Memory is bounded by buffer truesize, not payload, so tiny
//! segments cannot exhaust the pool.

use crate::buf::PacketBuf;
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
    /// Every byte was already held.
    Duplicate,
    /// Over the memory bound: dropped.
    Full,
}

impl<B: PacketBuf> Reassembly<B> {
    pub fn new(limit: usize) -> Self {
        Reassembly {
            segs: Vec::new(),
            truesize: 0,
            limit,
        }
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    #[cfg(test)]
    pub fn segments(&self) -> usize {
        self.segs.len()
    }

    pub fn heap_bytes(&self) -> usize {
        self.segs.capacity() * core::mem::size_of::<(SeqNumber, B)>()
    }

    /// Stores `buf`, whose first byte has sequence number `start`.
    pub fn insert(&mut self, mut start: SeqNumber, mut buf: B) -> Inserted {
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
        if self.truesize + buf.truesize() > self.limit {
            return Inserted::Full;
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

    pub fn clear(&mut self) {
        self.segs.clear();
        self.truesize = 0;
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
            r.insert(base + 10, seg(&mut pool, &data[10..20])),
            Inserted::Stored
        );
        assert_eq!(
            r.insert(base + 15, seg(&mut pool, &data[15..30])),
            Inserted::Stored
        );
        assert_eq!(
            r.insert(base + 12, seg(&mut pool, &data[12..18])),
            Inserted::Duplicate
        );
        assert_eq!(
            r.insert(base + 5, seg(&mut pool, &data[5..35])),
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
            r.insert(SeqNumber(100), seg(&mut pool, b"a")),
            Inserted::Stored
        );
        assert_eq!(
            r.insert(SeqNumber(200), seg(&mut pool, b"b")),
            Inserted::Stored
        );
        assert_eq!(
            r.insert(SeqNumber(300), seg(&mut pool, b"c")),
            Inserted::Full
        );
        assert_eq!(r.segments(), 2);
    }
}
