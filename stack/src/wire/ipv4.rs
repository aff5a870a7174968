//! IPv4 headers (RFC 791) and address prefixes.
//!
//! The engine neither forwards nor reassembles: it only needs to validate
//! incoming headers, find the payload, and write plain 20-byte headers
//! without options. Fragments are parsed like any packet; the engine checks
//! [`Ipv4Packet::is_fragment`] itself and drops (and counts) them.

use core::fmt;
use core::str::FromStr;
use std::net::Ipv4Addr;

use super::checksum;
use super::{read_ipv4, read_u16, write_ipv4, write_u16, ParseAddressError, Result, WireError};

/// The IPv4 "Protocol" field (IANA protocol numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    /// 1, ICMP (RFC 792).
    Icmp,
    /// 6, TCP (RFC 9293).
    Tcp,
    /// 17, UDP (RFC 768).
    Udp,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(value: u8) -> Self {
        match value {
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(value: IpProtocol) -> Self {
        match value {
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Unknown(other) => other,
        }
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpProtocol::Icmp => f.write_str("ICMP"),
            IpProtocol::Tcp => f.write_str("TCP"),
            IpProtocol::Udp => f.write_str("UDP"),
            IpProtocol::Unknown(p) => write!(f, "proto {p}"),
        }
    }
}

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;

mod field {
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const TOTAL_LEN: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC_ADDR: usize = 12;
    pub const DST_ADDR: usize = 16;
}

/// RFC 791 flags, in the top three bits of the 16-bit flags/offset word.
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet over a byte buffer.
///
/// The buffer may be longer than the packet (Ethernet pads frames to 60
/// bytes); [`Ipv4Packet::payload`] honours the Total Length field.
///
/// # No-panic contract
///
/// After [`Ipv4Packet::new_checked`] succeeds, no getter panics. Setters
/// that change length fields cannot break that either: variable-length
/// regions are clamped to the buffer. A view made with
/// [`Ipv4Packet::new_unchecked`] over fewer than 20 bytes panics on field
/// access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` without any checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer` after [`Ipv4Packet::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Validates the header's shape:
    ///
    /// * fewer than 20 bytes: [`WireError::Truncated`];
    /// * version not 4: [`WireError::BadVersion`];
    /// * IHL below 5 (RFC 791: "the minimum value for a correct header is
    ///   5"): [`WireError::BadLength`];
    /// * header (IHL × 4) longer than the buffer: [`WireError::Truncated`];
    /// * Total Length shorter than the header: [`WireError::BadLength`];
    /// * Total Length longer than the buffer: [`WireError::Truncated`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < Ipv4Repr::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.version() != 4 {
            return Err(WireError::BadVersion);
        }
        let header_len = self.header_end();
        if header_len < Ipv4Repr::HEADER_LEN {
            return Err(WireError::BadLength);
        }
        if header_len > len {
            return Err(WireError::Truncated);
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len {
            return Err(WireError::BadLength);
        }
        if total_len > len {
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

    /// The Version field (4 for every packet accepted by `new_checked`).
    pub fn version(&self) -> u8 {
        self.data()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4, at most 60), options included.
    pub fn header_len(&self) -> u8 {
        (self.data()[field::VER_IHL] & 0x0f) * 4
    }

    /// [`Ipv4Packet::header_len`] as an index.
    fn header_end(&self) -> usize {
        usize::from(self.header_len())
    }

    /// The whole DSCP/ECN byte (formerly Type of Service).
    pub fn dscp_ecn(&self) -> u8 {
        self.data()[field::DSCP_ECN]
    }

    /// Differentiated Services Code Point (RFC 2474), the top six bits.
    pub fn dscp(&self) -> u8 {
        self.dscp_ecn() >> 2
    }

    /// Explicit Congestion Notification (RFC 3168), the bottom two bits.
    pub fn ecn(&self) -> u8 {
        self.dscp_ecn() & 0x03
    }

    /// Total Length: header plus payload, in bytes.
    pub fn total_len(&self) -> u16 {
        read_u16(self.data(), field::TOTAL_LEN)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        read_u16(self.data(), field::IDENT)
    }

    fn flags_frag(&self) -> u16 {
        read_u16(self.data(), field::FLAGS_FRAG)
    }

    /// The Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.flags_frag() & FLAG_DF != 0
    }

    /// The More Fragments flag.
    pub fn more_frags(&self) -> bool {
        self.flags_frag() & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (self.flags_frag() & FRAG_OFFSET_MASK) << 3
    }

    /// Whether this packet is a fragment of a larger datagram: either More
    /// Fragments is set or the offset is non-zero (RFC 791 §3.2,
    /// "Fragmentation and Reassembly").
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to Live.
    pub fn ttl(&self) -> u8 {
        self.data()[field::TTL]
    }

    /// Same as [`Ipv4Packet::ttl`], under its IPv6 name.
    pub fn hop_limit(&self) -> u8 {
        self.ttl()
    }

    /// The protocol of the payload.
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol::from(self.data()[field::PROTOCOL])
    }

    /// The Header Checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.data(), field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        read_ipv4(self.data(), field::SRC_ADDR)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        read_ipv4(self.data(), field::DST_ADDR)
    }

    /// The options, i.e. header bytes 20..IHL×4 (empty for most packets).
    pub fn options(&self) -> &[u8] {
        super::clamped(self.data(), Ipv4Repr::HEADER_LEN, self.header_end())
    }

    /// Whether the header checksum verifies. RFC 791: the checksum covers
    /// the header only, so summing the header including the checksum field
    /// must give all ones.
    pub fn verify_checksum(&self) -> bool {
        let header = super::clamped(self.data(), 0, self.header_end());
        checksum::fold(checksum::sum(header, 0)) == 0xffff
    }

    /// The payload: bytes `header_len..total_len`. Anything after Total
    /// Length (link-layer padding) is not part of the packet.
    pub fn payload(&self) -> &[u8] {
        let total = usize::from(self.total_len());
        super::clamped(self.data(), self.header_end(), total)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn data_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets the Version field.
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.data_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (version << 4);
    }

    /// Sets IHL from a length in bytes (rounded down to a multiple of 4 and
    /// capped at 60, the largest the field can express).
    pub fn set_header_len(&mut self, len: u8) {
        let ihl = len.min(60) / 4;
        let b = &mut self.data_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ihl;
    }

    /// Sets the DSCP/ECN byte.
    pub fn set_dscp_ecn(&mut self, value: u8) {
        self.data_mut()[field::DSCP_ECN] = value;
    }

    /// Sets Total Length.
    pub fn set_total_len(&mut self, value: u16) {
        write_u16(self.data_mut(), field::TOTAL_LEN, value);
    }

    /// Sets Identification.
    pub fn set_ident(&mut self, value: u16) {
        write_u16(self.data_mut(), field::IDENT, value);
    }

    fn set_flags_frag(&mut self, value: u16) {
        write_u16(self.data_mut(), field::FLAGS_FRAG, value);
    }

    /// Clears all flags (including the reserved bit) and the offset.
    pub fn clear_flags(&mut self) {
        self.set_flags_frag(0);
    }

    /// Sets or clears Don't Fragment.
    pub fn set_dont_frag(&mut self, value: bool) {
        let word = self.flags_frag() & !FLAG_DF;
        self.set_flags_frag(word | if value { FLAG_DF } else { 0 });
    }

    /// Sets or clears More Fragments.
    pub fn set_more_frags(&mut self, value: bool) {
        let word = self.flags_frag() & !FLAG_MF;
        self.set_flags_frag(word | if value { FLAG_MF } else { 0 });
    }

    /// Sets the fragment offset from a byte offset (rounded down to a
    /// multiple of 8).
    pub fn set_frag_offset(&mut self, offset: u16) {
        let word = self.flags_frag() & !FRAG_OFFSET_MASK;
        self.set_flags_frag(word | (offset >> 3));
    }

    /// Sets Time to Live.
    pub fn set_ttl(&mut self, value: u8) {
        self.data_mut()[field::TTL] = value;
    }

    /// Same as [`Ipv4Packet::set_ttl`].
    pub fn set_hop_limit(&mut self, value: u8) {
        self.set_ttl(value);
    }

    /// Sets the protocol.
    pub fn set_protocol(&mut self, value: IpProtocol) {
        self.data_mut()[field::PROTOCOL] = value.into();
    }

    /// Sets the Header Checksum field verbatim.
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.data_mut(), field::CHECKSUM, value);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        write_ipv4(self.data_mut(), field::SRC_ADDR, addr);
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        write_ipv4(self.data_mut(), field::DST_ADDR, addr);
    }

    /// Computes the header checksum and stores it (RFC 791: "For purposes
    /// of computing the checksum, the value of the checksum field is
    /// zero").
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let header_len = self.header_end();
        let value = checksum::checksum(super::clamped(self.data(), 0, header_len));
        self.set_checksum(value);
    }

    /// Mutable option bytes, 20..IHL×4.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_end();
        super::clamped_mut(self.data_mut(), Ipv4Repr::HEADER_LEN, header_len)
    }

    /// Mutable payload, bytes `header_len..total_len`.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_end(), usize::from(self.total_len()));
        super::clamped_mut(self.data_mut(), start, end)
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Ipv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A parsed IPv4 header, as far as the engine cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Protocol of the payload.
    pub protocol: IpProtocol,
    /// Payload length in bytes (Total Length minus header length).
    pub payload_len: usize,
    /// Time to Live.
    pub ttl: u8,
    /// The Don't Fragment flag.
    pub dont_frag: bool,
    /// Identification.
    pub ident: u16,
}

impl Ipv4Repr {
    /// Length of a header without options, which is all `emit` writes
    /// (same as the module-level [`HEADER_LEN`]).
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Parses `packet` (re-running [`Ipv4Packet::check_len`], so views
    /// built with `new_unchecked` are safe too).
    ///
    /// When `verify_checksum` is true a wrong header checksum yields
    /// [`WireError::BadChecksum`]; pass false when the NIC has already
    /// verified it. IP options are skipped, not rejected (RFC 1122
    /// §3.2.1.8: a host "MUST ... silently ignore" unknown options).
    /// Fragments are NOT rejected here; see [`Ipv4Packet::is_fragment`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Ipv4Packet<&T>,
        verify_checksum: bool,
    ) -> Result<Ipv4Repr> {
        packet.check_len()?;
        if verify_checksum && !packet.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        Ok(Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: usize::from(packet.total_len()).saturating_sub(packet.header_end()),
            ttl: packet.ttl(),
            dont_frag: packet.dont_frag(),
            ident: packet.ident(),
        })
    }

    /// Always [`Ipv4Repr::HEADER_LEN`]: `emit` never writes options.
    pub const fn header_len(&self) -> usize {
        Self::HEADER_LEN
    }

    /// Header plus payload.
    pub const fn buffer_len(&self) -> usize {
        Self::HEADER_LEN + self.payload_len
    }

    /// Writes a 20-byte header (no options, DSCP/ECN zero, not a
    /// fragment) into `packet`; the payload is left untouched.
    ///
    /// Total Length is `20 + payload_len`, saturated at 65535 (callers must
    /// keep `payload_len` ≤ 65515; larger values cannot be expressed). When
    /// `fill_checksum` is false the checksum field is zeroed, which is what
    /// NICs with IPv4 checksum offload expect.
    ///
    /// # Panics
    ///
    /// If the buffer is shorter than 20 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Ipv4Packet<T>,
        fill_checksum: bool,
    ) {
        packet.set_version(4);
        packet.set_header_len(Self::HEADER_LEN as u8);
        packet.set_dscp_ecn(0);
        let total = u16::try_from(self.buffer_len()).unwrap_or(u16::MAX);
        packet.set_total_len(total);
        packet.set_ident(self.ident);
        packet.clear_flags();
        packet.set_dont_frag(self.dont_frag);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        if fill_checksum {
            packet.fill_checksum();
        } else {
            packet.set_checksum(0);
        }
    }
}

impl fmt::Display for Ipv4Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPv4 {} > {} {} len {} ttl {}",
            self.src_addr, self.dst_addr, self.protocol, self.payload_len, self.ttl
        )
    }
}

/// An IPv4 address with a prefix length, e.g. `10.99.0.1/24`: an
/// interface address together with the subnet it is directly attached to.
///
/// The fields are public for convenience; [`Ipv4Cidr::new`] is the
/// validating constructor. Methods treat a `prefix_len` above 32 as 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    /// The address (host bits may be set: this is an interface address,
    /// not necessarily a network address).
    pub address: Ipv4Addr,
    /// Number of leading network bits, 0..=32.
    pub prefix_len: u8,
}

impl Ipv4Cidr {
    /// Builds a prefix, failing with [`WireError::BadLength`] if
    /// `prefix_len` exceeds 32.
    pub fn new(address: Ipv4Addr, prefix_len: u8) -> Result<Ipv4Cidr> {
        if prefix_len > 32 {
            return Err(WireError::BadLength);
        }
        Ok(Ipv4Cidr {
            address,
            prefix_len,
        })
    }

    fn mask_bits(&self) -> u32 {
        let host_bits = 32 - u32::from(self.prefix_len.min(32));
        u32::MAX.checked_shl(host_bits).unwrap_or(0)
    }

    /// The subnet mask, e.g. 255.255.255.0 for /24.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask_bits())
    }

    /// The network address: `address` with the host bits cleared.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) & self.mask_bits())
    }

    /// The directed broadcast address (all host bits set), or `None` for
    /// /31 and /32, which have no broadcast address (RFC 3021 §2.2: on a
    /// /31 both addresses are hosts).
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        if self.prefix_len >= 31 {
            return None;
        }
        Some(Ipv4Addr::from(u32::from(self.address) | !self.mask_bits()))
    }

    /// Whether `addr` lies in this prefix.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        let mask = self.mask_bits();
        u32::from(addr) & mask == u32::from(self.address) & mask
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = ParseAddressError;

    /// Parses `a.b.c.d/len` with `len` in 0..=32. The prefix length is
    /// mandatory: guessing one would silently misconfigure routing.
    fn from_str(s: &str) -> core::result::Result<Self, Self::Err> {
        let err = |reason| ParseAddressError::new("IPv4 CIDR", s, reason);
        let (addr, len) = s
            .split_once('/')
            .ok_or_else(|| err("missing '/prefix_len' (expected e.g. 10.0.0.1/24)"))?;
        let address = addr
            .parse::<Ipv4Addr>()
            .map_err(|_| err("address part is not a dotted-quad IPv4 address"))?;
        if len.is_empty() || !len.bytes().all(|c| c.is_ascii_digit()) {
            return Err(err("prefix length must be a decimal number 0..=32"));
        }
        let prefix_len = len
            .parse::<u8>()
            .ok()
            .filter(|&p| p <= 32)
            .ok_or_else(|| err("prefix length must be at most 32"))?;
        Ok(Ipv4Cidr {
            address,
            prefix_len,
        })
    }
}
