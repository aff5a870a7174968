//! Window scaling (RFC 7323 section 2): negotiated only when both SYNs
//! carry the option; windows beyond 64 KiB then flow, and data arrives
//! intact.

use std::time::Duration;

use integration_tests::transfer::{Receiver, Sender};
use integration_tests::{LinkConfig, Sim};
use stack::Shutdown;

const MIB: u64 = 1 << 20;

fn config(n: u8, scaling: bool) -> stack::EngineConfig {
    let mut c = Sim::host_config(n);
    c.tcp.window_scaling = scaling;
    c.tcp.recv_buffer = 1 << 20;
    c.tcp.send_buffer = 2 << 20;
    c
}

/// 16 MiB each way between a host with and one with or without scaling;
/// returns the trace's segments.
fn exchange(a_scales: bool, b_scales: bool) -> (Sim, Vec<(usize, integration_tests::Segment)>) {
    let mut sim = Sim::new(0x7323);
    // A long, fast link: a 64 KiB window would be the bottleneck.
    let link = LinkConfig {
        delay: Duration::from_millis(5),
        bandwidth_bps: 10_000_000_000,
        max_queue_delay: Duration::from_millis(100),
        ..LinkConfig::default()
    };
    let a = sim.add_node_with(config(1, a_scales), 16 * 1024, link.clone());
    let b = sim.add_node_with(config(2, b_scales), 16 * 1024, link);
    sim.tracing = true;
    let l = sim.nodes[b].engine.listen(80, 4).unwrap();
    let (ha, hb) = sim.open(a, b, l, 80);
    let (mut sa, mut sb) = (Sender::new(1, 16 * MIB), Sender::new(2, 16 * MIB));
    let (mut ra, mut rb) = (Receiver::default(), Receiver::default());
    let (mut shut_a, mut shut_b) = (false, false);
    let done = sim.run_until(Duration::from_secs(600), |sim| {
        for (node, h, s, r, shut) in [
            (a, ha, &mut sa, &mut ra, &mut shut_a),
            (b, hb, &mut sb, &mut rb, &mut shut_b),
        ] {
            let e = &mut sim.nodes[node].engine;
            s.pump(e, h).unwrap();
            r.pump(e, h).unwrap();
            if s.done() && !*shut {
                e.shutdown(h, Shutdown::Write).unwrap();
                *shut = true;
            }
            while e.poll_event().is_some() {}
        }
        ra.eof && rb.eof
    });
    assert!(done, "transfer did not finish");
    assert_eq!(rb.digest(), sa.digest(), "a -> b intact");
    assert_eq!(ra.digest(), sb.digest(), "b -> a intact");
    let segs = sim.segments();
    (sim, segs)
}

#[test]
fn both_offering_scale_windows_beyond_64_kib() {
    let (sim, segs) = exchange(true, true);
    // Both SYNs carry the option: a 1 MiB buffer needs a shift of 5.
    let syns: Vec<_> = segs.iter().filter(|(_, s)| s.flags.contains('S')).collect();
    assert_eq!(syns.len(), 2);
    assert!(syns.iter().all(|(_, s)| s.wscale == Some(5)), "{syns:?}");
    // After the handshake the window field is scaled: a field above
    // 65535 >> 5 means a window beyond 64 KiB was advertised.
    let big = segs
        .iter()
        .filter(|(_, s)| !s.flags.contains('S'))
        .any(|(_, s)| usize::from(s.window) << 5 > 65_535);
    assert!(big, "no window beyond 64 KiB was advertised");
    let secs = sim.now.as_nanos() as f64 / 1e9;
    println!("16 MiB each way with window scaling: {secs:.2} s virtual");
}

#[test]
fn scaling_needs_both_syns_to_carry_the_option() {
    let (unscaled, segs) = exchange(true, false);
    let syns: Vec<_> = segs.iter().filter(|(_, s)| s.flags.contains('S')).collect();
    assert_eq!(syns.len(), 2);
    // The offer goes out, the answer has none: no scaling either way.
    assert_eq!(syns[0].1.wscale, Some(5));
    assert_eq!(syns[1].1.wscale, None);
    // So each direction is held to 64 KiB per 10 ms round trip: on the
    // same link and seed, the transfer takes far longer (virtual time is
    // deterministic) than with scaling on, and was intact all the same.
    let (scaled, _) = exchange(true, true);
    let (slow, fast) = (unscaled.now.as_nanos(), scaled.now.as_nanos());
    assert!(slow > 4 * fast, "unscaled {slow} ns vs scaled {fast} ns");
}
