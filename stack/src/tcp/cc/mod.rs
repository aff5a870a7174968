//! Congestion control behind one interface: the TCB reports ACKs,
//! congestion events, timeouts and idle restarts, and asks how large the
//! window is. The algorithms (NewReno, CUBIC) live in their own modules;
//! another one joins [`Cc`] and [`CongestionAlgorithm`] without the TCB
//! changing. Loss recovery itself (which segments to send again, and how
//! fast during recovery: PRR) is not theirs: see `recovery`.

mod cubic;
mod hystart;
mod newreno;

use core::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Instant;
use crate::wire::SeqNumber;

pub(crate) use cubic::Cubic;
pub(crate) use newreno::NewReno;

/// The congestion control algorithms an engine or a connection can use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CongestionAlgorithm {
    /// RFC 5681 slow start and congestion avoidance (with RFC 6582 loss
    /// recovery around it).
    NewReno,
    /// RFC 9438 CUBIC, with HyStart++ (RFC 9406) in slow start.
    #[default]
    Cubic,
}

/// What an ACK tells the congestion controller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckInfo {
    pub now: Instant,
    /// Bytes newly delivered (cumulatively or by SACK).
    pub acked: usize,
    /// The cumulative ACK.
    pub ack: SeqNumber,
    /// The highest sequence number sent (where a round of HyStart++ ends).
    pub snd_max: SeqNumber,
    /// An RTT sample this ACK gave, if any.
    pub rtt: Option<Duration>,
    /// The smoothed RTT.
    pub srtt: Duration,
}

/// The interface every algorithm implements.
pub(crate) trait CongestionControl {
    /// The congestion window in bytes.
    fn cwnd(&self) -> usize;
    /// The slow start threshold in bytes.
    fn ssthresh(&self) -> usize;
    /// New data was delivered outside loss recovery: grow the window.
    fn on_ack(&mut self, ack: &AckInfo);
    /// A loss was detected: a congestion episode begins with `in_flight`
    /// bytes out. Sets `ssthresh`; the window itself comes down through
    /// loss recovery, which sets it ([`CongestionControl::set_cwnd`]).
    fn on_congestion(&mut self, now: Instant, in_flight: usize);
    /// Loss recovery ended: the window is `ssthresh`.
    fn on_recovery_end(&mut self, now: Instant);
    /// The retransmission timer fired with `in_flight` bytes out.
    fn on_rto(&mut self, now: Instant, in_flight: usize);
    /// The last congestion event was spurious (a retransmission that was
    /// not needed): back to the state before it.
    fn undo(&mut self);
    /// Sending resumes after `idle` without data in flight (RFC 5681
    /// 4.1: the window restarts).
    fn on_idle_restart(&mut self, now: Instant, idle: Duration, rto: Duration);
    /// Loss recovery sets the window directly (RFC 6937).
    fn set_cwnd(&mut self, cwnd: usize);
    /// Another algorithm hands over its threshold.
    fn set_ssthresh(&mut self, ssthresh: usize);
    /// The segment size changed (handshake): the initial window with it.
    fn set_mss(&mut self, mss: usize, initial_window: u32);
}

/// A connection's congestion controller.
#[derive(Debug, Clone)]
pub(crate) enum Cc {
    NewReno(NewReno),
    Cubic(Cubic),
}

impl Cc {
    pub fn new(algorithm: CongestionAlgorithm, mss: usize, initial_window: u32) -> Cc {
        match algorithm {
            CongestionAlgorithm::NewReno => Cc::NewReno(NewReno::new(mss, initial_window)),
            CongestionAlgorithm::Cubic => Cc::Cubic(Cubic::new(mss, initial_window)),
        }
    }

    pub fn algorithm(&self) -> CongestionAlgorithm {
        match self {
            Cc::NewReno(_) => CongestionAlgorithm::NewReno,
            Cc::Cubic(_) => CongestionAlgorithm::Cubic,
        }
    }

    /// Changes algorithm, keeping the window and the threshold.
    pub fn switch(&mut self, algorithm: CongestionAlgorithm, mss: usize, initial_window: u32) {
        if self.algorithm() == algorithm {
            return;
        }
        let mut next = Cc::new(algorithm, mss, initial_window);
        next.set_cwnd(self.cwnd());
        next.set_ssthresh(self.ssthresh());
        *self = next;
    }

    fn inner(&self) -> &dyn CongestionControl {
        match self {
            Cc::NewReno(c) => c,
            Cc::Cubic(c) => c,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn CongestionControl {
        match self {
            Cc::NewReno(c) => c,
            Cc::Cubic(c) => c,
        }
    }
}

impl CongestionControl for Cc {
    fn cwnd(&self) -> usize {
        self.inner().cwnd()
    }
    fn ssthresh(&self) -> usize {
        self.inner().ssthresh()
    }
    fn on_ack(&mut self, ack: &AckInfo) {
        self.inner_mut().on_ack(ack)
    }
    fn on_congestion(&mut self, now: Instant, in_flight: usize) {
        self.inner_mut().on_congestion(now, in_flight)
    }
    fn on_recovery_end(&mut self, now: Instant) {
        self.inner_mut().on_recovery_end(now)
    }
    fn on_rto(&mut self, now: Instant, in_flight: usize) {
        self.inner_mut().on_rto(now, in_flight)
    }
    fn undo(&mut self) {
        self.inner_mut().undo()
    }
    fn on_idle_restart(&mut self, now: Instant, idle: Duration, rto: Duration) {
        self.inner_mut().on_idle_restart(now, idle, rto)
    }
    fn set_cwnd(&mut self, cwnd: usize) {
        self.inner_mut().set_cwnd(cwnd)
    }
    fn set_ssthresh(&mut self, ssthresh: usize) {
        self.inner_mut().set_ssthresh(ssthresh)
    }
    fn set_mss(&mut self, mss: usize, initial_window: u32) {
        self.inner_mut().set_mss(mss, initial_window)
    }
}

/// RFC 5681 4.1 (restart window): after an idle period longer than the
/// RTO, the window is at most the initial window.
pub(crate) fn restart_window(
    cwnd: usize,
    mss: usize,
    initial_window: u32,
    idle: Duration,
    rto: Duration,
) -> usize {
    if idle > rto {
        cwnd.min(mss * initial_window as usize)
    } else {
        cwnd
    }
}
