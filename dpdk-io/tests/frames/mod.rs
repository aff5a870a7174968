//! Frames built and read by hand, for tests that talk to a port directly:
//! ICMP echo requests and replies, the MSS option of a SYN, and the
//! records of a pcap file.

#![allow(dead_code)]

use std::net::Ipv4Addr;

/// The ones' complement sum of `b` (RFC 1071).
pub fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One end of a frame: MAC and IPv4 address.
#[derive(Clone, Copy)]
pub struct End {
    pub mac: [u8; 6],
    pub ip: Ipv4Addr,
}

/// An ICMP echo request from `from` to `to` with identifier `id`, `len`
/// bytes of frame in all (at least 42), checksums right.
pub fn ping(from: End, to: End, id: u16, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&to.mac);
    f[6..12].copy_from_slice(&from.mac);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[22] = 64;
    f[23] = 1;
    f[26..30].copy_from_slice(&from.ip.octets());
    f[30..34].copy_from_slice(&to.ip.octets());
    let c = checksum(&f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f[34] = 8;
    f[38..40].copy_from_slice(&id.to_be_bytes());
    f[40..42].copy_from_slice(&1u16.to_be_bytes());
    for (i, b) in f[42..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(id as u8);
    }
    let c = checksum(&f[34..]);
    f[36..38].copy_from_slice(&c.to_be_bytes());
    f
}

/// The identifier of an ICMP echo reply, if `frame` is one.
pub fn echo_reply_id(frame: &[u8]) -> Option<u16> {
    let is_reply = frame.len() > 42
        && frame[12..14] == [0x08, 0x00]
        && frame[14] == 0x45
        && frame[23] == 1
        && frame[34] == 0;
    is_reply.then(|| u16::from_be_bytes([frame[38], frame[39]]))
}

/// The MSS option of a TCP SYN frame, if `frame` is one.
pub fn syn_mss(frame: &[u8]) -> Option<u16> {
    if frame.get(12..14)? != [0x08, 0x00] || *frame.get(23)? != 6 {
        return None;
    }
    let tcp = frame.get(14 + usize::from(frame[14] & 0x0f) * 4..)?;
    if tcp.get(13)? & 0x02 == 0 {
        return None;
    }
    let mut opts = tcp.get(20..usize::from(tcp[12] >> 4) * 4)?;
    while let Some(&kind) = opts.first() {
        match kind {
            0 => break,
            1 => opts = &opts[1..],
            _ => {
                let len = usize::from(*opts.get(1)?);
                if kind == 2 && len == 4 {
                    return Some(u16::from_be_bytes([opts[2], opts[3]]));
                }
                opts = opts.get(len.max(2)..)?;
            }
        }
    }
    None
}

/// The frames recorded in a classic pcap file (Ethernet), in order.
/// Panics if the records do not end exactly at the end of the file.
pub fn pcap_frames(bytes: &[u8]) -> Vec<&[u8]> {
    assert_eq!(&bytes[..4], &0xa1b2_c3d4u32.to_le_bytes(), "pcap magic");
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        frames.push(&bytes[at + 16..at + 16 + caplen]);
        at += 16 + caplen;
    }
    assert_eq!(at, bytes.len(), "records end at the end of the file");
    frames
}
