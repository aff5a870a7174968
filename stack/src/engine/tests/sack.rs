//! Selective acknowledgments, the receiving side: the blocks our ACKs
//! report (RFC 2018 section 4), D-SACK (RFC 2883), and when there are
//! none. With the default options agreed (see `options.rs`).

use super::options::{defaults, open_with_options, TS_MSS};
use super::*;

/// Our next segment's ACK and SACK blocks as offsets into the peer's
/// stream.
#[track_caller]
fn ack_and_blocks(t: &mut Harness, c: &Conn) -> (usize, Vec<(usize, usize)>) {
    let seg = t.recv_seg();
    let off = |s: SeqNumber| seq_off(s, c.irs);
    (
        off(seg.ack),
        seg.sack.iter().map(|&(l, r)| (off(l), off(r))).collect(),
    )
}

fn seq_off(s: SeqNumber, irs: SeqNumber) -> usize {
    (s.0.wrapping_sub(irs.0).wrapping_sub(1)) as usize
}

// RFC 2018 section 4: each duplicate ACK reports the block holding the
// segment that triggered it first, then the blocks reported before.
#[test]
fn out_of_order_blocks_are_reported_the_latest_first() {
    let mut t = defaults();
    let (c, _) = open_with_options(&mut t, 1000);
    let seg = |i: usize| {
        pattern(500)[..]
            .to_vec()
            .into_iter()
            .map(|b| b ^ i as u8)
            .collect::<Vec<_>>()
    };
    // Segments of 500 bytes; 0 and 2 lost.
    t.send(c.peer(500, 0).data(&seg(1)));
    assert_eq!(ack_and_blocks(&mut t, &c), (0, vec![(500, 1000)]));
    t.send(c.peer(1500, 0).data(&seg(3)));
    assert_eq!(
        ack_and_blocks(&mut t, &c),
        (0, vec![(1500, 2000), (500, 1000)])
    );
    t.send(c.peer(2000, 0).data(&seg(4)));
    assert_eq!(
        ack_and_blocks(&mut t, &c),
        (0, vec![(1500, 2500), (500, 1000)])
    );
    // The first hole fills: the cumulative ACK moves, one block is left.
    t.send(c.peer(0, 0).data(&seg(0)));
    assert_eq!(ack_and_blocks(&mut t, &c), (1000, vec![(1500, 2500)]));
    t.send(c.peer(1000, 0).data(&seg(2)));
    assert_eq!(ack_and_blocks(&mut t, &c), (2500, vec![]));
    assert_eq!(t.engine.stats().sack_blocks_sent, 6);
}

// RFC 2018 3: beside the timestamps option there is room for three
// blocks; the oldest is left out.
#[test]
fn beside_timestamps_three_blocks_fit() {
    let mut t = defaults();
    let (c, _) = open_with_options(&mut t, 1000);
    for i in [1usize, 3, 5, 7] {
        t.send(c.peer(i * 100, 0).data(&[i as u8; 100]));
        t.recv_seg();
    }
    t.send(c.peer(900, 0).data(&[9; 100]));
    assert_eq!(
        ack_and_blocks(&mut t, &c),
        (0, vec![(900, 1000), (700, 800), (500, 600)])
    );
}

// RFC 2883 4.1: a segment below the cumulative ACK (the sender resent
// what had arrived) is reported in a D-SACK block, once.
#[test]
fn a_duplicate_below_the_cumulative_ack_is_reported_once_as_dsack() {
    let mut t = defaults();
    let (c, _) = open_with_options(&mut t, 1000);
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"hello"));
    t.advance_to(ms(40));
    assert_eq!(ack_and_blocks(&mut t, &c), (5, vec![]));
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"hello"));
    assert_eq!(ack_and_blocks(&mut t, &c), (5, vec![(0, 5)]));
    t.send(c.peer(5, 0).flags(PSH | ACK).data(b"!"));
    t.advance_to(ms(100));
    assert_eq!(ack_and_blocks(&mut t, &c), (6, vec![]), "reported once");
    assert_eq!(t.engine.stats().dsacks_sent, 1);
}

// RFC 2883 4.2: a duplicate of out-of-order data is reported first, then
// the block it belongs to.
#[test]
fn a_duplicate_of_out_of_order_data_is_reported_before_its_block() {
    let mut t = defaults();
    let (c, _) = open_with_options(&mut t, 1000);
    t.send(c.peer(500, 0).data(&[1; 500]));
    t.recv_seg();
    t.send(c.peer(1000, 0).data(&[2; 500]));
    t.recv_seg();
    t.send(c.peer(500, 0).data(&[1; 500]));
    assert_eq!(
        ack_and_blocks(&mut t, &c),
        (0, vec![(500, 1000), (500, 1500)])
    );
}

// RFC 2018 2: no blocks unless both SYNs carried SACK-permitted.
#[test]
fn no_blocks_for_a_peer_that_did_not_permit_them() {
    let mut t = defaults();
    let c = t.passive();
    t.send(c.peer(500, 0).data(&[1; 500]));
    let dup = t.recv_seg();
    assert_eq!((dup.ack, dup.sack.len()), (c.irs + 1, 0));
}

// The blocks ride on data only as far as they fit: a full segment has no
// room beside its payload and timestamps; a short one has.
#[test]
fn blocks_ride_on_data_only_as_far_as_the_mss_allows() {
    let mut t = defaults();
    let (c, _) = open_with_options(&mut t, 1000);
    t.send(c.peer(500, 0).data(&[1; 500]));
    t.recv_seg();
    let data = pattern(TS_MSS + 10);
    assert_eq!(t.engine.write(c.h, &data), Ok(data.len()));
    let full = t.recv_seg();
    assert_eq!((full.data.len(), full.sack.len()), (TS_MSS, 0));
    let short = t.recv_seg();
    assert_eq!((short.data.len(), short.sack.len()), (10, 1));
}

// Data we no longer hold (pruned for memory, or dropped by the
// out-of-order timeout) is not reported: the sender must not think it
// arrived.
#[test]
fn blocks_of_data_no_longer_held_are_not_reported() {
    let mut t = Harness::with_config(|c| {
        c.tcp.window_scaling = true;
        c.tcp.timestamps = true;
        c.tcp.sack = true;
        c.memory.ooo_timeout = secs(5);
    });
    let (c, _) = open_with_options(&mut t, 1000);
    t.send(c.peer(500, 0).data(&[1; 500]));
    assert_eq!(ack_and_blocks(&mut t, &c), (0, vec![(500, 1000)]));
    t.advance_to(secs(6));
    assert_eq!(t.engine.stats().memory.ooo_timeouts, 1);
    t.send(c.peer(1500, 0).data(&[3; 500]));
    assert_eq!(ack_and_blocks(&mut t, &c), (0, vec![(1500, 2000)]));
}

// The peer's blocks are read (and counted): what the sender side's
// scoreboard works from.
#[test]
fn the_peers_blocks_are_read() {
    let mut t = defaults();
    let (c, _) = open_with_options(&mut t, 1000);
    let data = pattern(4 * TS_MSS);
    assert_eq!(t.engine.write(c.h, &data), Ok(data.len()));
    while t.recv_frame().is_some() {}
    let blocks = [(TS_MSS, 2 * TS_MSS), (3 * TS_MSS, 4 * TS_MSS)];
    t.send(c.peer(0, 0).sack(c.iss, &blocks));
    assert_eq!(t.engine.stats().sack_blocks_received, 2);
}
