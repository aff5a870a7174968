//! The engine tells a `tracing` subscriber what happens to connections:
//! the handshake, each retransmission timeout, the reset that ends a
//! connection, and every drop with its reason. (A test binary of its own:
//! the subscriber is the process's, so no other test races its callsites.)

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stack::wire::{EthernetAddress, Ipv4Cidr};
use stack::{Engine, EngineConfig, HeapPool, Instant, StaticNeighbor};

/// Collects the targets and messages of events.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<(String, String)>>>);

impl tracing::Subscriber for Events {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut m = Message(String::new());
        event.record(&mut m);
        let target = event.metadata().target().to_string();
        self.0.lock().unwrap().push((target, m.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn config(me: u8, peer: u8) -> EngineConfig {
    let mut c = EngineConfig {
        mac: EthernetAddress([2, 0, 0, 0, 0, me]),
        address: Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, me), 24).unwrap(),
        neighbors: vec![StaticNeighbor {
            ip: Ipv4Addr::new(10, 0, 0, peer),
            mac: EthernetAddress([2, 0, 0, 0, 0, peer]),
        }],
        ..EngineConfig::default()
    };
    c.tcp.max_retransmits = 1;
    c
}

/// Moves every frame between the engines (A's are lost when `lose`).
fn exchange(a: &mut Engine<HeapPool>, b: &mut Engine<HeapPool>, now: Instant, lose: bool) {
    for _ in 0..10 {
        let mut moved = false;
        while let Some(f) = a.poll_transmit(now) {
            moved = true;
            if !lose {
                let buf = b.pool_mut().alloc_with(&f.to_vec()).unwrap();
                b.handle_rx(now, buf);
            }
        }
        while let Some(f) = b.poll_transmit(now) {
            moved = true;
            let buf = a.pool_mut().alloc_with(&f.to_vec()).unwrap();
            a.handle_rx(now, buf);
        }
        if !moved {
            return;
        }
    }
}

#[test]
fn connection_events_reach_a_tracing_subscriber() {
    let events = Events::default();
    tracing::subscriber::set_global_default(events.clone()).unwrap();
    let pool = || HeapPool::new(256, 2176, 128);
    let t0 = Instant::ZERO;
    let mut a = Engine::new(config(1, 2), pool(), [1; 16], t0).unwrap();
    let mut b = Engine::new(config(2, 1), pool(), [2; 16], t0).unwrap();
    b.listen(80, 4).unwrap();
    let h = a
        .connect(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80))
        .unwrap();
    exchange(&mut a, &mut b, t0, false);
    assert_eq!(a.write(h, b"x"), Ok(1));
    // A's segments are lost from now on: a timeout, then the reset.
    let mut now = t0;
    for _ in 0..4 {
        exchange(&mut a, &mut b, now, true);
        now += Duration::from_secs(1);
        a.handle_timeouts(now);
    }
    exchange(&mut a, &mut b, now, true);
    let junk = a.pool_mut().alloc_with(&[0u8; 10]).unwrap();
    a.handle_rx(now, junk);

    let seen = events.0.lock().unwrap().clone();
    let has = |target: &str, message: &str| seen.iter().any(|(t, m)| t == target && m == message);
    assert!(has("stack::conn", "connection established"), "{seen:?}");
    assert!(has("stack::rto", "retransmission timeout"), "{seen:?}");
    assert!(
        has("stack::conn", "connection ends with a reset"),
        "{seen:?}"
    );
    assert!(has("stack::drop", "dropped"), "{seen:?}");
}
