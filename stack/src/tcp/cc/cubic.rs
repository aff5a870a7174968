//! CUBIC (RFC 9438): the window follows W_cubic(t) = C (t - K)^3 + W_max
//! after a congestion event, concave up to the window where the last one
//! happened and convex beyond, and never slower than Reno would grow
//! (the Reno-friendly W_est). Slow start uses HyStart++.

use core::time::Duration;

use crate::time::Instant;

use super::hystart::{HyStart, Phase, CSS_GROWTH_DIVISOR};
use super::{AckInfo, CongestionControl, Window};

/// RFC 9438 4.1: C = 0.4 (segments / s^3) and beta_cubic = 0.7.
const C: f64 = 0.4;
const BETA: f64 = 0.7;
/// RFC 9438 4.3: alpha_cubic = 3 (1 - beta) / (1 + beta).
const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);
/// RFC 9406: slow start grows by at most L = 8 segments per ACK.
const SLOW_START_L: usize = 8;

/// What undo restores.
#[derive(Debug, Clone, Copy)]
struct Saved {
    cwnd: usize,
    ssthresh: usize,
    w_max: f64,
    w_last_max: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct Cubic {
    w: Window,
    /// W_max (segments): the window before the last reduction.
    w_max: f64,
    /// The W_max before that, for fast convergence (RFC 9438 4.7).
    w_last_max: f64,
    /// The current congestion avoidance epoch: when it began, the window
    /// then (segments), K (seconds), and W_est (segments).
    epoch: Option<Epoch>,
    hystart: HyStart,
    saved: Option<Saved>,
}

#[derive(Debug, Clone, Copy)]
struct Epoch {
    start: Instant,
    k: f64,
    w_est: f64,
}

impl Cubic {
    pub fn new(mss: usize, initial_window: u32) -> Self {
        Cubic {
            w: Window::new(mss, initial_window),
            w_max: 0.0,
            w_last_max: 0.0,
            epoch: None,
            hystart: HyStart::default(),
            saved: None,
        }
    }

    fn segments(&self, bytes: usize) -> f64 {
        bytes as f64 / self.w.mss as f64
    }

    /// RFC 9438 figure 1: W_cubic(t) in segments, `t` seconds into the
    /// epoch.
    fn w_cubic(&self, k: f64, t: f64) -> f64 {
        C * (t - k).powi(3) + self.w_max
    }

    fn congestion_avoidance(&mut self, ack: &AckInfo) {
        let cwnd = self.segments(self.w.cwnd);
        let epoch = match self.epoch {
            Some(e) => e,
            None => {
                // RFC 9438 4.2: K = cbrt((W_max - cwnd_epoch) / C); after a
                // timeout (or above W_max) the epoch starts at the window.
                if self.w_max < cwnd {
                    self.w_max = cwnd;
                }
                let k = ((self.w_max - cwnd) / C).cbrt();
                let e = Epoch {
                    start: ack.now,
                    k,
                    w_est: cwnd,
                };
                self.epoch = Some(e);
                e
            }
        };
        let t = (ack.now - epoch.start).as_secs_f64();
        let acked = self.segments(ack.acked);
        // RFC 9438 4.3: the Reno-friendly estimate.
        let w_est = epoch.w_est + ALPHA * acked / cwnd;
        self.epoch = Some(Epoch { w_est, ..epoch });
        let w_cubic_now = self.w_cubic(epoch.k, t);
        let next = if w_cubic_now < w_est {
            // The Reno-friendly region.
            w_est
        } else {
            // RFC 9438 4.4 and 4.5: aim for W_cubic one RTT ahead, but
            // never beyond 1.5 times the window.
            let rtt = ack.srtt.as_secs_f64();
            let target = self.w_cubic(epoch.k, t + rtt).clamp(cwnd, 1.5 * cwnd);
            cwnd + (target - cwnd) * acked / cwnd
        };
        self.w.cwnd = ((next * self.w.mss as f64) as usize).max(self.w.cwnd);
    }

    fn save(&mut self) {
        self.saved = Some(Saved {
            cwnd: self.w.cwnd,
            ssthresh: self.w.ssthresh,
            w_max: self.w_max,
            w_last_max: self.w_last_max,
        });
    }
}

impl CongestionControl for Cubic {
    fn window(&self) -> &Window {
        &self.w
    }

    fn window_mut(&mut self) -> &mut Window {
        &mut self.w
    }

    fn on_ack(&mut self, ack: &AckInfo) {
        if self.w.cwnd < self.w.ssthresh {
            let grow = ack.acked.min(SLOW_START_L * self.w.mss);
            match self.hystart.on_ack(ack.ack, ack.snd_max, ack.rtt) {
                Phase::SlowStart => self.w.cwnd += grow,
                Phase::Conservative => self.w.cwnd += grow / CSS_GROWTH_DIVISOR,
                Phase::Exit => self.w.ssthresh = self.w.cwnd,
            }
            return;
        }
        self.congestion_avoidance(ack);
    }

    fn on_congestion(&mut self, _now: Instant, in_flight: usize) {
        self.save();
        let cwnd = self.segments(self.w.cwnd);
        // RFC 9438 4.7, fast convergence: a flow whose window is falling
        // gives more room to newer ones.
        self.w_max = if cwnd < self.w_last_max {
            cwnd * (1.0 + BETA) / 2.0
        } else {
            cwnd
        };
        self.w_last_max = cwnd;
        // RFC 9438 4.6: ssthresh = flight size x beta_cubic.
        let flight = in_flight.max(self.w.mss);
        self.w.ssthresh = ((flight as f64 * BETA) as usize).max(2 * self.w.mss);
        self.epoch = None;
        self.hystart.reset();
    }

    fn on_recovery_end(&mut self, _now: Instant) {
        self.w.cwnd = self.w.ssthresh;
    }

    fn on_rto(&mut self, now: Instant, in_flight: usize) {
        self.on_congestion(now, in_flight);
        // RFC 9438 4.8: the loss window; the epoch after a timeout starts
        // with K = 0 at the window it then has.
        self.w.cwnd = self.w.mss;
        self.w_max = 0.0;
    }

    fn undo(&mut self) {
        if let Some(s) = self.saved.take() {
            // RFC 9438 4.9.
            self.w.cwnd = self.w.cwnd.max(s.cwnd);
            self.w.ssthresh = s.ssthresh;
            self.w_max = s.w_max;
            self.w_last_max = s.w_last_max;
            self.epoch = None;
        }
    }

    fn on_idle_restart(&mut self, _now: Instant, idle: Duration, rto: Duration) {
        self.w.restart(idle, rto);
        // The cubic curve is a function of time since the congestion
        // event; idle time must not count as growth (Linux shifts the
        // epoch the same way).
        if let Some(e) = &mut self.epoch {
            e.start += idle;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::SeqNumber;

    const MSS: usize = 1000;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    fn ack(now: Instant, acked: usize, srtt_ms: u64) -> AckInfo {
        AckInfo {
            now,
            acked,
            ack: SeqNumber(0),
            snd_max: SeqNumber(0),
            rtt: None,
            srtt: Duration::from_millis(srtt_ms),
        }
    }

    /// A CUBIC flow with a 100-segment window that has just seen a loss.
    fn after_loss() -> Cubic {
        let mut c = Cubic::new(MSS, 10);
        c.w.cwnd = 100 * MSS;
        c.w.ssthresh = 50 * MSS;
        c.on_congestion(at(0), 100 * MSS);
        c.on_recovery_end(at(0));
        c
    }

    // RFC 9438 4.6: ssthresh = 0.7 x flight, W_max = the window before.
    #[test]
    fn a_loss_keeps_seven_tenths_and_remembers_w_max() {
        let c = after_loss();
        assert_eq!((c.ssthresh(), c.cwnd()), (70 * MSS, 70 * MSS));
        assert_eq!(c.w_max, 100.0);
    }

    // RFC 9438 figure 1 and 2: K = cbrt(W_max (1 - beta) / C) = cbrt(75)
    // = 4.2172 s; the window follows W_cubic(t + RTT) (with a tiny RTT,
    // W_cubic(t)): concave below W_max, flat at K, convex beyond.
    #[test]
    fn the_window_follows_w_cubic() {
        let mut c = after_loss();
        c.on_ack(&ack(at(0), MSS, 1));
        let k = c.epoch.unwrap().k;
        assert!((k - 75f64.cbrt()).abs() < 1e-9, "K = {k}");
        let w = |t: f64| C * (t - k).powi(3) + 100.0;
        // Each step acknowledges the whole window, so one step covers a
        // round trip's growth to the target.
        for (t_ms, expect) in [
            (1000u64, w(1.0)),
            (3000, w(3.0)),
            (4217, 100.0),
            (6000, w(6.0)),
        ] {
            let cwnd = c.w.cwnd as f64 / MSS as f64;
            c.on_ack(&ack(at(t_ms), c.w.cwnd, 1));
            let got = c.w.cwnd as f64 / MSS as f64;
            // The Reno-friendly estimate may lead early on; it never
            // lags W_cubic.
            assert!(
                got >= expect - 0.05 || got > cwnd,
                "t={t_ms} ms: {got} vs {expect}"
            );
            assert!(
                (got - expect).abs() < 0.6,
                "t={t_ms} ms: cwnd {got}, W_cubic {expect}"
            );
        }
    }

    // RFC 9438 4.7: a second loss below the last W_max sets W_max lower.
    #[test]
    fn fast_convergence_lowers_w_max() {
        let mut c = after_loss();
        c.on_congestion(at(10), 70 * MSS);
        assert!((c.w_max - 70.0 * 1.7 / 2.0).abs() < 1e-9, "{}", c.w_max);
    }

    // RFC 9438 4.9: undo restores what the spurious event changed.
    #[test]
    fn undo_restores_the_window_and_w_max() {
        let mut c = Cubic::new(MSS, 10);
        c.w.cwnd = 80 * MSS;
        c.on_congestion(at(0), 80 * MSS);
        c.on_recovery_end(at(0));
        c.undo();
        assert_eq!((c.cwnd(), c.ssthresh()), (80 * MSS, usize::MAX));
    }

    #[test]
    fn a_timeout_restarts_from_one_segment() {
        let mut c = after_loss();
        c.on_rto(at(5), 70 * MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 49 * MSS));
    }
}
