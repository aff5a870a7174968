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
