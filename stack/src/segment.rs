//! Software segmentation: a frame that carries several TCP segments
//! ([`Transmit::segment_size`]) cut into one frame per segment, as a NIC's
//! TCP segmentation offload would cut it.
//!
//! With `offload.tx_segmentation` the engine builds a run of full segments
//! of one connection once: one set of headers, one TCB call, one trip
//! through the neighbour cache. A driver whose device has TSO hands the
//! frame over as it is; any other calls [`cut`]. Each segment gets a copy
//! of the headers in a fresh buffer (the last one reuses the original),
//! its share of the payload (parts moved over whole, or shared and
//! trimmed where a segment boundary falls inside one: no payload byte is
//! copied), its sequence number, IPv4 total length and identification,
//! and its checksums (or the pseudo-header sum, for a device that fills
//! them). PSH and FIN stay on the last segment only.
//!
//! The result is, byte for byte, what the engine would have sent without
//! segmentation; `tests/tests/segmentation.rs` holds it to that over whole
//! transfers, losses included.

use crate::buf::{BufferPool, PacketBuf};
use crate::engine::{Payload, Transmit};
use crate::wire::checksum;
use crate::wire::tcp::tcp_checksum_parts;
use crate::wire::Ipv4Packet;

const ETH_LEN: usize = 14;
/// The longest Ethernet, IPv4 and TCP headers together.
const MAX_HEADERS: usize = ETH_LEN + 60 + 60;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;

/// Why a frame was not cut, or not all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutError {
    /// The headers are not Ethernet, IPv4 and TCP, or the header buffer
    /// holds more than headers, or the segment size is 0: nothing was
    /// sent.
    Malformed,
    /// The pool had no buffer for a segment's headers, or none to share
    /// a payload part with: the first `sent` segments were emitted, the
    /// rest dropped (TCP repairs them as any loss).
    NoBuffer {
        /// Segments emitted before the pool ran out.
        sent: usize,
    },
}

impl core::fmt::Display for CutError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CutError::Malformed => {
                f.write_str("not a TCP/IPv4 frame with its headers alone in the head buffer")
            }
            CutError::NoBuffer { sent } => {
                write!(f, "the pool ran out after {sent} segments")
            }
        }
    }
}

impl std::error::Error for CutError {}

/// Where the headers of a frame are.
#[derive(Clone, Copy)]
struct Layout {
    /// Offset of the TCP header (Ethernet plus IPv4 header lengths).
    l4: usize,
    /// Ethernet, IPv4 and TCP headers together.
    len: usize,
}

fn layout(h: &[u8]) -> Option<Layout> {
    if h.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ver_ihl = *h.get(ETH_LEN)?;
    let ihl = usize::from(ver_ihl & 0x0f) * 4;
    if ver_ihl >> 4 != 4 || ihl < 20 || *h.get(ETH_LEN + 9)? != 6 {
        return None;
    }
    let l4 = ETH_LEN + ihl;
    let doff = usize::from(h.get(l4 + 12)? >> 4) * 4;
    if doff < 20 || h.len() != l4 + doff {
        return None;
    }
    Some(Layout { l4, len: h.len() })
}

/// Cuts `frame` into one frame per TCP segment, handing each to `emit` in
/// wire order, and returns how many went. A frame without
/// `segment_size` goes to `emit` as it is. Header buffers come from
/// `pool`; payload parts are moved or shared, never copied.
pub fn cut<P: BufferPool>(
    frame: Transmit<P::Buf>,
    pool: &mut P,
    mut emit: impl FnMut(Transmit<P::Buf>),
) -> Result<usize, CutError> {
    let Some(size) = frame.segment_size else {
        emit(frame);
        return Ok(1);
    };
    let size = usize::from(size);
    let count = frame.segment_count();
    let Transmit {
        head,
        payload,
        checksum_offload,
        ..
    } = frame;
    let at = match layout(head.data()) {
        Some(at) if size > 0 => at,
        _ => return Err(CutError::Malformed),
    };
    let mut template = [0u8; MAX_HEADERS];
    template[..at.len].copy_from_slice(head.data());
    let total = payload.len();
    let ident = u16::from_be_bytes([template[ETH_LEN + 4], template[ETH_LEN + 5]]);
    let seq = u32::from_be_bytes(
        template[at.l4 + 4..at.l4 + 8]
            .try_into()
            .unwrap_or_default(),
    );
    let mut parts = payload.into_iter();
    let mut carry: Option<P::Buf> = None;
    let mut head = Some(head);
    for i in 0..count {
        let last = i + 1 == count;
        let len = size.min(total - i * size);
        // The last segment takes the original header buffer.
        let mut buf = if last {
            head.take()
        } else {
            pool.alloc().and_then(|mut b| {
                b.append(at.len)?.copy_from_slice(&template[..at.len]);
                Some(b)
            })
        }
        .ok_or(CutError::NoBuffer { sent: i })?;
        let mut part_of = Payload::new();
        let mut need = len;
        while need > 0 {
            let Some(mut part) = carry.take().or_else(|| parts.next()) else {
                return Err(CutError::Malformed);
            };
            if part.len() > need {
                // A segment boundary inside this part: the front goes
                // now as a share, the rest waits for the next segment.
                let mut front = part.share().ok_or(CutError::NoBuffer { sent: i })?;
                front.trim_back(part.len() - need);
                part.trim_front(need);
                carry = Some(part);
                part = front;
            }
            need -= part.len();
            part_of.push(part).map_err(|_| CutError::Malformed)?;
        }
        let bytes = buf.data_mut().ok_or(CutError::Malformed)?;
        let fields = Fields {
            ident: ident.wrapping_add(i as u16),
            seq: seq.wrapping_add((i * size) as u32),
            last,
        };
        fill_headers(bytes, at, &part_of, checksum_offload, fields);
        emit(Transmit {
            head: buf,
            payload: part_of,
            checksum_offload,
            segment_size: None,
        });
    }
    Ok(count)
}

/// What differs from segment to segment besides the length.
struct Fields {
    /// IPv4 identification.
    ident: u16,
    /// TCP sequence number.
    seq: u32,
    /// The last segment keeps PSH and FIN.
    last: bool,
}

/// Sets one segment's headers in `h` (a copy of the frame's): IPv4 total
/// length for `payload`, `fields`, then the checksums.
fn fill_headers<B: PacketBuf>(
    h: &mut [u8],
    at: Layout,
    payload: &Payload<B>,
    offload: bool,
    fields: Fields,
) {
    let ip_len = (at.len - ETH_LEN + payload.len()) as u16;
    h[ETH_LEN + 2..ETH_LEN + 4].copy_from_slice(&ip_len.to_be_bytes());
    h[ETH_LEN + 4..ETH_LEN + 6].copy_from_slice(&fields.ident.to_be_bytes());
    h[at.l4 + 4..at.l4 + 8].copy_from_slice(&fields.seq.to_be_bytes());
    if !fields.last {
        h[at.l4 + 13] &= !(TCP_FIN | TCP_PSH);
    }
    h[ETH_LEN + 10..ETH_LEN + 12].fill(0);
    h[at.l4 + 16..at.l4 + 18].fill(0);
    let ip = Ipv4Packet::new_unchecked(&h[ETH_LEN..]);
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let tcp_len = at.len - at.l4 + payload.len();
    let tcp_sum = if offload {
        // The device fills both checksums from the pseudo-header sum.
        checksum::fold(checksum::pseudo_header_sum(src, dst, 6, tcp_len as u16))
    } else {
        let ip_sum = checksum::checksum(&h[ETH_LEN..at.l4]);
        h[ETH_LEN + 10..ETH_LEN + 12].copy_from_slice(&ip_sum.to_be_bytes());
        tcp_checksum_parts(src, dst, &h[at.l4..], payload.slices())
    };
    h[at.l4 + 16..at.l4 + 18].copy_from_slice(&tcp_sum.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::buf::{HeapBuf, HeapPool};
    use crate::wire::{
        EtherType, EthernetAddress, EthernetFrame, EthernetRepr, IpProtocol, Ipv4Packet, Ipv4Repr,
        SeqNumber, TcpFlags, TcpPacket, TcpRepr, TcpTimestamp,
    };

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const SEQ: u32 = 0xffff_f000;
    const IDENT: u16 = 0xfffe;

    /// Payload byte `i` of the frame.
    fn byte(i: usize) -> u8 {
        (i * 7 % 251) as u8
    }

    /// A frame of several segments as the engine builds it: headers with
    /// timestamps, `flags`, then payload parts of the lengths given.
    fn frame(
        pool: &mut HeapPool,
        parts: &[usize],
        size: u16,
        flags: TcpFlags,
        offload: bool,
    ) -> Transmit<HeapBuf> {
        let total: usize = parts.iter().sum();
        let tcp = TcpRepr {
            src_port: 1234,
            dst_port: 80,
            flags,
            seq_number: SeqNumber(SEQ),
            ack_number: SeqNumber(77),
            window_len: 512,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_blocks: [None; 4],
            timestamp: Some(TcpTimestamp { tsval: 5, tsecr: 9 }),
            urgent_at: 0,
            payload: &[],
        };
        let hlen = ETH_LEN + 20 + tcp.header_len();
        let mut head = pool.alloc().unwrap();
        let h = head.append(hlen).unwrap();
        EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            ethertype: EtherType::Ipv4,
        }
        .emit(&mut EthernetFrame::new_unchecked(&mut h[..ETH_LEN]));
        Ipv4Repr {
            src_addr: SRC,
            dst_addr: DST,
            protocol: IpProtocol::Tcp,
            payload_len: tcp.header_len() + total,
            ttl: 64,
            dont_frag: true,
            ident: IDENT,
        }
        .emit(
            &mut Ipv4Packet::new_unchecked(&mut h[ETH_LEN..ETH_LEN + 20]),
            !offload,
        );
        tcp.emit_header(&mut h[ETH_LEN + 20..]);
        let mut payload = Payload::new();
        let mut at = 0;
        for &n in parts {
            let bytes: Vec<u8> = (at..at + n).map(byte).collect();
            payload.push(pool.alloc_with(&bytes).unwrap()).unwrap();
            at += n;
        }
        Transmit {
            head,
            payload,
            checksum_offload: offload,
            segment_size: Some(size),
        }
    }

    fn cut_all(
        pool: &mut HeapPool,
        t: Transmit<HeapBuf>,
    ) -> (Result<usize, CutError>, Vec<Vec<u8>>) {
        let mut out = Vec::new();
        let r = cut(t, &mut pool.clone(), |f| {
            assert!(f.segment_size.is_none());
            out.push(f.to_vec());
        });
        (r, out)
    }

    /// Checks segment `i` of a frame cut into `size`-byte segments of a
    /// `total`-byte payload that carried `flags`.
    fn check(f: &[u8], i: usize, size: usize, total: usize, flags: TcpFlags, offload: bool) {
        let last = (i + 1) * size >= total;
        let len = if last { total - i * size } else { size };
        let ip = Ipv4Packet::new_checked(&f[ETH_LEN..]).unwrap();
        assert_eq!(
            ip.ident(),
            IDENT.wrapping_add(i as u16),
            "segment {i}: ident"
        );
        assert_eq!(
            usize::from(ip.total_len()),
            f.len() - ETH_LEN,
            "segment {i}: total length"
        );
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(tcp.seq_number().0, SEQ.wrapping_add((i * size) as u32));
        let mut want = flags;
        if !last {
            want.remove(TcpFlags::PSH | TcpFlags::FIN);
        }
        assert_eq!(tcp.flags(), want, "segment {i}: flags");
        let expected: Vec<u8> = (i * size..i * size + len).map(byte).collect();
        assert_eq!(tcp.payload(), expected.as_slice(), "segment {i}: payload");
        let repr = TcpRepr::parse(&tcp, SRC, DST, !offload).unwrap();
        assert_eq!(repr.timestamp, Some(TcpTimestamp { tsval: 5, tsecr: 9 }));
        if offload {
            assert_eq!(ip.checksum(), 0, "left to the device");
            let pseudo = checksum::pseudo_header_sum(SRC, DST, 6, (f.len() - ETH_LEN - 20) as u16);
            assert_eq!(tcp.checksum(), checksum::fold(pseudo), "pseudo-header sum");
        } else {
            assert!(ip.verify_checksum(), "segment {i}: IPv4 checksum");
            assert!(tcp.verify_checksum(SRC, DST), "segment {i}: TCP checksum");
        }
    }

    #[test]
    fn a_frame_is_cut_into_segments_with_their_own_headers() {
        let mut pool = HeapPool::new(64, 4096, 128);
        // Parts that do not line up with the segments: boundaries fall
        // inside parts, and one part spans a whole segment and more.
        let parts = [1000, 1000, 3000, 500, 1];
        let total: usize = parts.iter().sum();
        let flags = TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN;
        for offload in [false, true] {
            let t = frame(&mut pool, &parts, 1448, flags, offload);
            let (r, out) = cut_all(&mut pool, t);
            assert_eq!(r, Ok(4));
            assert_eq!(out.len(), 4);
            for (i, f) in out.iter().enumerate() {
                check(f, i, 1448, total, flags, offload);
            }
            assert_eq!(pool.available(), 64, "every buffer back");
        }
    }

    #[test]
    fn parts_that_line_up_move_over_without_a_share() {
        let mut pool = HeapPool::new(16, 4096, 128);
        let t = frame(&mut pool, &[1448, 1448, 1448], 1448, TcpFlags::ACK, false);
        let mut parts = Vec::new();
        let r = cut(t, &mut pool.clone(), |f| parts.push(f.payload.parts()));
        assert_eq!(r, Ok(3));
        assert_eq!(parts, [1, 1, 1]);
        // Three payload buffers and three header buffers, no more.
        assert_eq!(pool.available(), 16);
    }

    #[test]
    fn a_frame_of_one_segment_passes_through() {
        let mut pool = HeapPool::new(8, 4096, 128);
        let mut t = frame(&mut pool, &[100], 1448, TcpFlags::ACK, false);
        t.segment_size = None;
        let bytes = t.to_vec();
        let (r, out) = cut_all(&mut pool, t);
        assert_eq!((r, out), (Ok(1), vec![bytes]));
    }

    #[test]
    fn headers_with_payload_or_not_tcp_are_refused_whole() {
        let mut pool = HeapPool::new(8, 4096, 128);
        let mut t = frame(&mut pool, &[3000], 1448, TcpFlags::ACK, false);
        t.head.append(1).unwrap()[0] = 0xaa;
        assert_eq!(cut_all(&mut pool, t), (Err(CutError::Malformed), vec![]));
        let mut t = frame(&mut pool, &[3000], 1448, TcpFlags::ACK, false);
        t.head.data_mut().unwrap()[ETH_LEN + 9] = 17;
        assert_eq!(cut_all(&mut pool, t), (Err(CutError::Malformed), vec![]));
        let t = frame(&mut pool, &[3000], 0, TcpFlags::ACK, false);
        assert_eq!(cut_all(&mut pool, t), (Err(CutError::Malformed), vec![]));
        assert_eq!(pool.available(), 8);
    }

    #[test]
    fn an_empty_pool_sends_the_segments_it_can_and_frees_the_rest() {
        // The frame holds 1 header and 4 payload buffers; one buffer is
        // left for the first segment's headers, none for the second's
        // (the segments are held, as in a transmit queue).
        let mut pool = HeapPool::new(6, 4096, 128);
        let t = frame(&mut pool, &[1448; 4], 1448, TcpFlags::ACK, false);
        let mut held = Vec::new();
        let r = cut(t, &mut pool.clone(), |f| held.push(f));
        assert_eq!(r, Err(CutError::NoBuffer { sent: 1 }));
        assert_eq!(held.len(), 1);
        check(&held[0].to_vec(), 0, 1448, 4 * 1448, TcpFlags::ACK, false);
        drop(held);
        assert_eq!(pool.available(), 6);
    }
}
