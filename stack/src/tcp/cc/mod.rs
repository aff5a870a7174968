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

/// The window state every algorithm keeps, and the rules they share: the
/// initial window (RFC 6928), its floor of one segment, and the restart
/// after idle (RFC 5681 4.1).
#[derive(Debug, Clone)]
pub(crate) struct Window {
    pub mss: usize,
    pub initial_window: u32,
    /// The congestion window in bytes.
    pub cwnd: usize,
    /// The slow start threshold in bytes.
    pub ssthresh: usize,
}

impl Window {
    pub fn new(mss: usize, initial_window: u32) -> Window {
        Window {
            mss,
            initial_window,
            cwnd: mss * initial_window as usize,
            ssthresh: usize::MAX,
        }
    }

    /// RFC 5681 4.1 (restart window): after an idle period longer than
    /// the RTO, the window is at most the initial window.
    pub fn restart(&mut self, idle: Duration, rto: Duration) {
        if idle > rto {
            self.cwnd = self.cwnd.min(self.mss * self.initial_window as usize);
        }
    }
}

/// The interface every algorithm implements. Reading and setting the
/// window is common to all ([`Window`]); the events are each algorithm's.
pub(crate) trait CongestionControl {
    fn window(&self) -> &Window;
    fn window_mut(&mut self) -> &mut Window;
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

    /// The congestion window in bytes.
    fn cwnd(&self) -> usize {
        self.window().cwnd
    }
    /// The slow start threshold in bytes.
    fn ssthresh(&self) -> usize {
        self.window().ssthresh
    }
    /// Loss recovery sets the window directly (RFC 6937); never below one
    /// segment.
    fn set_cwnd(&mut self, cwnd: usize) {
        let w = self.window_mut();
        w.cwnd = cwnd.max(w.mss);
    }
    /// Another algorithm hands over its threshold.
    fn set_ssthresh(&mut self, ssthresh: usize) {
        self.window_mut().ssthresh = ssthresh;
    }
    /// The path's segment size fell (RFC 1191). The window keeps its
    /// bytes (the path carries as much as before); its floor of one
    /// segment follows the new size.
    fn set_path_mss(&mut self, mss: usize) {
        let w = self.window_mut();
        w.mss = mss;
        w.cwnd = w.cwnd.max(mss);
    }
    /// The segment size changed (handshake): the initial window with it.
    fn set_mss(&mut self, mss: usize, initial_window: u32) {
        *self.window_mut() = Window {
            ssthresh: self.window().ssthresh,
            ..Window::new(mss, initial_window)
        };
    }
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
}

/// Calls `$call` on whichever algorithm `$cc` holds (static dispatch: the
/// window is read on every segment sent).
macro_rules! each {
    ($cc:expr, $c:ident => $call:expr) => {
        match $cc {
            Cc::NewReno($c) => $call,
            Cc::Cubic($c) => $call,
        }
    };
}

impl CongestionControl for Cc {
    fn window(&self) -> &Window {
        each!(self, c => c.window())
    }
    fn window_mut(&mut self) -> &mut Window {
        each!(self, c => c.window_mut())
    }
    fn on_ack(&mut self, ack: &AckInfo) {
        each!(self, c => c.on_ack(ack))
    }
    fn on_congestion(&mut self, now: Instant, in_flight: usize) {
        each!(self, c => c.on_congestion(now, in_flight))
    }
    fn on_recovery_end(&mut self, now: Instant) {
        each!(self, c => c.on_recovery_end(now))
    }
    fn on_rto(&mut self, now: Instant, in_flight: usize) {
        each!(self, c => c.on_rto(now, in_flight))
    }
    fn undo(&mut self) {
        each!(self, c => c.undo())
    }
    fn on_idle_restart(&mut self, now: Instant, idle: Duration, rto: Duration) {
        each!(self, c => c.on_idle_restart(now, idle, rto))
    }
}
