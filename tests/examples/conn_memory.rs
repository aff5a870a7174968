//! Resident memory as connections come and go: two simulated engines open
//! 60,000 connections (15,000 to each of four ports), then the client
//! aborts them all and the server closes its side. Prints the process's
//! resident memory before, with the connections, after they went, and
//! after the allocator's free pages are handed back (`malloc_trim`, as the
//! DPDK loop does when the count halves).
//!
//!     cargo run --release -p integration-tests --example conn_memory

use std::net::SocketAddrV4;
use std::time::Duration;

use integration_tests::{LinkConfig, Sim};

fn rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap();
    kb / 1024.0
}

extern "C" {
    fn malloc_trim(pad: usize) -> i32;
}

fn main() {
    let mut sim = Sim::new(1);
    let c = sim.add_host(1, LinkConfig::default());
    let s = sim.add_host(2, LinkConfig::default());
    let ports = [80u16, 81, 82, 83];
    let listeners: Vec<_> = ports
        .iter()
        .map(|&p| sim.nodes[s].engine.listen(p, 4096).unwrap())
        .collect();
    sim.run_for(Duration::from_millis(10));
    let before = rss_mb();
    let (mut clients, mut servers) = (Vec::new(), Vec::new());
    for round in 0..60 {
        for i in 0..1000 {
            let port = ports[(round * 1000 + i) % 4];
            let addr = SocketAddrV4::new(sim.nodes[s].ip, port);
            clients.push(sim.nodes[c].engine.connect(addr).unwrap());
        }
        sim.run_for(Duration::from_millis(50));
        for &l in &listeners {
            while let Ok((h, _)) = sim.nodes[s].engine.accept(l) {
                servers.push(h);
            }
        }
        let _ = sim.events(c);
        let _ = sim.events(s);
    }
    let held = (
        sim.nodes[c].engine.connection_count(),
        sim.nodes[s].engine.connection_count(),
    );
    let with = rss_mb();
    for h in clients {
        let _ = sim.nodes[c].engine.abort(h);
    }
    for h in servers {
        let _ = sim.nodes[s].engine.close(h);
    }
    sim.run_for(Duration::from_secs(5));
    let _ = sim.events(c);
    let _ = sim.events(s);
    let after = rss_mb();
    // SAFETY: malloc_trim takes no pointer; it walks glibc's free lists.
    unsafe { malloc_trim(0) };
    let trimmed = rss_mb();
    println!(
        "connections held: {} + {}; resident memory (MB): before {before:.0}, with them {with:.0}, \
         after they went {after:.0}, after malloc_trim {trimmed:.0}; left: {} + {}",
        held.0,
        held.1,
        sim.nodes[c].engine.connection_count(),
        sim.nodes[s].engine.connection_count()
    );
}
