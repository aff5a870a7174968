//! RACK-TLP (RFC 8985): loss detection by time. A segment is lost when a
//! segment sent after it has been delivered and more than an RTT (plus a
//! reordering window) has passed since it left; and a tail loss probe
//! sends something when the ACK clock stops, so a lost last segment is
//! found in about two round trips instead of a retransmission timeout.

use core::time::Duration;

use crate::time::Instant;
use crate::wire::SeqNumber;

use super::scoreboard::Scoreboard;
use super::seq_diff;

/// RFC 8985 6.2 step 4: the reordering window stays widened for this many
/// recoveries without D-SACK.
const REO_WND_PERSIST: u32 = 16;

/// A tail loss probe in flight (RFC 8985 7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Probe {
    /// SND.MAX when the probe left.
    pub end: SeqNumber,
    /// The probe was a retransmission (no new data was there to send).
    pub retransmission: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Rack {
    /// The most recently sent segment known delivered: when it left and
    /// where it ended (`RACK.xmit_ts`, `RACK.end_seq`).
    latest: Option<(Instant, SeqNumber)>,
    /// Its round trip (`RACK.rtt`).
    rtt: Duration,
    /// The smallest round trip seen (`RACK.min_RTT`).
    min_rtt: Option<Duration>,
    /// The network was seen to reorder (`RACK.reordering_seen`).
    pub reordering_seen: bool,
    /// RFC 8985 6.2 step 4: `RACK.reo_wnd_mult`, `RACK.reo_wnd_persist`,
    /// `RACK.dsack_round`.
    reo_wnd_mult: u32,
    reo_wnd_persist: u32,
    dsack_round: Option<SeqNumber>,
    /// The tail loss probe in flight, if any.
    pub probe: Option<Probe>,
}

impl Rack {
    /// RFC 8985 6.2 step 2: the most recently sent delivered segment
    /// (`latest`: when it left, its end, whether it was sent again).
    /// A retransmission delivered within min_RTT of leaving was the
    /// original's delivery: not used.
    pub fn on_delivered(&mut self, latest: (Instant, SeqNumber, bool), now: Instant) {
        let (xmit, end, retransmitted) = latest;
        let rtt = now - xmit;
        if retransmitted && self.min_rtt.is_some_and(|m| rtt < m) {
            return;
        }
        let newer = self
            .latest
            .is_none_or(|(at, e)| xmit > at || (xmit == at && seq_diff(end, e) > 0));
        if newer {
            self.latest = Some((xmit, end));
            self.rtt = rtt;
        }
        if !retransmitted {
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        }
    }

    /// The smallest round trip seen, if any.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    /// RFC 8985 6.2 step 4: a D-SACK widens the reordering window, once
    /// per round trip (`snd_max`: where this round ends).
    pub fn on_dsack(&mut self, snd_una: SeqNumber, snd_max: SeqNumber) {
        if self.dsack_round.is_some_and(|r| seq_diff(snd_una, r) >= 0) {
            self.dsack_round = None;
        }
        if self.dsack_round.is_none() {
            self.dsack_round = Some(snd_max);
            self.reo_wnd_mult += 1;
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// A loss recovery ended: the widened window lasts so many of them.
    pub fn on_recovery_end(&mut self) {
        if self.reo_wnd_persist > 0 {
            self.reo_wnd_persist -= 1;
            if self.reo_wnd_persist == 0 {
                self.reo_wnd_mult = 0;
            }
        }
    }

    /// RFC 8985 6.2 step 4: the reordering window. Until reordering is
    /// seen it is zero in recovery, and once three segments are SACKed
    /// (RACK then acts as fast as DupThresh); otherwise a quarter of the
    /// minimum RTT, times the D-SACK multiplier, at most SRTT.
    pub fn reo_wnd(&self, in_recovery: bool, three_sacked: bool, srtt: Duration) -> Duration {
        if !self.reordering_seen && (in_recovery || three_sacked) {
            return Duration::ZERO;
        }
        let min = self.min_rtt.unwrap_or(srtt);
        (min / 4 * self.reo_wnd_mult.max(1)).min(srtt)
    }

    /// RFC 8985 6.2 step 5: marks lost every segment not delivered that
    /// left before the latest delivered one, longer ago than RACK.rtt +
    /// `reo_wnd`. Returns how many it marked, and how long until the
    /// next one would be (the reordering timer), if any is waiting.
    pub fn detect_loss(
        &self,
        sb: &mut Scoreboard,
        now: Instant,
        reo_wnd: Duration,
    ) -> (usize, Option<Duration>) {
        let Some((latest_xmit, latest_end)) = self.latest else {
            return (0, None);
        };
        let (mut marked, mut wait) = (0, None::<Duration>);
        for i in 0..sb.len() {
            let Some(s) = sb.get(i).copied() else { break };
            if s.sacked || (s.lost && !s.retrans_out) {
                continue;
            }
            let sent_before =
                s.xmit < latest_xmit || (s.xmit == latest_xmit && seq_diff(s.end, latest_end) < 0);
            if !sent_before {
                if s.retransmits == 0 {
                    // Records sent once are in the order they left, and a
                    // later one sent again left later still: none after
                    // this one left before the latest delivered.
                    break;
                }
                continue;
            }
            let deadline = s.xmit + self.rtt + reo_wnd;
            if deadline <= now {
                marked += usize::from(sb.mark_lost(i));
            } else {
                let left = deadline - now;
                wait = Some(wait.map_or(left, |w| w.max(left)));
            }
        }
        (marked, wait)
    }
}

/// Slack added to every probe timeout (Linux adds two ticks, 2 ms at
/// 1,000 Hz): on a path of a few microseconds, two SRTTs are shorter than
/// the time a receiver may take to answer a burst, and probes would go
/// out where nothing was lost.
pub(crate) const PTO_SLACK: Duration = Duration::from_millis(2);

/// RFC 8985 7.2: the probe timeout: two smoothed RTTs (plus
/// [`PTO_SLACK`]), plus the peer's worst-case delayed ACK when a single
/// segment is out (its ACK may be held back), and never later than the
/// retransmission timeout would be.
pub(crate) fn probe_timeout(
    srtt: Option<Duration>,
    one_segment_out: bool,
    max_ack_delay: Duration,
    rto: Duration,
) -> Duration {
    let Some(srtt) = srtt else {
        // RFC 8985 7.2: without an RTT sample, 1 s.
        return Duration::from_secs(1).min(rto);
    };
    let mut pto = srtt * 2 + PTO_SLACK;
    if one_segment_out {
        pto += max_ack_delay;
    }
    pto.min(rto)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Ten 1,000-byte segments sent 1 ms apart from t = 0.
    fn ten() -> Scoreboard {
        let mut sb = Scoreboard::default();
        for i in 0..10u32 {
            sb.on_send(
                SeqNumber(i * 1000),
                SeqNumber((i + 1) * 1000),
                false,
                at(u64::from(i)),
            );
        }
        sb
    }

    // RFC 8985 6.2: segment 3 delivered (SACKed) at 23 ms, RTT 20 ms;
    // segments 0..3 left earlier. With a reordering window of 5 ms, the
    // first three are lost once 25 ms, 26 ms and 27 ms have passed; later
    // segments are not judged.
    #[test]
    fn earlier_segments_are_lost_an_rtt_and_the_window_after_they_left() {
        let mut sb = ten();
        let mut rack = Rack::default();
        rack.on_delivered((at(3), SeqNumber(4000), false), at(23));
        assert_eq!(rack.min_rtt(), Some(ms(20)));
        let (marked, wait) = rack.detect_loss(&mut sb, at(25), ms(5));
        assert_eq!((marked, wait), (1, Some(ms(2))));
        let (marked, wait) = rack.detect_loss(&mut sb, at(27), ms(5));
        assert_eq!((marked, wait), (2, None));
        assert_eq!(sb.lost(), 3000);
    }

    #[test]
    fn the_reordering_window_is_zero_until_reordering_is_seen() {
        let mut rack = Rack::default();
        rack.on_delivered((at(0), SeqNumber(1000), false), at(40));
        assert_eq!(rack.reo_wnd(true, false, ms(40)), Duration::ZERO);
        assert_eq!(rack.reo_wnd(false, true, ms(40)), Duration::ZERO);
        assert_eq!(rack.reo_wnd(false, false, ms(40)), ms(10));
        rack.reordering_seen = true;
        assert_eq!(rack.reo_wnd(true, true, ms(40)), ms(10));
        // A D-SACK widens it (once per round), at most to SRTT.
        rack.on_dsack(SeqNumber(0), SeqNumber(5000));
        rack.on_dsack(SeqNumber(100), SeqNumber(5000));
        assert_eq!(rack.reo_wnd(true, true, ms(40)), ms(10));
        rack.on_dsack(SeqNumber(5000), SeqNumber(9000));
        assert_eq!(rack.reo_wnd(true, true, ms(40)), ms(20));
        for _ in 0..REO_WND_PERSIST {
            rack.on_recovery_end();
        }
        assert_eq!(rack.reo_wnd(true, true, ms(40)), ms(10));
    }

    #[test]
    fn a_retransmission_delivered_too_soon_was_the_original() {
        let mut rack = Rack::default();
        rack.on_delivered((at(0), SeqNumber(1000), false), at(20));
        rack.on_delivered((at(30), SeqNumber(2000), true), at(35));
        assert_eq!(rack.rtt, ms(20), "5 ms is below min_RTT: ignored");
        rack.on_delivered((at(30), SeqNumber(2000), true), at(55));
        assert_eq!(rack.rtt, ms(25));
    }

    #[test]
    fn the_probe_timeout_is_two_srtt_plus_the_delayed_ack_for_one_segment() {
        assert_eq!(probe_timeout(Some(ms(10)), false, ms(200), ms(300)), ms(22));
        assert_eq!(probe_timeout(Some(ms(10)), true, ms(200), ms(300)), ms(222));
        assert_eq!(
            probe_timeout(Some(ms(100)), true, ms(200), ms(300)),
            ms(300)
        );
        assert_eq!(probe_timeout(None, false, ms(200), ms(3000)), ms(1000));
    }
}
