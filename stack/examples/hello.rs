//! Two engines wired back to back in one process: a client sends a line,
//! half-closes, and reads the server's reply until end of stream.
//!
//! Run with `cargo run -p stack --example hello`.

use std::net::{Ipv4Addr, SocketAddrV4};

use stack::wire::{EthernetAddress, Ipv4Cidr};
use stack::{
    BufferPool, Engine, EngineConfig, EventKind, HeapPool, Instant, PacketBuf, Shutdown,
    StaticNeighbor,
};

fn host(n: u8, peer: u8) -> EngineConfig {
    EngineConfig {
        mac: EthernetAddress([2, 0, 0, 0, 0, n]),
        address: Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, n), 24).unwrap(),
        neighbors: vec![StaticNeighbor {
            ip: Ipv4Addr::new(10, 0, 0, peer),
            mac: EthernetAddress([2, 0, 0, 0, 0, peer]),
        }],
        ..EngineConfig::default()
    }
}

/// The driver: moves frames between the two engines (a NIC and a cable in
/// real life), runs their timers, and advances the clock.
fn step(engines: &mut [Engine<HeapPool>; 2], pools: &mut [HeapPool; 2], now: &mut Instant) {
    for from in 0..2 {
        while let Some(frame) = engines[from].poll_transmit(*now) {
            let to = 1 - from;
            let mut rx = pools[to].alloc().expect("a free buffer");
            rx.append(frame.len())
                .expect("room")
                .copy_from_slice(&frame.to_vec());
            engines[to].handle_rx(*now, rx);
        }
    }
    *now += std::time::Duration::from_millis(1);
    for e in engines.iter_mut() {
        e.handle_timeouts(*now);
    }
}

fn main() {
    let mut pools = [HeapPool::new(256, 2176, 128), HeapPool::new(256, 2176, 128)];
    // In production the secret comes from a real random source.
    let mut engines = [
        Engine::new(host(1, 2), pools[0].clone(), [0x11; 16], Instant::ZERO).unwrap(),
        Engine::new(host(2, 1), pools[1].clone(), [0x22; 16], Instant::ZERO).unwrap(),
    ];
    let mut now = Instant::ZERO;

    let listener = engines[1].listen(7, 16).unwrap();
    let client = engines[0]
        .connect(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 7))
        .unwrap();
    let mut server = None;
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];

    for _ in 0..1000 {
        step(&mut engines, &mut pools, &mut now);
        while let Some(ev) = engines[0].poll_event() {
            match ev.kind {
                EventKind::Connected => {
                    engines[0].write(client, b"hello, stack\n").unwrap();
                    // Half-close: we are done sending, but still read.
                    engines[0].shutdown(client, Shutdown::Write).unwrap();
                }
                EventKind::Readable => loop {
                    match engines[0].read(client, &mut buf) {
                        Ok(0) => {
                            println!(
                                "client read: {:?}, then end of stream",
                                String::from_utf8_lossy(&reply)
                            );
                            engines[0].close(client).unwrap();
                            return;
                        }
                        Ok(n) => reply.extend_from_slice(&buf[..n]),
                        Err(_) => break, // WouldBlock: wait for the next event
                    }
                },
                _ => {}
            }
        }
        while let Some(ev) = engines[1].poll_event() {
            if ev.kind == EventKind::Acceptable {
                let (h, peer) = engines[1].accept(listener).unwrap();
                println!("server accepted {peer}");
                server = Some(h);
            } else if Some(ev.handle) == server && ev.kind == EventKind::Readable {
                let h = ev.handle;
                while let Ok(n) = engines[1].read(h, &mut buf) {
                    if n == 0 {
                        // The client half-closed: answer, then close.
                        engines[1].write(h, b"hi, client").unwrap();
                        engines[1].close(h).unwrap();
                        break;
                    }
                    print!("server read: {}", String::from_utf8_lossy(&buf[..n]));
                }
            }
        }
    }
    panic!("the exchange did not finish");
}
