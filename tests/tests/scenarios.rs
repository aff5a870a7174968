//! Scenarios S1 and S2 of docs/contract.md (seed 000's two captures), end to
//! end between two engines, asserting the exact segment sequence and what
//! each side's application sees.

use std::time::Duration;

use integration_tests::{LinkConfig, Sim};
use stack::{Error, Shutdown, State};

const PORT: u16 = 9527;

/// Client on node 0, server on node 1, both tracing.
fn setup() -> (Sim, usize, usize, stack::Handle, stack::Handle) {
    let mut sim = Sim::new(0x5e3d_0001);
    let c = sim.add_host(1, LinkConfig::default());
    let s = sim.add_host(2, LinkConfig::default());
    let l = sim.nodes[s].engine.listen(PORT, 16).unwrap();
    sim.tracing = true;
    let (ch, sh) = sim.open(c, s, l, PORT);
    (sim, c, s, ch, sh)
}

/// (sender, flags, payload) for every TCP segment on the wire.
fn wire(sim: &Sim) -> Vec<(usize, String, Vec<u8>)> {
    sim.segments()
        .into_iter()
        .map(|(from, s)| (from, s.flags, s.payload))
        .collect()
}

fn describe(sim: &Sim) -> String {
    sim.segments()
        .iter()
        .map(|(from, s)| format!("  node{from}: {s}\n"))
        .collect()
}

// S1 (contracts 8b, 8c, 6, 3): the client closes right after sending; the
// server's reply meets an orphan and is answered with RST.
#[test]
fn s1_close_with_a_reply_still_coming() {
    let (mut sim, c, s, ch, sh) = setup();
    assert_eq!(sim.nodes[c].engine.write(ch, b"aaa"), Ok(3));
    sim.run_for(Duration::from_secs(1));
    let mut buf = [0u8; 64];
    assert_eq!(sim.nodes[s].engine.read(sh, &mut buf), Ok(3));
    assert_eq!(&buf[..3], b"aaa");

    sim.nodes[c].engine.close(ch).unwrap();
    // contract 8: the handle is gone at once.
    assert_eq!(
        sim.nodes[c].engine.read(ch, &mut buf),
        Err(Error::InvalidHandle)
    );
    sim.run_for(Duration::from_secs(1));
    // Before the RST, the FIN reads as end of stream.
    assert_eq!(sim.nodes[s].engine.read(sh, &mut buf), Ok(0));
    assert_eq!(sim.nodes[s].engine.state(sh), Ok(State::CloseWait));

    // contract 3: writing after the peer's FIN is allowed.
    assert_eq!(sim.nodes[s].engine.write(sh, b"Hi, aaa"), Ok(7));
    sim.run_for(Duration::from_secs(1));

    let w = wire(&sim);
    let flags: Vec<(usize, &str)> = w.iter().map(|(f, fl, _)| (*f, fl.as_str())).collect();
    assert_eq!(
        flags,
        [
            (c, "S"),
            (s, "S."),
            (c, "."),
            (c, "P."),
            (s, "."),
            (c, "F."),
            (s, "."),
            (s, "P."),
            (c, "R"),
        ],
        "segments:\n{}",
        describe(&sim)
    );
    assert_eq!(w[3].2, b"aaa");
    assert_eq!(w[7].2, b"Hi, aaa");
    // The RST carries the sequence number after the client's FIN, as in
    // the capture (R seq = the server's ACK number).
    let segs = sim.segments();
    assert_eq!(segs[8].1.seq, segs[7].1.ack);

    // contract 6, then 3: ConnectionReset on read, BrokenPipe on write.
    assert_eq!(
        sim.nodes[s].engine.read(sh, &mut buf),
        Err(Error::ConnectionReset)
    );
    assert_eq!(
        sim.nodes[s].engine.write(sh, b"again"),
        Err(Error::BrokenPipe)
    );
    assert_eq!(sim.nodes[s].engine.state(sh), Ok(State::Closed));
    // The client kept nothing: no TIME_WAIT after a reset.
    assert_eq!(sim.nodes[c].engine.connection_count(), 0);
}

// S2 (contract 10): half-close, then read the reply.
#[test]
fn s2_half_close_then_read_the_reply() {
    let (mut sim, c, s, ch, sh) = setup();
    assert_eq!(sim.nodes[c].engine.write(ch, b"aaa"), Ok(3));
    sim.run_for(Duration::from_secs(1));
    let mut buf = [0u8; 64];
    assert_eq!(sim.nodes[s].engine.read(sh, &mut buf), Ok(3));

    sim.nodes[c].engine.shutdown(ch, Shutdown::Write).unwrap();
    assert_eq!(sim.nodes[c].engine.write(ch, b"x"), Err(Error::BrokenPipe));
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.nodes[c].engine.state(ch), Ok(State::FinWait2));

    assert_eq!(sim.nodes[s].engine.write(sh, b"Hi, aaa"), Ok(7));
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.nodes[c].engine.read(ch, &mut buf), Ok(7));
    assert_eq!(&buf[..7], b"Hi, aaa");

    // The server reads end of stream and closes.
    assert_eq!(sim.nodes[s].engine.read(sh, &mut buf), Ok(0));
    sim.nodes[s].engine.close(sh).unwrap();
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.nodes[c].engine.read(ch, &mut buf), Ok(0));
    assert_eq!(sim.nodes[c].engine.state(ch), Ok(State::TimeWait));

    let flags: Vec<(usize, String)> = wire(&sim).into_iter().map(|(f, fl, _)| (f, fl)).collect();
    let expect = [
        (c, "S"),
        (s, "S."),
        (c, "."),
        (c, "P."),
        (s, "."),
        (c, "F."),
        (s, "."),
        (s, "P."),
        (c, "."),
        (s, "F."),
        (c, "."),
    ];
    let expect: Vec<(usize, String)> = expect.iter().map(|(f, fl)| (*f, fl.to_string())).collect();
    assert_eq!(flags, expect, "segments:\n{}", describe(&sim));
    // The server is gone; the client waits out TIME_WAIT, then is gone too.
    assert_eq!(sim.nodes[s].engine.connection_count(), 0);
    sim.nodes[c].engine.close(ch).unwrap();
    sim.run_for(Duration::from_secs(61));
    assert_eq!(sim.nodes[c].engine.connection_count(), 0);
}
