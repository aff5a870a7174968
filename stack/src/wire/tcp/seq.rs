//! TCP sequence numbers and their modular arithmetic.
//!
//! RFC 9293 §3.4: "the actual sequence number space is finite, though
//! large. This space ranges from 0 to 2^32 - 1. Since the space is finite,
//! all arithmetic dealing with sequence numbers must be performed modulo
//! 2^32." Comparisons follow RFC 1982 serial number arithmetic: `a < b`
//! when `b` is ahead of `a` by less than 2^31.

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub, SubAssign};

/// A TCP sequence (or acknowledgment) number.
///
/// Ordering is modular, hence only [`PartialOrd`]: two numbers exactly 2^31
/// apart are incomparable (`partial_cmp` returns `None`, and `<`, `>`, `<=`,
/// `>=` are all false), and the order is not transitive over spans wider
/// than 2^31. Within a window (at most 2^30 bytes with window scaling, RFC
/// 7323 §2.3) it behaves like ordinary integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// `self - other` as a signed distance: positive when `self` is ahead
    /// of `other`. The result is exact for distances below 2^31.
    pub const fn wrapping_diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// The later of two numbers (`self` if they are equal or
    /// incomparable).
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if other > self {
            other
        } else {
            self
        }
    }

    /// The earlier of two numbers (`self` if they are equal or
    /// incomparable).
    pub fn min(self, other: SeqNumber) -> SeqNumber {
        if other < self {
            other
        } else {
            self
        }
    }

    /// Whether `start <= self < end` in sequence space (measured from
    /// `start`, so it is correct for any span below 2^32).
    pub fn in_range(self, start: SeqNumber, end: SeqNumber) -> bool {
        self.0.wrapping_sub(start.0) < end.0.wrapping_sub(start.0)
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        match self.wrapping_diff(*other) {
            // Exactly half the space away: RFC 1982 §3.2 leaves this
            // undefined, and answering either way would make both a < b
            // and b < a true.
            i32::MIN => None,
            d => Some(d.cmp(&0)),
        }
    }
}

impl Add<usize> for SeqNumber {
    type Output = SeqNumber;

    /// Advances by `rhs` bytes modulo 2^32. `rhs` is truncated to 32 bits
    /// first (`as u32`), which is the correct modular result; adding 2^31
    /// or more is legal but yields a number no longer comparable with
    /// `self` in any useful sense.
    fn add(self, rhs: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs as u32))
    }
}

impl AddAssign<usize> for SeqNumber {
    fn add_assign(&mut self, rhs: usize) {
        *self = *self + rhs;
    }
}

impl Sub<usize> for SeqNumber {
    type Output = SeqNumber;

    /// Goes back by `rhs` bytes modulo 2^32 (truncating `rhs` like `Add`).
    fn sub(self, rhs: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs as u32))
    }
}

impl SubAssign<usize> for SeqNumber {
    fn sub_assign(&mut self, rhs: usize) {
        *self = *self - rhs;
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u32> for SeqNumber {
    fn from(value: u32) -> Self {
        SeqNumber(value)
    }
}

impl From<SeqNumber> for u32 {
    fn from(value: SeqNumber) -> Self {
        value.0
    }
}
