//! Packet buffers: the trait the engine is generic over, and a heap
//! implementation for tests and simulators.
//!
//! A buffer is a contiguous data area with room in front of the data
//! (headroom, where headers are prepended) and behind it (tailroom). The
//! DPDK runtime implements [`PacketBuf`] on `rte_mbuf`; [`HeapPool`] is the
//! pure-Rust implementation used by the simulator and the unit tests.
//!
//! Sharing: [`PacketBuf::share`] returns a second handle on the same bytes
//! (an indirect mbuf in DPDK, a reference count here). The engine shares
//! send-queue buffers when it transmits, so a retransmission never copies
//! payload. While a buffer is shared, neither handle may change the bytes:
//! [`PacketBuf::append`], [`PacketBuf::prepend`] and
//! [`PacketBuf::data_mut`] return `None`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// A packet buffer the engine can receive into, queue and transmit from.
pub trait PacketBuf: Sized {
    /// The bytes currently in the buffer.
    fn data(&self) -> &[u8];

    /// The data bytes, writable; `None` while the buffer is shared.
    fn data_mut(&mut self) -> Option<&mut [u8]>;

    /// Number of data bytes.
    fn len(&self) -> usize {
        self.data().len()
    }

    /// Whether the buffer holds no data.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free bytes in front of the data.
    fn headroom(&self) -> usize;

    /// Free bytes behind the data (zero while the buffer is shared).
    fn tailroom(&self) -> usize;

    /// Grows the data by `n` bytes at the front and returns them, or `None`
    /// when the headroom is too small or the buffer is shared.
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]>;

    /// Grows the data by `n` bytes at the back and returns them, or `None`
    /// when the tailroom is too small or the buffer is shared.
    fn append(&mut self, n: usize) -> Option<&mut [u8]>;

    /// Removes up to `n` bytes from the front of the data.
    fn trim_front(&mut self, n: usize);

    /// Removes up to `n` bytes from the back of the data.
    fn trim_back(&mut self, n: usize);

    /// A second handle on the same bytes, or `None` when the implementation
    /// cannot make one right now (an exhausted pool of indirect buffers).
    fn share(&self) -> Option<Self>;

    /// Memory this buffer pins, for accounting (the whole buffer, not only
    /// its data: a 1-byte segment in a 2 KiB buffer costs 2 KiB).
    fn truesize(&self) -> usize;
}

/// Where the engine gets buffers for the frames it builds and the bytes
/// `write` copies.
pub trait BufferPool {
    /// The buffer type this pool hands out.
    type Buf: PacketBuf;

    /// An empty buffer with the pool's default headroom, or `None` when the
    /// pool is exhausted. The engine counts the failure and tries again later.
    fn alloc(&mut self) -> Option<Self::Buf>;

    /// Buffers free right now, if the pool can tell (the engine keeps a
    /// reserve of them for receiving, see `tcp.pool_reserve`).
    fn available(&self) -> Option<usize> {
        None
    }

    /// Buffers the pool holds in all, if it can tell: with
    /// [`BufferPool::buffer_size`] it sets the engine's default memory
    /// limit (`memory.limit`).
    fn capacity(&self) -> Option<usize> {
        None
    }

    /// The truesize of one buffer (what [`PacketBuf::truesize`] reports
    /// for a buffer of this pool), if the pool can tell.
    fn buffer_size(&self) -> Option<usize> {
        None
    }
}

/// A fixed-size pool of heap buffers, the pure-Rust analogue of a DPDK
/// mempool. Buffers return to the pool when their last handle is dropped, so
/// the steady state allocates nothing, and [`HeapPool::available`] shows
/// whether every buffer came back.
#[derive(Clone)]
pub struct HeapPool {
    shared: Rc<PoolShared>,
}

struct PoolShared {
    free: RefCell<Vec<Rc<Box<[u8]>>>>,
    total: usize,
    buf_size: usize,
    headroom: usize,
    alloc_failures: Cell<u64>,
}

impl HeapPool {
    /// A pool of `count` buffers of `buf_size` bytes each, handing them out
    /// with `headroom` bytes free in front.
    ///
    /// # Panics
    /// If `headroom > buf_size` (a programming error, not an input error).
    pub fn new(count: usize, buf_size: usize, headroom: usize) -> HeapPool {
        assert!(headroom <= buf_size, "headroom larger than the buffer");
        let free = (0..count)
            .map(|_| Rc::new(vec![0u8; buf_size].into_boxed_slice()))
            .collect::<Vec<_>>();
        HeapPool {
            shared: Rc::new(PoolShared {
                free: RefCell::new(free),
                total: count,
                buf_size,
                headroom,
                alloc_failures: Cell::new(0),
            }),
        }
    }

    /// Buffers currently in the pool (not held by anyone).
    pub fn available(&self) -> usize {
        self.shared.free.borrow().len()
    }

    /// Buffers the pool was created with.
    pub fn total(&self) -> usize {
        self.shared.total
    }

    /// Times `alloc` found the pool empty.
    pub fn alloc_failures(&self) -> u64 {
        self.shared.alloc_failures.get()
    }

    /// A buffer holding a copy of `bytes` (placed after the headroom), or
    /// `None` if the pool is empty or `bytes` does not fit.
    pub fn alloc_with(&mut self, bytes: &[u8]) -> Option<HeapBuf> {
        let mut buf = self.alloc()?;
        buf.append(bytes.len())?.copy_from_slice(bytes);
        Some(buf)
    }
}

impl BufferPool for HeapPool {
    type Buf = HeapBuf;

    fn available(&self) -> Option<usize> {
        Some(HeapPool::available(self))
    }

    fn capacity(&self) -> Option<usize> {
        Some(self.shared.total)
    }

    fn buffer_size(&self) -> Option<usize> {
        Some(self.shared.buf_size)
    }

    fn alloc(&mut self) -> Option<HeapBuf> {
        let Some(storage) = self.shared.free.borrow_mut().pop() else {
            self.shared
                .alloc_failures
                .set(self.shared.alloc_failures.get() + 1);
            return None;
        };
        let start = self.shared.headroom;
        Some(HeapBuf {
            storage: Some(storage),
            start,
            end: start,
            pool: Rc::clone(&self.shared),
        })
    }
}

/// A buffer from a [`HeapPool`].
pub struct HeapBuf {
    // Always `Some` until drop hands the storage back to the pool.
    storage: Option<Rc<Box<[u8]>>>,
    start: usize,
    end: usize,
    pool: Rc<PoolShared>,
}

impl HeapBuf {
    fn storage(&self) -> &Rc<Box<[u8]>> {
        self.storage.as_ref().expect("storage present until drop")
    }

    fn unique_bytes(&mut self) -> Option<&mut Box<[u8]>> {
        self.storage.as_mut().and_then(Rc::get_mut)
    }
}

impl Drop for HeapBuf {
    fn drop(&mut self) {
        if let Some(storage) = self.storage.take() {
            if Rc::strong_count(&storage) == 1 {
                // The pool's free list was allocated with room for every
                // buffer, so this push never reallocates.
                self.pool.free.borrow_mut().push(storage);
            }
        }
    }
}

impl PacketBuf for HeapBuf {
    fn data(&self) -> &[u8] {
        &self.storage()[self.start..self.end]
    }

    fn data_mut(&mut self) -> Option<&mut [u8]> {
        let (start, end) = (self.start, self.end);
        self.unique_bytes().map(|b| &mut b[start..end])
    }

    fn headroom(&self) -> usize {
        self.start
    }

    fn tailroom(&self) -> usize {
        if Rc::strong_count(self.storage()) == 1 {
            self.pool.buf_size - self.end
        } else {
            0
        }
    }

    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.start {
            return None;
        }
        let (start, end) = (self.start - n, self.start);
        self.unique_bytes()?;
        self.start = start;
        self.unique_bytes().map(|b| &mut b[start..end])
    }

    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        let (start, end) = (self.end, self.end.checked_add(n)?);
        if end > self.pool.buf_size {
            return None;
        }
        self.unique_bytes()?;
        self.end = end;
        self.unique_bytes().map(|b| &mut b[start..end])
    }

    fn trim_front(&mut self, n: usize) {
        self.start += n.min(self.end - self.start);
    }

    fn trim_back(&mut self, n: usize) {
        self.end -= n.min(self.end - self.start);
    }

    fn share(&self) -> Option<HeapBuf> {
        Some(HeapBuf {
            storage: Some(Rc::clone(self.storage())),
            start: self.start,
            end: self.end,
            pool: Rc::clone(&self.pool),
        })
    }

    fn truesize(&self) -> usize {
        self.pool.buf_size
    }
}

impl core::fmt::Debug for HeapBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HeapBuf")
            .field("len", &self.len())
            .field("headroom", &self.start)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_return_to_the_pool_when_the_last_share_drops() {
        let mut pool = HeapPool::new(2, 256, 64);
        let mut a = pool.alloc().unwrap();
        a.append(10).unwrap().copy_from_slice(b"0123456789");
        let b = a.share().unwrap();
        assert_eq!(pool.available(), 1);
        drop(a);
        assert_eq!(pool.available(), 1, "still shared by b");
        assert_eq!(b.data(), b"0123456789");
        drop(b);
        assert_eq!(pool.available(), 2);
    }

    #[test]
    fn shared_buffers_are_read_only() {
        let mut pool = HeapPool::new(1, 256, 64);
        let mut a = pool.alloc_with(b"abc").unwrap();
        let mut b = a.share().unwrap();
        assert!(a.append(1).is_none());
        assert!(b.prepend(1).is_none());
        assert!(b.data_mut().is_none());
        b.trim_front(1);
        assert_eq!(b.data(), b"bc");
        assert_eq!(a.data(), b"abc");
        drop(b);
        assert_eq!(a.prepend(2).unwrap().len(), 2);
        assert_eq!(a.len(), 5);
    }

    #[test]
    fn exhaustion_is_reported_not_fatal() {
        let mut pool = HeapPool::new(1, 128, 0);
        let a = pool.alloc().unwrap();
        assert!(pool.alloc().is_none());
        assert_eq!(pool.alloc_failures(), 1);
        drop(a);
        assert!(pool.alloc().is_some());
    }

    #[test]
    fn room_limits_are_enforced() {
        let mut pool = HeapPool::new(1, 100, 40);
        let mut a = pool.alloc().unwrap();
        assert!(a.prepend(41).is_none());
        assert!(a.append(61).is_none());
        assert!(a.append(60).is_some());
        assert_eq!(a.tailroom(), 0);
        a.trim_back(1000);
        assert!(a.is_empty());
    }
}
