//! Fast recovery: the episode that begins when a loss is detected and
//! ends when everything sent before it is acknowledged (RFC 6675 section
//! 5), with Proportional Rate Reduction setting the window on every ACK
//! meanwhile (RFC 6937), so the window comes down to `ssthresh` in step
//! with what the network delivers instead of all at once.

use crate::wire::SeqNumber;

use super::seq_diff;

/// RFC 3708: retransmissions of an episode not yet reported as duplicates
/// (D-SACK). None left means none was needed: the episode was spurious.
/// It outlives the episode, as the reports may come after its end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Unconfirmed {
    pub left: u32,
    /// Where the rescue retransmission (RFC 6675 NextSeg rule 4) began,
    /// once it went. It is speculative: not counted, and a duplicate
    /// reported of it proves nothing.
    pub rescue: Option<SeqNumber>,
}

impl Unconfirmed {
    /// The peer reported a duplicate starting at `start`. Returns whether
    /// that was the last retransmission outstanding.
    pub fn on_duplicate(&mut self, start: SeqNumber) -> bool {
        if self.left == 0 || self.rescue == Some(start) {
            return false;
        }
        self.left -= 1;
        self.left == 0
    }
}

/// The first retransmission after a loss was detected (fast recovery, or
/// a timeout), as far as the timestamp its ACK echoes tells (RFC 3522;
/// for fast recovery as Linux's `tcp_packet_delayed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FirstRepair {
    NotSent,
    /// Sent at `start` with timestamp `tsval`; the ACK that covers it
    /// will echo the copy that filled the hole.
    Awaiting {
        start: SeqNumber,
        tsval: u32,
    },
    /// The original filled the hole: the retransmission was not needed.
    Unneeded,
    /// Needed, or no timestamp to tell.
    Settled,
}

impl FirstRepair {
    /// A repair went at `start` with timestamp `tsval`: the first one is
    /// remembered.
    pub fn on_repair(&mut self, start: SeqNumber, tsval: Option<u32>) {
        if *self == FirstRepair::NotSent {
            *self = tsval.map_or(FirstRepair::Settled, |tsval| FirstRepair::Awaiting {
                start,
                tsval,
            });
        }
    }

    /// An ACK moved SND.UNA to `snd_una`, echoing `echo`. Returns true
    /// when it shows, now, that the first repair was not needed: it covers
    /// the repair and echoes an older timestamp, the original's.
    pub fn judge(&mut self, snd_una: SeqNumber, echo: Option<u32>) -> bool {
        let FirstRepair::Awaiting { start, tsval } = *self else {
            return false;
        };
        if seq_diff(snd_una, start) <= 0 {
            return false;
        }
        let original = echo.is_some_and(|e| (e.wrapping_sub(tsval) as i32) < 0);
        *self = if original {
            FirstRepair::Unneeded
        } else {
            FirstRepair::Settled
        };
        original
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Recovery {
    /// RFC 6675 `RecoveryPoint`: SND.MAX when the episode began.
    pub point: SeqNumber,
    /// RFC 6937 `RecoverFS`: bytes in flight when it began.
    recover_fs: usize,
    /// Bytes the receiver got during the episode.
    prr_delivered: usize,
    /// Bytes sent during the episode.
    prr_out: usize,
    /// The episode's retransmissions the peer has not reported as
    /// duplicates yet (RFC 3708).
    pub unconfirmed: Unconfirmed,
    /// What the episode's first retransmission turned out to be (RFC
    /// 3522).
    pub first: FirstRepair,
}

impl Recovery {
    pub fn new(point: SeqNumber, in_flight: usize) -> Self {
        Recovery {
            point,
            recover_fs: in_flight.max(1),
            prr_delivered: 0,
            prr_out: 0,
            unconfirmed: Unconfirmed::default(),
            first: FirstRepair::NotSent,
        }
    }

    /// Whether the cumulative ACK `ack` ends the episode.
    pub fn ends_at(&self, ack: SeqNumber) -> bool {
        seq_diff(ack, self.point) >= 0
    }

    /// An ACK delivered `delivered` bytes with `pipe` bytes left in the
    /// network: the window (RFC 6937 section 3, with the slow start
    /// reduction bound).
    pub fn on_ack(&mut self, delivered: usize, pipe: usize, ssthresh: usize, mss: usize) -> usize {
        self.prr_delivered += delivered;
        let sndcnt = if pipe > ssthresh {
            // Proportional rate reduction.
            (self.prr_delivered * ssthresh).div_ceil(self.recover_fs) as isize
                - self.prr_out as isize
        } else {
            // PRR-SSRB: catch up towards ssthresh, no faster than slow
            // start.
            let limit = (self.prr_delivered as isize - self.prr_out as isize)
                .max(delivered as isize)
                + mss as isize;
            (ssthresh as isize - pipe as isize).min(limit)
        };
        pipe + sndcnt.max(0) as usize
    }

    /// `bytes` left during the episode.
    pub fn on_send(&mut self, bytes: usize) {
        self.prr_out += bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: usize = 1000;

    // RFC 6937 section 4's example: 20 segments in flight, one lost,
    // ssthresh 10. While pipe > ssthresh, one segment goes out for every
    // two delivered.
    #[test]
    fn prr_sends_one_for_every_two_delivered_above_ssthresh() {
        let mut r = Recovery::new(SeqNumber(20 * MSS as u32), 20 * MSS);
        let ssthresh = 10 * MSS;
        let mut pipe = 19 * MSS;
        let mut sent = 0;
        for i in 1..=10 {
            // The ACK reports a segment delivered: it left the pipe.
            pipe -= MSS;
            let cwnd = r.on_ack(MSS, pipe, ssthresh, MSS);
            let can = cwnd.saturating_sub(pipe);
            let n = can / MSS;
            r.on_send(n * MSS);
            pipe += n * MSS;
            sent += n;
            assert_eq!(sent, i / 2, "after {i} ACKs");
        }
    }

    // Below ssthresh (heavy losses): PRR-SSRB grows back by at most one
    // segment more than delivered, and not past ssthresh.
    #[test]
    fn below_ssthresh_the_window_catches_up_like_slow_start() {
        let mut r = Recovery::new(SeqNumber(20 * MSS as u32), 20 * MSS);
        let cwnd = r.on_ack(MSS, 2 * MSS, 10 * MSS, MSS);
        assert_eq!(cwnd, 2 * MSS + 2 * MSS, "delivered + 1 MSS");
        let cwnd = r.on_ack(MSS, 9 * MSS + 500, 10 * MSS, MSS);
        assert_eq!(cwnd, 10 * MSS, "capped at ssthresh");
    }

    // RFC 3708: the last retransmission reported as a duplicate says the
    // episode was spurious; the rescue retransmission's duplicate says
    // nothing.
    #[test]
    fn only_the_last_unconfirmed_retransmission_reported_undoes() {
        let mut u = Unconfirmed {
            left: 2,
            rescue: Some(SeqNumber(9000)),
        };
        assert!(!u.on_duplicate(SeqNumber(9000)), "the rescue");
        assert!(!u.on_duplicate(SeqNumber(1000)));
        assert!(u.on_duplicate(SeqNumber(2000)), "the last one");
        assert!(!u.on_duplicate(SeqNumber(3000)), "nothing left to confirm");
    }

    #[test]
    fn the_episode_ends_at_the_recovery_point() {
        let r = Recovery::new(SeqNumber(5000), 5000);
        assert!(!r.ends_at(SeqNumber(4999)));
        assert!(r.ends_at(SeqNumber(5000)));
    }
}
