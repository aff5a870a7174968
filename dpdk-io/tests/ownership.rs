//! Who owns a device: a port id is configured once per process, and the
//! device stays open while its port is alive. The EAL initialises once
//! per process, so everything runs as sub-steps of one test, in order.

use std::time::Duration;

use dpdk_io::{create_ring_pair, DpdkError, Eal, EalArgs, Mbuf, MbufPool, Port, PortConfig};
use stack::PacketBuf;

#[test]
fn device_ownership() {
    let args = EalArgs::ci(256).lcores("0").log_level("notice").build();
    let eal = Eal::init(&args).expect("EAL init");
    let pool = MbufPool::new("own_pool", 1023, 32, 2176).expect("mbuf pool");

    port_claimed_once(&pool);

    assert_eq!(pool.direct().in_use(), 0, "every mbuf is back");
    drop(pool);
    drop(eal);
}

/// Configures and starts port `id` with one queue pair.
fn started(id: u16, pool: &MbufPool) -> Port {
    let mut port = Port::configure(id, &PortConfig::default(), pool).expect("configure");
    port.start().expect("start");
    port.wait_link_up(Duration::from_secs(2)).expect("link up");
    port
}

/// Sends `n` frames from `from` and checks they all arrive at `to`.
fn cross(from: &mut Port, to: &mut Port, n: usize) {
    let mut pool = from.pool().clone();
    let mut out: Vec<Mbuf> = (0..n)
        .map(|i| pool.alloc_with(&[i as u8; 60]).expect("mbuf"))
        .collect();
    assert_eq!(from.tx_burst(0, &mut out), n);
    let mut got = Vec::new();
    assert_eq!(to.rx_burst(0, &mut got, 64), n);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.data(), &[i as u8; 60]);
    }
}

/// A second `Port` of a live port's id is refused, and the id is free
/// again once the first is dropped.
fn port_claimed_once(pool: &MbufPool) {
    let (a, b) = create_ring_pair("own_a", "own_b").expect("ring pair");
    let mut first = started(a, pool);

    let err = Port::configure(a, &PortConfig::default(), pool).unwrap_err();
    assert_eq!(err, DpdkError::PortInUse(a));
    assert!(
        err.to_string()
            .starts_with(&format!("port {a} is already in use")),
        "the message names the port: {err}"
    );
    // The claim is per id: the other end of the pair is another port.
    let mut other = started(b, pool);
    // The refused configure left the live port alone: frames still cross
    // both ways.
    cross(&mut first, &mut other, 16);
    cross(&mut other, &mut first, 16);

    drop(first);
    // The claim went with the port. The device is closed and DPDK has
    // released its id, so configuring it fails, but not for being in use.
    let err = Port::configure(a, &PortConfig::default(), pool).unwrap_err();
    assert_ne!(err, DpdkError::PortInUse(a));
    // A new device takes the lowest free id, the one just released, and
    // configuring it succeeds.
    let (c, d) = create_ring_pair("own_c", "own_d").expect("second ring pair");
    assert_eq!(c, a, "DPDK reuses the released id");
    let mut again = started(c, pool);
    let mut peer = started(d, pool);
    cross(&mut again, &mut peer, 8);
    drop((again, peer, other));
}
