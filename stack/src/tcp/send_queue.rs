//! The send buffer: bytes written but not yet acknowledged.
//!
//! A queue of packet buffers. `write` copies into buffers of at most one
//! MSS each, so that a full-sized segment is normally one buffer and goes
//! out as a shared reference without a copy; `write_zc` queues the caller's
//! buffer as it is. Bytes leave the queue only when acknowledged (contract
//! 1), from the front.

use std::collections::VecDeque;

use crate::buf::{BufferPool, PacketBuf};

pub(crate) struct SendQueue<B> {
    bufs: VecDeque<B>,
    /// Bytes queued, acknowledged ones excluded.
    len: usize,
    capacity: usize,
    /// Largest number of bytes `write` puts into one buffer.
    chunk: usize,
    /// Lookup cache: buffer index and the queue offset where it starts.
    /// Transmission walks the queue forward, so this makes `slice_at` O(1)
    /// in the common case.
    cursor: (usize, usize),
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
            capacity,
            chunk: chunk.max(1),
            cursor: (0, 0),
        }
    }

    pub fn len(&self) -> usize {
        self.len
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

    /// Copies as much of `data` as fits; returns the count, and whether the
    /// pool ran dry (or down to `reserve` free buffers) before all of it
    /// was copied.
    pub fn write<P: BufferPool<Buf = B>>(
        &mut self,
        pool: &mut P,
        data: &[u8],
        reserve: usize,
    ) -> (usize, bool) {
        let want = data.len().min(self.free_space());
        let mut done = 0;
        while done < want {
            let rest = &data[done..want];
            let n = match self.bufs.back_mut() {
                Some(tail) if tail.len() < self.chunk => {
                    let room = (self.chunk - tail.len()).min(tail.tailroom());
                    let n = room.min(rest.len());
                    match tail.append(n) {
                        Some(dst) if n > 0 => {
                            dst.copy_from_slice(&rest[..n]);
                            n
                        }
                        _ => 0,
                    }
                }
                _ => 0,
            };
            if n > 0 {
                done += n;
                self.len += n;
                continue;
            }
            if pool.available().is_some_and(|free| free <= reserve) {
                return (done, true);
            }
            let Some(mut buf) = pool.alloc() else {
                return (done, true);
            };
            let n = self.chunk.min(buf.tailroom()).min(rest.len());
            match buf.append(n) {
                Some(dst) if n > 0 => dst.copy_from_slice(&rest[..n]),
                // A pool whose buffers hold nothing cannot make progress.
                _ => return (done, true),
            }
            self.bufs.push_back(buf);
            done += n;
            self.len += n;
        }
        (done, false)
    }

    /// Queues a whole buffer without copying, if it fits.
    pub fn push_buf(&mut self, buf: B) -> Result<(), B> {
        if buf.len() > self.free_space() || buf.is_empty() {
            return Err(buf);
        }
        self.len += buf.len();
        self.bufs.push_back(buf);
        Ok(())
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
        self.cursor = (0, 0);
    }

    /// The bytes at queue offset `off`, as far as they run in one buffer.
    pub fn slice_at(&mut self, off: usize) -> Option<Slice<'_, B>> {
        if off >= self.len {
            return None;
        }
        let (mut idx, mut start) = self.cursor;
        if off < start || idx >= self.bufs.len() {
            (idx, start) = (0, 0);
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
    fn write_fills_chunks_and_ack_frees_them() {
        let mut pool = HeapPool::new(8, 256, 0);
        let mut q = SendQueue::new(1000, 100);
        let data: Vec<u8> = (0..250u8).collect();
        assert_eq!(q.write(&mut pool, &data, 0), (250, false));
        assert_eq!(pool.available(), 5);
        assert_eq!(q.slice_at(0).unwrap().len, 100);
        assert_eq!(q.slice_at(150).unwrap().len, 50);
        let mut out = [0u8; 120];
        assert_eq!(q.copy_out(90, &mut out), 120);
        assert_eq!(&out[..], &data[90..210]);
        q.ack(150);
        assert_eq!(pool.available(), 6);
        assert_eq!(q.len(), 100);
        let first = q.slice_at(0).unwrap();
        assert_eq!(first.buf.data()[first.start], 150);
    }

    #[test]
    fn write_stops_at_capacity_and_on_exhaustion() {
        let mut pool = HeapPool::new(2, 64, 0);
        let mut q = SendQueue::new(100, 64);
        assert_eq!(q.write(&mut pool, &[1; 150], 0), (100, false));
        assert_eq!(q.free_space(), 0);
        let mut q2 = SendQueue::new(1000, 64);
        assert_eq!(q2.write(&mut pool, &[1; 150], 0), (0, true));
    }
}
