//! Runs one of the engine's fast paths over mbufs a given number of
//! steps, for a counting tool to divide by: `scripts/per-segment.sh` runs
//! it under callgrind twice (N and 2N steps) and reports the difference
//! per step: instructions, and calls into DPDK and the C shim.
//!
//!     per-segment (rx | rx-software-checksum | tx | tx-segmented-8) STEPS

use bench::mbuf_paths::{Rx, Tx};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: per-segment (rx | rx-software-checksum | tx | tx-segmented-8) STEPS";
    let (Some(path), Some(steps)) = (args.get(1), args.get(2).and_then(|s| s.parse::<u64>().ok()))
    else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let mut step: Box<dyn FnMut()> = match path.as_str() {
        "rx" => {
            let mut rx = Rx::new("ps_rx", false);
            Box::new(move || rx.step())
        }
        "rx-software-checksum" => {
            let mut rx = Rx::new("ps_rx_sw", true);
            Box::new(move || rx.step())
        }
        "tx" => {
            let mut tx = Tx::new("ps_tx", false, 1);
            Box::new(move || tx.step())
        }
        "tx-segmented-8" => {
            let mut tx = Tx::new("ps_tx8", true, 8);
            Box::new(move || tx.step())
        }
        other => {
            eprintln!("unknown path {other:?}; {usage}");
            std::process::exit(2);
        }
    };
    for _ in 0..steps {
        step();
    }
}
