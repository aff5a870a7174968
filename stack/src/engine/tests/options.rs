//! RFC 7323 with the default configuration: window scaling and timestamps
//! (and SACK-permitted, RFC 2018) offered in our SYN and agreed only when
//! both SYNs carry them; the
//! timestamp on every segment and what it echoes (section 4.3); PAWS
//! (section 5); RTT samples from echoed timestamps (section 4.1).
//! Option-less peers keep the plain exchange (the other suites).

use super::*;

/// The harness with the defaults for options (scaling, timestamps and
/// SACK on).
pub(super) fn defaults() -> Harness {
    Harness::with_config(|c| {
        c.tcp.window_scaling = true;
        c.tcp.timestamps = true;
        c.tcp.sack = true;
    })
}

/// Our window scale with a 64 KiB receive buffer (RFC 7323 2.3: the
/// smallest shift that covers it).
pub(super) const WS: u8 = 1;
/// A full segment's payload beside the 12 bytes of the timestamps option.
pub(super) const TS_MSS: usize = MSS - 12;

/// Passive open with a peer that offers every option; returns the
/// connection and the timestamp our SYN-ACK carried.
#[track_caller]
pub(super) fn open_with_options(t: &mut Harness, peer_tsval: u32) -> (Conn, u32) {
    open_with_options_after(t, peer_tsval, Duration::ZERO)
}

/// [`open_with_options`] with the peer's ACK arriving `rtt` after our
/// SYN-ACK (the handshake's RTT sample).
#[track_caller]
pub(super) fn open_with_options_after(
    t: &mut Harness,
    peer_tsval: u32,
    rtt: Duration,
) -> (Conn, u32) {
    let l = t.listen();
    let mut c = Conn {
        h: l,
        port: LISTEN_PORT,
        peer_port: PEER_PORT,
        iss: SeqNumber(0),
        irs: PEER_ISS,
        win: 65_535,
    };
    t.send(
        c.peer(0, 0)
            .flags(SYN)
            .seq(c.irs)
            .ack(SeqNumber(0))
            .mss(MSS as u16)
            .wscale(7)
            .sack_perm()
            .ts(peer_tsval, 0),
    );
    let synack = t.recv_seg();
    c.iss = synack.seq;
    let (our_ts, echo) = synack.ts.expect("the SYN-ACK carries timestamps");
    // RFC 7323: the SYN-ACK answers the options the SYN offered, echoes
    // its timestamp, and carries an unscaled window.
    assert_eq!(
        synack,
        c.ours(0, 0)
            .flags(SYN | ACK)
            .seq(c.iss)
            .mss(MSS as u16)
            .wscale(WS)
            .sack_perm()
            .ts(our_ts, peer_tsval)
    );
    assert_eq!(echo, peer_tsval);
    let now = t.now - Instant::ZERO;
    t.advance_to(now + rtt);
    t.send(c.peer(0, 0).win(512).ts(peer_tsval + 1, our_ts));
    let (h, _) = t.engine.accept(l).unwrap();
    t.events();
    c.h = h;
    // From here on windows are scaled: 64 KiB free is 32,768 << 1.
    c.win = (65_536 >> WS) as u16;
    (c, our_ts)
}

// RFC 7323 2.2 and 3.2, RFC 2018 2, RFC 9293 3.7.1: our SYN offers MSS,
// window scale, SACK-permitted and timestamps (TSecr 0), with an unscaled
// window.
#[test]
fn syn_offers_mss_window_scale_and_timestamps() {
    let mut t = defaults();
    let h = t
        .engine
        .connect(SocketAddrV4::new(PEER_IP, PEER_SERVICE))
        .unwrap();
    let syn = t.recv_seg();
    let (tsval, tsecr) = syn.ts.expect("timestamps offered");
    assert_eq!(tsecr, 0, "RFC 7323 3.2: TSecr is zero in a SYN");
    let c = Conn {
        h,
        port: syn.sport,
        peer_port: PEER_SERVICE,
        iss: syn.seq,
        irs: PEER_ISS,
        win: 65_535,
    };
    assert_eq!(
        syn,
        c.ours(0, 0)
            .flags(SYN)
            .seq(c.iss)
            .ack(SeqNumber(0))
            .mss(MSS as u16)
            .wscale(WS)
            .sack_perm()
            .ts(tsval, 0)
    );
}

// RFC 7323 2.2 and 3.2: an option is in use only if both SYNs carry it;
// a peer that offers none gets an option-less SYN-ACK and segments.
#[test]
fn an_option_less_peer_gets_no_options() {
    let mut t = defaults();
    let c = t.passive();
    assert_eq!(c.win, 65_535, "no scaling");
    assert_eq!(t.engine.write(c.h, &pattern(MSS)), Ok(MSS));
    let seg = t.recv_seg();
    assert_eq!(
        (seg.ts, seg.data.len()),
        (None, MSS),
        "full segments of the MSS"
    );
    // An active open answered without options drops them too.
    let h = t
        .engine
        .connect(SocketAddrV4::new(PEER_IP, PEER_SERVICE))
        .unwrap();
    let syn = t.recv_seg();
    assert!(syn.ts.is_some() && syn.wscale.is_some() && syn.sack_perm);
    let c = Conn {
        h,
        port: syn.sport,
        peer_port: PEER_SERVICE,
        iss: syn.seq,
        irs: PEER_ISS,
        win: 65_535,
    };
    t.send(c.peer(0, 0).flags(SYN | ACK).seq(c.irs).mss(MSS as u16));
    t.recv(c.ours(0, 0));
}

// RFC 7323 3.2: once agreed, every segment carries the option, TSecr
// echoing TS.Recent; a full segment gives its 12 bytes up (RFC 6691).
#[test]
fn every_segment_carries_a_timestamp_and_full_segments_make_room_for_it() {
    let mut t = defaults();
    let (c, _) = open_with_options(&mut t, 1000);
    let data = pattern(2 * TS_MSS);
    assert_eq!(t.engine.write(c.h, &data), Ok(data.len()));
    let first = t.recv_seg();
    assert_eq!(first.data.len(), TS_MSS);
    assert_eq!(first.ts.map(|(_, ecr)| ecr), Some(1001), "echoes TS.Recent");
    // A peer window of 512 << 7 = 64 KiB lets the second one go at once.
    let second = t.recv_seg();
    assert_eq!(second.data.len(), TS_MSS);
    assert!(second.ts.is_some());
}

// RFC 7323 5.3 R1 (PAWS): a segment whose timestamp is older than
// TS.Recent is a duplicate from an earlier incarnation: dropped, counted,
// and answered with an ACK (RFC 9293 3.10.7.4).
#[test]
fn paws_drops_a_segment_with_an_old_timestamp_and_acks() {
    let mut t = defaults();
    let (c, our_ts) = open_with_options(&mut t, 1000);
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"new").ts(1005, our_ts));
    t.advance_to(ms(40));
    let ack = t.recv_seg();
    assert_eq!(
        (ack.ack, ack.ts.map(|(_, e)| e)),
        (c.irs + 1 + 3, Some(1005))
    );
    t.send(c.peer(3, 0).flags(PSH | ACK).data(b"old").ts(1004, our_ts));
    let answer = t.recv_seg();
    assert_eq!(answer.ack, c.irs + 1 + 3, "the old segment was not taken");
    assert_eq!(t.engine.stats().drops.paws, 1);
    assert_eq!(t.read_all(c.h), b"new");
}

// RFC 7323 5.5: a TS.Recent not refreshed for 24 days no longer judges:
// the peer's clock may have wrapped since.
#[test]
fn paws_forgets_a_ts_recent_older_than_24_days() {
    let mut t = defaults();
    let (c, our_ts) = open_with_options(&mut t, 1000);
    t.advance_to(secs(25 * 24 * 3600));
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"late").ts(5, our_ts));
    assert_eq!(t.engine.stats().drops.paws, 0);
    assert_eq!(t.read_all(c.h), b"late");
}

// RFC 7323 4.3 case A: a delayed ACK of two segments echoes the
// timestamp of the first (so the peer's RTT includes the delay).
#[test]
fn a_delayed_ack_echoes_the_earliest_unacknowledged_segment() {
    let mut t = defaults();
    let (c, our_ts) = open_with_options(&mut t, 1000);
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"aa").ts(1010, our_ts));
    t.send(c.peer(2, 0).flags(PSH | ACK).data(b"bb").ts(1020, our_ts));
    t.recv_nothing();
    t.advance_to(ms(40));
    let ack = t.recv_seg();
    assert_eq!(
        (ack.ack, ack.ts.map(|(_, e)| e)),
        (c.irs + 1 + 4, Some(1010))
    );
}

// RFC 7323 4.3 case C: out-of-order data does not move TS.Recent; the
// segment that fills the gap does, and its timestamp is echoed.
#[test]
fn out_of_order_data_leaves_the_echo_to_the_segment_that_fills_the_gap() {
    let mut t = defaults();
    let (c, our_ts) = open_with_options(&mut t, 1000);
    t.send(c.peer(2, 0).flags(PSH | ACK).data(b"cc").ts(1030, our_ts));
    let dup = t.recv_seg();
    assert_eq!(dup.ts.map(|(_, e)| e), Some(1001), "still the handshake's");
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"aa").ts(1040, our_ts));
    let ack = t.recv_seg();
    assert_eq!(
        (ack.ack, ack.ts.map(|(_, e)| e)),
        (c.irs + 1 + 4, Some(1040))
    );
}

// RTTM (RFC 7323 4.1): an ACK echoing the timestamp of a retransmission
// measures the round trip (Karn's rule forbids that without timestamps),
// and ends the backoff at once.
#[test]
fn an_echoed_timestamp_measures_the_rtt_after_a_retransmission() {
    let mut t = defaults();
    let (c, _) = open_with_options(&mut t, 1000);
    // The handshake measured ~0: the timeout is its 200 ms floor.
    assert_eq!(t.engine.write(c.h, b"x"), Ok(1));
    let first = t.recv_seg();
    t.advance_to(ms(200));
    let again = t.recv_seg();
    assert_eq!(
        again.seq, first.seq,
        "the probe, at the timeout's time, resent it"
    );
    let (resent_ts, _) = again.ts.unwrap();
    // The ACK comes 300 ms after the retransmission and echoes it: one
    // sample of 300 ms (SRTT 0 -> 37.5 ms, RTTVAR 0 -> 75 ms), so the
    // timeout is 37.5 + 4 x 75 = 337.5 ms, not the 400 ms of the backoff.
    t.advance_to(ms(500));
    t.send(c.peer(0, 1).ts(1002, resent_ts));
    let info = t.engine.tcp_info(c.h).unwrap();
    assert_eq!(info.srtt, Some(Duration::from_micros(37_500)));
    assert_eq!(info.rto, Duration::from_micros(337_500));
}
