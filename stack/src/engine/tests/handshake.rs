//! Opening: RFC 9293 3.10.7.1-3 transitions, SYN retries, listener queues
//! (contract 14), `connect` outcomes (contract 15) and ports (contract 16).

use super::*;
use crate::{Error, ResetCause};

// Contract 15, RFC 9293 3.10.1 and 3.10.7.3: CLOSED -> SYN_SENT ->
// ESTABLISHED; the SYN carries our MSS and window, the SYN-ACK is ACKed.
#[test]
fn connect_sends_syn_and_syn_ack_establishes() {
    let mut t = Harness::new();
    let c = t.active();
    assert_eq!(t.engine.stats().active_opens, 1);
    assert_eq!(t.engine.stats().established, 1);
    // Data flows at the sequence numbers the handshake set up.
    assert_eq!(t.engine.write(c.h, b"hi"), Ok(2));
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"hi"));
}

// RFC 9293 3.10.7.2 and 3.10.7.4: LISTEN -> SYN_RECEIVED -> ESTABLISHED;
// the connection reaches the application through the accept queue.
#[test]
fn syn_to_listener_goes_syn_received_then_established_on_ack() {
    let mut t = Harness::new();
    let l = t.listen();
    let c = t.syn_to_listener(l, PEER_PORT);
    assert_eq!(t.engine.state_counts(), [(State::SynReceived, 1)]);
    assert_eq!(t.events(), []);
    assert_eq!(t.engine.accept(l), Err(Error::WouldBlock));
    t.send(c.peer(0, 0));
    t.recv_nothing();
    assert_eq!(t.events(), [(l, EventKind::Acceptable)]);
    assert_eq!(t.engine.state_counts(), [(State::Established, 1)]);
    let (h, _) = t.engine.accept(l).unwrap();
    assert_eq!(t.engine.state(h), Ok(State::Established));
    assert_eq!(t.engine.stats().passive_opens, 1);
}

// RFC 9293 3.10.7.4, SYN-RECEIVED: a retransmitted SYN means our SYN-ACK
// was lost; it is sent again, unchanged.
#[test]
fn retransmitted_syn_in_syn_received_repeats_the_syn_ack() {
    let mut t = Harness::new();
    let l = t.listen();
    let c = t.syn_to_listener(l, PEER_PORT);
    t.send(
        c.peer(0, 0)
            .flags(SYN)
            .seq(PEER_ISS)
            .ack(SeqNumber(0))
            .mss(MSS as u16),
    );
    t.recv(c.ours(0, 0).flags(SYN | ACK).seq(c.iss).mss(MSS as u16));
    t.recv_nothing();
}

// Contract 15, RFC 9293 figure 7: simultaneous open. Our SYN crosses the
// peer's: SYN_SENT -> SYN_RECEIVED (we answer SYN-ACK) -> ESTABLISHED.
#[test]
fn simultaneous_open_goes_through_syn_received() {
    let mut t = Harness::new();
    let c = t.connect();
    t.send(
        c.peer(0, 0)
            .flags(SYN)
            .seq(PEER_ISS)
            .ack(SeqNumber(0))
            .mss(MSS as u16),
    );
    assert_eq!(t.engine.state(c.h), Ok(State::SynReceived));
    t.recv(c.ours(0, 0).flags(SYN | ACK).seq(c.iss).mss(MSS as u16));
    // The peer's SYN-ACK (figure 7 line 6) repeats its SYN, which is below
    // RCV.NXT now: RFC 9293 3.10.7.4 "first" answers with an ACK.
    t.send(c.peer(0, 0).flags(SYN | ACK).seq(PEER_ISS).mss(MSS as u16));
    t.recv(c.ours(0, 0));
    assert_eq!(t.engine.state(c.h), Ok(State::SynReceived));
    t.send(c.peer(0, 0));
    assert_eq!(t.engine.state(c.h), Ok(State::Established));
    assert_eq!(
        t.events(),
        [(c.h, EventKind::Connected), (c.h, EventKind::Writable)]
    );
    t.recv_nothing();
}

// RFC 9293 3.10.7.4, SYN-RECEIVED "RST bit": a passive open returns to
// LISTEN, which for us means the half-open connection is forgotten while
// the listener carries on.
#[test]
fn rst_in_syn_received_forgets_half_open_connection() {
    let mut t = Harness::new();
    let l = t.listen();
    let c = t.syn_to_listener(l, PEER_PORT);
    t.send(c.peer(0, 0).flags(RST).ack(SeqNumber(0)));
    t.recv_nothing();
    assert_eq!(t.events(), []);
    assert_eq!(t.engine.connection_count(), 0);
    assert_eq!(t.engine.flow_count(), 0);
    assert_eq!(t.engine.stats().resets_received, 1);
    // The listener is intact: the same peer can try again.
    let c = t.syn_to_listener(l, PEER_PORT);
    t.send(c.peer(0, 0));
    assert_eq!(t.events(), [(l, EventKind::Acceptable)]);
}

// RFC 9293 3.10.7.1: a SYN to a port nobody listens on gets
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
#[test]
fn syn_to_closed_port_gets_rst_ack() {
    let mut t = Harness::new();
    let syn = Seg {
        sport: PEER_PORT,
        dport: 81,
        flags: SYN,
        seq: PEER_ISS,
        ack: SeqNumber(0),
        win: PEER_WIN,
        mss: Some(MSS as u16),
        wscale: None,
        ts: None,
        sack_perm: false,
        sack: Vec::new(),
        urgent: 0,
        data: Vec::new(),
    };
    t.send(syn.clone());
    t.recv(Seg {
        sport: 81,
        dport: PEER_PORT,
        flags: RST | ACK,
        seq: SeqNumber(0),
        ack: PEER_ISS + 1,
        win: 0,
        mss: None,
        wscale: None,
        ts: None,
        sack_perm: false,
        sack: Vec::new(),
        urgent: 0,
        data: Vec::new(),
    });
    t.recv_nothing();
    assert_eq!(t.engine.stats().resets_sent.no_connection, 1);
    assert_eq!(t.engine.connection_count(), 0);
}

// RFC 9293 3.10.7.1: a segment with ACK to a closed port gets
// <SEQ=SEG.ACK><CTL=RST>; a RST gets nothing.
#[test]
fn ack_to_closed_port_gets_rst_from_its_ack_and_rst_gets_nothing() {
    let mut t = Harness::new();
    let seg = Seg {
        sport: PEER_PORT,
        dport: 81,
        flags: PSH | ACK,
        seq: PEER_ISS,
        ack: SeqNumber(777),
        win: PEER_WIN,
        mss: None,
        wscale: None,
        ts: None,
        sack_perm: false,
        sack: Vec::new(),
        urgent: 0,
        data: b"data".to_vec(),
    };
    t.send(seg.clone());
    t.recv(Seg {
        sport: 81,
        dport: PEER_PORT,
        flags: RST,
        seq: SeqNumber(777),
        ack: SeqNumber(0),
        win: 0,
        mss: None,
        wscale: None,
        ts: None,
        sack_perm: false,
        sack: Vec::new(),
        urgent: 0,
        data: Vec::new(),
    });
    t.send(seg.flags(RST | ACK).data(b""));
    t.recv_nothing();
    assert_eq!(t.engine.stats().drops.ignored, 1);
}

// RFC 9293 3.10.7.2: in LISTEN, "any acknowledgment is bad": RST with
// SEQ=SEG.ACK; the listener stays.
#[test]
fn ack_to_listener_gets_rst() {
    let mut t = Harness::new();
    let l = t.listen();
    let c = Conn {
        h: l,
        port: LISTEN_PORT,
        peer_port: PEER_PORT,
        iss: SeqNumber(5000),
        irs: PEER_ISS,
        win: WIN,
    };
    t.send(c.peer(0, 0));
    t.recv(
        c.ours(0, 0)
            .flags(RST)
            .seq(c.iss + 1)
            .ack(SeqNumber(0))
            .win(0),
    );
    t.recv_nothing();
    assert_eq!(t.engine.connection_count(), 0);
    // A RST to the listener is ignored.
    t.send(c.peer(0, 0).flags(RST));
    t.recv_nothing();
    let _ = t.accept_from(l, PEER_PORT);
}

// Contract 15: RST in reply to our SYN gives ConnectionRefused (RFC 9293
// 3.10.7.3: acceptable ACK plus RST in SYN-SENT).
#[test]
fn rst_answering_syn_refuses_connect() {
    let mut t = Harness::new();
    let c = t.connect();
    t.send(c.peer(0, 0).flags(RST | ACK).seq(SeqNumber(0)));
    t.recv_nothing();
    assert_eq!(t.engine.state(c.h), Ok(State::Closed));
    assert_eq!(
        t.events(),
        [
            (c.h, EventKind::Readable),
            (
                c.h,
                EventKind::Reset {
                    cause: ResetCause::Refused
                }
            )
        ]
    );
    assert_eq!(
        t.engine.read(c.h, &mut [0; 8]),
        Err(Error::ConnectionRefused)
    );
    assert_eq!(t.engine.stats().attempt_fails, 1);
    t.engine.close(c.h).unwrap();
    assert_eq!(t.engine.connection_count(), 0);
}

// RFC 9293 3.10.7.3: in SYN-SENT a RST whose ACK does not acknowledge our
// SYN (or that has no ACK) is dropped; the attempt goes on.
#[test]
fn rst_not_acking_our_syn_is_ignored_in_syn_sent() {
    let mut t = Harness::new();
    let c = t.connect();
    t.send(
        c.peer(0, 0)
            .flags(RST | ACK)
            .seq(SeqNumber(0))
            .ack(c.iss + 7),
    );
    t.send(c.peer(0, 0).flags(RST).seq(SeqNumber(0)).ack(SeqNumber(0)));
    t.recv_nothing();
    assert_eq!(t.engine.state(c.h), Ok(State::SynSent));
    assert_eq!(t.events(), []);
    assert_eq!(t.engine.stats().drops.ignored, 2);
}

// RFC 9293 3.10.7.3: a SYN-ACK acking something we never sent gets
// <SEQ=SEG.ACK><CTL=RST> and leaves SYN-SENT as it was.
#[test]
fn syn_ack_with_bad_ack_gets_rst_in_syn_sent() {
    let mut t = Harness::new();
    let c = t.connect();
    t.send(c.peer(0, 0).flags(SYN | ACK).seq(PEER_ISS).ack(c.iss + 100));
    t.recv(
        c.ours(0, 0)
            .flags(RST)
            .seq(c.iss + 100)
            .ack(SeqNumber(0))
            .win(0),
    );
    t.recv_nothing();
    assert_eq!(t.engine.state(c.h), Ok(State::SynSent));
    assert_eq!(t.engine.stats().resets_sent.bad_ack, 1);
}

// Contract 15: SYN retries exhausted give TimedOut. RFC 6298 5.5: the
// timeout doubles from 1 s: SYN again at 1, 3, 7, 15, 31 and 63 s
// (tcp.syn_retries = 6), give up at 127 s.
#[test]
fn syn_retries_back_off_then_connect_times_out() {
    let mut t = Harness::new();
    let c = t.connect();
    let syn = c
        .ours(0, 0)
        .flags(SYN)
        .seq(c.iss)
        .ack(SeqNumber(0))
        .mss(MSS as u16);
    for at in [1, 3, 7, 15, 31, 63] {
        t.advance_to(secs(at) - ms(1));
        t.recv_nothing();
        t.advance_to(secs(at));
        t.recv(syn.clone());
        t.recv_nothing();
        assert_eq!(t.engine.state(c.h), Ok(State::SynSent));
    }
    t.advance_to(secs(127) - ms(1));
    assert_eq!(t.engine.state(c.h), Ok(State::SynSent));
    t.advance_to(secs(127));
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
    assert_eq!(t.engine.read(c.h, &mut [0; 8]), Err(Error::TimedOut));
    assert_eq!(t.engine.stats().retransmits, 6);
    assert_eq!(t.engine.stats().timeouts, 1);
}

// Contract 14: with the accept queue full (backlog 1), the final ACK of
// another handshake is ignored; once the application accepts, the peer's
// retransmitted ACK completes it.
#[test]
fn full_accept_queue_ignores_final_ack_until_accept() {
    let mut t = Harness::new();
    let l = t.engine.listen(LISTEN_PORT, 1).unwrap();
    let a = t.syn_to_listener(l, 40_001);
    let b = t.syn_to_listener(l, 40_002);
    t.send(a.peer(0, 0));
    assert_eq!(t.events(), [(l, EventKind::Acceptable)]);
    t.send(b.peer(0, 0));
    t.recv_nothing();
    assert_eq!(t.events(), []);
    assert_eq!(t.engine.stats().drops.accept_queue_full, 1);
    let mut counts = t.engine.state_counts();
    counts.sort_by_key(|(s, _)| *s == State::Established);
    assert_eq!(counts, [(State::SynReceived, 1), (State::Established, 1)]);

    let (ha, ra) = t.engine.accept(l).unwrap();
    assert_eq!(ra.port(), 40_001);
    assert_eq!(t.engine.accept(l), Err(Error::WouldBlock));
    t.send(b.peer(0, 0));
    assert_eq!(
        t.events(),
        [(ha, EventKind::Writable), (l, EventKind::Acceptable)]
    );
    let (hb, rb) = t.engine.accept(l).unwrap();
    assert_eq!(rb.port(), 40_002);
    assert_eq!(t.engine.state(hb), Ok(State::Established));
}

// Contract 14: with the accept queue full, a new SYN is ignored (no
// SYN-ACK, no state) and counted; the client retries later.
#[test]
fn full_accept_queue_ignores_syn() {
    let mut t = Harness::new();
    let l = t.engine.listen(LISTEN_PORT, 1).unwrap();
    let a = t.syn_to_listener(l, 40_001);
    t.send(a.peer(0, 0));
    let _ = t.events();
    let mut syn = a.peer(0, 0).flags(SYN).seq(PEER_ISS).ack(SeqNumber(0));
    syn.sport = 40_003;
    t.send(syn);
    t.recv_nothing();
    assert_eq!(t.engine.stats().drops.accept_queue_full, 1);
    assert_eq!(t.engine.connection_count(), 1);
    // After accept there is room again.
    let _ = t.engine.accept(l).unwrap();
    let _ = t.events();
    let _ = t.accept_from(l, 40_003);
}

// Contract 14: with SYN cookies off, a full SYN queue (tcp.syn_queue)
// drops new SYNs and counts them; half-open connections that complete
// make room. (With cookies, the default, such SYNs get a cookie: see
// `hostile.rs`.)
#[test]
fn full_syn_queue_drops_syn_and_counts_it() {
    let mut t = Harness::with_config(|c| {
        c.tcp.syn_queue = 1;
        c.tcp.syn_cookies = false;
    });
    let l = t.listen();
    let a = t.syn_to_listener(l, 40_001);
    let mut syn = a.peer(0, 0).flags(SYN).seq(PEER_ISS).ack(SeqNumber(0));
    syn.sport = 40_002;
    t.send(syn);
    t.recv_nothing();
    assert_eq!(t.engine.stats().drops.syn_queue_full, 1);
    assert_eq!(t.engine.connection_count(), 1);
    t.send(a.peer(0, 0));
    let _ = t.events();
    let _ = t.syn_to_listener(l, 40_002);
}

// Contract 16: an explicit port that is taken (by a listener, or by the
// same 4-tuple) is AddrInUse; another remote makes another 4-tuple.
#[test]
fn taken_port_is_addr_in_use() {
    let mut t = Harness::new();
    let _l = t.listen();
    assert_eq!(t.engine.listen(LISTEN_PORT, 4), Err(Error::AddrInUse));
    let remote = SocketAddrV4::new(PEER_IP, PEER_SERVICE);
    assert_eq!(
        t.engine.connect_from(LISTEN_PORT, remote),
        Err(Error::AddrInUse)
    );
    let h = t.engine.connect_from(5000, remote).unwrap();
    assert_eq!(t.engine.connect_from(5000, remote), Err(Error::AddrInUse));
    let other = SocketAddrV4::new(PEER_IP, PEER_SERVICE + 1);
    assert!(t.engine.connect_from(5000, other).is_ok());
    assert_eq!(t.recv_seg().sport, 5000);
    let _ = h;
}

// Contract 16, RFC 6056: without a port, connections get distinct
// ephemeral ports from the configured range, chosen by a keyed hash (a
// different secret starts elsewhere).
#[test]
fn ephemeral_ports_differ_between_connections() {
    let mut t = Harness::new();
    let remote = SocketAddrV4::new(PEER_IP, PEER_SERVICE);
    let mut ports = Vec::new();
    for _ in 0..3 {
        let h = t.engine.connect(remote).unwrap();
        let (local, peer) = t.engine.addresses(h).unwrap();
        assert_eq!(peer, remote);
        let syn = t.recv_seg();
        assert_eq!(syn.sport, local.port());
        ports.push(local.port());
    }
    assert!(ports.iter().all(|p| *p >= 49_152), "{ports:?}");
    ports.dedup();
    assert_eq!(ports.len(), 3, "{ports:?}");

    let mut cfg = t.engine.config().clone();
    cfg.tcp.ephemeral_first = 49_152;
    let mut other =
        Engine::new(cfg, HeapPool::new(8, 2048, 128), [0x11; 16], Instant::ZERO).unwrap();
    let h = other.connect(remote).unwrap();
    assert_ne!(other.addresses(h).unwrap().0.port(), ports[0]);
}

// RFC 9293 3.10.7.4: the handshake's final ACK may carry data; it is
// delivered, and the application finds it when it accepts.
#[test]
fn data_on_the_final_ack_is_delivered_on_accept() {
    let mut t = Harness::new();
    let l = t.listen();
    let c = t.syn_to_listener(l, PEER_PORT);
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"early"));
    assert_eq!(t.events(), [(l, EventKind::Acceptable)]);
    let (h, _) = t.engine.accept(l).unwrap();
    assert_eq!(
        t.events(),
        [(h, EventKind::Readable), (h, EventKind::Writable)]
    );
    assert_eq!(t.read_all(h), b"early");
}

// Contract 17: a connection reset while it waits in the accept queue is
// still handed out, and reports the reset at once.
#[test]
fn connection_reset_in_the_accept_queue_reports_reset_on_accept() {
    let mut t = Harness::new();
    let l = t.listen();
    let c = t.syn_to_listener(l, PEER_PORT);
    t.send(c.peer(0, 0));
    t.send(c.peer(0, 0).flags(RST));
    assert_eq!(t.events(), [(l, EventKind::Acceptable)]);
    let (h, _) = t.engine.accept(l).unwrap();
    assert_eq!(t.engine.state(h), Ok(State::Closed));
    assert_eq!(
        t.events(),
        [
            (h, EventKind::Readable),
            (h, EventKind::Writable),
            (
                h,
                EventKind::Reset {
                    cause: ResetCause::PeerReset
                }
            )
        ]
    );
    assert_eq!(t.engine.read(h, &mut [0; 4]), Err(Error::ConnectionReset));
}

// Closing a listener resets the connections nobody accepted, completed
// or half-open.
#[test]
fn closing_a_listener_resets_unaccepted_connections() {
    let mut t = Harness::new();
    let l = t.listen();
    let a = t.syn_to_listener(l, 40_001);
    t.send(a.peer(0, 0));
    let b = t.syn_to_listener(l, 40_002);
    let _ = t.events();
    t.engine.close(l).unwrap();
    let mut rsts = vec![t.recv_seg(), t.recv_seg()];
    rsts.sort_by_key(|s| s.dport);
    assert_eq!(
        rsts,
        [
            a.ours(0, 0).flags(RST | ACK).win(0),
            b.ours(0, 0).flags(RST | ACK).win(0)
        ]
    );
    t.recv_nothing();
    assert_eq!(t.engine.connection_count(), 0);
    assert_eq!(t.engine.stats().resets_sent.listener_closed, 2);
    // The port is closed now.
    t.send(a.peer(0, 0).flags(SYN).seq(PEER_ISS).ack(SeqNumber(0)));
    assert_eq!(t.recv_seg().flags, RST | ACK);
}

// RFC 9293 3.10.2: data written in SYN_SENT is queued and goes out with
// the ACK that completes the handshake.
#[test]
fn data_written_before_the_handshake_completes_rides_on_the_ack() {
    let mut t = Harness::new();
    let c = t.connect();
    assert_eq!(t.engine.write(c.h, b"early"), Ok(5));
    t.recv_nothing();
    t.send(c.peer(0, 0).flags(SYN | ACK).seq(PEER_ISS).mss(MSS as u16));
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"early"));
    t.recv_nothing();
}

// RFC 9293 3.10.4: shutdown(Write) in SYN_SENT queues the FIN until the
// connection is established (contract 10).
#[test]
fn shutdown_write_in_syn_sent_sends_fin_once_established() {
    let mut t = Harness::new();
    let c = t.connect();
    t.engine.shutdown(c.h, crate::Shutdown::Write).unwrap();
    t.recv_nothing();
    t.send(c.peer(0, 0).flags(SYN | ACK).seq(PEER_ISS).mss(MSS as u16));
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    t.recv_nothing();
    assert_eq!(t.engine.state(c.h), Ok(State::FinWait1));
}

// RFC 9293 3.10.4, CLOSE in SYN-SENT: the attempt is forgotten at once;
// a late SYN-ACK then meets a closed port and gets RST.
#[test]
fn close_in_syn_sent_forgets_the_attempt() {
    let mut t = Harness::new();
    let c = t.connect();
    t.engine.close(c.h).unwrap();
    t.recv_nothing();
    assert_eq!(t.engine.connection_count(), 0);
    t.advance_to(secs(10));
    t.recv_nothing();
    t.send(c.peer(0, 0).flags(SYN | ACK).seq(PEER_ISS));
    t.recv(c.ours(0, 0).flags(RST).ack(SeqNumber(0)).win(0));
}

// RFC 9293 3.10.7.4 "fifth", SYN-RECEIVED: an ACK that does not
// acknowledge our SYN gets <SEQ=SEG.ACK><CTL=RST>; the half-open
// connection waits for the right one.
#[test]
fn bad_ack_in_syn_received_gets_rst() {
    let mut t = Harness::new();
    let l = t.listen();
    let c = t.syn_to_listener(l, PEER_PORT);
    t.send(c.peer(0, 4));
    t.recv(c.ours(4, 0).flags(RST).ack(SeqNumber(0)).win(0));
    assert_eq!(t.engine.state_counts(), [(State::SynReceived, 1)]);
    assert_eq!(t.events(), []);
    t.send(c.peer(0, 0));
    assert_eq!(t.events(), [(l, EventKind::Acceptable)]);
}
