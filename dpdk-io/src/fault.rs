//! A fault-injecting stage for a port's frames: seeded drop, duplicate,
//! reorder, delay and corrupt, on receive, transmit, or both. Every vdev
//! test and benchmark can switch it on from the configuration (`[fault]`).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use stack::{BufferPool, Instant, PacketBuf};

use crate::mbuf::{Mbuf, MbufPool};

/// Which frames the faults apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultDirection {
    /// Frames received from the port.
    Rx,
    /// Frames sent to the port.
    Tx,
    /// Both.
    Both,
}

/// What to inject. Probabilities are per frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// Seed of the fault pattern (the same seed gives the same faults for
    /// the same traffic). Default 1.
    pub seed: u64,
    /// Where faults apply. Default `"both"`.
    pub direction: FaultDirection,
    /// Frames dropped. Default 0.
    pub drop: f64,
    /// Frames sent twice. Default 0.
    pub duplicate: f64,
    /// Frames held back by `reorder_delay_us`. Default 0.
    pub reorder: f64,
    /// How long a reordered frame is held. Default 500 µs.
    pub reorder_delay_us: u64,
    /// Delay added to every frame. Default 0.
    pub delay_us: u64,
    /// Frames with one bit flipped (checksums catch it). Default 0.
    pub corrupt: f64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            seed: 1,
            direction: FaultDirection::Both,
            drop: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay_us: 500,
            delay_us: 0,
            corrupt: 0.0,
        }
    }
}

impl FaultConfig {
    /// Checks the probabilities; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, p) in [
            ("fault.drop", self.drop),
            ("fault.duplicate", self.duplicate),
            ("fault.reorder", self.reorder),
            ("fault.corrupt", self.corrupt),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "invalid configuration: `{key}`: {p} is not a probability in 0..=1"
                ));
            }
        }
        Ok(())
    }

    fn applies(&self, rx: bool) -> bool {
        matches!(
            (self.direction, rx),
            (FaultDirection::Both, _) | (FaultDirection::Rx, true) | (FaultDirection::Tx, false)
        )
    }
}

/// Counts of what was injected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FaultStats {
    /// Frames dropped.
    pub dropped: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Frames held back for reordering.
    pub reordered: u64,
    /// Frames with a flipped bit.
    pub corrupted: u64,
    /// Duplicates that could not be made (pool empty).
    pub no_buffer: u64,
}

/// SplitMix64, so a seed reproduces the same faults everywhere.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// The injector for one direction of one port.
pub struct FaultInjector {
    cfg: FaultConfig,
    rx: bool,
    rng: Rng,
    /// Frames held back, with their release time, in release order.
    held: VecDeque<(Instant, Mbuf)>,
    /// What was injected.
    pub stats: FaultStats,
}

impl FaultInjector {
    /// An injector for received (`rx`) or transmitted frames, or `None`
    /// when the configuration leaves that direction alone.
    pub fn new(cfg: &FaultConfig, rx: bool) -> Option<FaultInjector> {
        cfg.applies(rx).then(|| FaultInjector {
            cfg: cfg.clone(),
            rx,
            rng: Rng(cfg.seed ^ if rx { 0x5258 } else { 0x5458 }),
            held: VecDeque::new(),
            stats: FaultStats::default(),
        })
    }

    /// Whether this injector handles received frames.
    pub fn is_rx(&self) -> bool {
        self.rx
    }

    /// Passes `frames` through the faults: on return `frames` holds what
    /// goes on now (including held frames whose time has come).
    pub fn apply(&mut self, now: Instant, frames: &mut Vec<Mbuf>, pool: &mut MbufPool) {
        let delay = std::time::Duration::from_micros(self.cfg.delay_us);
        let reorder = std::time::Duration::from_micros(self.cfg.reorder_delay_us);
        for mut m in std::mem::take(frames) {
            if self.rng.chance(self.cfg.drop) {
                self.stats.dropped += 1;
                continue;
            }
            if self.rng.chance(self.cfg.corrupt) && !m.is_empty() {
                let at = (self.rng.next() % m.len() as u64) as usize;
                let bit = 1u8 << (self.rng.next() % 8);
                if let Some(bytes) = m.data_mut() {
                    bytes[at] ^= bit;
                    self.stats.corrupted += 1;
                }
            }
            if self.rng.chance(self.cfg.duplicate) {
                let copy = copy_frame(&m, pool);
                match copy {
                    Some(c) => {
                        self.stats.duplicated += 1;
                        self.hold(now + delay, c);
                    }
                    None => self.stats.no_buffer += 1,
                }
            }
            let mut release = now + delay;
            if self.rng.chance(self.cfg.reorder) {
                self.stats.reordered += 1;
                release += reorder;
            }
            self.hold(release, m);
        }
        while self.held.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, m)) = self.held.pop_front() {
                frames.push(m);
            }
        }
    }

    fn hold(&mut self, release: Instant, m: Mbuf) {
        let at = self.held.partition_point(|(t, _)| *t <= release);
        self.held.insert(at, (release, m));
    }

    /// Frames waiting for their release time.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

/// A deep copy of a (possibly chained) frame into one new mbuf.
fn copy_frame(m: &Mbuf, pool: &mut MbufPool) -> Option<Mbuf> {
    let mut c = pool.alloc()?;
    let bytes = m.frame_bytes();
    c.append(bytes.len())?.copy_from_slice(&bytes);
    Some(c)
}
