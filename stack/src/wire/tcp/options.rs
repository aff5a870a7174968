//! TCP options (RFC 9293 §3.1, RFC 7323, RFC 2018).
//!
//! RFC 9293 §3.1: "Options may occupy space at the end of the TCP header
//! and are a multiple of 8 bits in length." Each option is either a single
//! kind byte (End of Option List, No-Operation) or kind, length, data,
//! where the length counts the kind and length bytes themselves.

use core::fmt;

use super::{Result, SeqNumber, WireError};

/// Option kinds the engine understands (IANA "TCP Option Kind Numbers").
mod kind {
    pub const END_OF_LIST: u8 = 0;
    pub const NO_OPERATION: u8 = 1;
    pub const MAX_SEG_SIZE: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
}

/// One SACK block (RFC 2018 §3): the peer holds the bytes
/// `left..right` (right edge exclusive: "the sequence number immediately
/// following the last sequence number of this block").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SackBlock {
    /// First sequence number of the block.
    pub left: SeqNumber,
    /// Sequence number just past the block.
    pub right: SeqNumber,
}

/// The Timestamps option (RFC 7323 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpTimestamp {
    /// TSval: the sender's timestamp clock.
    pub tsval: u32,
    /// TSecr: the most recent TSval received from the peer (valid only when
    /// ACK is set, RFC 7323 §3.2).
    pub tsecr: u32,
}

/// One TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// Kind 0: nothing after this is an option.
    EndOfList,
    /// Kind 1: padding between options.
    NoOperation,
    /// Kind 2: the largest segment the sender of this option can receive
    /// (RFC 9293 §3.7.1).
    MaxSegmentSize(u16),
    /// Kind 3: the shift count the sender applies to windows it receives
    /// (RFC 7323 §2). Parsed raw; values above 14 are clamped by
    /// [`super::TcpRepr::parse`].
    WindowScale(u8),
    /// Kind 4: the sender can receive SACK options (RFC 2018 §2).
    SackPermitted,
    /// Kind 5: up to four SACK blocks, stored in order from index 0; unused
    /// slots are `None`.
    Sack {
        /// The blocks, first (most recent, RFC 2018 §4) first.
        blocks: [Option<SackBlock>; 4],
    },
    /// Kind 8: timestamps (RFC 7323 §3).
    Timestamp(TcpTimestamp),
    /// Any other kind, skipped by its length.
    Unknown {
        /// The kind byte.
        kind: u8,
        /// The option's data (excluding kind and length bytes).
        data: &'a [u8],
    },
}

impl<'a> TcpOption<'a> {
    /// Parses the first option in `bytes`, returning the bytes after it and
    /// the option.
    ///
    /// End of Option List returns an empty rest (whatever follows it is
    /// padding). Options other than EOL and NOP must have a length byte
    /// that is at least 2 and fits in `bytes`; known kinds must have their
    /// exact length (MSS 4, window scale 3, SACK-permitted 2, timestamps
    /// 10, SACK 2 + 8n with n in 1..=4). Violations are
    /// [`WireError::BadOption`]; an empty `bytes` is
    /// [`WireError::Truncated`].
    pub fn parse(bytes: &'a [u8]) -> Result<(&'a [u8], TcpOption<'a>)> {
        let (&kind_byte, after_kind) = bytes.split_first().ok_or(WireError::Truncated)?;
        match kind_byte {
            kind::END_OF_LIST => return Ok((&[], TcpOption::EndOfList)),
            kind::NO_OPERATION => return Ok((after_kind, TcpOption::NoOperation)),
            _ => {}
        }
        let &len_byte = after_kind.first().ok_or(WireError::BadOption)?;
        let len = usize::from(len_byte);
        if len < 2 || len > bytes.len() {
            return Err(WireError::BadOption);
        }
        let (option, rest) = bytes.split_at(len);
        let data = option.get(2..).ok_or(WireError::BadOption)?;
        let parsed = match (kind_byte, data) {
            (kind::MAX_SEG_SIZE, &[hi, lo]) => {
                TcpOption::MaxSegmentSize(u16::from_be_bytes([hi, lo]))
            }
            (kind::WINDOW_SCALE, &[shift]) => TcpOption::WindowScale(shift),
            (kind::SACK_PERMITTED, &[]) => TcpOption::SackPermitted,
            (kind::TIMESTAMP, &[a, b, c, d, e, f, g, h]) => TcpOption::Timestamp(TcpTimestamp {
                tsval: u32::from_be_bytes([a, b, c, d]),
                tsecr: u32::from_be_bytes([e, f, g, h]),
            }),
            (kind::SACK, _) => TcpOption::Sack {
                blocks: parse_sack_blocks(data)?,
            },
            (
                kind::MAX_SEG_SIZE | kind::WINDOW_SCALE | kind::SACK_PERMITTED | kind::TIMESTAMP,
                _,
            ) => return Err(WireError::BadOption),
            (kind, data) => TcpOption::Unknown { kind, data },
        };
        Ok((rest, parsed))
    }

    /// Number of bytes [`TcpOption::emit`] writes. A SACK option without
    /// blocks writes nothing (a bare 2-byte SACK option is malformed), and
    /// an `Unknown` option's data is cut to the 253 bytes its length byte
    /// can describe.
    pub fn buffer_len(&self) -> usize {
        match *self {
            TcpOption::EndOfList | TcpOption::NoOperation => 1,
            TcpOption::MaxSegmentSize(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::Sack { blocks } => match blocks.iter().flatten().count() {
                0 => 0,
                n => 2 + 8 * n,
            },
            TcpOption::Timestamp(_) => 10,
            TcpOption::Unknown { data, .. } => 2 + data.len().min(253),
        }
    }

    /// Writes the option at the start of `buf` and returns its length
    /// (equal to [`TcpOption::buffer_len`]).
    ///
    /// # Panics
    ///
    /// If `buf` is shorter than [`TcpOption::buffer_len`].
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.buffer_len();
        let out = &mut buf[..len];
        match *self {
            TcpOption::EndOfList => out[0] = kind::END_OF_LIST,
            TcpOption::NoOperation => out[0] = kind::NO_OPERATION,
            TcpOption::MaxSegmentSize(mss) => {
                out[..2].copy_from_slice(&[kind::MAX_SEG_SIZE, 4]);
                out[2..].copy_from_slice(&mss.to_be_bytes());
            }
            TcpOption::WindowScale(shift) => {
                out.copy_from_slice(&[kind::WINDOW_SCALE, 3, shift]);
            }
            TcpOption::SackPermitted => out.copy_from_slice(&[kind::SACK_PERMITTED, 2]),
            TcpOption::Sack { blocks } => {
                if len > 0 {
                    out[..2].copy_from_slice(&[kind::SACK, len as u8]);
                    let chunks = out[2..].chunks_exact_mut(8);
                    for (chunk, block) in chunks.zip(blocks.iter().flatten()) {
                        chunk[..4].copy_from_slice(&block.left.0.to_be_bytes());
                        chunk[4..].copy_from_slice(&block.right.0.to_be_bytes());
                    }
                }
            }
            TcpOption::Timestamp(ts) => {
                out[..2].copy_from_slice(&[kind::TIMESTAMP, 10]);
                out[2..6].copy_from_slice(&ts.tsval.to_be_bytes());
                out[6..].copy_from_slice(&ts.tsecr.to_be_bytes());
            }
            TcpOption::Unknown { kind, data } => {
                // len <= 255 by construction of buffer_len.
                out[..2].copy_from_slice(&[kind, len as u8]);
                out[2..].copy_from_slice(&data[..len - 2]);
            }
        }
        len
    }
}

/// Parses the 8n data bytes of a SACK option (RFC 2018 §3: "a SACK option
/// that specifies n blocks will have a length of 8*n+2 bytes, so the 40
/// bytes available for TCP options can specify a maximum of 4 blocks").
fn parse_sack_blocks(data: &[u8]) -> Result<[Option<SackBlock>; 4]> {
    if data.is_empty() || data.len() % 8 != 0 || data.len() > 32 {
        return Err(WireError::BadOption);
    }
    let mut blocks = [None; 4];
    for (slot, chunk) in blocks.iter_mut().zip(data.chunks_exact(8)) {
        if let &[a, b, c, d, e, f, g, h] = chunk {
            *slot = Some(SackBlock {
                left: SeqNumber(u32::from_be_bytes([a, b, c, d])),
                right: SeqNumber(u32::from_be_bytes([e, f, g, h])),
            });
        }
    }
    Ok(blocks)
}

impl fmt::Display for TcpOption<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpOption::EndOfList => f.write_str("eol"),
            TcpOption::NoOperation => f.write_str("nop"),
            TcpOption::MaxSegmentSize(mss) => write!(f, "mss {mss}"),
            TcpOption::WindowScale(shift) => write!(f, "wscale {shift}"),
            TcpOption::SackPermitted => f.write_str("sackOK"),
            TcpOption::Sack { blocks } => {
                f.write_str("sack")?;
                for block in blocks.iter().flatten() {
                    write!(f, " {{{}:{}}}", block.left, block.right)?;
                }
                Ok(())
            }
            TcpOption::Timestamp(ts) => write!(f, "TS val {} ecr {}", ts.tsval, ts.tsecr),
            TcpOption::Unknown { kind, data } => {
                write!(f, "unknown-{kind} len {}", data.len())
            }
        }
    }
}
