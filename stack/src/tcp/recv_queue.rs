//! The receive buffer: in-order bytes the application has not read yet.
//!
//! Payload stays in the buffer it arrived in. Small segments are copied into
//! the tail buffer when it has room, so a flood of tiny segments cannot pin
//! one pool buffer per byte (DESIGN.md, "Buffers and zero copy").

use std::collections::VecDeque;

use crate::buf::PacketBuf;

/// Segments at most this long are coalesced into the tail buffer.
const COALESCE_MAX: usize = 512;

pub(crate) struct RecvQueue<B> {
    bufs: VecDeque<B>,
    len: usize,
}

impl<B: PacketBuf> RecvQueue<B> {
    pub fn new() -> Self {
        RecvQueue {
            bufs: VecDeque::new(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn heap_bytes(&self) -> usize {
        self.bufs.capacity() * core::mem::size_of::<B>()
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, buf: B) {
        if buf.is_empty() {
            return;
        }
        let n = buf.len();
        if n <= COALESCE_MAX {
            if let Some(tail) = self.bufs.back_mut() {
                if tail.tailroom() >= n {
                    if let Some(dst) = tail.append(n) {
                        dst.copy_from_slice(buf.data());
                        self.len += n;
                        return;
                    }
                }
            }
        }
        self.len += n;
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
        self.bufs.pop_front()
    }

    pub fn clear(&mut self) {
        self.bufs.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::{BufferPool, HeapPool};

    #[test]
    fn tiny_segments_are_coalesced() {
        let mut pool = HeapPool::new(100, 2048, 64);
        let mut q = RecvQueue::new();
        for i in 0..50u8 {
            q.push(pool.alloc_with(&[i]).unwrap());
        }
        assert_eq!(q.len(), 50);
        assert_eq!(pool.available(), 99, "one buffer holds all fifty bytes");
        let mut out = [0u8; 64];
        assert_eq!(q.read(&mut out), 50);
        assert_eq!(out[49], 49);
        assert_eq!(pool.available(), 100);
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
}
