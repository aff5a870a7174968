//! `wire`: the wire benchmark tool.
//!
//! ```text
//! wire server --config FILE                  echo (7) + discard (9) + raw reflector
//! wire client --config FILE --server IP [--repetitions 3] [--seconds 1]
//!             [--linux FILE.json]... [--extra FILE.json]... [--json OUT.json]
//!             [--quick] [--only raw|rtt|rr|bulk|crr]   (one group, e.g. to profile it)
//! wire linux  [--repetitions 3] [--seconds 1] [--json OUT.json] [--quick]
//!             [--server IP --label linux-veth]   (servers of linux-server)
//! wire linux-server --bind IP                 kernel echo/discard/crr on 7, 9, 13
//! wire idle   --config FILE --server IP [--count 100000] [--json OUT.json]
//! wire loss   --config FILE --server IP --netns NS --peer-if IFACE
//!             [--rates 0,0.1,1,2,5,10] [--rr-loss 1] [--repetitions 3]
//!             [--seconds 2] [--json OUT.json] [--quick]
//! ```
//!
//! `wire --help` and `wire COMMAND --help` describe every command and
//! option (the doc comments of [`Cli`] and [`Command`] below); wrong
//! arguments are rejected before anything starts, with exit status 2.
//!
//! `client` measures, in one run: the raw device (64 B ping-pong RTT, 1514 B
//! one-way packet rate), then the stack: rtt (64 B, 1 KiB), rr (1, 16, 256
//! connections), bulk (one way, both ways), crr. `linux` measures the same
//! TCP workloads through the kernel over loopback; `client --linux` puts
//! them in its table. `loss` (run by `scripts/loss.sh`) sends bulk and rr
//! over a veth pair under random loss, from the stack and from Linux's
//! TCP, to the same Linux receiver. Every figure is the median of the repetitions with
//! its spread; the JSON has every sample. `server` runs until SIGINT.

use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use bench::wire::client::{BulkFlow, ConnectRequestResponse, Direction, IdleHold, RequestResponse};
use bench::wire::explain::{Explained, Snapshot};
use bench::wire::provenance;
use bench::wire::server::{WireServer, DISCARD_PORT, ECHO_PORT};
use bench::wire::{latency_figures, linux, raw, Figure, Report};
use dpdk_io::{App, Eal, RuntimeConfig, TscClock, Worker};

/// The wire benchmark tool: TCP workloads between two stack processes
/// over a DPDK port, beside the raw device and Linux's TCP.
///
/// Run "wire server" on one side of a port and "wire client" on the other;
/// "wire linux" measures the same TCP workloads through the kernel, and
/// "wire client --linux" puts them in its table. Every figure is the
/// median of the repetitions with its spread; --json writes every sample.
/// scripts/demo.sh runs it all over net_memif, scripts/loss.sh the loss
/// section.
#[derive(Debug, Parser)]
#[command(name = "wire", version, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the client: echo (port 7), discard (9) and a raw-frame
    /// reflector, until SIGINT or SIGTERM
    Server {
        /// The runtime configuration (TOML; e.g.
        /// configs/bench-memif-server.toml).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },

    /// Measures the raw device, then the stack's TCP, against a wire server
    ///
    /// In one run: the raw device without TCP (64 B ping-pong RTT, 1514 B
    /// one-way packet rate), then the stack: rtt (64 B, 1 KiB), rr (1, 16,
    /// 256 connections), bulk (one way, both ways), crr.
    Client(ClientArgs),

    /// Measures the same TCP workloads through Linux's TCP
    ///
    /// Over loopback with servers in this process, or, with --server,
    /// against "wire linux-server" elsewhere (e.g. behind a veth pair).
    Linux(LinuxArgs),

    /// Linux's TCP servers for "wire linux --server" and "wire loss":
    /// echo, discard, crr on ports 7, 9, 13, until SIGINT or SIGTERM
    LinuxServer {
        /// The address to listen on.
        #[arg(long, value_name = "IP")]
        bind: IpAddr,
    },

    /// Holds N idle connections to a wire server and reports memory per
    /// connection
    ///
    /// Memory per connection by the engine's own accounting and by the
    /// process's resident set size.
    Idle(IdleArgs),

    /// Bulk and rr under random loss, the stack and Linux's TCP as senders
    ///
    /// Runs inside the setup scripts/loss.sh makes: a veth pair into a
    /// namespace with "wire linux-server" in it, nftables there dropping
    /// the given share of TCP frames in both directions, and a kernel
    /// address beside the stack's. The same one-connection bulk transfer
    /// runs from the stack and from Linux's TCP (with CUBIC and with the
    /// system's default algorithm), rate after rate; then rr (one
    /// connection, 64 B) at --rr-loss.
    Loss(LossArgs),
}

/// A group of `wire client` figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Group {
    /// The raw device: ping-pong RTT and one-way packet rate.
    Raw,
    /// Round-trip time over one connection, 64 B and 1 KiB.
    Rtt,
    /// Request/response over 1, 16 and 256 connections.
    Rr,
    /// Bulk transfer, one way and both ways.
    Bulk,
    /// Connect, request, response, close.
    Crr,
}

#[derive(Debug, Args)]
struct ClientArgs {
    /// The runtime configuration (TOML; e.g.
    /// configs/bench-memif-client.toml).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The wire server's address (a static neighbour in the
    /// configuration's engine.neighbors).
    #[arg(long, value_name = "IP")]
    server: Ipv4Addr,
    /// Repetitions per figure [default: 3, or 1 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    repetitions: Option<u32>,
    /// Seconds measured per repetition [default: 1, or 0.2 with --quick].
    #[arg(long, value_name = "S", value_parser = seconds)]
    seconds: Option<f64>,
    /// One repetition of 0.2 s per figure, unless given otherwise.
    #[arg(long)]
    quick: bool,
    /// Measure only this group (e.g. to profile it).
    #[arg(long, value_enum, value_name = "GROUP")]
    only: Option<Group>,
    /// A report of "wire linux" (its --json) whose figures go into the
    /// table; may be given more than once.
    #[arg(long, value_name = "FILE.json")]
    linux: Vec<PathBuf>,
    /// A report of another "wire client" run (its --json) whose figures go
    /// into the table as rows of their own, e.g. bulk at MTU 9000; may be
    /// given more than once.
    #[arg(long, value_name = "FILE.json")]
    extra: Vec<PathBuf>,
    /// Write the report, with every sample, as JSON to this file.
    #[arg(long, value_name = "OUT.json")]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct LinuxArgs {
    /// Repetitions per figure [default: 3, or 1 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    repetitions: Option<u32>,
    /// Seconds measured per repetition [default: 1, or 0.2 with --quick].
    #[arg(long, value_name = "S", value_parser = seconds)]
    seconds: Option<f64>,
    /// One repetition of 0.2 s per figure, unless given otherwise.
    #[arg(long)]
    quick: bool,
    /// Measure against "wire linux-server" at this address instead of
    /// servers on loopback in this process.
    #[arg(long, value_name = "IP")]
    server: Option<IpAddr>,
    /// The system name the figures carry (the client's table knows
    /// linux-lo and linux-veth).
    #[arg(long, value_name = "NAME", default_value = "linux-lo")]
    label: String,
    /// Write the report, with every sample, as JSON to this file.
    #[arg(long, value_name = "OUT.json")]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct IdleArgs {
    /// The runtime configuration (TOML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The wire server's address.
    #[arg(long, value_name = "IP")]
    server: Ipv4Addr,
    /// How many connections to open and hold.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    count: usize,
    /// Write the report as JSON to this file.
    #[arg(long, value_name = "OUT.json")]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct LossArgs {
    /// The runtime configuration of the stack's side (TOML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The Linux receiver's address ("wire linux-server" in the
    /// namespace).
    #[arg(long, value_name = "IP")]
    server: Ipv4Addr,
    /// The network namespace the receiver and the loss rules are in.
    #[arg(long, value_name = "NS")]
    netns: String,
    /// The receiver's interface in that namespace.
    #[arg(long, value_name = "IFACE")]
    peer_if: String,
    /// Loss rates of the bulk rows, in percent, comma-separated.
    #[arg(
        long,
        value_name = "P,P,...",
        value_delimiter = ',',
        value_parser = loss_percent,
        default_value = "0,0.1,1,2,5,10"
    )]
    rates: Vec<f64>,
    /// Loss rate of the rr rows, in percent.
    #[arg(long, value_name = "P", value_parser = loss_percent, default_value_t = 1.0)]
    rr_loss: f64,
    /// Repetitions per figure [default: 3, or 1 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    repetitions: Option<u32>,
    /// Seconds measured per repetition [default: 2, or 0.5 with --quick].
    #[arg(long, value_name = "S", value_parser = seconds)]
    seconds: Option<f64>,
    /// One repetition of 0.5 s per figure, unless given otherwise.
    #[arg(long)]
    quick: bool,
    /// Write the report, with every sample, as JSON to this file.
    #[arg(long, value_name = "OUT.json")]
    json: Option<PathBuf>,
}

/// A measuring time in seconds: a positive, finite number.
fn seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    match Duration::try_from_secs_f64(v) {
        Ok(d) if !d.is_zero() => Ok(v),
        _ => Err(format!("`{s}` is not a positive number of seconds")),
    }
}

/// A loss rate in percent, from 0 to 100.
fn loss_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{s}` is not a percentage from 0 to 100"))
    }
}

/// Repetitions and seconds per figure: as given, or the defaults (the
/// quick ones with --quick).
fn measuring(
    repetitions: Option<u32>,
    seconds: Option<f64>,
    quick: bool,
    (full_secs, quick_secs): (f64, f64),
) -> (usize, f64) {
    let reps = repetitions.map_or(if quick { 1 } else { 3 }, |r| r as usize);
    let secs = seconds.unwrap_or(if quick { quick_secs } else { full_secs });
    (reps, secs)
}

fn stop_flag() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(|e| e.to_string())?;
    }
    Ok(stop)
}

fn load(path: &Path) -> Result<RuntimeConfig, String> {
    RuntimeConfig::from_file(path).map_err(|e| e.to_string())
}

fn server(config: &Path) -> Result<(), String> {
    let cfg = load(config)?;
    let stop = stop_flag()?;
    let _eal = Eal::init(&cfg.eal_args()).map_err(|e| e.to_string())?;
    let mut worker = Worker::from_config(&cfg).map_err(|e| e.to_string())?;
    worker.raw_ethertypes(Some((raw::REFLECT, raw::SINK)));
    eprintln!(
        "wire server: echo :{ECHO_PORT}, discard :{DISCARD_PORT}, raw reflector on {}",
        cfg.port.device
    );
    let mut app = WireServer::default();
    let before = Snapshot::take(&worker);
    worker.run(&mut app, &stop).map_err(|e| e.to_string())?;
    eprintln!("wire server: {} connections served", app.accepted);
    eprintln!(
        "wire server, {}",
        Explained::between("whole run", &before, &Snapshot::take(&worker))
    );
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
    worker.run(app, &never).map_err(|e| e.to_string())
}

fn client(args: &ClientArgs) -> Result<(), String> {
    let cfg = load(&args.config)?;
    let server_ip = args.server;
    let (reps, secs) = measuring(args.repetitions, args.seconds, args.quick, (1.0, 0.2));
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

    let wants = |group: Group| args.only.is_none_or(|o| o == group);

    // The raw device: no TCP at all.
    let mut pool = worker.pool().clone();
    if wants(Group::Raw) {
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
    let mut explained = Vec::new();
    for size in [64usize, 1024].into_iter().filter(|_| wants(Group::Rtt)) {
        let before = Snapshot::take(&worker);
        let mut runs = Vec::new();
        for _ in 0..reps {
            let mut app = RequestResponse::new(echo, 1, size, warmup, measure, clock);
            run(&mut worker, &mut app)?;
            check(app.error, "rtt")?;
            runs.push(app.hist);
        }
        let label = if size == 64 { "rtt 64 B" } else { "rtt 1 KiB" };
        explained.push(Explained::between(label, &before, &Snapshot::take(&worker)));
        figures.extend(latency_figures("stack", label, &runs));
    }
    for conns in [1usize, 16, 256].into_iter().filter(|_| wants(Group::Rr)) {
        let before = Snapshot::take(&worker);
        let (mut rates, mut runs) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            let mut app = RequestResponse::new(echo, conns, 64, warmup, measure, clock);
            run(&mut worker, &mut app)?;
            check(app.error, "rr")?;
            rates.push(app.rate());
            runs.push(app.hist);
        }
        let label = format!("rr {conns} conns");
        explained.push(Explained::between(
            &label,
            &before,
            &Snapshot::take(&worker),
        ));
        figures.push(Figure::new("stack", &label, "req/s", rates));
        figures.extend(
            latency_figures("stack", &format!("rr {conns} conns"), &runs)
                .into_iter()
                .filter(|f| f.name.ends_with("p50") || f.name.ends_with("p99")),
        );
    }
    for (dir, server, label) in [
        (Direction::OneWay, discard, "bulk one way"),
        (Direction::BothWays, echo, "bulk both ways"),
    ]
    .into_iter()
    .filter(|_| wants(Group::Bulk))
    {
        let before = Snapshot::take(&worker);
        let mut rates = Vec::new();
        for _ in 0..reps {
            let mut app = BulkFlow::new(server, dir, measure);
            run(&mut worker, &mut app)?;
            check(app.error, label)?;
            rates.push(app.gbps());
        }
        explained.push(Explained::between(label, &before, &Snapshot::take(&worker)));
        figures.push(Figure::new("stack", label, "Gbit/s", rates));
    }
    if wants(Group::Crr) {
        let before = Snapshot::take(&worker);
        let mut rates = Vec::new();
        for _ in 0..reps {
            let mut app = ConnectRequestResponse::new(echo, 16, 64, measure);
            run(&mut worker, &mut app)?;
            rates.push(app.rate());
        }
        explained.push(Explained::between("crr", &before, &Snapshot::take(&worker)));
        figures.push(Figure::new("stack", "crr", "conn/s", rates));
    }

    // Figures measured at another MTU than Ethernet's are named with it
    // ("bulk one way, MTU 9000"), so they sit beside the others; so are
    // their workloads.
    if cfg.engine.mtu != 1500 {
        let tag = format!(", MTU {}", cfg.engine.mtu);
        for f in &mut figures {
            f.name.push_str(&tag);
        }
        for e in &mut explained {
            e.workload.push_str(&tag);
        }
    }
    for file in args.linux.iter().chain(&args.extra) {
        let path = file.display();
        let text = std::fs::read_to_string(file).map_err(|e| format!("{path}: {e}"))?;
        let linux: Vec<Figure> = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("figures").cloned())
            .and_then(|f| serde_json::from_value(f).ok())
            .ok_or(format!("{path}: not a wire report"))?;
        figures.extend(linux);
    }
    let report = Report {
        commit: provenance::commit(),
        date: provenance::now(),
        device: cfg.port.device.clone(),
        repetitions: reps,
        seconds_each: secs,
        figures,
        engine: Some(worker.engine.stats().clone()),
        explained,
    };
    finish(args.json.as_deref(), &report)?;
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

fn finish(json: Option<&Path>, report: &Report) -> Result<(), String> {
    println!(
        "wire: {} on {} (commit {}), {} x {} s per figure",
        report.date, report.device, report.commit, report.repetitions, report.seconds_each
    );
    print!("{}", report.table());
    if !report.explained.is_empty() {
        println!("what the client's stack did in each workload (all repetitions):");
        for e in &report.explained {
            println!("  {e}");
        }
    }
    if let Some(stats) = &report.engine {
        println!("client {}", bench::wire::memory_line(stats));
    }
    if let Some(out) = json {
        let json = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
        std::fs::write(out, json).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok(())
}

fn linux_baseline(args: &LinuxArgs) -> Result<(), String> {
    let (reps, secs) = measuring(args.repetitions, args.seconds, args.quick, (1.0, 0.2));
    let measure = Duration::from_secs_f64(secs);
    let warmup = measure / 5;
    let io = |e: std::io::Error| e.to_string();
    let sys = args.label.as_str();
    // In-process servers on loopback, or `wire linux-server` elsewhere.
    let local = match args.server {
        None => Some(linux::servers(IpAddr::V4(Ipv4Addr::LOCALHOST)).map_err(io)?),
        Some(_) => None,
    };
    let (echo_addr, discard_addr, crr_addr) = match (&local, args.server) {
        (Some(s), _) => (s.echo, s.discard, s.crr),
        (None, Some(ip)) => {
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
        commit: provenance::commit(),
        date: provenance::now(),
        device: format!("{sys} (kernel TCP)"),
        repetitions: reps,
        seconds_each: secs,
        figures,
        engine: None,
        explained: Vec::new(),
    };
    finish(args.json.as_deref(), &report)
}

fn linux_server(ip: IpAddr) -> Result<(), String> {
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

fn idle(args: &IdleArgs) -> Result<(), String> {
    let mut cfg = load(&args.config)?;
    let (server_ip, count) = (args.server, args.count);
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
        commit: provenance::commit(),
        date: provenance::now(),
        device: cfg.port.device.clone(),
        repetitions: 1,
        seconds_each: 0.0,
        figures,
        engine: Some(worker.engine.stats().clone()),
        explained: Vec::new(),
    };
    finish(args.json.as_deref(), &report)
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
fn loss(args: &LossArgs) -> Result<(), String> {
    use bench::wire::loss::{self as l, LossReport, LossRow, Recovery};
    let cfg = load(&args.config)?;
    let server_ip = args.server;
    let (netns, peer_if) = (args.netns.as_str(), args.peer_if.as_str());
    let (reps, secs) = measuring(args.repetitions, args.seconds, args.quick, (2.0, 0.5));
    let rr_rate = args.rr_loss;
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
    for &rate in &args.rates {
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
        commit: provenance::commit(),
        date: provenance::now(),
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
    if let Some(out) = &args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(out, json).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // RUST_LOG=stack=debug and the like: the engine's and the loop's events.
    dpdk_io::init_logging();
    let result = match &cli.command {
        Command::Server { config } => server(config),
        Command::Client(args) => client(args),
        Command::Linux(args) => linux_baseline(args),
        Command::LinuxServer { bind } => linux_server(*bind),
        Command::Idle(args) => idle(args),
        Command::Loss(args) => loss(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wire: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("wire").chain(args.iter().copied())).map(|c| c.command)
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    // The invocations of scripts/demo.sh and scripts/loss.sh.
    #[test]
    fn scripts_parse() {
        let Command::Linux(a) = parse(&["linux", "--quick", "--json", "o/linux.json"]).unwrap()
        else {
            panic!("not linux")
        };
        assert!(a.quick && a.server.is_none() && a.label == "linux-lo");
        assert_eq!(
            measuring(a.repetitions, a.seconds, a.quick, (1.0, 0.2)),
            (1, 0.2)
        );
        let Command::Linux(a) = parse(&[
            "linux",
            "--server",
            "10.98.0.2",
            "--label",
            "linux-veth",
            "--json",
            "o/veth.json",
        ])
        .unwrap() else {
            panic!("not linux")
        };
        assert_eq!(a.server, Some("10.98.0.2".parse().unwrap()));
        assert_eq!(a.label, "linux-veth");
        assert_eq!(
            measuring(a.repetitions, a.seconds, a.quick, (1.0, 0.2)),
            (3, 1.0)
        );
        assert!(matches!(
            parse(&["linux-server", "--bind", "10.98.0.2"]).unwrap(),
            Command::LinuxServer { .. }
        ));
        assert!(matches!(
            parse(&["server", "--config", "configs/bench-memif-server.toml"]).unwrap(),
            Command::Server { .. }
        ));
        let Command::Client(a) = parse(&[
            "client",
            "--config",
            "configs/bench-memif-client.toml",
            "--server",
            "10.20.0.1",
            "--quick",
            "--linux",
            "o/linux.json",
            "--linux",
            "o/veth.json",
            "--extra",
            "o/jumbo.json",
            "--json",
            "o/wire.json",
        ])
        .unwrap() else {
            panic!("not client")
        };
        assert_eq!(a.linux.len(), 2);
        assert_eq!(a.extra, [PathBuf::from("o/jumbo.json")]);
        assert_eq!(a.only, None);
        let Command::Client(a) = parse(&[
            "client",
            "--config",
            "configs/jumbo-memif-client.toml",
            "--server",
            "10.20.0.1",
            "--quick",
            "--only",
            "bulk",
            "--json",
            "o/jumbo.json",
        ])
        .unwrap() else {
            panic!("not client")
        };
        assert_eq!(a.only, Some(Group::Bulk));
        let Command::Loss(a) = parse(&[
            "loss",
            "--config",
            "o/loss-stack.toml",
            "--server",
            "10.99.0.2",
            "--netns",
            "stkpeerl",
            "--peer-if",
            "stk1l",
            "--json",
            "o/loss.json",
            "--quick",
        ])
        .unwrap() else {
            panic!("not loss")
        };
        assert_eq!(a.rates, [0.0, 0.1, 1.0, 2.0, 5.0, 10.0]);
        assert_eq!(a.rr_loss, 1.0);
        assert_eq!(
            measuring(a.repetitions, a.seconds, a.quick, (2.0, 0.5)),
            (1, 0.5)
        );
    }

    #[test]
    fn options_parse() {
        let Command::Client(a) = parse(&[
            "client",
            "--config",
            "c",
            "--server",
            "10.0.0.1",
            "--only",
            "bulk",
            "--repetitions",
            "2",
            "--seconds",
            "0.5",
        ])
        .unwrap() else {
            panic!("not client")
        };
        assert_eq!(a.only, Some(Group::Bulk));
        assert_eq!(
            measuring(a.repetitions, a.seconds, a.quick, (1.0, 0.2)),
            (2, 0.5)
        );
        let Command::Loss(a) = parse(&[
            "loss",
            "--config",
            "c",
            "--server",
            "10.0.0.1",
            "--netns",
            "n",
            "--peer-if",
            "i",
            "--rates",
            "0, 2.5,10",
            "--rr-loss",
            "5",
        ])
        .unwrap() else {
            panic!("not loss")
        };
        assert_eq!(a.rates, [0.0, 2.5, 10.0]);
        assert_eq!(a.rr_loss, 5.0);
        let Command::Idle(a) = parse(&["idle", "--config", "c", "--server", "10.0.0.1"]).unwrap()
        else {
            panic!("not idle")
        };
        assert_eq!(a.count, 100_000);
    }

    #[test]
    fn wrong_arguments_are_rejected() {
        let kind = |args: &[&str]| parse(args).unwrap_err().kind();
        let client = ["client", "--config", "c", "--server", "10.0.0.1"];
        let with =
            |extra: &[&'static str]| -> Vec<&str> { client.iter().chain(extra).copied().collect() };
        assert_eq!(kind(&with(&["--onyl", "rr"])), ErrorKind::UnknownArgument);
        assert_eq!(kind(&with(&["--only", "udp"])), ErrorKind::InvalidValue);
        assert_eq!(kind(&with(&["--seconds", "0"])), ErrorKind::ValueValidation);
        assert_eq!(
            kind(&with(&["--seconds", "NaN"])),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&with(&["--repetitions", "0"])),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["client", "--config", "c"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            kind(&["client", "--config", "c", "--server", "::1"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(kind(&["server"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(
            kind(&["server", "--config", "c", "--quick"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            kind(&["linux-server", "--bind", "here"]),
            ErrorKind::ValueValidation
        );
        let loss = [
            "loss", "--config", "c", "--server", "10.0.0.1", "--netns", "n",
        ];
        assert_eq!(kind(&loss), ErrorKind::MissingRequiredArgument);
        let loss: Vec<&str> = loss.iter().chain(&["--peer-if", "i"]).copied().collect();
        let with =
            |extra: &[&'static str]| -> Vec<&str> { loss.iter().chain(extra).copied().collect() };
        assert_eq!(kind(&with(&["--rates", "0,x"])), ErrorKind::ValueValidation);
        assert_eq!(kind(&with(&["--rates", "101"])), ErrorKind::ValueValidation);
        assert_eq!(
            kind(&with(&["--rr-loss", "150"])),
            ErrorKind::ValueValidation
        );
        assert_eq!(kind(&["bench"]), ErrorKind::InvalidSubcommand);
    }
}
