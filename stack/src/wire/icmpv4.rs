//! ICMP for IPv4 (RFC 792), as far as a host needs it: answering echo
//! requests and receiving the error messages that abort or tune TCP
//! connections (Destination Unreachable, Time Exceeded).
//!
//! Every ICMP message starts with an 8-byte header: type, code, checksum,
//! and four "rest of header" bytes whose meaning depends on the type. The
//! checksum covers the whole ICMP message, so views must be given exactly
//! the IPv4 payload.

use core::fmt;

use super::checksum;
use super::{read_u16, read_u32, write_u16, write_u32, Result, WireError};

/// Type 0, Echo Reply.
pub const TYPE_ECHO_REPLY: u8 = 0;
/// Type 3, Destination Unreachable.
pub const TYPE_DST_UNREACHABLE: u8 = 3;
/// Type 8, Echo Request.
pub const TYPE_ECHO_REQUEST: u8 = 8;
/// Type 11, Time Exceeded.
pub const TYPE_TIME_EXCEEDED: u8 = 11;

/// Destination Unreachable code 2, protocol unreachable.
pub const CODE_PROTOCOL_UNREACHABLE: u8 = 2;
/// Destination Unreachable code 3, port unreachable.
pub const CODE_PORT_UNREACHABLE: u8 = 3;
/// Destination Unreachable code 4, "fragmentation needed and DF set"; the
/// next-hop MTU is in the rest of the header (RFC 1191 §4).
pub const CODE_FRAG_NEEDED: u8 = 4;

/// Length of the common ICMP header.
pub const HEADER_LEN: usize = 8;

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const REST: usize = 4;
    pub const ECHO_IDENT: usize = 4;
    pub const ECHO_SEQ_NO: usize = 6;
    pub const NEXT_HOP_MTU: usize = 6;
}

/// A view of an ICMPv4 message over a byte buffer (the whole IPv4 payload).
///
/// # No-panic contract
///
/// After [`Icmpv4Packet::new_checked`] succeeds, the buffer holds the
/// 8-byte header and no getter panics. A view made with
/// [`Icmpv4Packet::new_unchecked`] over a shorter buffer panics on field
/// access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Length of the common ICMP header (same as the module-level
    /// [`HEADER_LEN`]).
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Wraps `buffer` without any checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }

    /// Wraps `buffer`, failing with [`WireError::Truncated`] if it is
    /// shorter than the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds the 8-byte header.
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

    /// The Type field.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// The Code field.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// The Checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The four type-specific bytes after the checksum, as one word.
    pub fn rest_of_header(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::REST)
    }

    /// Echo messages: the Identifier.
    pub fn echo_ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Echo messages: the Sequence Number.
    pub fn echo_seq_no(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_SEQ_NO)
    }

    /// Destination Unreachable / fragmentation needed: the next-hop MTU
    /// (RFC 1191 §4; zero from routers predating that RFC).
    pub fn next_hop_mtu(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::NEXT_HOP_MTU)
    }

    /// Everything after the 8-byte header: echo data, or the quoted
    /// original datagram of an error message.
    pub fn data(&self) -> &[u8] {
        super::clamped(self.buffer.as_ref(), Self::HEADER_LEN, usize::MAX)
    }

    /// Whether the checksum over the whole message verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum(self.buffer.as_ref(), 0)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    /// Sets the Type field.
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::TYPE] = value;
    }

    /// Sets the Code field.
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Sets the Checksum field verbatim.
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the four type-specific header bytes.
    pub fn set_rest_of_header(&mut self, value: u32) {
        write_u32(self.buffer.as_mut(), field::REST, value);
    }

    /// Sets the echo Identifier.
    pub fn set_echo_ident(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_IDENT, value);
    }

    /// Sets the echo Sequence Number.
    pub fn set_echo_seq_no(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_SEQ_NO, value);
    }

    /// Sets the next-hop MTU of a fragmentation-needed message.
    pub fn set_next_hop_mtu(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::NEXT_HOP_MTU, value);
    }

    /// Mutable access to everything after the header.
    pub fn data_mut(&mut self) -> &mut [u8] {
        super::clamped_mut(self.buffer.as_mut(), Self::HEADER_LEN, usize::MAX)
    }

    /// Computes the checksum over the whole buffer and stores it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let value = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(value);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Icmpv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A parsed ICMPv4 message, borrowing its variable part from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    /// Type 8. Echo requests with a non-zero code are accepted too (the
    /// code carries no meaning for echo; RFC 792 just says it is 0).
    EchoRequest {
        /// Identifier, echoed in the reply.
        ident: u16,
        /// Sequence number, echoed in the reply.
        seq_no: u16,
        /// Arbitrary data, echoed in the reply (RFC 1122 §3.2.2.6).
        data: &'a [u8],
    },
    /// Type 0.
    EchoReply {
        /// Identifier copied from the request.
        ident: u16,
        /// Sequence number copied from the request.
        seq_no: u16,
        /// Data copied from the request.
        data: &'a [u8],
    },
    /// Type 3. The rest-of-header word is not kept; read
    /// [`Icmpv4Packet::next_hop_mtu`] for code 4.
    DstUnreachable {
        /// Why the destination is unreachable (see the `CODE_*` consts).
        code: u8,
        /// The quoted original datagram: its IP header plus at least the
        /// first 8 bytes of its payload (RFC 792), unparsed.
        original: &'a [u8],
    },
    /// Type 11.
    TimeExceeded {
        /// 0: TTL exceeded in transit, 1: reassembly time exceeded.
        code: u8,
        /// The quoted original datagram, unparsed.
        original: &'a [u8],
    },
    /// Any other message, which the engine ignores; only type and code are
    /// kept (emitting it writes a bare 8-byte header).
    Other {
        /// The Type field.
        msg_type: u8,
        /// The Code field.
        code: u8,
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Parses `packet`. When `verify_checksum` is true a wrong checksum
    /// yields [`WireError::BadChecksum`]; a buffer shorter than 8 bytes
    /// yields [`WireError::Truncated`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Icmpv4Packet<&'a T>,
        verify_checksum: bool,
    ) -> Result<Icmpv4Repr<'a>> {
        packet.check_len()?;
        if verify_checksum && !packet.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        // Borrow from the underlying buffer (lifetime 'a), not from the
        // view, so the repr can outlive `packet`.
        let bytes: &'a [u8] = T::as_ref(packet.buffer);
        let data = super::clamped(bytes, HEADER_LEN, usize::MAX);
        let code = packet.msg_code();
        let repr = match packet.msg_type() {
            TYPE_ECHO_REQUEST => Icmpv4Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            TYPE_ECHO_REPLY => Icmpv4Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            TYPE_DST_UNREACHABLE => Icmpv4Repr::DstUnreachable {
                code,
                original: data,
            },
            TYPE_TIME_EXCEEDED => Icmpv4Repr::TimeExceeded {
                code,
                original: data,
            },
            msg_type => Icmpv4Repr::Other { msg_type, code },
        };
        Ok(repr)
    }

    /// The variable part written after the 8-byte header.
    fn body(&self) -> &'a [u8] {
        match *self {
            Icmpv4Repr::EchoRequest { data, .. } | Icmpv4Repr::EchoReply { data, .. } => data,
            Icmpv4Repr::DstUnreachable { original, .. }
            | Icmpv4Repr::TimeExceeded { original, .. } => original,
            Icmpv4Repr::Other { .. } => &[],
        }
    }

    /// Always 8.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Length of the emitted message: 8 plus the data or quoted datagram.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.body().len()
    }

    /// Writes the message and its checksum into `packet`.
    ///
    /// The checksum covers the whole buffer, so the buffer should be exactly
    /// [`Icmpv4Repr::buffer_len`] bytes long.
    ///
    /// # Panics
    ///
    /// If the buffer is shorter than [`Icmpv4Repr::buffer_len`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Icmpv4Packet<T>) {
        let (msg_type, code, rest) = match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no, .. } => {
                (TYPE_ECHO_REQUEST, 0, echo_word(ident, seq_no))
            }
            Icmpv4Repr::EchoReply { ident, seq_no, .. } => {
                (TYPE_ECHO_REPLY, 0, echo_word(ident, seq_no))
            }
            Icmpv4Repr::DstUnreachable { code, .. } => (TYPE_DST_UNREACHABLE, code, 0),
            Icmpv4Repr::TimeExceeded { code, .. } => (TYPE_TIME_EXCEEDED, code, 0),
            Icmpv4Repr::Other { msg_type, code } => (msg_type, code, 0),
        };
        packet.set_msg_type(msg_type);
        packet.set_msg_code(code);
        packet.set_rest_of_header(rest);
        let body = self.body();
        packet.data_mut()[..body.len()].copy_from_slice(body);
        packet.fill_checksum();
    }
}

fn echo_word(ident: u16, seq_no: u16) -> u32 {
    (u32::from(ident) << 16) | u32::from(seq_no)
}

impl fmt::Display for Icmpv4Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => write!(
                f,
                "ICMP echo request id {ident} seq {seq_no} len {}",
                data.len()
            ),
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => write!(
                f,
                "ICMP echo reply id {ident} seq {seq_no} len {}",
                data.len()
            ),
            Icmpv4Repr::DstUnreachable { code, original } => write!(
                f,
                "ICMP destination unreachable code {code} ({} quoted bytes)",
                original.len()
            ),
            Icmpv4Repr::TimeExceeded { code, original } => write!(
                f,
                "ICMP time exceeded code {code} ({} quoted bytes)",
                original.len()
            ),
            Icmpv4Repr::Other { msg_type, code } => {
                write!(f, "ICMP type {msg_type} code {code}")
            }
        }
    }
}
