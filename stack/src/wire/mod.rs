//! Wire formats: byte-exact views and parsed representations of the
//! protocols the engine speaks (Ethernet II, ARP, IPv4, ICMPv4, TCP).
//!
//! Every protocol follows the same two-layer pattern:
//!
//! * A *packet view* (`EthernetFrame<T>`, `Ipv4Packet<T>`, ...) wraps any
//!   `T: AsRef<[u8]>` and reads fields straight out of the bytes, without
//!   copying. `new_checked` validates the lengths once so that afterwards no
//!   getter can panic; `new_unchecked` skips that and its getters may panic
//!   on short buffers. When `T: AsMut<[u8]>` the view also has setters.
//! * A *representation* (`EthernetRepr`, `Ipv4Repr`, `TcpRepr`, ...) is the
//!   parsed, validated meaning of a header. `parse` turns a view into a
//!   representation (rejecting malformed input with a [`WireError`]) and
//!   `emit` writes a representation back into a view.
//!
//! Nothing in this module allocates on the packet path, uses `unsafe`, or
//! panics on malformed input: hostile bytes from the network are always
//! answered with an `Err`, never with a crash.

use core::fmt;

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod ipv4;
pub mod tcp;

#[cfg(test)]
mod tests;

pub use arp::{ArpOperation, ArpPacket, ArpRepr};
pub use ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
pub use icmpv4::{Icmpv4Packet, Icmpv4Repr};
pub use ipv4::{IpProtocol, Ipv4Cidr, Ipv4Packet, Ipv4Repr};
pub use tcp::{SackBlock, SeqNumber, TcpFlags, TcpOption, TcpPacket, TcpRepr, TcpTimestamp};

/// Why a sequence of bytes could not be accepted as a packet.
///
/// The variants are deliberately coarse: the engine only needs to count
/// and drop bad packets, not to explain them to a peer.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer ends before the header (or the length the header
    /// announces) does.
    Truncated,
    /// A length field is inconsistent with itself or with the protocol
    /// (for example an IPv4 IHL below 5, or a TCP data offset below 5).
    BadLength,
    /// The IP version field is not 4.
    BadVersion,
    /// The checksum does not verify.
    BadChecksum,
    /// A TCP option is malformed (bad length byte, or a known option with
    /// the wrong length).
    BadOption,
    /// Well-formed, but something the engine does not implement or accept
    /// (non-Ethernet/IPv4 ARP, TCP port 0, ...).
    Unsupported,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            WireError::Truncated => "packet truncated",
            WireError::BadLength => "inconsistent length field",
            WireError::BadVersion => "unsupported IP version",
            WireError::BadChecksum => "checksum mismatch",
            WireError::BadOption => "malformed option",
            WireError::Unsupported => "unsupported packet",
        };
        f.write_str(text)
    }
}

impl std::error::Error for WireError {}

/// The result type of every fallible wire operation.
pub type Result<T> = core::result::Result<T, WireError>;

/// The error returned by the `FromStr` impls of [`EthernetAddress`] and
/// [`Ipv4Cidr`] (addresses typed by humans in configuration files, hence
/// the effort to say exactly what is wrong).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseAddressError {
    kind: &'static str,
    input: String,
    reason: &'static str,
}

impl ParseAddressError {
    pub(crate) fn new(kind: &'static str, input: &str, reason: &'static str) -> Self {
        ParseAddressError {
            kind,
            input: input.to_owned(),
            reason,
        }
    }

    /// What was wrong with the input, without the input itself.
    pub fn reason(&self) -> &str {
        self.reason
    }
}

impl fmt::Display for ParseAddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} {:?}: {}", self.kind, self.input, self.reason)
    }
}

impl std::error::Error for ParseAddressError {}

// Big-endian field helpers shared by the protocol modules. They index, so
// they may panic; callers only use them at offsets that `new_checked` has
// proven to be in bounds (or, for views built with `new_unchecked`, on
// buffers the caller promised are long enough).

fn read_u16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

fn write_u16(data: &mut [u8], at: usize, value: u16) {
    data[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

fn read_u32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

fn write_u32(data: &mut [u8], at: usize, value: u32) {
    data[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

fn read_ipv4(data: &[u8], at: usize) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(data[at], data[at + 1], data[at + 2], data[at + 3])
}

fn write_ipv4(data: &mut [u8], at: usize, addr: std::net::Ipv4Addr) {
    data[at..at + 4].copy_from_slice(&addr.octets());
}

/// `data[start..end]`, clamped to the buffer so it can never panic.
///
/// Variable-length regions (payloads, options) are located through length
/// fields that setters can change after `new_checked` ran; clamping keeps
/// the no-panic promise even then.
fn clamped(data: &[u8], start: usize, end: usize) -> &[u8] {
    let end = end.min(data.len());
    let start = start.min(end);
    &data[start..end]
}

/// Mutable twin of [`clamped`].
fn clamped_mut(data: &mut [u8], start: usize, end: usize) -> &mut [u8] {
    let end = end.min(data.len());
    let start = start.min(end);
    &mut data[start..end]
}
