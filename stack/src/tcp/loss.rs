//! The sender's side of an ACK, and its timers: what was delivered
//! (scoreboard), round-trip samples, loss detection (RACK, RFC 8985, with
//! SACK; three duplicate ACKs and partial ACKs, RFC 6582, without), the
//! recovery episode and its window (RFC 6675, RFC 6937), the congestion
//! controller, tail loss probes, and undoing spurious responses
//! (timestamps, RFC 3522; D-SACK, RFC 3708).
//!
//! One timer slot (`TimerKind::Rto`) serves three purposes, one at a
//! time, as in Linux: the RACK reordering timer, the tail loss probe, and
//! the retransmission timeout.

use crate::engine::TcpInfo;
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{SackBlock, SeqNumber};

use super::cc::{AckInfo, CongestionAlgorithm, CongestionControl};
use super::input::SegmentInfo;
use super::rack::{probe_timeout, Probe};
use super::recovery::{FirstRepair, Recovery};
use super::scoreboard::Delivered;
use super::timers::TimerKind;
use super::{seq_diff, Ctx, Tcb};

/// What the retransmission timer slot is armed for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum SendTimer {
    /// RFC 6298 retransmission timeout.
    #[default]
    Rto,
    /// RFC 8985 7: a tail loss probe.
    Probe,
    /// RFC 8985 6.3: the RACK reordering timer.
    Reorder,
}

/// RFC 5681 3.2: three duplicate ACKs mean a loss (without SACK).
const DUP_THRESH: u32 = 3;

impl<B: crate::buf::PacketBuf> Tcb<B> {
    /// RFC 6675 `pipe`; without SACK every duplicate ACK stands for a
    /// segment that left the network.
    pub(crate) fn pipe(&self) -> usize {
        let pipe = self.sb.pipe();
        if self.sack_ok {
            pipe
        } else {
            pipe.saturating_sub(self.dup_acks as usize * self.snd_mss)
        }
    }

    /// The sender's side of an acceptable ACK (`advanced`: it moved
    /// SND.UNA; `delivered`: what the scoreboard learnt from it).
    pub(crate) fn on_delivery(
        &mut self,
        ctx: &Ctx,
        seg: &SegmentInfo,
        advanced: bool,
        dup_ack: bool,
        mut delivered: Delivered,
        stats: &mut Stats,
    ) {
        if self
            .loss_point
            .is_some_and(|p| seq_diff(self.snd_una, p) >= 0)
        {
            // Everything sent before the timeout is accounted for.
            self.loss_point = None;
        }
        let in_flight_before = self.pipe() + delivered.bytes;
        self.sample_rtt(ctx, seg, advanced, &delivered);
        // A segment sent once arriving below one delivered before it is
        // reordering (RFC 8985 6.2 step 3); so is a duplicate reported of
        // a retransmission: the original was late, not lost.
        if (delivered.reordered || delivered.dsack) && !self.rack.reordering_seen {
            self.rack.reordering_seen = true;
            stats.reorderings += 1;
        }
        if let (true, Some(block)) = (delivered.dsack, seg.sack[0]) {
            self.on_dsack(block, stats);
        }
        if !self.sack_ok && dup_ack {
            // RFC 6937: without SACK, each duplicate ACK delivered a
            // segment.
            delivered.bytes += self.snd_mss;
        }
        self.eifel_check(seg, advanced, stats);
        self.probe_check(ctx, stats);
        self.detect_loss(ctx, advanced, dup_ack, stats);
        self.update_window(ctx, seg, advanced, &delivered, in_flight_before, stats);
        self.rearm_send_timer(ctx, advanced);
    }

    /// The peer reported `block` as a duplicate (D-SACK).
    fn on_dsack(&mut self, block: SackBlock, stats: &mut Stats) {
        stats.dsacks_received += 1;
        self.rack.on_dsack(self.snd_una, self.snd_max);
        if let Some(r) = &mut self.recovery {
            // Judged when the episode ends.
            r.unconfirmed.on_duplicate(block.left);
        } else if let Some(u) = &mut self.dsack_undo {
            if u.on_duplicate(block.left) {
                // The last of an ended episode's retransmissions.
                self.dsack_undo = None;
                stats.spurious_recoveries += 1;
                self.cc.undo();
            }
        }
        if self
            .rack
            .probe
            .is_some_and(|p| p.retransmission && seq_diff(block.right, p.end) >= 0)
        {
            // The probe repeated what had arrived: no loss there.
            self.rack.probe = None;
        }
    }

    /// An RTT sample per ACK: the most recently sent segment it
    /// delivered, to the microsecond, unless that one was sent more than
    /// once (Karn); else the echoed timestamp (RTTM, RFC 7323 4.1: valid
    /// after retransmissions too). Both weigh as one of a window's
    /// samples (RFC 7323 appendix G).
    fn sample_rtt(&mut self, ctx: &Ctx, seg: &SegmentInfo, advanced: bool, d: &Delivered) {
        let flight = self.sb.out() + d.bytes;
        let expected = flight.div_ceil(2 * self.snd_mss.max(1)).max(1);
        let expected = u32::try_from(expected).unwrap_or(u32::MAX);
        if let Some(latest) = d.latest {
            self.rack.on_delivered(latest, ctx.now);
            if !latest.2 {
                self.rtt.sample_one_of(ctx.now - latest.0, expected);
                self.last_rtt = Some(ctx.now - latest.0);
                return;
            }
        }
        if !advanced || d.bytes == 0 {
            // Nothing but our SYN was acknowledged: timed on its own.
            return;
        }
        let measured = match (&self.ts, seg.ts) {
            (Some(ts), Some(opt)) => ts.rtt(opt.tsecr, ctx.now),
            _ => None,
        };
        if let Some(rtt) = measured {
            self.rtt.sample_one_of(rtt, expected);
            self.last_rtt = Some(rtt);
        }
    }

    /// RFC 3522 (Eifel): the first ACK that covers the first repair after
    /// a loss was detected echoes the timestamp of whichever copy filled
    /// the hole. The original's means the repair was not needed: after a
    /// timeout, its congestion response is undone at once; in fast
    /// recovery, when the episode ends (as Linux's `tcp_packet_delayed`).
    fn eifel_check(&mut self, seg: &SegmentInfo, advanced: bool, stats: &mut Stats) {
        if !advanced {
            return;
        }
        let echo = seg.ts.map(|t| t.tsecr);
        if self.rto_first.judge(self.snd_una, echo) {
            stats.spurious_rtos += 1;
            self.cc.undo();
            self.sb.unmark_lost();
            self.recovery = None;
            self.loss_point = None;
        }
        if let Some(r) = &mut self.recovery {
            r.first.judge(self.snd_una, echo);
        }
    }

    /// RFC 8985 7.4: the tail loss probe's episode ends when everything up
    /// to it is acknowledged. A probe that was a retransmission and drew
    /// no D-SACK repaired a loss: the congestion response is due.
    fn probe_check(&mut self, ctx: &Ctx, stats: &mut Stats) {
        let Some(probe) = self.rack.probe else {
            return;
        };
        if seq_diff(self.snd_una, probe.end) < 0 {
            return;
        }
        self.rack.probe = None;
        if probe.retransmission && self.recovery.is_none() {
            stats.tlp_repairs += 1;
            let flight = self.sb.out();
            self.cc.on_congestion(ctx.now, flight.max(self.snd_mss));
            self.cc.on_recovery_end(ctx.now);
        }
    }

    /// Marks what is lost: by RACK when SACK is in use, by three duplicate
    /// ACKs and partial ACKs (RFC 6582) when it is not. A loss outside
    /// recovery begins an episode.
    fn detect_loss(&mut self, ctx: &Ctx, advanced: bool, dup_ack: bool, stats: &mut Stats) {
        self.reorder_at = None;
        if self.sack_ok {
            let reo_wnd = self.rack.reo_wnd(
                self.recovery.is_some(),
                self.sb.sacked() >= DUP_THRESH as usize * self.snd_mss,
                self.rtt.srtt().unwrap_or_default(),
            );
            let (marked, wait) = self.rack.detect_loss(&mut self.sb, ctx.now, reo_wnd);
            stats.rack_lost += marked as u64;
            self.reorder_at = wait.map(|w| ctx.now + w);
        } else if self.recovery.is_none() && dup_ack && self.dup_acks == DUP_THRESH {
            // RFC 5681 3.2: fast retransmit of the first segment.
            self.sb.mark_lost(0);
        } else if self.recovery.is_some() && advanced {
            // RFC 6582 3.2 step 5: a partial ACK shows the next hole.
            self.sb.mark_lost(0);
        }
        // After a timeout, what is lost goes out again at the pace of slow
        // start (RFC 5681 3.1, RFC 6582 4.2): no fast recovery within.
        if self.recovery.is_none() && self.loss_point.is_none() && self.sb.first_lost().is_some() {
            let flight = self.sb.out();
            self.cc.on_congestion(ctx.now, flight);
            self.recovery = Some(Recovery::new(self.snd_max, flight));
            self.dsack_undo = None;
            self.rack.probe = None;
            stats.recoveries += 1;
        }
    }

    /// The window after an ACK: PRR in recovery (and the end of an
    /// episode at its recovery point), the congestion controller's growth
    /// outside.
    fn update_window(
        &mut self,
        ctx: &Ctx,
        seg: &SegmentInfo,
        advanced: bool,
        d: &Delivered,
        in_flight: usize,
        stats: &mut Stats,
    ) {
        if let Some(r) = &self.recovery {
            if advanced && r.ends_at(self.snd_una) {
                // RFC 3708: when every retransmission of the episode is
                // reported a duplicate (D-SACK), now or later, nothing was
                // lost and the reduction is undone; so when the holes
                // filled before any went, or when the first retransmission
                // proved unneeded by its timestamp (RFC 3522).
                let spurious = r.unconfirmed.left == 0 || r.first == FirstRepair::Unneeded;
                self.dsack_undo = (!spurious).then_some(r.unconfirmed);
                self.recovery = None;
                self.dup_acks = 0;
                self.cc.on_recovery_end(ctx.now);
                self.rack.on_recovery_end();
                if spurious {
                    stats.spurious_recoveries += 1;
                    self.cc.undo();
                }
                return;
            }
        }
        let pipe = self.pipe();
        let (ssthresh, mss) = (self.cc.ssthresh(), self.snd_mss);
        if let Some(r) = &mut self.recovery {
            let cwnd = r.on_ack(d.bytes, pipe, ssthresh, mss);
            self.cc.set_cwnd(cwnd);
            return;
        }
        if d.bytes == 0 {
            return;
        }
        // Grow only while the window is what limits sending (RFC 7661's
        // idea): an application that sends little must not earn a window
        // it never used.
        if in_flight + self.snd_mss < self.cc.cwnd() {
            return;
        }
        self.cc.on_ack(&AckInfo {
            now: ctx.now,
            acked: d.bytes,
            ack: seg.ack,
            snd_max: self.snd_max,
            rtt: self.last_rtt,
            srtt: self.rtt.srtt().unwrap_or_default(),
        });
    }

    /// Arms the retransmission slot for what comes next: the reordering
    /// timer when RACK waits on a segment; else a loss probe when one may
    /// go (SACK in use, not after a timeout, no probe out yet); else the
    /// retransmission timeout, restarted when the ACK moved SND.UNA (RFC
    /// 6298 5.3) and started if not running (5.1).
    ///
    /// Unlike RFC 8985 7.2 (and Linux), a probe may also go during fast
    /// recovery, as QUIC's probe timeout does (RFC 9002 6.2): when the
    /// ACKs stop after a retransmission, because it or the ACK for it was
    /// lost, or because the receiver holds its ACKs back (Linux compresses
    /// SACKs after the third duplicate ACK), nothing sent after it can
    /// show RACK the loss, and without a probe only the timeout would
    /// end the silence, with the window down to one segment.
    pub(crate) fn rearm_send_timer(&mut self, ctx: &Ctx, restart: bool) {
        if self.snd_una == self.snd_max {
            self.deadlines.clear(TimerKind::Rto);
            self.send_timer = SendTimer::Rto;
            // Everything arrived: a probe that was due is not.
            self.probe_now = false;
            return;
        }
        if let Some(at) = self.reorder_at {
            self.send_timer = SendTimer::Reorder;
            self.set_send_timer(TimerKind::Rto, at);
            return;
        }
        let rto = self.rtt.rto();
        let probe_allowed = self.sack_ok
            && self.loss_point.is_none()
            && self.rack.probe.is_none()
            && self.retries == 0;
        if probe_allowed {
            // RFC 8985 7.2: the probe goes at the PTO, or when the
            // timeout would have fired if that is sooner: the probe, not
            // the timeout, answers the first silence.
            let one = self.sb.out() <= self.snd_mss;
            let pto = probe_timeout(self.rtt.srtt(), one, ctx.cfg.peer_max_ack_delay, rto);
            let mut at = ctx.now + pto;
            if self.send_timer == SendTimer::Rto && !restart {
                if let Some(rto_at) = self.deadlines.get(TimerKind::Rto) {
                    at = at.min(rto_at);
                }
            }
            self.send_timer = SendTimer::Probe;
            self.set_send_timer(TimerKind::Rto, at);
            return;
        }
        if restart || self.send_timer != SendTimer::Rto || !self.deadlines.is_set(TimerKind::Rto) {
            self.send_timer = SendTimer::Rto;
            self.set_send_timer(TimerKind::Rto, ctx.now + rto);
        }
    }

    /// The retransmission slot fired for a probe or the reordering timer
    /// (the timeout itself is `on_rto`). Returns false if it was the
    /// timeout.
    pub(crate) fn on_send_timer(&mut self, ctx: &Ctx, stats: &mut Stats) -> bool {
        match self.send_timer {
            SendTimer::Rto => false,
            SendTimer::Reorder => {
                self.send_timer = SendTimer::Rto;
                self.detect_loss(ctx, false, false, stats);
                self.rearm_send_timer(ctx, false);
                true
            }
            SendTimer::Probe => {
                // RFC 8985 7.3: new data if the windows let it go, else the
                // last segment again; then the retransmission timeout.
                self.send_timer = SendTimer::Rto;
                self.probe_now = true;
                stats.tlp_probes += 1;
                self.set_send_timer(TimerKind::Rto, ctx.now + self.rtt.rto());
                true
            }
        }
    }

    /// A tail loss probe goes out, ending at `end`: records the episode.
    /// `retransmission`: no new data could go.
    pub(crate) fn note_probe(&mut self, end: SeqNumber, retransmission: bool) {
        self.probe_now = false;
        self.rack.probe = Some(Probe {
            end,
            retransmission,
        });
    }

    /// Time since data last left, for the idle restart (RFC 5681 4.1).
    pub(crate) fn idle_restart(&mut self, now: Instant) {
        if self.sb.is_empty() {
            let idle = now - self.last_send;
            self.cc.on_idle_restart(now, idle, self.rtt.rto());
        }
        self.last_send = now;
    }

    /// Changes the congestion control algorithm (`Engine::set_congestion`).
    pub(crate) fn set_congestion(&mut self, ctx: &Ctx, algorithm: CongestionAlgorithm) {
        self.cc
            .switch(algorithm, self.snd_mss, ctx.cfg.initial_window);
    }

    /// The sender's state, for `Engine::tcp_info`.
    pub(crate) fn info(&self) -> TcpInfo {
        TcpInfo {
            state: self.state,
            congestion: self.cc.algorithm(),
            cwnd: self.cc.cwnd(),
            ssthresh: self.cc.ssthresh(),
            snd_mss: self.snd_mss,
            snd_wnd: self.snd_wnd,
            unacked: self.sb.out(),
            in_flight: self.pipe(),
            sacked: self.sb.sacked(),
            lost: self.sb.lost(),
            srtt: self.rtt.srtt(),
            min_rtt: self.rack.min_rtt(),
            rto: self.rtt.rto(),
            in_recovery: self.recovery.is_some() || self.loss_point.is_some(),
            timestamps: self.ts.is_some(),
            window_scaling: self.wscale_ok,
            sack: self.sack_ok,
        }
    }
}
