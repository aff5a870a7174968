//! Closing: RFC 9293 3.10.4 and 3.10.7.4 transitions, RST in every
//! synchronized state, TIME_WAIT (contract 18), and the close, linger and
//! shutdown rules (contracts 8 to 12).

use super::*;
use crate::{CloseOutcome, Error, ResetCause, Shutdown};

fn counts(t: &Harness) -> Vec<(State, usize)> {
    t.engine.state_counts()
}

// Contracts 8b and 9a (linger off, the default), RFC 9293 3.10.4 and
// 3.10.7.4: close sends FIN; the orphan walks ESTABLISHED -> FIN_WAIT_1 ->
// FIN_WAIT_2 -> TIME_WAIT and is forgotten 2·MSL after the peer's FIN; no
// Closed event is reported.
#[test]
fn close_sends_fin_and_orphan_goes_fin_wait_to_time_wait_to_closed() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.close(c.h).unwrap();
    // Contract 8: the handle is gone at once.
    assert_eq!(t.engine.state(c.h), Err(Error::InvalidHandle));
    assert_eq!(t.engine.read(c.h, &mut [0; 4]), Err(Error::InvalidHandle));
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    t.recv_nothing();
    assert_eq!(counts(&t), [(State::FinWait1, 1)]);
    t.send(c.peer(0, 1));
    t.recv_nothing();
    assert_eq!(counts(&t), [(State::FinWait2, 1)]);
    t.advance_to(secs(10));
    t.send(c.peer(0, 1).flags(FIN | ACK));
    t.recv(c.ours(1, 1));
    assert_eq!(counts(&t), [(State::TimeWait, 1)]);
    // RFC 9293 3.10.7.4: TIME_WAIT lasts 2·MSL (tcp.time_wait, 60 s).
    t.advance_to(secs(70) - ms(1));
    assert_eq!(counts(&t), [(State::TimeWait, 1)]);
    t.advance_to(secs(70));
    t.recv_nothing();
    assert_eq!(t.engine.connection_count(), 0);
    assert_eq!(t.engine.flow_count(), 0);
    assert_eq!(t.engine.timer_count(), 0);
    assert_eq!(t.events(), []);
}

// Contract 8b: queued data goes out before the FIN (here in the same
// segment, as Nagle held the second write back).
#[test]
fn close_sends_queued_data_then_fin() {
    let mut t = Harness::new();
    let c = t.passive();
    assert_eq!(t.engine.write(c.h, b"hello"), Ok(5));
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"hello"));
    assert_eq!(t.engine.write(c.h, b"world"), Ok(5));
    t.recv_nothing();
    t.engine.close(c.h).unwrap();
    t.recv(c.ours(5, 0).flags(FIN | PSH | ACK).data(b"world"));
    t.send(c.peer(0, 11));
    assert_eq!(counts(&t), [(State::FinWait2, 1)]);
}

// RFC 9293 3.10.7.4 "eighth", FIN-WAIT-1: a FIN that also acknowledges our
// FIN goes straight to TIME_WAIT.
#[test]
fn fin_acking_our_fin_moves_fin_wait_1_to_time_wait() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.shutdown(c.h, Shutdown::Write).unwrap();
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    assert_eq!(t.engine.state(c.h), Ok(State::FinWait1));
    t.send(c.peer(0, 1).flags(FIN | ACK));
    t.recv(c.ours(1, 1));
    assert_eq!(t.engine.state(c.h), Ok(State::TimeWait));
    assert_eq!(
        t.events(),
        [(c.h, EventKind::Readable), (c.h, EventKind::PeerClosed)]
    );
}

// Contract 18, RFC 9293 figure 13: simultaneous close. Both FINs cross:
// FIN_WAIT_1 -> CLOSING -> TIME_WAIT -> CLOSED.
#[test]
fn simultaneous_close_goes_through_closing() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.shutdown(c.h, Shutdown::Write).unwrap();
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    // The peer's FIN does not acknowledge ours yet.
    t.send(c.peer(0, 0).flags(FIN | ACK));
    assert_eq!(t.engine.state(c.h), Ok(State::Closing));
    t.recv(c.ours(1, 1));
    t.send(c.peer(1, 1));
    t.recv_nothing();
    assert_eq!(t.engine.state(c.h), Ok(State::TimeWait));
    t.advance_to(secs(60));
    assert_eq!(t.engine.state(c.h), Ok(State::Closed));
    t.engine.close(c.h).unwrap();
    assert_eq!(t.engine.connection_count(), 0);
}

// Contract 5 and RFC 9293 3.10.7.4: the peer's FIN is ACKed at once
// (ESTABLISHED -> CLOSE_WAIT); close sends our FIN (LAST_ACK), and its ACK
// ends the connection (CLOSED, forgotten, no TIME_WAIT).
#[test]
fn peer_fin_gives_close_wait_then_last_ack_then_closed() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 0).flags(FIN | ACK));
    t.recv(c.ours(0, 1));
    assert_eq!(t.engine.state(c.h), Ok(State::CloseWait));
    assert_eq!(
        t.events(),
        [(c.h, EventKind::Readable), (c.h, EventKind::PeerClosed)]
    );
    // Contract 5: end of stream, every time.
    assert_eq!(t.engine.read(c.h, &mut [0; 8]), Ok(0));
    assert_eq!(t.engine.read(c.h, &mut [0; 8]), Ok(0));
    t.engine.close(c.h).unwrap();
    t.recv(c.ours(0, 1).flags(FIN | ACK));
    assert_eq!(counts(&t), [(State::LastAck, 1)]);
    t.send(c.peer(1, 1));
    t.recv_nothing();
    assert_eq!(t.engine.connection_count(), 0);
    assert_eq!(t.engine.timer_count(), 0);
}

/// Drives `c` (handle kept) into `state`; returns the peer's sequence
/// offset a RST must carry to be exact (RCV.NXT).
fn drive_to(t: &mut Harness, c: &Conn, state: State) -> usize {
    let peer_fin = |t: &mut Harness, ack: usize| {
        t.send(c.peer(0, ack).flags(FIN | ACK));
        t.recv(c.ours(ack, 1));
    };
    match state {
        State::Established => 0,
        State::FinWait1 | State::FinWait2 | State::Closing => {
            t.engine.shutdown(c.h, Shutdown::Write).unwrap();
            t.recv(c.ours(0, 0).flags(FIN | ACK));
            match state {
                State::FinWait1 => 0,
                State::FinWait2 => {
                    t.send(c.peer(0, 1));
                    0
                }
                _ => {
                    t.send(c.peer(0, 0).flags(FIN | ACK));
                    t.recv(c.ours(1, 1));
                    1
                }
            }
        }
        State::CloseWait | State::LastAck => {
            peer_fin(t, 0);
            if state == State::LastAck {
                t.engine.shutdown(c.h, Shutdown::Write).unwrap();
                t.recv(c.ours(0, 1).flags(FIN | ACK));
            }
            1
        }
        _ => unreachable!("not driven: {state:?}"),
    }
}

// RFC 9293 3.10.7.4 "second", contract 6 and 17: an exact RST closes the
// connection in every synchronized state but TIME_WAIT; the application
// sees Reset and ConnectionReset; nothing is sent in reply.
#[test]
fn rst_in_each_synchronized_state_resets_the_connection() {
    for state in [
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::Closing,
        State::LastAck,
    ] {
        let mut t = Harness::new();
        let c = t.passive();
        let rcv = drive_to(&mut t, &c, state);
        assert_eq!(t.engine.state(c.h), Ok(state));
        let _ = t.events();
        t.send(c.peer(rcv, 0).flags(RST));
        t.recv_nothing();
        assert_eq!(t.engine.state(c.h), Ok(State::Closed), "RST in {state:?}");
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
            ],
            "RST in {state:?}"
        );
        assert_eq!(t.engine.read(c.h, &mut [0; 8]), Err(Error::ConnectionReset));
        assert_eq!(t.engine.stats().resets_received, 1);
        t.engine.close(c.h).unwrap();
        t.recv_nothing();
        assert_eq!(t.engine.connection_count(), 0, "{state:?}");
    }
}

/// A connection in TIME_WAIT with its handle kept (shutdown(Write) then the
/// peer's FIN), entered at the current time.
fn time_wait(t: &mut Harness) -> Conn {
    let c = t.passive();
    t.engine.shutdown(c.h, Shutdown::Write).unwrap();
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    t.send(c.peer(0, 1).flags(FIN | ACK));
    t.recv(c.ours(1, 1));
    assert_eq!(t.engine.state(c.h), Ok(State::TimeWait));
    let _ = t.events();
    c
}

// Contract 18, RFC 1337 (RFC 9293 3.10.7.4 TIME-WAIT): no RST, however
// exact, cuts TIME_WAIT short.
#[test]
fn time_wait_ignores_rst() {
    let mut t = Harness::new();
    let c = time_wait(&mut t);
    t.send(c.peer(1, 1).flags(RST));
    t.send(c.peer(1, 1).flags(RST | ACK));
    t.recv_nothing();
    assert_eq!(t.engine.state(c.h), Ok(State::TimeWait));
    assert_eq!(t.events(), []);
    assert_eq!(t.engine.stats().resets_received, 0);
    t.advance_to(secs(60));
    assert_eq!(t.engine.state(c.h), Ok(State::Closed));
}

// RFC 9293 3.10.7.4 TIME-WAIT: a retransmitted FIN (our last ACK was
// lost) is acknowledged again and restarts the 2·MSL wait.
#[test]
fn retransmitted_fin_in_time_wait_is_acked_and_restarts_2msl() {
    let mut t = Harness::new();
    let c = time_wait(&mut t);
    t.advance_to(secs(30));
    t.send(c.peer(0, 1).flags(FIN | ACK));
    t.recv(c.ours(1, 1));
    t.recv_nothing();
    t.advance_to(secs(60));
    assert_eq!(t.engine.state(c.h), Ok(State::TimeWait));
    t.advance_to(secs(90) - ms(1));
    assert_eq!(t.engine.state(c.h), Ok(State::TimeWait));
    t.advance_to(secs(90));
    assert_eq!(t.engine.state(c.h), Ok(State::Closed));
}

// Contract 18: 2·MSL is configurable (tcp.time_wait).
#[test]
fn time_wait_lasts_the_configured_time() {
    let mut t = Harness::with_config(|c| c.tcp.time_wait = secs(5));
    let c = time_wait(&mut t);
    t.advance_to(secs(5) - ms(1));
    assert_eq!(t.engine.state(c.h), Ok(State::TimeWait));
    t.advance_to(secs(5));
    assert_eq!(t.engine.state(c.h), Ok(State::Closed));
}

// Contract 8a (RFC 2525 2.17, Linux tcp_close): close with unread data
// sends RST|ACK at once, no FIN, no TIME_WAIT; both buffers are dropped.
#[test]
fn close_with_unread_data_sends_rst_not_fin() {
    let mut t = Harness::new();
    let c = t.passive();
    assert_eq!(t.engine.write(c.h, b"queued"), Ok(6));
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"queued"));
    t.send(c.peer(0, 6).flags(PSH | ACK).data(b"unread"));
    t.engine.close(c.h).unwrap();
    t.recv(c.ours(6, 6).flags(RST | ACK).win(0));
    t.recv_nothing();
    assert_eq!(t.engine.connection_count(), 0);
    assert_eq!(t.engine.timer_count(), 0);
    assert_eq!(t.engine.stats().resets_sent.unread_data, 1);
    t.advance_to(secs(5));
    t.recv_nothing();
}

// Contract 8c, scenario S1: data for an orphan (closed by the application)
// is answered with RST (SEQ=SEG.ACK), and the connection is gone.
#[test]
fn data_for_orphan_in_fin_wait_2_gets_rst() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.close(c.h).unwrap();
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    t.send(c.peer(0, 1));
    t.recv_nothing();
    t.send(c.peer(0, 1).flags(PSH | ACK).data(b"Hi, aaa"));
    t.recv(c.ours(1, 0).flags(RST).ack(SeqNumber(0)).win(0));
    t.recv_nothing();
    assert_eq!(t.engine.connection_count(), 0);
    assert_eq!(t.engine.stats().resets_sent.data_after_close, 1);
}

// Contract 8d: an orphan in FIN_WAIT_2 is dropped after
// tcp.fin_wait2_timeout, silently; one with a handle waits for the FIN.
#[test]
fn orphan_in_fin_wait_2_is_dropped_after_the_timeout() {
    let mut t = Harness::with_config(|c| c.tcp.fin_wait2_timeout = secs(5));
    let c = t.passive();
    t.engine.close(c.h).unwrap();
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    t.send(c.peer(0, 1));
    t.advance_to(secs(5) - ms(1));
    assert_eq!(counts(&t), [(State::FinWait2, 1)]);
    t.advance_to(secs(5));
    t.recv_nothing();
    assert_eq!(t.engine.connection_count(), 0);

    let mut t = Harness::with_config(|c| c.tcp.fin_wait2_timeout = secs(5));
    let c = t.passive();
    t.engine.shutdown(c.h, Shutdown::Write).unwrap();
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    t.send(c.peer(0, 1));
    t.advance_to(secs(600));
    assert_eq!(t.engine.state(c.h), Ok(State::FinWait2));
}

// Contract 9b: with linger t, close returns at once and the outcome comes
// as an event: Graceful when data and FIN are acknowledged within t.
#[test]
fn linger_reports_graceful_when_fin_is_acked_in_time() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.set_linger(c.h, Some(secs(1))).unwrap();
    assert_eq!(t.engine.write(c.h, b"x"), Ok(1));
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"x"));
    t.engine.close(c.h).unwrap();
    t.recv(c.ours(1, 0).flags(FIN | ACK));
    t.advance_to(ms(100));
    assert_eq!(t.events(), []);
    t.send(c.peer(0, 2));
    assert_eq!(
        t.events(),
        [(
            c.h,
            EventKind::Closed {
                outcome: CloseOutcome::Graceful
            }
        )]
    );
    assert_eq!(counts(&t), [(State::FinWait2, 1)]);
    t.advance_to(secs(2));
    t.recv_nothing();
    assert_eq!(t.events(), []);
}

// Contract 9b: when the linger time runs out first, the engine sends
// RST|ACK at t and reports Aborted.
#[test]
fn linger_timeout_sends_rst_and_reports_aborted() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.set_linger(c.h, Some(ms(100))).unwrap();
    assert_eq!(t.engine.write(c.h, b"x"), Ok(1));
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"x"));
    t.engine.close(c.h).unwrap();
    t.recv(c.ours(1, 0).flags(FIN | ACK));
    t.advance_to(ms(99));
    t.recv_nothing();
    t.advance_to(ms(100));
    t.recv(c.ours(2, 0).flags(RST | ACK).win(0));
    t.recv_nothing();
    assert_eq!(
        t.events(),
        [(
            c.h,
            EventKind::Closed {
                outcome: CloseOutcome::Aborted
            }
        )]
    );
    assert_eq!(t.engine.connection_count(), 0);
    assert_eq!(t.engine.stats().resets_sent.abort, 1);
}

fn closed(h: Handle, outcome: CloseOutcome) -> (Handle, EventKind) {
    (h, EventKind::Closed { outcome })
}

// Contract 9b, regressions (found by fuzzing): whatever ends a lingering
// close, the outcome comes as exactly one `Closed` event.

// abort() with linger set: an abortive close is `Aborted`, not `Graceful`.
#[test]
fn regression_abort_with_linger_reports_aborted() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.set_linger(c.h, Some(secs(1))).unwrap();
    t.engine.abort(c.h).unwrap();
    t.recv(c.ours(0, 0).flags(RST | ACK).win(0));
    assert_eq!(t.events(), [closed(c.h, CloseOutcome::Aborted)]);
}

// close() that finds unread data sends RST (contract 8a): `Aborted`.
#[test]
fn regression_linger_close_with_unread_data_reports_aborted() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"unread"));
    t.events();
    t.engine.set_linger(c.h, Some(secs(1))).unwrap();
    t.engine.close(c.h).unwrap();
    t.recv(c.ours(0, 6).flags(RST | ACK).win(0));
    assert_eq!(t.events(), [closed(c.h, CloseOutcome::Aborted)]);
}

// close() in SYN_SENT: the open is abandoned: `Aborted`.
#[test]
fn regression_linger_close_in_syn_sent_reports_aborted() {
    let mut t = Harness::new();
    let h = t
        .engine
        .connect(SocketAddrV4::new(PEER_IP, PEER_SERVICE))
        .unwrap();
    t.engine.set_linger(h, Some(secs(1))).unwrap();
    t.engine.close(h).unwrap();
    assert_eq!(t.events(), [closed(h, CloseOutcome::Aborted)]);
    assert_eq!(t.engine.connection_count(), 0);
}

// Retransmissions of our FIN run out before the linger time: `Reset`.
#[test]
fn regression_linger_close_that_times_out_reports_reset() {
    let mut t = Harness::with_config(|c| c.tcp.max_retransmits = 2);
    let c = t.passive();
    t.engine.set_linger(c.h, Some(secs(600))).unwrap();
    t.engine.close(c.h).unwrap();
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    for second in 1..=60 {
        t.advance_to(secs(second));
        while t.recv_frame().is_some() {}
    }
    assert_eq!(t.events(), [closed(c.h, CloseOutcome::Reset)]);
    assert_eq!(t.engine.connection_count(), 0);
}

// The peer answers our FIN with an exact RST: `Reset`.
#[test]
fn regression_linger_close_answered_by_rst_reports_reset() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.set_linger(c.h, Some(secs(1))).unwrap();
    t.engine.close(c.h).unwrap();
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    t.send(c.peer(0, 0).flags(RST));
    assert_eq!(t.events(), [closed(c.h, CloseOutcome::Reset)]);
    t.advance_to(secs(2));
    assert_eq!(t.events(), [], "one event, not a second at the linger time");
}

// Contract 9c: linger 0 makes close abortive: RST|ACK now, no FIN, both
// buffers dropped, no TIME_WAIT.
#[test]
fn linger_zero_close_sends_rst_at_once() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.set_linger(c.h, Some(Duration::ZERO)).unwrap();
    assert_eq!(t.engine.write(c.h, b"a"), Ok(1));
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"a"));
    assert_eq!(t.engine.write(c.h, b"held by Nagle"), Ok(13));
    t.engine.close(c.h).unwrap();
    t.recv(c.ours(1, 0).flags(RST | ACK).win(0));
    t.recv_nothing();
    assert_eq!(t.engine.connection_count(), 0);
    assert_eq!(t.engine.timer_count(), 0);
}

// Contract 9c: abort() is the same abortive close, and releases the handle.
#[test]
fn abort_sends_rst_and_releases_the_handle() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"abc"));
    t.engine.abort(c.h).unwrap();
    t.recv(c.ours(0, 3).flags(RST | ACK).win(0));
    t.recv_nothing();
    assert_eq!(t.engine.state(c.h), Err(Error::InvalidHandle));
    assert_eq!(t.engine.connection_count(), 0);
    assert_eq!(t.engine.handle_count(), 1, "only the listener is left");
}

// Contract 10, scenario S2: shutdown(Write) sends FIN after the queued
// data; reading goes on; writes fail with BrokenPipe; the handle stays
// valid until closed.
#[test]
fn shutdown_write_half_closes_and_reading_continues() {
    let mut t = Harness::new();
    let c = t.passive();
    assert_eq!(t.engine.write(c.h, b"aaa"), Ok(3));
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"aaa"));
    t.engine.shutdown(c.h, Shutdown::Write).unwrap();
    t.recv(c.ours(3, 0).flags(FIN | ACK));
    assert_eq!(t.engine.write(c.h, b"more"), Err(Error::BrokenPipe));
    t.send(c.peer(0, 4));
    assert_eq!(t.engine.state(c.h), Ok(State::FinWait2));
    t.send(c.peer(0, 4).flags(PSH | ACK).data(b"Hi, aaa"));
    assert_eq!(t.events(), [(c.h, EventKind::Readable)]);
    t.advance_to(ms(40));
    t.recv(c.ours(4, 7).win(WIN - 7));
    assert_eq!(t.read_all(c.h), b"Hi, aaa");
    t.send(c.peer(7, 4).flags(FIN | ACK));
    t.recv(c.ours(4, 8));
    assert_eq!(t.engine.read(c.h, &mut [0; 8]), Ok(0));
    assert_eq!(t.engine.state(c.h), Ok(State::TimeWait));
    t.engine.close(c.h).unwrap();
    t.recv_nothing();
    t.advance_to(secs(61));
    assert_eq!(t.engine.connection_count(), 0);
}

// Contract 10, scenario S2 when the reply and the FIN both arrive before
// the application reads: TIME_WAIT must not discard the unread reply.
#[test]
fn data_received_before_time_wait_stays_readable() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.shutdown(c.h, Shutdown::Write).unwrap();
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    t.send(c.peer(0, 1).flags(PSH | ACK).data(b"Hi, aaa"));
    t.send(c.peer(7, 1).flags(FIN | ACK));
    // The unread reply still narrows the window.
    t.recv(c.ours(1, 8).win(WIN - 8));
    assert_eq!(t.engine.state(c.h), Ok(State::TimeWait));
    assert_eq!(t.read_all(c.h), b"Hi, aaa");
    assert_eq!(t.engine.read(c.h, &mut [0; 8]), Ok(0));
}

// Contract 11: shutdown(Read) discards buffered data and makes read
// return Ok(0); later data is acknowledged (window open) and dropped,
// without telling the peer.
#[test]
fn shutdown_read_discards_and_acks_later_data_silently() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"buffered"));
    let _ = t.events();
    t.engine.shutdown(c.h, Shutdown::Read).unwrap();
    assert_eq!(t.engine.read(c.h, &mut [0; 16]), Ok(0));
    t.send(c.peer(8, 0).flags(PSH | ACK).data(b"later"));
    t.recv_nothing();
    t.advance_to(ms(40));
    // Both segments acknowledged, and the whole buffer is free again.
    t.recv(c.ours(0, 13).win(WIN));
    assert_eq!(t.engine.read(c.h, &mut [0; 16]), Ok(0));
    assert_eq!(t.events(), []);
    assert_eq!(t.engine.state(c.h), Ok(State::Established));
    assert_eq!(t.engine.readiness(c.h).unwrap().readable_bytes, 0);
    // Writing still works.
    assert_eq!(t.engine.write(c.h, b"ok"), Ok(2));
    t.recv(c.ours(0, 13).flags(PSH | ACK).data(b"ok"));
}

// Contract 12: with both directions shut (Both, or Read after Write),
// arriving data gets RST, as for an orphan.
#[test]
fn data_after_both_directions_shut_gets_rst() {
    for how in [
        [Shutdown::Both, Shutdown::Both],
        [Shutdown::Write, Shutdown::Read],
    ] {
        let mut t = Harness::new();
        let c = t.passive();
        t.engine.shutdown(c.h, how[0]).unwrap();
        t.engine.shutdown(c.h, how[1]).unwrap();
        t.recv(c.ours(0, 0).flags(FIN | ACK));
        t.send(c.peer(0, 1).flags(PSH | ACK).data(b"more"));
        t.recv(c.ours(1, 0).flags(RST).ack(SeqNumber(0)).win(0));
        t.recv_nothing();
        assert_eq!(t.engine.state(c.h), Ok(State::Closed), "{how:?}");
        assert_eq!(t.engine.stats().resets_sent.data_after_close, 1);
    }
}

// Contract 9b: with linger set, closing a connection whose FIN is already
// acknowledged reports Graceful at once.
#[test]
fn linger_close_after_fin_acked_reports_graceful_at_once() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.shutdown(c.h, Shutdown::Write).unwrap();
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    t.send(c.peer(0, 1));
    t.engine.set_linger(c.h, Some(secs(1))).unwrap();
    t.engine.close(c.h).unwrap();
    assert_eq!(
        t.events(),
        [(
            c.h,
            EventKind::Closed {
                outcome: CloseOutcome::Graceful
            }
        )]
    );
    t.recv_nothing();
    assert_eq!(counts(&t), [(State::FinWait2, 1)]);
}

// Contract 9b, regression: closing with linger set when both FINs were
// already exchanged and acknowledged (TIME_WAIT) reported nothing, so an
// application waiting for the Closed event waited forever.
#[test]
fn linger_close_in_time_wait_reports_graceful_at_once() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.shutdown(c.h, Shutdown::Write).unwrap();
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    t.send(c.peer(0, 1).flags(FIN | ACK));
    t.recv(c.ours(1, 1));
    assert_eq!(t.engine.state(c.h), Ok(State::TimeWait));
    t.events();
    t.engine.set_linger(c.h, Some(secs(1))).unwrap();
    t.engine.close(c.h).unwrap();
    assert_eq!(
        t.events(),
        [(
            c.h,
            EventKind::Closed {
                outcome: CloseOutcome::Graceful
            }
        )]
    );
    t.recv_nothing();
}
