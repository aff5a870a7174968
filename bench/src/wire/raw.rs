//! The raw baseline: the same device with no TCP at all. 64-byte frames
//! ping-ponged off the server's reflector (round-trip time), and 1514-byte
//! frames sent one way into the server's sink (packet rate). This is the
//! physical limit of the device on the machine; TCP is reported against it.

use std::time::Duration;

use dpdk_io::{Mbuf, MbufPool, Port, TscClock};
use hdrhistogram::Histogram;
use stack::{BufferPool, PacketBuf};

/// EtherType of frames the server reflects.
pub const REFLECT: u16 = 0x88b5;
/// EtherType of frames the server counts and drops.
pub const SINK: u16 = 0x88b6;

fn frame(
    pool: &mut MbufPool,
    dst: [u8; 6],
    src: [u8; 6],
    ethertype: u16,
    len: usize,
    seq: u64,
) -> Option<Mbuf> {
    let mut m = pool.alloc()?;
    let bytes = m.append(len)?;
    bytes[0..6].copy_from_slice(&dst);
    bytes[6..12].copy_from_slice(&src);
    bytes[12..14].copy_from_slice(&ethertype.to_be_bytes());
    bytes[14..22].copy_from_slice(&seq.to_be_bytes());
    Some(m)
}

/// Round trips of 64-byte frames for `measure` after `warmup`; returns the
/// histogram in ns.
pub fn ping_pong(
    port: &mut Port,
    pool: &mut MbufPool,
    peer: [u8; 6],
    me: [u8; 6],
    warmup: Duration,
    measure: Duration,
) -> Histogram<u64> {
    let clock = TscClock::start_now();
    let mut hist = super::client::histogram();
    let mut rx = Vec::with_capacity(32);
    let mut tx = Vec::with_capacity(1);
    let end_warmup = clock.now() + warmup;
    let end = end_warmup + measure;
    let mut seq = 0u64;
    loop {
        let t0 = clock.now();
        if t0 > end {
            break;
        }
        seq += 1;
        let Some(f) = frame(pool, peer, me, REFLECT, 64, seq) else {
            continue;
        };
        tx.push(f);
        while !tx.is_empty() {
            port.tx_burst(0, &mut tx);
        }
        let deadline = t0 + Duration::from_millis(100);
        'wait: loop {
            port.rx_burst(0, &mut rx, 32);
            for m in rx.drain(..) {
                let d = m.data();
                if d.len() >= 22
                    && d[12..14] == REFLECT.to_be_bytes()
                    && d[14..22] == seq.to_be_bytes()
                {
                    let t1 = clock.now();
                    if t0 > end_warmup {
                        let _ = hist.record((t1 - t0).as_nanos().max(1) as u64);
                    }
                    break 'wait;
                }
            }
            if clock.now() > deadline {
                break; // lost: send the next one
            }
        }
    }
    hist
}

/// Frames of `len` bytes per second the device takes from us towards the
/// server's sink over `measure` (the sink drains them as fast as it can; a
/// full ring slows us down to its pace).
pub fn one_way_rate(
    port: &mut Port,
    pool: &mut MbufPool,
    peer: [u8; 6],
    me: [u8; 6],
    len: usize,
    measure: Duration,
) -> f64 {
    let clock = TscClock::start_now();
    let mut tx: Vec<Mbuf> = Vec::with_capacity(32);
    let mut sent = 0u64;
    let start = clock.now();
    let end = start + measure;
    let mut seq = 0;
    while clock.now() < end {
        while tx.len() < 32 {
            seq += 1;
            match frame(pool, peer, me, SINK, len, seq) {
                Some(f) => tx.push(f),
                None => break,
            }
        }
        sent += port.tx_burst(0, &mut tx) as u64;
    }
    let secs = (clock.now() - start).as_secs_f64();
    drop(tx);
    sent as f64 / secs
}
