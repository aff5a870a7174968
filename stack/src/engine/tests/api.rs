//! The application's view: handles (contracts 8 and 13) and the state a
//! program can always ask for (contract 17).

use super::*;
use crate::{Error, Handle, Shutdown};

// Contract 13: try_clone shares the connection; close releases one
// reference and only the last one closes the connection; shutdown acts at
// once whatever the count.
#[test]
fn connection_closes_when_the_last_clone_is_closed() {
    let mut t = Harness::new();
    let c = t.passive();
    let h2 = t.engine.try_clone(c.h).unwrap();
    assert_ne!(h2, c.h);
    t.engine.close(c.h).unwrap();
    t.recv_nothing();
    assert_eq!(t.engine.state(c.h), Err(Error::InvalidHandle));
    assert_eq!(t.engine.state(h2), Ok(State::Established));
    // The connection still belongs to the application: data is buffered,
    // not answered with RST (contract 8c does not apply yet).
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"abc"));
    assert_eq!(t.read_all(h2), b"abc");
    // Events keep naming the connection's original handle.
    assert_eq!(t.events(), [(c.h, EventKind::Readable)]);
    let h3 = t.engine.try_clone(h2).unwrap();
    t.engine.shutdown(h3, Shutdown::Write).unwrap();
    // The read emptied the buffer, so the window is whole again.
    t.recv(c.ours(0, 3).flags(FIN | ACK));
    assert_eq!(t.engine.state(h2), Ok(State::FinWait1));
    t.engine.close(h3).unwrap();
    t.recv_nothing();
    t.engine.close(h2).unwrap();
    t.recv_nothing();
    assert_eq!(t.engine.state_counts(), [(State::FinWait1, 1)]);
    t.send(c.peer(3, 1));
    assert_eq!(t.engine.state_counts(), [(State::FinWait2, 1)]);
}

// Contract 8: a closed handle cannot be used again, even after its slot is
// reused by a new connection: every call is InvalidHandle (EBADF).
#[test]
fn stale_handle_is_invalid_even_after_its_slot_is_reused() {
    let mut t = Harness::new();
    let l = t.listen();
    let c = t.accept_from(l, PEER_PORT);
    t.engine.close(c.h).unwrap();
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    let c2 = t.accept_from(l, PEER_PORT + 1);
    assert_eq!(c2.h.index, c.h.index, "the slot is reused");
    let stale = Handle::from_raw(c.h.to_raw());
    let mut buf = [0u8; 4];
    assert_eq!(t.engine.read(stale, &mut buf), Err(Error::InvalidHandle));
    assert_eq!(t.engine.write(stale, b"x"), Err(Error::InvalidHandle));
    assert_eq!(
        t.engine.shutdown(stale, Shutdown::Both),
        Err(Error::InvalidHandle)
    );
    assert_eq!(t.engine.close(stale), Err(Error::InvalidHandle));
    assert_eq!(t.engine.try_clone(stale), Err(Error::InvalidHandle));
    assert_eq!(t.engine.accept(c2.h), Err(Error::InvalidHandle));
    t.recv_nothing();
    assert_eq!(t.engine.state(c2.h), Ok(State::Established));
}

// Contract 17: the state behind the events can always be asked for, so a
// missed event is never fatal.
#[test]
fn readiness_tells_what_the_events_told() {
    let mut t = Harness::new();
    let c = t.passive();
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"abc"));
    t.send(c.peer(3, 0).flags(FIN | ACK));
    let r = t.engine.readiness(c.h).unwrap();
    assert_eq!(r.state, State::CloseWait);
    assert_eq!(r.readable_bytes, 3);
    assert!(r.peer_closed);
    assert_eq!(r.writable_bytes, 256 * 1024);
    assert_eq!(r.error, None);
    assert_eq!(
        t.events(),
        [
            (c.h, EventKind::Readable),
            (c.h, EventKind::Readable),
            (c.h, EventKind::PeerClosed)
        ]
    );
    t.send(c.peer(4, 0).flags(RST));
    let r = t.engine.readiness(c.h).unwrap();
    assert_eq!(
        (r.state, r.writable_bytes, r.error),
        (State::Closed, 0, Some(Error::ConnectionReset))
    );
}

// Contract 13: dropping an owning handle without closing it closes it, as
// std::net::TcpStream does; the engine acts at its next driver call, and
// with unread data that is the abortive close of contract 8a.
#[test]
fn dropping_an_owned_handle_closes_the_connection() {
    let mut t = Harness::new();
    let l = t.listen();
    let c = t.accept_from(l, PEER_PORT);
    drop(t.engine.own(c.h).unwrap());
    t.recv(c.ours(0, 0).flags(FIN | ACK));
    assert_eq!(t.engine.state(c.h), Err(Error::InvalidHandle));
    assert_eq!(t.engine.state_counts(), [(State::FinWait1, 1)]);

    let c = t.accept_from(l, PEER_PORT + 1);
    let owned = t.engine.own(c.h).unwrap();
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"unread"));
    drop(owned);
    t.recv(c.ours(0, 6).flags(RST | ACK).win(0));
    t.recv_nothing();
}

// A handle names its engine: another engine (another core's) refuses it,
// though the same slot and generation hold a connection there too; the
// raw form keeps the engine.
#[test]
fn a_handle_from_another_engine_is_invalid() {
    let mut a = Harness::new();
    let mut b = Harness::new();
    let ca = a.passive();
    let cb = b.passive();
    assert_ne!(ca.h, cb.h, "the engines' tags differ");
    assert_eq!(a.engine.state(cb.h), Err(Error::InvalidHandle));
    assert_eq!(b.engine.write(ca.h, b"x"), Err(Error::InvalidHandle));
    assert_eq!(Handle::from_raw(ca.h.to_raw()), ca.h);
    assert_eq!(
        a.engine.state(Handle::from_raw(ca.h.to_raw())),
        Ok(State::Established)
    );
    // Both are the first connection of their engine: the same slot and
    // generation, told apart by the tag alone.
    let retagged = (ca.h.to_raw() & !(0xff << 24)) | (u64::from(b.engine.tag()) << 24);
    assert_eq!(Handle::from_raw(retagged), cb.h);
}

// Contract 17: every event carries the token the application set for the
// connection or listener (epoll_data), so no map from handles is needed.
#[test]
fn events_carry_the_applications_token() {
    let mut t = Harness::new();
    let l = t.listen();
    t.engine.set_token(l, 7).unwrap();
    let c = t.syn_to_listener(l, PEER_PORT);
    t.send(c.peer(0, 0));
    let ev = t.engine.poll_event().expect("Acceptable");
    assert_eq!(
        (ev.handle, ev.kind, ev.token),
        (l, EventKind::Acceptable, 7)
    );
    let (h, _) = t.engine.accept(l).unwrap();
    assert_eq!(t.engine.token(h), Ok(0));
    t.engine.set_token(h, 0xdead_beef).unwrap();
    // Raised at `accept`, polled after the token was set: it carries it.
    let ev = t.engine.poll_event().expect("Writable");
    assert_eq!(
        (ev.handle, ev.kind, ev.token),
        (h, EventKind::Writable, 0xdead_beef)
    );
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"abc"));
    let ev = t.engine.poll_event().expect("Readable");
    assert_eq!(
        (ev.handle, ev.kind, ev.token),
        (h, EventKind::Readable, 0xdead_beef)
    );
    let h2 = t.engine.try_clone(h).unwrap();
    assert_eq!(t.engine.token(h2), Ok(0xdead_beef), "clones share it");
    t.engine.close(h).unwrap();
    t.engine.close(h2).unwrap();
    assert_eq!(t.engine.set_token(h, 1), Err(Error::InvalidHandle));
    assert_eq!(t.engine.token(h), Err(Error::InvalidHandle));
}

// The connection as std::io: bytes both ways through Read and Write
// (vectored too), WouldBlock and the contract's errors as io kinds.
#[test]
fn a_connection_reads_and_writes_through_std_io() {
    use std::io::{ErrorKind, IoSlice, Read, Write};
    let mut t = Harness::new();
    let c = t.passive();
    let n = t
        .engine
        .io(c.h)
        .write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b""), IoSlice::new(b"cd")])
        .unwrap();
    assert_eq!(n, 4);
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"abcd"));
    let mut buf = [0u8; 8];
    let e = t.engine.io(c.h).read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    t.send(c.peer(0, 4).flags(PSH | ACK).data(b"xyz"));
    assert_eq!(t.engine.io(c.h).read(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"xyz");
    t.send(c.peer(3, 4).flags(RST | ACK));
    let e = t.engine.io(c.h).read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    assert_eq!(e.get_ref().unwrap().to_string(), "connection reset by peer");
    let e = t.engine.io(c.h).write(b"more").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BrokenPipe);
    assert_eq!(Error::BrokenPipe.errno(), 32);
}
