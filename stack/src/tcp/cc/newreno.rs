//! RFC 5681 slow start and congestion avoidance; the loss response of RFC
//! 5681 3.2 and 6582 (half the flight, the recovery itself elsewhere).

use core::time::Duration;

use crate::time::Instant;

use super::{AckInfo, CongestionControl, Window};

#[derive(Debug, Clone)]
pub(crate) struct NewReno {
    w: Window,
    /// Bytes acknowledged since the window last grew in congestion
    /// avoidance.
    acked_in_ca: usize,
    /// (cwnd, ssthresh) before the last congestion event, for undo.
    prior: Option<(usize, usize)>,
}

impl NewReno {
    pub fn new(mss: usize, initial_window: u32) -> Self {
        NewReno {
            w: Window::new(mss, initial_window),
            acked_in_ca: 0,
            prior: None,
        }
    }
}

impl CongestionControl for NewReno {
    fn window(&self) -> &Window {
        &self.w
    }

    fn window_mut(&mut self) -> &mut Window {
        &mut self.w
    }

    fn on_ack(&mut self, ack: &AckInfo) {
        if self.w.cwnd < self.w.ssthresh {
            // RFC 5681 3.1 slow start; RFC 3465 byte counting with L = 2.
            self.w.cwnd += ack.acked.min(2 * self.w.mss);
        } else {
            // Congestion avoidance: one SMSS per window acknowledged.
            self.acked_in_ca += ack.acked;
            if self.acked_in_ca >= self.w.cwnd {
                self.acked_in_ca -= self.w.cwnd;
                self.w.cwnd += self.w.mss;
            }
        }
    }

    fn on_congestion(&mut self, _now: Instant, in_flight: usize) {
        self.prior = Some((self.w.cwnd, self.w.ssthresh));
        // RFC 5681 equation 4.
        self.w.ssthresh = (in_flight / 2).max(2 * self.w.mss);
        self.acked_in_ca = 0;
    }

    fn on_recovery_end(&mut self, _now: Instant) {
        self.w.cwnd = self.w.ssthresh;
    }

    fn on_rto(&mut self, now: Instant, in_flight: usize) {
        self.on_congestion(now, in_flight);
        // RFC 5681 3.1: the loss window.
        self.w.cwnd = self.w.mss;
    }

    fn undo(&mut self) {
        if let Some((cwnd, ssthresh)) = self.prior.take() {
            self.w.cwnd = self.w.cwnd.max(cwnd);
            self.w.ssthresh = ssthresh;
        }
    }

    fn on_idle_restart(&mut self, _now: Instant, idle: Duration, rto: Duration) {
        self.w.restart(idle, rto);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::SeqNumber;

    fn ack(acked: usize) -> AckInfo {
        AckInfo {
            now: Instant::ZERO,
            acked,
            ack: SeqNumber(0),
            snd_max: SeqNumber(0),
            rtt: None,
            srtt: Duration::from_millis(10),
        }
    }

    #[test]
    fn slow_start_then_congestion_avoidance() {
        let mut cc = NewReno::new(1000, 10);
        assert_eq!(cc.cwnd(), 10_000);
        cc.on_ack(&ack(1000));
        assert_eq!(cc.cwnd(), 11_000);
        cc.w.ssthresh = 11_000;
        for _ in 0..10 {
            cc.on_ack(&ack(1000));
        }
        assert_eq!(cc.cwnd(), 11_000);
        cc.on_ack(&ack(1000));
        assert_eq!(cc.cwnd(), 12_000);
    }

    #[test]
    fn a_loss_halves_the_flight_a_timeout_restarts_and_undo_goes_back() {
        let mut cc = NewReno::new(1000, 10);
        cc.on_congestion(Instant::ZERO, 20_000);
        assert_eq!(cc.ssthresh(), 10_000);
        cc.on_recovery_end(Instant::ZERO);
        assert_eq!(cc.cwnd(), 10_000);
        cc.on_rto(Instant::ZERO, 10_000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1000, 5000));
        cc.undo();
        assert_eq!((cc.cwnd(), cc.ssthresh()), (10_000, 10_000));
    }
}
