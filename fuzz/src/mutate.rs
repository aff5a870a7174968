//! A seeded mutator: the same seed gives the same inputs, so a failure is
//! replayed by its seed alone.

/// xorshift64*: small, fast, and enough to steer mutations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (zero is mapped to a fixed non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Interesting values for fields: boundaries of 8, 16 and 32 bits.
const INTERESTING: [u32; 12] = [
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0x8000,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
];

/// Changes `data` in place by a few random edits: bit flips, byte sets,
/// interesting values at random offsets (in both byte orders), inserts,
/// deletes, and splices of its own bytes.
pub fn mutate(data: &mut Vec<u8>, rng: &mut Rng, max_len: usize) {
    let edits = 1 + rng.below(4);
    for _ in 0..edits {
        if data.is_empty() {
            data.push(rng.next_u64() as u8);
            continue;
        }
        let at = rng.below(data.len());
        match rng.below(8) {
            0 => data[at] ^= 1 << rng.below(8),
            1 => data[at] = rng.next_u64() as u8,
            2 | 3 => {
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let width = [1usize, 2, 4][rng.below(3)];
                let bytes = if rng.one_in(2) {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                let src = if rng.one_in(2) {
                    &bytes[4 - width..]
                } else {
                    &bytes[..width]
                };
                for (i, b) in src.iter().enumerate() {
                    if let Some(d) = data.get_mut(at + i) {
                        *d = *b;
                    }
                }
            }
            4 if data.len() < max_len => {
                let n = 1 + rng.below(16.min(max_len - data.len()));
                let fill = rng.next_u64() as u8;
                data.splice(at..at, std::iter::repeat_n(fill, n));
            }
            5 => {
                let n = 1 + rng.below(16.min(data.len() - at));
                data.drain(at..at + n);
            }
            6 => {
                let from = rng.below(data.len());
                let n = 1 + rng.below(32.min(data.len() - from));
                let chunk: Vec<u8> = data[from..from + n].to_vec();
                for (i, b) in chunk.into_iter().enumerate() {
                    if let Some(d) = data.get_mut(at + i) {
                        *d = b;
                    }
                }
            }
            _ => data.truncate(at.max(1)),
        }
    }
    data.truncate(max_len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let run = |seed| {
            let mut rng = Rng::new(seed);
            let mut v = vec![0u8; 64];
            for _ in 0..100 {
                mutate(&mut v, &mut rng, 128);
            }
            v
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
