//! Selective acknowledgments, the data receiver's side: which blocks of
//! out-of-order data an ACK reports (RFC 2018 section 4), and the
//! duplicate a D-SACK block reports (RFC 2883).

use crate::wire::{SackBlock, SeqNumber};

use super::seq_diff;

/// A range of sequence space, `[left, right)`.
pub(crate) type Range = (SeqNumber, SeqNumber);

/// What the next ACKs report.
#[derive(Debug, Clone, Default)]
pub(crate) struct SackReport {
    /// Blocks of out-of-order data, the most recently changed first (RFC
    /// 2018 4: "the first SACK block MUST specify the contiguous block of
    /// data containing the segment which triggered this ACK", the others
    /// repeat the most recently reported ones).
    blocks: [Option<Range>; 4],
    /// A duplicate that arrived since the last ACK (RFC 2883: reported
    /// once, as the first block).
    dsack: Option<Range>,
}

impl SackReport {
    /// Out-of-order data arrived; `run` is the contiguous block now held
    /// around it.
    pub fn on_out_of_order(&mut self, run: Range) {
        let mut kept = [None; 4];
        kept[0] = Some(run);
        let mut n = 1;
        for b in self.blocks.iter().flatten() {
            let inside = seq_diff(b.0, run.0) >= 0 && seq_diff(b.1, run.1) <= 0;
            if !inside && n < kept.len() {
                kept[n] = Some(*b);
                n += 1;
            }
        }
        self.blocks = kept;
    }

    /// Data that was already held arrived again (RFC 2883 section 4).
    pub fn on_duplicate(&mut self, range: Range) {
        self.dsack = Some(range);
    }

    /// The option for the next ACK: the D-SACK block first (then gone),
    /// then the blocks still held, most recent first, at most `max`.
    /// `held` says whether a block is still wholly held out of order
    /// (data pruned for memory, or delivered, is not reported).
    pub fn option(
        &mut self,
        rcv_nxt: SeqNumber,
        max: usize,
        held: impl Fn(Range) -> bool,
    ) -> [Option<SackBlock>; 4] {
        let mut out = [None; 4];
        let mut n = 0;
        let mut push = |r: Range| {
            if n < max.min(out.len()) {
                out[n] = Some(SackBlock {
                    left: r.0,
                    right: r.1,
                });
                n += 1;
            }
        };
        if let Some(d) = self.dsack.take() {
            push(d);
        }
        for slot in &mut self.blocks {
            match *slot {
                Some(b) if seq_diff(b.0, rcv_nxt) > 0 && held(b) => push(b),
                _ => *slot = None,
            }
        }
        out
    }

    /// Whether anything is left to report.
    pub fn is_empty(&self) -> bool {
        self.dsack.is_none() && self.blocks.iter().all(Option::is_none)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(a: u32, b: u32) -> Range {
        (SeqNumber(a), SeqNumber(b))
    }

    fn blocks(o: [Option<SackBlock>; 4]) -> Vec<(u32, u32)> {
        o.iter().flatten().map(|b| (b.left.0, b.right.0)).collect()
    }

    // RFC 2018 section 4, the second example: segments 5,000 and 7,000
    // lost of eight 500-byte segments from 5,000; each ACK reports the
    // block of the latest segment first.
    #[test]
    fn the_block_of_the_latest_segment_comes_first() {
        let mut s = SackReport::default();
        let all = |_: Range| true;
        s.on_out_of_order(r(5500, 6000));
        assert_eq!(blocks(s.option(SeqNumber(5000), 4, all)), [(5500, 6000)]);
        s.on_out_of_order(r(5500, 6500));
        assert_eq!(blocks(s.option(SeqNumber(5000), 4, all)), [(5500, 6500)]);
        s.on_out_of_order(r(7500, 8000));
        assert_eq!(
            blocks(s.option(SeqNumber(5000), 4, all)),
            [(7500, 8000), (5500, 6500)]
        );
        s.on_out_of_order(r(7500, 8500));
        assert_eq!(
            blocks(s.option(SeqNumber(5000), 4, all)),
            [(7500, 8500), (5500, 6500)]
        );
        // The first hole fills: only the second block is still out.
        assert_eq!(blocks(s.option(SeqNumber(6500), 4, all)), [(7500, 8500)]);
    }

    #[test]
    fn a_dsack_block_goes_first_once_and_room_limits_the_rest() {
        let mut s = SackReport::default();
        for i in 0..5 {
            s.on_out_of_order(r(1000 * (i + 2), 1000 * (i + 2) + 100));
        }
        s.on_duplicate(r(500, 600));
        let all = |_: Range| true;
        assert_eq!(
            blocks(s.option(SeqNumber(1000), 3, all)),
            [(500, 600), (6000, 6100), (5000, 5100)]
        );
        assert_eq!(blocks(s.option(SeqNumber(1000), 3, all)).len(), 3);
        // Blocks no longer held (pruned) are not reported, and forgotten.
        let none = |_: Range| false;
        assert!(blocks(s.option(SeqNumber(1000), 3, none)).is_empty());
        assert!(s.is_empty());
    }
}
