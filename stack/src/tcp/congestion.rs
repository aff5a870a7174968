//! Congestion control: slow start and congestion avoidance (RFC 5681),
//! fast retransmit and NewReno fast recovery (RFC 6582).
//!
//! The connection reports events (bytes acknowledged, duplicate ACKs,
//! timeouts); this type answers how many bytes may be in flight.

use crate::wire::SeqNumber;

use super::seq_diff;

#[derive(Debug, Clone)]
pub(crate) struct NewReno {
    mss: usize,
    pub cwnd: usize,
    pub ssthresh: usize,
    /// Bytes acknowledged since cwnd last grew in congestion avoidance.
    acked_in_ca: usize,
    /// RFC 6582 `recover`: the highest sequence number sent when recovery
    /// began; `Some` while in fast recovery.
    recover: Option<SeqNumber>,
}

/// What the connection must do after an ACK.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AckAction {
    Nothing,
    /// Retransmit the first unacknowledged segment (fast retransmit, or a
    /// partial ACK during recovery).
    RetransmitFirst,
}

impl NewReno {
    pub fn new(mss: usize, initial_window: u32) -> Self {
        NewReno {
            mss,
            // RFC 6928: IW = min(10*MSS, max(2*MSS, 14600)) for 10 segments.
            cwnd: mss * initial_window as usize,
            ssthresh: usize::MAX,
            acked_in_ca: 0,
            recover: None,
        }
    }

    pub fn set_mss(&mut self, mss: usize, initial_window: u32) {
        self.mss = mss;
        self.cwnd = mss * initial_window as usize;
    }

    pub fn in_recovery(&self) -> bool {
        self.recover.is_some()
    }

    /// A new ACK acknowledged `acked` bytes up to `ack`.
    pub fn on_ack(&mut self, ack: SeqNumber, acked: usize, flight_before: usize) -> AckAction {
        if let Some(recover) = self.recover {
            if seq_diff(ack, recover) >= 0 {
                // RFC 6582 3.2 step 3, full acknowledgment: deflate.
                let flight_after = flight_before.saturating_sub(acked);
                self.cwnd = self.ssthresh.min(flight_after.max(self.mss) + self.mss);
                self.recover = None;
                return AckAction::Nothing;
            }
            // Partial acknowledgment: retransmit the next hole, deflate by
            // the amount acknowledged, add back one MSS.
            self.cwnd = self.cwnd.saturating_sub(acked) + self.mss.min(acked);
            return AckAction::RetransmitFirst;
        }
        if self.cwnd < self.ssthresh {
            // RFC 5681 3.1 slow start, byte counting capped at one SMSS
            // per ACK (RFC 3465 L=1).
            self.cwnd += acked.min(self.mss);
        } else {
            // Congestion avoidance: one SMSS per window of data acked.
            self.acked_in_ca += acked;
            if self.acked_in_ca >= self.cwnd {
                self.acked_in_ca -= self.cwnd;
                self.cwnd += self.mss;
            }
        }
        AckAction::Nothing
    }

    /// The `count`th duplicate ACK in a row arrived.
    pub fn on_dup_ack(
        &mut self,
        count: u32,
        flight: usize,
        snd_max: SeqNumber,
        snd_una: SeqNumber,
    ) -> AckAction {
        if self.recover.is_some() {
            // RFC 6582 3.2 step 4: inflate for each segment that left.
            self.cwnd += self.mss;
            return AckAction::Nothing;
        }
        if count != 3 {
            return AckAction::Nothing;
        }
        // RFC 6582 3.2 step 2: only enter recovery if this loss is new.
        self.ssthresh = (flight / 2).max(2 * self.mss);
        self.cwnd = self.ssthresh + 3 * self.mss;
        self.recover = Some(snd_max);
        let _ = snd_una;
        AckAction::RetransmitFirst
    }

    /// The retransmission timer fired (RFC 5681 3.1, equation 4).
    pub fn on_timeout(&mut self, flight: usize) {
        self.ssthresh = (flight / 2).max(2 * self.mss);
        self.cwnd = self.mss;
        self.acked_in_ca = 0;
        self.recover = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_then_avoidance() {
        let mut cc = NewReno::new(1000, 10);
        assert_eq!(cc.cwnd, 10_000);
        cc.on_ack(SeqNumber(1000), 1000, 10_000);
        assert_eq!(cc.cwnd, 11_000);
        cc.ssthresh = 11_000;
        for _ in 0..10 {
            cc.on_ack(SeqNumber(1000), 1000, 11_000);
        }
        assert_eq!(cc.cwnd, 11_000);
        cc.on_ack(SeqNumber(1000), 1000, 11_000);
        assert_eq!(cc.cwnd, 12_000);
    }

    #[test]
    fn three_dup_acks_enter_recovery_and_full_ack_leaves() {
        let mut cc = NewReno::new(1000, 10);
        assert_eq!(
            cc.on_dup_ack(1, 10_000, SeqNumber(10_000), SeqNumber(0)),
            AckAction::Nothing
        );
        assert_eq!(
            cc.on_dup_ack(3, 10_000, SeqNumber(10_000), SeqNumber(0)),
            AckAction::RetransmitFirst
        );
        assert_eq!((cc.ssthresh, cc.cwnd), (5000, 8000));
        assert_eq!(
            cc.on_ack(SeqNumber(2000), 2000, 10_000),
            AckAction::RetransmitFirst
        );
        assert!(cc.in_recovery());
        assert_eq!(cc.on_ack(SeqNumber(10_000), 8000, 8000), AckAction::Nothing);
        assert!(!cc.in_recovery());
        // RFC 6582 3.2 step 3: min(ssthresh, max(FlightSize, SMSS) + SMSS).
        assert_eq!(cc.cwnd, 2000);
    }

    #[test]
    fn timeout_collapses_to_one_segment() {
        let mut cc = NewReno::new(1000, 10);
        cc.on_timeout(20_000);
        assert_eq!((cc.cwnd, cc.ssthresh), (1000, 10_000));
    }
}
