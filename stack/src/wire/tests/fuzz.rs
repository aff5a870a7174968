//! Seeded no-panic fuzzing: random buffers and mutated valid packets go
//! through every `new_checked`, every getter, every `parse`, and (when
//! parsing succeeds) an emit/re-parse round trip.
//!
//! Reproduce a failure with `WIRE_SEED=<seed> cargo test fuzz`; run longer
//! with `WIRE_FUZZ_ITERATIONS=<n>`.

use std::net::Ipv4Addr;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::super::tcp::{self, TcpOption};
use super::super::{
    checksum, ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame,
    EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr, SackBlock, SeqNumber,
    TcpFlags, TcpPacket, TcpRepr, TcpTimestamp,
};
use super::{seed_from_env, Rng};

/// Default number of inputs per run.
const ITERATIONS: usize = 100_000;

fn iterations() -> usize {
    std::env::var("WIRE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(ITERATIONS)
}

/// Per-run state: the PRNG for mutations done while exercising, and how
/// often each layer parsed successfully (to prove the fuzzing is not
/// vacuous, i.e. that mutated packets get past `new_checked`).
struct Ctx {
    rng: Rng,
    /// Successful parses: Ethernet, ARP, IPv4, ICMP, TCP.
    hits: [usize; 5],
}

const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn exercise_ethernet(buf: &[u8], cx: &mut Ctx) {
    let _ = EthernetRepr::parse(&EthernetFrame::new_unchecked(buf));
    let Ok(frame) = EthernetFrame::new_checked(buf) else {
        return;
    };
    let _ = (frame.dst_addr(), frame.src_addr(), frame.ethertype());
    let repr = EthernetRepr::parse(&frame).expect("a checked frame always parses");
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut EthernetFrame::new_unchecked(&mut out[..]));
    assert_eq!(
        EthernetRepr::parse(&EthernetFrame::new_unchecked(&out[..])),
        Ok(repr)
    );
    let _ = repr.to_string();
    cx.hits[0] += 1;
    exercise_arp(frame.payload(), cx);
    exercise_ipv4(frame.payload(), cx);
}

fn exercise_arp(buf: &[u8], cx: &mut Ctx) {
    let _ = ArpRepr::parse(&ArpPacket::new_unchecked(buf));
    let Ok(packet) = ArpPacket::new_checked(buf) else {
        return;
    };
    let _ = (packet.hardware_type(), packet.protocol_type());
    let _ = (
        packet.hardware_len(),
        packet.protocol_len(),
        packet.operation(),
    );
    let _ = (packet.source_hardware_addr(), packet.source_protocol_addr());
    let _ = (packet.target_hardware_addr(), packet.target_protocol_addr());
    let repr = ArpRepr::parse(&packet).expect("a checked ARP packet always parses");
    cx.hits[1] += 1;
    let mut out = [0u8; ArpRepr::BUFFER_LEN];
    repr.emit(&mut ArpPacket::new_unchecked(&mut out[..]));
    assert_eq!(
        ArpRepr::parse(&ArpPacket::new_checked(&out[..]).unwrap()),
        Ok(repr)
    );
    let _ = repr.to_string();
}

fn exercise_ipv4(buf: &[u8], cx: &mut Ctx) {
    let _ = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(buf), true);
    let Ok(packet) = Ipv4Packet::new_checked(buf) else {
        return;
    };
    let _ = (packet.version(), packet.header_len(), packet.dscp_ecn());
    let _ = (
        packet.dscp(),
        packet.ecn(),
        packet.total_len(),
        packet.ident(),
    );
    let _ = (
        packet.dont_frag(),
        packet.more_frags(),
        packet.frag_offset(),
    );
    let _ = (packet.is_fragment(), packet.ttl(), packet.hop_limit());
    let _ = (packet.protocol(), packet.checksum(), packet.src_addr());
    let _ = (
        packet.dst_addr(),
        packet.options(),
        packet.verify_checksum(),
    );
    let _ = Ipv4Repr::parse(&packet, true);
    let repr = Ipv4Repr::parse(&packet, false).expect("a checked IPv4 packet parses");
    cx.hits[2] += 1;
    let mut out = vec![0u8; repr.buffer_len()];
    out[Ipv4Repr::HEADER_LEN..].copy_from_slice(packet.payload());
    repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]), true);
    let reparsed = Ipv4Repr::parse(&Ipv4Packet::new_checked(&out[..]).unwrap(), true);
    assert_eq!(reparsed, Ok(repr));
    let _ = repr.to_string();

    // Setters may break the length invariants; getters must still hold.
    let mut copy = buf.to_vec();
    let mut mutated = Ipv4Packet::new_checked(&mut copy[..]).unwrap();
    mutated.set_header_len(cx.rng.byte());
    mutated.set_total_len(cx.rng.next_u64() as u16);
    let _ = (mutated.payload().len(), mutated.options().len());
    let _ = (mutated.payload_mut().len(), mutated.options_mut().len());
    let _ = mutated.verify_checksum();
    mutated.fill_checksum();

    let (src, dst) = (packet.src_addr(), packet.dst_addr());
    exercise_tcp(packet.payload(), src, dst, cx);
    exercise_icmp(packet.payload(), cx);
}

fn exercise_icmp(buf: &[u8], cx: &mut Ctx) {
    let _ = Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(buf), true);
    let Ok(packet) = Icmpv4Packet::new_checked(buf) else {
        return;
    };
    let _ = (packet.msg_type(), packet.msg_code(), packet.checksum());
    let _ = (
        packet.rest_of_header(),
        packet.echo_ident(),
        packet.echo_seq_no(),
    );
    let _ = (
        packet.next_hop_mtu(),
        packet.data(),
        packet.verify_checksum(),
    );
    let _ = Icmpv4Repr::parse(&packet, true);
    let repr = Icmpv4Repr::parse(&packet, false).expect("a checked ICMP packet parses");
    cx.hits[3] += 1;
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]));
    let reparsed = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&out[..]).unwrap(), true);
    assert_eq!(reparsed, Ok(repr));
    let _ = repr.to_string();
}

fn exercise_tcp(buf: &[u8], src: Ipv4Addr, dst: Ipv4Addr, cx: &mut Ctx) {
    let _ = TcpRepr::parse(&TcpPacket::new_unchecked(buf), src, dst, true);
    let Ok(packet) = TcpPacket::new_checked(buf) else {
        return;
    };
    let _ = (packet.src_port(), packet.dst_port(), packet.seq_number());
    let _ = (packet.ack_number(), packet.header_len(), packet.flags());
    let _ = (packet.window_len(), packet.checksum(), packet.urgent_at());
    let _ = (packet.payload(), packet.segment_len());
    let _ = packet.verify_checksum(src, dst);
    let mut options = packet.options();
    while let Ok((rest, option)) = TcpOption::parse(options) {
        let _ = (option.buffer_len(), option.to_string());
        options = rest;
    }
    let _ = TcpRepr::parse(&packet, src, dst, true);
    let Ok(repr) = TcpRepr::parse(&packet, src, dst, false) else {
        return;
    };
    cx.hits[4] += 1;
    assert!(repr.header_len() <= tcp::MAX_HEADER_LEN);
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut out[..]), src, dst, true);
    let reparsed = TcpRepr::parse(&TcpPacket::new_checked(&out[..]).unwrap(), src, dst, true);
    let mut expected = repr;
    for slot in &mut expected.sack_blocks[repr.emitted_sack_blocks()..] {
        *slot = None;
    }
    assert_eq!(reparsed, Ok(expected));
    let _ = repr.to_string();

    let mut copy = buf.to_vec();
    let mut mutated = TcpPacket::new_checked(&mut copy[..]).unwrap();
    mutated.set_header_len(cx.rng.byte());
    let _ = (mutated.payload().len(), mutated.options().len());
    let _ = (mutated.payload_mut().len(), mutated.options_mut().len());
    mutated.fill_checksum(src, dst);
}

/// Feeds one buffer to every parser at every layer.
fn exercise_all(buf: &[u8], cx: &mut Ctx) {
    let _ = checksum::checksum(buf);
    exercise_ethernet(buf, cx);
    exercise_arp(buf, cx);
    exercise_ipv4(buf, cx);
    exercise_icmp(buf, cx);
    exercise_tcp(buf, SRC, DST, cx);
}

/// Valid packets at every layer, to be mutated.
fn corpus() -> Vec<Vec<u8>> {
    let payload: Vec<u8> = (0..77).collect();
    let syn = TcpRepr {
        src_port: 40000,
        dst_port: 80,
        flags: TcpFlags::SYN,
        seq_number: SeqNumber(0xffff_ff00),
        window_len: 65535,
        max_seg_size: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some(TcpTimestamp { tsval: 1, tsecr: 0 }),
        ..TcpRepr::default()
    };
    let block = SackBlock {
        left: SeqNumber(100),
        right: SeqNumber(200),
    };
    let data = TcpRepr {
        flags: TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN,
        ack_number: SeqNumber(5),
        sack_blocks: [Some(block); 4],
        urgent_at: 0,
        payload: &payload,
        ..syn
    };
    let echo = Icmpv4Repr::EchoRequest {
        ident: 1,
        seq_no: 2,
        data: &payload[..33],
    };
    let arp = ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        source_protocol_addr: SRC,
        target_hardware_addr: EthernetAddress::UNSPECIFIED,
        target_protocol_addr: DST,
    };
    let mut out = Vec::new();
    for tcp_repr in [syn, data] {
        let mut segment = vec![0u8; tcp_repr.buffer_len()];
        tcp_repr.emit(
            &mut TcpPacket::new_unchecked(&mut segment[..]),
            SRC,
            DST,
            true,
        );
        out.push(segment.clone());
        let ip = ip_packet(IpProtocol::Tcp, &segment);
        out.push(ip.clone());
        out.push(eth_frame(EtherType::Ipv4, &ip));
    }
    let mut icmp = vec![0u8; echo.buffer_len()];
    echo.emit(&mut Icmpv4Packet::new_unchecked(&mut icmp[..]));
    let ip = ip_packet(IpProtocol::Icmp, &icmp);
    out.push(icmp);
    out.push(eth_frame(EtherType::Ipv4, &ip));
    out.push(ip);
    let mut arp_bytes = [0u8; ArpRepr::BUFFER_LEN];
    arp.emit(&mut ArpPacket::new_unchecked(&mut arp_bytes[..]));
    out.push(arp_bytes.to_vec());
    out.push(eth_frame(EtherType::Arp, &arp_bytes));
    out
}

fn ip_packet(protocol: IpProtocol, payload: &[u8]) -> Vec<u8> {
    let repr = Ipv4Repr {
        src_addr: SRC,
        dst_addr: DST,
        protocol,
        payload_len: payload.len(),
        ttl: 64,
        dont_frag: true,
        ident: 9,
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]), true);
    buf[Ipv4Repr::HEADER_LEN..].copy_from_slice(payload);
    buf
}

fn eth_frame(ethertype: EtherType, payload: &[u8]) -> Vec<u8> {
    let repr = EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
        ethertype,
    };
    // Pad to the 60-byte minimum frame like a NIC would.
    let mut buf = vec![0u8; (14 + payload.len()).max(60)];
    repr.emit(&mut EthernetFrame::new_unchecked(&mut buf[..]));
    buf[14..14 + payload.len()].copy_from_slice(payload);
    buf
}

/// Random bytes, or a valid packet with flipped bytes, truncation, or
/// random bytes appended.
fn next_input(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    if rng.below(4) == 0 {
        let len = rng.below(200);
        return rng.bytes(len);
    }
    let mut buf = corpus[rng.below(corpus.len())].clone();
    for _ in 0..rng.below(5) {
        if buf.is_empty() {
            break;
        }
        let at = rng.below(buf.len());
        buf[at] ^= rng.byte() | 1;
    }
    match rng.below(4) {
        0 => {
            let len = rng.below(buf.len() + 1);
            buf.truncate(len);
        }
        1 => {
            let extra = rng.below(40);
            buf.extend(rng.bytes(extra));
        }
        _ => {}
    }
    buf
}

#[test]
fn corpus_is_valid() {
    // The corpus must parse cleanly, or the mutations test little.
    let mut cx = Ctx {
        rng: Rng::new(1),
        hits: [0; 5],
    };
    for packet in corpus() {
        exercise_all(&packet, &mut cx);
    }
    // Every layer is reached by some corpus entry.
    assert!(cx.hits.iter().all(|&n| n > 0), "{:?}", cx.hits);
    let frame = eth_frame(EtherType::Ipv4, &ip_packet(IpProtocol::Tcp, &[]));
    assert_eq!(frame.len(), 60);
}

#[test]
fn fuzz_no_panics() {
    let seed = seed_from_env();
    let iterations = iterations();
    let corpus = corpus();
    let mut rng = Rng::new(seed);
    let mut cx = Ctx {
        rng: Rng::new(!seed),
        hits: [0; 5],
    };
    for iteration in 0..iterations {
        let input = next_input(&mut rng, &corpus);
        let outcome = catch_unwind(AssertUnwindSafe(|| exercise_all(&input, &mut cx)));
        assert!(
            outcome.is_ok(),
            "wire fuzz panicked: WIRE_SEED={seed:#x} iteration {iteration} input {input:02x?}"
        );
    }
    eprintln!(
        "wire fuzz: WIRE_SEED={seed:#x}, successful parses {:?}",
        cx.hits
    );
    // Each layer must have parsed a fair share of inputs, or the mutations
    // are not reaching the code under test.
    assert!(
        cx.hits.iter().all(|&n| n >= iterations / 50),
        "too few successful parses (Ethernet, ARP, IPv4, ICMP, TCP): {:?}, WIRE_SEED={seed:#x}",
        cx.hits
    );
}
