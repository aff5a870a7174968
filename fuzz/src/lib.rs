//! Fuzz targets for the stack, each checking invariants of its own beyond
//! "does not panic", and a seeded mutator that runs them on stable Rust
//! (`fuzz-run`, and a bounded smoke run in the test suite).
//!
//! - [`targets::wire`]: every wire parser; what parses is emitted again and
//!   must parse back the same.
//! - [`targets::engine_frame`]: one mutated frame into an engine that has
//!   an established connection (checksums made right again half the time,
//!   so mutations reach TCP); the engine's books stay straight, and once
//!   everything is closed no connection, timer, handle or buffer is left.
//! - [`targets::engine_ops`]: two engines and a connection between them
//!   driven by a script of API calls (on live and stale handles; urgent
//!   writes too), clock jumps, ICMP errors about frames in flight, and a
//!   channel that drops, duplicates and reorders as told; each side only
//!   ever reads a prefix of what the other wrote.

pub mod mutate;
pub mod targets;

use mutate::{mutate, Rng};

/// A target: bytes in, a panic on a broken invariant.
pub type Target = fn(&[u8]);

/// The targets by name.
pub fn target(name: &str) -> Option<(Target, usize)> {
    match name {
        "wire" => Some((targets::wire as Target, 2048)),
        "engine_frame" => Some((targets::engine_frame as Target, 1600)),
        "engine_ops" => Some((targets::engine_ops as Target, 512)),
        _ => None,
    }
}

/// The seed corpus of a target: real frames from a pair of engines.
pub fn corpus(name: &str) -> Vec<Vec<u8>> {
    let frames = targets::seed_frames();
    match name {
        "engine_frame" => frames
            .into_iter()
            .flat_map(|f| {
                let mut fixed = vec![0u8];
                fixed.extend_from_slice(&f);
                let mut raw = vec![1u8];
                raw.extend_from_slice(&f);
                [fixed, raw]
            })
            .collect(),
        // Scripts: write, exchange, read, close, over and over.
        "engine_ops" => vec![
            // Urgent writes, a "fragmentation needed" for the front frame.
            vec![
                0, 200, 13, 9, 3, 1, 14, 88, 3, 7, 2, 10, 3, 7, 0x81, 255, 2, 0x85, 3, 7,
            ],
            vec![
                0, 40, 3, 7, 2, 10, 3, 7, 0x81, 60, 3, 7, 1, 200, 8, 0, 3, 7, 2, 200,
            ],
            vec![
                0, 255, 3, 3, 4, 0, 3, 7, 2, 0x83, 3, 7, 0x81, 255, 1, 255, 9, 0,
            ],
            vec![
                10, 101, 0, 90, 8, 0, 3, 5, 2, 50, 3, 7, 0x81, 10, 0x87, 0, 3, 7,
            ],
        ],
        _ => frames,
    }
}

/// Runs `name` on `execs` mutated inputs from `seed`; returns how many
/// ran. A failing input is printed (hex) with the seed before the panic
/// propagates.
pub fn run(name: &str, seed: u64, execs: u64, deadline: Option<std::time::Instant>) -> u64 {
    let (target, max_len) = target(name).expect("a known target");
    let corpus = corpus(name);
    let mut rng = Rng::new(seed);
    let mut done = 0;
    while done < execs && deadline.is_none_or(|d| std::time::Instant::now() < d) {
        let mut input = corpus[rng.below(corpus.len())].clone();
        mutate(&mut input, &mut rng, max_len);
        let result = std::panic::catch_unwind(|| target(&input));
        if let Err(e) = result {
            eprintln!(
                "fuzz target {name}: failed at execution {done} with seed {seed}; input ({} bytes): {}",
                input.len(),
                input.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
            std::panic::resume_unwind(e);
        }
        done += 1;
    }
    done
}
