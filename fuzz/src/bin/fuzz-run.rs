//! Runs a fuzz target with the seeded mutator for a while:
//!
//!     fuzz-run TARGET [--seconds S] [--seed N]
//!
//! TARGET is `wire`, `engine_frame` or `engine_ops`. Prints the executions done; on a
//! broken invariant prints the seed and the input and exits non-zero.

use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: fuzz-run TARGET [--seconds S] [--seed N] (TARGET: wire, engine_frame, engine_ops)";
    let Some(name) = args.first() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    if stack_fuzz::target(name).is_none() {
        eprintln!("fuzz-run: unknown target `{name}`; {usage}");
        return ExitCode::from(2);
    }
    let mut seconds = 60u64;
    let mut seed = 1u64;
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), value) {
            ("--seconds", Some(v)) => seconds = v,
            ("--seed", Some(v)) => seed = v,
            _ => {
                eprintln!("fuzz-run: bad argument `{flag}`; {usage}");
                return ExitCode::from(2);
            }
        }
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let done = stack_fuzz::run(name, seed, u64::MAX, Some(deadline));
    println!(
        "fuzz-run {name}: {done} executions in {:.1} s (seed {seed}), no invariant broken",
        start.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
