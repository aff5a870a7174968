//! The receive buffer: in-order bytes the application has not read yet.
//!
//! Payload stays in the buffer it arrived in. A segment far smaller than
//! its buffer (or any segment, under memory pressure) is copied into the
//! tail buffer when that has room, so a flood of tiny segments cannot pin
//! one pool buffer per byte (DESIGN.md, "Buffers and zero copy"); and a
//! queue over its memory limit is compacted whole ([`RecvQueue::collapse`]).

use std::collections::VecDeque;

use crate::buf::{BufferPool, PacketBuf};
use crate::memory::worth_collapsing;

pub(crate) struct RecvQueue<B> {
    bufs: VecDeque<B>,
    len: usize,
    /// Sum of the buffers' truesize.
    truesize: usize,
}

/// What compacting a queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Collapsed {
    /// Buffers whose bytes were copied elsewhere and which were freed.
    pub segments: usize,
    pub bytes: usize,
}

impl<B: PacketBuf> RecvQueue<B> {
    pub fn new() -> Self {
        RecvQueue {
            bufs: VecDeque::new(),
            len: 0,
            truesize: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn truesize(&self) -> usize {
        self.truesize
    }

    pub fn buffers(&self) -> usize {
        self.bufs.len()
    }

    pub fn heap_bytes(&self) -> usize {
        self.bufs.capacity() * core::mem::size_of::<B>()
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `buf`'s bytes onto the tail buffer if `buf` is worth
    /// collapsing and the tail has room; the caller then drops `buf`.
    pub fn try_coalesce(&mut self, buf: &B, pressure: bool) -> bool {
        let n = buf.len();
        if n == 0 || !worth_collapsing(n, buf.truesize(), pressure) {
            return false;
        }
        let Some(tail) = self.bufs.back_mut() else {
            return false;
        };
        if tail.tailroom() < n {
            return false;
        }
        match tail.append(n) {
            Some(dst) => {
                dst.copy_from_slice(buf.data());
                self.len += n;
                true
            }
            None => false,
        }
    }

    /// Queues `buf` whole.
    pub fn push(&mut self, buf: B) {
        if buf.is_empty() {
            return;
        }
        self.len += buf.len();
        self.truesize += buf.truesize();
        self.bufs.push_back(buf);
    }

    /// Copies up to `dst.len()` bytes out; returns the count.
    pub fn read(&mut self, dst: &mut [u8]) -> usize {
        let mut done = 0;
        while done < dst.len() {
            let Some(front) = self.bufs.front_mut() else {
                break;
            };
            let n = front.len().min(dst.len() - done);
            dst[done..done + n].copy_from_slice(&front.data()[..n]);
            done += n;
            if n == front.len() {
                self.pop_front();
            } else {
                front.trim_front(n);
            }
        }
        self.len -= done;
        done
    }

    /// Hands the first buffer over whole.
    pub fn pop_buf(&mut self) -> Option<B> {
        let buf = self.pop_front()?;
        self.len -= buf.len();
        Some(buf)
    }

    fn pop_front(&mut self) -> Option<B> {
        let buf = self.bufs.pop_front()?;
        self.truesize -= buf.truesize();
        Some(buf)
    }

    pub fn clear(&mut self) {
        self.bufs.clear();
        self.len = 0;
        self.truesize = 0;
    }

    /// Compacts the queue: the bytes of buffers that are less than half
    /// full are copied into the buffer before them while it has room, and
    /// the emptied buffers are freed. Fuller buffers stay as they are; a
    /// read-only (shared) buffer is copied into a fresh one from `pool`
    /// while more than `reserve` are free. Order and content are unchanged.
    pub fn collapse<P: BufferPool<Buf = B>>(&mut self, pool: &mut P, reserve: usize) -> Collapsed {
        let mut done = Collapsed::default();
        let mut out: VecDeque<B> = VecDeque::with_capacity(self.bufs.len());
        while let Some(buf) = self.bufs.pop_front() {
            let n = buf.len();
            if n * 2 >= buf.truesize() {
                out.push_back(buf);
                continue;
            }
            if let Some(dst) = out
                .back_mut()
                .filter(|t| t.tailroom() >= n)
                .and_then(|t| t.append(n))
            {
                dst.copy_from_slice(buf.data());
                done.segments += 1;
                done.bytes += n;
                continue;
            }
            if buf.tailroom() > 0 {
                // It becomes the buffer the next ones are copied into.
                out.push_back(buf);
                continue;
            }
            // Read-only (shared): copy it into a fresh buffer.
            let fresh = if pool.available().is_none_or(|free| free > reserve) {
                pool.alloc()
            } else {
                None
            };
            match fresh {
                Some(mut fresh) if fresh.tailroom() >= n => {
                    if let Some(dst) = fresh.append(n) {
                        dst.copy_from_slice(buf.data());
                    }
                    done.segments += 1;
                    done.bytes += n;
                    out.push_back(fresh);
                }
                _ => out.push_back(buf),
            }
        }
        self.truesize = out.iter().map(PacketBuf::truesize).sum();
        self.bufs = out;
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::{BufferPool, HeapPool};

    fn push(q: &mut RecvQueue<crate::buf::HeapBuf>, pool: &mut HeapPool, bytes: &[u8]) {
        let buf = pool.alloc_with(bytes).unwrap();
        if !q.try_coalesce(&buf, false) {
            q.push(buf);
        }
    }

    #[test]
    fn tiny_segments_are_coalesced() {
        let mut pool = HeapPool::new(100, 2048, 64);
        let mut q = RecvQueue::new();
        for i in 0..50u8 {
            push(&mut q, &mut pool, &[i]);
        }
        assert_eq!(q.len(), 50);
        assert_eq!(pool.available(), 99, "one buffer holds all fifty bytes");
        assert_eq!((q.buffers(), q.truesize()), (1, 2048));
        let mut out = [0u8; 64];
        assert_eq!(q.read(&mut out), 50);
        assert_eq!(out[49], 49);
        assert_eq!(pool.available(), 100);
        assert_eq!(q.truesize(), 0);
    }

    #[test]
    fn segments_of_an_eighth_of_a_buffer_or_more_keep_their_buffer() {
        let mut pool = HeapPool::new(8, 2048, 64);
        let mut q = RecvQueue::new();
        push(&mut q, &mut pool, &[1; 256]);
        push(&mut q, &mut pool, &[2; 256]);
        assert_eq!(q.buffers(), 2, "zero copy without pressure");
        let small = pool.alloc_with(&[3; 256]).unwrap();
        assert!(q.try_coalesce(&small, true), "under pressure: copied");
        assert_eq!(q.len(), 768);
    }

    #[test]
    fn partial_reads_keep_order() {
        let mut pool = HeapPool::new(4, 2048, 0);
        let mut q = RecvQueue::new();
        q.push(pool.alloc_with(&[7u8; 1000]).unwrap());
        q.push(pool.alloc_with(&[8u8; 1000]).unwrap());
        let mut out = [0u8; 1500];
        assert_eq!(q.read(&mut out), 1500);
        assert_eq!((out[999], out[1000]), (7, 8));
        assert_eq!(q.pop_buf().unwrap().len(), 500);
        assert!(q.is_empty());
        assert!(pool.alloc().is_some());
    }

    #[test]
    fn collapse_compacts_half_empty_buffers_and_keeps_the_bytes() {
        let mut pool = HeapPool::new(64, 2048, 64);
        let mut q = RecvQueue::new();
        let mut want = Vec::new();
        // Forty 300-byte segments, each alone in a 2 KiB buffer, and one
        // full buffer in the middle that must stay as it is.
        for i in 0..40u8 {
            let len = if i == 20 { 1900 } else { 300 };
            let bytes = vec![i; len];
            want.extend_from_slice(&bytes);
            q.push(pool.alloc_with(&bytes).unwrap());
        }
        assert_eq!(q.buffers(), 40);
        let done = q.collapse(&mut pool, 0);
        assert_eq!(done.segments, 40 - q.buffers());
        assert_eq!(done.bytes, done.segments * 300);
        assert!(q.buffers() <= 9, "{} buffers", q.buffers());
        assert_eq!(q.truesize(), q.buffers() * 2048);
        assert_eq!(pool.available(), 64 - q.buffers());
        let mut got = vec![0u8; want.len() + 1];
        assert_eq!(q.read(&mut got), want.len());
        assert_eq!(&got[..want.len()], &want[..]);
    }

    #[test]
    fn collapse_copies_shared_buffers_only_above_the_pool_reserve() {
        let mut pool = HeapPool::new(24, 2048, 64);
        let mut q = RecvQueue::new();
        let mut shares = Vec::new();
        for i in 0..10u8 {
            let buf = pool.alloc_with(&[i; 300]).unwrap();
            shares.push(buf.share().unwrap());
            q.push(buf);
        }
        // Fourteen free buffers, all reserved: nothing can be copied.
        assert_eq!(q.collapse(&mut pool, 14), Collapsed::default());
        assert_eq!(q.buffers(), 10);
        // With the reserve lower, the shared buffers are copied together.
        let done = q.collapse(&mut pool, 4);
        assert_eq!(done.segments, 10);
        assert_eq!(q.buffers(), 2);
        drop(shares);
        assert_eq!(pool.available(), 22);
    }
}
