//! Data transfer: writing and reading (contracts 1 to 7), acknowledgment
//! policy (RFC 9293 3.8.6.3, RFC 5681 4.2), Nagle (RFC 896), fast
//! retransmit (RFC 5681 3.2) and challenge ACKs (RFC 5961).

use super::*;
use crate::{Error, PacketBuf, ResetCause, Shutdown};

const SEND_BUFFER: usize = 256 * 1024;

// Contract 1: write copies into the send buffer and returns at once; the
// space comes back only when the peer acknowledges, not when sent.
#[test]
fn write_returns_at_once_and_space_is_freed_by_the_ack() {
    let mut t = Harness::new();
    let c = t.passive();
    let writable = |t: &Harness| t.engine.readiness(c.h).unwrap().writable_bytes;
    assert_eq!(writable(&t), SEND_BUFFER);
    assert_eq!(t.engine.write(c.h, &pattern(100)), Ok(100));
    assert_eq!(writable(&t), SEND_BUFFER - 100);
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(&pattern(100)));
    assert_eq!(writable(&t), SEND_BUFFER - 100, "sent is not acknowledged");
    t.send(c.peer(0, 60));
    assert_eq!(writable(&t), SEND_BUFFER - 40);
    t.send(c.peer(0, 100));
    assert_eq!(writable(&t), SEND_BUFFER);
}

// Contract 2 and 17: a full send buffer takes what fits and returns the
// count, then WouldBlock; the ACK that frees room raises Writable.
#[test]
fn full_send_buffer_takes_what_fits_then_would_block_until_writable() {
    let mut t = Harness::with_config(|c| c.tcp.send_buffer = 2000);
    let c = t.passive();
    let data = pattern(3000);
    assert_eq!(t.engine.write(c.h, &data), Ok(2000));
    assert_eq!(t.engine.write(c.h, &data[2000..]), Err(Error::WouldBlock));
    t.recv(c.ours(0, 0).data(&data[..MSS]));
    // The short tail follows at once: the segment in flight is a full one
    // (Nagle, Minshall's variant).
    t.recv(c.ours(MSS, 0).flags(PSH | ACK).data(&data[MSS..2000]));
    t.recv_nothing();
    assert_eq!(t.events(), []);
    t.send(c.peer(0, MSS));
    assert_eq!(t.events(), [(c.h, EventKind::Writable)]);
    assert_eq!(t.engine.write(c.h, &data[2000..]), Ok(1000));
}

// Contract 3: writing after the peer's FIN is allowed (CLOSE_WAIT).
#[test]
fn write_after_peer_fin_is_sent() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 0).flags(FIN | ACK));
    t.recv(c.ours(0, 1));
    assert_eq!(t.engine.write(c.h, b"Hi, aaa"), Ok(7));
    t.recv(c.ours(0, 1).flags(PSH | ACK).data(b"Hi, aaa"));
    t.send(c.peer(1, 7));
    assert_eq!(t.engine.readiness(c.h).unwrap().writable_bytes, SEND_BUFFER);
}

// Contract 3: after a reset, write reports ConnectionReset once, then
// BrokenPipe; after our own shutdown(Write), BrokenPipe at once.
#[test]
fn write_after_reset_is_connection_reset_then_broken_pipe() {
    let mut t = Harness::new();
    let l = t.listen();
    let c = t.accept_from(l, PEER_PORT);
    t.send(c.peer(0, 0).flags(RST));
    assert_eq!(t.engine.write(c.h, b"x"), Err(Error::ConnectionReset));
    assert_eq!(t.engine.write(c.h, b"x"), Err(Error::BrokenPipe));
    assert_eq!(t.engine.write(c.h, b"x"), Err(Error::BrokenPipe));
    t.recv_nothing();
    assert_eq!(
        t.events(),
        [
            (c.h, EventKind::Readable),
            (
                c.h,
                EventKind::Reset {
                    cause: ResetCause::PeerReset
                }
            )
        ]
    );

    let c2 = t.accept_from(l, PEER_PORT + 1);
    t.engine.shutdown(c2.h, Shutdown::Write).unwrap();
    assert_eq!(t.engine.write(c2.h, b"x"), Err(Error::BrokenPipe));
}

// Contract 4: read returns what is buffered at once, however little, and
// WouldBlock when nothing is.
#[test]
fn read_returns_buffered_bytes_without_waiting_for_more() {
    let mut t = Harness::new();
    let c = t.passive();
    let mut buf = [0u8; 100];
    assert_eq!(t.engine.read(c.h, &mut buf), Err(Error::WouldBlock));
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"abc"));
    assert_eq!(t.events(), [(c.h, EventKind::Readable)]);
    assert_eq!(t.engine.read(c.h, &mut buf[..2]), Ok(2));
    assert_eq!(t.engine.read(c.h, &mut buf[2..]), Ok(1));
    assert_eq!(&buf[..3], b"abc");
    assert_eq!(t.engine.read(c.h, &mut buf), Err(Error::WouldBlock));
}

// Contracts 5 and 6, scenario S1: after the FIN, read gives Ok(0) every
// time, until a RST arrives: then ConnectionReset.
#[test]
fn end_of_stream_repeats_until_a_reset_arrives() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"last"));
    t.send(c.peer(4, 0).flags(FIN | ACK));
    t.recv(c.ours(0, 5).win(WIN - 5));
    assert_eq!(t.read_all(c.h), b"last");
    for _ in 0..3 {
        assert_eq!(t.engine.read(c.h, &mut [0; 8]), Ok(0));
    }
    t.send(c.peer(5, 0).flags(RST));
    assert_eq!(t.engine.read(c.h, &mut [0; 8]), Err(Error::ConnectionReset));
    assert_eq!(t.engine.read(c.h, &mut [0; 8]), Err(Error::ConnectionReset));
}

// Contract 6 (documented choice: "at once"): a reset discards data still
// buffered; read reports ConnectionReset straight away.
#[test]
fn reset_discards_buffered_data_and_is_reported_at_once() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"unread"));
    assert_eq!(t.events(), [(c.h, EventKind::Readable)]);
    t.send(c.peer(6, 0).flags(RST));
    assert_eq!(t.engine.read(c.h, &mut [0; 8]), Err(Error::ConnectionReset));
    let r = t.engine.readiness(c.h).unwrap();
    assert_eq!(
        (r.state, r.readable_bytes, r.error),
        (State::Closed, 0, Some(Error::ConnectionReset))
    );
    assert_eq!(
        t.events(),
        [
            (c.h, EventKind::Readable),
            (
                c.h,
                EventKind::Reset {
                    cause: ResetCause::PeerReset
                }
            )
        ]
    );
}

// Contract 7, RFC 9293 3.8.6.2.2: unread data shrinks the advertised
// window to zero; data beyond it is refused (and ACKed with the zero
// window, not buffered); reading reopens it, with an update only once
// the window can grow by a full segment (receiver-side SWS avoidance).
#[test]
fn slow_reader_closes_the_window_and_reading_reopens_it() {
    let mut t = Harness::with_config(|c| c.tcp.recv_buffer = 2 * MSS);
    let c = t.passive();
    assert_eq!(c.win, 2920);
    let data = pattern(2 * MSS + 1);
    t.send(c.peer(0, 0).data(&data[..MSS]));
    t.recv_nothing();
    t.send(c.peer(MSS, 0).flags(PSH | ACK).data(&data[MSS..2 * MSS]));
    t.recv(c.ours(0, 2 * MSS).win(0));
    t.send(c.peer(2 * MSS, 0).flags(PSH | ACK).data(&data[2 * MSS..]));
    t.recv(c.ours(0, 2 * MSS).win(0));
    assert_eq!(t.engine.stats().drops.out_of_window, 1);
    let mut buf = vec![0u8; 1000];
    assert_eq!(t.engine.read(c.h, &mut buf), Ok(1000));
    t.recv_nothing();
    let rest = t.read_all(c.h);
    assert_eq!(rest.len(), 2 * MSS - 1000);
    t.recv(c.ours(0, 2 * MSS).win(2920));
    // Nothing was lost: the refused byte is accepted when resent.
    t.send(c.peer(2 * MSS, 0).flags(PSH | ACK).data(&data[2 * MSS..]));
    assert_eq!(t.read_all(c.h), &data[2 * MSS..]);
}

// Reading owes a window update once the window can grow by a segment
// (RFC 1122 4.2.3.3); the ACK goes with the connection's next turn to
// send: eight reads of a closed window's segments draw one ACK, with the
// whole window, at the driver's next poll, not one per read.
#[test]
fn reads_in_a_row_draw_one_window_update() {
    let mut t = Harness::with_config(|c| c.tcp.recv_buffer = 8 * MSS);
    let c = t.passive();
    let data = pattern(8 * MSS);
    for i in 0..8 {
        t.send(c.peer(i * MSS, 0).data(&data[i * MSS..(i + 1) * MSS]));
    }
    for i in [2, 4, 6] {
        t.recv(c.ours(0, i * MSS).win((8 - i) as u16 * MSS as u16));
    }
    t.recv(c.ours(0, 8 * MSS).win(0));
    let mut got = Vec::new();
    while let Ok(Some(buf)) = t.engine.read_buf(c.h) {
        got.extend_from_slice(buf.data());
    }
    assert_eq!(got, data);
    t.recv(c.ours(0, 8 * MSS).win(8 * MSS as u16));
    t.recv_nothing();
}

// RFC 5681 4.2 and RFC 9293 3.10.7.4: an out-of-order segment is ACKed at
// once (a duplicate ACK for the sender's fast retransmit); the segment
// that fills the gap gets a cumulative ACK at once.
#[test]
fn out_of_order_segment_gets_dup_ack_and_gap_fill_cumulative_ack() {
    let mut t = Harness::new();
    let c = t.passive();
    let data = pattern(200);
    t.send(c.peer(100, 0).flags(PSH | ACK).data(&data[100..]));
    t.recv(c.ours(0, 0));
    t.recv_nothing();
    assert_eq!(t.events(), []);
    assert_eq!(t.engine.read(c.h, &mut [0; 8]), Err(Error::WouldBlock));
    assert_eq!(t.engine.stats().out_of_order, 1);
    t.send(c.peer(0, 0).data(&data[..100]));
    t.recv(c.ours(0, 200).win(WIN - 200));
    assert_eq!(t.read_all(c.h), data);
}

// RFC 9293 3.10.7.4 "first": data entirely below RCV.NXT (a retransmission
// of what we have) is answered with an ACK at once.
#[test]
fn duplicate_data_is_acked_at_once() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"abc"));
    t.advance_to(ms(40));
    t.recv(c.ours(0, 3).win(WIN - 3));
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"abc"));
    t.recv(c.ours(0, 3).win(WIN - 3));
    assert_eq!(t.read_all(c.h), b"abc");
}

// RFC 9293 3.8.6.3: one small segment is ACKed only when the delayed-ACK
// timer (tcp.delayed_ack, 40 ms) fires.
#[test]
fn single_segment_is_acked_after_the_delayed_ack_time() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"abc"));
    t.recv_nothing();
    t.advance_to(ms(39));
    t.recv_nothing();
    t.advance_to(ms(40));
    // The window has shrunk by the three unread bytes (contract 7).
    t.recv(c.ours(0, 3).win(WIN - 3));
    t.advance_to(ms(200));
    t.recv_nothing();
}

// RFC 9293 3.8.6.3 / RFC 5681 4.2: an ACK at least every second
// full-sized segment, at once.
#[test]
fn two_full_segments_are_acked_at_once() {
    let mut t = Harness::new();
    let c = t.passive();
    let data = pattern(2 * MSS);
    t.send(c.peer(0, 0).data(&data[..MSS]));
    t.recv_nothing();
    t.send(c.peer(MSS, 0).data(&data[MSS..]));
    t.recv(c.ours(0, 2 * MSS).win(WIN - 2 * MSS as u16));
    t.advance_to(ms(40));
    t.recv_nothing();
}

// A pending delayed ACK rides on the next data segment; the timer then
// has nothing left to send.
#[test]
fn pending_ack_rides_on_outgoing_data() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"ping"));
    t.advance_to(ms(10));
    assert_eq!(t.engine.write(c.h, b"pong"), Ok(4));
    t.recv(c.ours(0, 4).flags(PSH | ACK).data(b"pong").win(WIN - 4));
    t.advance_to(ms(40));
    t.recv_nothing();
}

// RFC 896 (Nagle): a second small write waits while the first is
// unacknowledged, and goes out when the ACK comes.
#[test]
fn nagle_holds_a_small_write_until_the_ack() {
    let mut t = Harness::new();
    let c = t.passive();
    assert_eq!(t.engine.write(c.h, b"a"), Ok(1));
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"a"));
    assert_eq!(t.engine.write(c.h, b"b"), Ok(1));
    assert_eq!(t.engine.write(c.h, b"c"), Ok(1));
    t.recv_nothing();
    t.advance_to(ms(100));
    t.recv_nothing();
    t.send(c.peer(0, 1));
    t.recv(c.ours(1, 0).flags(PSH | ACK).data(b"bc"));
}

// set_nodelay(true) turns Nagle off: every write goes out at once.
#[test]
fn nodelay_sends_small_writes_at_once() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.set_nodelay(c.h, true).unwrap();
    assert_eq!(t.engine.write(c.h, b"a"), Ok(1));
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"a"));
    assert_eq!(t.engine.write(c.h, b"b"), Ok(1));
    t.recv(c.ours(1, 0).flags(PSH | ACK).data(b"b"));
    t.recv_nothing();
}

// RFC 5681 3.2: the third duplicate ACK retransmits the first
// unacknowledged segment at once, without waiting for the RTO.
#[test]
fn third_duplicate_ack_triggers_fast_retransmit() {
    let mut t = Harness::new();
    let c = t.passive();
    let data = pattern(4 * MSS);
    assert_eq!(t.engine.write(c.h, &data), Ok(4 * MSS));
    for i in 0..4 {
        let flags = if i == 3 { PSH | ACK } else { ACK };
        t.recv(
            c.ours(i * MSS, 0)
                .flags(flags)
                .data(&data[i * MSS..(i + 1) * MSS]),
        );
    }
    t.recv_nothing();
    t.advance_to(ms(10));
    t.send(c.peer(0, MSS));
    t.recv_nothing();
    for _ in 0..2 {
        t.send(c.peer(0, MSS));
        t.recv_nothing();
    }
    t.send(c.peer(0, MSS));
    t.recv(c.ours(MSS, 0).data(&data[MSS..2 * MSS]));
    t.recv_nothing();
    assert_eq!(t.engine.stats().fast_retransmits, 1);
    t.send(c.peer(0, 4 * MSS));
    t.recv_nothing();
    assert_eq!(t.engine.readiness(c.h).unwrap().writable_bytes, SEND_BUFFER);
}

// RFC 5961 3.2 (RFC 9293 3.10.7.4 "second"): a RST inside the window but
// not exactly at RCV.NXT gets a challenge ACK and changes nothing.
#[test]
fn in_window_rst_with_wrong_seq_gets_challenge_ack() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(1, 0).flags(RST));
    t.recv(c.ours(0, 0));
    t.recv_nothing();
    assert_eq!(t.engine.state(c.h), Ok(State::Established));
    assert_eq!(t.events(), []);
    // The exact RST that follows the challenge is accepted.
    t.send(c.peer(0, 0).flags(RST));
    assert_eq!(t.engine.state(c.h), Ok(State::Closed));
}

// RFC 5961 7: challenge ACKs go at most once per
// `tcp.challenge_ack_interval_ms` on a connection, so a flood of guesses
// cannot turn the connection into an ACK reflector.
#[test]
fn challenge_acks_are_rate_limited_per_connection() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(1, 0).flags(RST));
    t.recv(c.ours(0, 0));
    for guess in 2..10 {
        t.send(c.peer(guess, 0).flags(RST));
        t.send(c.peer(0, 0).flags(SYN).mss(MSS as u16));
    }
    t.recv_nothing();
    let stats = t.engine.stats();
    assert_eq!(
        (stats.challenge_acks, stats.challenge_acks_suppressed),
        (1, 16)
    );
    t.advance_to(t.now - Instant::ZERO + ms(500));
    t.send(c.peer(3, 0).flags(RST));
    t.recv(c.ours(0, 0));
    assert_eq!(t.engine.state(c.h), Ok(State::Established));
}

// RFC 5961 5.2: data whose ACK lies more than the peer's largest window
// below SND.UNA is a blind injection: dropped with its data, answered
// with a challenge ACK; the stream is not touched.
#[test]
fn regression_old_ack_data_is_dropped_not_delivered() {
    let mut t = Harness::new();
    let c = t.passive();
    let old = SeqNumber(c.iss.0.wrapping_add(1).wrapping_sub(1 << 30));
    t.send(c.peer(0, 0).ack(old).flags(PSH | ACK).data(b"injected"));
    t.recv(c.ours(0, 0));
    t.recv_nothing();
    assert_eq!(t.events(), []);
    let mut buf = [0u8; 16];
    assert_eq!(t.engine.read(c.h, &mut buf), Err(Error::WouldBlock));
    assert_eq!(t.engine.stats().drops.ack_too_old, 1);
    // The same bytes with a true ACK are the stream's.
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"genuine!"));
    assert_eq!(t.engine.read(c.h, &mut buf), Ok(8));
    assert_eq!(&buf[..8], b"genuine!");
}

// Found by fuzzing: a segment whose first byte is 2^31 - 1 past RCV.NXT
// made the window check's last-byte sum overflow (a panic in debug
// builds, a wrapped comparison in release). It is out of the window:
// acknowledged and dropped.
#[test]
fn regression_acceptable_overflow_on_a_segment_2_31_ahead() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0x7fff_ffff, 0).flags(PSH | ACK).data(&pattern(100)));
    t.recv(c.ours(0, 0));
    assert_eq!(t.engine.stats().drops.out_of_window, 1);
    assert_eq!(t.events(), []);
    assert_eq!(t.engine.state(c.h), Ok(State::Established));
}

// RFC 9293 3.10.7.4 "first": a RST outside the window is dropped without
// a reply.
#[test]
fn rst_outside_the_window_is_dropped_silently() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(100_000, 0).flags(RST));
    t.send(c.peer(0, 0).flags(RST).seq(PEER_ISS));
    t.recv_nothing();
    assert_eq!(t.engine.state(c.h), Ok(State::Established));
    assert_eq!(t.engine.stats().drops.out_of_window, 2);
}

// RFC 5961 4.2 (RFC 9293 3.10.7.4 "fourth"): a SYN in a synchronized state
// gets a challenge ACK; the connection is unchanged.
#[test]
fn syn_in_established_gets_challenge_ack() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 0).flags(SYN).ack(SeqNumber(0)).mss(MSS as u16));
    t.recv(c.ours(0, 0));
    t.recv_nothing();
    assert_eq!(t.engine.state(c.h), Ok(State::Established));
    assert_eq!(t.events(), []);
    assert_eq!(t.engine.write(c.h, b"still"), Ok(5));
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"still"));
}

// RFC 9293 3.10.7.4 "eighth": a FIN that arrives ahead of missing data
// takes effect when the gap is filled; data and FIN in one segment are
// ACKed together at once.
#[test]
fn fin_ahead_of_a_gap_takes_effect_when_the_gap_fills() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(3, 0).flags(FIN | PSH | ACK).data(b"def"));
    t.recv(c.ours(0, 0));
    assert_eq!(t.engine.state(c.h), Ok(State::Established));
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"abc"));
    // The FIN took sequence space too: the right edge stays put.
    t.recv(c.ours(0, 7).win(WIN - 7));
    assert_eq!(t.engine.state(c.h), Ok(State::CloseWait));
    assert_eq!(t.read_all(c.h), b"abcdef");
    assert_eq!(t.engine.read(c.h, &mut [0; 4]), Ok(0));

    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 0).flags(FIN | PSH | ACK).data(b"bye"));
    t.recv(c.ours(0, 4).win(WIN - 4));
    assert_eq!(t.engine.state(c.h), Ok(State::CloseWait));
}

// RFC 9293 3.10.7.4 "fifth": an ACK of data never sent is answered with an
// ACK and the segment (text included) is dropped.
#[test]
fn ack_of_unsent_data_is_answered_and_dropped() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 100).flags(PSH | ACK).data(b"bogus"));
    t.recv(c.ours(0, 0));
    t.recv_nothing();
    assert_eq!(t.engine.stats().drops.ack_of_unsent, 1);
    assert_eq!(t.engine.read(c.h, &mut [0; 8]), Err(Error::WouldBlock));
}

// Contract 7: a peer that ignores our window has the excess cut off (and
// counted); what fits is kept and the zero window is restated at once.
#[test]
fn data_beyond_the_window_is_trimmed() {
    let mut t = Harness::with_config(|c| c.tcp.recv_buffer = 2 * MSS);
    let c = t.passive();
    let data = pattern(2 * MSS + 300);
    t.send(c.peer(0, 0).data(&data[..MSS]));
    t.send(c.peer(MSS, 0).data(&data[MSS..]));
    t.recv(c.ours(0, 2 * MSS).win(0));
    assert_eq!(t.engine.stats().drops.recv_buffer_full, 1);
    assert_eq!(t.read_all(c.h), &data[..2 * MSS]);
}

// RFC 9293 3.4: sequence numbers are compared modulo 2^32; data that
// crosses the wrap is delivered in order and ACKed past it.
#[test]
fn receive_sequence_space_wraps_around() {
    let mut t = Harness::new();
    t.peer_iss = SeqNumber(u32::MAX - 50);
    let c = t.passive();
    let data = pattern(200);
    // Out of order across the wrap, then the gap.
    t.send(c.peer(100, 0).data(&data[100..]));
    t.recv(c.ours(0, 0));
    t.send(c.peer(0, 0).data(&data[..100]));
    let ack = t.recv_seg();
    assert_eq!(ack, c.ours(0, 200).win(WIN - 200));
    assert_eq!(ack.ack, SeqNumber(150));
    assert_eq!(t.read_all(c.h), data);
}

// RFC 6582 3.2 step 5 (NewReno): in fast recovery, a partial ACK
// retransmits the next hole at once instead of waiting for the RTO.
#[test]
fn partial_ack_in_fast_recovery_retransmits_the_next_hole() {
    let mut t = Harness::new();
    let c = t.passive();
    let data = pattern(4 * MSS);
    assert_eq!(t.engine.write(c.h, &data), Ok(4 * MSS));
    for _ in 0..4 {
        let _ = t.recv_seg();
    }
    t.advance_to(ms(10));
    // Segments 2 and 3 are lost: ACK for 1, then three duplicates.
    for _ in 0..4 {
        t.send(c.peer(0, MSS));
    }
    t.recv(c.ours(MSS, 0).data(&data[MSS..2 * MSS]));
    t.recv_nothing();
    t.send(c.peer(0, 2 * MSS));
    t.recv(c.ours(2 * MSS, 0).data(&data[2 * MSS..3 * MSS]));
    t.recv_nothing();
    t.send(c.peer(0, 4 * MSS));
    t.recv_nothing();
    let stats = t.engine.stats();
    assert_eq!((stats.recoveries, stats.fast_retransmits), (1, 2));
    assert_eq!(stats.rto_expired, 0);
}

// RFC 5681 3.1 and RFC 6298 5.4: after an RTO the window is one segment:
// only the first unacknowledged segment goes out; its ACK lets slow
// start resend the rest (go-back-N).
#[test]
fn rto_resends_one_segment_then_slow_start_resends_the_rest() {
    let mut t = Harness::new();
    let c = t.passive();
    let data = pattern(3 * MSS);
    assert_eq!(t.engine.write(c.h, &data), Ok(3 * MSS));
    for _ in 0..3 {
        let _ = t.recv_seg();
    }
    t.advance_to(ms(200));
    t.recv(c.ours(0, 0).data(&data[..MSS]));
    t.recv_nothing();
    t.send(c.peer(0, MSS));
    t.recv(c.ours(MSS, 0).data(&data[MSS..2 * MSS]));
    t.recv(c.ours(2 * MSS, 0).flags(PSH | ACK).data(&data[2 * MSS..]));
    t.recv_nothing();
    assert_eq!(t.engine.stats().retransmits, 3);
}

// Allocate, then commit: with no buffer free for a segment's headers,
// nothing of the segment is committed (no sequence space, no timer); it
// goes as soon as a buffer is free, not after a retransmission timeout.
#[test]
fn an_empty_pool_holds_segments_back_without_committing_them() {
    let mut t = Harness::new();
    let c = t.passive();
    let data = pattern(2 * MSS);
    assert_eq!(t.engine.write(c.h, &data), Ok(data.len()));
    // Every buffer taken, the engine's spare header buffer too.
    let mut held: Vec<_> = t.engine.spare_head.take().into_iter().collect();
    while let Some(b) = crate::buf::BufferPool::alloc(&mut t.engine.pool) {
        held.push(b);
    }
    t.recv_nothing();
    let info = t.engine.tcp_info(c.h).unwrap();
    assert_eq!(info.unacked, 0, "nothing was committed");
    assert!(t.engine.stats().tx_waits_for_buffer > 0);
    drop(held);
    t.recv(c.ours(0, 0).data(&data[..MSS]));
    t.recv(c.ours(MSS, 0).flags(PSH | ACK).data(&data[MSS..]));
    t.recv_nothing();
    t.send(c.peer(0, 2 * MSS));
    let stats = t.engine.stats();
    assert_eq!((stats.rto_expired, stats.retransmits), (0, 0));
}

// Zero copy that holds: a segment whose bytes run over several send-queue
// buffers (here an echo-like queue of 600-byte buffers against a 1460-byte
// MSS) leaves as shared parts of those buffers, first transmission and
// retransmission alike; not a byte is copied.
#[test]
fn segments_over_several_queued_buffers_are_sent_without_a_copy() {
    let mut t = Harness::new();
    let c = t.passive();
    let data = pattern(6000);
    for piece in data.chunks(600) {
        let buf = t.engine.pool_mut().alloc_with(piece).unwrap();
        t.engine.write_buf(c.h, buf).unwrap();
    }
    let mut first = Vec::new();
    let mut sent = Vec::new();
    while let Some(frame) = t.engine.poll_transmit(t.now) {
        first.push(frame.payload.parts());
        // parse_seg checks the checksum over the whole frame.
        sent.extend_from_slice(&parse_seg(&frame.to_vec()).data);
    }
    assert_eq!(sent, data, "the bytes, in order");
    // MSS bytes from offsets 0, 1460, 2920 and 4380 of 600-byte buffers,
    // then the 160-byte tail (placed in the header buffer: under 256
    // bytes).
    assert_eq!(MSS, 1460);
    assert_eq!(first, [3, 3, 4, 3, 0]);
    let copies = |t: &Harness| {
        let s = t.engine.stats();
        (s.tx_copied_bytes, s.tx_inlined_bytes)
    };
    assert_eq!(copies(&t), (0, 160));
    // Nothing acknowledged: the retransmission timeout sends the first
    // segment again, over the same three buffers.
    t.advance_to(secs(2));
    let again = t.engine.poll_transmit(t.now).expect("a retransmission");
    assert_eq!(again.payload.parts(), 3);
    assert_eq!(parse_seg(&again.to_vec()).data, &data[..MSS]);
    assert_eq!(t.engine.stats().retransmits, 1);
    assert_eq!(copies(&t), (0, 160), "no copy on retransmit");
}

// Allocate, then commit, for frames of several segments: the driver cuts
// them with a header buffer per segment from the same pool, so segments
// are joined only while the pool holds those buffers beyond its reserve;
// else they go one per frame, and none is committed without its buffers.
#[test]
fn segments_are_joined_only_while_the_pool_can_cut_them() {
    let mut t = Harness::with_config(|c| {
        c.offload.tx_segmentation = true;
        c.tcp.nodelay = true;
    });
    let c = t.active();
    let reserve = t.engine.config().tcp.pool_reserve;
    let data = vec![0x5au8; 16 * MSS];
    assert_eq!(t.engine.write(c.h, &data), Ok(data.len()));
    // Hold all but the reserve and three buffers: one for the headers of
    // the next frame, too few to cut eight segments.
    let mut held = Vec::new();
    while t.pool.available() > reserve + 3 {
        held.push(crate::BufferPool::alloc(&mut t.pool).unwrap());
    }
    let one = t.engine.poll_transmit(t.now).expect("a frame");
    assert_eq!(
        one.segment_size, None,
        "one segment while the pool is short"
    );
    assert_eq!(one.payload.len(), MSS);
    drop((one, held));
    // With buffers to cut them, the next frames carry several segments,
    // and the first segments of a burst leave room for what the burst's
    // earlier frames will take.
    let mut out = Vec::new();
    assert!(t.engine.poll_transmit_burst(t.now, &mut out, 4) >= 1);
    assert_eq!(out[0].segment_size, Some(MSS as u16));
    assert!(out[0].payload.len() > MSS, "{}", out[0].payload.len());
}
