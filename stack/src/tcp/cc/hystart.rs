//! HyStart++ (RFC 9406): leave slow start when the round trip time starts
//! to grow, before the queue overflows, through a few rounds of
//! conservative slow start (CSS) that undo the exit if the growth was
//! noise.

use core::time::Duration;

use crate::wire::SeqNumber;

use crate::tcp::seq_diff;

/// RFC 9406 section 4.3 constants.
const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
const MIN_RTT_DIVISOR: u32 = 8;
const N_RTT_SAMPLE: u32 = 8;
/// CSS grows the window a quarter as fast as slow start.
pub(crate) const CSS_GROWTH_DIVISOR: usize = 4;
const CSS_ROUNDS: u32 = 5;

/// Where slow start stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Standard slow start.
    SlowStart,
    /// Conservative slow start after a delay increase.
    Conservative,
    /// CSS ran its rounds: congestion avoidance from here
    /// (`ssthresh = cwnd`).
    Exit,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct HyStart {
    /// The end of the current round (SND.MAX when it began).
    window_end: Option<SeqNumber>,
    last_round_min_rtt: Option<Duration>,
    current_round_min_rtt: Option<Duration>,
    samples: u32,
    /// In CSS: the minimum RTT that triggered it, and rounds begun.
    css: Option<(Duration, u32)>,
}

impl HyStart {
    /// An ACK in slow start (cumulative `ack`, `snd_max` sent so far,
    /// and the RTT it measured): the phase to grow in.
    pub fn on_ack(&mut self, ack: SeqNumber, snd_max: SeqNumber, rtt: Option<Duration>) -> Phase {
        let round_over = self.window_end.is_none_or(|end| seq_diff(ack, end) >= 0);
        if round_over {
            self.window_end = Some(snd_max);
            self.last_round_min_rtt = self.current_round_min_rtt.take();
            self.samples = 0;
            if let Some((_, rounds)) = &mut self.css {
                *rounds += 1;
                if *rounds > CSS_ROUNDS {
                    self.css = None;
                    return Phase::Exit;
                }
            }
        }
        if let Some(rtt) = rtt {
            self.current_round_min_rtt =
                Some(self.current_round_min_rtt.map_or(rtt, |m| m.min(rtt)));
            self.samples += 1;
        }
        let (Some(current), Some(last)) = (self.current_round_min_rtt, self.last_round_min_rtt)
        else {
            return self.phase();
        };
        if self.samples < N_RTT_SAMPLE {
            return self.phase();
        }
        match self.css {
            None => {
                let thresh = (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
                if current >= last + thresh {
                    // The delay grew: a queue is building.
                    self.css = Some((current, 1));
                }
            }
            Some((baseline, _)) if current < baseline => {
                // The growth was noise: back to slow start.
                self.css = None;
            }
            Some(_) => {}
        }
        self.phase()
    }

    fn phase(&self) -> Phase {
        if self.css.is_some() {
            Phase::Conservative
        } else {
            Phase::SlowStart
        }
    }

    /// Slow start ended some other way (a loss): start afresh next time.
    pub fn reset(&mut self) {
        *self = HyStart::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs one round of eight samples of `rtt` ending at `end`.
    fn round(h: &mut HyStart, start: u32, end: u32, rtt: Duration) -> Phase {
        let mut phase = Phase::SlowStart;
        for i in 0..8 {
            phase = h.on_ack(SeqNumber(start + i), SeqNumber(end), Some(rtt));
        }
        phase
    }

    #[test]
    fn a_delay_increase_enters_css_and_css_exits_after_its_rounds() {
        let mut h = HyStart::default();
        assert_eq!(round(&mut h, 0, 100, ms(20)), Phase::SlowStart);
        // 20 ms + max(4, min(20/8, 16)) = 24 ms: 23 is not enough.
        assert_eq!(round(&mut h, 100, 200, ms(23)), Phase::SlowStart);
        assert_eq!(round(&mut h, 200, 300, ms(28)), Phase::Conservative);
        for r in 0..4 {
            assert_eq!(
                round(&mut h, 300 + r * 100, 400 + r * 100, ms(28)),
                Phase::Conservative
            );
        }
        assert_eq!(
            h.on_ack(SeqNumber(700), SeqNumber(800), Some(ms(28))),
            Phase::Exit
        );
    }

    #[test]
    fn a_spurious_delay_increase_resumes_slow_start() {
        let mut h = HyStart::default();
        round(&mut h, 0, 100, ms(20));
        assert_eq!(round(&mut h, 100, 200, ms(30)), Phase::Conservative);
        assert_eq!(round(&mut h, 200, 300, ms(21)), Phase::SlowStart);
    }
}
