//! The sender's scoreboard: every segment sent and not yet cumulatively
//! acknowledged, with what the peer's SACK blocks say of it (RFC 6675
//! section 3), whether it is deemed lost, and when it last left (for
//! RACK, RFC 8985).
//!
//! Records are segment-sized and contiguous: together they cover
//! `[SND.UNA, SND.MAX)` once the handshake is over. A record is split
//! only when an ACK falls inside it. The counters make RFC 6675's `pipe`
//! a constant-time sum, in the form Linux uses: bytes out, less those
//! SACKed and those deemed lost, plus those retransmitted since.

use std::collections::VecDeque;

use crate::time::Instant;
use crate::wire::{SackBlock, SeqNumber};

use super::seq_diff;

/// One transmitted segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sent {
    pub start: SeqNumber,
    /// One past its last sequence number (its FIN included).
    pub end: SeqNumber,
    /// It carries our FIN.
    pub fin: bool,
    /// When it last left (RACK's `xmit_ts`).
    pub xmit: Instant,
    /// Times it was sent again.
    pub retransmits: u8,
    /// The peer's SACK blocks cover it.
    pub sacked: bool,
    /// Deemed lost (the original transmission, or the last one).
    pub lost: bool,
    /// Sent again and, since, neither delivered nor deemed lost again.
    pub retrans_out: bool,
}

impl Sent {
    pub fn len(&self) -> usize {
        seq_diff(self.end, self.start) as usize
    }

    /// Data bytes (the FIN excluded).
    pub fn data_len(&self) -> usize {
        self.len() - usize::from(self.fin)
    }
}

/// What an ACK delivered: the segments newly acknowledged, cumulatively
/// or by SACK.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Delivered {
    /// Bytes newly delivered (RFC 6937 `DeliveredData`).
    pub bytes: usize,
    /// Of which newly SACKed.
    pub sacked: usize,
    /// The most recently sent of the delivered segments: (when it left,
    /// its end, whether it had been sent more than once). RACK's update.
    pub latest: Option<(Instant, SeqNumber, bool)>,
    /// A segment sent once was delivered below one delivered before it:
    /// the network reordered (RFC 8985 `RACK.reordering_seen`).
    pub reordered: bool,
    /// The first SACK block reported a duplicate (D-SACK, RFC 2883 4:
    /// below the cumulative ACK, or inside the second block).
    pub dsack: bool,
}

/// The scoreboard.
#[derive(Debug, Default)]
pub(crate) struct Scoreboard {
    segs: VecDeque<Sent>,
    /// The highest end of a delivered segment (Linux's "fack").
    fack: Option<SeqNumber>,
    out: usize,
    sacked: usize,
    lost: usize,
    retrans: usize,
}

impl Scoreboard {
    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.segs.len()
    }

    /// Bytes sent and not cumulatively acknowledged.
    pub fn out(&self) -> usize {
        self.out
    }

    /// Bytes the peer reported in SACK blocks.
    pub fn sacked(&self) -> usize {
        self.sacked
    }

    /// Bytes deemed lost (sent again or not).
    pub fn lost(&self) -> usize {
        self.lost
    }

    /// RFC 6675 `pipe`: what is still in the network.
    pub fn pipe(&self) -> usize {
        (self.out + self.retrans).saturating_sub(self.sacked + self.lost)
    }

    pub fn heap_bytes(&self) -> usize {
        self.segs.capacity() * core::mem::size_of::<Sent>()
    }

    pub fn get(&self, i: usize) -> Option<&Sent> {
        self.segs.get(i)
    }

    /// The highest record below `point` the peer has not SACKed, its
    /// index.
    pub fn last_unsacked_before(&self, point: SeqNumber) -> Option<usize> {
        let below = self.segs.partition_point(|s| seq_diff(s.end, point) <= 0);
        self.segs.range(..below).rposition(|s| !s.sacked)
    }

    /// New data left: `[start, end)` (`fin` if it carries our FIN).
    pub fn on_send(&mut self, start: SeqNumber, end: SeqNumber, fin: bool, now: Instant) {
        let seg = Sent {
            start,
            end,
            fin,
            xmit: now,
            retransmits: 0,
            sacked: false,
            lost: false,
            retrans_out: false,
        };
        self.out += seg.len();
        self.segs.push_back(seg);
    }

    /// Record `i` left again. It stays deemed lost (the original is gone)
    /// but counts in the pipe again, as the retransmission is out.
    pub fn on_retransmit(&mut self, i: usize, now: Instant) {
        let Some(s) = self.segs.get_mut(i) else {
            return;
        };
        s.xmit = now;
        s.retransmits = s.retransmits.saturating_add(1);
        if !s.retrans_out {
            s.retrans_out = true;
            self.retrans += s.len();
        }
    }

    /// Record `i` is deemed lost, or its retransmission is. Returns
    /// whether that is news.
    pub fn mark_lost(&mut self, i: usize) -> bool {
        let Some(s) = self.segs.get_mut(i) else {
            return false;
        };
        if s.sacked {
            return false;
        }
        let len = s.len();
        let mut news = false;
        if !s.lost {
            s.lost = true;
            self.lost += len;
            news = true;
        }
        if s.retrans_out {
            s.retrans_out = false;
            self.retrans -= len;
            news = true;
        }
        news
    }

    /// Every record not SACKed is deemed lost (a retransmission timeout,
    /// RFC 6675 5.1). Returns how many were newly marked.
    pub fn mark_all_lost(&mut self) -> usize {
        (0..self.segs.len()).filter(|&i| self.mark_lost(i)).count()
    }

    /// Undoes every loss mark (the timeout that set them was spurious:
    /// RFC 3522). Retransmissions already out stay counted in the pipe.
    pub fn unmark_lost(&mut self) {
        for s in self.segs.iter_mut().filter(|s| s.lost) {
            s.lost = false;
        }
        self.lost = 0;
    }

    /// The first record deemed lost and not sent again (RFC 6675
    /// NextSeg rule 1), its index.
    pub fn first_lost(&self) -> Option<usize> {
        if self.lost == 0 {
            return None;
        }
        self.segs.iter().position(|s| s.lost && !s.retrans_out)
    }

    /// The path's segment size fell to `mss` (RFC 1191): every record
    /// carrying more data is cut into pieces of at most `mss` that keep
    /// its marks, and the pieces the peer has not SACKed are deemed lost,
    /// for a router dropped the original. Returns how many pieces were
    /// newly deemed lost.
    pub fn shrink_to(&mut self, mss: usize) -> usize {
        let mss = mss.max(1);
        if self.segs.iter().all(|s| s.data_len() <= mss) {
            return 0;
        }
        let mut pieces = VecDeque::with_capacity(self.segs.len());
        let mut too_big = Vec::new();
        for s in self.segs.drain(..) {
            if s.data_len() <= mss {
                pieces.push_back(s);
                continue;
            }
            let mut start = s.start;
            let mut left = s.data_len();
            while left > 0 {
                let take = left.min(mss);
                left -= take;
                let fin = s.fin && left == 0;
                let end = start + take + usize::from(fin);
                too_big.push(pieces.len());
                pieces.push_back(Sent {
                    start,
                    end,
                    fin,
                    ..s
                });
                start = end;
            }
        }
        // The byte counts are unchanged: every piece keeps its record's
        // marks, and the pieces cover exactly what the record covered.
        self.segs = pieces;
        too_big.into_iter().filter(|&i| self.mark_lost(i)).count()
    }

    /// The cumulative ACK moved to `ack`: records wholly below it go, one
    /// it falls inside is trimmed.
    pub fn on_cumulative_ack(&mut self, ack: SeqNumber, delivered: &mut Delivered) {
        while let Some(front) = self.segs.front_mut() {
            if seq_diff(front.start, ack) >= 0 {
                break;
            }
            let whole = seq_diff(front.end, ack) <= 0;
            let part = if whole {
                front.len()
            } else {
                seq_diff(ack, front.start) as usize
            };
            if !front.sacked {
                delivered.bytes += part;
                note_latest(delivered, front);
                let end = if whole { front.end } else { ack };
                self.fack = note_order(delivered, self.fack, end, front.retransmits);
            }
            if whole {
                let s = self.segs.pop_front().expect("front exists");
                self.forget(&s, s.len());
            } else {
                let (sacked, lost, retrans) = (front.sacked, front.lost, front.retrans_out);
                front.start = ack;
                self.out -= part;
                self.sacked -= if sacked { part } else { 0 };
                self.lost -= if lost { part } else { 0 };
                self.retrans -= if retrans { part } else { 0 };
                break;
            }
        }
    }

    fn forget(&mut self, s: &Sent, len: usize) {
        self.out -= len;
        if s.sacked {
            self.sacked -= len;
        }
        if s.lost {
            self.lost -= len;
        }
        if s.retrans_out {
            self.retrans -= len;
        }
    }

    /// The peer's SACK blocks: records they cover whole are SACKed.
    pub fn on_sack(
        &mut self,
        blocks: &[Option<SackBlock>; 4],
        snd_una: SeqNumber,
        delivered: &mut Delivered,
    ) {
        for (n, b) in blocks.iter().flatten().enumerate() {
            if n == 0 && is_dsack(b, blocks[1].as_ref(), snd_una) {
                delivered.dsack = true;
                continue;
            }
            self.sack_range(b.left, b.right, delivered);
        }
    }

    fn sack_range(&mut self, left: SeqNumber, right: SeqNumber, delivered: &mut Delivered) {
        // Records are sorted: find the first that ends after `left`.
        let i = self.segs.partition_point(|s| seq_diff(s.end, left) <= 0);
        for j in i..self.segs.len() {
            let s = self.segs[j];
            if seq_diff(s.start, right) >= 0 {
                break;
            }
            let covered = seq_diff(s.start, left) >= 0 && seq_diff(s.end, right) <= 0;
            if !covered || s.sacked {
                continue;
            }
            let len = s.len();
            delivered.bytes += len;
            delivered.sacked += len;
            note_latest(delivered, &s);
            self.fack = note_order(delivered, self.fack, s.end, s.retransmits);
            let rec = &mut self.segs[j];
            rec.sacked = true;
            self.sacked += len;
            if rec.lost {
                rec.lost = false;
                self.lost -= len;
            }
            if rec.retrans_out {
                rec.retrans_out = false;
                self.retrans -= len;
            }
        }
    }
}

/// RFC 2883 section 4: a first block that lies below the cumulative ACK,
/// or inside the second block, reports a duplicate.
fn is_dsack(first: &SackBlock, second: Option<&SackBlock>, snd_una: SeqNumber) -> bool {
    seq_diff(first.left, snd_una) < 0
        || second.is_some_and(|s| {
            seq_diff(first.left, s.left) >= 0 && seq_diff(first.right, s.right) <= 0
        })
}

/// Delivery of a segment ending at `end`: below the highest delivered
/// end, and never retransmitted, it was reordered. Returns the new highest.
fn note_order(
    delivered: &mut Delivered,
    fack: Option<SeqNumber>,
    end: SeqNumber,
    retransmits: u8,
) -> Option<SeqNumber> {
    match fack {
        Some(f) if seq_diff(end, f) < 0 => {
            delivered.reordered |= retransmits == 0;
            Some(f)
        }
        _ => Some(end),
    }
}

fn note_latest(delivered: &mut Delivered, s: &Sent) {
    let newer = delivered
        .latest
        .is_none_or(|(at, end, _)| s.xmit > at || (s.xmit == at && seq_diff(s.end, end) > 0));
    if newer {
        delivered.latest = Some((s.xmit, s.end, s.retransmits > 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    fn seq(n: u32) -> SeqNumber {
        SeqNumber(n)
    }

    /// Ten segments of 1,000 bytes from 0, sent at 0..10 ms.
    fn ten() -> Scoreboard {
        let mut sb = Scoreboard::default();
        for i in 0..10 {
            sb.on_send(seq(i * MSS), seq((i + 1) * MSS), false, at(u64::from(i)));
        }
        sb
    }

    fn block(l: u32, r: u32) -> Option<SackBlock> {
        Some(SackBlock {
            left: seq(l),
            right: seq(r),
        })
    }

    #[test]
    fn pipe_counts_what_is_still_in_the_network() {
        let mut sb = ten();
        assert_eq!((sb.out(), sb.pipe()), (10_000, 10_000));
        let mut d = Delivered::default();
        // Segments 2..5 SACKed: a hole at 0..2.
        sb.on_sack(&[block(2000, 5000), None, None, None], seq(0), &mut d);
        assert_eq!((d.bytes, d.sacked, sb.pipe()), (3000, 3000, 7000));
        assert_eq!(d.latest, Some((at(4), seq(5000), false)));
        sb.mark_lost(0);
        sb.mark_lost(1);
        assert_eq!(
            (sb.lost(), sb.pipe(), sb.first_lost()),
            (2000, 5000, Some(0))
        );
        sb.on_retransmit(0, at(20));
        assert_eq!(
            (sb.lost(), sb.pipe(), sb.first_lost()),
            (2000, 6000, Some(1))
        );
        // The cumulative ACK covers the retransmission and the SACKed run.
        let mut d = Delivered::default();
        sb.on_cumulative_ack(seq(5000), &mut d);
        assert_eq!(d.bytes, 2000, "SACKed bytes were delivered already");
        assert_eq!(d.latest, Some((at(20), seq(1000), true)));
        assert_eq!(
            (sb.out(), sb.sacked(), sb.lost(), sb.pipe()),
            (5000, 0, 0, 5000)
        );
    }

    #[test]
    fn an_ack_inside_a_record_trims_it() {
        let mut sb = ten();
        let mut d = Delivered::default();
        sb.on_cumulative_ack(seq(1500), &mut d);
        assert_eq!((d.bytes, sb.out()), (1500, 8500));
        assert_eq!(
            sb.get(0).map(|s| (s.start, s.end)),
            Some((seq(1500), seq(2000)))
        );
    }

    #[test]
    fn a_first_block_below_the_ack_or_inside_the_second_is_a_dsack() {
        let mut sb = ten();
        let mut d = Delivered::default();
        let below = [block(0, 1000), block(3000, 4000), None, None];
        sb.on_sack(&below, seq(2000), &mut d);
        assert!(d.dsack);
        assert_eq!(d.sacked, 1000, "the second block still counts");
        let mut d = Delivered::default();
        let inside = [block(5000, 6000), block(5000, 7000), None, None];
        sb.on_sack(&inside, seq(2000), &mut d);
        assert!(d.dsack);
        let mut d = Delivered::default();
        sb.on_sack(&[block(8000, 9000), None, None, None], seq(2000), &mut d);
        assert!(!d.dsack);
    }

    #[test]
    fn a_retransmission_lost_again_leaves_the_pipe() {
        let mut sb = ten();
        sb.mark_lost(0);
        sb.on_retransmit(0, at(20));
        assert_eq!(sb.pipe(), 10_000);
        assert!(sb.mark_lost(0));
        assert_eq!((sb.pipe(), sb.lost()), (9000, 1000));
        assert_eq!(sb.mark_all_lost(), 9);
        assert_eq!(sb.pipe(), 0);
    }

    #[test]
    fn a_smaller_path_mtu_cuts_records_and_deems_the_unsacked_pieces_lost() {
        let mut sb = ten();
        let mut d = Delivered::default();
        // The peer SACKed the third record.
        sb.on_sack(&[block(2000, 3000), None, None, None], seq(0), &mut d);
        let (out, sacked) = (sb.out(), sb.sacked());
        assert_eq!(sb.shrink_to(400), 27, "9 records of 3 pieces each");
        assert_eq!(sb.len(), 30);
        assert_eq!((sb.out(), sb.sacked()), (out, sacked));
        assert_eq!(sb.lost(), 9000);
        assert_eq!(sb.pipe(), 0);
        let first = *sb.get(0).unwrap();
        assert_eq!(
            (first.start, first.end, first.lost),
            (seq(0), seq(400), true)
        );
        let third = *sb.get(2).unwrap();
        assert_eq!((third.start, third.end), (seq(800), seq(1000)));
        assert!(sb.get(6).unwrap().sacked && !sb.get(6).unwrap().lost);
        assert_eq!(sb.first_lost(), Some(0));
        assert_eq!(sb.shrink_to(400), 0, "nothing is larger any more");
    }

    #[test]
    fn a_segment_delivered_below_an_earlier_delivered_one_is_reordering() {
        let mut sb = ten();
        let mut d = Delivered::default();
        sb.on_sack(&[block(3000, 4000), None, None, None], seq(0), &mut d);
        assert!(!d.reordered);
        let mut d = Delivered::default();
        sb.on_cumulative_ack(seq(2000), &mut d);
        assert!(d.reordered, "segments 0 and 1 arrived after segment 3");
        // Below it but sent again: the retransmission explains it.
        let mut d = Delivered::default();
        sb.mark_lost(0);
        sb.on_retransmit(0, at(30));
        sb.on_cumulative_ack(seq(3000), &mut d);
        assert!(!d.reordered);
    }
}
