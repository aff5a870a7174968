//! Unit tests for the wire module: known-byte vectors, round trips, error
//! paths, and a seeded no-panic fuzz test.

mod ethernet_arp;
mod fuzz;
mod ipv4_icmp;
mod tcp;

use super::WireError;

/// A tiny deterministic PRNG (splitmix64), so tests need no dependencies
/// and every failure is reproducible from its seed.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d1_049b_b133_111e);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n`; `n` must be non-zero.
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub(super) fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    pub(super) fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.byte();
        }
    }

    pub(super) fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.fill(&mut v);
        v
    }
}

/// The fuzz seed: `WIRE_SEED` (decimal or 0x-prefixed hex) if set,
/// otherwise a fixed default so CI runs are deterministic.
pub(super) fn seed_from_env() -> u64 {
    const DEFAULT_SEED: u64 = 0x5eed_0000_c0ff_ee42;
    std::env::var("WIRE_SEED")
        .ok()
        .and_then(|s| {
            let s = s.trim();
            match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
        })
        .unwrap_or(DEFAULT_SEED)
}

#[test]
fn wire_error_display_is_distinct() {
    let all = [
        WireError::Truncated,
        WireError::BadLength,
        WireError::BadVersion,
        WireError::BadChecksum,
        WireError::BadOption,
        WireError::Unsupported,
    ];
    let texts: Vec<String> = all.iter().map(|e| e.to_string()).collect();
    for (i, a) in texts.iter().enumerate() {
        assert!(!a.is_empty());
        for b in &texts[i + 1..] {
            assert_ne!(a, b);
        }
    }
    let boxed: Box<dyn std::error::Error> = Box::new(WireError::BadOption);
    assert_eq!(boxed.to_string(), "malformed option");
}
