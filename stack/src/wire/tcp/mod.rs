//! TCP segments (RFC 9293) with the options the engine uses: MSS, window
//! scaling and timestamps (RFC 7323), and selective acknowledgments
//! (RFC 2018).

use core::fmt;
use std::net::Ipv4Addr;

use super::checksum;
use super::{read_u16, read_u32, write_u16, write_u32, Result, WireError};

mod flags;
mod options;
mod seq;

pub use flags::TcpFlags;
pub use options::{SackBlock, TcpOption, TcpTimestamp};
pub use seq::SeqNumber;

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = 20;

/// Largest possible TCP header: the 4-bit data offset counts up to 15
/// 32-bit words, leaving 40 bytes for options.
pub const MAX_HEADER_LEN: usize = 60;

/// The IP protocol number of TCP, for the pseudo-header.
const PROTOCOL_TCP: u8 = 6;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ_NUM: usize = 4;
    pub const ACK_NUM: usize = 8;
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
}

/// A view of a TCP segment over a byte buffer.
///
/// The buffer must be exactly the segment (the IPv4 payload): TCP has no
/// length field of its own, so the payload is everything after the
/// header, and the checksum's pseudo-header uses the buffer length.
///
/// # No-panic contract
///
/// After [`TcpPacket::new_checked`] succeeds, no getter panics. Setters
/// that change the data offset cannot break that either: options and
/// payload are clamped to the buffer. A view made with
/// [`TcpPacket::new_unchecked`] over fewer than 20 bytes panics on field
/// access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Length of a TCP header without options (same as the module-level
    /// [`HEADER_LEN`]).
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Wraps `buffer` without any checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps `buffer` after [`TcpPacket::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Validates the header's shape: fewer than 20 bytes is
    /// [`WireError::Truncated`]; a data offset below 5 (RFC 9293: "the TCP
    /// header (even one including options) is an integer multiple of 32
    /// bits long", at least 5 words) is [`WireError::BadLength`]; a data
    /// offset past the end of the buffer is [`WireError::Truncated`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let header_len = self.header_end();
        if header_len < HEADER_LEN {
            return Err(WireError::BadLength);
        }
        if header_len > len {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn data(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        read_u16(self.data(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        read_u16(self.data(), field::DST_PORT)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(read_u32(self.data(), field::SEQ_NUM))
    }

    /// Acknowledgment number (meaningful only when ACK is set).
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(read_u32(self.data(), field::ACK_NUM))
    }

    /// Header length in bytes (data offset × 4, at most 60), options
    /// included.
    pub fn header_len(&self) -> u8 {
        (self.data()[field::DATA_OFFSET] >> 4) * 4
    }

    /// [`TcpPacket::header_len`] as an index.
    fn header_end(&self) -> usize {
        usize::from(self.header_len())
    }

    /// The eight control bits of byte 13 (the reserved bits and the
    /// historic NS bit in byte 12 are not included).
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.data()[field::FLAGS])
    }

    /// The raw (unscaled) window field.
    pub fn window_len(&self) -> u16 {
        read_u16(self.data(), field::WINDOW)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.data(), field::CHECKSUM)
    }

    /// The urgent pointer field.
    pub fn urgent_at(&self) -> u16 {
        read_u16(self.data(), field::URGENT)
    }

    /// The option bytes, 20..header_len.
    pub fn options(&self) -> &[u8] {
        super::clamped(self.data(), HEADER_LEN, self.header_end())
    }

    /// Everything after the header.
    pub fn payload(&self) -> &[u8] {
        super::clamped(self.data(), self.header_end(), usize::MAX)
    }

    /// Sequence space the segment occupies: payload plus one for each of
    /// SYN and FIN (RFC 9293 §3.4, SEG.LEN).
    pub fn segment_len(&self) -> usize {
        segment_len(self.payload().len(), self.flags())
    }

    /// Whether the checksum verifies, given the addresses from the IPv4
    /// header. Segments longer than 65535 bytes cannot be carried by IPv4
    /// and never verify.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let data = self.data();
        let Ok(len) = u16::try_from(data.len()) else {
            return false;
        };
        let pseudo = checksum::pseudo_header_sum(src, dst, PROTOCOL_TCP, len);
        checksum::fold(checksum::sum(data, pseudo)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn data_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets the source port.
    pub fn set_src_port(&mut self, value: u16) {
        write_u16(self.data_mut(), field::SRC_PORT, value);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        write_u16(self.data_mut(), field::DST_PORT, value);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, value: SeqNumber) {
        write_u32(self.data_mut(), field::SEQ_NUM, value.0);
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, value: SeqNumber) {
        write_u32(self.data_mut(), field::ACK_NUM, value.0);
    }

    /// Sets the data offset from a length in bytes (rounded down to a
    /// multiple of 4, capped at 60) and clears the reserved bits and NS.
    pub fn set_header_len(&mut self, len: u8) {
        let words = len.min(MAX_HEADER_LEN as u8) / 4;
        self.data_mut()[field::DATA_OFFSET] = words << 4;
    }

    /// Sets the control bits.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.data_mut()[field::FLAGS] = flags.0;
    }

    /// Sets the raw window field.
    pub fn set_window_len(&mut self, value: u16) {
        write_u16(self.data_mut(), field::WINDOW, value);
    }

    /// Sets the checksum field verbatim.
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.data_mut(), field::CHECKSUM, value);
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_at(&mut self, value: u16) {
        write_u16(self.data_mut(), field::URGENT, value);
    }

    /// Mutable option bytes, 20..header_len.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_end();
        super::clamped_mut(self.data_mut(), HEADER_LEN, header_len)
    }

    /// Mutable payload, everything after the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_end();
        super::clamped_mut(self.data_mut(), header_len, usize::MAX)
    }

    /// Computes the checksum over the whole buffer plus the pseudo-header
    /// and stores it.
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let value = tcp_checksum(src, dst, self.data(), &[]);
        self.set_checksum(value);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for TcpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

fn segment_len(payload_len: usize, flags: TcpFlags) -> usize {
    payload_len
        + usize::from(flags.contains(TcpFlags::SYN))
        + usize::from(flags.contains(TcpFlags::FIN))
}

/// The value to store in the checksum field of a segment made of `header`
/// (with its checksum field zero) followed by `payload`, which may live in
/// separate buffers.
///
/// RFC 9293 §3.1: the checksum is "the 16-bit ones' complement of the
/// ones' complement sum of all 16-bit words in the header and text",
/// prefixed by the pseudo-header. The segment length in the pseudo-header
/// is `header.len() + payload.len()` (saturated at 65535, which IPv4
/// cannot carry anyway).
pub fn tcp_checksum(src: Ipv4Addr, dst: Ipv4Addr, header: &[u8], payload: &[u8]) -> u16 {
    tcp_checksum_parts(src, dst, header, [payload])
}

/// [`tcp_checksum`] of a segment whose payload is several runs of bytes
/// in order (the parts of a frame's payload). A part that starts in the
/// middle of a 16-bit word (every part after one of odd length) has its
/// sum byte-swapped (RFC 1071 §2(B)), so any split gives the same answer.
pub fn tcp_checksum_parts<'a>(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    header: &[u8],
    payload: impl IntoIterator<Item = &'a [u8]>,
) -> u16 {
    let mut total = checksum::sum(header, 0);
    let mut len = header.len();
    for part in payload {
        let s = checksum::sum(part, 0);
        total += if len % 2 == 0 {
            s
        } else {
            u64::from(checksum::fold(s).swap_bytes())
        };
        len += part.len();
    }
    let len = u16::try_from(len).unwrap_or(u16::MAX);
    !checksum::fold(total + checksum::pseudo_header_sum(src, dst, PROTOCOL_TCP, len))
}

/// A parsed TCP segment: header fields, the options the engine uses, and
/// the payload borrowed from the packet.
///
/// `Default` gives an all-zero segment with no flags, no options and no
/// payload, handy with struct-update syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpRepr<'a> {
    /// Source port (never 0 after `parse`).
    pub src_port: u16,
    /// Destination port (never 0 after `parse`).
    pub dst_port: u16,
    /// Control bits.
    pub flags: TcpFlags,
    /// Sequence number of the first byte (or of the SYN).
    pub seq_number: SeqNumber,
    /// Acknowledgment number; meaningful only if `flags` has ACK. `parse`
    /// stores 0 otherwise and `emit` writes 0 otherwise.
    pub ack_number: SeqNumber,
    /// Raw (unscaled) window field.
    pub window_len: u16,
    /// Maximum Segment Size option.
    pub max_seg_size: Option<u16>,
    /// Window Scale option's shift count (`parse` clamps it to 14).
    pub window_scale: Option<u8>,
    /// Whether the SACK-permitted option is present.
    pub sack_permitted: bool,
    /// SACK blocks, first-reported first; unused slots `None`.
    pub sack_blocks: [Option<SackBlock>; 4],
    /// Timestamps option.
    pub timestamp: Option<TcpTimestamp>,
    /// Urgent pointer: the offset from `seq_number` of the octet after
    /// the urgent data (RFC 9293 3.8.5); meaningful only if `flags` has
    /// URG. `parse` stores 0 otherwise and `emit` writes 0 otherwise.
    pub urgent_at: u16,
    /// The segment's data.
    pub payload: &'a [u8],
}

/// RFC 7323 §2.3: "If a Window Scale shift.count greater than 14 is
/// received, the TCP SHOULD log the error but MUST use 14 instead of the
/// specified value."
const MAX_WINDOW_SCALE: u8 = 14;

impl<'a> TcpRepr<'a> {
    /// Largest header `emit_header` can produce.
    pub const MAX_HEADER_LEN: usize = MAX_HEADER_LEN;

    /// Parses `packet`, which must span exactly the segment (the IPv4
    /// payload); `src` and `dst` are the IPv4 addresses for the checksum.
    ///
    /// Errors: shape problems from [`TcpPacket::check_len`]; a wrong
    /// checksum (when `verify_checksum`) is [`WireError::BadChecksum`];
    /// port 0 on either side is [`WireError::Unsupported`] (RFC 6335 §6
    /// reserves it); a malformed option is [`WireError::BadOption`].
    ///
    /// Options are recorded as present whatever the flags: RFC 9293 and
    /// RFC 7323 say MSS, window scale and SACK-permitted only count on SYN
    /// segments, and deciding that is the engine's job. If an option occurs
    /// twice the last one wins; unknown options are skipped.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &TcpPacket<&'a T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        verify_checksum: bool,
    ) -> Result<TcpRepr<'a>> {
        packet.check_len()?;
        if verify_checksum && !packet.verify_checksum(src, dst) {
            return Err(WireError::BadChecksum);
        }
        if packet.src_port() == 0 || packet.dst_port() == 0 {
            return Err(WireError::Unsupported);
        }
        let flags = packet.flags();
        // Borrow the payload from the underlying buffer (lifetime 'a), not
        // from the view, so the repr can outlive `packet`.
        let bytes: &'a [u8] = T::as_ref(packet.buffer);
        let mut repr = TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            flags,
            seq_number: packet.seq_number(),
            ack_number: if flags.contains(TcpFlags::ACK) {
                packet.ack_number()
            } else {
                SeqNumber(0)
            },
            window_len: packet.window_len(),
            urgent_at: if flags.contains(TcpFlags::URG) {
                packet.urgent_at()
            } else {
                0
            },
            payload: super::clamped(bytes, packet.header_end(), usize::MAX),
            ..TcpRepr::default()
        };
        let mut options = packet.options();
        while !options.is_empty() {
            let (rest, option) = TcpOption::parse(options).map_err(|_| WireError::BadOption)?;
            repr.apply_option(option);
            options = rest;
        }
        Ok(repr)
    }

    fn apply_option(&mut self, option: TcpOption<'_>) {
        match option {
            TcpOption::MaxSegmentSize(mss) => self.max_seg_size = Some(mss),
            TcpOption::WindowScale(shift) => {
                self.window_scale = Some(shift.min(MAX_WINDOW_SCALE));
            }
            TcpOption::SackPermitted => self.sack_permitted = true,
            TcpOption::Sack { blocks } => self.sack_blocks = blocks,
            TcpOption::Timestamp(ts) => self.timestamp = Some(ts),
            TcpOption::EndOfList | TcpOption::NoOperation | TcpOption::Unknown { .. } => {}
        }
    }

    /// Sequence space consumed: payload plus one each for SYN and FIN.
    pub fn segment_len(&self) -> usize {
        segment_len(self.payload.len(), self.flags)
    }

    /// Bytes of (4-byte aligned) options written before the SACK option.
    fn fixed_options_len(&self) -> usize {
        let mss = if self.max_seg_size.is_some() { 4 } else { 0 };
        let ws = if self.window_scale.is_some() { 4 } else { 0 };
        // SACK-permitted + timestamps pack into 12 bytes together; alone,
        // timestamps take NOP NOP + 10 and SACK-permitted NOP NOP + 2.
        let sp_ts = if self.timestamp.is_some() {
            12
        } else if self.sack_permitted {
            4
        } else {
            0
        };
        mss + ws + sp_ts
    }

    /// How many of `sack_blocks` `emit_header` will actually write: the
    /// `Some` entries in order, as many as fit in the 40 bytes of option
    /// space after the other options (at most 3 alongside timestamps,
    /// RFC 2018 §3). The engine should put the most important block
    /// first (RFC 2018 §4: the one containing the latest segment).
    pub fn emitted_sack_blocks(&self) -> usize {
        let wanted = self.sack_blocks.iter().flatten().count();
        let space = (MAX_HEADER_LEN - HEADER_LEN).saturating_sub(self.fixed_options_len() + 4);
        wanted.min(space / 8)
    }

    /// Header length including options: 20 plus the options padded to a
    /// multiple of 4; at most 60.
    pub fn header_len(&self) -> usize {
        let sack = match self.emitted_sack_blocks() {
            0 => 0,
            n => 4 + 8 * n,
        };
        HEADER_LEN + self.fixed_options_len() + sack
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Writes the header and options into `buf[..self.header_len()]` with
    /// a zero checksum field; the payload is not written (it may live in
    /// another buffer; see [`tcp_checksum`]).
    ///
    /// Options are laid out like Linux does, every option 4-byte aligned:
    /// MSS; NOP + window scale; SACK-permitted + timestamps when both are
    /// present, otherwise NOP NOP + SACK-permitted and/or NOP NOP +
    /// timestamps; NOP NOP + SACK blocks. SACK blocks that do not fit are
    /// dropped from the end (see [`TcpRepr::emitted_sack_blocks`]).
    ///
    /// # Panics
    ///
    /// If `buf` is shorter than [`TcpRepr::header_len`].
    pub fn emit_header(&self, buf: &mut [u8]) {
        let header_len = self.header_len();
        let mut packet = TcpPacket::new_unchecked(&mut buf[..header_len]);
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq_number);
        let ack_number = if self.flags.contains(TcpFlags::ACK) {
            self.ack_number
        } else {
            SeqNumber(0)
        };
        packet.set_ack_number(ack_number);
        // header_len() is at most 60 by construction.
        packet.set_header_len(header_len as u8);
        packet.set_flags(self.flags);
        packet.set_window_len(self.window_len);
        packet.set_checksum(0);
        packet.set_urgent_at(if self.flags.contains(TcpFlags::URG) {
            self.urgent_at
        } else {
            0
        });
        let written = self.emit_options(packet.options_mut());
        debug_assert_eq!(HEADER_LEN + written, header_len);
    }

    /// Writes the options (see [`TcpRepr::emit_header`]) and returns their
    /// length.
    fn emit_options(&self, buf: &mut [u8]) -> usize {
        let mut at = 0;
        let mut put = |option: TcpOption<'_>| {
            at += option.emit(&mut buf[at..]);
        };
        if let Some(mss) = self.max_seg_size {
            put(TcpOption::MaxSegmentSize(mss));
        }
        if let Some(shift) = self.window_scale {
            put(TcpOption::NoOperation);
            put(TcpOption::WindowScale(shift));
        }
        match (self.sack_permitted, self.timestamp) {
            (true, Some(ts)) => {
                put(TcpOption::SackPermitted);
                put(TcpOption::Timestamp(ts));
            }
            (sack_permitted, ts) => {
                if sack_permitted {
                    put(TcpOption::NoOperation);
                    put(TcpOption::NoOperation);
                    put(TcpOption::SackPermitted);
                }
                if let Some(ts) = ts {
                    put(TcpOption::NoOperation);
                    put(TcpOption::NoOperation);
                    put(TcpOption::Timestamp(ts));
                }
            }
        }
        let count = self.emitted_sack_blocks();
        if count > 0 {
            let mut blocks = [None; 4];
            for (slot, block) in blocks.iter_mut().zip(self.sack_blocks.iter().flatten()) {
                *slot = Some(*block);
            }
            blocks[count..].fill(None);
            put(TcpOption::NoOperation);
            put(TcpOption::NoOperation);
            put(TcpOption::Sack { blocks });
        }
        at
    }

    /// Writes the whole segment into `packet`: header, options, a copy of
    /// the payload, and the checksum (or zero when `fill_checksum` is
    /// false, for checksum offload). The buffer should be exactly
    /// [`TcpRepr::buffer_len`] bytes, since the checksum covers all of it.
    ///
    /// # Panics
    ///
    /// If the buffer is shorter than [`TcpRepr::buffer_len`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut TcpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        fill_checksum: bool,
    ) {
        let header_len = self.header_len();
        let data = packet.data_mut();
        self.emit_header(data);
        data[header_len..header_len + self.payload.len()].copy_from_slice(self.payload);
        if fill_checksum {
            packet.fill_checksum(src, dst);
        }
    }

    /// Same as the free function [`tcp_checksum`].
    pub fn tcp_checksum(src: Ipv4Addr, dst: Ipv4Addr, header: &[u8], payload: &[u8]) -> u16 {
        tcp_checksum(src, dst, header, payload)
    }
}

impl fmt::Display for TcpRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TCP {} > {} [{}] seq {}",
            self.src_port, self.dst_port, self.flags, self.seq_number
        )?;
        if self.flags.contains(TcpFlags::ACK) {
            write!(f, " ack {}", self.ack_number)?;
        }
        write!(f, " win {} len {}", self.window_len, self.payload.len())?;
        if let Some(mss) = self.max_seg_size {
            write!(f, " mss {mss}")?;
        }
        if let Some(shift) = self.window_scale {
            write!(f, " wscale {shift}")?;
        }
        if self.sack_permitted {
            f.write_str(" sackOK")?;
        }
        if let Some(ts) = self.timestamp {
            write!(f, " TS val {} ecr {}", ts.tsval, ts.tsecr)?;
        }
        for block in self.sack_blocks.iter().flatten() {
            write!(f, " sack {{{}:{}}}", block.left, block.right)?;
        }
        Ok(())
    }
}
