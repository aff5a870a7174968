//! What crossed the simulated wire, decoded for assertions.

use std::fmt;
use std::net::Ipv4Addr;

use stack::wire::{EtherType, EthernetFrame, IpProtocol, Ipv4Packet, TcpPacket};
use stack::Instant;

/// A TCP segment as tcpdump would summarise it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Source address.
    pub src: Ipv4Addr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// tcpdump's flag string: "S", "S.", ".", "P.", "F.", "R", "R." ...
    pub flags: String,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (0 without ACK).
    pub ack: u32,
    /// Advertised window.
    pub window: u16,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// The window scale option, if the segment carried one.
    pub wscale: Option<u8>,
}

impl Segment {
    /// Decodes a TCP/IPv4 frame; `None` for anything else or malformed.
    pub fn decode(frame: &[u8]) -> Option<Segment> {
        let eth = EthernetFrame::new_checked(frame).ok()?;
        if eth.ethertype() != EtherType::Ipv4 {
            return None;
        }
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        if ip.protocol() != IpProtocol::Tcp {
            return None;
        }
        let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
        let repr = stack::wire::TcpRepr::parse(&tcp, ip.src_addr(), ip.dst_addr(), false).ok()?;
        let flags = tcp.flags();
        Some(Segment {
            src: ip.src_addr(),
            src_port: tcp.src_port(),
            dst_port: tcp.dst_port(),
            flags: flags.to_string(),
            seq: tcp.seq_number().0,
            ack: if flags.contains(stack::wire::TcpFlags::ACK) {
                tcp.ack_number().0
            } else {
                0
            },
            window: tcp.window_len(),
            payload: tcp.payload().to_vec(),
            wscale: repr.window_scale,
        })
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{} > :{} Flags [{}], seq {}, ack {}, win {}, length {}",
            self.src,
            self.src_port,
            self.dst_port,
            self.flags,
            self.seq,
            self.ack,
            self.window,
            self.payload.len()
        )
    }
}

/// One frame delivered by the simulator.
#[derive(Debug, Clone)]
pub struct TraceEntry {
    /// When it was sent.
    pub sent: Instant,
    /// Sending node.
    pub from: usize,
    /// The decoded TCP segment, if it was one.
    pub segment: Option<Segment>,
}
