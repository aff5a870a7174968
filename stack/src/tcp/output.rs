//! What a TCB sends next: SYN, data and FIN within the send and congestion
//! windows (with Nagle's algorithm and sender-side silly window avoidance),
//! retransmissions, probes and ACKs.

use crate::api::State;
use crate::buf::PacketBuf;
use crate::wire::{SackBlock, SeqNumber, TcpFlags, TcpTimestamp};

use super::cc::CongestionControl;
use super::timers::TimerKind;
use super::timestamps::TS_OPTION_LEN;
use super::{seq_diff, Ctx, Outcome, Tcb, MAX_WINDOW};

/// One segment the TCB wants sent. Payload is named by its offset into the
/// send queue; the engine attaches it without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutSegment {
    pub seq: SeqNumber,
    pub ack: SeqNumber,
    pub flags: TcpFlags,
    pub window: u16,
    /// MSS option, on SYN segments.
    pub mss: Option<u16>,
    /// Window scale option, on SYN segments when offered or agreed.
    pub wscale: Option<u8>,
    /// Timestamps option, on every segment when offered or agreed.
    pub ts: Option<TcpTimestamp>,
    /// SACK-permitted option, on SYN segments when offered or agreed.
    pub sack_permitted: bool,
    /// SACK blocks (RFC 2018), D-SACK first (RFC 2883), as many as fit.
    pub sack: [Option<SackBlock>; 4],
    /// Offset of the payload in the send queue.
    pub data_off: usize,
    pub data_len: usize,
    /// The segment repeats sequence space sent before.
    pub retransmit: bool,
    /// A keepalive or zero-window probe.
    pub probe: bool,
    /// The urgent pointer, with URG in `flags`.
    pub urgent: u16,
    /// Zero for one segment. Else the payload is several segments' worth
    /// of new data, each of this many bytes but the last (which alone may be
    /// shorter, and alone carries the PSH and FIN in `flags`): exactly
    /// the segments that polls one by one would have made, with the same
    /// headers but for the sequence number.
    pub segment_size: usize,
}

impl OutSegment {
    /// The TCP segments this one stands for on the wire.
    pub fn segment_count(&self) -> usize {
        if self.segment_size == 0 {
            1
        } else {
            self.data_len.div_ceil(self.segment_size)
        }
    }
}

/// The most payload one frame of several segments may carry: an IPv4
/// datagram's 65,535 bytes less the largest IPv4 and TCP headers.
pub(crate) const MAX_MULTI_SEGMENT_PAYLOAD: usize = 65_535 - 60 - 60;

/// What new data may go now ([`Tcb::new_data_due`]).
enum Due {
    /// `len` bytes from queue offset `off`, with our FIN after them if
    /// `fin` (a lone FIN when `len` is 0).
    Send { off: usize, len: usize, fin: bool },
    /// Something is queued but the windows, Nagle or cork hold it back.
    Hold,
    /// Nothing new to send.
    Nothing,
}

/// Why a segment goes again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// It is deemed lost (RFC 6675 NextSeg rule 1; after a timeout).
    Repair,
    /// The rescue retransmission (rule 4): speculative, so neither counted
    /// among the episode's retransmissions nor timed for undo.
    Rescue,
    /// A tail loss probe repeating the last segment (RFC 8985 7.3).
    Probe,
}

/// Whether a segment of `len` bytes may go with `pipe` bytes in the
/// network: within the window, or alone when nothing is out.
fn cwnd_allows(pipe: usize, len: usize, cwnd: usize) -> bool {
    pipe == 0 || pipe + len <= cwnd
}

impl<B: PacketBuf> Tcb<B> {
    /// The next segment to send, if any. Calling it again returns the next
    /// one; `None` means nothing is due until an input or a timer. Sending
    /// moves only deadlines (the retransmission and persist timers): the
    /// outcome says whether they moved.
    pub fn poll_segment(&mut self, ctx: &Ctx) -> (Option<OutSegment>, Outcome) {
        self.poll_segments(ctx, 1)
    }

    /// As [`Tcb::poll_segment`], but new data due now may come as up to
    /// `max` full segments in one ([`OutSegment::segment_size`]), for a
    /// driver that cuts them (TSO, or software segmentation). The TCB
    /// moves exactly as it would over that many polls.
    pub fn poll_segments(&mut self, ctx: &Ctx, max: usize) -> (Option<OutSegment>, Outcome) {
        let seg = self.next_segment(ctx, max).map(|mut seg| {
            self.attach_sack(&mut seg);
            self.attach_urgent(&mut seg);
            seg
        });
        (seg, self.finish())
    }

    /// An ACK without data, now: the duplicate ACK an out-of-order or
    /// duplicate segment calls for must not be data (RFC 5681 2: only a
    /// segment without data counts as a duplicate ACK).
    pub fn poll_pure_ack(&mut self, ctx: &Ctx) -> (Option<OutSegment>, Outcome) {
        if !self.is_synchronized() {
            return self.poll_segment(ctx);
        }
        let mut seg = self.control_segment(ctx, TcpFlags::ACK);
        seg.seq = self.snd_max;
        self.attach_sack(&mut seg);
        self.attach_urgent(&mut seg);
        (Some(seg), self.finish())
    }

    /// RFC 2018: the SACK blocks (and a D-SACK block, RFC 2883) of an ACK
    /// when SACK was agreed, as many as fit beside the data: the frame
    /// stays within the MSS the segment's data was sized for.
    fn attach_sack(&mut self, seg: &mut OutSegment) {
        if !self.sack_ok || seg.flags.contains(TcpFlags::SYN) || self.sack.is_empty() {
            return;
        }
        let ts = if self.ts.is_some() { TS_OPTION_LEN } else { 0 };
        let room = (self.snd_mss + ts).saturating_sub(seg.data_len + ts + 4);
        let ooo = &self.ooo;
        seg.sack = self.sack.option(self.rcv_nxt, room / 8, |r| ooo.holds(r));
    }

    fn next_segment(&mut self, ctx: &Ctx, max: usize) -> Option<OutSegment> {
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent | State::SynReceived if self.snd_nxt == self.iss => {
                return Some(self.syn_segment(ctx));
            }
            State::SynSent => return None,
            _ => {}
        }
        if let Some(seg) = self.poll_data(ctx, max) {
            return Some(seg);
        }
        if self.send_probe {
            self.send_probe = false;
            // Sequence number one below SND.UNA: the peer cannot accept it
            // and answers with an ACK carrying its window.
            let mut seg = self.control_segment(ctx, TcpFlags::ACK);
            seg.seq = self.snd_una - 1;
            seg.probe = true;
            return Some(seg);
        }
        if self.ack_now {
            // A pure ACK carries SND.MAX, not SND.NXT: while SND.NXT is
            // rolled back for retransmission, the peer may already have
            // everything below SND.MAX and would reject an older sequence
            // number as outside its window, ACK field and all (BSD does the
            // same).
            let mut seg = self.control_segment(ctx, TcpFlags::ACK);
            seg.seq = self.snd_max;
            return Some(seg);
        }
        None
    }

    fn syn_segment(&mut self, ctx: &Ctx) -> OutSegment {
        let retransmit = self.snd_max != self.iss;
        let flags = if self.state == State::SynSent {
            TcpFlags::SYN
        } else {
            TcpFlags::SYN | TcpFlags::ACK
        };
        let mut seg = self.control_segment(ctx, flags);
        seg.seq = self.iss;
        seg.mss = Some(u16::try_from(ctx.mss).unwrap_or(u16::MAX));
        seg.retransmit = retransmit;
        // The SYN carries our window, never scaled (RFC 7323 2.2): the peer
        // takes it as its initial send window (RFC 9293 3.10.7.3).
        let window = self
            .recv_capacity
            .min(MAX_WINDOW)
            .min(self.window_clamp(ctx));
        seg.window = window as u16;
        if self.wscale_ok {
            seg.wscale = Some(self.rcv_wscale);
        }
        seg.sack_permitted = self.sack_ok;
        if self.state == State::SynSent {
            seg.ack = SeqNumber(0);
        } else {
            self.rcv_adv = self.rcv_nxt + window;
        }
        self.snd_nxt = self.iss + 1;
        if seq_diff(self.snd_nxt, self.snd_max) > 0 {
            self.snd_max = self.snd_nxt;
        }
        if !retransmit {
            self.rtt_probe = Some((self.iss, ctx.now));
        }
        self.arm_rto(ctx.now);
        seg
    }

    /// A segment without payload at SND.NXT carrying our ACK and window.
    fn control_segment(&mut self, ctx: &Ctx, flags: TcpFlags) -> OutSegment {
        let window = if flags.contains(TcpFlags::ACK) {
            self.advertise_window(ctx)
        } else {
            0
        };
        let acking = flags.contains(TcpFlags::ACK).then_some(self.rcv_nxt);
        let ts = self.ts.as_mut().map(|ts| ts.option(ctx.now, acking));
        OutSegment {
            seq: self.snd_nxt,
            ack: self.rcv_nxt,
            flags,
            window,
            mss: None,
            wscale: None,
            ts,
            sack_permitted: false,
            sack: [None; 4],
            data_off: 0,
            data_len: 0,
            retransmit: false,
            probe: false,
            urgent: 0,
            segment_size: 0,
        }
    }

    /// Data and FIN: a tail loss probe when one is due; else what is
    /// deemed lost, first (RFC 6675 NextSeg rule 1), while the congestion
    /// window leaves room; else new data within both windows, up to `max`
    /// segments of it in one ([`Tcb::poll_segments`]).
    fn poll_data(&mut self, ctx: &Ctx, max: usize) -> Option<OutSegment> {
        if !matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        ) {
            return None;
        }
        if self.probe_now {
            // No probe to form (what it would repeat was acknowledged
            // meanwhile): what is due goes as usual, a FIN included.
            if let Some(seg) = self.probe_segment(ctx) {
                return Some(seg);
            }
        }
        let cwnd = self.cc.cwnd();
        let pipe = self.pipe();
        if let Some(i) = self.sb.first_lost() {
            let len = self.sb.get(i).map_or(0, |s| s.len());
            if cwnd_allows(pipe, len, cwnd) {
                return Some(self.retransmit(ctx, i, Resend::Repair));
            }
            // The window is full; what is lost goes before anything new.
            return None;
        }
        match self.new_data_due() {
            Due::Send { off, len, fin } => {
                self.force_send = false;
                let mut seg = self.new_data(ctx, off, len, fin);
                if max > 1 {
                    self.join_segments(ctx, &mut seg, max);
                }
                Some(seg)
            }
            Due::Hold => {
                self.update_persist(ctx.now);
                self.rescue(ctx, pipe, cwnd)
            }
            Due::Nothing => self.rescue(ctx, pipe, cwnd),
        }
    }

    /// Whether new data may go now (RFC 9293 3.8.6.2.1 sender-side SWS
    /// avoidance, RFC 896 Nagle, RFC 5681), and how much: one segment.
    fn new_data_due(&self) -> Due {
        let off = seq_diff(self.snd_nxt, self.snd_data_start).max(0) as usize;
        let unsent = self.send.len().saturating_sub(off);
        let fin_unsent = self.fin_seq.is_some_and(|f| seq_diff(self.snd_nxt, f) <= 0);
        if unsent == 0 && !fin_unsent {
            return Due::Nothing;
        }
        let flight = self.flight();
        let usable = self
            .snd_wnd
            .saturating_sub(flight)
            .min(self.cc.cwnd().saturating_sub(self.pipe()));
        let len = unsent.min(self.snd_mss).min(usable);
        let idle = flight == 0 || self.nodelay;
        let send_now = if unsent == 0 {
            // A lone FIN. A closed window holds it back like data; the
            // persist timer reopens it.
            self.snd_wnd > flight || flight == 0 && self.snd_wnd > 0
        } else if len == 0 {
            false
        } else {
            len == self.snd_mss
                // The tail goes with our FIN whatever cork and Nagle say
                // (a FIN ends any wait for more data); else Nagle decides,
                // unless corked.
                || (len == unsent && (fin_unsent || (!self.cork && self.nagle_allows_short())))
                || (idle && len >= self.max_snd_wnd / 2)
                || self.force_send
        };
        if send_now {
            Due::Send {
                off,
                len,
                fin: fin_unsent && len == unsent,
            }
        } else {
            Due::Hold
        }
    }

    /// Joins to `seg` (a full segment of new data just taken) the segments
    /// that would be due right after it, up to `max` in all, while they
    /// carry data, stay within one IPv4 datagram and within
    /// [`crate::engine::MAX_PAYLOAD_PARTS`] send-queue buffers, and would
    /// differ from `seg` in nothing but sequence number, PSH and FIN (no
    /// SACK blocks or urgent pointer, which depend on the segment's size
    /// and place). Each one is taken as a poll would take it, so the TCB
    /// (scoreboard records, timers, Nagle state) ends as after `max`
    /// polls.
    fn join_segments(&mut self, ctx: &Ctx, seg: &mut OutSegment, max: usize) {
        let full = self.snd_mss;
        if seg.data_len != full
            || seg.flags.contains(TcpFlags::FIN)
            || self.snd_up.is_some()
            || (self.sack_ok && !self.sack.is_empty())
        {
            return;
        }
        let mut count = 1;
        // Send-queue buffers the joined payload runs over, counted piece by
        // piece (a piece that starts inside a buffer shares it with the
        // piece before).
        let (mut spans, _) = self.send.buffers_spanned(seg.data_off, seg.data_len);
        while count < max {
            let Due::Send { off, len, fin } = self.new_data_due() else {
                break;
            };
            let total = seg.data_len + len;
            if len == 0 || off != seg.data_off + seg.data_len || total > MAX_MULTI_SEGMENT_PAYLOAD {
                break;
            }
            let (more, shared) = self.send.buffers_spanned(off, len);
            let spans_then = spans + more - usize::from(shared);
            if spans_then > crate::engine::MAX_PAYLOAD_PARTS {
                break;
            }
            spans = spans_then;
            let next = self.new_data(ctx, off, len, fin);
            debug_assert_eq!(
                (next.ack, next.window, next.ts),
                (seg.ack, seg.window, seg.ts),
                "joined segments differ only in sequence number and flags"
            );
            seg.data_len = total;
            seg.flags |= next.flags;
            count += 1;
            if len < full || fin {
                break;
            }
        }
        if count > 1 {
            seg.segment_size = full;
        }
    }

    /// RFC 6675 NextSeg rule 4, the rescue retransmission: in recovery,
    /// with nothing deemed lost and nothing new that may go, the highest
    /// segment sent before the episode and not SACKed goes again, once per
    /// episode, so that a loss at the tail of the window need not wait for
    /// the timeout.
    fn rescue(&mut self, ctx: &Ctx, pipe: usize, cwnd: usize) -> Option<OutSegment> {
        if !self.sack_ok || self.recovery.as_ref()?.unconfirmed.rescue.is_some() {
            return None;
        }
        let point = self.recovery.as_ref()?.point;
        let i = self.sb.last_unsacked_before(point)?;
        let rec = self.sb.get(i)?;
        if rec.retransmits > 0 || !cwnd_allows(pipe, rec.len(), cwnd) {
            return None;
        }
        Some(self.retransmit(ctx, i, Resend::Rescue))
    }

    /// Nagle's algorithm with Minshall's variant (what Linux does): a
    /// segment shorter than the MSS may go out unless another short
    /// segment is still unacknowledged (RFC 896 holds it while anything
    /// is, which stalls a response's tail behind the peer's delayed ACK).
    /// `nodelay` turns the rule off.
    fn nagle_allows_short(&self) -> bool {
        let short_in_flight =
            seq_diff(self.snd_sml, self.snd_una) > 0 && seq_diff(self.snd_sml, self.snd_nxt) <= 0;
        self.nodelay || self.flight() == 0 || !short_in_flight
    }

    /// `len` bytes of new data from `off` in the send queue (and our FIN
    /// after them if `with_fin`), at SND.NXT.
    fn new_data(&mut self, ctx: &Ctx, off: usize, len: usize, with_fin: bool) -> OutSegment {
        self.idle_restart(ctx.now);
        // Data sent within the delayed-ACK time of data received answers
        // it: ping-pong, where ACKs are better delayed to ride on answers
        // (Linux `tcp_event_data_sent`).
        let answering = len > 0
            && self
                .last_data_rx
                .is_some_and(|at| ctx.now - at < ctx.cfg.delayed_ack);
        let mut seg = self.control_segment(ctx, TcpFlags::ACK);
        seg.data_off = off;
        seg.data_len = len;
        if len > 0 && off + len == self.send.len() {
            seg.flags |= TcpFlags::PSH;
        }
        if with_fin {
            seg.flags |= TcpFlags::FIN;
        }
        if len < self.snd_mss {
            self.snd_sml = seg.seq + len;
        }
        self.pingpong |= answering;
        self.snd_nxt += len + usize::from(with_fin);
        if seq_diff(self.snd_nxt, self.snd_max) > 0 {
            self.snd_max = self.snd_nxt;
        }
        self.sb.on_send(seg.seq, self.snd_nxt, with_fin, ctx.now);
        if let Some(r) = &mut self.recovery {
            r.on_send(len + usize::from(with_fin));
        }
        self.rearm_send_timer(ctx, false);
        seg
    }

    /// Sends scoreboard record `i` again, as it was (its FIN included).
    fn retransmit(&mut self, ctx: &Ctx, i: usize, why: Resend) -> OutSegment {
        let rec = *self.sb.get(i).expect("a record to retransmit");
        let mut seg = self.control_segment(ctx, TcpFlags::ACK);
        seg.seq = rec.start;
        seg.data_off = seq_diff(rec.start, self.snd_data_start).max(0) as usize;
        seg.data_len = rec.data_len();
        if rec.fin {
            seg.flags |= TcpFlags::FIN;
        }
        if seg.data_len > 0 && seg.data_off + seg.data_len == self.send.len() {
            seg.flags |= TcpFlags::PSH;
        }
        seg.retransmit = true;
        self.sb.on_retransmit(i, ctx.now);
        if let Some(r) = &mut self.recovery {
            r.on_send(rec.len());
            match why {
                Resend::Repair => {
                    r.unconfirmed.left += 1;
                    r.first.on_repair(rec.start, seg.ts.map(|t| t.tsval));
                }
                Resend::Rescue => r.unconfirmed.rescue = Some(rec.start),
                Resend::Probe => {}
            }
        }
        if why == Resend::Repair {
            self.rto_first.on_repair(rec.start, seg.ts.map(|t| t.tsval));
        }
        self.last_send = ctx.now;
        // RFC 6298 5.3 in spirit: the first unacknowledged segment was
        // sent again, so its timeout starts from now.
        self.rearm_send_timer(ctx, i == 0);
        seg
    }

    /// RFC 8985 7.3: the tail loss probe: a segment of new data if the
    /// peer's window lets it go, else the last segment sent, again. In
    /// recovery, when the peer has the last segment, the first one it
    /// does not have goes again instead.
    fn probe_segment(&mut self, ctx: &Ctx) -> Option<OutSegment> {
        self.probe_now = false;
        let off = seq_diff(self.snd_nxt, self.snd_data_start).max(0) as usize;
        let unsent = self.send.len().saturating_sub(off);
        let room = self.snd_wnd.saturating_sub(self.flight());
        if unsent > 0 && room > 0 {
            let len = unsent.min(self.snd_mss).min(room);
            let fin = self.fin_seq.is_some_and(|f| f == self.snd_nxt + len);
            self.note_probe(self.snd_nxt + len + usize::from(fin), false);
            return Some(self.new_data(ctx, off, len, fin));
        }
        let last = self.sb.len().checked_sub(1)?;
        let i = if !self.sb.get(last).is_some_and(|s| s.sacked) {
            last
        } else if self.recovery.is_some() {
            (0..last).find(|&i| self.sb.get(i).is_some_and(|s| !s.sacked))?
        } else {
            // The peer has the tail: the timeout covers the rest.
            return None;
        };
        self.note_probe(self.snd_max, true);
        Some(self.retransmit(ctx, i, Resend::Probe))
    }

    /// The window to advertise now, with receiver-side silly window
    /// avoidance (RFC 9293 3.8.6.2.2): the right edge moves only by at
    /// least min(buffer/2, MSS), and never moves left. Under memory
    /// pressure it moves less or not at all ([`Tcb::window_clamp`]).
    /// Sending any ACK settles what was owed.
    fn advertise_window(&mut self, ctx: &Ctx) -> u16 {
        let current = seq_diff(self.rcv_adv, self.rcv_nxt).max(0) as usize;
        let free = self.recv_free();
        let offer = free.min(self.window_clamp(ctx));
        let threshold = (self.recv_capacity / 2).min(ctx.mss);
        let wnd = if offer >= current + threshold || offer == self.recv_capacity {
            offer
        } else {
            current
        }
        .min(self.max_window());
        // RFC 7323 2.3: the field holds the window shifted right; the
        // right edge we promise is what the peer will compute from it.
        let field = wnd >> self.rcv_wscale;
        self.rcv_adv = self.rcv_nxt + (field << self.rcv_wscale);
        self.ack_now = false;
        self.ack_pure = false;
        self.ack_pending = false;
        self.unacked_segments = 0;
        self.deadlines.clear(TimerKind::DelayedAck);
        field as u16
    }

    fn recv_free(&self) -> usize {
        self.recv_capacity.saturating_sub(self.recv.len())
    }

    /// After the application read: owe a window update if the window can
    /// grow by enough to be worth a segment (RFC 1122 4.2.3.3: by
    /// min(RCV.BUFF/2, MSS)). The ACK leaves with the connection's next
    /// turn to send, so reads in a row owe one.
    pub fn after_read(&mut self, ctx: &Ctx) {
        self.forget_read_urgent();
        if !self.is_synchronized() || self.peer_fin {
            return;
        }
        let current = seq_diff(self.rcv_adv, self.rcv_nxt).max(0) as usize;
        let threshold = (self.recv_capacity / 2).min(ctx.mss);
        let offer = self.recv_free().min(self.window_clamp(ctx));
        if offer.min(self.max_window()) >= current + threshold {
            self.ack_now = true;
        }
    }
}
