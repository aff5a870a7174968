//! The wire benchmark tool: TCP workloads between two stack processes over
//! a DPDK port (net_memif by default), beside the raw device and the Linux
//! kernel measured in the same run. See `src/bin/wire.rs` for the command.

pub mod client;
pub mod explain;
pub mod linux;
pub mod loss;
pub mod provenance;
pub mod raw;
pub mod server;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// One figure measured several times: the median and the spread.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figure {
    /// What was measured, e.g. `"rtt 64 B p50"`.
    pub name: String,
    /// Unit: `"us"`, `"req/s"`, `"Gbit/s"`, `"conn/s"`, `"Mpps"`, `"bytes"`.
    pub unit: String,
    /// Which system: `"stack"`, `"raw"` or `"linux-lo"`.
    pub system: String,
    /// Median of the repetitions.
    pub median: f64,
    /// Smallest repetition.
    pub min: f64,
    /// Largest repetition.
    pub max: f64,
    /// Every repetition, in order.
    pub samples: Vec<f64>,
}

impl Figure {
    /// A figure from its repetitions.
    pub fn new(system: &str, name: &str, unit: &str, mut samples: Vec<f64>) -> Figure {
        let raw = samples.clone();
        samples.sort_by(|a, b| a.total_cmp(b));
        let median = match samples.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => samples[n / 2],
            n => (samples[n / 2 - 1] + samples[n / 2]) / 2.0,
        };
        Figure {
            name: name.into(),
            unit: unit.into(),
            system: system.into(),
            median,
            min: samples.first().copied().unwrap_or(f64::NAN),
            max: samples.last().copied().unwrap_or(f64::NAN),
            samples: raw,
        }
    }
}

/// Latency percentiles (in µs) of each repetition's histogram, as figures
/// named `"{what} p50"` ... `"{what} max"`.
pub fn latency_figures(system: &str, what: &str, runs: &[Histogram<u64>]) -> Vec<Figure> {
    let pick = |q: Option<f64>| -> Vec<f64> {
        runs.iter()
            .filter(|h| !h.is_empty())
            .map(|h| match q {
                Some(q) => h.value_at_quantile(q) as f64 / 1000.0,
                None => h.max() as f64 / 1000.0,
            })
            .collect()
    };
    [
        ("p50", Some(0.5)),
        ("p90", Some(0.9)),
        ("p99", Some(0.99)),
        ("p99.9", Some(0.999)),
        ("max", None),
    ]
    .into_iter()
    .map(|(label, q)| Figure::new(system, &format!("{what} {label}"), "us", pick(q)))
    .collect()
}

/// Everything one run measured, with what it ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The git commit of the tool, if known.
    pub commit: String,
    /// When the run started (UTC, RFC 3339-like).
    pub date: String,
    /// The device the stack figures were measured over.
    pub device: String,
    /// Repetitions per figure, and seconds each.
    pub repetitions: usize,
    /// Seconds measured per repetition.
    pub seconds_each: f64,
    /// Every figure.
    pub figures: Vec<Figure>,
    /// The measuring stack's counters at the end of the run (none for
    /// the kernel baselines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<stack::Stats>,
    /// What the measuring stack did in each workload (none for the
    /// kernel baselines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub explained: Vec<explain::Explained>,
}

/// One line on what the stack's packet-buffer memory did in a run: the
/// peak held against the limit, the levels reached, and what pressure
/// cost (collapses, prunes, data dropped for memory).
pub fn memory_line(stats: &stack::Stats) -> String {
    let m = &stats.memory;
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    format!(
        "memory: peak {:.1} MiB held of a {:.1} MiB limit (now {:.1} MiB: {} receive, {} \
         out-of-order, {} send buffers); rose to pressure {}x, critical {}x, reserved {}x; \
         {} segments collapsed ({} bytes copied); {} out-of-order queues pruned, {} timed \
         out; data dropped for memory {} (engine) {} (connection) {} (pool reserve); \
         writes refused {}",
        mib(m.peak_held),
        mib(m.limit),
        mib(m.held),
        m.bufs_recv,
        m.bufs_ooo,
        m.bufs_send,
        m.entered_pressure,
        m.entered_critical,
        m.entered_reserved,
        m.collapsed_segments,
        m.collapsed_bytes,
        m.ooo_pruned,
        m.ooo_timeouts,
        stats.drops.memory_pressure,
        stats.drops.conn_memory,
        stats.drops.pool_reserve,
        m.write_refused
    )
}

impl Report {
    fn find(&self, system: &str, name: &str) -> Option<&Figure> {
        self.figures
            .iter()
            .find(|f| f.system == system && f.name == name)
    }

    /// The human table: each stack figure beside the raw device and Linux
    /// (loopback and veth) figures of the same run. `vs raw` is the stack's
    /// cost over the bare device (latency: stack / raw; rate: raw / stack;
    /// 1.00x is the limit); `gain/lo` and `gain/veth` are how much better
    /// the stack does than Linux (latency: linux / stack; rate: stack /
    /// linux).
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "{:<26} {:>6} | {:>30} | {:>8} | {:>9} | {:>10} | {:>7} | {:>8} | {:>9}\n",
            "figure",
            "unit",
            "stack median [min - max]",
            "raw",
            "linux-lo",
            "linux-veth",
            "vs raw",
            "gain/lo",
            "gain/veth"
        ));
        let mut rows: Vec<&Figure> = self
            .figures
            .iter()
            .filter(|f| f.system == "stack")
            .collect();
        for f in &self.figures {
            if !rows.iter().any(|g| g.name == f.name) {
                rows.push(f);
            }
        }
        for f in rows {
            let get = |system: &str| self.find(system, &f.name);
            let (stack, raw, linux, veth) =
                (get("stack"), get("raw"), get("linux-lo"), get("linux-veth"));
            let latency = f.unit == "us";
            let cell =
                |x: Option<&Figure>| x.map_or("-".to_string(), |x| format!("{:.3}", x.median));
            let ratio = |num: Option<&Figure>, den: Option<&Figure>| match (num, den) {
                (Some(a), Some(b)) if b.median > 0.0 => format!("{:.2}x", a.median / b.median),
                _ => "-".into(),
            };
            let vs_raw = if latency {
                ratio(stack, raw)
            } else {
                ratio(raw, stack)
            };
            let gain = |l: Option<&Figure>| {
                if latency {
                    ratio(l, stack)
                } else {
                    ratio(stack, l)
                }
            };
            let stack_cell = stack.map_or("-".into(), |s| {
                format!("{:.3} [{:.3} - {:.3}]", s.median, s.min, s.max)
            });
            out.push_str(&format!(
                "{:<26} {:>6} | {:>30} | {:>8} | {:>9} | {:>10} | {:>7} | {:>8} | {:>9}\n",
                f.name,
                f.unit,
                stack_cell,
                cell(raw),
                cell(linux),
                cell(veth),
                vs_raw,
                gain(linux),
                gain(veth),
            ));
        }
        out
    }
}
