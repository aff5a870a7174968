//! The Internet checksum (RFC 1071).
//!
//! RFC 1071 §1: "Adjacent octets to be checksummed are paired to form
//! 16-bit integers, and the 1's complement sum of these 16-bit integers is
//! formed." Three properties of the 1's complement sum make it cheap:
//!
//! * it is commutative and associative, so words can be added in any order
//!   and in any grouping, and partial sums over separate buffers combine by
//!   plain addition (as long as each buffer but the last has even length);
//! * it is byte-order independent in the sense that wider words work too:
//!   since 2^16 ≡ 1 (mod 2^16 - 1), adding big-endian 64-bit words and
//!   folding the carries back in gives the same result as adding 16-bit
//!   words ("deferred carries", RFC 1071 §2(C));
//! * a sum over data shifted by one byte is the byte-swapped sum (§2(B)).
//!
//! [`sum`] therefore adds 8 bytes at a time into a 128-bit accumulator that
//! cannot overflow, and only [`fold`] reduces to 16 bits at the very end.

use std::net::Ipv4Addr;

/// Adds the 16-bit big-endian words of `data` to `initial` and returns the
/// *unfolded* partial sum.
///
/// An odd trailing byte is treated as the high byte of a word whose low
/// byte is zero (RFC 1071 §4.1). Consequently partial sums may be chained
/// (`sum(b, sum(a, 0))`) or added (`sum(a, 0) + sum(b, 0)`) only when `a`
/// has even length; see [`super::tcp::tcp_checksum`] for the odd case.
///
/// The returned value is congruent to the true sum modulo 2^16 - 1 and is
/// below 2^32, so thousands of partial sums can be added with plain `+`
/// before a [`fold`] without any risk of overflow.
pub fn sum(data: &[u8], initial: u64) -> u64 {
    let mut acc = u128::from(initial);
    // Four independent 64-bit loads per iteration; their sum fits in u128
    // with room to spare, and the wide adds keep carries exact.
    let mut blocks = data.chunks_exact(32);
    for block in &mut blocks {
        let (a, rest) = block.split_at(8);
        let (b, rest) = rest.split_at(8);
        let (c, d) = rest.split_at(8);
        acc += u128::from(be_u64(a)) + u128::from(be_u64(b));
        acc += u128::from(be_u64(c)) + u128::from(be_u64(d));
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for word in &mut words {
        acc += u128::from(be_u64(word));
    }
    // 0..=7 trailing bytes: left-align them in a zeroed word. The tail
    // starts at an even offset, so this is exactly RFC 1071's zero padding.
    let tail = words.remainder();
    let mut last = [0u8; 8];
    last[..tail.len()].copy_from_slice(tail);
    acc += u128::from(u64::from_be_bytes(last));
    reduce_to_u32(acc)
}

/// Folds an unfolded sum into 16 bits with end-around carry.
///
/// The result is the 1's complement sum, NOT its complement; the value to
/// store in a checksum field is `!fold(..)`, and a received buffer whose
/// checksum field is correct sums (with [`sum`]) to `fold(..) == 0xffff`.
pub fn fold(sum: u64) -> u16 {
    let mut s = sum;
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    // The loop leaves s <= 0xffff, so the cast is lossless.
    s as u16
}

/// The Internet checksum of `data`: the value to store in a checksum field
/// (which must be zero while computing it), i.e. `!fold(sum(data, 0))`.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

/// The unfolded sum of the IPv4 pseudo-header used by TCP and UDP
/// (RFC 9293 §3.1): source address, destination address, a zero byte, the
/// protocol number, and the TCP/UDP length (header plus data).
pub fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u64 {
    let s = src.octets();
    let d = dst.octets();
    let words = [
        u16::from_be_bytes([s[0], s[1]]),
        u16::from_be_bytes([s[2], s[3]]),
        u16::from_be_bytes([d[0], d[1]]),
        u16::from_be_bytes([d[2], d[3]]),
        u16::from(protocol),
        length,
    ];
    words.iter().map(|&w| u64::from(w)).sum()
}

fn be_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    u64::from_be_bytes(word)
}

/// Folds a 128-bit accumulator to below 2^32, preserving its value modulo
/// 2^16 - 1 and its being non-zero (so 0 vs 0xffff come out as RFC 1071's
/// reference algorithm would produce them).
fn reduce_to_u32(acc: u128) -> u64 {
    let mut s = acc;
    while s >> 32 != 0 {
        s = (s & 0xffff_ffff) + (s >> 32);
    }
    // The loop leaves s < 2^32, so the cast is lossless.
    s as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook algorithm, one 16-bit word at a time.
    fn naive_sum(data: &[u8]) -> u16 {
        let mut s: u64 = 0;
        let mut i = 0;
        while i + 1 < data.len() {
            s += u64::from(u16::from_be_bytes([data[i], data[i + 1]]));
            i += 2;
        }
        if i < data.len() {
            s += u64::from(data[i]) << 8;
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d1_049b_b133_111e);
        z ^ (z >> 31)
    }

    #[test]
    fn matches_naive_on_all_lengths_and_alignments() {
        let mut state = 0x00c0_ffee;
        let mut backing = [0u8; 320];
        for round in 0..4 {
            for b in backing.iter_mut() {
                *b = splitmix(&mut state) as u8;
            }
            if round == 3 {
                // All-ones data pushes every carry path.
                backing.fill(0xff);
            }
            for offset in 0..8 {
                for len in 0..300 {
                    let data = &backing[offset..offset + len];
                    assert_eq!(
                        fold(sum(data, 0)),
                        naive_sum(data),
                        "round {round} offset {offset} len {len}"
                    );
                    assert_eq!(checksum(data), !naive_sum(data));
                }
            }
        }
    }

    #[test]
    fn zero_and_all_ones() {
        assert_eq!(fold(sum(&[], 0)), 0);
        assert_eq!(checksum(&[]), 0xffff);
        assert_eq!(fold(sum(&[0xff, 0xff], 0)), 0xffff);
        assert_eq!(fold(sum(&[0xff; 1000], 0)), 0xffff);
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data, 0)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn partial_sums_combine() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1001).collect();
        let whole = fold(sum(&data, 0));
        for split in (0..data.len()).step_by(2) {
            let (a, b) = data.split_at(split);
            assert_eq!(fold(sum(b, sum(a, 0))), whole);
            assert_eq!(fold(sum(a, 0) + sum(b, 0)), whole);
        }
        // Large initial values do not overflow.
        assert_eq!(fold(sum(&[], u64::MAX)), fold(u64::MAX));
        assert!(sum(&data, u64::MAX) < 1 << 32);
    }

    #[test]
    fn pseudo_header() {
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(10, 0, 0, 2);
        let bytes = [10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 40];
        assert_eq!(
            fold(pseudo_header_sum(src, dst, 6, 40)),
            fold(sum(&bytes, 0))
        );
    }
}
