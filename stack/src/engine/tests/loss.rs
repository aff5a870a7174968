//! The sender under loss, with SACK and timestamps agreed: which segments
//! go again and when (RFC 6675's scoreboard and NextSeg, RACK and tail
//! loss probes from RFC 8985), how the window follows (RFC 6937, the
//! congestion controller), and undoing what was not lost (RFC 3522,
//! RFC 3708).

use super::options::{defaults, open_with_options, open_with_options_after, TS_MSS};
use super::*;
use crate::CongestionAlgorithm;

/// A connection with every option agreed, opened over a path of 10 ms
/// (SRTT 10 ms, RTO 200 ms, probe timeout 22 ms), and `n` full segments
/// written; the first ten (the initial window) are on the wire, read off
/// here. Times in the tests count from then.
struct Sending {
    t: Harness,
    c: Conn,
    start: Duration,
    data: Vec<u8>,
    /// The last timestamp our segments carried, for the peer to echo.
    our_ts: u32,
    /// The peer's next timestamp.
    peer_ts: u32,
}

impl Sending {
    fn new(n: usize) -> Sending {
        Sending::with(defaults(), n)
    }

    fn with(mut t: Harness, n: usize) -> Sending {
        let (c, our_ts) = open_with_options_after(&mut t, 1000, ms(10));
        let data = pattern(n * TS_MSS);
        assert_eq!(t.engine.write(c.h, &data), Ok(data.len()));
        let start = t.now - Instant::ZERO;
        let mut s = Sending {
            t,
            c,
            start,
            data,
            our_ts,
            peer_ts: 1001,
        };
        for i in 0..n.min(10) {
            assert_eq!(s.next(), Some(i), "the initial window");
        }
        s.t.recv_nothing();
        s
    }

    /// Moves the clock to `d` after the data was written.
    fn at(&mut self, d: Duration) {
        self.t.advance_to(self.start + d);
    }

    /// The next segment we send: which segment of the stream it is
    /// (checked to be that segment's bytes).
    #[track_caller]
    fn next(&mut self) -> Option<usize> {
        let frame = self.t.recv_frame()?;
        let seg = parse_seg(&frame);
        if let Some((val, _)) = seg.ts {
            self.our_ts = val;
        }
        let off = seg.seq.0.wrapping_sub(self.c.iss.0).wrapping_sub(1) as usize;
        assert_eq!(
            off % TS_MSS,
            0,
            "segments start on segment boundaries: {seg:?}"
        );
        let i = off / TS_MSS;
        assert_eq!(
            seg.data,
            self.data[off..off + seg.data.len()],
            "segment {i}'s bytes"
        );
        Some(i)
    }

    /// Every segment we send now.
    fn drain(&mut self) -> Vec<usize> {
        std::iter::from_fn(|| self.next()).collect()
    }

    /// The peer acknowledges segments below `cum` and SACKs the ranges of
    /// segments `[from, to)` in `blocks`, echoing our latest timestamp.
    fn ack(&mut self, cum: usize, blocks: &[(usize, usize)]) {
        let echo = self.our_ts;
        self.ack_echoing(cum, blocks, echo);
    }

    fn ack_echoing(&mut self, cum: usize, blocks: &[(usize, usize)], echo: u32) {
        let bytes: Vec<(usize, usize)> = blocks
            .iter()
            .map(|&(l, r)| (l * TS_MSS, r * TS_MSS))
            .collect();
        let ts = self.peer_ts;
        self.peer_ts += 1;
        let seg = self
            .c
            .peer(0, cum * TS_MSS)
            .sack(self.c.iss, &bytes)
            .ts(ts, echo);
        self.t.send(seg);
    }

    fn info(&self) -> crate::TcpInfo {
        self.t.engine.tcp_info(self.c.h).unwrap()
    }
}

// RFC 6675 5 and NextSeg rule 1, RFC 8985 6.2: three segments SACKed
// above a hole, before any reordering was seen, mark the hole lost at once
// (the reordering window is zero, as DupThresh would); the holes go out
// first, lowest first, then new data as PRR allows.
#[test]
fn sacked_segments_above_holes_send_the_holes_first_then_new_data() {
    let mut s = Sending::new(14);
    s.at(ms(10));
    // Segments 0 and 1 are lost; 2..10 arrived.
    s.ack(0, &[(2, 10)]);
    assert_eq!(s.drain(), vec![0, 1, 10, 11, 12, 13]);
    let stats = s.t.engine.stats();
    assert_eq!((stats.recoveries, stats.rack_lost), (1, 2));
    let info = s.info();
    assert!(info.in_recovery);
    assert_eq!((info.sacked, info.lost), (8 * TS_MSS, 2 * TS_MSS));
    // Everything arrives: the episode ends at its recovery point.
    s.ack(14, &[]);
    assert!(!s.info().in_recovery);
    assert_eq!(s.t.engine.stats().rto_expired, 0);
}

// RFC 8985 6.2: with fewer than three segments SACKed, a hole is lost only
// once an RTT and the reordering window (a quarter of the minimum RTT)
// have passed since it left; the reordering timer fires then.
#[test]
fn a_hole_waits_the_reordering_window_before_it_is_retransmitted() {
    let mut s = Sending::new(4);
    s.at(ms(20));
    // RTT 20 ms; segment 1 missing, segment 2 SACKed.
    s.ack(1, &[(2, 3)]);
    assert_eq!(s.drain(), Vec::<usize>::new(), "within the window");
    // Lost once 20 ms + 20 ms / 4 have passed since it left at 0.
    s.at(ms(25) - Duration::from_micros(1));
    assert_eq!(s.drain(), Vec::<usize>::new());
    s.at(ms(25));
    // Then, with nothing new to send, the rescue retransmission (RFC 6675
    // NextSeg rule 4) of the highest segment not SACKed.
    assert_eq!(s.drain(), vec![1, 3]);
    assert_eq!(s.t.engine.stats().rack_lost, 1);
    assert_eq!(s.t.engine.stats().rto_expired, 0);
}

// RFC 8985 7: when the ACKs stop with segments unacknowledged, a tail
// loss probe goes at two SRTTs (and a little slack) — the last segment
// again when nothing new may go — and the SACK it draws lets RACK repair
// the hole before it: no retransmission timeout.
#[test]
fn a_tail_loss_probe_repairs_lost_last_segments_without_a_timeout() {
    let mut s = Sending::new(4);
    s.at(ms(10));
    s.ack(2, &[]);
    // Segments 2 and 3 are lost.
    let srtt = s.info().srtt.expect("an RTT was measured");
    let pto = ms(10) + srtt * 2 + crate::tcp::rack::PTO_SLACK;
    s.at(pto - Duration::from_micros(1));
    assert_eq!(s.drain(), Vec::<usize>::new());
    s.at(pto);
    assert_eq!(s.drain(), vec![3], "the probe: the last segment again");
    assert_eq!(s.t.engine.stats().tlp_probes, 1);
    s.at(pto + ms(10));
    s.ack(2, &[(3, 4)]);
    assert_eq!(s.drain(), vec![2], "RACK: segment 2 left long before 3");
    s.ack(4, &[]);
    let stats = s.t.engine.stats();
    assert_eq!((stats.rto_expired, stats.retransmits), (0, 2));
}

// RFC 8985 7.3: when new data may go, the probe is new data.
#[test]
fn a_probe_sends_new_data_when_the_window_allows() {
    let mut s = Sending::new(12);
    s.at(ms(10));
    // Segments 0..8 acknowledged; the window (now wider) sends 10 and 11.
    s.ack(8, &[]);
    assert_eq!(s.drain(), vec![10, 11]);
    let srtt = s.info().srtt.unwrap();
    s.at(ms(10) + srtt * 2 + crate::tcp::rack::PTO_SLACK);
    // Nothing new is left: the probe is segment 11 again. (With data
    // queued it would be new data: see the simulator's rr test.)
    assert_eq!(s.drain(), vec![11]);
}

// A probe also goes during recovery (as QUIC's PTO, RFC 9002 6.2; RFC
// 8985 7.2 and Linux do not): when the ACKs stop after the repairs (the
// retransmissions or their ACKs lost, or the receiver holding its ACKs
// back), the probe draws an ACK at two SRTTs instead of a timeout at 200
// ms that would take the window down to one segment.
#[test]
fn a_probe_ends_a_silence_in_recovery_without_a_timeout() {
    let mut s = Sending::new(14);
    s.at(ms(10));
    s.ack(0, &[(2, 10)]);
    assert_eq!(s.drain(), vec![0, 1, 10, 11, 12, 13]);
    let srtt = s.info().srtt.unwrap();
    let pto = ms(10) + srtt * 2 + crate::tcp::rack::PTO_SLACK;
    s.at(pto - Duration::from_micros(1));
    assert_eq!(s.drain(), Vec::<usize>::new());
    s.at(pto);
    assert_eq!(s.drain(), vec![13], "the probe: the last segment again");
    // The ACK it draws shows everything arrived.
    s.at(pto + ms(10));
    s.ack(14, &[]);
    let stats = s.t.engine.stats();
    assert_eq!((stats.tlp_probes, stats.rto_expired), (1, 0));
    let info = s.info();
    assert!(!info.in_recovery);
    assert!(info.cwnd > 2 * TS_MSS, "no timeout took the window down");
}

// In recovery, when the peer has the last segment, the probe is the first
// segment it still lacks.
#[test]
fn a_probe_in_recovery_resends_the_first_missing_segment_when_the_tail_arrived() {
    let mut s = Sending::new(10);
    s.at(ms(10));
    // Segments 0 and 1 lost, the rest SACKed: both repaired, then silence
    // (both repairs lost).
    s.ack(0, &[(2, 10)]);
    assert_eq!(s.drain(), vec![0, 1]);
    let srtt = s.info().srtt.unwrap();
    let pto = ms(10) + srtt * 2 + crate::tcp::rack::PTO_SLACK;
    s.at(pto);
    assert_eq!(s.drain(), vec![0], "the first segment the peer lacks");
    s.at(pto + ms(10));
    s.ack(1, &[(2, 10)]);
    // RACK: segment 1's repair left before the probe that arrived.
    assert_eq!(s.drain(), vec![1]);
    s.ack(10, &[]);
    let stats = s.t.engine.stats();
    assert_eq!((stats.tlp_probes, stats.rto_expired), (1, 0));
}

// Found by fuzzing: a probe fell due, the ACK for everything came before
// the driver asked for it, then the application closed: the FIN was never
// sent (the poll that found no probe to form sent nothing, and took the
// connection off the ready list), and no timer was left to recover.
#[test]
fn regression_a_probe_overtaken_by_its_ack_does_not_swallow_the_fin() {
    let mut s = Sending::new(1);
    let srtt_guess = ms(10);
    s.at(srtt_guess);
    s.ack(0, &[]);
    let srtt = s.info().srtt.unwrap();
    // The probe falls due; the driver does not poll before the ACK.
    s.at(srtt_guess + srtt * 2 + crate::tcp::rack::PTO_SLACK + ms(200));
    s.ack(1, &[]);
    s.t.engine.shutdown(s.c.h, crate::Shutdown::Write).unwrap();
    let fin = parse_seg(&s.t.recv_frame().expect("the FIN"));
    assert!(fin.flags.contains(FIN), "{fin:?}");
}

// RFC 6675 NextSeg rule 4: in recovery, with no hole left to repair and
// no new data, the highest segment not SACKed goes again, once.
#[test]
fn the_rescue_retransmission_sends_the_highest_unsacked_segment_once() {
    let mut s = Sending::new(6);
    s.at(ms(10));
    // 0 lost, 1..5 SACKed, 5 not heard of.
    s.ack(0, &[(1, 5)]);
    assert_eq!(s.drain(), vec![0, 5]);
    s.ack(0, &[(1, 5)]);
    assert_eq!(s.drain(), Vec::<usize>::new(), "once per episode");
}

// RFC 3522 (Eifel): the ACK after a timeout echoes the original's
// timestamp, not the retransmission's: the original arrived, the timeout
// was spurious, and its window reduction is undone.
#[test]
fn a_spurious_timeout_is_detected_by_the_echoed_timestamp_and_undone() {
    let mut s = Sending::new(3);
    let original_ts = s.our_ts;
    let cwnd = s.info().cwnd;
    // No ACK at all: the probe at 22 ms, the timeout 200 ms after it.
    s.at(ms(22));
    assert_eq!(s.drain(), vec![2], "the probe");
    s.at(ms(222));
    assert_eq!(s.drain(), vec![0], "the timeout: one segment");
    assert_eq!(s.t.engine.stats().rto_expired, 1);
    assert!(s.info().cwnd < cwnd);
    // The ACK of everything, echoing the first transmission's timestamp.
    s.at(ms(230));
    s.ack_echoing(3, &[], original_ts);
    assert_eq!(s.t.engine.stats().spurious_rtos, 1);
    assert_eq!(s.info().cwnd, cwnd, "the window is back");
    assert_eq!(
        s.drain(),
        Vec::<usize>::new(),
        "segment 1 is not sent again"
    );
}

// RFC 3708 / RFC 2883: retransmissions that the peer reports as
// duplicates (D-SACK) were not needed: reordering, not loss. Once the
// last of the episode's is reported, even after the episode ended, its
// reduction is undone.
#[test]
fn a_recovery_whose_retransmissions_were_all_duplicates_is_undone() {
    let mut s = Sending::new(8);
    let cwnd = s.info().cwnd;
    s.at(ms(10));
    // Segment 0 is late; 1..4 SACKed: 0 is deemed lost and sent again.
    s.ack(0, &[(1, 4)]);
    assert_eq!(s.drain(), vec![0]);
    assert!(s.info().cwnd < cwnd);
    // The original 0 arrives; PRR lets one more go: 7, the rescue
    // retransmission. Then everything arrives, and the two duplicates are
    // reported.
    s.ack(4, &[]);
    assert_eq!(s.drain(), vec![7]);
    s.ack(8, &[]);
    assert_eq!(s.t.engine.stats().spurious_recoveries, 0);
    s.ack(8, &[(0, 1)]);
    s.ack(8, &[(7, 8)]);
    let stats = s.t.engine.stats();
    assert_eq!((stats.dsacks_received, stats.spurious_recoveries), (2, 1));
    assert!(s.info().cwnd >= cwnd, "the reduction is undone");
}

// The congestion controller is per connection: NewReno halves the flight
// on a loss (RFC 5681 eq. 4), CUBIC keeps 70 % of the window (RFC 9438
// 4.6).
#[test]
fn the_congestion_algorithm_is_chosen_per_connection() {
    for (alg, expected) in [
        (CongestionAlgorithm::NewReno, 5 * TS_MSS),
        (CongestionAlgorithm::Cubic, 7 * TS_MSS),
    ] {
        let mut t = defaults();
        let (c, our_ts) = open_with_options(&mut t, 1000);
        t.engine.set_congestion(c.h, alg).unwrap();
        assert_eq!(t.engine.tcp_info(c.h).unwrap().congestion, alg);
        let data = pattern(10 * TS_MSS);
        t.engine.write(c.h, &data).unwrap();
        while t.recv_frame().is_some() {}
        t.advance_to(ms(10));
        t.send(
            c.peer(0, 0)
                .sack(c.iss, &[(TS_MSS, 4 * TS_MSS)])
                .ts(1001, our_ts),
        );
        let info = t.engine.tcp_info(c.h).unwrap();
        assert!(info.in_recovery, "{alg:?}");
        assert_eq!(info.ssthresh, expected, "{alg:?}");
    }
}
