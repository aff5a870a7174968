//! TCP tests: a real SYN, option encoding, checksums, sequence numbers and
//! flags.

use std::net::Ipv4Addr;

use super::super::tcp::{self, tcp_checksum};
use super::super::{
    SackBlock, SeqNumber, TcpFlags, TcpOption, TcpPacket, TcpRepr, TcpTimestamp, WireError,
};
use super::Rng;

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// A Linux-style SYN 10.0.0.1:45678 → 10.0.0.2:80, seq 0x12345678, window
/// 64240, options "mss 1460, sackOK, TS val 0x0a0b0c0d ecr 0, nop,
/// wscale 7", checksum 0x078a computed independently.
const SYN: [u8; 40] = [
    0xb2, 0x6e, 0x00, 0x50, // ports
    0x12, 0x34, 0x56, 0x78, // seq
    0x00, 0x00, 0x00, 0x00, // ack
    0xa0, 0x02, 0xfa, 0xf0, // data offset 10, SYN, window 64240
    0x07, 0x8a, 0x00, 0x00, // checksum, urgent
    0x02, 0x04, 0x05, 0xb4, // MSS 1460
    0x04, 0x02, // SACK permitted
    0x08, 0x0a, 0x0a, 0x0b, 0x0c, 0x0d, 0x00, 0x00, 0x00, 0x00, // TS
    0x01, // NOP
    0x03, 0x03, 0x07, // WS 7
];

#[test]
fn syn_known_bytes() {
    let packet = TcpPacket::new_checked(&SYN[..]).unwrap();
    assert_eq!(packet.src_port(), 45678);
    assert_eq!(packet.dst_port(), 80);
    assert_eq!(packet.seq_number(), SeqNumber(0x1234_5678));
    assert_eq!(packet.ack_number(), SeqNumber(0));
    assert_eq!(packet.header_len(), 40);
    assert_eq!(packet.flags(), TcpFlags::SYN);
    assert_eq!(packet.window_len(), 64240);
    assert_eq!(packet.checksum(), 0x078a);
    assert_eq!(packet.urgent_at(), 0);
    assert_eq!(packet.options(), &SYN[20..]);
    assert!(packet.payload().is_empty());
    assert_eq!(packet.segment_len(), 1);
    assert!(packet.verify_checksum(SRC, DST));
    assert!(!packet.verify_checksum(SRC, Ipv4Addr::new(10, 0, 0, 3)));

    // Walk the options one by one.
    let mut rest = packet.options();
    let mut seen = Vec::new();
    while !rest.is_empty() {
        let (next, option) = TcpOption::parse(rest).unwrap();
        seen.push(option);
        rest = next;
    }
    let ts = TcpTimestamp {
        tsval: 0x0a0b_0c0d,
        tsecr: 0,
    };
    assert_eq!(
        seen,
        [
            TcpOption::MaxSegmentSize(1460),
            TcpOption::SackPermitted,
            TcpOption::Timestamp(ts),
            TcpOption::NoOperation,
            TcpOption::WindowScale(7),
        ]
    );

    let repr = TcpRepr::parse(&packet, SRC, DST, true).unwrap();
    let expected = TcpRepr {
        src_port: 45678,
        dst_port: 80,
        flags: TcpFlags::SYN,
        seq_number: SeqNumber(0x1234_5678),
        ack_number: SeqNumber(0),
        window_len: 64240,
        max_seg_size: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        sack_blocks: [None; 4],
        timestamp: Some(ts),
        urgent_at: 0,
        payload: &[],
    };
    assert_eq!(repr, expected);
    assert_eq!(repr.segment_len(), 1);
    assert_eq!(
        repr.to_string(),
        "TCP 45678 > 80 [S] seq 305419896 win 64240 len 0 mss 1460 wscale 7 sackOK \
         TS val 168496141 ecr 0"
    );

    // Our layout puts NOP+WS before SACKperm+TS; same length, same meaning.
    assert_eq!(repr.header_len(), 40);
    let mut out = [0u8; 40];
    repr.emit(&mut TcpPacket::new_unchecked(&mut out[..]), SRC, DST, true);
    // Reordering whole 32-bit words keeps even the checksum.
    assert_eq!(out[..20], SYN[..20]);
    assert_eq!(
        out[20..],
        [
            0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x07, 0x04, 0x02, 0x08, 0x0a, 0x0a, 0x0b,
            0x0c, 0x0d, 0x00, 0x00, 0x00, 0x00
        ]
    );
    let packet = TcpPacket::new_checked(&out[..]).unwrap();
    assert!(packet.verify_checksum(SRC, DST));
    assert_eq!(TcpRepr::parse(&packet, SRC, DST, true), Ok(expected));
}

fn base_repr(payload: &[u8]) -> TcpRepr<'_> {
    TcpRepr {
        src_port: 443,
        dst_port: 50000,
        flags: TcpFlags::ACK | TcpFlags::PSH,
        seq_number: SeqNumber(0xffff_fff0),
        ack_number: SeqNumber(7),
        window_len: 512,
        urgent_at: 0,
        payload,
        ..TcpRepr::default()
    }
}

fn round_trip(repr: &TcpRepr<'_>) -> Vec<u8> {
    let mut buf = vec![0x5au8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST, true);
    let packet = TcpPacket::new_checked(&buf[..]).unwrap();
    assert!(packet.verify_checksum(SRC, DST));
    let mut expected = *repr;
    for slot in &mut expected.sack_blocks[repr.emitted_sack_blocks()..] {
        *slot = None;
    }
    assert_eq!(TcpRepr::parse(&packet, SRC, DST, true), Ok(expected));
    buf
}

#[test]
fn option_combinations_round_trip() {
    let block = |i: u32| SackBlock {
        left: SeqNumber(i * 1000),
        right: SeqNumber(i * 1000 + 500),
    };
    let payload: Vec<u8> = (0..37).collect();
    for mask in 0..16u32 {
        for sacks in 0..=4usize {
            let mut repr = base_repr(&payload);
            repr.max_seg_size = (mask & 1 != 0).then_some(9000);
            repr.window_scale = (mask & 2 != 0).then_some(14);
            repr.sack_permitted = mask & 4 != 0;
            repr.timestamp = (mask & 8 != 0).then_some(TcpTimestamp {
                tsval: 1,
                tsecr: u32::MAX,
            });
            for (i, slot) in repr.sack_blocks.iter_mut().take(sacks).enumerate() {
                *slot = Some(block(i as u32 + 1));
            }
            let header_len = repr.header_len();
            assert!(header_len <= tcp::MAX_HEADER_LEN && header_len % 4 == 0);
            let fixed = [(1, 4), (2, 4)]
                .iter()
                .filter(|(bit, _)| mask & bit != 0)
                .map(|(_, len)| len)
                .sum::<usize>()
                + match (mask & 4 != 0, mask & 8 != 0) {
                    (_, true) => 12,
                    (true, false) => 4,
                    (false, false) => 0,
                };
            // As many SACK blocks as fit are kept.
            let fit = sacks.min((40 - fixed - 4) / 8);
            assert_eq!(repr.emitted_sack_blocks(), fit, "mask {mask} sacks {sacks}");
            let sack_len = if fit > 0 { 4 + 8 * fit } else { 0 };
            assert_eq!(header_len, 20 + fixed + sack_len);
            round_trip(&repr);
            // The same with an empty and an odd one-byte payload.
            round_trip(&TcpRepr {
                urgent_at: 0,
                payload: &[],
                ..repr
            });
            round_trip(&TcpRepr {
                urgent_at: 0,
                payload: &[0xff],
                ..repr
            });
        }
    }
}

#[test]
fn sack_block_limits() {
    let mut repr = base_repr(&[]);
    for (i, slot) in repr.sack_blocks.iter_mut().enumerate() {
        *slot = Some(SackBlock {
            left: SeqNumber(i as u32 * 10),
            right: SeqNumber(i as u32 * 10 + 5),
        });
    }
    assert_eq!(repr.emitted_sack_blocks(), 4);
    assert_eq!(repr.header_len(), 20 + 4 + 32);
    repr.timestamp = Some(TcpTimestamp::default());
    assert_eq!(repr.emitted_sack_blocks(), 3, "Linux also sends 3 with TS");
    assert_eq!(repr.header_len(), 20 + 12 + 4 + 24);
    repr.max_seg_size = Some(1);
    repr.window_scale = Some(1);
    repr.sack_permitted = true;
    assert_eq!(repr.emitted_sack_blocks(), 2);
    assert_eq!(repr.header_len(), 60);
    let buf = round_trip(&repr);
    let sack = [
        1, 1, 5, 18, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 10, 0, 0, 0, 15,
    ];
    assert_eq!(&buf[40..], &sack);
    // Holes in the array are skipped, order kept.
    let mut holes = base_repr(&[]);
    holes.sack_blocks[1] = Some(SackBlock {
        left: SeqNumber(1),
        right: SeqNumber(2),
    });
    assert_eq!(holes.emitted_sack_blocks(), 1);
    let mut buf = vec![0u8; holes.buffer_len()];
    holes.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST, true);
    let parsed = TcpRepr::parse(&TcpPacket::new_checked(&buf[..]).unwrap(), SRC, DST, true);
    assert_eq!(parsed.unwrap().sack_blocks[0], holes.sack_blocks[1]);
}

#[test]
fn exact_option_layouts() {
    let header = |repr: &TcpRepr<'_>| {
        let mut buf = vec![0u8; repr.header_len()];
        repr.emit_header(&mut buf);
        buf[20..].to_vec()
    };
    let mut repr = base_repr(&[]);
    assert!(header(&repr).is_empty());
    repr.timestamp = Some(TcpTimestamp {
        tsval: 0x0102_0304,
        tsecr: 0x0506_0708,
    });
    assert_eq!(header(&repr), [1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
    repr.timestamp = None;
    repr.sack_permitted = true;
    assert_eq!(header(&repr), [1, 1, 4, 2]);
    repr.max_seg_size = Some(536);
    repr.window_scale = Some(0);
    assert_eq!(header(&repr), [2, 4, 2, 24, 1, 3, 3, 0, 1, 1, 4, 2]);
}

#[test]
fn emit_header_leaves_payload_alone_and_checksum_splits() {
    let payload: Vec<u8> = (0..=200u8).collect();
    let mut repr = base_repr(&payload);
    repr.timestamp = Some(TcpTimestamp { tsval: 9, tsecr: 8 });
    let header_len = repr.header_len();
    let mut buf = vec![0xeeu8; header_len + payload.len()];
    repr.emit_header(&mut buf);
    assert!(buf[header_len..].iter().all(|&b| b == 0xee));
    assert_eq!(TcpPacket::new_checked(&buf[..]).unwrap().checksum(), 0);
    buf[header_len..].copy_from_slice(&payload);

    // Reference: fill_checksum over the contiguous segment.
    let mut whole = buf.clone();
    TcpPacket::new_unchecked(&mut whole[..]).fill_checksum(SRC, DST);
    let reference = TcpPacket::new_unchecked(&whole[..]).checksum();
    assert_eq!(
        tcp_checksum(SRC, DST, &buf[..header_len], &payload),
        reference
    );
    assert_eq!(
        TcpRepr::tcp_checksum(SRC, DST, &buf[..header_len], &payload),
        reference
    );
    // Any split point, odd ones included, gives the same value.
    for split in 0..=buf.len() {
        assert_eq!(
            tcp_checksum(SRC, DST, &buf[..split], &buf[split..]),
            reference,
            "split {split}"
        );
    }
    // So does a payload in several parts, of odd and even lengths, at
    // every pair of cut points.
    for a in 0..=payload.len() {
        for b in a..=payload.len() {
            let parts = [&payload[..a], &payload[a..b], &payload[b..]];
            assert_eq!(
                tcp::tcp_checksum_parts(SRC, DST, &buf[..header_len], parts),
                reference,
                "cuts {a} and {b}"
            );
        }
    }
    // Checksum offload: emit without filling leaves zero.
    let mut offload = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut TcpPacket::new_unchecked(&mut offload[..]),
        SRC,
        DST,
        false,
    );
    assert_eq!(TcpPacket::new_unchecked(&offload[..]).checksum(), 0);
    assert_eq!(&offload[..header_len], &buf[..header_len]);
}

#[test]
fn parse_semantics() {
    let mut buf = SYN;
    // Window scale 15 is clamped to 14 (RFC 7323 §2.3).
    buf[39] = 15;
    let mut packet = TcpPacket::new_unchecked(&mut buf[..]);
    // ACK number is ignored without the ACK flag.
    packet.set_ack_number(SeqNumber(99));
    packet.fill_checksum(SRC, DST);
    let repr = TcpRepr::parse(&TcpPacket::new_checked(&buf[..]).unwrap(), SRC, DST, true);
    let repr = repr.unwrap();
    assert_eq!(repr.window_scale, Some(14));
    assert_eq!(repr.ack_number, SeqNumber(0));

    let mut packet = TcpPacket::new_unchecked(&mut buf[..]);
    packet.set_flags(TcpFlags::SYN | TcpFlags::ACK);
    // Unknown option kind 30 (len 4) replaces the final NOP+WS, then EOL
    // padding with garbage after it.
    packet.options_mut()[16..].copy_from_slice(&[30, 4, 0xde, 0xad]);
    packet.fill_checksum(SRC, DST);
    let repr = TcpRepr::parse(&TcpPacket::new_checked(&buf[..]).unwrap(), SRC, DST, true);
    let repr = repr.unwrap();
    assert_eq!(repr.ack_number, SeqNumber(99));
    assert_eq!(repr.window_scale, None);
    let mut eol = SYN;
    eol[26..].copy_from_slice(&[
        0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
    let repr = TcpRepr::parse(&TcpPacket::new_checked(&eol[..]).unwrap(), SRC, DST, false);
    let repr = repr.unwrap();
    assert_eq!((repr.max_seg_size, repr.sack_permitted), (Some(1460), true));
    assert_eq!((repr.timestamp, repr.window_scale), (None, None));

    // Payload borrows from the buffer, not the view.
    let data = round_trip(&base_repr(b"hello"));
    let payload = {
        let packet = TcpPacket::new_checked(&data[..]).unwrap();
        TcpRepr::parse(&packet, SRC, DST, true).unwrap().payload
    };
    assert_eq!(payload, b"hello");
}

#[test]
fn packet_errors() {
    let check = |bytes: &[u8]| TcpPacket::new_checked(bytes).map(|_| ());
    for len in 0..20 {
        assert_eq!(check(&SYN[..len]), Err(WireError::Truncated));
        let unchecked = TcpPacket::new_unchecked(&SYN[..len]);
        assert_eq!(
            TcpRepr::parse(&unchecked, SRC, DST, false),
            Err(WireError::Truncated)
        );
    }
    assert_eq!(check(&SYN[..39]), Err(WireError::Truncated));
    let mut doff4 = SYN;
    doff4[12] = 0x40;
    assert_eq!(check(&doff4), Err(WireError::BadLength));
    let mut doff15 = SYN;
    doff15[12] = 0xf0;
    assert_eq!(check(&doff15), Err(WireError::Truncated));

    let packet = TcpPacket::new_checked(&SYN[..]).unwrap();
    assert_eq!(
        TcpRepr::parse(&packet, DST, SRC, true).map(|_| ()),
        Ok(()),
        "swapping addresses keeps the sum"
    );
    assert_eq!(
        TcpRepr::parse(&packet, SRC, Ipv4Addr::new(1, 1, 1, 1), true),
        Err(WireError::BadChecksum)
    );
    for at in [0, 2] {
        let mut zero_port = SYN;
        zero_port[at..at + 2].fill(0);
        let packet = TcpPacket::new_checked(&zero_port[..]).unwrap();
        assert_eq!(
            TcpRepr::parse(&packet, SRC, DST, false),
            Err(WireError::Unsupported)
        );
    }
}

#[test]
fn bad_options_are_rejected() {
    let mut five_blocks = vec![5u8, 42];
    five_blocks.resize(42, 0);
    let mut twelve = vec![5u8, 14];
    twelve.resize(14, 0);
    let cases: [&[u8]; 12] = [
        &[2],                      // no length byte
        &[2, 0],                   // length below 2
        &[30, 1],                  // length below 2, unknown kind
        &[30, 9, 0],               // length past the end
        &[2, 3, 1],                // MSS length 3
        &[3, 4, 1, 1],             // window scale length 4
        &[4, 3, 0],                // SACK-permitted length 3
        &[8, 8, 0, 0, 0, 0, 0, 0], // timestamps length 8
        &[5, 2],                   // SACK without blocks
        &[5, 6, 0, 0, 0, 0],       // SACK not 2 + 8n
        &twelve,                   // SACK 2 + 12
        &five_blocks,              // SACK with 5 blocks
    ];
    for case in cases {
        assert_eq!(
            TcpOption::parse(case),
            Err(WireError::BadOption),
            "{case:?}"
        );
    }
    assert_eq!(TcpOption::parse(&[]), Err(WireError::Truncated));

    // In a segment, a bad option is BadOption whatever the inner error.
    let mut buf = SYN;
    buf[36..].copy_from_slice(&[1, 1, 3, 9]);
    let packet = TcpPacket::new_checked(&buf[..]).unwrap();
    assert_eq!(
        TcpRepr::parse(&packet, SRC, DST, false),
        Err(WireError::BadOption)
    );
}

#[test]
fn options_parse_and_emit() {
    let blocks = [
        Some(SackBlock {
            left: SeqNumber(1),
            right: SeqNumber(2),
        }),
        Some(SackBlock {
            left: SeqNumber(u32::MAX),
            right: SeqNumber(3),
        }),
        None,
        None,
    ];
    let options = [
        TcpOption::EndOfList,
        TcpOption::NoOperation,
        TcpOption::MaxSegmentSize(1460),
        TcpOption::WindowScale(15),
        TcpOption::SackPermitted,
        TcpOption::Sack { blocks },
        TcpOption::Timestamp(TcpTimestamp { tsval: 5, tsecr: 6 }),
        TcpOption::Unknown {
            kind: 253,
            data: &[1, 2, 3],
        },
    ];
    for option in options {
        let mut buf = [0xaau8; 40];
        let len = option.emit(&mut buf);
        assert_eq!(len, option.buffer_len());
        let (rest, parsed) = TcpOption::parse(&buf[..len + 1]).unwrap();
        assert_eq!(parsed, option);
        let expected_rest: &[u8] = if option == TcpOption::EndOfList {
            &[]
        } else {
            &[0xaa]
        };
        assert_eq!(rest, expected_rest);
        assert!(!option.to_string().is_empty());
    }
    let empty_sack = TcpOption::Sack { blocks: [None; 4] };
    assert_eq!(empty_sack.buffer_len(), 0);
    assert_eq!(empty_sack.emit(&mut []), 0);
    let long = [7u8; 300];
    let unknown = TcpOption::Unknown {
        kind: 99,
        data: &long,
    };
    assert_eq!(unknown.buffer_len(), 255);
}

#[test]
fn seq_number_wraparound() {
    let max = SeqNumber(u32::MAX);
    let zero = SeqNumber(0);
    // (Arrays, since clippy's boolean simplification assumes a total order.)
    assert_eq!(
        [max < zero, zero > max, max <= zero, max != zero],
        [true; 4]
    );
    assert_eq!(max + 1, zero);
    assert_eq!(zero - 1, max);
    assert_eq!(max + 2usize, SeqNumber(1));
    assert_eq!(zero.wrapping_diff(max), 1);
    assert_eq!(max.wrapping_diff(zero), -1);
    assert_eq!(SeqNumber(10).wrapping_diff(SeqNumber(3)), 7);
    assert!(SeqNumber(0x8000_0005) > SeqNumber(6));
    assert!(SeqNumber(0x7fff_ffff) > SeqNumber(0));
    assert!(SeqNumber(0x8000_0001) < SeqNumber(0));
    // Exactly half the space apart: incomparable both ways.
    let a = SeqNumber(5);
    let b = SeqNumber(0x8000_0005);
    for (x, y) in [(a, b), (b, a)] {
        assert_eq!(x.partial_cmp(&y), None);
        assert_eq!([x < y, x <= y, x > y, x >= y], [false; 4]);
    }
    assert_eq!(a.max(b), a);
    assert_eq!(max.max(zero), zero);
    assert_eq!(zero.max(max), zero);
    assert_eq!(max.min(zero), max);
    assert_eq!(zero.min(max), max);
    let mut s = SeqNumber(u32::MAX - 1);
    s += 3;
    assert_eq!(s, SeqNumber(1));
    s -= 2;
    assert_eq!(s, max);
    // Adding more than 2^32 truncates, i.e. stays correct modulo 2^32.
    #[cfg(target_pointer_width = "64")]
    assert_eq!(SeqNumber(1) + ((1usize << 32) + 5), SeqNumber(6));
    assert!(SeqNumber(2).in_range(max, SeqNumber(3)));
    assert!(max.in_range(max, SeqNumber(3)));
    assert!(!SeqNumber(3).in_range(max, SeqNumber(3)));
    assert!(!SeqNumber(2).in_range(SeqNumber(2), SeqNumber(2)));
    assert_eq!(max.to_string(), "4294967295");
    assert_eq!(u32::from(SeqNumber::from(7)), 7);
}

#[test]
fn seq_number_order_matches_signed_distance() {
    let mut rng = Rng::new(super::seed_from_env());
    for _ in 0..10_000 {
        let a = SeqNumber(rng.next_u64() as u32);
        let d = (rng.next_u64() as u32 % 0x7fff_ffff) as usize + 1;
        let b = a + d;
        assert_eq!([a < b, b > a, a <= b, b >= a], [true; 4], "{a} {d}");
        assert_eq!(b - d, a);
        assert_eq!(b.wrapping_diff(a), d as i32);
    }
}

#[test]
fn flags_display() {
    let f = TcpFlags::FIN;
    let s = TcpFlags::SYN;
    let r = TcpFlags::RST;
    let p = TcpFlags::PSH;
    let a = TcpFlags::ACK;
    assert_eq!(s.to_string(), "S");
    assert_eq!((s | a).to_string(), "S.");
    assert_eq!((f | a).to_string(), "F.");
    assert_eq!((p | a).to_string(), "P.");
    assert_eq!(r.to_string(), "R");
    assert_eq!((r | a).to_string(), "R.");
    assert_eq!(a.to_string(), ".");
    assert_eq!(TcpFlags::empty().to_string(), "none");
    assert_eq!(TcpFlags(0xff).to_string(), "FSRPUEW.");
    assert_eq!((TcpFlags::ECE | TcpFlags::CWR | s).to_string(), "SEW");
    assert_eq!(format!("{:?}", s | a), "S.");
    assert_eq!(format!("[{:>3}]", s | a), "[ S.]");
}

#[test]
fn flags_set_operations() {
    let mut flags = TcpFlags::default();
    assert!(flags.is_empty());
    flags.insert(TcpFlags::SYN);
    flags |= TcpFlags::ACK;
    assert!(flags.contains(TcpFlags::SYN | TcpFlags::ACK));
    assert!(!flags.contains(TcpFlags::SYN | TcpFlags::FIN));
    assert!(flags.intersects(TcpFlags::SYN | TcpFlags::FIN));
    flags.remove(TcpFlags::SYN);
    assert_eq!(flags, TcpFlags::ACK);
    flags.set(TcpFlags::FIN, true);
    assert_eq!(flags & TcpFlags::FIN, TcpFlags::FIN);
    flags.set(TcpFlags::FIN, false);
    assert_eq!(flags, TcpFlags::ACK);
    assert!(!flags.is_empty());
    let seg = TcpRepr {
        flags: TcpFlags::SYN | TcpFlags::FIN,
        urgent_at: 0,
        payload: b"abc",
        ..TcpRepr::default()
    };
    assert_eq!(seg.segment_len(), 5);
}

#[test]
fn packet_setters() {
    let mut buf = [0u8; 30];
    let mut packet = TcpPacket::new_unchecked(&mut buf[..]);
    packet.set_src_port(1);
    packet.set_dst_port(2);
    packet.set_seq_number(SeqNumber(3));
    packet.set_ack_number(SeqNumber(4));
    packet.set_header_len(24);
    packet.set_flags(TcpFlags::URG | TcpFlags::ACK);
    packet.set_window_len(5);
    packet.set_urgent_at(6);
    packet.options_mut().copy_from_slice(&[1, 1, 1, 1]);
    packet.payload_mut().copy_from_slice(&[9; 6]);
    let packet = TcpPacket::new_checked(&buf[..]).unwrap();
    assert_eq!((packet.src_port(), packet.dst_port()), (1, 2));
    assert_eq!(packet.seq_number(), SeqNumber(3));
    assert_eq!(packet.ack_number(), SeqNumber(4));
    assert_eq!(packet.header_len(), 24);
    assert_eq!(packet.flags().to_string(), "U.");
    assert_eq!((packet.window_len(), packet.urgent_at()), (5, 6));
    assert_eq!(packet.options(), &[1, 1, 1, 1]);
    assert_eq!(packet.payload(), &[9; 6]);
    // Setting a data offset past the buffer cannot make accessors panic.
    let mut packet = TcpPacket::new_unchecked(&mut buf[..]);
    packet.set_header_len(60);
    assert_eq!(packet.options().len(), 10);
    assert!(packet.payload().is_empty());
    assert_eq!(packet.options_mut().len(), 10);
}
