//! What ICMP errors do to a connection: soft and hard errors (RFC 1122
//! 4.2.3.9, hardened as RFC 5927 recommends) and path MTU discovery (RFC
//! 1191).
//!
//! An ICMP error quotes the start of the segment that caused it. The
//! engine finds the connection by the quoted addresses and ports; here the
//! quoted sequence number must lie in what was sent and not yet
//! acknowledged (RFC 5927 4.1), or the report is stale or forged and
//! ignored. Then:
//!
//! - before the handshake completes, a hard error (the peer runs no TCP
//!   there, or a filter refuses) aborts the open: retrying cannot help;
//! - otherwise the report is noted as the connection's soft error. It
//!   aborts nothing (a forged message could otherwise reset any
//!   connection, RFC 5927 7.2), but if retransmissions, probes or
//!   keepalives then run out, the connection reports it instead of a bare
//!   timeout (as Linux reports `sk_err_soft`). An acknowledgment of new
//!   data clears it: the path works again;
//! - "fragmentation needed" lowers the segment size to the reported MTU
//!   (never below the engine's `min_path_mtu`, never upward), and what is
//!   in flight in larger segments is deemed lost and goes again in smaller
//!   ones at once, without a congestion response (the network dropped the
//!   segments for their size, not for congestion).

use crate::api::{ResetCause, State, Unreachable};
use crate::buf::PacketBuf;
use crate::wire::SeqNumber;

use super::cc::CongestionControl;
use super::timestamps::TS_OPTION_LEN;
use super::{seq_diff, Outcome, Tcb};

/// IPv4 and TCP headers without options: what an MTU holds beyond the
/// segment's payload.
const IP_TCP_HEADERS: usize = 40;

/// An ICMP error, as it concerns TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IcmpReport {
    /// Destination Unreachable (other than code 4) or Time Exceeded.
    Unreachable(Unreachable),
    /// Destination Unreachable, fragmentation needed and DF set: the path
    /// carries IP datagrams of at most `mtu` bytes (already raised to the
    /// engine's floor).
    PacketTooBig { mtu: usize },
}

/// What a report did, for the engine's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IcmpEffect {
    /// The quoted sequence number is not in flight: ignored.
    Unmatched,
    /// Noted as the soft error, or the open aborted.
    Applied,
    /// The segment size went down.
    MssLowered,
    /// A valid report that changes nothing (an MTU no smaller than the
    /// segments already are).
    Nothing,
}

impl<B: PacketBuf> Tcb<B> {
    /// Takes an ICMP error quoting a segment that started at `seq`.
    pub(crate) fn on_icmp(&mut self, seq: SeqNumber, report: IcmpReport) -> (IcmpEffect, Outcome) {
        self.call(|tcb| tcb.apply_icmp(seq, report))
    }

    fn apply_icmp(&mut self, seq: SeqNumber, report: IcmpReport) -> IcmpEffect {
        let in_flight = seq_diff(seq, self.snd_una) >= 0 && seq_diff(seq, self.snd_max) < 0;
        if !in_flight || self.is_closed() {
            return IcmpEffect::Unmatched;
        }
        match report {
            IcmpReport::Unreachable(why) => {
                let opening = matches!(self.state, State::SynSent | State::SynReceived);
                if opening && why.is_hard() {
                    self.reset_with(ResetCause::Unreachable(why));
                } else {
                    self.soft_error = Some(why);
                }
                IcmpEffect::Applied
            }
            IcmpReport::PacketTooBig { mtu } => {
                if self.lower_mss(mtu) {
                    IcmpEffect::MssLowered
                } else {
                    IcmpEffect::Nothing
                }
            }
        }
    }

    /// RFC 1191 6.3: segments now fit `mtu`. Returns whether they shrank.
    fn lower_mss(&mut self, mtu: usize) -> bool {
        if !self.is_synchronized() {
            return false;
        }
        let options = if self.ts.is_some() { TS_OPTION_LEN } else { 0 };
        let mss = mtu.saturating_sub(IP_TCP_HEADERS + options).max(1);
        if mss >= self.snd_mss {
            // RFC 5927 7.3: a report can only lower the size.
            return false;
        }
        self.snd_mss = mss;
        self.send.set_chunk(mss);
        self.cc.set_path_mss(mss);
        // What was too big is deemed lost: it goes again first, in pieces
        // that fit (`poll_data` sends what is lost before anything new).
        self.sb.shrink_to(mss);
        true
    }

    /// Retransmissions, probes or keepalives ran out: reset with `cause`,
    /// or with the ICMP report that explains it, if one came (RFC 1122
    /// 4.2.3.9).
    pub(crate) fn time_out(&mut self, cause: ResetCause) {
        let cause = self.soft_error.map_or(cause, ResetCause::Unreachable);
        self.reset_with(cause);
    }
}
