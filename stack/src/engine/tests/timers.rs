//! Timers: retransmission with backoff (RFC 6298), zero-window probing
//! (RFC 9293 3.8.6.1) and keepalive (RFC 1122 4.2.3.6).

use super::*;
use crate::{Error, ResetCause};

// RFC 6298 5.4-5.6: the earliest unacknowledged segment is resent when
// the RTO expires, and the RTO doubles each time: 200 ms (rto_min, as
// the handshake measured a zero RTT), then 400 ms, then 800 ms.
#[test]
fn rto_retransmits_with_exponential_backoff() {
    let mut t = Harness::new();
    let c = t.passive();
    assert_eq!(t.engine.write(c.h, b"hello"), Ok(5));
    let seg = c.ours(0, 0).flags(PSH | ACK).data(b"hello");
    t.recv(seg.clone());
    for at in [200, 600, 1400] {
        t.advance_to(ms(at - 1));
        t.recv_nothing();
        t.advance_to(ms(at));
        t.recv(seg.clone());
        t.recv_nothing();
    }
    assert_eq!(t.engine.stats().retransmits, 3);
    assert_eq!(t.engine.stats().rto_expired, 3);
    // The ACK stops the timer.
    t.send(c.peer(0, 5));
    t.advance_to(secs(30));
    t.recv_nothing();
    assert_eq!(t.engine.state(c.h), Ok(State::Established));
}

// RFC 6298 5 and contract 17: when retransmissions run out
// (tcp.max_retransmits) the connection is reset with TimedOut.
#[test]
fn retransmissions_exhausted_reset_with_timed_out() {
    let mut t = Harness::with_config(|c| c.tcp.max_retransmits = 2);
    let c = t.passive();
    assert_eq!(t.engine.write(c.h, b"hello"), Ok(5));
    let seg = c.ours(0, 0).flags(PSH | ACK).data(b"hello");
    t.recv(seg.clone());
    t.advance_to(ms(200));
    t.recv(seg.clone());
    t.advance_to(ms(600));
    t.recv(seg.clone());
    t.advance_to(ms(1400) - ms(1));
    assert_eq!(t.engine.state(c.h), Ok(State::Established));
    t.advance_to(ms(1400));
    t.recv_nothing();
    assert_eq!(t.engine.state(c.h), Ok(State::Closed));
    assert_eq!(
        t.events(),
        [
            (c.h, EventKind::Readable),
            (
                c.h,
                EventKind::Reset {
                    cause: ResetCause::RetransmitTimeout
                }
            )
        ]
    );
    assert_eq!(t.engine.write(c.h, b"x"), Err(Error::TimedOut));
    assert_eq!(t.engine.write(c.h, b"x"), Err(Error::BrokenPipe));
    assert_eq!(t.engine.stats().timeouts, 1);
}

// RFC 9293 3.8.6.1 and contract 7: a zero window stops the sender; the
// persist timer probes it (one byte below SND.UNA, as Linux does) with
// backoff, and data flows as soon as the window opens.
#[test]
fn zero_window_is_probed_until_it_opens() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 0).win(0));
    assert_eq!(t.engine.write(c.h, b"hello"), Ok(5));
    t.recv_nothing();
    let probe = c.ours(0, 0).seq(c.iss);
    t.advance_to(ms(199));
    t.recv_nothing();
    t.advance_to(ms(200));
    t.recv(probe.clone());
    t.recv_nothing();
    // The peer answers: still closed. The next probe comes 400 ms later.
    t.send(c.peer(0, 0).win(0));
    t.recv_nothing();
    t.advance_to(ms(599));
    t.recv_nothing();
    t.advance_to(ms(600));
    t.recv(probe);
    assert_eq!(t.engine.stats().window_probes, 2);
    t.send(c.peer(0, 0).win(1000));
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"hello"));
    t.recv_nothing();
    t.send(c.peer(0, 5).win(1000));
    t.advance_to(secs(10));
    t.recv_nothing();
}

// RFC 1122 4.2.3.6 and contract 17: keepalive probes an idle connection
// (SEG.SEQ = SND.UNA - 1); an answer restarts the idle time; unanswered
// probes reset it with KeepaliveTimeout.
#[test]
fn keepalive_probes_idle_connection_then_times_out() {
    let mut t = Harness::with_config(|c| {
        c.tcp.keepalive.idle = secs(10);
        c.tcp.keepalive.interval = secs(1);
        c.tcp.keepalive.count = 2;
    });
    let c = t.passive();
    t.engine.set_keepalive(c.h, true).unwrap();
    let probe = c.ours(0, 0).seq(c.iss);
    t.advance_to(secs(10) - ms(1));
    t.recv_nothing();
    t.advance_to(secs(10));
    t.recv(probe.clone());
    t.send(c.peer(0, 0));
    t.advance_to(secs(20) - ms(1));
    t.recv_nothing();
    t.advance_to(secs(20));
    t.recv(probe.clone());
    t.advance_to(secs(21));
    t.recv(probe);
    t.advance_to(secs(22));
    t.recv_nothing();
    assert_eq!(t.engine.state(c.h), Ok(State::Closed));
    assert_eq!(
        t.events(),
        [
            (c.h, EventKind::Readable),
            (
                c.h,
                EventKind::Reset {
                    cause: ResetCause::KeepaliveTimeout
                }
            )
        ]
    );
    assert_eq!(t.engine.read(c.h, &mut [0; 4]), Err(Error::TimedOut));
    assert_eq!(t.engine.stats().keepalive_probes, 3);
}

// RFC 6298 5.4: a lost FIN is retransmitted on the RTO like data.
#[test]
fn rto_retransmits_a_lost_fin() {
    let mut t = Harness::new();
    let c = t.passive();
    t.engine.shutdown(c.h, crate::Shutdown::Write).unwrap();
    let fin = c.ours(0, 0).flags(FIN | ACK);
    t.recv(fin.clone());
    t.advance_to(ms(200));
    t.recv(fin.clone());
    t.advance_to(ms(600));
    t.recv(fin);
    t.send(c.peer(0, 1));
    assert_eq!(t.engine.state(c.h), Ok(State::FinWait2));
    t.advance_to(secs(5));
    t.recv_nothing();
}
