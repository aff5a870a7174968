//! `stackd`: runs one stack engine on a DPDK port with one of the example
//! applications.
//!
//! ```text
//! stackd --config FILE [--stats] [--duration-ms N] [--settle-ms N] COMMAND [OPTIONS]
//!
//!   echo        [--port 7]               echo server (zero copy)
//!   discard     [--port 9]               discard server
//!   seed-server [--port 9527] [--delay-ms 3000]
//!                                        seed 000's server: replies "Hi, <msg>"
//!   seed-client --to IP:PORT             seed 000's client: stdin lines are
//!                                        sent; "shutdown" half-closes,
//!                                        "close" closes
//!   bulk        (--listen PORT | --connect IP:PORT) [--bytes N] [--seed N]
//!                                        send N bytes while receiving, then
//!                                        print both SHA-256 hashes
//!   closer      --to IP:PORT --mode (unread|abort|linger) [--linger-ms N]
//!               [--fill true|false]      open one connection and end it one
//!                                        way: close with unread data,
//!                                        abort, or close with linger N ms
//!                                        (after filling the send buffer,
//!                                        with --fill true)
//! ```
//!
//! `--settle-ms N`: when the application has finished, keep the loop
//! running until every connection is in TIME_WAIT or CLOSED (what was
//! sent, FIN included, is acknowledged), for at most N ms.
//!
//! With several EAL lcores (`eal.lcores = "0-1"`), the servers (echo,
//! discard) run one engine per core on the multi-core runtime; the other
//! commands need a single lcore.
//!
//! SIGINT or SIGTERM stops the loop cleanly. `--stats` prints the engine's
//! and the loop's counters as JSON on exit.

use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dpdk_io::apps::{Bulk, BulkRole, ClientCommand, Discard, Echo, SeedClient, SeedServer};
use dpdk_io::apps::{CloseMode, Closer, Settle};
use dpdk_io::{App, Eal, Runtime, RuntimeConfig, Worker};

struct Args {
    config: PathBuf,
    stats: bool,
    duration: Option<Duration>,
    command: String,
    opts: Vec<(String, String)>,
}

fn usage() -> String {
    "usage: stackd --config FILE [--stats] [--duration-ms N] [--settle-ms N] \
     (echo|discard|seed-server|seed-client|bulk|closer) [--port N] [--delay-ms N] \
     [--to IP:PORT] [--listen PORT|--connect IP:PORT] [--bytes N] [--seed N] \
     [--mode unread|abort|linger] [--linger-ms N] [--fill true|false]"
        .into()
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut config, mut stats, mut duration, mut command) = (None, false, None, None);
    let mut opts = Vec::new();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" => config = Some(PathBuf::from(it.next().ok_or("--config needs a file")?)),
            "--stats" => stats = true,
            "--duration-ms" => {
                let v = it.next().ok_or("--duration-ms needs a number")?;
                duration =
                    Some(Duration::from_millis(v.parse().map_err(|_| {
                        format!("--duration-ms: `{v}` is not a number")
                    })?));
            }
            "-h" | "--help" => return Err(usage()),
            flag if flag.starts_with("--") => {
                let v = it.next().ok_or(format!("{flag} needs a value"))?;
                opts.push((flag.to_string(), v));
            }
            cmd if command.is_none() => command = Some(cmd.to_string()),
            other => return Err(format!("unexpected argument `{other}`\n{}", usage())),
        }
    }
    Ok(Args {
        config: config.ok_or_else(|| format!("--config is required\n{}", usage()))?,
        stats,
        duration,
        command: command.ok_or_else(usage)?,
        opts,
    })
}

fn opt<T: std::str::FromStr>(args: &Args, name: &str, default: Option<T>) -> Result<T, String> {
    match args.opts.iter().find(|(k, _)| k == name) {
        Some((_, v)) => v.parse().map_err(|_| format!("{name}: `{v}` is not valid")),
        None => default.ok_or(format!("{name} is required")),
    }
}

fn print_line(line: String) {
    println!("{line}");
}

fn app_for(args: &Args) -> Result<Box<dyn App>, String> {
    Ok(match args.command.as_str() {
        "echo" => Box::new(Echo::new(opt(args, "--port", Some(7))?)),
        "discard" => Box::new(Discard::new(opt(args, "--port", Some(9))?)),
        "seed-server" => Box::new(SeedServer::new(
            opt(args, "--port", Some(9527))?,
            Duration::from_millis(opt(args, "--delay-ms", Some(3000))?),
            Box::new(print_line),
        )),
        "seed-client" => {
            let to: SocketAddrV4 = opt(args, "--to", None)?;
            let (tx, rx) = crossbeam::channel::unbounded();
            // stdin is read on its own thread; lines reach the engine loop
            // through a lock-free channel.
            std::thread::spawn(move || {
                let mut line = String::new();
                while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                    if tx.send(ClientCommand::parse(&line)).is_err() {
                        break;
                    }
                    line.clear();
                }
            });
            Box::new(SeedClient::new(
                to,
                rx,
                Duration::from_secs(6),
                Box::new(print_line),
            ))
        }
        "bulk" => {
            let role = match (
                args.opts.iter().find(|o| o.0 == "--listen"),
                args.opts.iter().find(|o| o.0 == "--connect"),
            ) {
                (Some(_), None) => BulkRole::Listen(opt(args, "--listen", None)?),
                (None, Some(_)) => BulkRole::Connect(opt(args, "--connect", None)?),
                _ => {
                    return Err(
                        "bulk needs exactly one of --listen PORT and --connect IP:PORT".into(),
                    )
                }
            };
            Box::new(Bulk::new(
                role,
                opt(args, "--bytes", Some(64 << 20))?,
                opt(args, "--seed", Some(1))?,
            ))
        }
        "closer" => {
            let mode = match opt::<String>(args, "--mode", None)?.as_str() {
                "unread" => CloseMode::Unread,
                "abort" => CloseMode::Abort,
                "linger" => {
                    CloseMode::Linger(Duration::from_millis(opt(args, "--linger-ms", None)?))
                }
                other => {
                    return Err(format!(
                        "--mode: `{other}` is not one of unread, abort, linger"
                    ))
                }
            };
            Box::new(Closer::new(
                opt(args, "--to", None)?,
                mode,
                opt(args, "--fill", Some(false))?,
                Box::new(print_line),
            ))
        }
        other => return Err(format!("unknown command `{other}`\n{}", usage())),
    })
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let cfg = RuntimeConfig::from_file(&args.config).map_err(|e| e.to_string())?;
    let mut app = app_for(&args)?;
    if args.opts.iter().any(|(k, _)| k == "--settle-ms") {
        let limit = Duration::from_millis(opt(&args, "--settle-ms", None)?);
        app = Box::new(Settle::new(app, limit));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| format!("signal handler: {e}"))?;
    }
    if let Some(d) = args.duration {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(d);
            stop.store(true, Ordering::Relaxed);
        });
    }
    let eal = Eal::init(&cfg.eal_args()).map_err(|e| format!("EAL: {e}"))?;
    if eal.lcore_count() > 1 {
        return run_multicore(&args, &cfg, eal.lcore_count() as usize, &stop);
    }
    let mut worker =
        Worker::from_config(&cfg).map_err(|e| format!("port {}: {e}", cfg.port.device))?;
    eprintln!(
        "stackd: {} on {} as {} ({}), link {}",
        args.command,
        cfg.port.device,
        cfg.engine.address,
        worker.engine.config().mac,
        if worker.link_up() {
            "up"
        } else {
            "down (waiting for the peer)"
        }
    );
    worker.run(app.as_mut(), &stop)?;
    if let Some(report) = app.report() {
        println!("{report}");
    }
    if args.stats {
        let out = serde_json::json!({
            "engine": worker.engine.stats(),
            "loop": worker.stats,
            "fault": { "rx": worker.fault_stats().0, "tx": worker.fault_stats().1 },
            "port": worker.port().stats().ok(),
        });
        println!("{out}");
    }
    drop(worker);
    drop(app);
    drop(eal);
    Ok(())
}

/// One engine per lcore (servers only): each core runs its own instance
/// of the application, and every core listens.
fn run_multicore(
    args: &Args,
    cfg: &RuntimeConfig,
    cores: usize,
    stop: &AtomicBool,
) -> Result<(), String> {
    let apps: Vec<Box<dyn App + Send>> = (0..cores)
        .map(|_| -> Result<Box<dyn App + Send>, String> {
            Ok(match args.command.as_str() {
                "echo" => Box::new(Echo::new(opt(args, "--port", Some(7))?)),
                "discard" => Box::new(Discard::new(opt(args, "--port", Some(9))?)),
                other => {
                    return Err(format!(
                        "`{other}` runs on one lcore: set eal.lcores to a single core"
                    ))
                }
            })
        })
        .collect::<Result<_, _>>()?;
    let runtime =
        Runtime::from_config(cfg, apps).map_err(|e| format!("port {}: {e}", cfg.port.device))?;
    eprintln!(
        "stackd: {} on {} as {}, {cores} cores ({:?} steering)",
        args.command,
        cfg.port.device,
        cfg.engine.address,
        runtime.mode()
    );
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let reports = runtime.join()?;
    if args.stats {
        let cores: Vec<_> = reports
            .iter()
            .map(|r| serde_json::json!({ "core": r.core, "connections": r.connections, "engine": r.engine, "loop": r.loop_stats }))
            .collect();
        println!("{}", serde_json::json!({ "cores": cores }));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stackd: {e}");
            ExitCode::FAILURE
        }
    }
}
