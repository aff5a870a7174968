//! The timing wheel: what one timer costs with 100,000 others pending
//! (about one TCP connection's worth each, at the scale the engine runs).
//!
//! - `insert_cancel`: arm and disarm (the common case: an RTO re-armed on
//!   every ACK);
//! - `insert_expire`: arm, let the clock pass it, collect it;
//! - `next_deadline`: what `poll_timeout` asks after every iteration.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use stack::timer::TimerWheel;
use stack::Instant;

const RESIDENT: u64 = 100_000;

fn populated() -> TimerWheel<u64> {
    let mut w = TimerWheel::with_capacity(
        Instant::ZERO,
        Duration::from_millis(1),
        RESIDENT as usize + 1024,
    );
    for i in 0..RESIDENT {
        // Spread over an hour, a day from now: far beyond any clock the
        // benchmark loops reach, so they stay pending throughout.
        w.insert(
            Instant::from_millis(86_400_000 + (i * 36_000) % 3_600_000),
            i,
        );
    }
    w
}

fn timers(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer_wheel_100k_pending");
    let mut w = populated();
    let mut n = 0u64;
    g.bench_function("insert_cancel", |b| {
        b.iter(|| {
            n += 1;
            let id = w.insert(Instant::from_millis(200 + n % 1000), n);
            black_box(w.cancel(id))
        })
    });
    let mut w = populated();
    let mut now = Instant::ZERO;
    g.bench_function("insert_expire", |b| {
        b.iter(|| {
            now += Duration::from_micros(1);
            w.insert(now + Duration::from_nanos(500), 1);
            // Advance past it: collect whatever is due (just that one).
            let later = now + Duration::from_nanos(600);
            while let Some(t) = w.poll_expired(later) {
                black_box(t);
            }
        })
    });
    let w = populated();
    g.bench_function("next_deadline", |b| b.iter(|| black_box(w.next_deadline())));
    g.finish();
}

criterion_group!(benches, timers);
criterion_main!(benches);
