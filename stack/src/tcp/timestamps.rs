//! RFC 7323 timestamps: the option each segment carries once both SYNs
//! offered it, the PAWS check (section 5), and RTT samples from echoed
//! timestamps (RTTM, section 4).
//!
//! The timestamp clock ticks every millisecond (section 5.4: between 1 ms
//! and 1 s per tick) from the engine's clock, plus a per-connection offset
//! drawn from a keyed hash, so a connection's timestamps reveal neither
//! the host's uptime nor other connections' clocks.

use core::time::Duration;

use crate::time::Instant;
use crate::wire::{SeqNumber, TcpTimestamp};

use super::seq_diff;

/// RFC 7323 5.5: a TS.Recent not refreshed for 24 days may be from before
/// the peer's clock wrapped; it is no longer used to judge segments.
const TS_RECENT_LIFETIME: Duration = Duration::from_secs(24 * 24 * 3600);

/// Bytes the option takes in a segment (NOP NOP + 10), which a full
/// segment's payload gives up.
pub(crate) const TS_OPTION_LEN: usize = 12;

/// A connection's timestamp state.
#[derive(Debug, Clone)]
pub(crate) struct Timestamps {
    /// Added to the engine's millisecond clock.
    offset: u32,
    /// TS.Recent: the timestamp to echo.
    recent: u32,
    /// When TS.Recent was last updated (the PAWS idle rule).
    recent_at: Instant,
    /// Last.ACK.sent: the acknowledgment our last segment carried.
    last_ack_sent: SeqNumber,
}

/// What PAWS says of an arriving segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Paws {
    Accept,
    /// Its timestamp is older than TS.Recent: a duplicate from an earlier
    /// incarnation of the sequence space. Drop it, and acknowledge.
    Reject,
}

impl Timestamps {
    pub fn new(offset: u32, now: Instant) -> Self {
        Timestamps {
            offset,
            recent: 0,
            recent_at: now,
            last_ack_sent: SeqNumber(0),
        }
    }

    /// Our TSval now.
    pub fn clock(&self, now: Instant) -> u32 {
        ((now.as_nanos() / 1_000_000) as u32).wrapping_add(self.offset)
    }

    /// The option for a segment we send now, acknowledging `ack` (for a
    /// SYN without ACK, `tsecr` 0: RFC 7323 3.2).
    pub fn option(&mut self, now: Instant, ack: Option<SeqNumber>) -> TcpTimestamp {
        if let Some(ack) = ack {
            self.last_ack_sent = ack;
        }
        TcpTimestamp {
            tsval: self.clock(now),
            tsecr: if ack.is_some() { self.recent } else { 0 },
        }
    }

    /// The peer's SYN (or SYN-ACK) carried `tsval`.
    pub fn on_syn(&mut self, tsval: u32, now: Instant) {
        self.recent = tsval;
        self.recent_at = now;
    }

    /// RFC 7323 5.3 R1: PAWS. A segment whose TSval is older than
    /// TS.Recent is rejected, unless TS.Recent went unrefreshed for 24
    /// days (then it no longer says anything).
    pub fn paws(&self, tsval: u32, now: Instant) -> Paws {
        let older = (tsval.wrapping_sub(self.recent) as i32) < 0;
        if older && now - self.recent_at <= TS_RECENT_LIFETIME {
            Paws::Reject
        } else {
            Paws::Accept
        }
    }

    /// RFC 7323 4.3 (and 5.3 R3): an acceptable segment starting at `seq`
    /// carried `tsval`. TS.Recent takes it only if it is not older and the
    /// segment starts at or before Last.ACK.sent, so that we echo the
    /// timestamp of the earliest segment a delayed ACK covers, and not
    /// that of out-of-order data beyond it.
    pub fn on_acceptable(&mut self, seq: SeqNumber, tsval: u32, now: Instant) {
        let not_older = (tsval.wrapping_sub(self.recent) as i32) >= 0;
        let stale = now - self.recent_at > TS_RECENT_LIFETIME;
        if (not_older || stale) && seq_diff(seq, self.last_ack_sent) <= 0 {
            self.recent = tsval;
            self.recent_at = now;
        }
    }

    /// RTTM (RFC 7323 4.1): the round trip an echoed timestamp measures,
    /// in whole milliseconds; `None` for a zero or future echo.
    pub fn rtt(&self, tsecr: u32, now: Instant) -> Option<Duration> {
        let ms = self.clock(now).wrapping_sub(tsecr) as i32;
        (tsecr != 0 && ms >= 0).then(|| Duration::from_millis(ms as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn the_clock_ticks_in_milliseconds_from_the_offset_and_wraps() {
        let ts = Timestamps::new(u32::MAX - 1, at(0));
        assert_eq!(ts.clock(at(0)), u32::MAX - 1);
        assert_eq!(ts.clock(at(3)), 1);
        assert_eq!(ts.rtt(u32::MAX - 1, at(3)), Some(Duration::from_millis(3)));
        assert_eq!(ts.rtt(0, at(3)), None, "a zero echo measures nothing");
        assert_eq!(ts.rtt(5, at(3)), None, "an echo from the future");
    }

    #[test]
    fn paws_rejects_older_timestamps_until_ts_recent_is_24_days_old() {
        let mut ts = Timestamps::new(0, at(0));
        ts.on_syn(1000, at(0));
        assert_eq!(ts.paws(1000, at(1)), Paws::Accept);
        assert_eq!(ts.paws(999, at(1)), Paws::Reject);
        // Across the wrap: 2^31 - 1 ahead is newer.
        assert_eq!(
            ts.paws(1000u32.wrapping_add(0x7fff_ffff), at(1)),
            Paws::Accept
        );
        let later = at(0) + TS_RECENT_LIFETIME + Duration::from_secs(1);
        assert_eq!(ts.paws(999, later), Paws::Accept);
    }

    #[test]
    fn ts_recent_follows_only_segments_at_or_before_the_last_ack_sent() {
        let mut ts = Timestamps::new(0, at(0));
        ts.on_syn(100, at(0));
        let _ = ts.option(at(0), Some(SeqNumber(5000)));
        // Out of order (beyond Last.ACK.sent): not taken.
        ts.on_acceptable(SeqNumber(6000), 200, at(1));
        assert_eq!(ts.option(at(1), Some(SeqNumber(5000))).tsecr, 100);
        // In order: taken; an older one is not.
        ts.on_acceptable(SeqNumber(5000), 150, at(1));
        ts.on_acceptable(SeqNumber(5000), 120, at(1));
        assert_eq!(ts.option(at(1), Some(SeqNumber(5100))).tsecr, 150);
        // A SYN echoes nothing.
        assert_eq!(ts.option(at(1), None).tsecr, 0);
    }
}
