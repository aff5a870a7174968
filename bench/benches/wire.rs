//! Parse and emit of each header, and the Internet checksum.
//!
//! - `parse/*`: `new_checked` + `Repr::parse` of one header from bytes
//!   (checksums verified where the format has one);
//! - `emit/*`: writing one header from its representation into a buffer
//!   (checksums filled);
//! - `checksum/N`: the RFC 1071 sum over N bytes, reported in bytes/s.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stack::wire::checksum;
use stack::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr,
    Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr, SackBlock, SeqNumber, TcpFlags,
    TcpPacket, TcpRepr, TcpTimestamp,
};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn eth() -> EthernetRepr {
    EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
        ethertype: EtherType::Ipv4,
    }
}

fn ip(len: usize) -> Ipv4Repr {
    Ipv4Repr {
        src_addr: A,
        dst_addr: B,
        protocol: IpProtocol::Tcp,
        payload_len: len,
        ttl: 64,
        dont_frag: true,
        ident: 7,
    }
}

fn arp() -> ArpRepr {
    ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        source_protocol_addr: A,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: B,
    }
}

/// A data segment with the options a modern peer sends on every segment.
fn tcp_data(payload: &[u8]) -> TcpRepr<'_> {
    TcpRepr {
        src_port: 49152,
        dst_port: 80,
        flags: TcpFlags::ACK | TcpFlags::PSH,
        seq_number: SeqNumber(1_000_000),
        ack_number: SeqNumber(2_000_000),
        window_len: 65535,
        timestamp: Some(TcpTimestamp { tsval: 1, tsecr: 2 }),
        urgent_at: 0,
        payload,
        ..TcpRepr::default()
    }
}

fn tcp_syn() -> TcpRepr<'static> {
    TcpRepr {
        flags: TcpFlags::SYN,
        max_seg_size: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        ack_number: SeqNumber(0),
        ..tcp_data(&[])
    }
}

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    let mut eth_bytes = [0u8; 14];
    eth().emit(&mut EthernetFrame::new_unchecked(&mut eth_bytes[..]));
    g.bench_function("ethernet", |b| {
        b.iter(|| {
            EthernetRepr::parse(&EthernetFrame::new_checked(black_box(&eth_bytes[..])).unwrap())
                .unwrap()
        })
    });
    let mut arp_bytes = [0u8; 28];
    arp().emit(&mut ArpPacket::new_unchecked(&mut arp_bytes[..]));
    g.bench_function("arp", |b| {
        b.iter(|| {
            ArpRepr::parse(&ArpPacket::new_checked(black_box(&arp_bytes[..])).unwrap()).unwrap()
        })
    });
    let mut ip_bytes = vec![0u8; 20 + 1480];
    ip(1480).emit(&mut Ipv4Packet::new_unchecked(&mut ip_bytes[..]), true);
    g.bench_function("ipv4", |b| {
        b.iter(|| {
            Ipv4Repr::parse(
                &Ipv4Packet::new_checked(black_box(&ip_bytes[..])).unwrap(),
                true,
            )
            .unwrap()
        })
    });
    let echo = Icmpv4Repr::EchoRequest {
        ident: 1,
        seq_no: 2,
        data: &[0x55; 56],
    };
    let mut icmp_bytes = vec![0u8; echo.buffer_len()];
    echo.emit(&mut Icmpv4Packet::new_unchecked(&mut icmp_bytes[..]));
    g.bench_function("icmpv4_echo_64", |b| {
        b.iter(|| {
            Icmpv4Repr::parse(
                &Icmpv4Packet::new_checked(black_box(&icmp_bytes[..])).unwrap(),
                true,
            )
            .unwrap()
        })
    });
    for (name, repr) in [
        ("tcp_syn_options", tcp_syn()),
        ("tcp_data_1448", tcp_data(&[0xab; 1448])),
    ] {
        let mut bytes = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut bytes[..]), A, B, true);
        g.bench_function(format!("{name}_no_checksum"), |b| {
            b.iter(|| {
                TcpRepr::parse(
                    &TcpPacket::new_checked(black_box(&bytes[..])).unwrap(),
                    A,
                    B,
                    false,
                )
                .unwrap()
            })
        });
        g.bench_function(format!("{name}_with_checksum"), |b| {
            b.iter(|| {
                TcpRepr::parse(
                    &TcpPacket::new_checked(black_box(&bytes[..])).unwrap(),
                    A,
                    B,
                    true,
                )
                .unwrap()
            })
        });
    }
    g.finish();
}

fn emit(c: &mut Criterion) {
    let mut g = c.benchmark_group("emit");
    let mut buf = vec![0u8; 2048];
    g.bench_function("ethernet", |b| {
        b.iter(|| black_box(eth()).emit(&mut EthernetFrame::new_unchecked(&mut buf[..14])))
    });
    g.bench_function("arp", |b| {
        b.iter(|| black_box(arp()).emit(&mut ArpPacket::new_unchecked(&mut buf[..28])))
    });
    g.bench_function("ipv4_with_checksum", |b| {
        b.iter(|| black_box(ip(1480)).emit(&mut Ipv4Packet::new_unchecked(&mut buf[..20]), true))
    });
    let syn = tcp_syn();
    g.bench_function("tcp_syn_options_header", |b| {
        b.iter(|| black_box(&syn).emit_header(&mut buf[..syn.header_len()]))
    });
    let sack = TcpRepr {
        sack_blocks: [
            Some(SackBlock {
                left: SeqNumber(10),
                right: SeqNumber(20),
            }),
            Some(SackBlock {
                left: SeqNumber(30),
                right: SeqNumber(40),
            }),
            None,
            None,
        ],
        ..tcp_data(&[])
    };
    g.bench_function("tcp_ack_sack_timestamps_header", |b| {
        b.iter(|| black_box(&sack).emit_header(&mut buf[..sack.header_len()]))
    });
    let payload = [0xcd; 1448];
    let data = tcp_data(&payload);
    let mut header = vec![0u8; data.header_len()];
    g.bench_function("tcp_data_1448_header_and_checksum", |b| {
        b.iter(|| {
            black_box(&data).emit_header(&mut header);
            stack::wire::tcp::tcp_checksum(A, B, &header, black_box(&payload))
        })
    });
    g.finish();
}

fn internet_checksum(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    for n in [64usize, 576, 1500, 9000] {
        let data: Vec<u8> = (0..n).map(|i| (i * 31) as u8).collect();
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_function(n.to_string(), |b| {
            b.iter(|| checksum::checksum(black_box(&data)))
        });
    }
    g.finish();
}

criterion_group!(benches, parse, emit, internet_checksum);
criterion_main!(benches);
