//! Round-trip time estimation and the retransmission timeout (RFC 6298).

use core::time::Duration;

/// RFC 6298 section 2: SRTT, RTTVAR and RTO.
#[derive(Debug, Clone)]
pub(crate) struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    /// Backoff multiplier exponent after consecutive timeouts (5.5).
    backoff: u32,
    min: Duration,
    max: Duration,
}

/// Clock granularity G of RFC 6298; our clock is nanoseconds, so the
/// 4·RTTVAR term decides, but keep a floor so that RTO never equals SRTT.
const GRANULARITY: Duration = Duration::from_millis(1);

impl RttEstimator {
    pub fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: initial.clamp(min, max),
            backoff: 0,
            min,
            max,
        }
    }

    /// Takes one measurement (only from segments never retransmitted: Karn's
    /// algorithm, RFC 6298 section 3).
    pub fn sample(&mut self, r: Duration) {
        match self.srtt {
            // (2.2) the first measurement.
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            // (2.3) RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R'|; SRTT <- 7/8 SRTT + 1/8 R'.
            Some(srtt) => {
                let err = srtt.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + err) / 4;
                self.srtt = Some((srtt * 7 + r) / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        self.rto = (srtt + (self.rttvar * 4).max(GRANULARITY)).clamp(self.min, self.max);
        // (5.7) a new measurement ends the backoff.
        self.backoff = 0;
    }

    /// Takes one of many measurements per round trip (RTTM, RFC 7323):
    /// with `expected` samples per window, each weighs 1/`expected` of an
    /// ordinary one (RFC 7323 appendix G: alpha / ExpectedSamples, beta /
    /// ExpectedSamples), so RTTVAR does not collapse under a sample per
    /// ACK.
    pub fn sample_one_of(&mut self, r: Duration, expected: u32) {
        let Some(srtt) = self.srtt else {
            return self.sample(r);
        };
        let n = expected.max(1);
        let err = srtt.abs_diff(r);
        self.rttvar = self.rttvar - self.rttvar / (4 * n) + err / (4 * n);
        self.srtt = Some(srtt - srtt / (8 * n) + r / (8 * n));
        let srtt = self.srtt.unwrap_or(r);
        self.rto = (srtt + (self.rttvar * 4).max(GRANULARITY)).clamp(self.min, self.max);
        self.backoff = 0;
    }

    /// The smoothed RTT, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// The timeout to arm now, backoff included.
    pub fn rto(&self) -> Duration {
        self.rto
            .checked_mul(1u32 << self.backoff.min(16))
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// (5.5) doubles the timeout after it fired.
    pub fn back_off(&mut self) {
        if self.rto() < self.max {
            self.backoff += 1;
        }
    }

    /// The configured upper bound.
    pub fn max(&self) -> Duration {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn rfc6298_first_and_later_samples() {
        let mut e = RttEstimator::new(ms(1000), ms(200), ms(60_000));
        assert_eq!(e.rto(), ms(1000));
        e.sample(ms(100));
        // SRTT 100, RTTVAR 50, RTO = 100 + 200 = 300
        assert_eq!(e.rto(), ms(300));
        e.sample(ms(100));
        // RTTVAR = 3/4*50 + 0 = 37.5, SRTT 100, RTO = 250
        assert_eq!(e.rto(), Duration::from_micros(250_000));
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let mut e = RttEstimator::new(ms(1000), ms(200), ms(5000));
        e.back_off();
        assert_eq!(e.rto(), ms(2000));
        e.back_off();
        e.back_off();
        assert_eq!(e.rto(), ms(5000));
        e.sample(ms(10));
        assert_eq!(e.rto(), ms(200), "clamped to the minimum, backoff cleared");
    }

    #[test]
    fn many_samples_per_window_each_weigh_a_fraction() {
        let mut a = RttEstimator::new(ms(1000), ms(1), ms(60_000));
        let mut b = a.clone();
        a.sample(ms(100));
        b.sample(ms(100));
        // One ordinary sample of 200 ms moves SRTT by 1/8 of the
        // difference; eight samples of a window of eight each 1/64.
        a.sample(ms(200));
        for _ in 0..8 {
            b.sample_one_of(ms(200), 8);
        }
        let (sa, sb) = (a.srtt.unwrap(), b.srtt.unwrap());
        assert_eq!(sa, ms(112) + Duration::from_micros(500));
        assert!(sb.abs_diff(sa) < ms(2), "{sb:?} vs {sa:?}");
    }
}
