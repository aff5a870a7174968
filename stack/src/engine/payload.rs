//! The payload of a frame to send: shared references into the send queue,
//! in order, without copying a byte.
//!
//! A segment's bytes may run over several send-queue buffers (a window
//! that cut a segment short, an echo server queueing the buffers it
//! received, a retransmission split by path MTU discovery). Each run
//! becomes one part: a second handle on the buffer (an indirect mbuf under
//! DPDK) trimmed to the run. The DPDK runtime chains the parts behind the
//! header buffer; a simulator copies them out.
//!
//! The parts live inline (no allocation per frame), so their number is
//! bounded: [`MAX_PAYLOAD_PARTS`]. A segment that would need more is copied
//! into its header buffer instead, and counted (`Stats::tx_copied_bytes`);
//! so is one under 256 bytes, by design (`Stats::tx_inlined_bytes`).

use crate::buf::PacketBuf;

/// The most buffers one frame's payload may span. A full-sized segment
/// over buffers filled by `write` spans one or two; eight leave room for
/// queued receive buffers of a few hundred bytes each.
pub const MAX_PAYLOAD_PARTS: usize = 8;

/// Up to [`MAX_PAYLOAD_PARTS`] buffers whose bytes follow a frame's
/// headers on the wire, in order.
pub struct Payload<B> {
    parts: [Option<B>; MAX_PAYLOAD_PARTS],
    count: usize,
}

impl<B> Default for Payload<B> {
    fn default() -> Self {
        Payload {
            parts: std::array::from_fn(|_| None),
            count: 0,
        }
    }
}

impl<B: PacketBuf> Payload<B> {
    /// No payload: the frame is the header buffer alone.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `buf` after the parts already held; hands it back when all
    /// [`MAX_PAYLOAD_PARTS`] are taken.
    pub fn push(&mut self, buf: B) -> Result<(), B> {
        match self.parts.get_mut(self.count) {
            Some(slot) => {
                *slot = Some(buf);
                self.count += 1;
                Ok(())
            }
            None => Err(buf),
        }
    }

    /// Number of buffers.
    pub fn parts(&self) -> usize {
        self.count
    }

    /// Whether there is no payload buffer.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Payload bytes over all parts.
    pub fn len(&self) -> usize {
        self.iter().map(PacketBuf::len).sum()
    }

    /// The buffers, in wire order.
    pub fn iter(&self) -> impl Iterator<Item = &B> {
        self.parts[..self.count].iter().flatten()
    }

    /// The parts' bytes, in wire order.
    pub fn slices(&self) -> impl Iterator<Item = &[u8]> {
        self.iter().map(PacketBuf::data)
    }
}

impl<B> IntoIterator for Payload<B> {
    type Item = B;
    type IntoIter = std::iter::Flatten<std::array::IntoIter<Option<B>, MAX_PAYLOAD_PARTS>>;

    /// The buffers, in wire order, moved out.
    fn into_iter(self) -> Self::IntoIter {
        self.parts.into_iter().flatten()
    }
}

impl<B: core::fmt::Debug> core::fmt::Debug for Payload<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list()
            .entries(self.parts[..self.count].iter().flatten())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::HeapPool;

    #[test]
    fn parts_keep_their_order_and_the_ninth_is_refused() {
        let mut pool = HeapPool::new(16, 64, 0);
        let mut p = Payload::new();
        assert!(p.is_empty());
        for i in 0..MAX_PAYLOAD_PARTS as u8 {
            p.push(pool.alloc_with(&[i, i]).unwrap()).unwrap();
        }
        let extra = pool.alloc_with(b"x").unwrap();
        assert!(p.push(extra).is_err(), "full");
        assert_eq!((p.parts(), p.len()), (MAX_PAYLOAD_PARTS, 16));
        let bytes: Vec<u8> = p.slices().flatten().copied().collect();
        assert_eq!(bytes, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]);
        let firsts: Vec<u8> = p.into_iter().map(|b| b.data()[0]).collect();
        assert_eq!(firsts, [0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(pool.available(), 16, "every buffer back");
    }
}
