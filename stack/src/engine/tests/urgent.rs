//! Urgent data (RFC 9293 3.8.5, MUST-30 to MUST-33): read inline, marked
//! by an event and a query on receive; sent with URG and the pointer.

use super::*;

// Contract 19; RFC 9293 MUST-31/32/33: the pointer names the octet after the urgent data; the
// application hears of it once per advance (Urgent) and learns how much
// remains to be read up to the mark; the bytes themselves are read
// inline, in order.
#[test]
fn urgent_data_is_signalled_counted_and_read_inline() {
    let mut t = Harness::new();
    let c = t.passive();
    // "abcde" urgent (pointer 5: the mark is after 'e'), "fgh" after it.
    t.send(
        c.peer(0, 0)
            .flags(URG | PSH | ACK)
            .urgent(5)
            .data(b"abcdefgh"),
    );
    assert_eq!(
        t.events(),
        [(c.h, EventKind::Readable), (c.h, EventKind::Urgent)]
    );
    assert_eq!(t.engine.urgent_pending(c.h), Ok(Some(5)));
    let mut buf = [0u8; 3];
    assert_eq!(t.engine.read(c.h, &mut buf), Ok(3));
    assert_eq!(&buf, b"abc");
    assert_eq!(t.engine.urgent_pending(c.h), Ok(Some(2)));

    t.send(c.peer(8, 0).flags(URG | ACK).urgent(0).data(b"ij"));
    assert_eq!(
        t.events(),
        [(c.h, EventKind::Readable)],
        "pointer 0: no urgent byte"
    );
    let mut buf = [0u8; 2];
    assert_eq!(t.engine.read(c.h, &mut buf), Ok(2));
    assert_eq!(&buf, b"de");
    assert_eq!(t.engine.urgent_pending(c.h), Ok(None), "at the mark");
    assert_eq!(t.read_all(c.h), b"fghij");

    // A mark beyond the data that arrived counts the bytes still to come.
    t.send(c.peer(10, 0).flags(URG | ACK).urgent(100).data(b"kl"));
    assert_eq!(
        t.events(),
        [(c.h, EventKind::Readable), (c.h, EventKind::Urgent)]
    );
    assert_eq!(t.engine.urgent_pending(c.h), Ok(Some(100)));
    assert_eq!(t.read_all(c.h), b"kl");
    assert_eq!(t.engine.urgent_pending(c.h), Ok(Some(98)));
    // The same mark again, from the next segment: no second event.
    t.send(c.peer(12, 0).flags(URG | ACK).urgent(98).data(b"mn"));
    assert_eq!(t.events(), [(c.h, EventKind::Readable)]);
    assert_eq!(t.engine.urgent_pending(c.h), Ok(Some(98)));
}

// Contract 19; RFC 9293 MUST-30, send side: `write_urgent` marks its last byte; the segment
// carries URG with the pointer past it and leaves at once though Nagle
// would hold a short segment; until the peer acknowledges the mark, every
// segment before it (pure ACKs too) carries the pointer.
#[test]
fn write_urgent_sends_the_pointer_until_the_mark_is_acknowledged() {
    let mut t = Harness::new();
    let c = t.passive();
    assert_eq!(t.engine.write(c.h, b"a"), Ok(1));
    t.recv(c.ours(0, 0).flags(PSH | ACK).data(b"a"));
    // Nagle: a short segment is unacknowledged, yet urgent data goes.
    assert_eq!(t.engine.write_urgent(c.h, b"bc"), Ok(2));
    t.recv(c.ours(1, 0).flags(URG | PSH | ACK).urgent(2).data(b"bc"));
    // Unacknowledged: the timeout sends the first segment again, and
    // it lies before the mark, so it carries the pointer too.
    t.advance_to(ms(200));
    t.recv(c.ours(0, 0).flags(URG | ACK).urgent(3).data(b"a"));
    t.send(c.peer(0, 1));
    t.recv(c.ours(1, 0).flags(URG | PSH | ACK).urgent(2).data(b"bc"));
    // The mark acknowledged: urgent mode is over.
    t.send(c.peer(0, 3));
    assert_eq!(t.engine.write(c.h, b"d"), Ok(1));
    t.recv(c.ours(3, 0).flags(PSH | ACK).data(b"d"));
}
