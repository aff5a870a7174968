//! `wire`: the wire benchmark tool.
//!
//! ```text
//! wire server --config FILE                  echo (7) + discard (9) + raw reflector
//! wire client --config FILE --server IP [--repetitions 3] [--seconds 1]
//!             [--linux FILE.json] [--json OUT.json] [--quick]
//!             [--only raw|rtt|rr|bulk|crr]   (one group, e.g. to profile it)
//! wire linux  [--repetitions 3] [--seconds 1] [--json OUT.json] [--quick]
//!             [--server IP --label linux-veth]   (servers of linux-server)
//! wire linux-server --bind IP                 kernel echo/discard/crr on 7, 9, 13
//! wire idle   --config FILE --server IP --count N [--json OUT.json]
//! wire loss   --config FILE --server IP --netns NS --peer-if IFACE
//!             [--rates 0,0.1,1,2,5,10] [--rr-loss 1] [--repetitions 3]
//!             [--seconds 2] [--json OUT.json] [--quick]
//! ```
//!
//! `client` measures, in one run: the raw device (64 B ping-pong RTT, 1514 B
//! one-way packet rate), then the stack: rtt (64 B, 1 KiB), rr (1, 16, 256
//! connections), bulk (one way, both ways), crr. `linux` measures the same
//! TCP workloads through the kernel over loopback; `client --linux` puts
//! them in its table. `loss` (run by `scripts/loss.sh`) sends bulk and rr
//! over a veth pair under random loss, from the stack and from Linux's
//! TCP, to the same Linux receiver. Every figure is the median of the repetitions with
//! its spread; the JSON has every sample. `server` runs until SIGINT.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use bench::wire::client::{BulkFlow, ConnectRequestResponse, Direction, IdleHold, RequestResponse};
use bench::wire::server::{WireServer, DISCARD_PORT, ECHO_PORT};
use bench::wire::{latency_figures, linux, raw, Figure, Report};
use dpdk_io::{App, Eal, RuntimeConfig, TscClock, Worker};

struct Opts {
    args: Vec<String>,
}

impl Opts {
    fn get(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.args.get(i + 1))
            .map(String::as_str)
    }
    fn has(&self, name: &str) -> bool {
        self.args.iter().any(|a| a == name)
    }
    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            Some(v) => v
                .parse()
                .map_err(|_| format!("{name}: `{v}` is not a number")),
            None => Ok(default),
        }
    }
}

fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn stop_flag() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(|e| e.to_string())?;
    }
    Ok(stop)
}

fn load(opts: &Opts) -> Result<RuntimeConfig, String> {
    let path = PathBuf::from(opts.get("--config").ok_or("--config FILE is required")?);
    RuntimeConfig::from_file(&path).map_err(|e| e.to_string())
}

fn server(opts: &Opts) -> Result<(), String> {
    let cfg = load(opts)?;
    let stop = stop_flag()?;
    let _eal = Eal::init(&cfg.eal_args()).map_err(|e| e.to_string())?;
    let mut worker = Worker::from_config(&cfg).map_err(|e| e.to_string())?;
    worker.raw_ethertypes(Some((raw::REFLECT, raw::SINK)));
    eprintln!(
        "wire server: echo :{ECHO_PORT}, discard :{DISCARD_PORT}, raw reflector on {}",
        cfg.port.device
    );
    let mut app = WireServer::default();
    worker.run(&mut app, &stop)?;
    eprintln!("wire server: {} connections served", app.accepted);
    eprintln!(
        "wire server {}; RX polls with the pool short: {}",
        bench::wire::memory_line(worker.engine.stats()),
        worker.stats.rx_pool_short
    );
    Ok(())
}

/// Runs `app` to completion on the worker.
fn run(worker: &mut Worker, app: &mut dyn App) -> Result<(), String> {
    let never = AtomicBool::new(false);
    worker.run(app, &never)
}

fn client(opts: &Opts) -> Result<(), String> {
    let cfg = load(opts)?;
    let server_ip: Ipv4Addr = opts
        .get("--server")
        .ok_or("--server IP is required")?
        .parse()
        .map_err(|_| "--server: not an IPv4 address")?;
    let quick = opts.has("--quick");
    let reps: usize = opts.num("--repetitions", if quick { 1 } else { 3 })?;
    let secs: f64 = opts.num("--seconds", if quick { 0.2 } else { 1.0 })?;
    let measure = Duration::from_secs_f64(secs);
    let warmup = measure / 5;
    let peer_mac = cfg
        .engine
        .neighbors
        .iter()
        .find(|n| n.ip == server_ip)
        .map(|n| n.mac.0)
        .ok_or("the server must be a static neighbour in the configuration (engine.neighbors)")?;
    let _eal = Eal::init(&cfg.eal_args()).map_err(|e| e.to_string())?;
    let mut worker = Worker::from_config(&cfg).map_err(|e| e.to_string())?;
    let me = worker.engine.config().mac.0;
    let clock = TscClock::start_now();
    let mut figures = Vec::new();

    // Wait for the link (a memif client connects to its server).
    let t = std::time::Instant::now();
    while !worker.link_up() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }

    let only = opts.get("--only").map(str::to_string);
    let wants = |group: &str| only.as_deref().is_none_or(|o| o == group);

    // The raw device: no TCP at all.
    let mut pool = worker.pool().clone();
    if wants("raw") {
        let pings: Vec<_> = (0..reps)
            .map(|_| raw::ping_pong(worker.port_mut(), &mut pool, peer_mac, me, warmup, measure))
            .collect();
        figures.extend(latency_figures("raw", "rtt 64 B", &pings));
        let rates: Vec<f64> = (0..reps)
            .map(|_| {
                raw::one_way_rate(worker.port_mut(), &mut pool, peer_mac, me, 1514, measure) / 1e6
            })
            .collect();
        figures.push(Figure::new("raw", "1514 B one way", "Mpps", rates));
    }

    let echo = SocketAddrV4::new(server_ip, ECHO_PORT);
    let discard = SocketAddrV4::new(server_ip, DISCARD_PORT);
    for size in [64usize, 1024].into_iter().filter(|_| wants("rtt")) {
        let mut runs = Vec::new();
        for _ in 0..reps {
            let mut app = RequestResponse::new(echo, 1, size, warmup, measure, clock);
            run(&mut worker, &mut app)?;
            check(app.error, "rtt")?;
            runs.push(app.hist);
        }
        let label = if size == 64 { "rtt 64 B" } else { "rtt 1 KiB" };
        figures.extend(latency_figures("stack", label, &runs));
    }
    for conns in [1usize, 16, 256].into_iter().filter(|_| wants("rr")) {
        let (mut rates, mut runs) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            let mut app = RequestResponse::new(echo, conns, 64, warmup, measure, clock);
            run(&mut worker, &mut app)?;
            check(app.error, "rr")?;
            rates.push(app.rate());
            runs.push(app.hist);
        }
        figures.push(Figure::new(
            "stack",
            &format!("rr {conns} conns"),
            "req/s",
            rates,
        ));
        figures.extend(
            latency_figures("stack", &format!("rr {conns} conns"), &runs)
                .into_iter()
                .filter(|f| f.name.ends_with("p50") || f.name.ends_with("p99")),
        );
    }
    for (dir, server, label) in [
        (Direction::OneWay, discard, "bulk one way"),
        (Direction::BothWays, echo, "bulk both ways"),
    ] {
        let mut rates = Vec::new();
        for _ in 0..reps {
            let mut app = BulkFlow::new(server, dir, measure);
            run(&mut worker, &mut app)?;
            check(app.error, label)?;
            rates.push(app.gbps());
        }
        figures.push(Figure::new("stack", label, "Gbit/s", rates));
    }
    if wants("crr") {
        let mut rates = Vec::new();
        for _ in 0..reps {
            let mut app = ConnectRequestResponse::new(echo, 16, 64, measure);
            run(&mut worker, &mut app)?;
            rates.push(app.rate());
        }
        figures.push(Figure::new("stack", "crr", "conn/s", rates));
    }

    let linux_files: Vec<&str> = opts
        .args
        .iter()
        .enumerate()
        .filter(|(_, a)| *a == "--linux")
        .filter_map(|(i, _)| opts.args.get(i + 1).map(String::as_str))
        .collect();
    for path in linux_files {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let linux: Vec<Figure> = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("figures").cloned())
            .and_then(|f| serde_json::from_value(f).ok())
            .ok_or(format!("{path}: not a wire report"))?;
        figures.extend(linux);
    }
    let report = Report {
        commit: commit(),
        date: date(),
        device: cfg.port.device.clone(),
        repetitions: reps,
        seconds_each: secs,
        figures,
        engine: Some(worker.engine.stats().clone()),
    };
    finish(opts, &report)?;
    println!(
        "client loop: RX polls with the pool short: {}",
        worker.stats.rx_pool_short
    );
    Ok(())
}

fn check(error: Option<stack::Error>, what: &str) -> Result<(), String> {
    match error {
        Some(e) => Err(format!("{what}: {e}")),
        None => Ok(()),
    }
}

fn finish(opts: &Opts, report: &Report) -> Result<(), String> {
    println!(
        "wire: {} on {} (commit {}), {} x {} s per figure",
        report.date, report.device, report.commit, report.repetitions, report.seconds_each
    );
    print!("{}", report.table());
    if let Some(stats) = &report.engine {
        println!("client {}", bench::wire::memory_line(stats));
    }
    if let Some(out) = opts.get("--json") {
        let json = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
        std::fs::write(out, json).map_err(|e| format!("{out}: {e}"))?;
    }
    Ok(())
}

fn linux_baseline(opts: &Opts) -> Result<(), String> {
    let quick = opts.has("--quick");
    let reps: usize = opts.num("--repetitions", if quick { 1 } else { 3 })?;
    let secs: f64 = opts.num("--seconds", if quick { 0.2 } else { 1.0 })?;
    let measure = Duration::from_secs_f64(secs);
    let warmup = measure / 5;
    let io = |e: std::io::Error| e.to_string();
    let sys = opts.get("--label").unwrap_or("linux-lo").to_string();
    let sys = sys.as_str();
    // In-process servers on loopback, or `wire linux-server` elsewhere.
    let local = match opts.get("--server") {
        None => Some(linux::servers(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST)).map_err(io)?),
        Some(_) => None,
    };
    let (echo_addr, discard_addr, crr_addr) = match (&local, opts.get("--server")) {
        (Some(s), _) => (s.echo, s.discard, s.crr),
        (None, Some(ip)) => {
            let ip: std::net::IpAddr = ip.parse().map_err(|_| "--server: not an IP address")?;
            let [e, d, c] = linux::FIXED_PORTS;
            ((ip, e).into(), (ip, d).into(), (ip, c).into())
        }
        (None, None) => unreachable!("one of the two is set"),
    };
    struct Addrs {
        echo: std::net::SocketAddr,
        discard: std::net::SocketAddr,
        crr: std::net::SocketAddr,
    }
    let s = Addrs {
        echo: echo_addr,
        discard: discard_addr,
        crr: crr_addr,
    };
    let mut figures = Vec::new();
    for (size, label) in [(64usize, "rtt 64 B"), (1024, "rtt 1 KiB")] {
        let runs: Vec<_> = (0..reps)
            .map(|_| linux::request_response(s.echo, 1, size, warmup, measure).map(|r| r.0))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        figures.extend(latency_figures(sys, label, &runs));
    }
    for conns in [1usize, 16, 256] {
        let runs: Vec<_> = (0..reps)
            .map(|_| linux::request_response(s.echo, conns, 64, warmup, measure))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        figures.push(Figure::new(
            sys,
            &format!("rr {conns} conns"),
            "req/s",
            runs.iter().map(|r| r.1).collect(),
        ));
        let hists: Vec<_> = runs.into_iter().map(|r| r.0).collect();
        figures.extend(
            latency_figures(sys, &format!("rr {conns} conns"), &hists)
                .into_iter()
                .filter(|f| f.name.ends_with("p50") || f.name.ends_with("p99")),
        );
    }
    let one: Vec<f64> = (0..reps)
        .map(|_| linux::bulk(s.discard, false, measure))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    figures.push(Figure::new(sys, "bulk one way", "Gbit/s", one));
    let both: Vec<f64> = (0..reps)
        .map(|_| linux::bulk(s.echo, true, measure))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    figures.push(Figure::new(sys, "bulk both ways", "Gbit/s", both));
    let crr: Vec<f64> = (0..reps)
        .map(|_| linux::connect_request_response(s.crr, 64, measure))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    figures.push(Figure::new(sys, "crr", "conn/s", crr));
    let report = Report {
        commit: commit(),
        date: date(),
        device: format!("{sys} (kernel TCP)"),
        repetitions: reps,
        seconds_each: secs,
        figures,
        engine: None,
    };
    finish(opts, &report)
}

fn linux_server(opts: &Opts) -> Result<(), String> {
    let ip: std::net::IpAddr = opts
        .get("--bind")
        .ok_or("--bind IP is required")?
        .parse()
        .map_err(|_| "--bind: not an IP address")?;
    let stop = stop_flag()?;
    let _servers = linux::servers_on(ip, Some(linux::FIXED_PORTS)).map_err(|e| e.to_string())?;
    eprintln!(
        "wire linux-server: echo, discard, crr on {ip} ports {:?}",
        linux::FIXED_PORTS
    );
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn idle(opts: &Opts) -> Result<(), String> {
    let mut cfg = load(opts)?;
    let server_ip: Ipv4Addr = opts
        .get("--server")
        .ok_or("--server IP is required")?
        .parse()
        .map_err(|_| "--server: not an IPv4 address")?;
    let count: usize = opts.num("--count", 100_000)?;
    cfg.engine.max_connections = count + 1024;
    let _eal = Eal::init(&cfg.eal_args()).map_err(|e| e.to_string())?;
    let mut worker = Worker::from_config(&cfg).map_err(|e| e.to_string())?;
    let rss_before = rss_bytes();
    let ports: Vec<u16> = (0..count.div_ceil(60_000).max(1) as u16)
        .map(|i| bench::wire::server::IDLE_PORT_BASE + i)
        .collect();
    let mut app = IdleHold::new(server_ip, ports, count);
    run(&mut worker, &mut app)?;
    let rss_after = rss_bytes();
    let engine_bytes = worker.engine.memory_footprint();
    let per_conn_rss = rss_after.saturating_sub(rss_before) as f64 / app.established.max(1) as f64;
    let per_conn_engine = engine_bytes as f64 / app.established.max(1) as f64;
    let figures = vec![
        Figure::new(
            "stack",
            &format!("idle {count} established"),
            "conns",
            vec![app.established as f64],
        ),
        Figure::new(
            "stack",
            "idle bytes/conn (engine)",
            "bytes",
            vec![per_conn_engine],
        ),
        Figure::new(
            "stack",
            "idle bytes/conn (RSS)",
            "bytes",
            vec![per_conn_rss],
        ),
    ];
    let report = Report {
        commit: commit(),
        date: date(),
        device: cfg.port.device.clone(),
        repetitions: 1,
        seconds_each: 0.0,
        figures,
        engine: Some(worker.engine.stats().clone()),
    };
    finish(opts, &report)
}

/// Resident set size of this process, from /proc.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// The `loss` section: see [`bench::wire::loss`]. Runs inside the setup
/// `scripts/loss.sh` makes (the veth pair, the namespace and its
/// `wire linux-server`, a kernel address beside the stack's).
fn loss(opts: &Opts) -> Result<(), String> {
    use bench::wire::loss::{self as l, LossReport, LossRow, Recovery};
    let cfg = load(opts)?;
    let server_ip: Ipv4Addr = opts
        .get("--server")
        .ok_or("--server IP (the Linux receiver) is required")?
        .parse()
        .map_err(|_| "--server: not an IPv4 address")?;
    let netns = opts.get("--netns").ok_or("--netns NAME is required")?;
    let peer_if = opts.get("--peer-if").ok_or("--peer-if IFACE is required")?;
    let quick = opts.has("--quick");
    let reps: usize = opts.num("--repetitions", if quick { 1 } else { 3 })?;
    let secs: f64 = opts.num("--seconds", if quick { 0.5 } else { 2.0 })?;
    let rr_rate: f64 = opts.num("--rr-loss", 1.0)?;
    let rates: Vec<f64> = opts
        .get("--rates")
        .unwrap_or("0,0.1,1,2,5,10")
        .split(',')
        .map(|r| {
            r.trim()
                .parse()
                .map_err(|_| format!("--rates: `{r}` is not a number"))
        })
        .collect::<Result<_, _>>()?;
    let measure = Duration::from_secs_f64(secs);
    let warmup = measure / 5;
    // Linux sends with CUBIC (the stack's default) and with the system's
    // default when that differs.
    let system_cc = l::default_congestion();
    let mut linux_ccs = vec!["cubic".to_string()];
    if system_cc != "cubic" && system_cc != "unknown" {
        linux_ccs.push(system_cc.clone());
    }
    let scratch = std::env::temp_dir();
    let [echo_port, discard_port, _] = linux::FIXED_PORTS;
    let discard = SocketAddrV4::new(server_ip, discard_port);
    let echo = SocketAddrV4::new(server_ip, echo_port);

    let _eal = Eal::init(&cfg.eal_args()).map_err(|e| e.to_string())?;
    let mut worker = Worker::from_config(&cfg).map_err(|e| e.to_string())?;
    let t = std::time::Instant::now();
    while !worker.link_up() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let clock = TscClock::start_now();
    let io = |e: std::io::Error| e.to_string();
    let stack_counters = |w: &Worker| Recovery::of_stack(w.engine.stats());

    let mut bulk = Vec::new();
    for &rate in &rates {
        l::set_loss(netns, peer_if, rate, &scratch)?;
        let mut stack_runs = Vec::new();
        let mut linux_runs = vec![Vec::new(); linux_ccs.len()];
        let mut stack_ctr = Recovery::default();
        let mut linux_ctr = vec![Recovery::default(); linux_ccs.len()];
        for _ in 0..reps {
            let before = stack_counters(&worker);
            let mut app = BulkFlow::new(discard, Direction::OneWay, measure);
            run(&mut worker, &mut app)?;
            check(app.error, "loss bulk")?;
            stack_runs.push(app.gbps() * 1000.0);
            stack_ctr = stack_ctr.plus(&stack_counters(&worker).since(&before));
            for (i, cc) in linux_ccs.iter().enumerate() {
                let before = Recovery::of_linux();
                let conn = l::connect_with(discard.into(), Some(cc)).map_err(io)?;
                let gbps = linux::bulk_on(conn, false, measure).map_err(io)?;
                linux_runs[i].push(gbps * 1000.0);
                linux_ctr[i] = linux_ctr[i].plus(&Recovery::of_linux().since(&before));
            }
        }
        let mut goodput = vec![Figure::new("stack", "bulk", "Mbit/s", stack_runs)];
        let mut counters = vec![("stack".to_string(), stack_ctr)];
        for (i, cc) in linux_ccs.iter().enumerate() {
            let system = format!("linux-{cc}");
            goodput.push(Figure::new(
                &system,
                "bulk",
                "Mbit/s",
                linux_runs[i].clone(),
            ));
            counters.push((system, linux_ctr[i]));
        }
        let row = LossRow {
            loss_percent: rate,
            goodput,
            counters,
            dropped: l::loss_drops(netns),
        };
        eprintln!(
            "wire loss: {rate} % done: {:?}",
            row.goodput.iter().map(|f| f.median).collect::<Vec<_>>()
        );
        bulk.push(row);
    }

    l::set_loss(netns, peer_if, rr_rate, &scratch)?;
    let mut rr = Vec::new();
    let mut rr_counters = Vec::new();
    let mut hists = Vec::new();
    let before = stack_counters(&worker);
    for _ in 0..reps {
        let mut app = RequestResponse::new(echo, 1, 64, warmup, measure, clock);
        run(&mut worker, &mut app)?;
        check(app.error, "loss rr")?;
        hists.push(app.hist);
    }
    rr_counters.push(("stack".to_string(), stack_counters(&worker).since(&before)));
    rr.extend(latency_figures("stack", "rr", &hists));
    for cc in &linux_ccs {
        let before = Recovery::of_linux();
        let mut hists = Vec::new();
        for _ in 0..reps {
            let conn = l::connect_with(echo.into(), Some(cc)).map_err(io)?;
            let (hist, _) =
                linux::request_response_on(vec![conn], 64, warmup, measure).map_err(io)?;
            hists.push(hist);
        }
        let system = format!("linux-{cc}");
        rr_counters.push((system.clone(), Recovery::of_linux().since(&before)));
        rr.extend(latency_figures(&system, "rr", &hists));
    }
    l::set_loss(netns, peer_if, 0.0, &scratch)?;

    let report = LossReport {
        commit: commit(),
        date: date(),
        linux_settings: format!(
            "sender in the root namespace over the same veth, offloads off on both ends \
             (real MTU frames); congestion control per row (system default {system_cc}); \
             SACK, timestamps, window scaling on; net.ipv4.tcp_recovery (RACK) and \
             tcp_early_retrans (TLP) at their defaults; Nagle off (TCP_NODELAY) for rr"
        ),
        repetitions: reps,
        seconds_each: secs,
        bulk,
        rr,
        rr_counters,
        rr_loss_percent: rr_rate,
    };
    println!(
        "wire loss: {} on {} (commit {})",
        report.date, cfg.port.device, report.commit
    );
    print!("{}", report.table());
    if let Some(out) = opts.get("--json") {
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(out, json).map_err(|e| format!("{out}: {e}"))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first().cloned() else {
        eprintln!("usage: wire (server|client|linux|idle) [options]: see the source's header");
        return ExitCode::FAILURE;
    };
    let opts = Opts {
        args: args[1..].to_vec(),
    };
    let result = match cmd.as_str() {
        "server" => server(&opts),
        "client" => client(&opts),
        "linux" => linux_baseline(&opts),
        "linux-server" => linux_server(&opts),
        "idle" => idle(&opts),
        "loss" => loss(&opts),
        other => Err(format!("unknown command `{other}`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wire: {e}");
            ExitCode::FAILURE
        }
    }
}
