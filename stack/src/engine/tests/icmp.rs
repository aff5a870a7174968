//! ICMP errors to connections (RFC 1122 4.2.3.9 soft and hard errors,
//! hardened per RFC 5927; RFC 1191 path MTU discovery) and the ICMP
//! errors we send (RFC 1122 3.2.2.1, rate-limited).

use super::*;
use crate::wire::{Icmpv4Packet, Icmpv4Repr};
use crate::{Error, ResetCause, Unreachable};

/// A router between us and the peer.
const ROUTER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 254);

/// An ICMP error from the router quoting the IP header and first 8 bytes
/// of `sent`, a frame the engine sent; `mtu` fills the next-hop MTU field.
fn icmp_error(msg_type: u8, code: u8, mtu: u16, sent: &[u8]) -> Vec<u8> {
    let quoted = &sent[14..14 + 28];
    let body = match msg_type {
        3 => Icmpv4Repr::DstUnreachable {
            code,
            original: quoted,
        },
        _ => Icmpv4Repr::TimeExceeded {
            code,
            original: quoted,
        },
    };
    let ip = Ipv4Repr {
        src_addr: ROUTER,
        dst_addr: LOCAL_IP,
        protocol: IpProtocol::Icmp,
        payload_len: body.buffer_len(),
        ttl: 64,
        dont_frag: false,
        ident: 3,
    };
    ip_frame(&ip, |bytes| {
        let mut packet = Icmpv4Packet::new_unchecked(bytes);
        body.emit(&mut packet);
        packet.set_next_hop_mtu(mtu);
        packet.fill_checksum();
    })
}

/// The frame the engine sends next, checked to carry `expected`.
#[track_caller]
fn recv_raw(t: &mut Harness, expected: Seg) -> Vec<u8> {
    let frame = t.recv_frame().expect("a frame");
    assert_eq!(parse_seg(&frame), expected);
    frame
}

// Contract 20; RFC 1122 4.2.3.9: port unreachable is a hard error; while the open is
// in progress it aborts it, reported as ConnectionRefused. A report that
// quotes a sequence number we did not send is ignored (RFC 5927 4.1).
#[test]
fn a_hard_icmp_error_aborts_an_open_in_progress() {
    let mut t = Harness::new();
    let h = t
        .engine
        .connect(SocketAddrV4::new(PEER_IP, PEER_SERVICE))
        .unwrap();
    let syn = t.recv_frame().expect("our SYN");
    let mut forged = syn.clone();
    // Sequence number + 5: not what we sent.
    forged[14 + 20 + 7] = forged[14 + 20 + 7].wrapping_add(5);
    t.send_frame(&icmp_error(3, 3, 0, &forged));
    assert_eq!(t.engine.state(h), Ok(State::SynSent));
    assert_eq!(t.engine.stats().drops.icmp_unmatched, 1);
    assert!(t.events().is_empty());

    t.send_frame(&icmp_error(3, 3, 0, &syn));
    assert_eq!(t.engine.stats().icmp_errors_applied, 1);
    let cause = ResetCause::Unreachable(Unreachable::Port);
    assert_eq!(
        t.events(),
        [(h, EventKind::Readable), (h, EventKind::Reset { cause })]
    );
    assert_eq!(t.engine.state(h), Ok(State::Closed));
    assert_eq!(t.engine.read(h, &mut [0; 8]), Err(Error::ConnectionRefused));
    // Nothing more goes out for it: no SYN again, no RST.
    t.advance_to(secs(10));
    t.recv_nothing();
}

// Contract 20: a soft error (host unreachable) does not abort the open; when the SYN's
// retransmissions run out, the timeout reports it (HostUnreachable, not
// TimedOut), as Linux reports its soft error.
#[test]
fn a_soft_icmp_error_explains_the_timeout_of_an_open() {
    let mut t = Harness::with_config(|c| c.tcp.syn_retries = 1);
    let h = t
        .engine
        .connect(SocketAddrV4::new(PEER_IP, PEER_SERVICE))
        .unwrap();
    let syn = t.recv_frame().expect("our SYN");
    t.send_frame(&icmp_error(3, 1, 0, &syn));
    assert_eq!(t.engine.state(h), Ok(State::SynSent));
    assert!(t.events().is_empty());
    t.advance_to(secs(1));
    t.recv(parse_seg(&syn));
    t.advance_to(secs(3));
    let cause = ResetCause::Unreachable(Unreachable::Host);
    assert_eq!(
        t.events(),
        [(h, EventKind::Readable), (h, EventKind::Reset { cause })]
    );
    assert_eq!(t.engine.read(h, &mut [0; 8]), Err(Error::HostUnreachable));
}

// Contract 20; RFC 5927 7.2: once synchronized, even a hard error is only noted: data
// keeps flowing. If retransmissions later run out it names the cause; an
// acknowledgment in between clears it (the path works).
#[test]
fn icmp_errors_never_reset_an_established_connection() {
    let mut t = Harness::with_config(|c| c.tcp.max_retransmits = 1);
    let c = t.passive();
    assert_eq!(t.engine.write(c.h, b"one"), Ok(3));
    let sent = recv_raw(&mut t, c.ours(0, 0).flags(PSH | ACK).data(b"one"));
    t.send_frame(&icmp_error(3, 3, 0, &sent));
    t.send_frame(&icmp_error(11, 0, 0, &sent));
    assert_eq!(t.engine.stats().icmp_errors_applied, 2);
    assert_eq!(t.engine.state(c.h), Ok(State::Established));
    assert!(t.events().is_empty());
    // The ACK clears the report; the next timeout is a plain one.
    t.send(c.peer(0, 3));
    assert_eq!(t.engine.write(c.h, b"two"), Ok(3));
    t.recv(c.ours(3, 0).flags(PSH | ACK).data(b"two"));
    t.advance_to(ms(200));
    t.recv(c.ours(3, 0).flags(PSH | ACK).data(b"two"));
    t.advance_to(ms(600));
    let cause = ResetCause::RetransmitTimeout;
    assert_eq!(
        t.events(),
        [
            (c.h, EventKind::Readable),
            (c.h, EventKind::Reset { cause })
        ]
    );

    // Without an ACK after it, the report names the timeout's cause.
    let mut t = Harness::with_config(|c| c.tcp.max_retransmits = 1);
    let c = t.passive();
    assert_eq!(t.engine.write(c.h, b"one"), Ok(3));
    let sent = recv_raw(&mut t, c.ours(0, 0).flags(PSH | ACK).data(b"one"));
    t.send_frame(&icmp_error(3, 0, 0, &sent));
    t.advance_to(ms(200));
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"one"));
    t.advance_to(ms(600));
    let cause = ResetCause::Unreachable(Unreachable::Network);
    assert_eq!(
        t.events(),
        [
            (c.h, EventKind::Readable),
            (c.h, EventKind::Reset { cause })
        ]
    );
    assert_eq!(
        t.engine.read(c.h, &mut [0; 8]),
        Err(Error::NetworkUnreachable)
    );
}

// Contract 20; RFC 1191: "fragmentation needed" with a next-hop MTU of 1000 lowers the
// segment size to 960; what was in flight in larger segments goes again
// at once in pieces that fit, without waiting for a timeout, and new data
// follows at the new size. A report of a larger MTU changes nothing
// (RFC 5927 7.3), and one below `min_path_mtu` is raised to it.
#[test]
fn fragmentation_needed_lowers_the_segment_size_and_resends_at_once() {
    let mut t = Harness::new();
    let c = t.passive();
    let data = pattern(3000);
    assert_eq!(t.engine.write(c.h, &data), Ok(3000));
    let first = recv_raw(&mut t, c.ours(0, 0).data(&data[..MSS]));
    t.recv(c.ours(MSS, 0).data(&data[MSS..2 * MSS]));
    t.recv(c.ours(2 * MSS, 0).flags(PSH | ACK).data(&data[2 * MSS..]));
    t.recv_nothing();

    t.send_frame(&icmp_error(3, 4, 1000, &first));
    assert_eq!(t.engine.stats().pmtu_decreases, 1);
    for (from, to) in [(0, 960), (960, 1460), (1460, 2420), (2420, 2920)] {
        t.recv(c.ours(from, 0).data(&data[from..to]));
    }
    t.recv_nothing();
    assert_eq!(t.engine.stats().rto_expired, 0);
    t.send(c.peer(0, 3000));
    let more = pattern(2000);
    assert_eq!(t.engine.write(c.h, &more), Ok(2000));
    t.recv(c.ours(3000, 0).data(&more[..960]));
    t.recv(c.ours(3960, 0).data(&more[960..1920]));
    let last = recv_raw(&mut t, c.ours(4920, 0).flags(PSH | ACK).data(&more[1920..]));

    t.send_frame(&icmp_error(3, 4, 1200, &last));
    t.recv_nothing();
    assert_eq!(t.engine.stats().pmtu_decreases, 1);
    t.send_frame(&icmp_error(3, 4, 300, &last));
    assert_eq!(t.engine.stats().pmtu_decreases, 2);
    // 552 - 40: the floor. The last segment (80 bytes) fits already.
    for (from, to) in [(0, 512), (512, 960), (960, 1472), (1472, 1920)] {
        t.recv(c.ours(3000 + from, 0).data(&more[from..to]));
    }
    t.recv_nothing();
    t.send(c.peer(0, 5000));
    assert_eq!(t.engine.write(c.h, &data[..600]), Ok(600));
    t.recv(c.ours(5000, 0).data(&data[..512]));
    t.recv(c.ours(5512, 0).flags(PSH | ACK).data(&data[512..600]));
}

/// A UDP datagram from the peer to `port`.
fn udp_datagram(port: u16) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: PEER_IP,
        dst_addr: LOCAL_IP,
        protocol: IpProtocol::Udp,
        payload_len: 12,
        ttl: 64,
        dont_frag: false,
        ident: port,
    };
    ip_frame(&ip, |bytes| {
        bytes[..2].copy_from_slice(&5353u16.to_be_bytes());
        bytes[2..4].copy_from_slice(&port.to_be_bytes());
        bytes[4..6].copy_from_slice(&12u16.to_be_bytes());
    })
}

// RFC 1122 3.2.2.1: a protocol we do not serve gets Destination
// Unreachable, protocol, quoting the datagram's header and 8 bytes; at
// most `icmp_error_burst` at once and `icmp_error_rate` per second.
#[test]
fn an_unserved_protocol_gets_protocol_unreachable_within_the_rate_limit() {
    let mut t = Harness::with_config(|c| {
        c.icmp_error_rate = 1;
        c.icmp_error_burst = 2;
    });
    let datagram = udp_datagram(53);
    t.send_frame(&datagram);
    let frame = t.recv_frame().expect("an ICMP error");
    let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    let ip_repr = Ipv4Repr::parse(&ip, true).unwrap();
    assert_eq!(
        (ip_repr.dst_addr, ip_repr.protocol),
        (PEER_IP, IpProtocol::Icmp)
    );
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(
        Icmpv4Repr::parse(&icmp, true).unwrap(),
        Icmpv4Repr::DstUnreachable {
            code: 2,
            original: &datagram[14..14 + 28],
        }
    );
    for port in 1..=4 {
        t.send_frame(&udp_datagram(port));
    }
    assert!(t.recv_frame().is_some(), "the burst's second");
    t.recv_nothing();
    assert_eq!(t.engine.stats().icmp_errors_sent, 2);
    assert_eq!(t.engine.stats().icmp_errors_suppressed, 3);
    assert_eq!(t.engine.stats().drops.unsupported_protocol, 5);
    t.advance_to(secs(1));
    t.send_frame(&udp_datagram(9));
    assert!(t.recv_frame().is_some(), "a token a second later");
    t.send_frame(&udp_datagram(10));
    t.recv_nothing();

    let mut t = Harness::with_config(|c| c.icmp_error_rate = 0);
    t.send_frame(&udp_datagram(53));
    t.recv_nothing();
}

// With `offload.tx_checksum` the device fills the checksums of the frames
// marked for it, TCP segments; an echo reply is not marked and must carry
// its own IPv4 checksum (it went out with 0 once, and Linux dropped it).
#[test]
fn regression_an_echo_reply_carries_its_ipv4_checksum_with_tx_offload() {
    let mut t = Harness::with_config(|c| c.offload.tx_checksum = true);
    t.send_frame(&echo_request(b"ping"));
    let reply = t.engine.poll_transmit(t.now).expect("an echo reply");
    assert!(!reply.checksum_offload, "not marked for the device");
    let bytes = reply.to_vec();
    let packet = Ipv4Packet::new_checked(&bytes[14..]).unwrap();
    assert_eq!(packet.protocol(), IpProtocol::Icmp);
    assert!(packet.verify_checksum(), "the IPv4 checksum is filled");
}
