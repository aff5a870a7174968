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
//! [`sum`] therefore adds the data as native-endian 32-bit words into eight
//! 64-bit lanes (independent additions the compiler turns into vector
//! adds, no byte swapping in the loop), folds the lanes to 16 bits and
//! swaps the bytes once at the end when the machine is little-endian;
//! short data (headers) goes as big-endian 64-bit words, where that final
//! step would cost more than the lanes save.

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
    if data.len() < WIDE_FROM {
        return sum_narrow(data, initial);
    }
    // Each lane takes at most one 32-bit word per 32 bytes of data, so it
    // cannot overflow below 2^32 words (16 GiB).
    let mut lanes = [0u64; 8];
    let mut blocks = data.chunks_exact(32);
    for block in &mut blocks {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(4)) {
            *lane += u64::from(ne_u32(word));
        }
    }
    let mut acc: u128 = lanes.iter().map(|&l| u128::from(l)).sum();
    let mut words = blocks.remainder().chunks_exact(4);
    for word in &mut words {
        acc += u128::from(ne_u32(word));
    }
    // 0..=3 trailing bytes, zero-padded after them: exactly RFC 1071's
    // padding, the data being a whole number of 16-bit words before them.
    let tail = words.remainder();
    let mut last = [0u8; 4];
    last[..tail.len()].copy_from_slice(tail);
    acc += u128::from(u32::from_ne_bytes(last));
    // The sum of native-endian words, folded, is the big-endian sum with
    // its bytes swapped on a little-endian machine (RFC 1071 2(B)).
    let native = fold(reduce_to_u32(acc));
    let big_endian = if cfg!(target_endian = "little") {
        native.swap_bytes()
    } else {
        native
    };
    reduce_to_u32(u128::from(initial) + u128::from(big_endian))
}

/// Below this many bytes (headers, small payloads) the lanes' final fold
/// and swap cost more than they save: [`sum_narrow`] adds big-endian
/// 64-bit words instead.
const WIDE_FROM: usize = 64;

/// [`sum`] for short data: big-endian 64-bit words into a 128-bit
/// accumulator that cannot overflow.
fn sum_narrow(data: &[u8], initial: u64) -> u64 {
    let mut acc = u128::from(initial);
    let mut words = data.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        acc += u128::from(u64::from_be_bytes(w));
    }
    // 0..=7 trailing bytes: left-aligned in a zeroed word, RFC 1071's
    // zero padding.
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

fn ne_u32(bytes: &[u8]) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(bytes);
    u32::from_ne_bytes(word)
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

    // The lanes run over whole 32-byte blocks: long data, every offset
    // and every remainder, against the word-by-word sum.
    #[test]
    fn matches_naive_on_long_data() {
        let mut state = 0x5eed_0009;
        let mut backing = vec![0u8; 9100];
        for round in 0..2 {
            for b in backing.iter_mut() {
                *b = splitmix(&mut state) as u8;
            }
            if round == 1 {
                backing.fill(0xff);
            }
            for offset in 0..4 {
                for len in (300..9000).step_by(97).chain([1448, 1460, 8960, 9000]) {
                    let data = &backing[offset..offset + len];
                    assert_eq!(
                        fold(sum(data, 0)),
                        naive_sum(data),
                        "round {round} offset {offset} len {len}"
                    );
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
