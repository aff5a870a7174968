//! Ethernet II frames (IEEE 802.3 with an EtherType, RFC 894 framing).
//!
//! The frame seen here starts at the destination address and ends with the
//! payload: the preamble and the frame check sequence are handled (and
//! stripped) by the NIC. 802.1Q VLAN tags are not supported; a tagged frame
//! simply shows up with EtherType 0x8100 as [`EtherType::Unknown`].

use core::fmt;
use core::str::FromStr;

use super::{read_u16, write_u16, ParseAddressError, Result, WireError};

/// A 48-bit IEEE MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// The broadcast address ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);

    /// The all-zero address, used e.g. as the unknown target of an ARP
    /// request.
    pub const UNSPECIFIED: EthernetAddress = EthernetAddress([0; 6]);

    /// The six octets, in transmission order.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Whether this is ff:ff:ff:ff:ff:ff.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// Whether the group bit (least significant bit of the first octet) is
    /// set. The broadcast address is a multicast address too.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Whether this is an individual (non-group) address.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Whether the locally-administered bit (second least significant bit
    /// of the first octet) is set, as in the 02:00:00:... addresses
    /// commonly given to virtual interfaces.
    pub fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl FromStr for EthernetAddress {
    type Err = ParseAddressError;

    /// Parses six colon-separated groups of exactly two hex digits, such as
    /// `02:00:00:00:00:01` (either case).
    fn from_str(s: &str) -> core::result::Result<Self, Self::Err> {
        let err = |reason| ParseAddressError::new("Ethernet address", s, reason);
        let mut octets = [0u8; 6];
        let mut groups = s.split(':');
        for octet in octets.iter_mut() {
            let group = groups
                .next()
                .ok_or_else(|| err("expected six ':'-separated octets"))?;
            if group.len() != 2 || !group.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(err("each octet must be exactly two hex digits"));
            }
            *octet = u8::from_str_radix(group, 16)
                .map_err(|_| err("each octet must be exactly two hex digits"))?;
        }
        if groups.next().is_some() {
            return Err(err("expected six ':'-separated octets"));
        }
        Ok(EthernetAddress(octets))
    }
}

/// The EtherType field: which protocol the payload carries.
///
/// Build values with `EtherType::from(u16)` so that known numbers always map
/// to their named variant (`Unknown(0x0800)` would not compare equal to
/// `Ipv4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EtherType {
    /// 0x0800, Internet Protocol version 4.
    Ipv4,
    /// 0x0806, Address Resolution Protocol.
    Arp,
    /// Any other value, kept so it can be counted or reported.
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(value: u16) -> Self {
        match value {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(value: EtherType) -> Self {
        match value {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Unknown(other) => other,
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtherType::Ipv4 => f.write_str("IPv4"),
            EtherType::Arp => f.write_str("ARP"),
            EtherType::Unknown(v) => write!(f, "0x{v:04x}"),
        }
    }
}

/// Length of the Ethernet II header: two addresses and the EtherType.
pub const HEADER_LEN: usize = 14;

mod field {
    use core::ops::Range;
    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: usize = 12;
}

/// A view of an Ethernet II frame over a byte buffer.
///
/// # No-panic contract
///
/// After [`EthernetFrame::new_checked`] succeeds, no getter panics. A view
/// made with [`EthernetFrame::new_unchecked`] over fewer than
/// [`EthernetFrame::HEADER_LEN`] bytes panics on field access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Length of the Ethernet II header (same as the module-level
    /// [`HEADER_LEN`]).
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Wraps `buffer` without checking its length.
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps `buffer`, failing with [`WireError::Truncated`] if it cannot
    /// hold a header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Checks that the buffer holds at least a full header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < Self::HEADER_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The frame length needed for `payload_len` bytes of payload.
    pub const fn buffer_len(payload_len: usize) -> usize {
        Self::HEADER_LEN + payload_len
    }

    /// The destination address.
    pub fn dst_addr(&self) -> EthernetAddress {
        let mut addr = [0u8; 6];
        addr.copy_from_slice(&self.buffer.as_ref()[field::DESTINATION]);
        EthernetAddress(addr)
    }

    /// The source address.
    pub fn src_addr(&self) -> EthernetAddress {
        let mut addr = [0u8; 6];
        addr.copy_from_slice(&self.buffer.as_ref()[field::SOURCE]);
        EthernetAddress(addr)
    }

    /// The EtherType.
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(read_u16(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// Everything after the header. This may include padding the sender
    /// added to reach the 60-byte minimum frame size; the network layer
    /// trims it using its own length field.
    pub fn payload(&self) -> &[u8] {
        super::clamped(self.buffer.as_ref(), Self::HEADER_LEN, usize::MAX)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&addr.0);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&addr.0);
    }

    /// Sets the EtherType.
    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        write_u16(self.buffer.as_mut(), field::ETHERTYPE, ethertype.into());
    }

    /// Mutable access to everything after the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        super::clamped_mut(self.buffer.as_mut(), Self::HEADER_LEN, usize::MAX)
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for EthernetFrame<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The parsed Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    /// Source MAC address.
    pub src_addr: EthernetAddress,
    /// Destination MAC address.
    pub dst_addr: EthernetAddress,
    /// Protocol of the payload.
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// Parses the header of `frame`. Any 14 bytes are a valid header, so
    /// this only fails with [`WireError::Truncated`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &EthernetFrame<&T>) -> Result<EthernetRepr> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// Length of the emitted header.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Same as [`EthernetRepr::header_len`]: the payload is not part of the
    /// representation.
    pub const fn buffer_len(&self) -> usize {
        self.header_len()
    }

    /// Writes the header into `frame`, leaving the payload untouched.
    ///
    /// # Panics
    ///
    /// If the buffer is shorter than [`EthernetRepr::header_len`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut EthernetFrame<T>) {
        frame.set_dst_addr(self.dst_addr);
        frame.set_src_addr(self.src_addr);
        frame.set_ethertype(self.ethertype);
    }
}

impl fmt::Display for EthernetRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Ethernet {} > {} type {}",
            self.src_addr, self.dst_addr, self.ethertype
        )
    }
}
