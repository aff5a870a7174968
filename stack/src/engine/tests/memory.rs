//! Packet-buffer memory (`[memory]`, DESIGN.md "Round 2"): buffers counted
//! by truesize, the pressure levels and what each does on the wire, the
//! timers that bound every holding, and the zero-copy paths left alone
//! when there is no pressure.
//!
//! The harness pool has 2,048-byte buffers; a limit of 20 buffers puts the
//! pressure mark at 10 buffers, the critical mark at 15 and the reserved
//! top at 18.

use super::*;
use crate::{BufferPool, Error, MemoryLevel, PacketBuf, ResetCause};

const BUF: usize = 2048;

fn limit_of(buffers: usize) -> impl FnOnce(&mut EngineConfig) {
    move |c| c.memory.limit = Some(buffers * BUF)
}

/// Sends `n` full segments in order on `c` from `at` (bytes after the
/// SYN), and drains what the engine answers.
fn fill(t: &mut Harness, c: &Conn, at: usize, n: usize) {
    let data = pattern(MSS);
    for i in 0..n {
        t.send(c.peer(at + i * MSS, 0).data(&data));
    }
    drain(t);
}

fn drain(t: &mut Harness) {
    while t.recv_frame().is_some() {}
}

#[test]
fn buffers_are_counted_by_truesize_per_queue() {
    let mut t = Harness::new();
    let c = t.passive();
    let m = t.engine.stats().memory.clone();
    assert_eq!(
        m.limit,
        ((4096 - 64) * BUF) as u64,
        "the pool less its reserve"
    );
    assert_eq!((m.held, m.level), (0, MemoryLevel::Normal));
    // A 10-byte segment pins a whole buffer.
    t.send(c.peer(0, 0).data(&[7; 10]));
    t.send(c.peer(2000, 0).data(&[8; 500]));
    assert_eq!(t.engine.write(c.h, &pattern(3000)), Ok(3000));
    let m = t.engine.stats().memory.clone();
    assert_eq!((m.held_recv, m.bufs_recv), (BUF as u64, 1));
    assert_eq!((m.held_ooo, m.bufs_ooo), (BUF as u64, 1));
    assert_eq!(
        (m.held_send, m.bufs_send),
        (3 * BUF as u64, 3),
        "1460 + 1460 + 80"
    );
    assert_eq!(m.held, 5 * BUF as u64);
    assert_eq!(m.peak_held, m.held);
    // Reading and acknowledgments give it back.
    assert_eq!(t.read_all(c.h), [7; 10]);
    drain(&mut t);
    // Nagle held the last 80 bytes back until the first two are acked.
    t.send(c.peer(10, 2 * MSS));
    drain(&mut t);
    t.send(c.peer(10, 3000));
    assert_eq!(
        t.engine.stats().memory.held,
        BUF as u64,
        "the out-of-order segment"
    );
}

// "No buffer without a timer": out-of-order data that waits
// memory.ooo_timeout_ms without the stream moving on is dropped; the
// sender still has it, since it was never acknowledged.
#[test]
fn out_of_order_data_without_progress_is_dropped_after_the_timeout() {
    let mut t = Harness::with_config(|c| c.memory.ooo_timeout = secs(5));
    let c = t.passive();
    let data = pattern(300);
    t.send(c.peer(200, 0).data(&data[200..]));
    t.recv(c.ours(0, 0));
    t.advance_to(secs(3));
    // Progress (the first 100 bytes) restarts the wait; the gap remains.
    t.send(c.peer(0, 0).data(&data[..100]));
    t.advance_to(secs(3) + ms(40));
    t.recv(c.ours(0, 100).win(WIN - 100));
    t.advance_to(secs(7));
    assert_eq!(t.engine.stats().memory.bufs_ooo, 1);
    t.advance_to(secs(8));
    t.recv_nothing();
    let m = t.engine.stats().memory.clone();
    assert_eq!((m.bufs_ooo, m.ooo_timeouts), (0, 1));
    assert_eq!(m.ooo_pruned_bytes, BUF as u64);
    // The sender fills the gap and resends the rest: nothing is lost.
    t.send(c.peer(100, 0).data(&data[100..200]));
    t.send(c.peer(200, 0).data(&data[200..]));
    assert_eq!(t.read_all(c.h), data);
}

// At the critical mark out-of-order data is not stored (it is still
// answered with a duplicate ACK), and the out-of-order queues already held
// are pruned, the longest-listed first.
#[test]
fn critical_memory_prunes_and_refuses_out_of_order_data() {
    let mut t = Harness::with_config(limit_of(20));
    let l = t.listen();
    let a = t.accept_from(l, PEER_PORT);
    let b = t.accept_from(l, PEER_PORT + 1);
    let filler = t.accept_from(l, PEER_PORT + 2);
    let data = pattern(MSS);
    // Two out-of-order segments, a's first.
    t.send(a.peer(MSS, 0).data(&data));
    t.send(b.peer(MSS, 0).data(&data));
    drain(&mut t);
    assert_eq!(t.engine.stats().memory.bufs_ooo, 2);
    // Unread in-order data takes the engine to the critical mark (15
    // buffers): a's queue goes first, and that is enough for now.
    fill(&mut t, &filler, 0, 13);
    let m = t.engine.stats().memory.clone();
    assert_eq!((m.ooo_pruned, m.bufs_ooo, m.entered_critical), (1, 1, 1));
    assert_eq!(m.level, MemoryLevel::Pressure);
    fill(&mut t, &filler, 13 * MSS, 1);
    assert_eq!(t.engine.stats().memory.ooo_pruned, 2, "then b's");
    // With nothing left to prune, the engine stays at the critical mark,
    // and out-of-order data is acknowledged but not kept.
    fill(&mut t, &filler, 14 * MSS, 1);
    assert_eq!(t.engine.stats().memory.level, MemoryLevel::Critical);
    t.send(a.peer(2 * MSS, 0).data(&data));
    t.recv(a.ours(0, 0));
    let m = t.engine.stats().memory.clone();
    assert_eq!((m.bufs_ooo, t.engine.stats().drops.memory_pressure), (0, 1));
    assert_eq!(m.ooo_pruned_bytes, 2 * BUF as u64);
    assert!(m.held <= m.limit);
}

// The reserved top of the limit: a connection holding conn_min or more
// gets no more buffers there (its data is dropped, not acknowledged, and
// comes again: contract 7 loses nothing), while a quiet connection is
// still served.
#[test]
fn the_reserved_top_serves_only_connections_under_their_minimum() {
    let mut t = Harness::with_config(limit_of(20));
    let l = t.listen();
    let hog = t.accept_from(l, PEER_PORT);
    let quiet = t.accept_from(l, PEER_PORT + 1);
    fill(&mut t, &hog, 0, 18);
    assert_eq!(t.engine.stats().memory.level, MemoryLevel::Reserved);
    assert_eq!(t.engine.stats().memory.entered_reserved, 1);
    let data = pattern(MSS);
    t.send(hog.peer(18 * MSS, 0).data(&data));
    t.recv(hog.ours(0, 18 * MSS).win(WIN - 18 * MSS as u16));
    assert_eq!(t.engine.stats().drops.memory_pressure, 1);
    t.send(quiet.peer(0, 0).flags(PSH | ACK).data(b"hello"));
    assert_eq!(t.read_all(quiet.h), b"hello");
    let m = t.engine.stats().memory.clone();
    assert!(m.held <= m.limit, "{m:?}");
    // The hog reads: its data comes in again.
    assert_eq!(t.read_all(hog.h).len(), 18 * MSS);
    t.send(hog.peer(18 * MSS, 0).data(&data));
    assert_eq!(t.read_all(hog.h), data);
}

// Under pressure a window grows by at most four segments (Linux clamps
// rcv_ssthresh the same way); from the critical mark it does not grow.
#[test]
fn pressure_slows_window_growth_and_critical_stops_it() {
    let mut t = Harness::with_config(|c| {
        c.memory.limit = Some(20 * BUF);
        c.tcp.recv_buffer = 8192;
    });
    let l = t.listen();
    let conns: Vec<Conn> = (0..4).map(|i| t.accept_from(l, PEER_PORT + i)).collect();
    assert_eq!(conns[0].win, 8192);
    let (a, others) = conns.split_first().unwrap();
    // Two others hold five buffers each: the pressure mark.
    fill(&mut t, &others[0], 0, 5);
    fill(&mut t, &others[1], 0, 5);
    assert_eq!(t.engine.stats().memory.level, MemoryLevel::Pressure);
    fill(&mut t, a, 0, 5);
    assert_eq!(t.read_all(a.h).len(), 5 * MSS);
    // Without pressure the update would offer 8,192 bytes.
    t.recv(a.ours(0, 5 * MSS).win(4 * MSS as u16));
    t.recv_nothing();
    // A third other takes the engine to the critical mark: reading frees
    // room but the window stays where it was promised.
    fill(&mut t, &others[2], 0, 5);
    fill(&mut t, a, 5 * MSS, 2);
    assert_eq!(t.read_all(a.h).len(), 2 * MSS);
    assert_eq!(t.engine.stats().memory.level, MemoryLevel::Critical);
    t.recv_nothing();
}

// Segments far smaller than their buffer are copied onto the buffer
// before them, on receive and on write_buf; larger ones keep zero copy
// until there is pressure.
#[test]
fn small_segments_are_collapsed_and_large_ones_keep_their_buffer() {
    let mut t = Harness::new();
    let c = t.passive();
    for i in 0..100u8 {
        t.send(c.peer(usize::from(i), 0).data(&[i]));
    }
    drain(&mut t);
    let m = t.engine.stats().memory.clone();
    assert_eq!((m.bufs_recv, m.collapsed_segments), (1, 99));
    let zc = pattern(400);
    t.send(c.peer(100, 0).data(&zc));
    assert_eq!(t.engine.stats().memory.bufs_recv, 2, "400 bytes: zero copy");
    let got = t.read_all(c.h);
    assert_eq!(&got[..100], &(0..100u8).collect::<Vec<_>>()[..]);
    assert_eq!(&got[100..], &zc[..]);
    // write_buf: one-byte buffers join the queue's last buffer.
    for i in 0..50u8 {
        let buf = t.engine.pool_mut().alloc_with(&[i]).unwrap();
        t.engine.write_buf(c.h, buf).unwrap();
    }
    let m = t.engine.stats().memory.clone();
    assert_eq!((m.bufs_send, m.collapsed_segments), (1, 99 + 49));
    let big = t.engine.pool_mut().alloc_with(&zc).unwrap();
    t.engine.write_buf(c.h, big).unwrap();
    assert_eq!(t.engine.stats().memory.bufs_send, 2);
}

// write_buf respects the pool reserve as write does: with only the
// reserve left free, a buffer that would stay queued is handed back with
// NoBuffers.
#[test]
fn write_buf_respects_the_pool_reserve() {
    let mut t = Harness::new();
    let c = t.passive();
    let reserve = t.engine.config().tcp.pool_reserve;
    let mut hoard = Vec::new();
    while t.engine.pool_mut().available() > reserve + 1 {
        hoard.push(t.engine.pool_mut().alloc().unwrap());
    }
    let buf = t.engine.pool_mut().alloc_with(&pattern(1000)).unwrap();
    let (err, back) = t.engine.write_buf(c.h, buf).unwrap_err();
    assert_eq!((err, back.len()), (Error::NoBuffers, 1000));
    assert_eq!(t.engine.write(c.h, b"x"), Err(Error::NoBuffers));
    drop(hoard);
    assert!(t.engine.write_buf(c.h, back).is_ok());
}

// A connection over its own receive limit is compacted first: its
// half-empty buffers are copied together and the segment is kept.
#[test]
fn a_connection_over_its_receive_limit_is_compacted() {
    let mut t = Harness::with_config(|c| c.memory.conn_recv_limit = Some(8 * BUF));
    let c = t.passive();
    let data = pattern(9 * 300);
    for i in 0..9 {
        t.send(c.peer(i * 300, 0).data(&data[i * 300..(i + 1) * 300]));
    }
    drain(&mut t);
    let m = t.engine.stats().memory.clone();
    assert!(m.collapsed_segments >= 6, "{m:?}");
    assert!(m.bufs_recv <= 3, "{m:?}");
    assert_eq!(t.engine.stats().drops.conn_memory, 0);
    assert_eq!(t.read_all(c.h), data);
}

// ... and if compacting is not enough, out-of-order data goes from the
// highest sequence number down (Linux tcp_prune_ofo_queue), so that the
// data the stream needs next is kept.
#[test]
fn a_connection_over_its_receive_limit_prunes_out_of_order_data_from_the_top() {
    let mut t = Harness::with_config(|c| c.memory.conn_recv_limit = Some(4 * BUF));
    let c = t.passive();
    let data = pattern(6 * MSS);
    let seg = |i: usize| &data[i * MSS..(i + 1) * MSS];
    for i in 2..6 {
        t.send(c.peer(i * MSS, 0).data(seg(i)));
    }
    assert_eq!(t.engine.stats().memory.bufs_ooo, 4);
    // Out of order and over the limit: dropped, nothing pruned for it.
    t.send(c.peer(6 * MSS + 100, 0).data(&[0; 300]));
    assert_eq!(t.engine.stats().drops.conn_memory, 1);
    // In order: the top segment makes room for it.
    t.send(c.peer(0, 0).data(seg(0)));
    let m = t.engine.stats().memory.clone();
    assert_eq!((m.ooo_pruned, m.bufs_ooo, m.bufs_recv), (1, 3, 1));
    assert!(t.read_all(c.h) == seg(0));
    // With room again, the gap fills and the kept segments follow it.
    t.send(c.peer(MSS, 0).data(seg(1)));
    drain(&mut t);
    let got = t.read_all(c.h);
    assert_eq!(got.len(), 4 * MSS);
    assert!(got == data[MSS..5 * MSS]);
}

// Contracts 2 and 17: a write refused by the engine's budget (another
// connection holds the memory) returns WouldBlock, and Writable follows
// once memory is freed, without any ACK of its own: nothing of its own
// may be in flight to announce it.
#[test]
fn a_writer_refused_for_memory_hears_writable_when_memory_is_freed() {
    let mut t = Harness::with_config(limit_of(20));
    let l = t.listen();
    let writer = t.accept_from(l, PEER_PORT);
    let hog = t.accept_from(l, PEER_PORT + 1);
    fill(&mut t, &hog, 0, 16);
    t.events();
    // Two buffers (the writer is under conn_min for the first two), then
    // the reserved top.
    assert_eq!(t.engine.write(writer.h, &pattern(10_000)), Ok(2 * MSS));
    assert_eq!(t.engine.write(writer.h, b"more"), Err(Error::WouldBlock));
    assert_eq!(t.engine.stats().memory.write_refused, 2);
    assert_eq!(t.events(), []);
    assert_eq!(t.read_all(hog.h).len(), 16 * MSS);
    assert_eq!(t.events(), [(writer.h, EventKind::Writable)]);
    assert_eq!(t.engine.write(writer.h, b"more"), Ok(4));
}

// TCP_USER_TIMEOUT: data that waits longer than the user timeout for an
// acknowledgment ends the connection, also when the peer answers every
// window probe with a closed window (which RFC 1122 4.2.2.17 would
// otherwise allow for ever).
#[test]
fn user_timeout_ends_a_connection_stuck_behind_a_closed_window() {
    let mut t = Harness::with_config(|c| c.tcp.user_timeout = secs(3));
    let l = t.listen();
    let c = t.accept_from(l, PEER_PORT);
    let patient = t.accept_from(l, PEER_PORT + 1);
    t.engine.set_user_timeout(patient.h, None).unwrap();
    for conn in [&c, &patient] {
        t.send(conn.peer(0, 0).win(0));
        assert_eq!(t.engine.write(conn.h, b"hello"), Ok(5));
    }
    t.events();
    let mut now = ms(0);
    while now < secs(3) {
        now += ms(100);
        t.advance_to(now);
        // Every probe is answered: still closed.
        while let Some(frame) = t.recv_frame() {
            let seg = parse_seg(&frame);
            let conn = if seg.dport == c.peer_port {
                &c
            } else {
                &patient
            };
            t.send(conn.peer(0, 0).win(0));
        }
    }
    let reset = EventKind::Reset {
        cause: ResetCause::RetransmitTimeout,
    };
    assert_eq!(t.events(), [(c.h, EventKind::Readable), (c.h, reset)]);
    assert_eq!(t.engine.write(c.h, b"x"), Err(Error::TimedOut));
    assert_eq!(t.engine.stats().user_timeouts, 1);
    assert_eq!(t.engine.state(patient.h), Ok(State::Established));
    assert_eq!(t.engine.stats().memory.bufs_send, 1, "the patient one's");
}

// An orphan (closed with data queued) behind a closed window gives up
// after tcp.orphan_retries probes even though they are answered; a
// connection the application still holds keeps probing (RFC 1122
// 4.2.2.17).
#[test]
fn an_orphan_behind_a_closed_window_gives_up() {
    let mut t = Harness::with_config(|c| c.tcp.orphan_retries = 3);
    let l = t.listen();
    let orphan = t.accept_from(l, PEER_PORT);
    let held = t.accept_from(l, PEER_PORT + 1);
    for conn in [&orphan, &held] {
        t.send(conn.peer(0, 0).win(0));
        assert_eq!(t.engine.write(conn.h, b"hello"), Ok(5));
    }
    t.engine.close(orphan.h).unwrap();
    let mut probes = [0u32; 2];
    let mut now = ms(0);
    while now < secs(120) {
        now += ms(100);
        t.advance_to(now);
        while let Some(frame) = t.recv_frame() {
            let seg = parse_seg(&frame);
            let (i, conn) = if seg.dport == orphan.peer_port {
                (0, &orphan)
            } else {
                (1, &held)
            };
            if seg.flags.contains(RST) {
                continue;
            }
            probes[i] += 1;
            t.send(conn.peer(0, 0).win(0));
        }
    }
    assert_eq!(probes[0], 3, "the orphan's probes");
    assert!(probes[1] > 3);
    assert_eq!(t.engine.stats().timeouts, 1);
    assert_eq!(t.engine.state(held.h), Ok(State::Established));
    assert_eq!(
        t.engine.stats().memory.bufs_send,
        1,
        "the orphan's data is gone"
    );
}
