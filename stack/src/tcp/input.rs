//! Segment arrival: RFC 9293 section 3.10.7 ("SEGMENT ARRIVES"), for every
//! state a TCB can be in. LISTEN and CLOSED (no TCB) are the engine's.

use crate::api::{CloseOutcome, ResetCause, State};
use crate::buf::PacketBuf;
use crate::stats::{DropReason, RstReason, Stats};
use crate::wire::{SackBlock, SeqNumber, TcpFlags, TcpTimestamp};

use super::reassembly::Inserted;
use super::scoreboard::Delivered;
use super::timers::TimerKind;
use super::timestamps::Paws;
use super::{seq_diff, Ctx, EventBits, Outcome, Tcb};

/// The header fields of an arriving segment that the state machine reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegmentInfo {
    pub seq: SeqNumber,
    pub ack: SeqNumber,
    pub flags: TcpFlags,
    pub window: u16,
    pub mss: Option<u16>,
    /// Window scale option (SYN segments).
    pub wscale: Option<u8>,
    /// Timestamps option (RFC 7323).
    pub ts: Option<TcpTimestamp>,
    /// SACK-permitted option (SYN segments).
    pub sack_permitted: bool,
    /// SACK blocks the peer reports.
    pub sack: [Option<SackBlock>; 4],
    /// Payload bytes.
    pub len: usize,
    /// The urgent pointer, when URG is set.
    pub urgent: Option<u16>,
}

impl SegmentInfo {
    fn has(&self, flag: TcpFlags) -> bool {
        self.flags.contains(flag)
    }

    /// SEG.LEN: sequence space the segment occupies.
    pub fn seg_len(&self) -> usize {
        self.len + usize::from(self.has(TcpFlags::SYN)) + usize::from(self.has(TcpFlags::FIN))
    }
}

/// What to send in direct reply to a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    Nothing,
    /// A RST formed from the segment (RFC 9293 3.10.7.1 rules), for the
    /// given reason.
    Rst(RstReason),
}

impl<B: PacketBuf> Tcb<B> {
    /// Processes one arriving segment with its payload (already trimmed to
    /// the TCP payload).
    pub fn on_segment(
        &mut self,
        ctx: &Ctx,
        seg: &SegmentInfo,
        payload: Option<B>,
        stats: &mut Stats,
    ) -> Outcome {
        let reply = self.segment_arrives(ctx, seg, payload, stats);
        let mut out = self.finish();
        if let Reply::Rst(reason) = reply {
            out.reply_rst = Some(reason);
        }
        out
    }

    fn segment_arrives(
        &mut self,
        ctx: &Ctx,
        seg: &SegmentInfo,
        payload: Option<B>,
        stats: &mut Stats,
    ) -> Reply {
        match self.state {
            State::Closed | State::Listen => return Reply::Nothing,
            State::SynSent => return self.on_segment_syn_sent(ctx, seg, stats),
            _ => {}
        }
        // A retransmitted SYN in SYN-RECEIVED: our SYN-ACK was lost.
        if self.state == State::SynReceived
            && seg.has(TcpFlags::SYN)
            && !seg.has(TcpFlags::ACK)
            && seg.seq == self.irs
        {
            // Once per `tcp.challenge_ack_interval_ms` (as Linux's
            // out-of-window rate limit): a stream of duplicate SYNs must
            // not draw a stream of SYN-ACKs.
            if self.oow_reply_allowed(ctx) {
                self.snd_nxt = self.iss;
            } else {
                stats.dup_syns_unanswered += 1;
            }
            return Reply::Nothing;
        }
        // RFC 7323 5.3 R1: PAWS, before the sequence number check. An
        // old timestamp is a duplicate from long ago: acknowledge, drop.
        if let (Some(ts), Some(opt)) = (&self.ts, seg.ts) {
            if !seg.has(TcpFlags::RST) && ts.paws(opt.tsval, ctx.now) == Paws::Reject {
                self.ack_now = true;
                stats.drop(DropReason::Paws);
                return Reply::Nothing;
            }
        }
        // First: the sequence number check.
        if !self.acceptable(seg) {
            if !seg.has(TcpFlags::RST) {
                self.ack_now = true;
                self.ack_pure = true;
                let end = seg.seq + seg.len;
                if self.sack_ok && seg.len > 0 && seq_diff(end, self.rcv_nxt) <= 0 {
                    // Data we have had: a D-SACK block (RFC 2883 4.1).
                    self.sack.on_duplicate((seg.seq, end));
                    stats.dsacks_sent += 1;
                }
                if self.state == State::TimeWait && seg.has(TcpFlags::FIN) {
                    // A retransmitted FIN: our last ACK was lost. Ack it and
                    // restart the 2·MSL wait (RFC 9293 3.10.7.4).
                    self.deadlines
                        .set(TimerKind::Lifetime, ctx.now + ctx.cfg.time_wait);
                }
            }
            stats.drop(DropReason::OutOfWindow);
            return Reply::Nothing;
        }
        // RFC 7323 4.3: the timestamp to echo from now on.
        if let (Some(ts), Some(opt)) = (&mut self.ts, seg.ts) {
            ts.on_acceptable(seg.seq, opt.tsval, ctx.now);
        }
        if self.sack_ok {
            stats.sack_blocks_received += seg.sack.iter().flatten().count() as u64;
        }
        self.probes_unanswered = 0;
        self.touch_keepalive(ctx);
        // Second: the RST bit.
        if seg.has(TcpFlags::RST) {
            self.on_rst(ctx, seg, stats);
            return Reply::Nothing;
        }
        // Fourth: a SYN in a synchronized state gets a challenge ACK
        // (RFC 9293 3.10.7.4, after RFC 5961 section 4).
        if seg.has(TcpFlags::SYN) {
            self.challenge_ack(ctx, stats);
            stats.drop(DropReason::Ignored);
            return Reply::Nothing;
        }
        // Fifth: the ACK field.
        if !seg.has(TcpFlags::ACK) {
            stats.drop(DropReason::Ignored);
            return Reply::Nothing;
        }
        if self.state == State::SynReceived {
            if seq_diff(seg.ack, self.snd_una) <= 0 || seq_diff(seg.ack, self.snd_max) > 0 {
                return Reply::Rst(RstReason::BadAck);
            }
            self.enter_established();
        }
        if !self.process_ack(ctx, seg, stats) {
            return Reply::Nothing;
        }
        if self.state == State::Closed {
            return Reply::Nothing;
        }
        // Sixth: the URG bit.
        self.on_urgent(seg);
        // Seventh: the segment text.
        if seg.len > 0 {
            if let Some(reply) = self.on_text(ctx, seg, payload, stats) {
                return reply;
            }
        }
        // Eighth: the FIN bit.
        if seg.has(TcpFlags::FIN) {
            let fin = seg.seq + seg.len;
            match seq_diff(fin, self.rcv_nxt) {
                0 => self.on_fin(ctx),
                d if d > 0 => self.ooo_fin = Some(fin),
                // Seen before: repeat our ACK.
                _ => self.ack_now = true,
            }
        }
        Reply::Nothing
    }

    /// RFC 9293 3.10.7.3, SYN-SENT.
    fn on_segment_syn_sent(&mut self, ctx: &Ctx, seg: &SegmentInfo, stats: &mut Stats) -> Reply {
        let has_ack = seg.has(TcpFlags::ACK);
        if has_ack && (seq_diff(seg.ack, self.iss) <= 0 || seq_diff(seg.ack, self.snd_max) > 0) {
            if seg.has(TcpFlags::RST) {
                stats.drop(DropReason::Ignored);
                return Reply::Nothing;
            }
            return Reply::Rst(RstReason::BadAck);
        }
        if seg.has(TcpFlags::RST) {
            if has_ack {
                // Contract 15: RST in reply to our SYN.
                stats.resets_received += 1;
                stats.attempt_fails += 1;
                self.reset_with(ResetCause::Refused);
            } else {
                stats.drop(DropReason::Ignored);
            }
            return Reply::Nothing;
        }
        if !seg.has(TcpFlags::SYN) {
            stats.drop(DropReason::Ignored);
            return Reply::Nothing;
        }
        self.accept_syn(ctx, seg);
        if has_ack {
            self.snd_una = seg.ack;
            self.snd_wl2 = seg.ack;
            self.soft_error = None;
            if let Some((_, sent)) = self.rtt_probe.take() {
                if self.retries == 0 {
                    self.rtt.sample(ctx.now - sent);
                }
            }
            self.retries = 0;
            self.deadlines.clear(TimerKind::Rto);
            self.enter_established();
            self.ack_now = true;
            self.touch_keepalive(ctx);
        } else {
            // Simultaneous open (RFC 9293 figure 7): answer with SYN-ACK.
            self.set_state(State::SynReceived);
            self.snd_nxt = self.iss;
        }
        Reply::Nothing
    }

    fn enter_established(&mut self) {
        self.set_state(State::Established);
        self.raise(EventBits::CONNECTED | EventBits::WRITABLE);
        if self.write_shut && self.fin_seq.is_none() {
            // shutdown(Write) was called during the handshake.
            self.queue_fin();
        }
    }

    /// RFC 9293 3.10.7.4 "first": is any of the segment inside our window?
    fn acceptable(&self, seg: &SegmentInfo) -> bool {
        // In i64: the last byte of a segment starting up to 2^31 - 1
        // ahead must not wrap around into the window.
        let wnd = i64::from(seq_diff(self.rcv_adv, self.rcv_nxt).max(0));
        let start = i64::from(seq_diff(seg.seq, self.rcv_nxt));
        let len = seg.seg_len() as i64;
        if len == 0 {
            if wnd == 0 {
                start == 0
            } else {
                (0..wnd).contains(&start)
            }
        } else {
            wnd > 0 && ((0..wnd).contains(&start) || (0..wnd).contains(&(start + len - 1)))
        }
    }

    fn on_rst(&mut self, ctx: &Ctx, seg: &SegmentInfo, stats: &mut Stats) {
        if seg.seq != self.rcv_nxt {
            // RFC 5961 3.2: in the window but not exact: challenge ACK.
            self.challenge_ack(ctx, stats);
            stats.drop(DropReason::Ignored);
            return;
        }
        match self.state {
            // RFC 1337: a RST must not cut TIME_WAIT short.
            State::TimeWait => {
                stats.drop(DropReason::Ignored);
                return;
            }
            // RFC 9293: a passive open falls back to LISTEN, which for us
            // means the half-open connection simply goes away.
            State::SynReceived if self.passive => self.set_state(State::Closed),
            State::SynReceived => {
                stats.attempt_fails += 1;
                self.reset_with(ResetCause::Refused);
            }
            _ => self.reset_with(ResetCause::PeerReset),
        }
        stats.resets_received += 1;
    }

    /// RFC 5961 7: a challenge ACK, unless one went on this connection
    /// within `tcp.challenge_ack_interval_ms`.
    fn challenge_ack(&mut self, ctx: &Ctx, stats: &mut Stats) {
        if !self.oow_reply_allowed(ctx) {
            stats.challenge_acks_suppressed += 1;
            return;
        }
        self.ack_now = true;
        self.ack_pure = true;
        stats.challenge_acks += 1;
    }

    /// Whether a reply to a segment that should not have come (a challenge
    /// ACK, a SYN-ACK again) may go now; if so, the interval restarts.
    fn oow_reply_allowed(&mut self, ctx: &Ctx) -> bool {
        let interval = ctx.cfg.challenge_ack_interval;
        if let Some(at) = self.last_challenge {
            if !interval.is_zero() && ctx.now < at + interval {
                return false;
            }
        }
        self.last_challenge = Some(ctx.now);
        true
    }

    /// RFC 9293 3.10.7.4 "fifth". Returns false when the segment must be
    /// dropped (an ACK of data we never sent).
    fn process_ack(&mut self, ctx: &Ctx, seg: &SegmentInfo, stats: &mut Stats) -> bool {
        let ack = seg.ack;
        if seq_diff(ack, self.snd_max) > 0 {
            self.ack_now = true;
            stats.drop(DropReason::AckOfUnsent);
            return false;
        }
        // RFC 5961 5.2: an ACK below SND.UNA by more than the largest
        // window the peer ever offered acknowledges nothing we could have
        // sent in that window: a blind injection, dropped (its data too)
        // with a challenge ACK.
        let oldest = i64::from(seq_diff(ack, self.snd_una));
        if oldest < -(self.max_snd_wnd.max(1) as i64) {
            self.challenge_ack(ctx, stats);
            stats.drop(DropReason::AckTooOld);
            return false;
        }
        let advanced = seq_diff(ack, self.snd_una) > 0;
        let mut window_changed = false;
        if seq_diff(ack, self.snd_una) >= 0
            && (seq_diff(seg.seq, self.snd_wl1) > 0
                || (seg.seq == self.snd_wl1 && seq_diff(ack, self.snd_wl2) >= 0))
        {
            // RFC 7323 2.3: windows of non-SYN segments are scaled.
            let wnd = usize::from(seg.window) << self.snd_wscale;
            window_changed = wnd != self.snd_wnd;
            self.snd_wnd = wnd;
            self.max_snd_wnd = self.max_snd_wnd.max(wnd);
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = ack;
        }
        // RFC 5681 section 2: a duplicate acknowledgment.
        let dup_ack = !advanced
            && ack == self.snd_una
            && seg.len == 0
            && !seg.has(TcpFlags::FIN)
            && !window_changed
            && self.snd_una != self.snd_max;
        let mut delivered = Delivered::default();
        if advanced {
            self.sb.on_cumulative_ack(ack, &mut delivered);
            if !self.sack_ok {
                self.forget_dup_acks(ack, &mut delivered);
            }
        } else if dup_ack {
            self.dup_acks += 1;
        }
        if self.sack_ok && seq_diff(ack, self.snd_una) >= 0 && seg.sack[0].is_some() {
            self.sb.on_sack(&seg.sack, ack, &mut delivered);
        }
        if advanced {
            self.on_new_ack(ctx, ack);
        }
        if advanced || dup_ack || delivered.dsack || delivered.bytes > 0 {
            self.on_delivery(ctx, seg, advanced, dup_ack, delivered, stats);
        }
        if advanced && self.fin_acked() {
            self.on_fin_acked(ctx);
        }
        self.update_persist(ctx.now);
        true
    }

    /// Without SACK, each duplicate ACK stood for a segment delivered
    /// above the hole (RFC 6937's estimate): a cumulative ACK that covers
    /// those segments delivered that much less news (`delivered`), and the
    /// duplicate ACKs it accounts for no longer count in the pipe.
    fn forget_dup_acks(&mut self, ack: SeqNumber, delivered: &mut Delivered) {
        if self.recovery.is_none() {
            self.dup_acks = 0;
            return;
        }
        let mss = self.snd_mss.max(1);
        let segments = (seq_diff(ack, self.snd_una) as usize).div_ceil(mss);
        let counted = (self.dup_acks as usize).min(segments.saturating_sub(1));
        delivered.bytes = delivered.bytes.saturating_sub(counted * mss);
        self.dup_acks -= counted as u32;
    }

    /// SND.UNA < SEG.ACK =< SND.MAX: bytes were acknowledged.
    fn on_new_ack(&mut self, ctx: &Ctx, ack: SeqNumber) {
        if let Some((timed, sent)) = self.rtt_probe {
            // The SYN was timed (data is timed by what each ACK delivered,
            // in `on_delivery`). Karn: not after a retransmission.
            if seq_diff(ack, timed) > 0 {
                self.rtt_probe = None;
                self.rtt.sample(ctx.now - sent);
            }
        }
        let data_acked =
            seq_diff(ack, self.snd_data_start).clamp(0, self.send.len() as i32) as usize;
        self.send.ack(data_acked);
        self.snd_data_start += data_acked;
        self.snd_una = ack;
        self.urgent_acked(ack);
        if seq_diff(self.snd_nxt, ack) < 0 {
            self.snd_nxt = ack;
        }
        self.retries = 0;
        self.progress_at = ctx.now;
        // The path delivers again: an earlier ICMP report no longer
        // explains anything.
        self.soft_error = None;
        if self.want_writable && self.send.free_space() > 0 {
            self.want_writable = false;
            self.raise(EventBits::WRITABLE);
        }
    }

    /// Our FIN was acknowledged: FIN_WAIT_1 -> FIN_WAIT_2, CLOSING ->
    /// TIME_WAIT, LAST_ACK -> CLOSED.
    fn on_fin_acked(&mut self, ctx: &Ctx) {
        if self.deadlines.is_set(TimerKind::Linger) {
            // Contract 9b: everything arrived within the linger time.
            self.deadlines.clear(TimerKind::Linger);
            self.close_outcome = Some(CloseOutcome::Graceful);
            self.raise(EventBits::CLOSED);
        }
        match self.state {
            State::FinWait1 => {
                self.set_state(State::FinWait2);
                if self.orphan {
                    // Contract 8d: an orphan does not wait forever.
                    self.deadlines
                        .set(TimerKind::Lifetime, ctx.now + ctx.cfg.fin_wait2_timeout);
                }
            }
            State::Closing => self.enter_time_wait(ctx),
            State::LastAck => self.set_state(State::Closed),
            _ => {}
        }
    }

    pub(crate) fn enter_time_wait(&mut self, ctx: &Ctx) {
        self.set_state(State::TimeWait);
        self.deadlines
            .set(TimerKind::Lifetime, ctx.now + ctx.cfg.time_wait);
    }

    /// RFC 9293 3.10.7.4 "seventh". Returns a reply when the segment ends
    /// the connection.
    fn on_text(
        &mut self,
        ctx: &Ctx,
        seg: &SegmentInfo,
        payload: Option<B>,
        stats: &mut Stats,
    ) -> Option<Reply> {
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            // The peer already sent FIN: text after it is ignored.
            return None;
        }
        let new_data = seq_diff(seg.seq + seg.len, self.rcv_nxt) > 0;
        if new_data && self.app_closed_receive() {
            // Contracts 8c and 12: nobody will ever read this. Tell the peer
            // at once (Linux `tcp_rcv_state_process`, "abort on data").
            self.reset = Some(ResetCause::DataAfterClose);
            self.discard_buffers();
            self.set_state(State::Closed);
            return Some(Reply::Rst(RstReason::DataAfterClose));
        }
        let mut buf = payload?;
        let mut seq = seg.seq;
        let behind = seq_diff(self.rcv_nxt, seq);
        if behind > 0 {
            // Data we had already: acknowledged at once, without data,
            // and reported as a D-SACK block (RFC 2883 4.1).
            let dup = (behind as usize).min(buf.len());
            self.ack_now = true;
            self.ack_pure = true;
            if self.sack_ok {
                self.sack.on_duplicate((seq, seq + dup));
                stats.dsacks_sent += 1;
            }
            if dup == buf.len() {
                stats.duplicate_data += 1;
                return None;
            }
            buf.trim_front(dup);
            seq = self.rcv_nxt;
        }
        let beyond = seq_diff(seq + buf.len(), self.rcv_adv);
        if beyond > 0 {
            buf.trim_back(beyond as usize);
            stats.drop(DropReason::RecvBufferFull);
            self.ack_now = true;
        }
        if buf.is_empty() {
            return None;
        }
        if seq == self.rcv_nxt {
            self.deliver_in_order(ctx, buf, seg.len, stats);
        } else {
            stats.out_of_order += 1;
            self.store_out_of_order(ctx, seq, buf, stats);
            // RFC 5681 4.2: out-of-order data is acknowledged at once, so
            // the sender sees duplicate ACKs (without data, RFC 5681 2).
            self.ack_now = true;
            self.ack_pure = true;
        }
        None
    }

    /// Keeps a segment that arrived ahead of a gap, if memory allows, and
    /// bounds how long out-of-order data may wait for the gap to fill.
    fn store_out_of_order(&mut self, ctx: &Ctx, seq: SeqNumber, buf: B, stats: &mut Stats) {
        let admitted = self.admit_recv(ctx, buf.truesize(), false);
        let range = (seq, seq + buf.len());
        let held = match self
            .ooo
            .insert(seq, buf, ctx.mem.collapse_all(), admitted.is_ok())
        {
            Inserted::Stored => true,
            Inserted::Collapsed(n) => {
                stats.note_rx_copy(n);
                true
            }
            Inserted::Duplicate => {
                if self.sack_ok {
                    // RFC 2883 4.2: the duplicate first, then its block.
                    self.sack.on_duplicate(range);
                    stats.dsacks_sent += 1;
                }
                true
            }
            Inserted::Full => {
                stats.drop(DropReason::ReassemblyFull);
                false
            }
            Inserted::Refused => {
                stats.drop(admitted.err().unwrap_or(DropReason::MemoryPressure));
                false
            }
        };
        // RFC 2018 4: the block holding the latest segment comes first.
        if held && self.sack_ok {
            if let Some(run) = self.ooo.run_around(range.0) {
                self.sack.on_out_of_order(run);
            }
        }
        if !self.ooo.is_empty() && !self.deadlines.is_set(TimerKind::Reassembly) {
            self.deadlines
                .set(TimerKind::Reassembly, ctx.now + ctx.mem.budget.ooo_timeout);
        }
    }

    fn deliver_in_order(&mut self, ctx: &Ctx, buf: B, seg_len: usize, stats: &mut Stats) {
        let pressure = ctx.mem.collapse_all();
        // Data below out-of-order data fills (part of) a gap.
        let filling_gap = !self.ooo.is_empty();
        let n = buf.len();
        if self.recv.try_coalesce(&buf, pressure) {
            stats.note_rx_copy(n);
        } else if self.read_shut {
            // Contract 11: acknowledged, then silently dropped (below).
            self.recv.push(buf);
        } else if let Err(reason) = self.admit_recv(ctx, buf.truesize(), true) {
            // Not acknowledged: the sender keeps it and sends it again.
            stats.drop(reason);
            self.ack_now = true;
            return;
        } else {
            self.recv.push(buf);
        }
        self.rcv_nxt += n;
        let mut filled_gap = false;
        while let Some(next) = self.ooo.pop_ready(self.rcv_nxt) {
            self.rcv_nxt += next.len();
            let n = next.len();
            if self.recv.try_coalesce(&next, pressure) {
                stats.note_rx_copy(n);
            } else {
                self.recv.push(next);
            }
            filled_gap = true;
        }
        // The stream moved on: out-of-order data left waits anew.
        if self.ooo.is_empty() {
            self.deadlines.clear(TimerKind::Reassembly);
        } else {
            self.deadlines
                .set(TimerKind::Reassembly, ctx.now + ctx.mem.budget.ooo_timeout);
        }
        if self.read_shut {
            // Contract 11: acknowledged, then silently dropped.
            self.recv.clear();
        } else {
            self.raise(EventBits::READABLE);
        }
        if seg_len >= self.snd_mss {
            self.unacked_segments += 1;
        }
        // RFC 5681 4.2: ACK at least every second full-sized segment, and
        // at once when a segment fills all or part of a gap; RFC 9293
        // 3.8.6.3: otherwise within the delayed-ACK time, except for the
        // quick ACKs that keep a starting sender's clock going.
        let quick = self.take_quickack(ctx);
        if filled_gap
            || filling_gap
            || self.unacked_segments >= 2
            || quick
            || ctx.cfg.delayed_ack.is_zero()
        {
            self.ack_now = true;
        } else {
            self.ack_pending = true;
            if !self.deadlines.is_set(TimerKind::DelayedAck) {
                self.deadlines
                    .set(TimerKind::DelayedAck, ctx.now + ctx.cfg.delayed_ack);
            }
        }
        if self.ooo_fin == Some(self.rcv_nxt) {
            self.ooo_fin = None;
            self.on_fin(ctx);
        }
    }

    /// Whether this in-order segment is to be acknowledged at once as a
    /// quick ACK: while quick ACKs remain and the connection is not
    /// answering data with data. A receive side idle for longer than the
    /// retransmission timeout gets its quick ACKs back: the sender
    /// restarts from a small window (Linux `tcp_event_data_recv`).
    fn take_quickack(&mut self, ctx: &Ctx) -> bool {
        if self
            .last_data_rx
            .is_some_and(|at| ctx.now - at > self.rtt.rto())
        {
            self.quickacks = self.quickacks.max(ctx.cfg.quickacks);
        }
        self.last_data_rx = Some(ctx.now);
        if self.quickacks == 0 || self.pingpong {
            return false;
        }
        self.quickacks -= 1;
        true
    }

    /// RFC 9293 3.10.7.4 "eighth": the peer's FIN, in order.
    fn on_fin(&mut self, ctx: &Ctx) {
        self.rcv_nxt += 1;
        self.rcv_adv = self.rcv_adv.max_seq(self.rcv_nxt);
        self.peer_fin = true;
        self.ack_now = true;
        self.raise(EventBits::PEER_CLOSED | EventBits::READABLE);
        match self.state {
            State::SynReceived | State::Established => self.set_state(State::CloseWait),
            State::FinWait1 if self.fin_acked() => self.enter_time_wait(ctx),
            // Simultaneous close (RFC 9293 figure 13).
            State::FinWait1 => self.set_state(State::Closing),
            State::FinWait2 => self.enter_time_wait(ctx),
            _ => {}
        }
    }
}

trait MaxSeq {
    fn max_seq(self, other: SeqNumber) -> SeqNumber;
}

impl MaxSeq for SeqNumber {
    fn max_seq(self, other: SeqNumber) -> SeqNumber {
        if seq_diff(self, other) >= 0 {
            self
        } else {
            other
        }
    }
}
