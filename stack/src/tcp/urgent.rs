//! Urgent data (RFC 9293 3.8.5, MUST-30 to MUST-33; RFC 6093).
//!
//! Urgent data stays in the stream: it is read inline, in order, like any
//! other byte (the semantics of `SO_OOBINLINE`; RFC 6093 recommends
//! nothing else). What the mechanism adds is a mark: the urgent pointer
//! names the octet after the last urgent one. On receive the engine keeps
//! the highest mark the peer sent (RCV.UP), raises `Urgent` whenever it
//! moves ahead of what the application has read, and tells how many bytes
//! remain to be read up to it. On send, `write_urgent` queues data whose
//! last byte becomes the mark (SND.UP); every segment sent before the mark
//! carries URG and the pointer until the peer acknowledges the mark, and
//! the urgent data is pushed at once.

use crate::api::State;
use crate::buf::PacketBuf;
use crate::wire::{SeqNumber, TcpFlags};

use super::input::SegmentInfo;
use super::output::OutSegment;
use super::{seq_diff, EventBits, Tcb};

impl<B: PacketBuf> Tcb<B> {
    /// The sequence number of the next byte the application will read.
    fn read_seq(&self) -> SeqNumber {
        self.rcv_nxt - (self.recv.len() + usize::from(self.peer_fin))
    }

    /// RFC 9293 3.10.7.4 "sixth, check the URG bit": RCV.UP moves to the
    /// segment's mark if that is further, and the application hears of
    /// urgent data it has not read yet, once per advance (MUST-32).
    pub(crate) fn on_urgent(&mut self, seg: &SegmentInfo) {
        let Some(pointer) = seg.urgent else {
            return;
        };
        if pointer == 0
            || !matches!(
                self.state,
                State::Established | State::FinWait1 | State::FinWait2
            )
        {
            // A zero pointer names no urgent byte (RFC 6093 3); after the
            // peer's FIN it has nothing more to send.
            return;
        }
        let mark = seg.seq + usize::from(pointer);
        self.forget_read_urgent();
        if seq_diff(mark, self.read_seq()) <= 0 {
            return;
        }
        if self.rcv_up.is_none_or(|up| seq_diff(mark, up) > 0) {
            self.rcv_up = Some(mark);
            self.raise(EventBits::URGENT);
        }
    }

    /// Bytes to read up to and including the last urgent byte, if urgent
    /// data is pending (MUST-33). Some of them may not have arrived yet.
    pub fn urgent_pending(&self) -> Option<usize> {
        let up = self.rcv_up?;
        let ahead = seq_diff(up, self.read_seq());
        (ahead > 0).then_some(ahead as usize)
    }

    /// Once the application has read past the mark, urgent mode is over
    /// (and the mark must not linger to be compared with sequence numbers
    /// 2^31 bytes later).
    pub(crate) fn forget_read_urgent(&mut self) {
        if self.urgent_pending().is_none() {
            self.rcv_up = None;
        }
    }

    /// Makes the last queued byte the urgent mark (after `write_urgent`
    /// queued something) and pushes it out now.
    pub(crate) fn mark_urgent(&mut self) {
        let end = self.snd_data_start + self.send.len();
        self.snd_up = Some(end);
        self.force_send = true;
    }

    /// The peer acknowledged `ack`: urgent mode ends at the mark.
    pub(crate) fn urgent_acked(&mut self, ack: SeqNumber) {
        if self.snd_up.is_some_and(|up| seq_diff(ack, up) >= 0) {
            self.snd_up = None;
        }
    }

    /// Sets URG and the pointer on a segment that starts before the mark
    /// (as Linux, a pointer beyond 16 bits is written as 0xFFFF: the
    /// urgent data goes on past this segment).
    pub(crate) fn attach_urgent(&self, seg: &mut OutSegment) {
        let Some(up) = self.snd_up else {
            return;
        };
        let ahead = seq_diff(up, seg.seq);
        if ahead > 0 {
            seg.flags |= TcpFlags::URG;
            seg.urgent = u16::try_from(ahead).unwrap_or(u16::MAX);
        }
    }
}
