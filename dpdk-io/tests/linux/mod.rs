//! The harness shared by the tests against Linux (`linux_peer.rs`,
//! `linux_attacks.rs`): child processes whose output is followed line by
//! line, one network namespace and veth pair per test, `stackd`, the
//! Linux programs in `tests/peer/`, and tcpdump captures.
//!
//! Needs root (namespaces, veth, af_packet, tcpdump, nftables): when not
//! root every test prints why and passes without running. The tests of
//! one binary run one at a time (a shared lock): each `stackd` and each
//! Linux program wants a core of a small machine. Every wait is bounded.

// Each test binary uses its own part of the harness.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const STACK_IP: &str = "10.99.0.1";
pub const LINUX_IP: &str = "10.99.0.2";

/// One test at a time (see the module documentation).
pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

pub fn peer_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peer/peer.py")
}

/// The effective user id, from /proc (no libc needed).
pub fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

pub fn wall_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------------------
// Child processes whose output is collected line by line.

/// One line of a program's output, with the wall-clock time it was read
/// (seconds since the epoch, comparable with tcpdump's `-tt` times).
#[derive(Clone)]
pub struct Line {
    pub at: f64,
    pub text: String,
}

pub struct Proc {
    pub what: String,
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub lines: Arc<Mutex<Vec<Line>>>,
    pub readers: Vec<JoinHandle<()>>,
    pub status: Option<ExitStatus>,
}

impl Proc {
    pub fn spawn(what: &str, cmd: &mut Command, stdin: bool) -> Proc {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() });
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for (pipe, prefix) in [(out, ""), (err, "(stderr) ")] {
            let lines = Arc::clone(&lines);
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(text) = line else { break };
                    lines.lock().unwrap().push(Line {
                        at: wall_secs(),
                        text: format!("{prefix}{text}"),
                    });
                }
            }));
        }
        Proc {
            what: what.to_string(),
            stdin: child.stdin.take(),
            child,
            lines,
            readers,
            status: None,
        }
    }

    pub fn lines(&self) -> Vec<Line> {
        self.lines.lock().unwrap().clone()
    }

    pub fn texts(&self) -> Vec<String> {
        self.lines().into_iter().map(|l| l.text).collect()
    }

    pub fn output(&self) -> String {
        let mut s = format!("--- {} ---\n", self.what);
        for l in self.lines() {
            s.push_str(&l.text);
            s.push('\n');
        }
        if let Some(st) = self.status {
            s.push_str(&format!("(exit: {st})\n"));
        }
        s
    }

    /// Waits for a line containing `needle`; panics with the output (and
    /// `context`) after `timeout`.
    pub fn wait_for(
        &mut self,
        needle: &str,
        timeout: Duration,
        context: &dyn Fn() -> String,
    ) -> Line {
        self.wait_any(&[needle], timeout, context)
    }

    /// Waits for a line containing one of `needles`.
    pub fn wait_any(
        &mut self,
        needles: &[&str],
        timeout: Duration,
        context: &dyn Fn() -> String,
    ) -> Line {
        let end = Instant::now() + timeout;
        loop {
            let found = self
                .lines()
                .into_iter()
                .find(|l| needles.iter().any(|n| l.text.contains(n)));
            if let Some(l) = found {
                return l;
            }
            if Instant::now() >= end {
                panic!(
                    "{}: no line with any of {needles:?} within {timeout:?}\n{}{}",
                    self.what,
                    self.output(),
                    context()
                );
            }
            if self.status.is_none() {
                if let Ok(Some(st)) = self.child.try_wait() {
                    self.status = Some(st);
                    // Let the readers catch up, then look a last time.
                    self.join_readers();
                    continue;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("spawned with stdin");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap();
    }

    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
    }

    pub fn join_readers(&mut self) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }

    /// Waits (bounded) for the process to exit by itself; `None` if it
    /// did not (it is still running then).
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        while self.status.is_none() {
            match self.child.try_wait() {
                Ok(Some(st)) => self.status = Some(st),
                _ if Instant::now() >= end => return None,
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        self.join_readers();
        self.status
    }

    /// SIGINT, then (after `grace`) SIGKILL; returns the exit status.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.signal("-INT");
            if self.wait(grace).is_none() {
                let _ = self.child.kill();
                self.wait(Duration::from_secs(5));
            }
        }
        self.status
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------
// The namespace, stackd, the Linux programs, the capture.

/// One test's Linux peer: namespace and veth pair, up while this lives.
pub struct Env {
    pub name: &'static str,
    pub netns: String,
    pub stk_if: String,
    pub peer_if: String,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub started: Instant,
    pub _serial: MutexGuard<'static, ()>,
}

impl Env {
    /// Brings the peer up for test `name` (number `id`), or returns None
    /// (after printing why) when the tests cannot run here: not root. With
    /// `STACK_ROOT_TESTS=required` (the README's test command sets it)
    /// not being root fails the test instead: a skip must not pass for a
    /// success where the tests are meant to run.
    pub fn new(name: &'static str, id: u8) -> Option<Env> {
        if euid() != Some(0) {
            assert!(
                std::env::var("STACK_ROOT_TESTS").as_deref() != Ok("required"),
                "{name} needs root (network namespaces, veth, af_packet) and \
                 STACK_ROOT_TESTS=required; euid is {:?}",
                euid()
            );
            println!(
                "SKIPPED {name}: needs root (network namespaces, veth, af_packet); euid is {:?}",
                euid()
            );
            return None;
        }
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        // Unique per process and test; interface names have 15 characters.
        let suffix = format!("{:x}t{id}", std::process::id() & 0xf_ffff);
        let dir = std::env::temp_dir().join(format!("linux-peer-{suffix}-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let env = Env {
            name,
            netns: format!("stkpeer{suffix}"),
            stk_if: format!("stk0{suffix}"),
            peer_if: format!("stk1{suffix}"),
            config: dir.join("stackd.toml"),
            dir,
            started: Instant::now(),
            _serial: serial,
        };
        let base = std::fs::read_to_string(repo().join("configs/linux-peer.toml")).unwrap();
        let config = base.replace("iface=stk0", &format!("iface={}", env.stk_if));
        assert_ne!(config, base, "configs/linux-peer.toml names iface=stk0");
        std::fs::write(&env.config, config).unwrap();
        let out = env.script("up");
        assert!(
            out.status.success(),
            "linux-peer.sh up failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("{name}: peer {} up", env.netns);
        Some(env)
    }

    pub fn script(&self, cmd: &str) -> std::process::Output {
        Command::new("bash")
            .arg(repo().join("scripts/linux-peer.sh"))
            .arg(cmd)
            .env("STK_NETNS", &self.netns)
            .env("STK_IF", &self.stk_if)
            .env("STK_PEER_IF", &self.peer_if)
            .env("STK_PEER_ADDR", format!("{LINUX_IP}/24"))
            .output()
            .expect("bash")
    }

    /// A command run inside the namespace.
    pub fn netns_cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns, program]);
        c
    }

    /// Runs a command in the namespace to completion (bounded by the
    /// command itself) and returns (success, output).
    pub fn run_in_netns(&self, args: &[&str]) -> (bool, String) {
        let out = self
            .netns_cmd(args[0])
            .args(&args[1..])
            .output()
            .expect("ip netns exec");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    /// A peer.py program in the namespace.
    pub fn linux(&self, what: &str, args: &[&str]) -> Proc {
        let mut c = self.netns_cmd("python3");
        c.arg("-u").arg(peer_py()).args(args);
        Proc::spawn(what, &mut c, false)
    }

    /// stackd with `args` after `--config`.
    pub fn stackd(&self, args: &[&str], stdin: bool) -> Proc {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stackd"));
        c.arg("--config").arg(&self.config).args(args);
        let mut p = Proc::spawn("stackd", &mut c, stdin);
        p.wait_for("stackd: ", Duration::from_secs(20), &|| String::new());
        p
    }

    /// Waits until the stack answers ping from the namespace.
    pub fn wait_ping(&self, stackd: &Proc) {
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            let (ok, out) = self.run_in_netns(&["ping", "-c", "1", "-W", "1", STACK_IP]);
            if ok {
                return;
            }
            assert!(
                Instant::now() < end,
                "the stack does not answer ping after 15 s:\n{out}\n{}",
                stackd.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts tcpdump on Linux's end for TCP port `port`.
    pub fn capture(&self, port: u16) -> Capture {
        let file = self.dir.join(format!("port{port}.pcap"));
        let mut c = self.netns_cmd("tcpdump");
        c.args([
            "-i",
            &self.peer_if,
            "--immediate-mode",
            "-U",
            "-nn",
            "-s",
            "256",
            "-w",
        ])
        .arg(&file)
        .arg(format!("tcp port {port}"));
        let mut proc = Proc::spawn("tcpdump", &mut c, false);
        proc.wait_for("listening on", Duration::from_secs(10), &|| String::new());
        Capture { proc, file }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let out = self.script("down");
        if !out.status.success() {
            eprintln!(
                "{}: linux-peer.sh down failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if std::thread::panicking() {
            eprintln!(
                "{}: failed after {:.1} s; files kept in {}",
                self.name,
                self.started.elapsed().as_secs_f64(),
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
            println!(
                "{}: passed in {:.1} s",
                self.name,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

pub struct Capture {
    pub proc: Proc,
    pub file: PathBuf,
}

impl Capture {
    /// Stops tcpdump and reads the capture back.
    pub fn finish(mut self) -> Trace {
        // Let the last frames reach the capture.
        std::thread::sleep(Duration::from_millis(200));
        self.proc.stop(Duration::from_secs(5));
        let out = Command::new("tcpdump")
            .args(["-r"])
            .arg(&self.file)
            .args(["-nn", "-S", "-tt"])
            .output()
            .expect("tcpdump -r");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let segs = text.lines().filter_map(Seg::parse).collect();
        Trace { segs, text }
    }
}

/// One TCP segment of a capture.
#[derive(Debug, Clone)]
pub struct Seg {
    pub at: f64,
    /// Sent by the stack (10.99.0.1), else by Linux.
    pub ours: bool,
    pub flags: String,
    /// The sequence number (0 in a bare ACK: tcpdump does not show it).
    pub seq: u32,
    pub ack: Option<u32>,
    pub len: u32,
    /// The options as tcpdump prints them (`mss 1460,nop,wscale 7,...`).
    pub options: String,
}

impl Seg {
    /// Parses a line of `tcpdump -nn -S -tt`:
    /// `T IP A.B.C.D.P > E.F.G.H.Q: Flags [P.], seq 1:4, ack 9, win 5, length 3`.
    pub fn parse(line: &str) -> Option<Seg> {
        let (head, rest) = line.split_once(": Flags [")?;
        let mut words = head.split_whitespace();
        let at: f64 = words.next()?.parse().ok()?;
        if words.next()? != "IP" {
            return None;
        }
        let src = words.next()?;
        let (flags, rest) = rest.split_once(']')?;
        let (mut seq, mut ack, mut len) = (None, None, 0);
        let mut options = String::new();
        for field in rest.split(", ") {
            let field = field.trim_start_matches(',').trim();
            if let Some(v) = field.strip_prefix("options [") {
                options = v.trim_end_matches(']').to_string();
            } else if let Some(v) = field.strip_prefix("seq ") {
                seq = v.split(':').next()?.parse().ok();
            } else if let Some(v) = field.strip_prefix("ack ") {
                ack = v.parse().ok();
            } else if let Some(v) = field.strip_prefix("length ") {
                len = v.split_whitespace().next()?.parse().ok()?;
            }
        }
        Some(Seg {
            at,
            ours: src.starts_with(&format!("{STACK_IP}.")),
            flags: flags.to_string(),
            seq: seq.unwrap_or(0),
            ack,
            len,
            options,
        })
    }

    pub fn has(&self, flag: char) -> bool {
        self.flags.contains(flag)
    }

    /// Whether an option tcpdump names `name` (`TS`, `wscale`, `sackOK`,
    /// `sack`, `mss`) is present.
    pub fn has_option(&self, name: &str) -> bool {
        self.options
            .split(',')
            .any(|o| o == name || o.starts_with(&format!("{name} ")))
    }

    pub fn end(&self) -> u32 {
        let syn_fin = u32::from(self.has('S')) + u32::from(self.has('F'));
        self.seq.wrapping_add(self.len).wrapping_add(syn_fin)
    }
}

pub struct Trace {
    pub segs: Vec<Seg>,
    pub text: String,
}

impl Trace {
    /// The capture, one segment a line, stack or Linux first.
    pub fn summary(&self) -> String {
        let t0 = self.segs.first().map_or(0.0, |s| s.at);
        let mut s = String::from("--- capture (stack = 10.99.0.1) ---\n");
        for g in &self.segs {
            s.push_str(&format!(
                "{:+9.4} {:<6} [{}] seq {} ack {} len {}\n",
                g.at - t0,
                if g.ours { "stack" } else { "linux" },
                g.flags,
                g.seq,
                g.ack.map_or("-".into(), |a| a.to_string()),
                g.len
            ));
        }
        if self.segs.is_empty() {
            s.push_str(&self.text);
        }
        s
    }

    /// The first segment at or after `from` that matches.
    pub fn find(&self, from: usize, pred: impl Fn(&Seg) -> bool) -> Option<usize> {
        (from..self.segs.len()).find(|&i| pred(&self.segs[i]))
    }

    pub fn count(&self, pred: impl Fn(&Seg) -> bool) -> usize {
        self.segs.iter().filter(|s| pred(s)).count()
    }
}

/// Everything a failing test prints.
pub fn report(trace: Option<&Trace>, procs: &[&Proc]) -> String {
    let mut s = String::from("\n");
    if let Some(t) = trace {
        s.push_str(&t.summary());
    }
    for p in procs {
        s.push_str(&p.output());
    }
    s
}

/// Asserts with the report appended.
macro_rules! check {
    ($cond:expr, $report:expr, $($fmt:tt)+) => {
        if !$cond {
            panic!("{}{}", format!($($fmt)+), $report);
        }
    };
}

/// The JSON line a program printed that has `key`.
pub fn json_line(p: &Proc, key: &str) -> Option<serde_json::Value> {
    p.texts()
        .iter()
        .filter(|t| t.starts_with('{'))
        .filter_map(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .find(|v| v.get(key).is_some())
}
