//! The ACK policy (RFC 5681 4.2, RFC 9293 3.8.6.3 and 3.10.7.4) and
//! Nagle's algorithm with Minshall's variant, segment by segment. The
//! driver hands the engine several frames before it polls (a received
//! burst): ACKs owed at once are built as each segment arrives, so a burst
//! gets as many ACKs as a frame-by-frame receiver would send.

use super::*;
use crate::{Error, PacketBuf, Shutdown};

/// The harness with Linux's default of 16 quick ACKs (the other suites
/// turn them off).
fn quick() -> Harness {
    Harness::with_config(|c| c.tcp.quickacks = 16)
}

// RFC 5681 4.2: "A TCP receiver SHOULD send an immediate duplicate ACK
// when an out-of-order segment arrives": one per segment, also when they
// arrive in one burst.
#[test]
fn every_out_of_order_segment_gets_its_own_duplicate_ack() {
    let mut t = Harness::new();
    let c = t.passive();
    let data = pattern(4 * MSS);
    for i in 1..4 {
        t.send(c.peer(i * MSS, 0).data(&data[i * MSS..(i + 1) * MSS]));
    }
    for _ in 1..4 {
        t.recv(c.ours(0, 0));
    }
    t.recv_nothing();
    // The segment that fills the gap is acknowledged at once, cumulatively.
    t.send(c.peer(0, 0).data(&data[..MSS]));
    t.recv(c.ours(0, 4 * MSS).win(WIN - 4 * MSS as u16));
    t.recv_nothing();
}

// RFC 5681 4.2: an ACK for at least every second full-sized segment, so a
// burst of eight draws four ACKs, each for the data up to it (not one
// stretch ACK for the whole burst).
#[test]
fn a_burst_of_full_segments_is_acked_every_second_segment() {
    let mut t = Harness::new();
    let c = t.passive();
    let data = pattern(8 * MSS);
    for i in 0..8 {
        t.send(c.peer(i * MSS, 0).data(&data[i * MSS..(i + 1) * MSS]));
    }
    for i in [2, 4, 6, 8] {
        t.recv(c.ours(0, i * MSS).win(WIN - (i * MSS) as u16));
    }
    t.recv_nothing();
    assert_eq!(t.read_all(c.h), data);
}

// RFC 5681 4.2: "an immediate ACK SHOULD be generated when a segment
// arrives that fills in all or part of a gap".
#[test]
fn a_segment_filling_part_of_a_gap_is_acked_at_once() {
    let mut t = Harness::new();
    let c = t.passive();
    let data = pattern(300);
    t.send(c.peer(200, 0).data(&data[200..]));
    t.recv(c.ours(0, 0));
    t.send(c.peer(0, 0).data(&data[..100]));
    t.recv(c.ours(0, 100).win(WIN - 100));
    t.send(c.peer(100, 0).data(&data[100..200]));
    t.recv(c.ours(0, 300).win(WIN - 300));
    assert_eq!(t.read_all(c.h), data);
}

// Quick ACKs (Linux's quick-ACK mode): the first in-order segments of a
// connection are acknowledged at once, not after the delayed-ACK time;
// then delayed ACKs resume.
#[test]
fn the_first_segments_are_acked_at_once_then_acks_are_delayed() {
    let mut t = Harness::with_config(|c| c.tcp.quickacks = 2);
    let c = t.passive();
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"one"));
    t.recv(c.ours(0, 3).win(WIN - 3));
    t.send(c.peer(3, 0).flags(PSH | ACK).data(b"two"));
    t.recv(c.ours(0, 6).win(WIN - 6));
    t.send(c.peer(6, 0).flags(PSH | ACK).data(b"three"));
    t.recv_nothing();
    t.advance_to(ms(40));
    t.recv(c.ours(0, 11).win(WIN - 11));
}

// After the receive side was idle for longer than the retransmission
// timeout, the sender restarts from a small window: quick ACKs again.
#[test]
fn quick_acks_come_back_after_idle() {
    let mut t = Harness::with_config(|c| c.tcp.quickacks = 1);
    let c = t.passive();
    t.send(c.peer(0, 0).data(b"a"));
    t.recv(c.ours(0, 1).win(WIN - 1));
    t.send(c.peer(1, 0).data(b"b"));
    t.recv_nothing();
    t.advance_to(ms(40));
    t.recv(c.ours(0, 2).win(WIN - 2));
    // The RTO is 1 s before any RTT sample; idle longer than that.
    t.advance_to(secs(3));
    t.send(c.peer(2, 0).data(b"c"));
    t.recv(c.ours(0, 3).win(WIN - 3));
}

// Ping-pong (Linux): once data answers data within the delayed-ACK time,
// the next request's ACK waits to ride on the answer instead of going out
// alone as a quick ACK.
#[test]
fn requests_answered_at_once_have_their_acks_ride_on_the_answers() {
    let mut t = quick();
    let c = t.passive();
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"req1"));
    t.recv(c.ours(0, 4).win(WIN - 4));
    assert_eq!(t.engine.write(c.h, b"resp1"), Ok(5));
    t.recv(c.ours(0, 4).flags(PSH | ACK).data(b"resp1").win(WIN - 4));
    t.send(c.peer(4, 5).flags(PSH | ACK).data(b"req2"));
    t.recv_nothing();
    assert_eq!(t.engine.write(c.h, b"resp2"), Ok(5));
    t.recv(c.ours(5, 8).flags(PSH | ACK).data(b"resp2").win(WIN - 8));
    t.recv_nothing();
}

// Nagle with Minshall's variant (Linux's rule): a short segment may go
// out while only full-sized segments are unacknowledged, so a response's
// tail does not wait for the peer's delayed ACK of its head; a second
// short segment still waits for the first to be acknowledged.
#[test]
fn a_short_tail_goes_out_behind_full_segments_but_not_behind_a_short_one() {
    let mut t = Harness::new();
    let c = t.passive();
    let data = pattern(1500);
    assert_eq!(t.engine.write(c.h, &data), Ok(1500));
    t.recv(c.ours(0, 0).data(&data[..MSS]));
    t.recv(c.ours(MSS, 0).flags(PSH | ACK).data(&data[MSS..]));
    assert_eq!(t.engine.write(c.h, b"more"), Ok(4));
    t.recv_nothing();
    // The full segment's ACK does not release it: the short one is still
    // out.
    t.send(c.peer(0, MSS));
    t.recv_nothing();
    t.send(c.peer(0, 1500));
    t.recv(c.ours(1500, 0).flags(PSH | ACK).data(b"more"));
}

// The regression behind Minshall's variant: an echo of 1,500 bytes to a
// peer that delays its ACKs. Strict RFC 896 held the 40-byte tail until
// the peer's delayed ACK (40 ms on Linux); now the whole echo leaves at
// once.
#[test]
fn an_echo_of_1500_bytes_does_not_wait_for_the_peers_delayed_ack() {
    let mut t = quick();
    let c = t.passive();
    let data = pattern(1500);
    t.send(c.peer(0, 0).data(&data[..MSS]));
    t.send(c.peer(MSS, 0).flags(PSH | ACK).data(&data[MSS..]));
    let mut got = Vec::new();
    while let Ok(Some(buf)) = t.engine.read_buf(c.h) {
        got.extend_from_slice(buf.data());
        // The echo: each received buffer written straight back.
        t.engine.write_buf(c.h, buf).unwrap();
    }
    assert_eq!(got, data);
    let mut sent = Vec::new();
    while let Some(frame) = t.recv_frame() {
        sent.extend_from_slice(&parse_seg(&frame).data);
    }
    assert_eq!(sent, data, "the whole echo left without waiting");
}

// Found by fuzzing: data corked with a FIN queued behind it (shutdown
// before or after the cork) was never sent, and the connection, closed,
// stayed for ever with nothing to time it out. A FIN sends the tail
// whatever cork says (as Linux's FIN push does).
#[test]
fn regression_a_fin_sends_the_corked_tail() {
    let mut t = Harness::new();
    let c = t.passive();
    assert_eq!(t.engine.write(c.h, b"tail"), Ok(4));
    t.engine.shutdown(c.h, Shutdown::Write).unwrap();
    t.engine.set_cork(c.h, true).unwrap();
    t.recv(c.ours(0, 0).flags(FIN | PSH | ACK).data(b"tail"));
    t.recv_nothing();
}

// Corking (Linux TCP_CORK): short segments wait while corked, even with
// nodelay; uncorking sends what waited.
#[test]
fn a_corked_connection_sends_only_full_segments_until_uncorked() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.set_nodelay(c.h, true).unwrap();
    t.engine.set_cork(c.h, true).unwrap();
    assert_eq!(t.engine.write(c.h, b"head"), Ok(4));
    t.recv_nothing();
    let body = pattern(MSS);
    assert_eq!(t.engine.write(c.h, &body), Ok(MSS));
    let mut want = b"head".to_vec();
    want.extend_from_slice(&body);
    t.recv(c.ours(0, 0).data(&want[..MSS]));
    t.recv_nothing();
    t.engine.set_cork(c.h, false).unwrap();
    t.recv(c.ours(MSS, 0).flags(PSH | ACK).data(&want[MSS..]));
    assert_eq!(
        t.engine.set_cork(Handle::from_raw(u64::MAX), true),
        Err(Error::InvalidHandle)
    );
}
