//! IPv4, CIDR and ICMPv4 tests.

use std::net::Ipv4Addr;

use super::super::icmpv4::{self, CODE_FRAG_NEEDED, CODE_PORT_UNREACHABLE};
use super::super::{
    checksum, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Cidr, Ipv4Packet, Ipv4Repr, WireError,
};

/// The widely reproduced example header (UDP, 192.168.0.1 → .199) whose
/// checksum is 0xb861; followed by payload bytes up to Total Length 0x73.
fn example_packet() -> Vec<u8> {
    let mut bytes = vec![
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    bytes.extend((0..0x73 - 20).map(|i| i as u8));
    bytes
}

const SRC: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);

#[test]
fn ipv4_known_header() {
    let bytes = example_packet();
    let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.version(), 4);
    assert_eq!(packet.header_len(), 20);
    assert_eq!(packet.dscp_ecn(), 0);
    assert_eq!((packet.dscp(), packet.ecn()), (0, 0));
    assert_eq!(packet.total_len(), 0x73);
    assert_eq!(packet.ident(), 0);
    assert!(packet.dont_frag());
    assert!(!packet.more_frags());
    assert_eq!(packet.frag_offset(), 0);
    assert!(!packet.is_fragment());
    assert_eq!(packet.ttl(), 64);
    assert_eq!(packet.hop_limit(), 64);
    assert_eq!(packet.protocol(), IpProtocol::Udp);
    assert_eq!(packet.checksum(), 0xb861);
    assert_eq!(packet.src_addr(), Ipv4Addr::new(192, 168, 0, 1));
    assert_eq!(packet.dst_addr(), Ipv4Addr::new(192, 168, 0, 199));
    assert!(packet.verify_checksum());
    assert!(packet.options().is_empty());
    assert_eq!(packet.payload().len(), 0x73 - 20);

    let repr = Ipv4Repr::parse(&packet, true).unwrap();
    assert_eq!(
        repr,
        Ipv4Repr {
            src_addr: Ipv4Addr::new(192, 168, 0, 1),
            dst_addr: Ipv4Addr::new(192, 168, 0, 199),
            protocol: IpProtocol::Udp,
            payload_len: 0x73 - 20,
            ttl: 64,
            dont_frag: true,
            ident: 0,
        }
    );
    // Emitting the repr reproduces the header byte for byte.
    let mut out = bytes.clone();
    out[..20].fill(0);
    repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]), true);
    assert_eq!(out, bytes);
    assert!(repr.to_string().contains("192.168.0.1 > 192.168.0.199 UDP"));
}

#[test]
fn ipv4_fill_checksum_and_offload() {
    let mut bytes = example_packet();
    let mut packet = Ipv4Packet::new_checked(&mut bytes[..]).unwrap();
    packet.set_checksum(0x1234);
    assert!(!packet.verify_checksum());
    packet.fill_checksum();
    assert_eq!(packet.checksum(), 0xb861);

    let repr = Ipv4Repr::parse(&Ipv4Packet::new_checked(&bytes[..]).unwrap(), true).unwrap();
    let mut out = vec![0xffu8; repr.buffer_len()];
    repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]), false);
    let packet = Ipv4Packet::new_checked(&out[..]).unwrap();
    assert_eq!(packet.checksum(), 0);
    assert!(!packet.verify_checksum());
    assert_eq!(Ipv4Repr::parse(&packet, false), Ok(repr));
    assert_eq!(Ipv4Repr::parse(&packet, true), Err(WireError::BadChecksum));
}

#[test]
fn ipv4_round_trip() {
    for (protocol, dont_frag, payload_len) in [
        (IpProtocol::Tcp, true, 0),
        (IpProtocol::Icmp, false, 1),
        (IpProtocol::Unknown(253), true, 1480),
    ] {
        let repr = Ipv4Repr {
            src_addr: SRC,
            dst_addr: DST,
            protocol,
            payload_len,
            ttl: 1,
            dont_frag,
            ident: 0xbeef,
        };
        assert_eq!(repr.header_len(), Ipv4Repr::HEADER_LEN);
        let mut buf = vec![0xa5u8; repr.buffer_len()];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]), true);
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert!(packet.verify_checksum());
        assert_eq!(packet.dscp_ecn(), 0);
        assert!(!packet.is_fragment());
        assert_eq!(Ipv4Repr::parse(&packet, true), Ok(repr));
        assert_eq!(packet.payload(), &vec![0xa5u8; payload_len][..]);
    }
}

#[test]
fn ipv4_padding_is_not_payload() {
    // A 40-byte packet in a 46-byte Ethernet payload (6 bytes of padding).
    let repr = Ipv4Repr {
        src_addr: SRC,
        dst_addr: DST,
        protocol: IpProtocol::Tcp,
        payload_len: 20,
        ttl: 64,
        dont_frag: true,
        ident: 1,
    };
    let mut buf = [0xeeu8; 46];
    repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]), true);
    let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
    assert_eq!(packet.payload().len(), 20);
    assert_eq!(Ipv4Repr::parse(&packet, true).unwrap().payload_len, 20);
}

#[test]
fn ipv4_options_are_skipped() {
    // IHL 6: one word of options (NOP NOP NOP EOL).
    let mut buf = [0u8; 24 + 4];
    let mut packet = Ipv4Packet::new_unchecked(&mut buf[..]);
    packet.set_version(4);
    packet.set_header_len(24);
    packet.set_total_len(28);
    packet.set_ttl(9);
    packet.set_protocol(IpProtocol::Icmp);
    packet.set_src_addr(SRC);
    packet.set_dst_addr(DST);
    packet.options_mut().copy_from_slice(&[1, 1, 1, 0]);
    packet.payload_mut().copy_from_slice(&[9, 8, 7, 6]);
    packet.fill_checksum();
    let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
    assert_eq!(packet.header_len(), 24);
    assert_eq!(packet.options(), &[1, 1, 1, 0]);
    assert_eq!(packet.payload(), &[9, 8, 7, 6]);
    let repr = Ipv4Repr::parse(&packet, true).unwrap();
    assert_eq!(repr.payload_len, 4);
    assert_eq!(repr.protocol, IpProtocol::Icmp);
}

#[test]
fn ipv4_fragments_are_parsed() {
    let bytes = example_packet();
    let mut more = bytes.clone();
    let mut packet = Ipv4Packet::new_checked(&mut more[..]).unwrap();
    packet.set_more_frags(true);
    assert!(packet.more_frags() && packet.dont_frag() && packet.is_fragment());
    packet.set_more_frags(false);
    packet.set_frag_offset(1480);
    assert_eq!(packet.frag_offset(), 1480);
    assert!(packet.is_fragment() && !packet.more_frags());
    packet.set_dont_frag(false);
    assert!(!packet.dont_frag());
    assert_eq!(packet.frag_offset(), 1480);
    packet.fill_checksum();
    let packet = Ipv4Packet::new_checked(&more[..]).unwrap();
    assert!(Ipv4Repr::parse(&packet, true).is_ok());

    let mut clear = bytes;
    let mut packet = Ipv4Packet::new_unchecked(&mut clear[..]);
    packet.clear_flags();
    assert!(!packet.dont_frag() && !packet.is_fragment());
    packet.set_dscp_ecn(0xb9);
    assert_eq!((packet.dscp(), packet.ecn()), (0x2e, 0x01));
    packet.set_hop_limit(3);
    packet.set_ident(77);
    assert_eq!((packet.ttl(), packet.ident()), (3, 77));
}

#[test]
fn ipv4_errors() {
    let good = example_packet();
    let check = |bytes: &[u8]| Ipv4Packet::new_checked(bytes).map(|_| ());
    for len in 0..20 {
        assert_eq!(check(&good[..len]), Err(WireError::Truncated));
    }
    // Total Length 0x73 > buffer.
    assert_eq!(check(&good[..0x72]), Err(WireError::Truncated));
    let mut v6 = good.clone();
    v6[0] = 0x65;
    assert_eq!(check(&v6), Err(WireError::BadVersion));
    let mut ihl4 = good.clone();
    ihl4[0] = 0x44;
    assert_eq!(check(&ihl4), Err(WireError::BadLength));
    let mut ihl15 = good.clone();
    ihl15[0] = 0x4f;
    assert_eq!(check(&ihl15[..40]), Err(WireError::Truncated));
    let mut short_total = good.clone();
    short_total[2..4].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(check(&short_total), Err(WireError::BadLength));
    let mut bad_sum = good.clone();
    bad_sum[11] ^= 1;
    let packet = Ipv4Packet::new_checked(&bad_sum[..]).unwrap();
    assert_eq!(Ipv4Repr::parse(&packet, true), Err(WireError::BadChecksum));
    assert!(Ipv4Repr::parse(&packet, false).is_ok());
    // parse re-validates unchecked views instead of panicking.
    let unchecked = Ipv4Packet::new_unchecked(&ihl15[..40]);
    assert_eq!(
        Ipv4Repr::parse(&unchecked, false),
        Err(WireError::Truncated)
    );
    let tiny = Ipv4Packet::new_unchecked(&good[..3]);
    assert_eq!(Ipv4Repr::parse(&tiny, false), Err(WireError::Truncated));
}

#[test]
fn ip_protocol_conversions() {
    for v in 0..=255u8 {
        assert_eq!(u8::from(IpProtocol::from(v)), v);
    }
    assert_eq!(IpProtocol::from(6), IpProtocol::Tcp);
    assert_eq!(IpProtocol::from(1), IpProtocol::Icmp);
    assert_eq!(IpProtocol::from(17), IpProtocol::Udp);
    assert_eq!(IpProtocol::Unknown(99).to_string(), "proto 99");
}

#[test]
fn cidr_basics() {
    let cidr: Ipv4Cidr = "10.99.0.1/24".parse().unwrap();
    assert_eq!(
        cidr,
        Ipv4Cidr::new(Ipv4Addr::new(10, 99, 0, 1), 24).unwrap()
    );
    assert_eq!(cidr.to_string(), "10.99.0.1/24");
    assert_eq!(cidr.netmask(), Ipv4Addr::new(255, 255, 255, 0));
    assert_eq!(cidr.network(), Ipv4Addr::new(10, 99, 0, 0));
    assert_eq!(cidr.broadcast(), Some(Ipv4Addr::new(10, 99, 0, 255)));
    assert!(cidr.contains(Ipv4Addr::new(10, 99, 0, 200)));
    assert!(!cidr.contains(Ipv4Addr::new(10, 99, 1, 1)));

    let any = Ipv4Cidr::new(Ipv4Addr::new(1, 2, 3, 4), 0).unwrap();
    assert_eq!(any.netmask(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(any.network(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(any.broadcast(), Some(Ipv4Addr::BROADCAST));
    assert!(any.contains(Ipv4Addr::new(200, 1, 1, 1)));

    let host = Ipv4Cidr::new(SRC, 32).unwrap();
    assert_eq!(host.netmask(), Ipv4Addr::BROADCAST);
    assert_eq!(host.broadcast(), None);
    assert!(host.contains(SRC) && !host.contains(DST));
    let p2p = Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 31).unwrap();
    assert_eq!(p2p.broadcast(), None);
    assert!(p2p.contains(Ipv4Addr::new(10, 0, 0, 0)));
    let odd = Ipv4Cidr::new(Ipv4Addr::new(172, 16, 5, 9), 12).unwrap();
    assert_eq!(odd.network(), Ipv4Addr::new(172, 16, 0, 0));
    assert_eq!(odd.broadcast(), Some(Ipv4Addr::new(172, 31, 255, 255)));

    assert_eq!(Ipv4Cidr::new(SRC, 33), Err(WireError::BadLength));
    // Public fields can hold nonsense; methods must not panic on it.
    let bogus = Ipv4Cidr {
        address: SRC,
        prefix_len: 200,
    };
    assert_eq!(bogus.netmask(), Ipv4Addr::BROADCAST);
    assert!(bogus.contains(SRC));
}

#[test]
fn cidr_parse_errors() {
    for (input, needle) in [
        ("10.0.0.1", "missing '/prefix_len'"),
        ("10.0.0/24", "dotted-quad"),
        ("10.0.0.256/24", "dotted-quad"),
        ("/24", "dotted-quad"),
        ("10.0.0.1/", "decimal"),
        ("10.0.0.1/+8", "decimal"),
        ("10.0.0.1/-1", "decimal"),
        ("10.0.0.1/ 8", "decimal"),
        ("10.0.0.1/33", "at most 32"),
        ("10.0.0.1/999", "at most 32"),
        ("10.0.0.1/24/8", "decimal"),
    ] {
        let err = input.parse::<Ipv4Cidr>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains(needle), "{input}: {text}");
        assert!(text.contains("IPv4 CIDR"), "{text}");
    }
    assert_eq!(
        "0.0.0.0/0".parse::<Ipv4Cidr>().unwrap().to_string(),
        "0.0.0.0/0"
    );
}

/// An echo request (id 0x1234, seq 1, the 32 data bytes Windows ping
/// sends), checksum 0x3b27 computed independently.
fn echo_request_bytes() -> Vec<u8> {
    let mut bytes = vec![0x08, 0x00, 0x3b, 0x27, 0x12, 0x34, 0x00, 0x01];
    bytes.extend_from_slice(b"abcdefghijklmnopqrstuvwabcdefghi");
    bytes
}

#[test]
fn icmp_echo_request_known_bytes() {
    let bytes = echo_request_bytes();
    let packet = Icmpv4Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(packet.msg_type(), icmpv4::TYPE_ECHO_REQUEST);
    assert_eq!(packet.msg_code(), 0);
    assert_eq!(packet.checksum(), 0x3b27);
    assert!(packet.verify_checksum());
    assert_eq!(
        checksum::checksum(&bytes),
        0,
        "a correct message sums to zero"
    );
    assert_eq!(packet.echo_ident(), 0x1234);
    assert_eq!(packet.echo_seq_no(), 1);
    assert_eq!(packet.rest_of_header(), 0x1234_0001);
    assert_eq!(packet.data(), b"abcdefghijklmnopqrstuvwabcdefghi");
    let repr = Icmpv4Repr::parse(&packet, true).unwrap();
    let expected = Icmpv4Repr::EchoRequest {
        ident: 0x1234,
        seq_no: 1,
        data: b"abcdefghijklmnopqrstuvwabcdefghi",
    };
    assert_eq!(repr, expected);
    assert_eq!(repr.buffer_len(), bytes.len());
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]));
    assert_eq!(out, bytes);
}

#[test]
fn icmp_round_trips() {
    let original = example_packet();
    let quoted = &original[..28];
    let reprs = [
        Icmpv4Repr::EchoReply {
            ident: 7,
            seq_no: 0xffff,
            data: b"odd",
        },
        Icmpv4Repr::EchoRequest {
            ident: 0,
            seq_no: 0,
            data: &[],
        },
        Icmpv4Repr::DstUnreachable {
            code: CODE_PORT_UNREACHABLE,
            original: quoted,
        },
        Icmpv4Repr::TimeExceeded {
            code: 1,
            original: quoted,
        },
        Icmpv4Repr::Other {
            msg_type: 13,
            code: 0,
        },
    ];
    for repr in reprs {
        let mut buf = vec![0xccu8; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]));
        let packet = Icmpv4Packet::new_checked(&buf[..]).unwrap();
        assert!(packet.verify_checksum(), "{repr}");
        assert_eq!(Icmpv4Repr::parse(&packet, true), Ok(repr));
        assert!(!repr.to_string().is_empty());
    }
}

#[test]
fn icmp_frag_needed_mtu_and_lenient_echo_code() {
    let original = example_packet();
    let repr = Icmpv4Repr::DstUnreachable {
        code: CODE_FRAG_NEEDED,
        original: &original[..28],
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    let mut packet = Icmpv4Packet::new_unchecked(&mut buf[..]);
    repr.emit(&mut packet);
    packet.set_next_hop_mtu(1400);
    packet.fill_checksum();
    let packet = Icmpv4Packet::new_checked(&buf[..]).unwrap();
    assert_eq!(packet.next_hop_mtu(), 1400);
    assert_eq!(Icmpv4Repr::parse(&packet, true), Ok(repr));

    let mut odd_code = echo_request_bytes();
    let mut packet = Icmpv4Packet::new_unchecked(&mut odd_code[..]);
    packet.set_msg_code(5);
    packet.set_echo_seq_no(2);
    packet.set_echo_ident(3);
    packet.data_mut()[0] = b'z';
    packet.fill_checksum();
    let packet = Icmpv4Packet::new_checked(&odd_code[..]).unwrap();
    match Icmpv4Repr::parse(&packet, true).unwrap() {
        Icmpv4Repr::EchoRequest {
            ident: 3,
            seq_no: 2,
            data,
        } => assert_eq!(data[0], b'z'),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn icmp_errors() {
    let bytes = echo_request_bytes();
    for len in 0..8 {
        assert_eq!(
            Icmpv4Packet::new_checked(&bytes[..len]).unwrap_err(),
            WireError::Truncated
        );
        let unchecked = Icmpv4Packet::new_unchecked(&bytes[..len]);
        assert_eq!(
            Icmpv4Repr::parse(&unchecked, true),
            Err(WireError::Truncated)
        );
    }
    let mut bad = bytes.clone();
    bad[20] ^= 0x40;
    let packet = Icmpv4Packet::new_checked(&bad[..]).unwrap();
    assert!(!packet.verify_checksum());
    assert_eq!(
        Icmpv4Repr::parse(&packet, true),
        Err(WireError::BadChecksum)
    );
    assert!(Icmpv4Repr::parse(&packet, false).is_ok());
    // The checksum covers the data: truncating the message breaks it.
    let packet = Icmpv4Packet::new_checked(&bytes[..30]).unwrap();
    assert_eq!(
        Icmpv4Repr::parse(&packet, true),
        Err(WireError::BadChecksum)
    );
}
