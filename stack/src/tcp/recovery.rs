//! Fast recovery: the episode that begins when a loss is detected and
//! ends when everything sent before it is acknowledged (RFC 6675 section
//! 5), with Proportional Rate Reduction setting the window on every ACK
//! meanwhile (RFC 6937), so the window comes down to `ssthresh` in step
//! with what the network delivers instead of all at once.

use crate::wire::SeqNumber;

use super::seq_diff;

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
    /// Retransmissions sent during the episode, and how many of them the
    /// peer reported as duplicates (D-SACK): all of them means the episode
    /// was spurious (RFC 3708).
    pub retransmits: u32,
    pub dsacked: u32,
    /// Where the rescue retransmission (RFC 6675 NextSeg rule 4) began,
    /// once it went. It is speculative: not counted in `retransmits`, and
    /// a duplicate reported of it proves nothing.
    pub rescue: Option<SeqNumber>,
    /// The episode's first retransmission: where it began and its
    /// timestamp (with timestamps in use), until the ACK that covers it
    /// tells whether the original had arrived (RFC 3522).
    pub first_retransmission: Option<(SeqNumber, u32)>,
    /// The ACK that covered the first retransmission echoed the original:
    /// the episode was spurious.
    pub original_arrived: bool,
}

impl Recovery {
    pub fn new(point: SeqNumber, in_flight: usize) -> Self {
        Recovery {
            point,
            recover_fs: in_flight.max(1),
            prr_delivered: 0,
            prr_out: 0,
            retransmits: 0,
            dsacked: 0,
            rescue: None,
            first_retransmission: None,
            original_arrived: false,
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

    #[test]
    fn the_episode_ends_at_the_recovery_point() {
        let r = Recovery::new(SeqNumber(5000), 5000);
        assert!(!r.ends_at(SeqNumber(4999)));
        assert!(r.ends_at(SeqNumber(5000)));
    }
}
