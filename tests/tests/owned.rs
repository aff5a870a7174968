//! Owning handles (contracts 8 and 13): a dropped `Conn` closes its
//! connection like `std::net::TcpStream`; clones keep it open until the
//! last one goes; `close` consumes the handle.

use std::net::SocketAddrV4;
use std::time::Duration;

use integration_tests::{LinkConfig, Sim};
use stack::{Error, State};

fn pair() -> (Sim, usize, usize, stack::Conn, stack::Conn) {
    let mut sim = Sim::new(0x13);
    let c = sim.add_host(1, LinkConfig::default());
    let s = sim.add_host(2, LinkConfig::default());
    let l = sim.nodes[s].engine.listen(13, 4).unwrap();
    let addr = SocketAddrV4::new(sim.nodes[s].ip, 13);
    let client = sim.nodes[c].engine.connect_owned(addr).unwrap();
    let mut server = None;
    sim.run_until(Duration::from_secs(5), |sim| {
        if server.is_none() {
            server = sim.nodes[s]
                .engine
                .accept_owned(l)
                .ok()
                .map(|(conn, _)| conn);
        }
        server.is_some()
    });
    (sim, c, s, client, server.expect("accepted"))
}

// contract 13: dropping a handle without closing it closes it.
#[test]
fn dropping_the_last_owned_handle_closes_the_connection_gracefully() {
    let (mut sim, c, s, client, server) = pair();
    let raw = client.handle();
    sim.nodes[c].engine.write(raw, b"bye").unwrap();
    drop(client);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.nodes[c].engine.state(raw), Err(Error::InvalidHandle));
    let (data, end) = sim.read_all(s, server.handle());
    assert_eq!(
        (data.as_slice(), end),
        (&b"bye"[..], Ok(0)),
        "data, then the FIN"
    );
    assert_eq!(
        sim.nodes[s].engine.state(server.handle()),
        Ok(State::CloseWait)
    );
}

// contract 13: close releases one reference; the last one closes.
#[test]
fn a_clone_keeps_the_connection_open_until_the_last_reference_goes() {
    let (mut sim, c, s, client, server) = pair();
    let second = client.try_clone(&mut sim.nodes[c].engine).unwrap();
    assert_ne!(second.handle(), client.handle());
    client.close(&mut sim.nodes[c].engine).unwrap();
    sim.run_for(Duration::from_secs(1));
    assert_eq!(
        sim.nodes[c].engine.state(second.handle()),
        Ok(State::Established)
    );
    assert_eq!(
        sim.nodes[c].engine.write(second.handle(), b"still here"),
        Ok(10)
    );
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.read_all(s, server.handle()).0, b"still here");
    drop(second);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.read_all(s, server.handle()).1, Ok(0));
}

// contract 8: close consumes the handle; the raw value is stale after.
#[test]
fn close_consumes_the_handle_and_into_raw_gives_up_ownership() {
    let (mut sim, c, _s, client, _server) = pair();
    let raw = client.into_raw();
    sim.run_for(Duration::from_secs(1));
    assert_eq!(
        sim.nodes[c].engine.state(raw),
        Ok(State::Established),
        "into_raw does not close"
    );
    let owned = sim.nodes[c].engine.own(raw).unwrap();
    owned.close(&mut sim.nodes[c].engine).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(
        sim.nodes[c].engine.read(raw, &mut buf),
        Err(Error::InvalidHandle)
    );
    assert!(sim.nodes[c].engine.own(raw).is_err());
}
