//! Bursts: frames taken in one call (`handle_rx_burst`) and frames handed
//! out in one call (`poll_transmit_burst`). A burst changes how often the
//! application hears of a connection, never what goes on the wire.

use super::*;

// RFC 5681 4.2 inside one burst: eight full segments in one call draw the
// same four ACKs as eight calls, each for the data up to it; the
// application hears of the data once (contract 17).
#[test]
fn full_segments_in_one_burst_are_acked_every_second_one_and_raise_one_readable() {
    let mut t = Harness::new();
    let c = t.passive();
    let data = pattern(8 * MSS);
    let segs: Vec<Seg> = (0..8)
        .map(|i| c.peer(i * MSS, 0).data(&data[i * MSS..(i + 1) * MSS]))
        .collect();
    t.send_burst(&segs);
    for i in [2, 4, 6, 8] {
        t.recv(c.ours(0, i * MSS).win(WIN - (i * MSS) as u16));
    }
    t.recv_nothing();
    assert_eq!(t.events(), [(c.h, EventKind::Readable)]);
    assert_eq!(t.read_all(c.h), data);
}

// RFC 5681 4.2: a duplicate ACK for each out-of-order segment, also when
// they arrive in one burst; the segment filling the gap, later in the same
// burst, is acknowledged at once and cumulatively.
#[test]
fn out_of_order_segments_in_one_burst_each_draw_a_duplicate_ack() {
    let mut t = Harness::new();
    let c = t.passive();
    let data = pattern(4 * MSS);
    let mut segs: Vec<Seg> = (1..4)
        .map(|i| c.peer(i * MSS, 0).data(&data[i * MSS..(i + 1) * MSS]))
        .collect();
    segs.push(c.peer(0, 0).data(&data[..MSS]));
    t.send_burst(&segs);
    for _ in 1..4 {
        t.recv(c.ours(0, 0));
    }
    t.recv(c.ours(0, 4 * MSS).win(WIN - 4 * MSS as u16));
    t.recv_nothing();
    assert_eq!(t.events(), [(c.h, EventKind::Readable)]);
    assert_eq!(t.read_all(c.h), data);
}

// Contract 17: events the burst holds back keep their order against those
// it does not: data, then the FIN, in one burst: `Readable` before
// `PeerClosed`, each once.
#[test]
fn data_and_fin_in_one_burst_raise_readable_before_peer_closed() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send_burst(&[
        c.peer(0, 0).data(b"abc"),
        c.peer(3, 0).data(b"def"),
        c.peer(6, 0).flags(FIN | ACK).data(b"ghi"),
    ]);
    assert_eq!(
        t.events(),
        [(c.h, EventKind::Readable), (c.h, EventKind::PeerClosed)]
    );
    assert_eq!(t.read_all(c.h), b"abcdefghi");
}

// Contract 17 in a burst: ACKs that free room in a full send buffer raise
// one `Writable`, not one per ACK.
#[test]
fn acks_in_one_burst_raise_one_writable() {
    let mut t = Harness::with_config(|c| c.tcp.send_buffer = 4 * MSS);
    let c = t.passive();
    let data = pattern(5 * MSS);
    assert_eq!(t.engine.write(c.h, &data), Ok(4 * MSS));
    assert_eq!(
        t.engine.write(c.h, &data[4 * MSS..]),
        Err(crate::Error::WouldBlock)
    );
    for _ in 0..4 {
        t.recv_seg();
    }
    t.send_burst(&[c.peer(0, MSS), c.peer(0, 2 * MSS), c.peer(0, 3 * MSS)]);
    assert_eq!(t.events(), [(c.h, EventKind::Writable)]);
    assert_eq!(t.engine.write(c.h, &data[4 * MSS..]), Ok(MSS));
}

// Contract 17 and 6: a connection reset later in the burst than its data:
// the data's `Readable` comes first, then `Reset`; nothing is lost or
// repeated.
#[test]
fn data_then_reset_in_one_burst_keep_their_order() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send_burst(&[c.peer(0, 0).data(b"last words"), c.peer(10, 0).flags(RST)]);
    let kinds: Vec<EventKind> = t.events().into_iter().map(|(_, k)| k).collect();
    assert_eq!(kinds.first(), Some(&EventKind::Readable));
    assert!(
        matches!(kinds.last(), Some(EventKind::Reset { .. })),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == EventKind::Readable).count(),
        1,
        "{kinds:?}"
    );
}

// poll_transmit_burst hands out exactly the frames single polls would:
// two engines fed the same, one drained frame by frame and one in bursts
// of three, put the same bytes on the wire.
#[test]
fn a_transmit_burst_is_the_frames_of_single_polls() {
    let drain = |burst: Option<usize>| {
        let mut t = Harness::new();
        let c = t.passive();
        let mut wire = Vec::new();
        for round in 0..3 {
            t.engine
                .write(c.h, &pattern(7 * MSS + 100 * round))
                .unwrap();
            t.send(c.peer(0, round * 3 * MSS));
            match burst {
                None => {
                    while let Some(f) = t.engine.poll_transmit(t.now) {
                        wire.push(f.to_vec());
                    }
                }
                Some(max) => {
                    let mut out = Vec::new();
                    while t.engine.poll_transmit_burst(t.now, &mut out, max) > 0 {
                        assert!(out.len() <= max);
                        wire.extend(out.drain(..).map(|f| f.to_vec()));
                    }
                }
            }
        }
        wire
    };
    let single = drain(None);
    assert!(single.len() > 10, "{} frames", single.len());
    assert_eq!(drain(Some(3)), single);
}
