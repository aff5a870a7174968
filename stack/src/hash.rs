//! Keyed hashes used by the engine.
//!
//! * [`SipHasher24`] / [`siphash24`]: SipHash-2-4, a keyed PRF. The engine
//!   uses it wherever an off-path attacker must not be able to predict or
//!   collide the output: initial sequence numbers (RFC 6528), SYN cookies,
//!   and bucketing of the connection table (hash flooding).
//! * [`toeplitz_hash`] / [`toeplitz_ipv4_tcp`]: the Toeplitz hash NICs use for
//!   receive-side scaling. The engine computes it in software to know which
//!   queue (and so which core) the NIC will deliver a flow's packets to, for
//!   example to pick a local port for an outgoing connection whose replies
//!   land on the calling core.
//!
//! Both are pure Rust, allocation-free, and independent of host endianness.

use core::net::Ipv4Addr;

/// SipHash-2-4 with a 128-bit key and 64-bit output, computed incrementally.
///
/// Feeding the same bytes through any sequence of [`write`](Self::write)
/// calls, however split, yields the same result as [`siphash24`] on the
/// concatenation. The hasher lives entirely on the stack and never allocates.
/// It is `Clone` so a caller can absorb a common prefix once and fork it.
#[derive(Clone)]
pub struct SipHasher24 {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
    /// Bytes not yet absorbed, packed little-endian into the low `ntail` bytes.
    tail: u64,
    /// Number of valid bytes in `tail` (always below 8).
    ntail: usize,
    /// Total message length; only its low byte enters the final block.
    length: u64,
}

impl SipHasher24 {
    /// Starts a hash keyed by `key` (interpreted as two little-endian `u64`s,
    /// as in the SipHash reference implementation).
    pub fn new(key: [u8; 16]) -> Self {
        let k0 = read_u64_le(&key[..8]);
        let k1 = read_u64_le(&key[8..]);
        // The constants are the ASCII of "somepseudorandomlygeneratedbytes",
        // fixed by the SipHash specification.
        SipHasher24 {
            v0: k0 ^ 0x736f_6d65_7073_6575,
            v1: k1 ^ 0x646f_7261_6e64_6f6d,
            v2: k0 ^ 0x6c79_6765_6e65_7261,
            v3: k1 ^ 0x7465_6462_7974_6573,
            tail: 0,
            ntail: 0,
            length: 0,
        }
    }

    /// Absorbs `bytes`.
    pub fn write(&mut self, bytes: &[u8]) {
        self.length = self.length.wrapping_add(bytes.len() as u64);
        let mut rest = bytes;

        // Top up a partial word left over from a previous call first, so
        // the word boundaries match those of a one-shot hash.
        if self.ntail > 0 {
            let take = (8 - self.ntail).min(rest.len());
            for (i, &b) in rest[..take].iter().enumerate() {
                self.tail |= u64::from(b) << (8 * (self.ntail + i));
            }
            self.ntail += take;
            rest = &rest[take..];
            if self.ntail < 8 {
                return;
            }
            let word = self.tail;
            self.compress(word);
            self.tail = 0;
            self.ntail = 0;
        }

        let mut words = rest.chunks_exact(8);
        for word in &mut words {
            self.compress(read_u64_le(word));
        }
        let leftover = words.remainder();
        self.tail = read_partial_le(leftover);
        self.ntail = leftover.len();
    }

    /// Absorbs `value` as 4 big-endian (network order) bytes, so hashing
    /// `u32::from(addr)` for an [`Ipv4Addr`] equals hashing `addr.octets()`:
    /// the result does not depend on whether a field was parsed into an
    /// integer or kept as wire bytes.
    pub fn write_u32(&mut self, value: u32) {
        self.write(&value.to_be_bytes());
    }

    /// Absorbs `value` as 2 big-endian (network order) bytes, for the same
    /// reason as [`write_u32`](Self::write_u32).
    pub fn write_u16(&mut self, value: u16) {
        self.write(&value.to_be_bytes());
    }

    /// Completes the hash and returns the 64-bit tag.
    pub fn finish(mut self) -> u64 {
        // The final block carries the length mod 256 in its top byte so that
        // messages differing only in trailing zero bytes hash differently.
        let last = ((self.length & 0xff) << 56) | self.tail;
        self.compress(last);
        self.v2 ^= 0xff;
        for _ in 0..4 {
            self.round();
        }
        self.v0 ^ self.v1 ^ self.v2 ^ self.v3
    }

    /// Absorbs one 8-byte message word with the 2 compression rounds of
    /// SipHash-2-4.
    fn compress(&mut self, m: u64) {
        self.v3 ^= m;
        self.round();
        self.round();
        self.v0 ^= m;
    }

    /// One SipRound (add-rotate-xor network from the specification).
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13) ^ self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16) ^ self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21) ^ self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17) ^ self.v2;
        self.v2 = self.v2.rotate_left(32);
    }
}

/// For keyed `HashMap`s: the standard library's hasher interface over
/// the same function.
impl core::hash::Hasher for SipHasher24 {
    fn write(&mut self, bytes: &[u8]) {
        SipHasher24::write(self, bytes);
    }

    fn finish(&self) -> u64 {
        SipHasher24::finish(self.clone())
    }
}

/// A key of its own for one use of the engine's secret: two SipHash tags
/// of `label` under `secret`.
pub fn derive_key(secret: &[u8; 16], label: &[u8]) -> [u8; 16] {
    let mut key = [0u8; 16];
    for (half, n) in key.chunks_exact_mut(8).zip([0u8, 1]) {
        let mut h = SipHasher24::new(*secret);
        h.write(label);
        h.write(&[n]);
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    key
}

/// Builds [`SipHasher24`]s under one key: a `HashMap` keyed by the
/// engine's secret is as deterministic as the engine (no OS randomness)
/// and as hard to flood as `RandomState`.
#[derive(Clone)]
pub struct KeyedState {
    key: [u8; 16],
}

impl KeyedState {
    /// Hashers keyed by `key`.
    pub fn new(key: [u8; 16]) -> Self {
        KeyedState { key }
    }
}

impl core::hash::BuildHasher for KeyedState {
    type Hasher = SipHasher24;

    fn build_hasher(&self) -> SipHasher24 {
        SipHasher24::new(self.key)
    }
}

impl core::fmt::Debug for KeyedState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KeyedState")
    }
}

/// Shows only the number of bytes absorbed: the internal state is derived
/// from the secret key and must not end up in logs.
impl core::fmt::Debug for SipHasher24 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SipHasher24")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

/// SipHash-2-4 of `data` under `key`, in one call.
pub fn siphash24(key: &[u8; 16], data: &[u8]) -> u64 {
    let mut h = SipHasher24::new(*key);
    h.write(data);
    h.finish()
}

/// Reads exactly 8 bytes as a little-endian word.
fn read_u64_le(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

/// Packs up to 7 bytes little-endian into the low bytes of a word.
fn read_partial_le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .enumerate()
        .fold(0, |acc, (i, &b)| acc | u64::from(b) << (8 * i))
}

/// The Toeplitz hash of `input` under `key`, as computed by NICs for RSS.
///
/// For every set bit of `input` (most significant bit of the first byte
/// first), the 32-bit window of `key` starting at that bit position is XORed
/// into the result. The key must therefore be at least `input.len() + 4`
/// bytes long; if it is shorter, the hash is undefined and this returns 0
/// rather than panicking, so a misconfigured key shows up as every flow
/// landing on queue 0 instead of a crash in the data path.
pub fn toeplitz_hash(key: &[u8], input: &[u8]) -> u32 {
    if key.len() < input.len() + 4 {
        return 0;
    }
    let mut result = 0u32;
    // `window` holds key bits [i, i + 32) for the current input bit i.
    let mut window = u32::from_be_bytes([key[0], key[1], key[2], key[3]]);
    for (i, &byte) in input.iter().enumerate() {
        let next = key[i + 4];
        for bit in (0..8).rev() {
            if byte & (1 << bit) != 0 {
                result ^= window;
            }
            window = (window << 1) | u32::from((next >> bit) & 1);
        }
    }
    result
}

/// The RSS Toeplitz hash a NIC computes for an IPv4/TCP packet from `src` to
/// `dst`: the input is source address, destination address, source port,
/// destination port, all big-endian (12 bytes, so `key` needs at least 16
/// bytes; the standard RSS key is 40). Returns 0 if `key` is too short.
pub fn toeplitz_ipv4_tcp(
    key: &[u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
) -> u32 {
    let mut input = [0u8; 12];
    input[0..4].copy_from_slice(&src.octets());
    input[4..8].copy_from_slice(&dst.octets());
    input[8..10].copy_from_slice(&src_port.to_be_bytes());
    input[10..12].copy_from_slice(&dst_port.to_be_bytes());
    toeplitz_hash(key, &input)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SipHash-2-4 outputs from the reference implementation's test vectors:
    /// key 00 01 .. 0f, message 00 01 .. (n-1) for n = 0..64.
    #[rustfmt::skip]
    const SIP_VECTORS: [u64; 64] = [
        0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
        0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
        0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
        0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
        0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794, 0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd,
        0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
        0xb8ad50c6f649af94, 0xbce192de8a85b8ea, 0x17d835b85bbb15f3, 0x2f2e6163076bcfad,
        0xde4daaaca71dc9a5, 0xa6a2506687956571, 0xad87a3535c49ef28, 0x32d892fad841c342,
        0x7127512f72f27cce, 0xa7f32346f95978e3, 0x12e0b01abb051238, 0x15e034d40fa197ae,
        0x314dffbe0815a3b4, 0x027990f029623981, 0xcadcd4e59ef40c4d, 0x9abfd8766a33735c,
        0x0e3ea96b5304a7d0, 0xad0c42d6fc585992, 0x187306c89bc215a9, 0xd4a60abcf3792b95,
        0xf935451de4f21df2, 0xa9538f0419755787, 0xdb9acddff56ca510, 0xd06c98cd5c0975eb,
        0xe612a3cb9ecba951, 0xc766e62cfcadaf96, 0xee64435a9752fe72, 0xa192d576b245165a,
        0x0a8787bf8ecb74b2, 0x81b3e73d20b49b6f, 0x7fa8220ba3b2ecea, 0x245731c13ca42499,
        0xb78dbfaf3a8d83bd, 0xea1ad565322a1a0b, 0x60e61c23a3795013, 0x6606d7e446282b93,
        0x6ca4ecb15c5f91e1, 0x9f626da15c9625f3, 0xe51b38608ef25f57, 0x958a324ceb064572,
    ];

    fn ref_key() -> [u8; 16] {
        core::array::from_fn(|i| i as u8)
    }

    fn ref_message() -> [u8; 64] {
        core::array::from_fn(|i| i as u8)
    }

    #[test]
    fn siphash_reference_vectors() {
        let key = ref_key();
        let msg = ref_message();
        // Spot-check the lengths that exercise the block-boundary cases
        // explicitly, then all 64.
        for n in [0usize, 7, 8, 15, 63] {
            assert_eq!(siphash24(&key, &msg[..n]), SIP_VECTORS[n], "n = {n}");
        }
        for (n, &expected) in SIP_VECTORS.iter().enumerate() {
            assert_eq!(siphash24(&key, &msg[..n]), expected, "n = {n}");
        }
    }

    #[test]
    fn siphash_byte_at_a_time_matches_vectors() {
        let key = ref_key();
        let msg = ref_message();
        for (n, &expected) in SIP_VECTORS.iter().enumerate() {
            let mut h = SipHasher24::new(key);
            for b in &msg[..n] {
                h.write(core::slice::from_ref(b));
            }
            assert_eq!(h.finish(), expected, "n = {n}");
        }
    }

    #[test]
    fn siphash_random_splits_match_one_shot() {
        // splitmix64, so the test needs no dependencies.
        let mut state = 0x0123_4567_89ab_cdef_u64;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let mut data = [0u8; 300];
        for trial in 0..500 {
            let len = (next() % 300) as usize;
            for b in &mut data[..len] {
                *b = next() as u8;
            }
            let key: [u8; 16] = core::array::from_fn(|_| next() as u8);
            let expected = siphash24(&key, &data[..len]);
            let mut h = SipHasher24::new(key);
            let mut pos = 0;
            while pos < len {
                let take = ((next() % 20) as usize).min(len - pos);
                h.write(&data[pos..pos + take]);
                pos += take;
            }
            assert_eq!(h.finish(), expected, "trial {trial}, len {len}");
        }
    }

    #[test]
    fn siphash_integer_writes_are_network_order() {
        let key = ref_key();
        let addr = Ipv4Addr::new(192, 0, 2, 7);
        let mut a = SipHasher24::new(key);
        a.write_u32(u32::from(addr));
        a.write_u16(0x1234);
        let mut bytes = [0u8; 6];
        bytes[..4].copy_from_slice(&addr.octets());
        bytes[4..].copy_from_slice(&[0x12, 0x34]);
        assert_eq!(a.finish(), siphash24(&key, &bytes));
    }

    /// The standard RSS key from Microsoft's "Verifying the RSS Hash
    /// Calculation".
    const RSS_KEY: [u8; 40] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
        0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
        0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];

    /// (source, source port, destination, destination port, IPv4-only hash,
    /// IPv4+TCP hash).
    type RssVector = ([u8; 4], u16, [u8; 4], u16, u32, u32);

    /// The IPv4 rows of the same verification suite.
    #[rustfmt::skip]
    const RSS_VECTORS: [RssVector; 5] = [
        ([66, 9, 149, 187], 2794, [161, 142, 100, 80], 1766, 0x323e8fc2, 0x51ccc178),
        ([199, 92, 111, 2], 14230, [65, 69, 140, 83], 4739, 0xd718262a, 0xc626b0ea),
        ([24, 19, 198, 95], 12898, [12, 22, 207, 184], 38024, 0xd2d0a5de, 0x5c2b394a),
        ([38, 27, 205, 30], 48228, [209, 142, 163, 6], 2217, 0x82989176, 0xafc7327f),
        ([153, 39, 163, 191], 44251, [202, 188, 127, 2], 1303, 0x5d1809c5, 0x10e828a2),
    ];

    #[test]
    fn toeplitz_ipv4_tcp_verification_suite() {
        for &(src, sport, dst, dport, _, expected) in &RSS_VECTORS {
            let got = toeplitz_ipv4_tcp(&RSS_KEY, src.into(), dst.into(), sport, dport);
            assert_eq!(got, expected, "{src:?}:{sport} -> {dst:?}:{dport}");
        }
    }

    #[test]
    fn toeplitz_ipv4_only_verification_suite() {
        for &(src, _, dst, _, expected, _) in &RSS_VECTORS {
            let mut input = [0u8; 8];
            input[..4].copy_from_slice(&src);
            input[4..].copy_from_slice(&dst);
            assert_eq!(
                toeplitz_hash(&RSS_KEY, &input),
                expected,
                "{src:?} -> {dst:?}"
            );
        }
    }

    #[test]
    fn toeplitz_short_key_returns_zero() {
        assert_eq!(toeplitz_hash(&RSS_KEY[..11], &[0xff; 8]), 0);
        assert_ne!(toeplitz_hash(&RSS_KEY[..12], &[0xff; 8]), 0);
        assert_eq!(toeplitz_hash(&[], &[]), 0);
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(toeplitz_ipv4_tcp(&RSS_KEY[..15], a, b, 1, 2), 0);
    }
}
