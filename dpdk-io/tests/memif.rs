//! Two stack processes over net_memif (shared memory, no kernel on the
//! path), each a `stackd`: a 256 MiB transfer each way checked by SHA-256,
//! and scenarios S1 and S2 between the seed-000 client and server; jumbo
//! frames (MTU 9000) between two stackd, and a frame memif chains sent
//! from this process as a raw memif client.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

mod frames;

const STACKD: &str = env!("CARGO_BIN_EXE_stackd");
static NEXT: AtomicU32 = AtomicU32::new(0);
/// One pair of processes at a time: each spins on one of the two cores.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A server/client pair of configuration files on their own memif socket.
struct Pair {
    dir: PathBuf,
    server: PathBuf,
    client: PathBuf,
}

impl Pair {
    fn new() -> Pair {
        Pair::with_extra("")
    }

    /// A pair whose client configuration ends with `client_extra` (TOML).
    fn with_extra(client_extra: &str) -> Pair {
        Pair::with_lcores(client_extra, "0")
    }

    /// A pair whose server runs on `server_lcores`.
    fn with_lcores(client_extra: &str, server_lcores: &str) -> Pair {
        Pair::build(client_extra, server_lcores, "", &STANDARD)
    }

    /// The general case: extra TOML for each side, over `link`.
    fn build(client_extra: &str, server_lcores: &str, server_extra: &str, link: &Link) -> Pair {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("stack-memif-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("memif.sock");
        let write = |name: &str, role: &str, lcore: &str, me: u8, peer: u8| {
            let path = dir.join(name);
            let text = format!(
                "[eal]\nlcores = \"{lcore}\"\nvdevs = [\"net_memif0,role={role},id=0,socket={},socket-abstract=no{}\"]\n\
                 [port]\ndevice = \"net_memif0\"\nuse_port_mac = false\nlink_timeout_ms = 0\n{}\
                 [engine]\nmac = \"02:00:00:00:10:0{me}\"\naddress = \"10.10.0.{me}/24\"\n\
                 neighbors = [{{ ip = \"10.10.0.{peer}\", mac = \"02:00:00:00:10:0{peer}\" }}]\n{}{}",
                sock.display(),
                link.vdev,
                link.port,
                link.engine,
                link.tables,
            );
            std::fs::write(&path, text).unwrap();
            path
        };
        let server = write("server.toml", "server", server_lcores, 1, 2);
        let client = write("client.toml", "client", "1", 2, 1);
        for (path, extra) in [(&client, client_extra), (&server, server_extra)] {
            let mut text = std::fs::read_to_string(path).unwrap();
            text.push_str(extra);
            std::fs::write(path, text).unwrap();
        }
        Pair {
            dir,
            server,
            client,
        }
    }
}

/// What both sides of a pair add to their configuration: vdev arguments,
/// keys of `[port]` and of `[engine]`, and tables of their own.
struct Link {
    vdev: &'static str,
    port: &'static str,
    engine: &'static str,
    tables: &'static str,
}

/// The default link: MTU 1500, memif buffers of 2048 bytes.
const STANDARD: Link = Link {
    vdev: "",
    port: "",
    engine: "",
    tables: "",
};

/// Jumbo frames: MTU 9000, memif buffers and mbufs that hold a whole
/// 9014-byte frame, and windows of a few segments more than the default.
/// net_memif reports MTU 1500 at most and carries larger frames: the port
/// is told to go beyond (`mtu_beyond_reported_limit`).
const JUMBO: Link = Link {
    vdev: ",bsize=9216",
    port: "mtu_beyond_reported_limit = true\n",
    engine: "mtu = 9000\n",
    tables: "[mempool]\nmbufs = 8191\ndata_room = 9344\n\
             [engine.tcp]\nrecv_buffer = 1048576\nsend_buffer = 2097152\n",
};

/// As [`JUMBO`], without telling the port to go beyond what it reports.
const JUMBO_UNTOLD: Link = Link { port: "", ..JUMBO };

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn(config: &Path, args: &[&str], stdin: bool) -> Child {
    Command::new(STACKD)
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stackd")
}

/// Waits until `child` has brought its port up (stackd says so on stderr)
/// and forwards the rest of its stderr to ours.
fn wait_ready(child: &mut Child, limit: Duration) {
    use std::io::BufRead;
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("  [stackd] {line}");
            let _ = tx.send(line);
        }
    });
    let start = Instant::now();
    while start.elapsed() < limit {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) if line.starts_with("stackd: ") && line.contains(" on net_memif0") => return,
            Ok(line) if line.starts_with("stackd: ") => panic!("stackd failed: {line}"),
            _ => {}
        }
    }
    panic!("stackd not ready after {limit:?}");
}

/// Waits for `child` to exit within `limit` (killing it after) and returns
/// its stdout and stderr.
fn finish(mut child: Child, limit: Duration, what: &str) -> (String, String) {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what}: still running after {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn stop(child: &Child) {
    // SIGINT: stackd stops its loop cleanly.
    let _ = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status();
}

/// The JSON report line `bulk` prints.
fn field(report: &str, key: &str) -> String {
    match unique(&json(report), key) {
        serde_json::Value::String(s) => s,
        v => v.to_string(),
    }
}

/// A line a program printed, parsed: every check reads the value itself,
/// never a substring (`"resets_received":1` would match 10 to 19 too).
fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// The one value named `key` anywhere in `v` (it must be exactly one).
fn unique(v: &serde_json::Value, key: &str) -> serde_json::Value {
    fn walk<'a>(v: &'a serde_json::Value, key: &str, found: &mut Vec<&'a serde_json::Value>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    if k == key {
                        found.push(x);
                    }
                    walk(x, key, found);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, key, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(v, key, &mut found);
    assert_eq!(found.len(), 1, "`{key}` {} times in {v}", found.len());
    found[0].clone()
}

/// Counter `key` from the `--stats` JSON line in a program's output.
fn stat(out: &str, key: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with('{') && l.contains("\"engine\""))
        .unwrap_or_else(|| panic!("no stats line in:\n{out}"));
    unique(&json(line), key)
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` is not a count in {line}"))
}

/// What one bulk run between the pair printed: the client's JSON report
/// line and its whole stdout (the report, then `--stats`).
struct BulkRun {
    client: String,
    client_out: String,
}

/// `bytes` each way between the pair's two stackd processes (with
/// `--stats`); asserts both directions arrived intact, with no error.
fn bulk_between(pair: &Pair, bytes: u64) -> BulkRun {
    let bytes = bytes.to_string();
    let server_args = [
        "--stats", "bulk", "--listen", "5001", "--bytes", &bytes, "--seed", "2",
    ];
    let mut server = spawn(&pair.server, &server_args, false);
    wait_ready(&mut server, Duration::from_secs(30));
    let client_args = [
        "--stats",
        "bulk",
        "--connect",
        "10.10.0.1:5001",
        "--bytes",
        &bytes,
        "--seed",
        "1",
    ];
    let client = spawn(&pair.client, &client_args, false);
    let (c_out, c_err) = finish(client, Duration::from_secs(120), "bulk client");
    let (s_out, s_err) = finish(server, Duration::from_secs(30), "bulk server");
    let report = |out: &str, err: &str, who: &str| -> String {
        out.lines()
            .find(|l| l.contains("sent_sha256"))
            .unwrap_or_else(|| panic!("{who}: {out}\n{err}"))
            .to_string()
    };
    let (c, s) = (
        report(&c_out, &c_err, "client"),
        report(&s_out, &s_err, "server"),
    );
    assert_eq!(field(&c, "error"), "null", "{c}");
    assert_eq!(field(&s, "error"), "null", "{s}");
    for r in [&c, &s] {
        assert_eq!(field(r, "sent"), bytes);
        assert_eq!(field(r, "received"), bytes);
    }
    assert_eq!(
        field(&c, "sent_sha256"),
        field(&s, "received_sha256"),
        "client -> server"
    );
    assert_eq!(
        field(&s, "sent_sha256"),
        field(&c, "received_sha256"),
        "server -> client"
    );
    BulkRun {
        client: c,
        client_out: c_out,
    }
}

#[test]
fn bulk_256mib_each_way_between_two_processes() {
    let _one_at_a_time = serial();
    let pair = Pair::new();
    let run = bulk_between(&pair, 256 << 20);
    let c = run.client.as_str();
    let secs: f64 = field(c, "seconds").parse().unwrap();
    println!(
        "256 MiB each way over memif in {secs:.2} s: {:.2} Gbit/s per direction",
        (256u64 << 23) as f64 / secs / 1e9
    );
}

/// Runs seed 000's client with `lines` typed at `gaps` against its server
/// (replying after 500 ms); returns both outputs.
fn seed_scenario(lines: &[(&str, u64)]) -> (String, String) {
    let _one_at_a_time = serial();
    let pair = Pair::new();
    let mut server = spawn(
        &pair.server,
        &[
            "--stats",
            "seed-server",
            "--port",
            "9527",
            "--delay-ms",
            "500",
        ],
        false,
    );
    wait_ready(&mut server, Duration::from_secs(30));
    let mut client = spawn(
        &pair.client,
        &["--stats", "seed-client", "--to", "10.10.0.1:9527"],
        true,
    );
    wait_ready(&mut client, Duration::from_secs(30));
    let mut stdin = client.stdin.take().unwrap();
    // Let the handshake complete before typing.
    std::thread::sleep(Duration::from_millis(300));
    for (line, wait_ms) in lines {
        writeln!(stdin, "{line}").unwrap();
        std::thread::sleep(Duration::from_millis(*wait_ms));
    }
    let (c_out, _) = finish(client, Duration::from_secs(20), "seed client");
    std::thread::sleep(Duration::from_millis(300));
    stop(&server);
    let (s_out, _) = finish(server, Duration::from_secs(10), "seed server");
    (c_out, s_out)
}

// Scenario S1 (contracts 8b, 8c): the client closes right after sending;
// the server's reply meets an orphan, which answers with RST, and the
// server's next read reports the reset.
#[test]
fn s1_between_two_stacks() {
    let (client, server) = seed_scenario(&[("aaa", 100), ("close", 0)]);
    assert!(client.contains("now sending aaa"), "client:\n{client}");
    assert!(
        !client.contains("Hi, aaa"),
        "the client closed before the reply:\n{client}"
    );
    let mut at = 0;
    for e in ["received 3 bytes: aaa", "sent 7 bytes"] {
        let found = server[at..]
            .find(e)
            .unwrap_or_else(|| panic!("server lacks `{e}` in order:\n{server}"));
        at += found + e.len();
    }
    // The server reads right after replying: end of stream (the FIN came
    // first) or the reset, whichever it sees first; both are the contract.
    assert!(
        server[at..].contains("client closed")
            || server[at..].contains("read error: connection reset by peer"),
        "server:\n{server}"
    );
    // On the wire: the orphaned client answered the reply with RST
    // (contract 8c), and the server received it.
    assert_eq!(stat(&client, "data_after_close"), 1, "client:\n{client}");
    assert_eq!(stat(&server, "resets_received"), 1, "server:\n{server}");
}

// Scenario S2 (contract 10): half-close, then read the reply; the server
// reads end of stream and closes; the client reads end of stream.
#[test]
fn s2_between_two_stacks() {
    let (client, server) = seed_scenario(&[("aaa", 100), ("shutdown", 1500)]);
    let mut at = 0;
    for e in ["now sending aaa", "Hi, aaa", "server terminated"] {
        let found = client[at..]
            .find(e)
            .unwrap_or_else(|| panic!("client lacks `{e}` in order:\n{client}"));
        at += found + e.len();
    }
    let mut at = 0;
    for e in ["received 3 bytes: aaa", "sent 7 bytes", "client closed"] {
        let found = server[at..]
            .find(e)
            .unwrap_or_else(|| panic!("server lacks `{e}` in order:\n{server}"));
        at += found + e.len();
    }
}

/// Runs `closer` with `args` against the server app `server_args`; returns
/// (client output, server output), both with `--stats`.
fn closer_against(
    server_args: &[&str],
    args: &[&str],
    server_runs_for: Duration,
) -> (String, String) {
    let _one_at_a_time = serial();
    let pair = Pair::new();
    let mut full = vec!["--stats"];
    full.extend_from_slice(server_args);
    let mut server = spawn(&pair.server, &full, false);
    wait_ready(&mut server, Duration::from_secs(30));
    let mut full = vec!["--stats", "closer", "--to", "10.10.0.1:9527"];
    full.extend_from_slice(args);
    let mut client = spawn(&pair.client, &full, false);
    wait_ready(&mut client, Duration::from_secs(30));
    let (c_out, _) = finish(client, Duration::from_secs(20), "closer");
    std::thread::sleep(server_runs_for);
    stop(&server);
    let (s_out, _) = finish(server, Duration::from_secs(10), "server");
    (c_out, s_out)
}

// contract 9c across processes: abort sends RST; the server receives it.
#[test]
fn abort_between_two_stacks() {
    let (client, server) = closer_against(
        &["echo", "--port", "9527"],
        &["--mode", "abort"],
        Duration::from_millis(300),
    );
    assert_eq!(stat(&client, "abort"), 1, "client:\n{client}");
    assert_eq!(stat(&server, "resets_received"), 1, "server:\n{server}");
}

// contract 9b across processes: a linger that the peer's acknowledgments
// beat reports Graceful, and no RST is sent.
#[test]
fn graceful_linger_between_two_stacks() {
    let (client, server) = closer_against(
        &["echo", "--port", "9527"],
        &["--mode", "linger", "--linger-ms", "2000"],
        Duration::from_millis(300),
    );
    assert!(client.contains("closed: Graceful"), "client:\n{client}");
    assert_eq!(stat(&server, "resets_received"), 0, "server:\n{server}");
}

// contract 9b across processes: the server reads one message and then
// sleeps, so the filled send buffer stays unacknowledged: RST at the
// linger time, reported as Aborted.
#[test]
fn linger_timeout_between_two_stacks() {
    let (client, server) = closer_against(
        &["seed-server", "--port", "9527", "--delay-ms", "5000"],
        &["--mode", "linger", "--linger-ms", "300", "--fill", "true"],
        Duration::from_millis(300),
    );
    assert!(client.contains("closed: Aborted"), "client:\n{client}");
    assert_eq!(stat(&server, "resets_received"), 1, "server:\n{server}");
}

// The fault injector on the memif path (seeded loss, duplication,
// reordering and corruption on the client's frames, both directions):
// every byte still arrives, and the injector and the engine's recovery
// both show in the counters.
#[test]
fn bulk_through_injected_faults() {
    let _one_at_a_time = serial();
    let pair = Pair::with_extra(
        "[fault]\nseed = 7\ndrop = 0.01\nduplicate = 0.005\nreorder = 0.01\nreorder_delay_us = 200\ncorrupt = 0.005\n",
    );
    let run = bulk_between(&pair, 16 << 20);
    let c_out = run.client_out;
    let stats = c_out
        .lines()
        .find(|l| l.contains("\"fault\""))
        .unwrap_or_else(|| panic!("no stats: {c_out}"));
    let v = json(stats);
    for way in ["rx", "tx"] {
        for counter in ["dropped", "duplicated", "reordered", "corrupted"] {
            let n = v["fault"][way][counter].as_u64().unwrap();
            assert!(n > 0, "no {counter} frames {way}: {stats}");
        }
    }
    assert!(v["engine"]["retransmits"].as_u64().unwrap() > 0, "{stats}");
    let bad = v["engine"]["drops"]["bad_checksum"].as_u64().unwrap();
    assert!(bad > 0, "corrupted frames are caught by checksums: {stats}");
}

// The multi-core runtime from stackd: an echo server on two lcores with
// software steering (memif has no RSS), fed by one bulk client; every
// byte comes back, and both cores served connections.
#[test]
fn echo_on_two_cores_between_processes() {
    let _one_at_a_time = serial();
    let pair = Pair::with_lcores("", "0-1");
    let mut server = spawn(&pair.server, &["--stats", "echo", "--port", "7"], false);
    wait_ready(&mut server, Duration::from_secs(30));
    let mut reports = Vec::new();
    // The owner of a connection is a hash of its 4-tuple, and the client
    // picks random ephemeral ports: with 20 connections, all of them land
    // on one core with probability 2 * 2^-20 (6 connections made that 3 %).
    const CONNS: u64 = 20;
    for seed in 1..=CONNS {
        let client = spawn(
            &pair.client,
            &[
                "bulk",
                "--connect",
                "10.10.0.1:7",
                "--bytes",
                "65536",
                "--seed",
                &seed.to_string(),
            ],
            false,
        );
        let (out, err) = finish(client, Duration::from_secs(60), "bulk client");
        let r = out
            .lines()
            .find(|l| l.contains("sent_sha256"))
            .unwrap_or_else(|| panic!("client: {out}\n{err}"))
            .to_string();
        assert_eq!(
            field(&r, "sent_sha256"),
            field(&r, "received_sha256"),
            "echo intact: {r}"
        );
        reports.push(r);
    }
    stop(&server);
    let (s_out, _) = finish(server, Duration::from_secs(10), "server");
    let cores = s_out
        .lines()
        .find(|l| l.contains("\"cores\""))
        .unwrap_or_else(|| panic!("server: {s_out}"));
    let served: Vec<u64> = json(cores)["cores"]
        .as_array()
        .unwrap_or_else(|| panic!("no cores array: {cores}"))
        .iter()
        .map(|c| unique(c, "passive_opens").as_u64().unwrap())
        .collect();
    assert_eq!(served.len(), 2, "{cores}");
    assert_eq!(served.iter().sum::<u64>(), CONNS, "{cores}");
    assert!(
        served.iter().all(|&n| n > 0),
        "both cores served: {served:?}"
    );
}

// contract 8a across processes: the client closes with the server's data
// unread: RST at once, and the sending server reports the reset.
#[test]
fn close_with_unread_data_between_two_stacks() {
    let _one_at_a_time = serial();
    let pair = Pair::new();
    let mut server = spawn(
        &pair.server,
        &["bulk", "--listen", "9527", "--bytes", "1000000"],
        false,
    );
    wait_ready(&mut server, Duration::from_secs(30));
    let mut client = spawn(
        &pair.client,
        &[
            "--stats",
            "closer",
            "--to",
            "10.10.0.1:9527",
            "--mode",
            "unread",
        ],
        false,
    );
    wait_ready(&mut client, Duration::from_secs(30));
    let (c_out, _) = finish(client, Duration::from_secs(20), "closer");
    let (s_out, _) = finish(server, Duration::from_secs(20), "bulk server");
    assert_eq!(stat(&c_out, "unread_data"), 1, "client:\n{c_out}");
    let report = s_out
        .lines()
        .find(|l| l.contains("sent_sha256"))
        .unwrap_or_else(|| panic!("server: {s_out}"));
    assert_eq!(
        field(report, "error"),
        "connection reset by peer",
        "{report}"
    );
}

/// The pair's server echoes on port 7 and its client sends `bytes` through
/// it (`stackd bulk`), without error; the server is stopped after. Returns
/// the client's report line.
fn echo_bulk_through(pair: &Pair, bytes: u64) -> String {
    let mut server = spawn(&pair.server, &["echo", "--port", "7"], false);
    wait_ready(&mut server, Duration::from_secs(30));
    let bytes = bytes.to_string();
    let client = spawn(
        &pair.client,
        &["bulk", "--connect", "10.10.0.1:7", "--bytes", &bytes],
        false,
    );
    let (out, _) = finish(client, Duration::from_secs(30), "bulk client");
    let report = out
        .lines()
        .find(|l| l.contains("sent_sha256"))
        .unwrap_or_else(|| panic!("no report: {out}"))
        .to_string();
    assert_eq!(field(&report, "error"), "null", "{out}");
    stop(&server);
    finish(server, Duration::from_secs(10), "server");
    report
}

// loop.pcap writes every frame in and out in the classic pcap format: the
// file parses, and holds the handshake and the data of both directions.
#[test]
fn pcap_records_frames_in_and_out() {
    let _one_at_a_time = serial();
    let dir = std::env::temp_dir().join(format!("stack-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("server.pcap");
    let pair = Pair::build(
        "",
        "0",
        &format!("[loop]\npcap = \"{}\"\n", file.display()),
        &STANDARD,
    );
    echo_bulk_through(&pair, 100_000);
    let bytes = std::fs::read(&file).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(&bytes[..4], &0xa1b2_c3d4u32.to_le_bytes(), "pcap magic");
    assert_eq!(
        u32::from_le_bytes(bytes[20..24].try_into().unwrap()),
        1,
        "Ethernet link type"
    );
    // Walk the records: count TCP frames from and to the server, and SYNs.
    let (mut from_server, mut to_server, mut syns, mut payload) = (0, 0, 0, 0usize);
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let frame = &bytes[at + 16..at + 16 + caplen];
        at += 16 + caplen;
        if frame.len() < 54 || frame[12..14] != [0x08, 0x00] || frame[23] != 6 {
            continue;
        }
        let src = &frame[26..30];
        if src == [10, 10, 0, 1] {
            from_server += 1;
        } else {
            to_server += 1;
        }
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        let tcp = &frame[14 + ihl..];
        syns += usize::from(tcp[13] & 0x02 != 0);
        payload += frame.len() - 14 - ihl - usize::from(tcp[12] >> 4) * 4;
    }
    assert_eq!(
        at,
        bytes.len(),
        "records end exactly at the end of the file"
    );
    assert_eq!(syns, 2, "SYN and SYN-ACK");
    assert!(
        from_server > 10 && to_server > 10,
        "{from_server} out, {to_server} in"
    );
    // Echo: 100,000 bytes in and the same out (retransmissions aside).
    assert!(payload >= 200_000, "{payload} payload bytes recorded");
}

// Jumbo frames between two processes: MTU 9000 on both sides, 64 MiB
// each way SHA-256 checked. The ports carried frames of more than 1514
// bytes on average both ways, and memif delivered each in one mbuf (its
// buffers and the pool's mbufs hold 9216 bytes): nothing to linearize.
#[test]
fn jumbo_bulk_between_two_processes() {
    let _one_at_a_time = serial();
    let pair = Pair::build("", "0", "", &JUMBO);
    let run = bulk_between(&pair, 64 << 20);
    let out = run.client_out.as_str();
    let sent = stat(out, "obytes") / stat(out, "opackets");
    let received = stat(out, "ibytes") / stat(out, "ipackets");
    assert!(
        sent > 1514 && received > 1514,
        "frames of {sent} bytes out, {received} in, on average"
    );
    assert_eq!(stat(out, "rx_linearized"), 0, "{out}");
    assert_eq!(stat(out, "rx_too_long"), 0, "{out}");
    let secs: f64 = field(&run.client, "seconds").parse().unwrap();
    println!(
        "64 MiB each way over memif at MTU 9000 in {secs:.2} s: {:.2} Gbit/s per direction; \
         frames of {sent} bytes out and {received} in on average",
        (64u64 << 23) as f64 / secs / 1e9
    );
}

// The handshake and the frames of a jumbo connection, from the server's
// pcap: SYN and SYN-ACK advertise MSS 8960 (MTU 9000 less 40), the
// largest frames are 9014 bytes, and the echoed bytes all pass.
#[test]
fn jumbo_frames_in_a_pcap() {
    let _one_at_a_time = serial();
    let dir = std::env::temp_dir().join(format!("stack-jumbo-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("server.pcap");
    let pcap = format!("[loop]\npcap = \"{}\"\n", file.display());
    let pair = Pair::build("", "0", &pcap, &JUMBO);
    let report = echo_bulk_through(&pair, 1_000_000);
    assert_eq!(
        field(&report, "sent_sha256"),
        field(&report, "received_sha256"),
        "echo intact"
    );
    let bytes = std::fs::read(&file).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let frames = frames::pcap_frames(&bytes);
    let syn_mss: Vec<u16> = frames.iter().filter_map(|f| frames::syn_mss(f)).collect();
    assert_eq!(syn_mss, [8960, 8960], "SYN and SYN-ACK");
    let largest = frames.iter().map(|f| f.len()).max().unwrap();
    assert_eq!(largest, 9014, "full frames at MTU 9000");
    let full = frames.iter().filter(|f| f.len() == 9014).count();
    // 1,000,000 bytes in, the same out, in 8948-byte segments.
    assert!(full >= 2 * 100, "{full} frames of 9014 bytes");
}

// An engine.mtu the device does not report taking is refused at start,
// by the single-core and the multi-core runtime alike, with an error that
// names the key and the way out.
#[test]
fn jumbo_refused_without_going_beyond_the_reported_limit() {
    let _one_at_a_time = serial();
    for lcores in ["0", "0-1"] {
        let pair = Pair::build("", lcores, "", &JUMBO_UNTOLD);
        let server = spawn(&pair.server, &["echo", "--port", "7"], false);
        let (_, err) = finish(server, Duration::from_secs(30), "stackd");
        assert!(
            err.contains("stackd: port net_memif0: invalid configuration: `engine.mtu`: 9000"),
            "lcores {lcores}: {err}"
        );
        assert!(err.contains("port.mtu_beyond_reported_limit"), "{err}");
    }
}

// Chains from the device itself: net_memif copies a received frame into
// mbufs of the pool and chains them when one does not hold it. A
// 9014-byte ping from this process (a raw memif client) to a stackd at
// MTU 1500 (2048 bytes of room per mbuf) arrives as a chain of five: it
// is dropped and counted (rx_too_long), never handed to the engine as its
// first 2048 bytes, and the pings before and after it are answered.
#[test]
fn a_chain_from_memif_too_long_for_an_mbuf_is_dropped_and_counted() {
    use dpdk_io::{Eal, EalArgs, MbufPool, Port, PortConfig};
    let _one_at_a_time = serial();
    let pair = Pair::new();
    let mut server = spawn(&pair.server, &["--stats", "echo", "--port", "7"], false);
    wait_ready(&mut server, Duration::from_secs(30));
    let args = EalArgs::ci(256)
        .lcores("1")
        .log_level("notice")
        .vdev(&format!(
            "net_memif0,role=client,id=0,socket={},socket-abstract=no",
            pair.dir.join("memif.sock").display()
        ))
        .build();
    let eal = Eal::init(&args).expect("EAL");
    let mut pool = MbufPool::new("raw_pool", 1023, 0, 9344).unwrap();
    let id = Port::id_by_name("net_memif0").unwrap();
    let mut port = Port::configure(id, &PortConfig::default(), &pool).unwrap();
    port.start().unwrap();
    port.wait_link_up(Duration::from_secs(10))
        .expect("the link to stackd");
    let us = frames::End {
        mac: [2, 0, 0, 0, 0x10, 2],
        ip: std::net::Ipv4Addr::new(10, 10, 0, 2),
    };
    let server_end = frames::End {
        mac: [2, 0, 0, 0, 0x10, 1],
        ip: std::net::Ipv4Addr::new(10, 10, 0, 1),
    };
    let mut answered = Vec::new();
    for (id, len) in [(1u16, 98usize), (2, 9014), (3, 98)] {
        let frame = frames::ping(us, server_end, id, len);
        let mut out = vec![pool.alloc_with(&frame).unwrap()];
        assert_eq!(port.tx_burst(0, &mut out), 1);
        // Wait for this ping's reply, for at most a second.
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(1) {
            let mut got = Vec::new();
            port.rx_burst(0, &mut got, 32);
            answered.extend(
                got.iter()
                    .filter_map(|m| frames::echo_reply_id(&m.frame_bytes())),
            );
            if answered.contains(&id) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    drop(port);
    drop(pool);
    drop(eal);
    stop(&server);
    let (out, _) = finish(server, Duration::from_secs(10), "server");
    assert_eq!(answered, [1, 3], "the small pings, not the jumbo one");
    assert_eq!(stat(&out, "rx_too_long"), 1, "{out}");
    assert_eq!(stat(&out, "rx_linearized"), 0, "{out}");
    assert_eq!(stat(&out, "icmp_echo_replies"), 2, "{out}");
}
