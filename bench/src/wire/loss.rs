//! The `loss` section: bulk transfers and request/response over one veth
//! pair whose far end, in a network namespace, drops a share of the TCP
//! frames at random in both directions (nftables: `tc netem` is not
//! always there). The same transfer runs with the stack as the sender and
//! with Linux as the sender, to the same Linux receiver, in one run; each
//! row carries the loss-recovery counters of its senders.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;

use serde::Serialize;

use super::Figure;

/// nftables rules in `netns` that drop `percent` % of the TCP frames
/// entering and leaving `dev` (replacing any earlier ones). Zero removes
/// them.
pub fn set_loss(netns: &str, dev: &str, percent: f64, scratch: &Path) -> Result<(), String> {
    let _ = Command::new("ip")
        .args([
            "netns", "exec", netns, "nft", "delete", "table", "netdev", "loss",
        ])
        .output();
    if percent <= 0.0 {
        return Ok(());
    }
    // numgen draws from 0..10,000: a hundredth of a percent.
    let threshold = (percent * 100.0).round() as u32;
    let ruleset = format!(
        "table netdev loss {{\n\
         chain in {{ type filter hook ingress device \"{dev}\" priority 0; \
         ip protocol tcp numgen random mod 10000 < {threshold} counter drop; }}\n\
         chain out {{ type filter hook egress device \"{dev}\" priority 0; \
         ip protocol tcp numgen random mod 10000 < {threshold} counter drop; }}\n}}\n"
    );
    let file = scratch.join("wire-loss.nft");
    std::fs::write(&file, &ruleset).map_err(|e| format!("{}: {e}", file.display()))?;
    let out = Command::new("ip")
        .args(["netns", "exec", netns, "nft", "-f"])
        .arg(&file)
        .output()
        .map_err(|e| format!("ip netns exec {netns} nft: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "nft -f in {netns}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Frames the loss rules dropped so far (in, out).
pub fn loss_drops(netns: &str) -> (u64, u64) {
    let out = Command::new("ip")
        .args([
            "netns", "exec", netns, "nft", "list", "table", "netdev", "loss",
        ])
        .output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let counts: Vec<u64> = text
        .lines()
        .filter_map(|l| l.split("packets ").nth(1))
        .filter_map(|v| v.split_whitespace().next()?.parse().ok())
        .collect();
    (
        counts.first().copied().unwrap_or(0),
        counts.get(1).copied().unwrap_or(0),
    )
}

/// Loss-recovery counters of one sender over one measurement: the
/// stack's from its engine, Linux's from `/proc/net/{snmp,netstat}` of
/// the sender's namespace.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Recovery {
    /// Segments sent again.
    pub retransmits: u64,
    /// Retransmission timeouts.
    pub rtos: u64,
    /// Fast recovery episodes (Linux: SACK and Reno recoveries).
    pub recoveries: u64,
    /// Tail loss probes sent.
    pub tlp: u64,
    /// Segments deemed lost by RACK (the stack only: Linux does not count
    /// them apart).
    pub rack_lost: u64,
    /// Spurious retransmissions undone (timeouts and recoveries).
    pub undone: u64,
}

impl Recovery {
    /// The stack's counters.
    pub fn of_stack(s: &stack::Stats) -> Recovery {
        Recovery {
            retransmits: s.retransmits,
            rtos: s.rto_expired,
            recoveries: s.recoveries,
            tlp: s.tlp_probes,
            rack_lost: s.rack_lost,
            undone: s.spurious_rtos + s.spurious_recoveries,
        }
    }

    /// Linux's counters in this process's network namespace.
    pub fn of_linux() -> Recovery {
        let snmp = proc_counters("/proc/net/snmp", "Tcp:");
        let ext = proc_counters("/proc/net/netstat", "TcpExt:");
        let get =
            |m: &[(String, u64)], k: &str| m.iter().find(|(n, _)| n == k).map_or(0, |(_, v)| *v);
        Recovery {
            retransmits: get(&snmp, "RetransSegs"),
            rtos: get(&ext, "TCPTimeouts"),
            recoveries: get(&ext, "TCPSackRecovery") + get(&ext, "TCPRenoRecovery"),
            tlp: get(&ext, "TCPLossProbes"),
            rack_lost: 0,
            undone: get(&ext, "TCPSpuriousRTOs")
                + get(&ext, "TCPFullUndo")
                + get(&ext, "TCPPartialUndo")
                + get(&ext, "TCPDSACKUndo")
                + get(&ext, "TCPLossUndo"),
        }
    }

    /// What happened between `before` and `self`.
    pub fn since(&self, before: &Recovery) -> Recovery {
        Recovery {
            retransmits: self.retransmits.saturating_sub(before.retransmits),
            rtos: self.rtos.saturating_sub(before.rtos),
            recoveries: self.recoveries.saturating_sub(before.recoveries),
            tlp: self.tlp.saturating_sub(before.tlp),
            rack_lost: self.rack_lost.saturating_sub(before.rack_lost),
            undone: self.undone.saturating_sub(before.undone),
        }
    }

    /// The sum of two measurements.
    pub fn plus(&self, o: &Recovery) -> Recovery {
        Recovery {
            retransmits: self.retransmits + o.retransmits,
            rtos: self.rtos + o.rtos,
            recoveries: self.recoveries + o.recoveries,
            tlp: self.tlp + o.tlp,
            rack_lost: self.rack_lost + o.rack_lost,
            undone: self.undone + o.undone,
        }
    }
}

/// `/proc/net/snmp`-style counters: a header line and a value line, both
/// starting with `prefix`.
fn proc_counters(path: &str, prefix: &str) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(prefix)).collect();
    let [names, values] = lines.as_slice() else {
        return Vec::new();
    };
    names
        .split_whitespace()
        .skip(1)
        .zip(values.split_whitespace().skip(1))
        .filter_map(|(n, v)| Some((n.to_string(), v.parse().ok()?)))
        .collect()
}

/// Connects a kernel TCP socket using congestion control `cc` (e.g.
/// `"cubic"`; `None`: the system default).
pub fn connect_with(server: SocketAddr, cc: Option<&str>) -> io::Result<TcpStream> {
    let Some(cc) = cc else {
        return TcpStream::connect(server);
    };
    // The algorithm must be set before the handshake for the initial
    // window to be its own; std has no unconnected socket, so connect via
    // libc and hand the descriptor to std.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a socket this function owns; from here `stream`
    // closes it on every path.
    let stream = unsafe { <TcpStream as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            cc.as_ptr().cast(),
            cc.len() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let SocketAddr::V4(v4) = server else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "IPv4 only"));
    };
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let rc = unsafe {
        libc::connect(
            stream.as_raw_fd(),
            (&addr as *const libc::sockaddr_in).cast(),
            core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stream)
}

/// The system's default congestion control (`net.ipv4.tcp_congestion_control`).
pub fn default_congestion() -> String {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// One loss rate's bulk figures and counters.
#[derive(Debug, Clone, Serialize)]
pub struct LossRow {
    /// Frames dropped each way, in percent.
    pub loss_percent: f64,
    /// Goodput per sender (`"stack"`, `"linux-cubic"`, ...), Mbit/s.
    pub goodput: Vec<Figure>,
    /// Counters per sender, summed over the repetitions.
    pub counters: Vec<(String, Recovery)>,
    /// Frames the rules dropped during the row (in, out at Linux's end).
    pub dropped: (u64, u64),
}

impl LossRow {
    /// Each sender's goodput as a share of its own goodput in `clean` (the
    /// row without loss): how much of what its data path can do the
    /// sender keeps under this loss, whatever that data path costs.
    pub fn kept(&self, clean: &LossRow) -> Vec<f64> {
        self.goodput
            .iter()
            .map(|f| {
                clean
                    .goodput
                    .iter()
                    .find(|c| c.system == f.system && c.median > 0.0)
                    .map_or(f64::NAN, |c| f.median / c.median)
            })
            .collect()
    }
}

/// The `loss` section of one run.
#[derive(Debug, Clone, Serialize)]
pub struct LossReport {
    /// The git commit of the tool, if known.
    pub commit: String,
    /// When the run started.
    pub date: String,
    /// Linux's settings on the sending side.
    pub linux_settings: String,
    /// Repetitions per figure, and seconds each.
    pub repetitions: usize,
    /// Seconds of sending per repetition.
    pub seconds_each: f64,
    /// Bulk, one row per loss rate.
    pub bulk: Vec<LossRow>,
    /// Request/response latency at the rr loss rate, per sender.
    pub rr: Vec<Figure>,
    /// Counters of the rr runs, per sender.
    pub rr_counters: Vec<(String, Recovery)>,
    /// The loss rate of the rr runs, percent.
    pub rr_loss_percent: f64,
}

impl LossReport {
    /// The human tables.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let systems: Vec<&str> = self
            .bulk
            .first()
            .map(|r| r.goodput.iter().map(|f| f.system.as_str()).collect())
            .unwrap_or_default();
        out.push_str(&format!(
            "bulk, one connection, Mbit/s median [min - max] of {} x {} s; kept: the share \
             of its own loss-free goodput each of the first two senders keeps; counters \
             summed (rtx retransmits, rto timeouts, rec recoveries, tlp probes, rack segments \
             RACK deemed lost, undo spurious undone)\n",
            self.repetitions, self.seconds_each
        ));
        out.push_str(&format!("{:>6}", "loss %"));
        for s in &systems {
            out.push_str(&format!(" | {:>26}", s));
        }
        if systems.len() > 1 {
            out.push_str(&format!(" | {:>12}", format!("stack/{}", systems[1])));
        }
        let clean = self.bulk.iter().find(|r| r.loss_percent == 0.0);
        if clean.is_some() {
            out.push_str(&format!(" | {:>13}", "kept"));
        }
        out.push_str(" | counters\n");
        for row in &self.bulk {
            out.push_str(&format!("{:>6}", row.loss_percent));
            for f in &row.goodput {
                out.push_str(&format!(
                    " | {:>26}",
                    format!("{:.1} [{:.1} - {:.1}]", f.median, f.min, f.max)
                ));
            }
            if let [stack, linux, ..] = row.goodput.as_slice() {
                let ratio = if linux.median > 0.0 {
                    format!("{:.2}x", stack.median / linux.median)
                } else {
                    "-".into()
                };
                out.push_str(&format!(" | {:>12}", ratio));
            }
            if let Some(clean) = clean {
                let kept: Vec<String> = row
                    .kept(clean)
                    .iter()
                    .take(2)
                    .map(|k| format!("{k:.2}"))
                    .collect();
                out.push_str(&format!(" | {:>13}", kept.join(" / ")));
            }
            out.push_str(" |");
            for (system, c) in &row.counters {
                out.push_str(&format!(" {system}: {}", counters_cell(c)));
            }
            out.push('\n');
        }
        if !self.rr.is_empty() {
            out.push_str(&format!(
                "\nrr, one connection, 64 B, at {} % loss: latency in us, median of the \
                 repetitions\n",
                self.rr_loss_percent
            ));
            let mut names: Vec<&str> = Vec::new();
            for f in &self.rr {
                if !names.contains(&f.name.as_str()) {
                    names.push(&f.name);
                }
            }
            let mut rr_systems: Vec<&str> = Vec::new();
            for f in &self.rr {
                if !rr_systems.contains(&f.system.as_str()) {
                    rr_systems.push(&f.system);
                }
            }
            out.push_str(&format!("{:<12}", "figure"));
            for s in &rr_systems {
                out.push_str(&format!(" | {:>26}", s));
            }
            out.push('\n');
            for name in names {
                out.push_str(&format!("{name:<12}"));
                for s in &rr_systems {
                    let cell = self
                        .rr
                        .iter()
                        .find(|f| f.system == *s && f.name == name)
                        .map_or("-".into(), |f| {
                            format!("{:.1} [{:.1} - {:.1}]", f.median, f.min, f.max)
                        });
                    out.push_str(&format!(" | {cell:>26}"));
                }
                out.push('\n');
            }
            for (system, c) in &self.rr_counters {
                out.push_str(&format!("{system}: {}\n", counters_cell(c)));
            }
        }
        out.push_str(&format!("Linux: {}\n", self.linux_settings));
        out
    }
}

fn counters_cell(c: &Recovery) -> String {
    format!(
        "rtx {} rto {} rec {} tlp {} rack {} undo {}",
        c.retransmits, c.rtos, c.recoveries, c.tlp, c.rack_lost, c.undone
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(loss_percent: f64, stack: f64, linux: f64) -> LossRow {
        LossRow {
            loss_percent,
            goodput: vec![
                Figure::new("stack", "bulk", "Mbit/s", vec![stack]),
                Figure::new("linux-cubic", "bulk", "Mbit/s", vec![linux]),
            ],
            counters: Vec::new(),
            dropped: (0, 0),
        }
    }

    #[test]
    fn kept_is_each_senders_share_of_its_own_clean_goodput() {
        let clean = row(0.0, 2000.0, 4000.0);
        let lossy = row(0.1, 1900.0, 3400.0);
        let kept = lossy.kept(&clean);
        assert!((kept[0] - 0.95).abs() < 1e-9, "{kept:?}");
        assert!((kept[1] - 0.85).abs() < 1e-9, "{kept:?}");
        let report = LossReport {
            commit: "c".into(),
            date: "d".into(),
            linux_settings: "s".into(),
            repetitions: 1,
            seconds_each: 1.0,
            bulk: vec![clean, lossy],
            rr: Vec::new(),
            rr_counters: Vec::new(),
            rr_loss_percent: 1.0,
        };
        let table = report.table();
        assert!(table.contains("0.95 / 0.85"), "{table}");
        assert!(table.contains("1.00 / 1.00"), "{table}");
    }
}
