//! What the measuring stack did during one workload, so that a figure
//! carries its own explanation: segments, retransmissions, drops by
//! reason, payload bytes copied, frames per burst, and the TSC cycles the
//! loop spent per segment. A slow run shows whether it lost packets,
//! copied, ran in small bursts or simply spent more cycles per segment.

use std::collections::BTreeMap;
use std::fmt;

use dpdk_io::{LoopStats, Worker};
use serde::{Deserialize, Serialize};

/// The counters at one moment (before or after a workload).
pub struct Snapshot {
    engine: stack::Stats,
    looped: LoopStats,
    tsc: u64,
}

impl Snapshot {
    /// The worker's counters now.
    pub fn take(worker: &Worker) -> Snapshot {
        Snapshot {
            engine: worker.engine.stats().clone(),
            looped: worker.stats.clone(),
            tsc: dpdk_io::rdtsc(),
        }
    }
}

/// The difference between two snapshots around one workload (all its
/// repetitions, warm-up included).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Explained {
    /// The workload, as the figures name it (`"bulk one way"`).
    pub workload: String,
    /// TCP segments the stack sent and received.
    pub segments_out: u64,
    /// TCP segments received.
    pub segments_in: u64,
    /// Segments sent again (all causes), and retransmission timeouts.
    pub retransmits: u64,
    /// Retransmission timeouts that expired.
    pub rto_expired: u64,
    /// Frames or segments dropped, by reason (only the reasons seen).
    pub drops: BTreeMap<String, u64>,
    /// Payload bytes copied on transmit after sharing failed.
    pub tx_copied_bytes: u64,
    /// Payload bytes under 256 per segment placed in header buffers.
    pub tx_inlined_bytes: u64,
    /// Received payload bytes copied between buffers.
    pub rx_copied_bytes: u64,
    /// Mean frames per non-empty receive poll.
    pub rx_frames_per_burst: f64,
    /// Mean frames per transmit burst.
    pub tx_frames_per_burst: f64,
    /// Transmit bursts the device did not take whole (its ring was full).
    pub tx_ring_full: u64,
    /// Frames of several segments the engine handed out
    /// (`offload.tx_segmentation`), and the frames the loop cut them into
    /// (the rest went to the device's TSO).
    #[serde(default)]
    pub multi_segment_frames: u64,
    #[serde(default)]
    pub cut_segments: u64,
    /// TSC cycles of busy loop iterations per TCP segment (in and out).
    pub cycles_per_segment: f64,
    /// Share of the workload's time the loop was busy moving frames.
    pub busy_share: f64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The drop counters as a map of reason to count.
fn drops_of(stats: &stack::Stats) -> BTreeMap<String, u64> {
    let value = serde_json::to_value(&stats.drops).unwrap_or_default();
    value
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

impl Explained {
    /// What happened between `before` and `after`.
    pub fn between(workload: &str, before: &Snapshot, after: &Snapshot) -> Explained {
        let (e0, e1) = (&before.engine, &after.engine);
        let (l0, l1) = (&before.looped, &after.looped);
        let d = |a: u64, b: u64| b.saturating_sub(a);
        let seg_out = d(e0.segments_out, e1.segments_out);
        let seg_in = d(e0.segments_in, e1.segments_in);
        let drops_before = drops_of(e0);
        let drops = drops_of(e1)
            .into_iter()
            .map(|(k, v)| {
                let was = drops_before.get(&k).copied().unwrap_or(0);
                (k, v.saturating_sub(was))
            })
            .filter(|&(_, n)| n > 0)
            .collect();
        let busy = d(l0.busy_cycles, l1.busy_cycles);
        Explained {
            workload: workload.to_string(),
            segments_out: seg_out,
            segments_in: seg_in,
            retransmits: d(e0.retransmits, e1.retransmits),
            rto_expired: d(e0.rto_expired, e1.rto_expired),
            drops,
            tx_copied_bytes: d(e0.tx_copied_bytes, e1.tx_copied_bytes),
            tx_inlined_bytes: d(e0.tx_inlined_bytes, e1.tx_inlined_bytes),
            rx_copied_bytes: d(e0.rx_copied_bytes, e1.rx_copied_bytes),
            rx_frames_per_burst: ratio(
                d(l0.rx_frames, l1.rx_frames),
                d(l0.rx_bursts, l1.rx_bursts),
            ),
            tx_frames_per_burst: ratio(
                d(l0.tx_frames, l1.tx_frames),
                d(l0.tx_bursts, l1.tx_bursts),
            ),
            tx_ring_full: d(l0.tx_ring_full, l1.tx_ring_full),
            multi_segment_frames: d(e0.tx_multi_segment_frames, e1.tx_multi_segment_frames),
            cut_segments: d(l0.tx_cut_segments, l1.tx_cut_segments),
            cycles_per_segment: ratio(busy, seg_out + seg_in),
            busy_share: ratio(busy, d(before.tsc, after.tsc)),
        }
    }
}

fn count(n: u64) -> String {
    match n {
        n if n >= 10_000_000 => format!("{:.0} M", n as f64 / 1e6),
        n if n >= 1_000_000 => format!("{:.1} M", n as f64 / 1e6),
        n if n >= 10_000 => format!("{:.0} k", n as f64 / 1e3),
        n => n.to_string(),
    }
}

impl fmt::Display for Explained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: segments {} out, {} in; {} retransmitted, {} timeouts; drops ",
            self.workload,
            count(self.segments_out),
            count(self.segments_in),
            count(self.retransmits),
            self.rto_expired
        )?;
        if self.drops.is_empty() {
            write!(f, "none")?;
        } else {
            let list: Vec<String> = self
                .drops
                .iter()
                .map(|(k, v)| format!("{k} {}", count(*v)))
                .collect();
            write!(f, "{}", list.join(", "))?;
        }
        write!(
            f,
            "; copied tx {} B (+{} B inlined), rx {} B; {:.1} frames per RX burst, {:.1} per TX \
             burst, TX ring full {}x; {:.0} cycles per segment, busy {:.0} %",
            count(self.tx_copied_bytes),
            count(self.tx_inlined_bytes),
            count(self.rx_copied_bytes),
            self.rx_frames_per_burst,
            self.tx_frames_per_burst,
            count(self.tx_ring_full),
            self.cycles_per_segment,
            self.busy_share * 100.0
        )?;
        if self.multi_segment_frames > 0 {
            write!(
                f,
                "; {} frames of several segments (cut into {} in software)",
                count(self.multi_segment_frames),
                count(self.cut_segments)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(segments: u64, busy: u64, tsc: u64, dropped: u64) -> Snapshot {
        let mut engine = stack::Stats {
            segments_out: segments,
            segments_in: segments / 2,
            ..stack::Stats::default()
        };
        engine.drops.out_of_window = dropped;
        let looped = LoopStats {
            rx_frames: segments / 2,
            rx_bursts: segments / 8,
            tx_frames: segments,
            tx_bursts: segments / 32,
            busy_cycles: busy,
            ..LoopStats::default()
        };
        Snapshot {
            engine,
            looped,
            tsc,
        }
    }

    #[test]
    fn differences_and_ratios_are_those_of_the_workload_alone() {
        let before = snapshot(6400, 1_000_000, 10_000_000, 3);
        let after = snapshot(6400 + 64_000, 1_000_000 + 96_000_000, 110_000_000, 10);
        let e = Explained::between("bulk one way", &before, &after);
        assert_eq!((e.segments_out, e.segments_in), (64_000, 32_000));
        assert_eq!(e.drops.get("out_of_window"), Some(&7));
        assert_eq!(e.drops.len(), 1, "{:?}", e.drops);
        assert_eq!(e.rx_frames_per_burst, 4.0);
        assert_eq!(e.tx_frames_per_burst, 32.0);
        assert_eq!(e.cycles_per_segment, 1000.0);
        assert!((e.busy_share - 0.96).abs() < 1e-9);
        let line = e.to_string();
        assert!(
            line.starts_with("bulk one way: segments 64 k out, 32 k in"),
            "{line}"
        );
        assert!(line.contains("drops out_of_window 7"), "{line}");
        assert!(
            line.contains("1000 cycles per segment, busy 96 %"),
            "{line}"
        );
    }
}
