//! `rte_mbuf` as a [`stack::PacketBuf`], and the pool that hands them out.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;

use dpdk_sys::rte_mbuf;
use stack::{BufferPool, PacketBuf};

use crate::error::DpdkError;
use crate::mempool::Mempool;

/// An owned mbuf (a chain, if it has several segments). Dropping it frees
/// it (`rte_pktmbuf_free`).
///
/// [`PacketBuf`] views the first segment: `data` is the first segment's
/// data; `append` and `tailroom` act on the last segment, as DPDK's
/// `rte_pktmbuf_append` does. Frames from [`crate::Port::rx_burst`] have
/// one segment (scatter is not enabled).
///
/// Sharing: [`PacketBuf::share`] makes an indirect mbuf (`rte_pktmbuf_clone`)
/// from the indirect pool of the [`MbufPool`] this mbuf came from. While
/// any other handle on the bytes exists, `data_mut`, `append` and `prepend`
/// return `None` and `tailroom` is 0; `trim_front` and `trim_back` change
/// only this handle's view.
///
/// An mbuf holds no handle on its pools, and may outlive every
/// [`MbufPool`] handle: the pools are then leaked instead of freed, and
/// the EAL is never cleaned up (see the crate documentation), so dropping
/// the mbuf later still frees into a live pool.
pub struct Mbuf {
    raw: NonNull<rte_mbuf>,
    /// Where `share` takes indirect mbufs from; outlives `raw` (see
    /// [`MbufPool`]'s drop).
    clone_pool: NonNull<dpdk_sys::rte_mempool>,
}

// SAFETY: an Mbuf owns its mbuf exclusively (shared bytes are read-only and
// the reference counts are atomic); mempool get/put is thread-safe.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `raw` must be a valid mbuf that nothing else will free, from a pool
    /// that stays alive as long as the mbuf does (dropping it frees into
    /// that pool, so neither the pool nor the EAL may be gone by then), and
    /// `clone_pool` a pool of indirect-capable mbufs that stays alive as
    /// long as the mbuf (and every share of it) does. `None` if either
    /// pointer is null.
    pub unsafe fn from_raw(
        raw: *mut rte_mbuf,
        clone_pool: *mut dpdk_sys::rte_mempool,
    ) -> Option<Mbuf> {
        Some(Mbuf {
            raw: NonNull::new(raw)?,
            clone_pool: NonNull::new(clone_pool)?,
        })
    }

    /// Gives up ownership; the caller must free the mbuf (or hand it to a
    /// DPDK function that does, like `rte_eth_tx_burst`).
    pub fn into_raw(self) -> *mut rte_mbuf {
        let raw = self.raw.as_ptr();
        std::mem::forget(self);
        raw
    }

    /// The raw mbuf, for DPDK calls. Valid while `self` is.
    pub fn as_ptr(&self) -> *mut rte_mbuf {
        self.raw.as_ptr()
    }

    #[inline]
    fn m(&self) -> &rte_mbuf {
        // SAFETY: raw is a valid mbuf we own for as long as &self lives.
        unsafe { self.raw.as_ref() }
    }

    /// This segment's reference count (a direct mbuf with clones counts
    /// itself and each clone).
    pub fn refcnt(&self) -> u16 {
        // SAFETY: raw is valid.
        unsafe { refcnt_acquire(self.raw.as_ptr()) }
    }

    /// Whether this mbuf owns its data buffer (not an indirect clone).
    pub fn is_direct(&self) -> bool {
        // SAFETY: raw is valid.
        unsafe { is_direct(self.raw.as_ptr()) }
    }

    /// Whether another handle may see these bytes, which makes them
    /// read-only: some segment has a reference count above one, or is an
    /// indirect mbuf whose buffer has other users, or has an external buffer.
    /// The counts are read with acquire ordering: when they say the bytes
    /// are ours alone, whatever the holders of the dropped references wrote
    /// is visible before we write (a relaxed read would not order them).
    #[inline]
    pub fn is_shared(&self) -> bool {
        let mut seg = self.raw.as_ptr();
        while !seg.is_null() {
            // SAFETY: seg is a segment of our valid chain.
            let exclusive = unsafe {
                if refcnt_acquire(seg) != 1 {
                    false
                } else if is_direct(seg) {
                    true
                } else if (*seg).ol_flags & dpdk_sys::RTE_MBUF_F_INDIRECT != 0 {
                    let direct = dpdk_sys::shim_mbuf_from_indirect(seg);
                    refcnt_acquire(direct) == 1
                } else {
                    false // external buffer: its users are not counted here
                }
            };
            if !exclusive {
                return true;
            }
            // SAFETY: seg is valid; next is NULL or the next valid segment.
            seg = unsafe { (*seg).next };
        }
        false
    }

    /// Number of segments in the chain.
    #[inline]
    pub fn nb_segs(&self) -> u16 {
        self.m().nb_segs
    }

    /// Total data bytes of the chain (`pkt_len`).
    #[inline]
    pub fn pkt_len(&self) -> u32 {
        self.m().pkt_len
    }

    /// Offload flags (`RTE_MBUF_F_*`).
    #[inline]
    pub fn ol_flags(&self) -> u64 {
        self.m().ol_flags
    }

    /// The port this frame arrived on.
    pub fn port(&self) -> u16 {
        self.m().port
    }

    #[inline]
    fn last_seg(&self) -> *mut rte_mbuf {
        let mut seg = self.raw.as_ptr();
        // SAFETY: segments of our valid chain; the last has next == NULL.
        unsafe {
            while !(*seg).next.is_null() {
                seg = (*seg).next;
            }
        }
        seg
    }

    /// The data of every segment of the chain, in order.
    pub fn segments(&self) -> impl Iterator<Item = &[u8]> + Clone + '_ {
        let mut seg = self.raw.as_ptr();
        std::iter::from_fn(move || {
            if seg.is_null() {
                return None;
            }
            // SAFETY: seg is a segment of our valid chain, alive while
            // &self is; mtod points at data_len initialised bytes that no
            // one writes while &self exists (as in `data`).
            unsafe {
                let len = usize::from((*seg).data_len);
                let p = mtod(seg);
                let bytes = std::slice::from_raw_parts(p, len);
                seg = (*seg).next;
                Some(bytes)
            }
        })
    }

    /// The whole frame (all segments) as one vector.
    pub fn frame_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.pkt_len() as usize);
        for s in self.segments() {
            v.extend_from_slice(s);
        }
        v
    }

    /// Asks the device to fill the IPv4 header and TCP checksums of this
    /// frame (Ethernet header `l2_len` bytes, IPv4 header `l3_len` bytes;
    /// the TCP checksum field must hold the pseudo-header sum).
    pub fn request_tcp_checksum_offload(&mut self, l2_len: u8, l3_len: u8) {
        // SAFETY: raw is a valid mbuf we own; writing its offload fields is
        // what the TX path reads. The bit fields are set through the shim.
        unsafe {
            let m = self.raw.as_ptr();
            (*m).ol_flags |= dpdk_sys::RTE_MBUF_F_TX_IPV4
                | dpdk_sys::RTE_MBUF_F_TX_IP_CKSUM
                | dpdk_sys::RTE_MBUF_F_TX_TCP_CKSUM;
            dpdk_sys::shim_mbuf_set_tx_lens(m, l2_len, l3_len);
        }
    }

    /// Asks the device to cut this frame into TCP segments of `segment_size`
    /// payload bytes (TSO), filling every segment's IPv4 and TCP checksums.
    /// The Ethernet, IPv4 and TCP headers are `l2_len`, `l3_len` and
    /// `l4_len` bytes; the IPv4 checksum field must be zero and the TCP
    /// checksum field must hold the pseudo-header sum without the length
    /// (as `rte_ipv4_phdr_cksum` makes it for TSO).
    pub fn request_tcp_segmentation(
        &mut self,
        l2_len: u8,
        l3_len: u8,
        l4_len: u8,
        segment_size: u16,
    ) {
        self.request_tcp_checksum_offload(l2_len, l3_len);
        // SAFETY: as in request_tcp_checksum_offload.
        unsafe {
            let m = self.raw.as_ptr();
            (*m).ol_flags |= dpdk_sys::RTE_MBUF_F_TX_TCP_SEG;
            dpdk_sys::shim_mbuf_set_tso(m, l4_len, segment_size);
        }
    }

    /// Appends `tail` to this chain, as `rte_pktmbuf_chain` does, in
    /// inline Rust (a frame's payload parts are chained one by one on
    /// every transmit). On failure (the chain would exceed
    /// `RTE_MBUF_MAX_NB_SEGS`, 65,535 segments) `tail` is handed back.
    #[inline]
    pub fn chain(&mut self, tail: Mbuf) -> Result<(), Mbuf> {
        let (head, first) = (self.raw.as_ptr(), tail.raw.as_ptr());
        // SAFETY: both chains are valid and owned by us; only the head's
        // and the tail's first segment's counters and the last segment's
        // next pointer change.
        unsafe {
            let segs = u32::from((*head).nb_segs) + u32::from((*first).nb_segs);
            let Ok(segs) = u16::try_from(segs) else {
                return Err(tail);
            };
            (*self.last_seg()).next = first;
            (*head).nb_segs = segs;
            (*head).pkt_len += (*first).pkt_len;
            // The chain's length lives in its head only.
            (*first).pkt_len = u32::from((*first).data_len);
        }
        // The head owns tail's segments now: they are freed with it.
        std::mem::forget(tail);
        Ok(())
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own raw; freeing it (and its chain) once, here.
        unsafe { dpdk_sys::shim_pktmbuf_free(self.raw.as_ptr()) }
    }
}

/// The segment's data start (`rte_pktmbuf_mtod`).
///
/// # Safety
/// `m` is a valid mbuf.
#[inline]
unsafe fn mtod(m: *const rte_mbuf) -> *mut u8 {
    // SAFETY: buf_addr + data_off stays inside the segment's buffer.
    unsafe { (*m).buf_addr.cast::<u8>().add(usize::from((*m).data_off)) }
}

/// The reference count, read with acquire ordering (as
/// `rte_mbuf_refcnt_read` with `__ATOMIC_ACQUIRE`): when it says the
/// buffer is ours alone, what the holders of dropped references wrote is
/// visible.
///
/// # Safety
/// `m` is a valid mbuf.
#[inline]
unsafe fn refcnt_acquire(m: *mut rte_mbuf) -> u16 {
    // SAFETY: the field is a properly aligned u16 that DPDK only ever
    // changes atomically.
    unsafe { std::sync::atomic::AtomicU16::from_ptr(std::ptr::addr_of_mut!((*m).refcnt)) }
        .load(std::sync::atomic::Ordering::Acquire)
}

/// Owns its data buffer: neither indirect nor external
/// (`RTE_MBUF_DIRECT`).
///
/// # Safety
/// `m` is a valid mbuf.
#[inline]
unsafe fn is_direct(m: *const rte_mbuf) -> bool {
    // SAFETY: a plain read of our mbuf's flags.
    unsafe { (*m).ol_flags & (dpdk_sys::RTE_MBUF_F_INDIRECT | dpdk_sys::RTE_MBUF_F_EXTERNAL) == 0 }
}

// The accessors below do in Rust what DPDK's inline functions do in C
// (`rte_pktmbuf_prepend`, `_append`, `_adj`, `_trim`, `_headroom`,
// `_tailroom`), field for field, so that the per-segment work of the
// engine costs no call across the language boundary.
impl PacketBuf for Mbuf {
    #[inline]
    fn data(&self) -> &[u8] {
        let len = usize::from(self.m().data_len);
        // SAFETY: mtod points at data_len initialised bytes inside the
        // segment's buffer, which lives while self does; nobody writes them
        // while &self exists (writers need &mut and an unshared buffer).
        unsafe { std::slice::from_raw_parts(mtod(self.raw.as_ptr()), len) }
    }

    #[inline]
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        if self.is_shared() {
            return None;
        }
        let len = usize::from(self.m().data_len);
        // SAFETY: as in data(), and no other handle sees these bytes
        // (is_shared is false), so a unique borrow is sound.
        unsafe { Some(std::slice::from_raw_parts_mut(mtod(self.raw.as_ptr()), len)) }
    }

    #[inline]
    fn len(&self) -> usize {
        usize::from(self.m().data_len)
    }

    #[inline]
    fn headroom(&self) -> usize {
        usize::from(self.m().data_off)
    }

    #[inline]
    fn tailroom(&self) -> usize {
        if self.is_shared() {
            return 0;
        }
        // SAFETY: last_seg is a valid segment of our chain.
        let last = unsafe { &*self.last_seg() };
        usize::from(last.buf_len)
            .saturating_sub(usize::from(last.data_off) + usize::from(last.data_len))
    }

    #[inline]
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        let n16 = u16::try_from(n).ok()?;
        if self.is_shared() || n16 > self.m().data_off {
            return None;
        }
        let m = self.raw.as_ptr();
        // SAFETY: m is valid and unshared, and n <= data_off: the bytes
        // before the data are inside its buffer. As rte_pktmbuf_prepend.
        unsafe {
            (*m).data_off -= n16;
            (*m).data_len += n16;
            (*m).pkt_len += u32::from(n16);
            Some(std::slice::from_raw_parts_mut(mtod(m), n))
        }
    }

    #[inline]
    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        let n16 = u16::try_from(n).ok()?;
        if self.is_shared() || n > self.tailroom() {
            return None;
        }
        let m = self.raw.as_ptr();
        let last = self.last_seg();
        // SAFETY: m and last are valid and unshared, and n fits in the last
        // segment's tailroom. As rte_pktmbuf_append.
        unsafe {
            let tail = mtod(last).add(usize::from((*last).data_len));
            (*last).data_len += n16;
            (*m).pkt_len += u32::from(n16);
            Some(std::slice::from_raw_parts_mut(tail, n))
        }
    }

    #[inline]
    fn trim_front(&mut self, n: usize) {
        let n = n.min(usize::from(self.m().data_len)) as u16;
        let m = self.raw.as_ptr();
        // SAFETY: m is valid and n <= data_len. As rte_pktmbuf_adj: only
        // this handle's view moves (a shared buffer's bytes are untouched).
        unsafe {
            (*m).data_len -= n;
            (*m).data_off += n;
            (*m).pkt_len -= u32::from(n);
        }
    }

    #[inline]
    fn trim_back(&mut self, n: usize) {
        let m = self.raw.as_ptr();
        let last = self.last_seg();
        // SAFETY: m and last are valid; n is cut to the last segment's
        // data_len. As rte_pktmbuf_trim.
        unsafe {
            let n = n.min(usize::from((*last).data_len)) as u16;
            (*last).data_len -= n;
            (*m).pkt_len -= u32::from(n);
        }
    }

    fn share(&self) -> Option<Mbuf> {
        // SAFETY: raw is a valid chain and clone_pool a live pool (the
        // MbufPool keeps it alive while any of its mbufs exist); NULL on
        // exhaustion is handled.
        let clone =
            unsafe { dpdk_sys::shim_pktmbuf_clone(self.raw.as_ptr(), self.clone_pool.as_ptr()) };
        Some(Mbuf {
            raw: NonNull::new(clone)?,
            clone_pool: self.clone_pool,
        })
    }

    fn truesize(&self) -> usize {
        let mut total = 0;
        let mut seg = self.raw.as_ptr();
        while !seg.is_null() {
            // SAFETY: seg is a valid segment of our chain.
            unsafe {
                total += usize::from((*seg).buf_len);
                seg = (*seg).next;
            }
        }
        total
    }
}

impl fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mbuf")
            .field("len", &self.len())
            .field("pkt_len", &self.pkt_len())
            .field("headroom", &self.headroom())
            .field("refcnt", &self.refcnt())
            .field("direct", &self.is_direct())
            .finish()
    }
}

/// The pools behind [`Mbuf`]s: direct mbufs for frames, and indirect ones
/// for [`PacketBuf::share`]. Cloning the handle shares the pools.
#[derive(Clone, Debug)]
pub struct MbufPool {
    inner: Arc<PoolPair>,
}

#[derive(Debug)]
struct PoolPair {
    direct: ManuallyDrop<Mempool>,
    indirect: ManuallyDrop<Mempool>,
}

impl Drop for PoolPair {
    fn drop(&mut self) {
        // SAFETY: both fields are taken exactly once, here, and not used
        // after.
        let (direct, indirect) = unsafe {
            (
                ManuallyDrop::take(&mut self.direct),
                ManuallyDrop::take(&mut self.indirect),
            )
        };
        // An outstanding mbuf of either pool may refer to the indirect pool
        // (its clone_pool): free both or neither.
        if direct.in_use() != 0 || indirect.in_use() != 0 {
            direct.leak();
            indirect.leak();
        }
    }
}

impl MbufPool {
    /// `n` direct mbufs of `data_room` bytes (headroom included) plus `n`
    /// indirect mbufs, with per-lcore caches of `cache`. The pools are
    /// named `name` and `name` + `"_i"`, so `name` has at most 23 bytes.
    pub fn new(name: &str, n: u32, cache: u32, data_room: u16) -> Result<MbufPool, DpdkError> {
        MbufPool::with_indirect(name, n, n, cache, data_room)
    }

    /// Like [`MbufPool::new`] with `n_indirect` indirect mbufs: the most
    /// shares that can exist at once.
    pub fn with_indirect(
        name: &str,
        n: u32,
        n_indirect: u32,
        cache: u32,
        data_room: u16,
    ) -> Result<MbufPool, DpdkError> {
        let direct = Mempool::new(name, n, cache, data_room)?;
        let indirect = Mempool::new(&format!("{name}_i"), n_indirect, cache, 0)?;
        Ok(MbufPool {
            inner: Arc::new(PoolPair {
                direct: ManuallyDrop::new(direct),
                indirect: ManuallyDrop::new(indirect),
            }),
        })
    }

    /// The pool of direct mbufs (frames are received into it).
    pub fn direct(&self) -> &Mempool {
        &self.inner.direct
    }

    /// The pool of indirect mbufs that `share` takes from.
    pub fn indirect(&self) -> &Mempool {
        &self.inner.indirect
    }

    /// Wraps a raw mbuf from this pool's direct pool (a received frame).
    ///
    /// # Safety
    /// `raw` must be a valid mbuf from [`MbufPool::direct`] (or a chain of
    /// them) that nothing else will free.
    pub(crate) unsafe fn wrap(&self, raw: NonNull<rte_mbuf>) -> Mbuf {
        Mbuf {
            raw,
            clone_pool: NonNull::new(self.indirect().as_ptr()).expect("pool pointer is non-null"),
        }
    }

    /// A buffer holding a copy of `bytes` after the default headroom, or
    /// `None` if the pool is empty or `bytes` does not fit.
    pub fn alloc_with(&mut self, bytes: &[u8]) -> Option<Mbuf> {
        let mut m = self.alloc()?;
        m.append(bytes.len())?.copy_from_slice(bytes);
        Some(m)
    }

    /// Allocates `n` buffers at once into `out` (`rte_pktmbuf_alloc_bulk`):
    /// all of them, or none and `false`.
    pub fn alloc_bulk(&self, n: usize, out: &mut Vec<Mbuf>) -> bool {
        const CHUNK: usize = 64;
        let mut raws = [std::ptr::null_mut::<rte_mbuf>(); CHUNK];
        let mut done = 0;
        let start = out.len();
        while done < n {
            let k = (n - done).min(CHUNK);
            // SAFETY: raws has room for k pointers; the pool is live.
            let ret = unsafe {
                dpdk_sys::shim_pktmbuf_alloc_bulk(
                    self.direct().as_ptr(),
                    raws.as_mut_ptr(),
                    k as u32,
                )
            };
            if ret != 0 {
                out.truncate(start); // frees what this call took
                return false;
            }
            for &raw in &raws[..k] {
                // SAFETY: alloc_bulk succeeded, so each pointer is a fresh
                // mbuf from the direct pool that we now own.
                out.push(unsafe { self.wrap(NonNull::new(raw).expect("alloc_bulk filled it")) });
            }
            done += k;
        }
        true
    }
}

impl BufferPool for MbufPool {
    #[inline]
    fn available(&self) -> Option<usize> {
        Some(self.direct().available_here() as usize)
    }

    fn capacity(&self) -> Option<usize> {
        Some(self.direct().size() as usize)
    }

    fn buffer_size(&self) -> Option<usize> {
        Some(usize::from(self.direct().data_room()))
    }

    type Buf = Mbuf;

    #[inline]
    fn alloc(&mut self) -> Option<Mbuf> {
        // SAFETY: the pool is live; NULL on exhaustion is handled.
        let raw = unsafe { dpdk_sys::shim_pktmbuf_alloc(self.direct().as_ptr()) };
        // SAFETY: a fresh mbuf from the direct pool, owned by us.
        NonNull::new(raw).map(|raw| unsafe { self.wrap(raw) })
    }
}
