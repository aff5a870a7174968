//! Packet-buffer mempools (`rte_pktmbuf_pool_create`).

use std::ffi::CString;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::eal::{Eal, EalToken};
use crate::error::{rte_errno, DpdkError};

/// A pool of mbufs, `n` of them, each with `data_room` bytes of buffer
/// (headroom included).
///
/// Dropping the pool frees it only when every mbuf is back; otherwise the
/// pool is leaked (see the crate documentation), so an mbuf never outlives
/// its pool.
#[derive(Debug)]
pub struct Mempool {
    raw: NonNull<dpdk_sys::rte_mempool>,
    name: String,
    size: u32,
    data_room: u16,
    /// The common store is a DPDK ring (the default ops): its count can be
    /// read directly. Asked once, at creation.
    ring_backed: bool,
    eal: ManuallyDrop<Arc<EalToken>>,
}

// SAFETY: a mempool created by rte_pktmbuf_pool_create uses the default
// multi-producer/multi-consumer ops, so get and put are thread-safe; the
// handle's own fields are immutable.
unsafe impl Send for Mempool {}
// SAFETY: as above; every method takes &self and is a thread-safe DPDK call.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `n` mbufs with a per-lcore cache of `cache` mbufs
    /// and `data_room` bytes of buffer each (`RTE_MBUF_DEFAULT_BUF_SIZE`,
    /// 2176, fits a 1500-byte frame after the 128-byte headroom; 0 makes a
    /// pool for indirect mbufs). The pool lives on the calling thread's
    /// NUMA socket.
    pub fn new(name: &str, n: u32, cache: u32, data_room: u16) -> Result<Mempool, DpdkError> {
        let eal = Eal::token()?;
        let c_name = CString::new(name).map_err(|_| DpdkError::NulInArgument(name.to_string()))?;
        // SAFETY: the EAL is initialised (we hold a token); the name is a
        // valid C string that DPDK copies; a NULL return is handled.
        let raw = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(
                c_name.as_ptr(),
                n,
                cache,
                0,
                data_room,
                dpdk_sys::rte_socket_id() as i32,
            )
        };
        let raw = NonNull::new(raw).ok_or_else(|| DpdkError::MempoolCreate {
            name: name.to_string(),
            errno: rte_errno(),
        })?;
        // SAFETY: raw is the live pool just created.
        let ring_backed = unsafe { dpdk_sys::shim_mempool_is_ring(raw.as_ptr()) } != 0;
        Ok(Mempool {
            raw,
            name: name.to_string(),
            size: n,
            data_room,
            ring_backed,
            eal: ManuallyDrop::new(eal),
        })
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of mbufs the pool was created with.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Buffer bytes per mbuf, headroom included.
    pub fn data_room(&self) -> u16 {
        self.data_room
    }

    /// Mbufs in the pool now (in its ring and in the per-lcore caches).
    pub fn available(&self) -> u32 {
        // SAFETY: raw is a live pool (freed only in drop).
        unsafe { dpdk_sys::rte_mempool_avail_count(self.raw.as_ptr()) }
    }

    /// Mbufs free for the calling thread: in the pool's ring and in this
    /// lcore's cache, not counting other lcores' caches. Never more than
    /// [`Mempool::available`], and far cheaper (no walk over every
    /// lcore's cache): what a check against a reserve wants.
    pub fn available_here(&self) -> u32 {
        // SAFETY: raw is a live pool (freed only in drop).
        unsafe { dpdk_sys::shim_mempool_avail_here(self.raw.as_ptr(), i32::from(self.ring_backed)) }
    }

    /// Mbufs taken out of the pool and not yet returned.
    pub fn in_use(&self) -> u32 {
        // SAFETY: raw is a live pool (freed only in drop).
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.raw.as_ptr()) }
    }

    /// The raw pool, for DPDK calls. Valid while `self` is.
    pub fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.raw.as_ptr()
    }

    /// Gives the pool up without freeing it, and with it the EAL cleanup.
    pub(crate) fn leak(self) {
        std::mem::forget(self);
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        if self.in_use() != 0 {
            // Mbufs are still out: freeing the pool would leave them
            // dangling, and so would cleaning up the EAL. Leak both.
            return;
        }
        // SAFETY: no mbuf of this pool is outstanding, and no other handle
        // to it exists (Mempool is not Clone), so nothing refers to it.
        unsafe { dpdk_sys::rte_mempool_free(self.raw.as_ptr()) };
        // SAFETY: eal is not used after this point.
        unsafe { ManuallyDrop::drop(&mut self.eal) };
    }
}
