//! The send buffer: bytes written but not yet acknowledged.
//!
//! A queue of packet buffers. `write` copies into buffers of at most one
//! MSS each, so that a full-sized segment is normally one buffer and goes
//! out as a shared reference without a copy; `write_buf` queues the
//! caller's buffer as it is, unless it is far smaller than its buffer (or
//! memory is under pressure): then its bytes are copied onto the tail
//! buffer and it is freed. Bytes leave the queue only when acknowledged
//! (contract 1), from the front.

use std::collections::VecDeque;

use crate::buf::{BufferPool, PacketBuf};
use crate::memory::worth_collapsing;

pub(crate) struct SendQueue<B> {
    bufs: VecDeque<B>,
    /// Bytes queued, acknowledged ones excluded.
    len: usize,
    /// Sum of the buffers' truesize.
    truesize: usize,
    capacity: usize,
    /// Largest number of bytes `write` puts into one buffer.
    chunk: usize,
    /// Lookup cache: buffer index and the queue offset where it starts.
    /// Transmission walks the queue forward, so this makes `slice_at` O(1)
    /// in the common case.
    cursor: (usize, usize),
}

/// Why a write stopped before taking everything that fits the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteStop {
    /// The pool is empty or down to its reserve.
    Pool,
    /// A memory limit refused another buffer.
    Memory,
}

/// What [`SendQueue::push_buf`] did with a buffer it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued whole (zero copy).
    Queued,
    /// Its bytes were copied onto the tail buffer; it is freed.
    Collapsed(usize),
}

/// Where a run of queued bytes starts.
pub(crate) struct Slice<'a, B> {
    pub buf: &'a B,
    /// Offset of the run inside `buf.data()`.
    pub start: usize,
    /// Bytes of the run inside this buffer.
    pub len: usize,
}

impl<B: PacketBuf> SendQueue<B> {
    pub fn new(capacity: usize, chunk: usize) -> Self {
        SendQueue {
            bufs: VecDeque::new(),
            len: 0,
            truesize: 0,
            capacity,
            chunk: chunk.max(1),
            cursor: (0, 0),
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

    pub fn free_space(&self) -> usize {
        self.capacity.saturating_sub(self.len)
    }

    pub fn set_chunk(&mut self, chunk: usize) {
        self.chunk = chunk.max(1);
    }

    /// Copies as much of `data` as fits; returns the count, and why it
    /// stopped short if it did: the pool ran dry (or down to `reserve`
    /// free buffers), or `admit`, asked with each new buffer's truesize,
    /// refused it.
    pub fn write<P: BufferPool<Buf = B>>(
        &mut self,
        pool: &mut P,
        data: &[u8],
        reserve: usize,
        mut admit: impl FnMut(usize) -> bool,
    ) -> (usize, Option<WriteStop>) {
        let want = data.len().min(self.free_space());
        let mut done = 0;
        while done < want {
            let rest = &data[done..want];
            let n = self.append_to_tail(rest);
            if n > 0 {
                done += n;
                continue;
            }
            if pool.available().is_some_and(|free| free <= reserve) {
                return (done, Some(WriteStop::Pool));
            }
            let Some(mut buf) = pool.alloc() else {
                return (done, Some(WriteStop::Pool));
            };
            if !admit(buf.truesize()) {
                return (done, Some(WriteStop::Memory));
            }
            let n = self.chunk.min(buf.tailroom()).min(rest.len());
            match buf.append(n) {
                Some(dst) if n > 0 => dst.copy_from_slice(&rest[..n]),
                // A pool whose buffers hold nothing cannot make progress.
                _ => return (done, Some(WriteStop::Pool)),
            }
            self.truesize += buf.truesize();
            self.bufs.push_back(buf);
            done += n;
            self.len += n;
        }
        (done, None)
    }

    /// Copies as much of `bytes` onto the tail buffer as its room and the
    /// chunk size allow; returns the count.
    fn append_to_tail(&mut self, bytes: &[u8]) -> usize {
        let Some(tail) = self.bufs.back_mut() else {
            return 0;
        };
        let room = self
            .chunk
            .saturating_sub(tail.len())
            .min(tail.tailroom())
            .min(bytes.len());
        match tail.append(room) {
            Some(dst) if room > 0 => {
                dst.copy_from_slice(&bytes[..room]);
                self.len += room;
                room
            }
            _ => 0,
        }
    }

    /// Queues a whole buffer without copying, if it fits: its bytes go
    /// onto the tail buffer instead when it is worth collapsing (see
    /// [`worth_collapsing`]; any size when `pressure`) and they fit there.
    /// A buffer of its own is taken only if `admit` allows its truesize.
    pub fn push_buf(
        &mut self,
        buf: B,
        pressure: bool,
        admit: impl FnOnce(usize) -> Result<(), WriteStop>,
    ) -> Result<Pushed, (Option<WriteStop>, B)> {
        let n = buf.len();
        if n > self.free_space() || buf.is_empty() {
            return Err((None, buf));
        }
        if worth_collapsing(n, buf.truesize(), pressure) {
            let fits = self
                .bufs
                .back()
                .is_some_and(|t| t.len() + n <= self.chunk && t.tailroom() >= n);
            if fits && self.append_to_tail(buf.data()) == n {
                return Ok(Pushed::Collapsed(n));
            }
        }
        if let Err(stop) = admit(buf.truesize()) {
            return Err((Some(stop), buf));
        }
        self.len += n;
        self.truesize += buf.truesize();
        self.bufs.push_back(buf);
        Ok(Pushed::Queued)
    }

    /// Releases `n` acknowledged bytes from the front.
    pub fn ack(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        let mut dropped_bytes = 0;
        while n > 0 {
            let Some(front) = self.bufs.front_mut() else {
                break;
            };
            if front.len() <= n {
                n -= front.len();
                dropped_bytes += front.len();
                self.truesize -= front.truesize();
                self.bufs.pop_front();
                self.cursor.0 = self.cursor.0.saturating_sub(1);
            } else {
                front.trim_front(n);
                dropped_bytes += n;
                n = 0;
            }
        }
        self.cursor.1 = self.cursor.1.saturating_sub(dropped_bytes);
        if self.cursor.0 == 0 {
            self.cursor.1 = 0;
        }
    }

    /// Drops everything (reset, abort).
    pub fn clear(&mut self) {
        self.bufs.clear();
        self.len = 0;
        self.truesize = 0;
        self.cursor = (0, 0);
    }

    /// The bytes at queue offset `off`, as far as they run in one buffer.
    pub fn slice_at(&mut self, off: usize) -> Option<Slice<'_, B>> {
        if off >= self.len {
            return None;
        }
        let (mut idx, mut start) = self.cursor;
        if idx >= self.bufs.len() {
            (idx, start) = (0, 0);
        }
        // Back from the cursor (a frame of several segments is looked at
        // again from its start), else forward.
        while off < start && idx > 0 {
            idx -= 1;
            start = start.saturating_sub(self.bufs[idx].len());
        }
        while idx < self.bufs.len() {
            let blen = self.bufs[idx].len();
            if off < start + blen {
                self.cursor = (idx, start);
                return Some(Slice {
                    buf: &self.bufs[idx],
                    start: off - start,
                    len: blen - (off - start),
                });
            }
            start += blen;
            idx += 1;
        }
        None
    }

    /// How many buffers the queued bytes `off..off + len` run over, and
    /// whether the first of them also holds the byte before `off`.
    pub fn buffers_spanned(&mut self, mut off: usize, len: usize) -> (usize, bool) {
        let end = off + len;
        let (mut n, mut shared) = (0, false);
        while off < end {
            let Some(s) = self.slice_at(off) else { break };
            if n == 0 {
                shared = s.start > 0;
            }
            off += s.len;
            n += 1;
        }
        (n, shared)
    }

    /// Copies queued bytes from offset `off` into `dst`; returns the count.
    pub fn copy_out(&mut self, mut off: usize, dst: &mut [u8]) -> usize {
        let mut done = 0;
        while done < dst.len() {
            let Some(s) = self.slice_at(off) else { break };
            let n = s.len.min(dst.len() - done);
            dst[done..done + n].copy_from_slice(&s.buf.data()[s.start..s.start + n]);
            done += n;
            off += n;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::HeapPool;

    #[test]
    fn spans_count_buffers_and_whether_the_first_is_shared_with_the_byte_before() {
        let mut pool = HeapPool::new(8, 256, 0);
        let mut q = SendQueue::new(1000, 100);
        let data: Vec<u8> = (0..250u8).collect();
        assert_eq!(q.write(&mut pool, &data, 0, |_| true), (250, None));
        // Looked at out of order: the cursor walks back as well as on.
        assert_eq!(q.buffers_spanned(150, 100), (2, true));
        assert_eq!(q.buffers_spanned(0, 250), (3, false));
        assert_eq!(q.buffers_spanned(100, 100), (1, false));
        assert_eq!(q.buffers_spanned(50, 100), (2, true));
        assert_eq!(q.buffers_spanned(200, 500), (1, false), "up to the end");
    }

    #[test]
    fn write_fills_chunks_and_ack_frees_them() {
        let mut pool = HeapPool::new(8, 256, 0);
        let mut q = SendQueue::new(1000, 100);
        let data: Vec<u8> = (0..250u8).collect();
        assert_eq!(q.write(&mut pool, &data, 0, |_| true), (250, None));
        assert_eq!((q.buffers(), q.truesize()), (3, 768));
        assert_eq!(pool.available(), 5);
        assert_eq!(q.slice_at(0).unwrap().len, 100);
        assert_eq!(q.slice_at(150).unwrap().len, 50);
        let mut out = [0u8; 120];
        assert_eq!(q.copy_out(90, &mut out), 120);
        assert_eq!(&out[..], &data[90..210]);
        q.ack(150);
        assert_eq!(pool.available(), 6);
        assert_eq!(q.truesize(), 512);
        assert_eq!(q.len(), 100);
        let first = q.slice_at(0).unwrap();
        assert_eq!(first.buf.data()[first.start], 150);
    }

    #[test]
    fn write_stops_at_capacity_and_on_exhaustion() {
        let mut pool = HeapPool::new(2, 64, 0);
        let mut q = SendQueue::new(100, 64);
        assert_eq!(q.write(&mut pool, &[1; 150], 0, |_| true), (100, None));
        assert_eq!(q.free_space(), 0);
        let mut q2 = SendQueue::new(1000, 64);
        assert_eq!(
            q2.write(&mut pool, &[1; 150], 0, |_| true),
            (0, Some(WriteStop::Pool))
        );
    }

    #[test]
    fn write_stops_when_memory_refuses_a_buffer() {
        let mut pool = HeapPool::new(8, 256, 0);
        let mut q = SendQueue::new(1000, 100);
        let mut taken = 0;
        let admit = |ts: usize| {
            taken += ts;
            taken <= 512
        };
        assert_eq!(
            q.write(&mut pool, &[1; 300], 0, admit),
            (200, Some(WriteStop::Memory))
        );
        assert_eq!(pool.available(), 6, "the refused buffer went back");
    }

    #[test]
    fn small_pushed_buffers_are_copied_onto_the_tail() {
        let mut pool = HeapPool::new(16, 256, 0);
        let mut q = SendQueue::new(10_000, 100);
        let one = |pool: &mut HeapPool, b: u8| pool.alloc_with(&[b]).unwrap();
        // The first has nothing to join: queued whole.
        assert_eq!(
            q.push_buf(one(&mut pool, 0), false, |_| Ok(())).unwrap(),
            Pushed::Queued
        );
        for b in 1..100u8 {
            let buf = one(&mut pool, b);
            assert_eq!(
                q.push_buf(buf, false, |_| Err(WriteStop::Memory)).unwrap(),
                Pushed::Collapsed(1)
            );
        }
        assert_eq!((q.len(), q.buffers(), pool.available()), (100, 1, 15));
        // The tail is a full chunk now: the next byte needs a buffer, and
        // memory refuses it.
        let (stop, _) = q
            .push_buf(one(&mut pool, 100), false, |_| Err(WriteStop::Memory))
            .unwrap_err();
        assert_eq!(stop, Some(WriteStop::Memory));
        let mut out = [0u8; 100];
        assert_eq!(q.copy_out(0, &mut out), 100);
        assert!(out.iter().enumerate().all(|(i, &b)| b == i as u8));
        // Big buffers keep zero copy.
        let big = pool.alloc_with(&[7; 200]).unwrap();
        assert_eq!(q.push_buf(big, false, |_| Ok(())).unwrap(), Pushed::Queued);
    }
}
