//! Frames built and read by hand, for tests that play a host which does
//! not follow the rules (an attacker) or that checks the engine from
//! outside (a prober): ARP, ICMP echo and TCP segments with any fields.

use std::net::Ipv4Addr;

use stack::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr,
    Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr, SeqNumber, TcpFlags, TcpPacket,
    TcpRepr,
};

use crate::trace::Segment;

/// A host made of hand-built frames.
#[derive(Debug, Clone, Copy)]
pub struct RawHost {
    /// Its MAC address.
    pub mac: EthernetAddress,
    /// Its IPv4 address.
    pub ip: Ipv4Addr,
}

/// What a frame to a [`RawHost`] carried, as far as tests care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// An ARP request asking for `target`.
    ArpRequest {
        /// The address asked for.
        target: Ipv4Addr,
    },
    /// An ARP reply: `ip` is at `mac`.
    ArpReply {
        /// The address resolved.
        ip: Ipv4Addr,
        /// Where it is.
        mac: EthernetAddress,
    },
    /// An ICMP echo reply.
    EchoReply {
        /// Its identifier.
        ident: u16,
        /// Its sequence number.
        seq_no: u16,
    },
    /// A TCP segment.
    Tcp(Segment),
    /// Anything else.
    Other,
}

impl Heard {
    /// Decodes a frame.
    pub fn decode(frame: &[u8]) -> Heard {
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return Heard::Other;
        };
        match eth.ethertype() {
            EtherType::Arp => {
                let Ok(arp) = ArpPacket::new_checked(eth.payload()) else {
                    return Heard::Other;
                };
                match ArpRepr::parse(&arp) {
                    Ok(r) if r.operation == ArpOperation::Request => Heard::ArpRequest {
                        target: r.target_protocol_addr,
                    },
                    Ok(r) => Heard::ArpReply {
                        ip: r.source_protocol_addr,
                        mac: r.source_hardware_addr,
                    },
                    Err(_) => Heard::Other,
                }
            }
            EtherType::Ipv4 => {
                let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
                    return Heard::Other;
                };
                match ip.protocol() {
                    IpProtocol::Tcp => Segment::decode(frame).map_or(Heard::Other, Heard::Tcp),
                    IpProtocol::Icmp => {
                        let Ok(icmp) = Icmpv4Packet::new_checked(ip.payload()) else {
                            return Heard::Other;
                        };
                        match Icmpv4Repr::parse(&icmp, true) {
                            Ok(Icmpv4Repr::EchoReply { ident, seq_no, .. }) => {
                                Heard::EchoReply { ident, seq_no }
                            }
                            _ => Heard::Other,
                        }
                    }
                    _ => Heard::Other,
                }
            }
            _ => Heard::Other,
        }
    }
}

/// The fields of a TCP segment to build.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpFields<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Control bits.
    pub flags: TcpFlags,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Window field.
    pub window: u16,
    /// MSS option.
    pub mss: Option<u16>,
    /// Payload.
    pub payload: &'a [u8],
}

impl RawHost {
    /// An ARP request for `target`, broadcast.
    pub fn arp_request(&self, target: Ipv4Addr) -> Vec<u8> {
        self.arp(
            ArpOperation::Request,
            EthernetAddress::BROADCAST,
            EthernetAddress([0; 6]),
            target,
        )
    }

    /// An ARP reply telling `to_ip` (at `to_mac`) that we are here.
    pub fn arp_reply(&self, to_mac: EthernetAddress, to_ip: Ipv4Addr) -> Vec<u8> {
        self.arp(ArpOperation::Reply, to_mac, to_mac, to_ip)
    }

    fn arp(
        &self,
        op: ArpOperation,
        eth_dst: EthernetAddress,
        target_mac: EthernetAddress,
        target_ip: Ipv4Addr,
    ) -> Vec<u8> {
        let mut frame = vec![0u8; 14 + ArpRepr::BUFFER_LEN];
        self.ethernet(&mut frame, eth_dst, EtherType::Arp);
        ArpRepr {
            operation: op,
            source_hardware_addr: self.mac,
            source_protocol_addr: self.ip,
            target_hardware_addr: target_mac,
            target_protocol_addr: target_ip,
        }
        .emit(&mut ArpPacket::new_unchecked(&mut frame[14..]));
        frame
    }

    /// An ICMP echo request to `dst_ip` at `dst_mac`.
    pub fn ping(
        &self,
        dst_mac: EthernetAddress,
        dst_ip: Ipv4Addr,
        ident: u16,
        seq_no: u16,
    ) -> Vec<u8> {
        let icmp = Icmpv4Repr::EchoRequest {
            ident,
            seq_no,
            data: b"are you there",
        };
        self.ip_frame(dst_mac, dst_ip, IpProtocol::Icmp, icmp.buffer_len(), |b| {
            icmp.emit(&mut Icmpv4Packet::new_unchecked(b))
        })
    }

    /// A TCP segment to `dst_ip` at `dst_mac`, checksums right.
    pub fn tcp(&self, dst_mac: EthernetAddress, dst_ip: Ipv4Addr, f: &TcpFields) -> Vec<u8> {
        let repr = TcpRepr {
            src_port: f.src_port,
            dst_port: f.dst_port,
            flags: f.flags,
            seq_number: SeqNumber(f.seq),
            ack_number: SeqNumber(f.ack),
            window_len: f.window,
            max_seg_size: f.mss,
            urgent_at: 0,
            payload: f.payload,
            ..TcpRepr::default()
        };
        let src = self.ip;
        self.ip_frame(dst_mac, dst_ip, IpProtocol::Tcp, repr.buffer_len(), |b| {
            repr.emit(&mut TcpPacket::new_unchecked(b), src, dst_ip, true)
        })
    }

    fn ip_frame(
        &self,
        dst_mac: EthernetAddress,
        dst_ip: Ipv4Addr,
        protocol: IpProtocol,
        payload_len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Vec<u8> {
        let ip = Ipv4Repr {
            src_addr: self.ip,
            dst_addr: dst_ip,
            protocol,
            payload_len,
            ttl: 64,
            dont_frag: true,
            ident: 1,
        };
        let mut frame = vec![0u8; 14 + ip.buffer_len()];
        self.ethernet(&mut frame, dst_mac, EtherType::Ipv4);
        let mut packet = Ipv4Packet::new_unchecked(&mut frame[14..]);
        ip.emit(&mut packet, true);
        fill(packet.payload_mut());
        frame
    }

    fn ethernet(&self, frame: &mut [u8], dst: EthernetAddress, ethertype: EtherType) {
        EthernetRepr {
            src_addr: self.mac,
            dst_addr: dst,
            ethertype,
        }
        .emit(&mut EthernetFrame::new_unchecked(frame));
    }
}

/// One hand-driven TCP connection from a [`RawHost`]: it remembers the
/// sequence numbers so that a test can send what it likes in order, out
/// of order, or not at all.
#[derive(Debug, Clone)]
pub struct RawConn {
    /// Our port.
    pub port: u16,
    /// Our initial sequence number.
    pub iss: u32,
    /// The peer's initial sequence number, once its SYN-ACK arrived.
    pub irs: Option<u32>,
    /// The window the peer advertised last.
    pub peer_window: u16,
    /// The highest acknowledgment the peer sent (bytes of ours it has).
    pub acked: u32,
    /// Whether the peer reset the connection.
    pub reset: bool,
}

impl RawConn {
    /// A connection from `port` with initial sequence number `iss`.
    pub fn new(port: u16, iss: u32) -> RawConn {
        RawConn {
            port,
            iss,
            irs: None,
            peer_window: 0,
            acked: 0,
            reset: false,
        }
    }

    /// Sequence number `offset` bytes into our stream (after the SYN).
    pub fn seq(&self, offset: usize) -> u32 {
        self.iss.wrapping_add(1).wrapping_add(offset as u32)
    }

    /// The peer's sequence number `offset` bytes into its stream.
    pub fn peer_seq(&self, offset: usize) -> u32 {
        self.irs
            .unwrap_or(0)
            .wrapping_add(1)
            .wrapping_add(offset as u32)
    }

    /// Takes what a segment from the peer says about this connection.
    pub fn hear(&mut self, seg: &Segment) {
        if seg.dst_port != self.port {
            return;
        }
        if seg.flags.contains('R') {
            self.reset = true;
            return;
        }
        if seg.flags.starts_with('S') {
            self.irs = Some(seg.seq);
        }
        self.peer_window = seg.window;
        let ahead = seg.ack.wrapping_sub(self.iss.wrapping_add(1));
        if (ahead as i32) > (self.acked as i32) {
            self.acked = ahead;
        }
    }
}
