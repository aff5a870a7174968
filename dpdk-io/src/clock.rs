//! Time from the TSC, converted once per loop iteration into the engine's
//! [`stack::Instant`].

use stack::Instant;

/// Converts TSC ticks since construction into nanoseconds with one 128-bit
/// multiplication (no division on the loop's path): `ns = ticks * mult /
/// 2^64`, rounded, with `mult = 10^9 * 2^64 / hz`.
#[derive(Debug, Clone, Copy)]
pub struct TscClock {
    base: u64,
    mult: u128,
}

impl TscClock {
    /// A clock whose epoch is now. Needs the EAL (for the TSC frequency).
    pub fn start_now() -> TscClock {
        TscClock::with_hz(crate::tsc_hz(), crate::rdtsc())
    }

    /// A clock for a TSC running at `hz`, with epoch at tick `base`.
    pub fn with_hz(hz: u64, base: u64) -> TscClock {
        TscClock {
            base,
            mult: (1_000_000_000u128 << 64) / u128::from(hz.max(1)),
        }
    }

    /// The engine time at TSC value `tsc`.
    pub fn at(&self, tsc: u64) -> Instant {
        let ticks = u128::from(tsc.saturating_sub(self.base));
        // With a TSC of 1 GHz or more, mult < 2^64 and the product always
        // fits in 128 bits; a slower TSC overflows only after years, and
        // then the exact division takes over.
        match ticks.checked_mul(self.mult) {
            // (product + 2^63) / 2^64, rounded to nearest, without
            // overflowing the addition.
            Some(product) => Instant::from_nanos((((product >> 1) + (1 << 62)) >> 63) as u64),
            None => Instant::from_nanos(
                (ticks * 1_000_000_000 / (((1u128 << 64) * 1_000_000_000) / self.mult)) as u64,
            ),
        }
    }

    /// The engine time now.
    pub fn now(&self) -> Instant {
        self.at(crate::rdtsc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_to_nanoseconds() {
        let c = TscClock::with_hz(2_500_000_000, 1000);
        assert_eq!(c.at(1000), Instant::ZERO);
        assert_eq!(c.at(1000 + 2_500_000_000), Instant::from_millis(1000));
        assert_eq!(c.at(1000 + 25), Instant::from_nanos(10));
        // A day of ticks does not overflow.
        let day = 2_500_000_000u64 * 86_400;
        assert_eq!(c.at(1000 + day).as_nanos(), 86_400 * 1_000_000_000);
    }
}
