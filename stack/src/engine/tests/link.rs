//! Below TCP: ARP, ICMP echo, and frames that must be dropped and counted
//! without disturbing anything.

use super::*;
use crate::wire::{ArpOperation, ArpPacket, ArpRepr, Icmpv4Packet, Icmpv4Repr};

fn arp_frame(op: ArpOperation, target: Ipv4Addr) -> Vec<u8> {
    arp_from(op, PEER_IP, target)
}

// RFC 826: a request for our address is answered, to the asker's MAC;
// a request for another address is not.
#[test]
fn arp_request_for_our_address_is_answered() {
    let mut t = Harness::new();
    t.send_frame(&arp_frame(ArpOperation::Request, LOCAL_IP));
    let frame = t.recv_frame().expect("an ARP reply");
    let eth = EthernetRepr::parse(&EthernetFrame::new_checked(&frame[..]).unwrap()).unwrap();
    assert_eq!(
        eth,
        EthernetRepr {
            src_addr: LOCAL_MAC,
            dst_addr: PEER_MAC,
            ethertype: EtherType::Arp,
        }
    );
    let arp = ArpRepr::parse(&ArpPacket::new_checked(&frame[14..]).unwrap()).unwrap();
    assert_eq!(
        arp,
        ArpRepr {
            operation: ArpOperation::Reply,
            source_hardware_addr: LOCAL_MAC,
            source_protocol_addr: LOCAL_IP,
            target_hardware_addr: PEER_MAC,
            target_protocol_addr: PEER_IP,
        }
    );
    t.recv_nothing();
    t.send_frame(&arp_frame(
        ArpOperation::Request,
        Ipv4Addr::new(10, 0, 0, 9),
    ));
    t.recv_nothing();
    assert_eq!(t.engine.stats().arp_replies_sent, 1);
    assert_eq!(t.engine.stats().arp_in, 2);
}

// RFC 1122 3.2.2.6: an echo request gets an echo reply with the same
// identifier, sequence number and data; icmp_echo = false turns it off.
#[test]
fn icmp_echo_request_is_answered() {
    let mut t = Harness::new();
    t.send_frame(&echo_request(b"ping data"));
    let frame = t.recv_frame().expect("an echo reply");
    let eth = EthernetRepr::parse(&EthernetFrame::new_checked(&frame[..]).unwrap()).unwrap();
    assert_eq!((eth.src_addr, eth.dst_addr), (LOCAL_MAC, PEER_MAC));
    let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    let ip_repr = Ipv4Repr::parse(&ip, true).unwrap();
    assert_eq!(
        (ip_repr.src_addr, ip_repr.dst_addr, ip_repr.protocol),
        (LOCAL_IP, PEER_IP, IpProtocol::Icmp)
    );
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(
        Icmpv4Repr::parse(&icmp, true).unwrap(),
        Icmpv4Repr::EchoReply {
            ident: 0x1234,
            seq_no: 7,
            data: b"ping data",
        }
    );
    t.recv_nothing();
    assert_eq!(t.engine.stats().icmp_echo_replies, 1);

    let mut t = Harness::with_config(|c| c.icmp_echo = false);
    t.send_frame(&echo_request(b"ping data"));
    t.recv_nothing();
}

// Malformed or foreign frames are counted under their reason and dropped;
// nothing panics, nothing is sent, and an open connection is untouched.
#[test]
fn malformed_frames_are_counted_and_dropped() {
    let mut t = Harness::new();
    let c = t.passive();
    let good = Harness::frame_for(&c.peer(0, 0).flags(PSH | ACK).data(b"payload"));

    // Shorter than an Ethernet header.
    t.send_frame(&good[..10]);
    // IPv4 total length beyond the end of the frame.
    t.send_frame(&good[..14 + 20 + 10]);
    // TCP header cut short inside a consistent IPv4 packet.
    let mut short = good[..14 + 20 + 12].to_vec();
    let mut ip = Ipv4Packet::new_unchecked(&mut short[14..]);
    ip.set_total_len(32);
    ip.fill_checksum();
    t.send_frame(&short);
    assert_eq!(t.engine.stats().drops.malformed, 3);

    // A flipped payload bit: the TCP checksum fails.
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 0x01;
    t.send_frame(&bad);
    // A flipped IPv4 header bit: the header checksum fails.
    let mut bad = good.clone();
    bad[14 + 8] ^= 0x01;
    t.send_frame(&bad);
    assert_eq!(t.engine.stats().drops.bad_checksum, 2);

    // An IPv4 fragment (More Fragments set), which we do not reassemble.
    let mut frag = good.clone();
    let mut ip = Ipv4Packet::new_unchecked(&mut frag[14..]);
    ip.set_more_frags(true);
    ip.fill_checksum();
    t.send_frame(&frag);
    assert_eq!(t.engine.stats().drops.fragment, 1);

    // Another host's IPv4 address, and another host's MAC.
    let mut other = good.clone();
    let mut ip = Ipv4Packet::new_unchecked(&mut other[14..]);
    ip.set_dst_addr(Ipv4Addr::new(10, 0, 0, 3));
    ip.fill_checksum();
    t.send_frame(&other);
    let mut other = good.clone();
    other[5] = 0x77;
    t.send_frame(&other);
    assert_eq!(t.engine.stats().drops.not_for_us, 2);

    t.recv_nothing();
    assert_eq!(t.events(), []);
    assert_eq!(t.engine.stats().drops.total(), 8);
    assert_eq!(
        t.engine.stats().segments_in,
        2,
        "the handshake's SYN and ACK"
    );
    // The good frame still gets through.
    t.send_frame(&good);
    assert_eq!(t.read_all(c.h), b"payload");
}

// RX checksum offload: a frame the device verified skips the engine's own
// check (so a payload bit flipped after the device looked at it is taken),
// while the same frame through handle_rx is dropped as a bad checksum.
#[test]
fn frames_the_device_verified_skip_the_software_checksum() {
    let mut t = Harness::new();
    let c = t.passive();
    let mut frame = Harness::frame_for(&c.peer(0, 0).flags(PSH | ACK).data(b"abcd"));
    *frame.last_mut().unwrap() ^= 0x01;
    t.send_frame(&frame);
    assert_eq!(t.engine.stats().drops.bad_checksum, 1);
    let buf = t.engine.pool_mut().alloc_with(&frame).unwrap();
    t.engine.handle_rx_verified(t.now, buf);
    assert_eq!(t.engine.stats().drops.bad_checksum, 1);
    assert_eq!(t.read_all(c.h), b"abce");
}

// Found by probing: an ARP entry that expired under traffic dropped the
// segments in flight and cost a retransmission timeout. Now a stale entry
// in use keeps carrying the traffic while a request goes to the known MAC
// (RFC 1122 2.3.2.1); the reply makes it fresh again.
#[test]
fn regression_arp_expiry_under_traffic_drops_nothing() {
    let mut t = Harness::with_config(|c| {
        c.neighbors.clear();
        c.arp.entry_ttl = secs(1);
    });
    // The peer asks for us first, as it would before its SYN: learned.
    t.send_frame(&arp_frame(ArpOperation::Request, LOCAL_IP));
    assert!(t.recv_frame().is_some(), "our ARP reply");
    let c = t.passive();
    t.advance_to(ms(1500));
    assert_eq!(t.engine.write(c.h, b"after expiry"), Ok(12));
    let frames: Vec<Vec<u8>> = std::iter::from_fn(|| t.recv_frame()).collect();
    assert_eq!(frames.len(), 2, "the segment and a request");
    let (arp, data): (Vec<_>, Vec<_>) = frames.iter().partition(|f| f[12..14] == [0x08, 0x06]);
    let seg = parse_seg(data[0]);
    assert_eq!(seg, c.ours(0, 0).flags(PSH | ACK).data(b"after expiry"));
    let eth = EthernetRepr::parse(&EthernetFrame::new_checked(&arp[0][..]).unwrap()).unwrap();
    assert_eq!(eth.dst_addr, PEER_MAC, "unicast to the known MAC");
    assert_eq!(t.engine.stats().drops.neighbor_unresolved, 0);
}
