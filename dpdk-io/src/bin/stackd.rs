//! `stackd`: runs one stack engine on a DPDK port with one of the example
//! applications.
//!
//! ```text
//! stackd --config FILE [--stats] [--duration-ms N] [--settle-ms N] COMMAND [OPTIONS]
//!
//!   echo        [--port 7]
//!   discard     [--port 9]
//!   seed-server [--port 9527] [--delay-ms 3000]
//!   seed-client --to IP:PORT
//!   bulk        (--listen PORT | --connect IP:PORT) [--bytes N] [--seed N]
//!   closer      --to IP:PORT --mode (unread|abort|linger) [--linger-ms N] [--fill [true|false]]
//! ```
//!
//! `stackd --help` and `stackd COMMAND --help` describe every command and
//! option (the doc comments of [`Cli`] and [`Command`] below). Wrong
//! arguments are rejected before the EAL starts, with exit status 2; a
//! failure while running (configuration, EAL, port) prints `stackd: ...`
//! and exits with status 1.
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

use clap::error::ErrorKind;
use clap::{ArgAction, ArgGroup, CommandFactory, Parser, Subcommand, ValueEnum};

use dpdk_io::apps::{Bulk, BulkRole, ClientCommand, Discard, Echo, SeedClient, SeedServer};
use dpdk_io::apps::{CloseMode, Closer, Settle};
use dpdk_io::{App, Eal, Runtime, RuntimeConfig, Worker};

/// Runs one stack engine on a DPDK port with one of the example
/// applications.
///
/// The port, the EAL and the engine come from the configuration file
/// (--config, required). With several EAL lcores (eal.lcores = "0-1"),
/// echo and discard run one engine per core on the multi-core runtime;
/// the other commands need a single lcore.
///
/// SIGINT or SIGTERM stops the loop cleanly. The global options may come
/// before or after the command.
#[derive(Debug, Parser)]
#[command(
    name = "stackd",
    version,
    arg_required_else_help = true,
    override_usage = "stackd --config <FILE> [GLOBAL OPTIONS] <COMMAND> [OPTIONS]"
)]
struct Cli {
    /// The runtime configuration (TOML: EAL arguments, port, engine; see
    /// configs/). Required.
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        help_heading = "Global options"
    )]
    config: Option<PathBuf>,

    /// Print the engine's, the loop's and the port's counters as JSON on
    /// exit.
    #[arg(long, global = true, help_heading = "Global options")]
    stats: bool,

    /// Stop after N milliseconds, as SIGINT would.
    #[arg(long, value_name = "N", global = true, help_heading = "Global options")]
    duration_ms: Option<u64>,

    /// When the application has finished, keep the loop running until
    /// every connection is in TIME_WAIT or CLOSED (what was sent, FIN
    /// included, is acknowledged), for at most N milliseconds.
    #[arg(long, value_name = "N", global = true, help_heading = "Global options")]
    settle_ms: Option<u64>,

    #[command(subcommand)]
    command: Command,
}

/// The application the engine runs.
#[derive(Debug, Subcommand)]
enum Command {
    /// Echo server: sends every byte back
    ///
    /// Zero copy: the received mbufs are queued back as they are.
    Echo {
        /// TCP port to listen on.
        #[arg(long, default_value_t = 7)]
        port: u16,
    },

    /// Discard server: reads and drops every byte
    Discard {
        /// TCP port to listen on.
        #[arg(long, default_value_t = 9)]
        port: u16,
    },

    /// Seed 000's server: reads a message, waits, replies "Hi, MESSAGE"
    ///
    /// Prints what happens, one line each; closes when the client has
    /// closed or reset the connection.
    SeedServer {
        /// TCP port to listen on.
        #[arg(long, default_value_t = 9527)]
        port: u16,
        /// How long to wait before replying, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 3000)]
        delay_ms: u64,
    },

    /// Seed 000's client: sends the lines typed on stdin
    ///
    /// Each line on stdin is sent; "shutdown" half-closes the connection,
    /// "close" closes it (then the loop runs 6 s more, so a reset can go
    /// out). What the server sends is printed.
    SeedClient {
        /// The server's address.
        #[arg(long, value_name = "IP:PORT")]
        to: SocketAddrV4,
    },

    /// Bulk transfer both ways at once, checked by SHA-256
    ///
    /// Sends N bytes of seeded pseudo-random data (then half-closes) while
    /// reading everything the peer sends until end of stream, then prints
    /// the byte counts and the SHA-256 of both directions as JSON. Needs
    /// exactly one of --listen and --connect.
    #[command(group(ArgGroup::new("role").required(true).args(["listen", "connect"])))]
    Bulk {
        /// Accept one connection on this TCP port.
        #[arg(long, value_name = "PORT")]
        listen: Option<u16>,
        /// Connect to this address.
        #[arg(long, value_name = "IP:PORT")]
        connect: Option<SocketAddrV4>,
        /// How many bytes to send.
        #[arg(long, value_name = "N", default_value_t = 64 << 20)]
        bytes: u64,
        /// Seed of the pseudo-random data sent.
        #[arg(long, value_name = "N", default_value_t = 1)]
        seed: u64,
    },

    /// Opens one connection and ends it one way: unread data, abort, linger
    ///
    /// Prints what happens, one line each (connected, received N bytes,
    /// closing, and for linger the outcome), then a JSON summary.
    Closer {
        /// The server's address.
        #[arg(long, value_name = "IP:PORT")]
        to: SocketAddrV4,
        /// How the connection ends.
        #[arg(long, value_enum)]
        mode: CloseKind,
        /// The linger time for --mode linger, in milliseconds (0 is
        /// abortive).
        #[arg(long, value_name = "MS", required_if_eq("mode", "linger"))]
        linger_ms: Option<u64>,
        /// Fill the send buffer before a linger close, so a peer that
        /// does not read makes the linger time run out (--fill alone is
        /// --fill true).
        #[arg(
            long,
            value_name = "BOOL",
            action = ArgAction::Set,
            num_args = 0..=1,
            default_value_t = false,
            default_missing_value = "true"
        )]
        fill: bool,
    },
}

/// How `closer` ends its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CloseKind {
    /// Close once the peer's data has arrived, without reading it: RST.
    Unread,
    /// Send "hello", read the reply, then abort: RST.
    Abort,
    /// Send "hello", read the reply, then close with linger set to
    /// --linger-ms: RST if the data and FIN are not acknowledged by then.
    Linger,
}

impl Command {
    /// The command's name, as typed.
    fn name(&self) -> &'static str {
        match self {
            Command::Echo { .. } => "echo",
            Command::Discard { .. } => "discard",
            Command::SeedServer { .. } => "seed-server",
            Command::SeedClient { .. } => "seed-client",
            Command::Bulk { .. } => "bulk",
            Command::Closer { .. } => "closer",
        }
    }
}

fn print_line(line: String) {
    println!("{line}");
}

fn app_for(command: &Command) -> Box<dyn App> {
    match *command {
        Command::Echo { port } => Box::new(Echo::new(port)),
        Command::Discard { port } => Box::new(Discard::new(port)),
        Command::SeedServer { port, delay_ms } => Box::new(SeedServer::new(
            port,
            Duration::from_millis(delay_ms),
            Box::new(print_line),
        )),
        Command::SeedClient { to } => {
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
        Command::Bulk {
            listen,
            connect,
            bytes,
            seed,
        } => {
            let role = match (listen, connect) {
                (Some(port), _) => BulkRole::Listen(port),
                (None, Some(to)) => BulkRole::Connect(to),
                (None, None) => unreachable!("clap requires one of --listen and --connect"),
            };
            Box::new(Bulk::new(role, bytes, seed))
        }
        Command::Closer {
            to,
            mode,
            linger_ms,
            fill,
        } => {
            let mode = match mode {
                CloseKind::Unread => CloseMode::Unread,
                CloseKind::Abort => CloseMode::Abort,
                CloseKind::Linger => CloseMode::Linger(Duration::from_millis(
                    linger_ms.expect("clap requires --linger-ms with --mode linger"),
                )),
            };
            Box::new(Closer::new(to, mode, fill, Box::new(print_line)))
        }
    }
}

fn run(cli: Cli, config: PathBuf) -> Result<(), String> {
    let cfg = RuntimeConfig::from_file(&config).map_err(|e| e.to_string())?;
    let mut app = app_for(&cli.command);
    if let Some(ms) = cli.settle_ms {
        app = Box::new(Settle::new(app, Duration::from_millis(ms)));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| format!("signal handler: {e}"))?;
    }
    if let Some(ms) = cli.duration_ms {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            stop.store(true, Ordering::Relaxed);
        });
    }
    let eal = Eal::init(&cfg.eal_args()).map_err(|e| format!("EAL: {e}"))?;
    if eal.lcore_count() > 1 {
        return run_multicore(&cli, &cfg, eal.lcore_count() as usize, &stop);
    }
    let mut worker =
        Worker::from_config(&cfg).map_err(|e| format!("port {}: {e}", cfg.port.device))?;
    eprintln!(
        "stackd: {} on {} as {} ({}), link {}",
        cli.command.name(),
        cfg.port.device,
        cfg.engine.address,
        worker.engine.config().mac,
        if worker.link_up() {
            "up"
        } else {
            "down (waiting for the peer)"
        }
    );
    worker.run(app.as_mut(), &stop).map_err(|e| e.to_string())?;
    if let Some(report) = app.report() {
        println!("{report}");
    }
    if cli.stats {
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
    cli: &Cli,
    cfg: &RuntimeConfig,
    cores: usize,
    stop: &AtomicBool,
) -> Result<(), String> {
    let apps: Vec<Box<dyn App + Send>> = (0..cores)
        .map(|_| -> Result<Box<dyn App + Send>, String> {
            Ok(match cli.command {
                Command::Echo { port } => Box::new(Echo::new(port)),
                Command::Discard { port } => Box::new(Discard::new(port)),
                ref other => {
                    return Err(format!(
                        "`{}` runs on one lcore: set eal.lcores to a single core",
                        other.name()
                    ))
                }
            })
        })
        .collect::<Result<_, _>>()?;
    let runtime =
        Runtime::from_config(cfg, apps).map_err(|e| format!("port {}: {e}", cfg.port.device))?;
    eprintln!(
        "stackd: {} on {} as {}, {cores} cores ({:?} steering)",
        cli.command.name(),
        cfg.port.device,
        cfg.engine.address,
        runtime.mode()
    );
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let reports = runtime.join().map_err(|e| e.to_string())?;
    if cli.stats {
        let cores: Vec<_> = reports
            .iter()
            .map(|r| serde_json::json!({ "core": r.core, "connections": r.connections, "engine": r.engine, "loop": r.loop_stats }))
            .collect();
        println!("{}", serde_json::json!({ "cores": cores }));
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // RUST_LOG=stack=debug and the like: the engine's and the loop's events.
    dpdk_io::init_logging();
    // A global option cannot be required in clap; --config is checked
    // here, still before anything starts, with clap's error and status.
    let Some(config) = cli.config.clone() else {
        Cli::command()
            .error(
                ErrorKind::MissingRequiredArgument,
                "the following required argument was not provided: --config <FILE>",
            )
            .exit()
    };
    match run(cli, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stackd: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("stackd").chain(args.iter().copied()))
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_kept() {
        let cli = parse(&["--config", "c.toml", "echo"]).unwrap();
        assert!(matches!(cli.command, Command::Echo { port: 7 }));
        assert!(!cli.stats && cli.duration_ms.is_none() && cli.settle_ms.is_none());
        let cli = parse(&["--config", "c.toml", "discard"]).unwrap();
        assert!(matches!(cli.command, Command::Discard { port: 9 }));
        let cli = parse(&["--config", "c.toml", "seed-server"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::SeedServer {
                port: 9527,
                delay_ms: 3000
            }
        ));
        let cli = parse(&["--config", "c.toml", "bulk", "--listen", "5001"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Bulk {
                listen: Some(5001),
                connect: None,
                bytes: 67_108_864,
                seed: 1
            }
        ));
        let cli = parse(&[
            "--config",
            "c.toml",
            "closer",
            "--to",
            "10.0.0.1:9",
            "--mode",
            "abort",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Closer {
                mode: CloseKind::Abort,
                linger_ms: None,
                fill: false,
                ..
            }
        ));
    }

    #[test]
    fn global_options_go_before_or_after_the_command() {
        for args in [
            &[
                "--config",
                "c.toml",
                "--stats",
                "--settle-ms",
                "5",
                "echo",
                "--port",
                "8",
            ][..],
            &[
                "echo",
                "--port",
                "8",
                "--stats",
                "--config",
                "c.toml",
                "--settle-ms",
                "5",
            ],
        ] {
            let cli = parse(args).unwrap();
            assert_eq!(cli.config.as_deref(), Some(std::path::Path::new("c.toml")));
            assert!(cli.stats);
            assert_eq!(cli.settle_ms, Some(5));
            assert!(matches!(cli.command, Command::Echo { port: 8 }));
        }
    }

    #[test]
    fn closer_options() {
        let cli = parse(&[
            "--config",
            "c",
            "closer",
            "--to",
            "10.0.0.1:9",
            "--mode",
            "linger",
            "--linger-ms",
            "300",
            "--fill",
            "true",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Closer {
                mode: CloseKind::Linger,
                linger_ms: Some(300),
                fill: true,
                ..
            }
        ));
        let cli = parse(&[
            "--config",
            "c",
            "closer",
            "--to",
            "10.0.0.1:9",
            "--mode",
            "unread",
            "--fill",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Closer { fill: true, .. }));
        let err = parse(&[
            "--config",
            "c",
            "closer",
            "--to",
            "10.0.0.1:9",
            "--mode",
            "linger",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
        let err = parse(&[
            "--config",
            "c",
            "closer",
            "--to",
            "10.0.0.1:9",
            "--mode",
            "slow",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidValue);
    }

    #[test]
    fn wrong_arguments_are_rejected() {
        let kind = |args: &[&str]| parse(args).unwrap_err().kind();
        assert_eq!(
            kind(&["--config", "c", "echo", "--prot", "8"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            kind(&["--config", "c", "echo", "--port", "x"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["--config", "c", "echo", "--port", "70000"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["--config", "c", "ech"]),
            ErrorKind::InvalidSubcommand
        );
        assert_eq!(
            kind(&["--config", "c", "bulk"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            kind(&[
                "--config",
                "c",
                "bulk",
                "--listen",
                "1",
                "--connect",
                "10.0.0.1:1"
            ]),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            kind(&["--config", "c", "seed-client"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            kind(&["--config", "c", "seed-client", "--to", "10.0.0.1"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["--config", "c", "--duration-ms", "soon", "echo"]),
            ErrorKind::ValueValidation
        );
    }
}
