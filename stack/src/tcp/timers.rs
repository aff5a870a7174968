//! The TCB's own deadlines, and what happens when each one passes.
//!
//! A TCB keeps one deadline per kind; the engine mirrors them into its
//! timing wheel and calls [`Tcb::on_timer`] when one fires.

use core::time::Duration;

use crate::api::{CloseOutcome, ResetCause, State};
use crate::buf::PacketBuf;
use crate::stats::{RstReason, Stats};
use crate::time::Instant;

use super::cc::CongestionControl;
use super::loss::SendTimer;
use super::recovery::FirstRepair;
use super::{Ctx, Outcome, Tcb};

/// The kinds of TCB timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TimerKind {
    /// Retransmission (data, SYN, SYN-ACK, FIN).
    Rto = 0,
    DelayedAck = 1,
    /// Zero-window probing.
    Persist = 2,
    Keepalive = 3,
    /// `Some(t)` linger after close (contract 9b).
    Linger = 4,
    /// TIME_WAIT, or the orphan FIN_WAIT_2 timeout.
    Lifetime = 5,
    /// Out-of-order data waited `memory.ooo_timeout_ms` without the
    /// stream moving on.
    Reassembly = 6,
}

impl TimerKind {
    pub const COUNT: usize = 7;
    pub const ALL: [TimerKind; TimerKind::COUNT] = [
        TimerKind::Rto,
        TimerKind::DelayedAck,
        TimerKind::Persist,
        TimerKind::Keepalive,
        TimerKind::Linger,
        TimerKind::Lifetime,
        TimerKind::Reassembly,
    ];
}

/// One optional deadline per [`TimerKind`], and whether any changed
/// since the engine last mirrored them into its timing wheel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Deadlines {
    at: [Option<Instant>; TimerKind::COUNT],
    changed: bool,
}

impl Deadlines {
    pub fn get(&self, kind: TimerKind) -> Option<Instant> {
        self.at[kind as usize]
    }

    pub fn set(&mut self, kind: TimerKind, at: Instant) {
        self.at[kind as usize] = Some(at);
        self.changed = true;
    }

    pub fn clear(&mut self, kind: TimerKind) {
        if self.at[kind as usize].take().is_some() {
            self.changed = true;
        }
    }

    pub fn is_set(&self, kind: TimerKind) -> bool {
        self.at[kind as usize].is_some()
    }

    /// Clears them all.
    pub fn clear_all(&mut self) {
        for kind in TimerKind::ALL {
            self.clear(kind);
        }
    }

    /// TIME_WAIT keeps only its lifetime (and a linger outcome is settled
    /// before it gets there).
    pub fn clear_all_but_lifetime(&mut self) {
        for kind in TimerKind::ALL {
            if kind != TimerKind::Lifetime {
                self.clear(kind);
            }
        }
    }

    /// Whether any deadline changed since the last call; resets the flag.
    pub fn take_changed(&mut self) -> bool {
        core::mem::take(&mut self.changed)
    }
}

impl<B: PacketBuf> Tcb<B> {
    /// A deadline of `kind` passed. The engine checks the deadline is still
    /// current before calling.
    pub fn on_timer(&mut self, ctx: &Ctx, kind: TimerKind, stats: &mut Stats) -> Outcome {
        self.timer_expired(ctx, kind, stats);
        self.finish()
    }

    fn timer_expired(&mut self, ctx: &Ctx, kind: TimerKind, stats: &mut Stats) {
        self.deadlines.clear(kind);
        match kind {
            TimerKind::Rto => {
                if !self.on_send_timer(ctx, stats) {
                    self.on_rto(ctx);
                }
            }
            TimerKind::DelayedAck => {
                if self.ack_pending {
                    self.ack_now = true;
                    // No answer came to ride on: not ping-pong after all.
                    self.pingpong = false;
                }
            }
            TimerKind::Persist => self.on_persist(ctx),
            TimerKind::Keepalive => self.on_keepalive(ctx),
            TimerKind::Linger => self.on_linger_expired(),
            TimerKind::Lifetime => self.on_lifetime_expired(),
            TimerKind::Reassembly => {
                // No buffer without a timer: the sender still has every
                // byte we never acknowledged.
                self.ooo.clear();
            }
        }
    }

    /// Arms the retransmission timer if it is not running.
    pub fn arm_rto(&mut self, now: Instant) {
        if !self.deadlines.is_set(TimerKind::Rto) {
            self.set_send_timer(TimerKind::Rto, now + self.rtt.rto());
        }
    }

    /// Sets a timer that retransmits or probes, no later than the user
    /// timeout, so that it can end the connection in time.
    pub(crate) fn set_send_timer(&mut self, kind: TimerKind, at: Instant) {
        let at = match self.user_deadline() {
            Some(limit) => at.min(limit),
            None => at,
        };
        self.deadlines.set(kind, at);
    }

    /// When queued data will have waited the user timeout.
    pub(crate) fn user_deadline(&self) -> Option<Instant> {
        (!self.user_timeout.is_zero()).then(|| self.progress_at + self.user_timeout)
    }

    /// The user timeout ran out (`TCP_USER_TIMEOUT`): reset the
    /// connection. Returns whether it did.
    fn user_timeout_expired(&mut self, now: Instant) -> bool {
        if self.user_deadline().is_some_and(|at| now >= at) {
            self.time_out(ResetCause::RetransmitTimeout);
            return true;
        }
        false
    }

    /// RFC 6298 section 5: back off, and give up after the configured
    /// count. In a synchronized state everything not SACKed is deemed
    /// lost (RFC 6675 5.1) and goes out again from the first hole, one
    /// segment now and more as the restarted window allows; during the
    /// handshake the SYN goes again.
    fn on_rto(&mut self, ctx: &Ctx) {
        if self.snd_una == self.snd_max || self.user_timeout_expired(ctx.now) {
            return;
        }
        let limit = match self.state {
            State::SynSent => ctx.cfg.syn_retries,
            State::SynReceived => ctx.cfg.synack_retries,
            _ => ctx.cfg.max_retransmits,
        };
        if self.retries >= limit {
            self.time_out(ResetCause::RetransmitTimeout);
            return;
        }
        self.retries += 1;
        tracing::debug!(
            target: "stack::rto",
            local = %self.local,
            remote = %self.remote,
            state = ?self.state,
            retries = self.retries,
            rto_ms = self.rtt.rto().as_millis() as u64,
            "retransmission timeout"
        );
        self.rtt.back_off();
        // Karn: the SYN sent before the timeout may not be timed.
        self.rtt_probe = None;
        if self.is_synchronized() {
            self.cc.on_rto(ctx.now, self.pipe());
            self.sb.mark_all_lost();
            self.dup_acks = 0;
            self.recovery = None;
            self.dsack_undo = None;
            self.rack.probe = None;
            self.reorder_at = None;
            self.loss_point = Some(self.snd_max);
            // Eifel needs timestamps, and looks at the first timeout only.
            // Eifel looks at the first timeout only.
            self.rto_first = if self.retries == 1 {
                FirstRepair::NotSent
            } else {
                FirstRepair::Settled
            };
        } else {
            self.snd_nxt = self.snd_una;
        }
        self.send_timer = SendTimer::Rto;
        self.set_send_timer(TimerKind::Rto, ctx.now + self.rtt.rto());
    }

    /// Arms the persist timer when nothing is in flight and the peer's
    /// window holds queued data back: closed (RFC 9293 3.8.6.1, zero-window
    /// probing) or too small for sender-side silly window avoidance to send
    /// (3.8.6.2.1, the override timeout). Without it, a window that opened
    /// by less than a segment would never be used.
    pub fn update_persist(&mut self, now: Instant) {
        let off = super::seq_diff(self.snd_nxt, self.snd_data_start).max(0) as usize;
        let unsent = self.send.len().saturating_sub(off);
        let fin_unsent = self
            .fin_seq
            .is_some_and(|f| super::seq_diff(self.snd_nxt, f) <= 0);
        let want = unsent.min(self.snd_mss).max(usize::from(fin_unsent));
        let blocked = want > 0
            && self.snd_nxt == self.snd_una
            && self.snd_wnd.min(self.cc.cwnd()) < want
            && matches!(
                self.state,
                State::Established
                    | State::CloseWait
                    | State::FinWait1
                    | State::LastAck
                    | State::Closing
            );
        if !blocked {
            self.deadlines.clear(TimerKind::Persist);
            self.persist_backoff = 0;
            return;
        }
        if !self.deadlines.is_set(TimerKind::Persist) {
            let base = self.rtt.rto();
            let wait = base
                .checked_mul(1 << self.persist_backoff.min(16))
                .unwrap_or(Duration::MAX)
                .min(self.rtt.max());
            self.set_send_timer(TimerKind::Persist, now + wait);
        }
    }

    fn on_persist(&mut self, ctx: &Ctx) {
        if self.user_timeout_expired(ctx.now) {
            return;
        }
        if self.snd_wnd != 0 {
            // A small window: send what fits rather than wait forever.
            self.force_send = true;
            return;
        }
        // RFC 1122 4.2.2.17 keeps a connection whose peer answers the
        // probes open for ever; an orphan nobody will read from gives up
        // after `tcp.orphan_retries` probes, answered or not (as Linux).
        if self.probes_unanswered >= ctx.cfg.max_retransmits
            || (self.orphan && self.persist_backoff >= ctx.cfg.orphan_retries)
        {
            self.time_out(ResetCause::RetransmitTimeout);
            return;
        }
        // A probe below the window elicits an ACK carrying the current
        // window without putting data in flight (as Linux does).
        self.send_probe = true;
        self.probes_unanswered += 1;
        self.persist_backoff += 1;
        self.update_persist(ctx.now);
    }

    /// Restarts the keepalive idle timer (any segment from the peer proves
    /// it alive, RFC 1122 4.2.3.6).
    pub fn touch_keepalive(&mut self, ctx: &Ctx) {
        if self.keepalive && self.is_synchronized() {
            self.deadlines
                .set(TimerKind::Keepalive, ctx.now + ctx.cfg.keepalive.idle);
        } else {
            self.deadlines.clear(TimerKind::Keepalive);
        }
    }

    fn on_keepalive(&mut self, ctx: &Ctx) {
        if !self.keepalive || !self.is_synchronized() {
            return;
        }
        if self.probes_unanswered >= ctx.cfg.keepalive.count {
            self.time_out(ResetCause::KeepaliveTimeout);
            return;
        }
        if self.snd_una == self.snd_max {
            self.send_probe = true;
            self.probes_unanswered += 1;
        }
        self.deadlines
            .set(TimerKind::Keepalive, ctx.now + ctx.cfg.keepalive.interval);
    }

    /// Contract 9b: the linger time ran out before everything was
    /// acknowledged: the connection ends with a RST.
    fn on_linger_expired(&mut self) {
        if self.state != State::Closed && !self.fin_acked() {
            self.report_close(CloseOutcome::Aborted);
            self.linger = None;
            self.abort_with(RstReason::Abort);
        }
    }

    fn on_lifetime_expired(&mut self) {
        match self.state {
            // TIME_WAIT over (RFC 9293 3.10.8), or the orphan gave up
            // waiting for the peer's FIN (contract 8d).
            State::TimeWait | State::FinWait2 => self.set_state(State::Closed),
            _ => {}
        }
    }

    /// States in which both sides' sequence numbers are known.
    pub fn is_synchronized(&self) -> bool {
        !matches!(
            self.state,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }
}
