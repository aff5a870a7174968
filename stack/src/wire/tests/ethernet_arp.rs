//! Ethernet and ARP tests.

use std::net::Ipv4Addr;

use super::super::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr,
    WireError,
};

const MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
const MAC_B: EthernetAddress = EthernetAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

#[test]
fn address_display_and_parse() {
    assert_eq!(MAC_A.to_string(), "02:00:00:00:00:01");
    assert_eq!(MAC_B.to_string(), "52:54:00:12:34:56");
    assert_eq!("02:00:00:00:00:01".parse::<EthernetAddress>(), Ok(MAC_A));
    assert_eq!("52:54:00:12:34:56".parse::<EthernetAddress>(), Ok(MAC_B));
    assert_eq!(
        "FF:ff:Ff:fF:ff:ff".parse::<EthernetAddress>(),
        Ok(EthernetAddress::BROADCAST)
    );
    for bad in [
        "",
        "02:00:00:00:00",
        "02:00:00:00:00:01:02",
        "02:00:00:00:00:1",
        "02:00:00:00:00:001",
        "02:00:00:00:00:0g",
        "02-00-00-00-00-01",
        "02:00:00:00:00:+1",
        "02:00:00:00:00:01:",
        " 02:00:00:00:00:01",
    ] {
        let err = bad.parse::<EthernetAddress>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("Ethernet address"), "{text}");
        assert!(text.contains(&format!("{bad:?}")), "{text}");
        assert!(!err.reason().is_empty());
    }
}

#[test]
fn address_classes() {
    let b = EthernetAddress::BROADCAST;
    assert!(b.is_broadcast() && b.is_multicast() && !b.is_unicast());
    let m = EthernetAddress([0x01, 0x00, 0x5e, 0, 0, 1]);
    assert!(!m.is_broadcast() && m.is_multicast() && !m.is_unicast());
    assert!(MAC_A.is_unicast() && !MAC_A.is_multicast() && MAC_A.is_local());
    assert!(!MAC_B.is_broadcast() && MAC_B.is_local());
    assert!(!EthernetAddress([0x00, 0x1b, 0x21, 1, 2, 3]).is_local());
    assert_eq!(EthernetAddress::default(), EthernetAddress::UNSPECIFIED);
    assert_eq!(MAC_A.as_bytes(), &[2, 0, 0, 0, 0, 1]);
}

#[test]
fn ethertype_conversions() {
    assert_eq!(EtherType::from(0x0800), EtherType::Ipv4);
    assert_eq!(EtherType::from(0x0806), EtherType::Arp);
    assert_eq!(EtherType::from(0x86dd), EtherType::Unknown(0x86dd));
    for v in [0x0800u16, 0x0806, 0x86dd, 0, 0xffff] {
        assert_eq!(u16::from(EtherType::from(v)), v);
    }
    assert_eq!(EtherType::Ipv4.to_string(), "IPv4");
    assert_eq!(EtherType::Unknown(0x8100).to_string(), "0x8100");
}

#[test]
fn ethernet_frame_known_bytes() {
    let bytes = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // src
        0x08, 0x06, // ARP
        0xaa, 0xbb, // payload
    ];
    let frame = EthernetFrame::new_checked(&bytes[..]).unwrap();
    assert_eq!(frame.dst_addr(), EthernetAddress::BROADCAST);
    assert_eq!(frame.src_addr(), MAC_A);
    assert_eq!(frame.ethertype(), EtherType::Arp);
    assert_eq!(frame.payload(), &[0xaa, 0xbb]);
    let repr = EthernetRepr::parse(&frame).unwrap();
    assert_eq!(
        repr,
        EthernetRepr {
            src_addr: MAC_A,
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EtherType::Arp
        }
    );
    assert_eq!(repr.buffer_len(), 14);
    assert_eq!(repr.header_len(), 14);
    assert_eq!(EthernetFrame::<&[u8]>::buffer_len(2), 16);

    let mut out = [0u8; 16];
    out[14..].copy_from_slice(&[0xaa, 0xbb]);
    repr.emit(&mut EthernetFrame::new_unchecked(&mut out[..]));
    assert_eq!(out, bytes);
    assert!(repr.to_string().contains("02:00:00:00:00:01"));
}

#[test]
fn ethernet_frame_setters_and_errors() {
    let mut buf = [0u8; 20];
    let mut frame = EthernetFrame::new_checked(&mut buf[..]).unwrap();
    frame.set_dst_addr(MAC_B);
    frame.set_src_addr(MAC_A);
    frame.set_ethertype(EtherType::Unknown(0x88cc));
    frame.payload_mut().fill(7);
    assert_eq!(frame.dst_addr(), MAC_B);
    assert_eq!(frame.ethertype(), EtherType::Unknown(0x88cc));
    assert_eq!(frame.payload(), &[7; 6]);
    assert_eq!(frame.as_ref().len(), 20);
    assert_eq!(frame.into_inner().len(), 20);

    for len in 0..14 {
        let short = vec![0u8; len];
        assert_eq!(
            EthernetFrame::new_checked(&short[..]).unwrap_err(),
            WireError::Truncated
        );
        let unchecked = EthernetFrame::new_unchecked(&short[..]);
        assert_eq!(EthernetRepr::parse(&unchecked), Err(WireError::Truncated));
    }
    let exact = [0u8; 14];
    assert_eq!(
        EthernetFrame::new_checked(&exact[..]).unwrap().payload(),
        &[] as &[u8]
    );
}

/// "Who has 10.0.0.2? Tell 10.0.0.1", as sent by MAC_A.
const ARP_REQUEST: [u8; 28] = [
    0x00, 0x01, // htype Ethernet
    0x08, 0x00, // ptype IPv4
    0x06, 0x04, // hlen, plen
    0x00, 0x01, // request
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // sha
    0x0a, 0x00, 0x00, 0x01, // spa
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // tha
    0x0a, 0x00, 0x00, 0x02, // tpa
];

#[test]
fn arp_request_known_bytes() {
    let packet = ArpPacket::new_checked(&ARP_REQUEST[..]).unwrap();
    assert_eq!(packet.hardware_type(), 1);
    assert_eq!(packet.protocol_type(), 0x0800);
    assert_eq!(packet.hardware_len(), 6);
    assert_eq!(packet.protocol_len(), 4);
    assert_eq!(packet.operation(), ArpOperation::Request);
    let repr = ArpRepr::parse(&packet).unwrap();
    let expected = ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: MAC_A,
        source_protocol_addr: Ipv4Addr::new(10, 0, 0, 1),
        target_hardware_addr: EthernetAddress::UNSPECIFIED,
        target_protocol_addr: Ipv4Addr::new(10, 0, 0, 2),
    };
    assert_eq!(repr, expected);
    assert_eq!(repr.buffer_len(), ArpRepr::BUFFER_LEN);
    assert_eq!(
        repr.to_string(),
        "ARP who-has 10.0.0.2 tell 10.0.0.1 (02:00:00:00:00:01)"
    );

    let mut out = [0xeeu8; 28];
    repr.emit(&mut ArpPacket::new_unchecked(&mut out[..]));
    assert_eq!(out, ARP_REQUEST);
}

#[test]
fn arp_reply_round_trip_with_padding() {
    let repr = ArpRepr {
        operation: ArpOperation::Reply,
        source_hardware_addr: MAC_B,
        source_protocol_addr: Ipv4Addr::new(10, 0, 0, 2),
        target_hardware_addr: MAC_A,
        target_protocol_addr: Ipv4Addr::new(10, 0, 0, 1),
    };
    // Ethernet pads ARP to 46 bytes of payload; the padding is ignored.
    let mut buf = [0u8; 46];
    let mut packet = ArpPacket::new_unchecked(&mut buf[..]);
    repr.emit(&mut packet);
    assert_eq!(packet.target_hardware_addr(), MAC_A);
    assert_eq!(
        ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()),
        Ok(repr)
    );
    assert!(repr.to_string().contains("is-at 52:54:00:12:34:56"));
}

#[test]
fn arp_unknown_operation_is_kept() {
    let mut bytes = ARP_REQUEST;
    bytes[7] = 9;
    let repr = ArpRepr::parse(&ArpPacket::new_checked(&bytes[..]).unwrap()).unwrap();
    assert_eq!(repr.operation, ArpOperation::Unknown(9));
    assert_eq!(u16::from(ArpOperation::Unknown(9)), 9);
    assert_eq!(ArpOperation::from(2), ArpOperation::Reply);
    let mut out = [0u8; 28];
    repr.emit(&mut ArpPacket::new_unchecked(&mut out[..]));
    assert_eq!(out, bytes);
    assert!(repr.to_string().contains("op 9"));
}

#[test]
fn arp_errors() {
    // Anything but Ethernet/IPv4 is unsupported.
    for (at, value) in [(1, 6u8), (2, 0x86), (4, 8), (5, 16)] {
        let mut bytes = ARP_REQUEST;
        bytes[at] = value;
        assert_eq!(
            ArpPacket::new_checked(&bytes[..]).unwrap_err(),
            WireError::Unsupported,
            "byte {at} = {value}"
        );
        let unchecked = ArpPacket::new_unchecked(&bytes[..]);
        assert_eq!(ArpRepr::parse(&unchecked), Err(WireError::Unsupported));
    }
    for len in 0..28 {
        assert_eq!(
            ArpPacket::new_checked(&ARP_REQUEST[..len]).unwrap_err(),
            WireError::Truncated,
            "len {len}"
        );
        let unchecked = ArpPacket::new_unchecked(&ARP_REQUEST[..len]);
        assert_eq!(ArpRepr::parse(&unchecked), Err(WireError::Truncated));
    }
}

#[test]
fn arp_in_ethernet_frame() {
    let mut frame_bytes = [0u8; 60];
    let eth = EthernetRepr {
        src_addr: MAC_A,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EtherType::Arp,
    };
    let mut frame = EthernetFrame::new_unchecked(&mut frame_bytes[..]);
    eth.emit(&mut frame);
    frame.payload_mut()[..28].copy_from_slice(&ARP_REQUEST);
    let frame = EthernetFrame::new_checked(&frame_bytes[..]).unwrap();
    assert_eq!(frame.ethertype(), EtherType::Arp);
    let arp = ArpRepr::parse(&ArpPacket::new_checked(frame.payload()).unwrap()).unwrap();
    assert_eq!(arp.target_protocol_addr, Ipv4Addr::new(10, 0, 0, 2));
}
