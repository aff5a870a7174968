//! What the tests that run C programs against Linux share: the namespace
//! and veth pair (`scripts/linux-peer.sh`), the stack's configuration for
//! it, and waiting for a program's line.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The directory holding library `file` (`libstackc.so`, ...) of this
/// build: beside the test binary in `target/<profile>/deps` (a test build
/// leaves it there), or in `target/<profile>` after `cargo build`.
pub fn lib_dir(file: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    let profile = deps.parent().unwrap().to_path_buf();
    [deps, profile]
        .into_iter()
        .find(|d| d.join(file).exists())
        .unwrap_or_else(|| panic!("no {file} beside {}", exe.display()))
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The namespace and veth pair, removed when dropped.
pub struct Peer {
    pub netns: String,
    pub stk_if: String,
    pub peer_if: String,
    pub dir: PathBuf,
}

impl Peer {
    pub fn up() -> Peer {
        let suffix = format!("c{:x}", std::process::id() & 0xf_ffff);
        let dir = std::env::temp_dir().join(format!("stack-capi-{suffix}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = Peer {
            netns: format!("stkpeer{suffix}"),
            stk_if: format!("stk0{suffix}"),
            peer_if: format!("stk1{suffix}"),
            dir,
        };
        let out = p.script("up");
        assert!(
            out.status.success(),
            "linux-peer.sh up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let base = std::fs::read_to_string(repo().join("configs/linux-peer.toml")).unwrap();
        std::fs::write(
            p.config(),
            base.replace("iface=stk0", &format!("iface={}", p.stk_if)),
        )
        .unwrap();
        p
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join("stack.toml")
    }

    pub fn script(&self, cmd: &str) -> Output {
        Command::new("bash")
            .arg(repo().join("scripts/linux-peer.sh"))
            .arg(cmd)
            .env("STK_NETNS", &self.netns)
            .env("STK_IF", &self.stk_if)
            .env("STK_PEER_IF", &self.peer_if)
            .env("STK_PEER_ADDR", "10.99.0.2/24")
            .output()
            .unwrap()
    }

    pub fn in_netns(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns, program]);
        c
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.script("down");
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

pub fn wait_line(child: &mut std::process::Child, want: &str, limit: Duration) -> String {
    use std::io::{BufRead, BufReader};
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let end = Instant::now() + limit;
    let mut seen = String::new();
    while Instant::now() < end {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(want) {
                return seen;
            }
        }
    }
    panic!("no line with {want:?} within {limit:?}; saw:\n{seen}");
}

/// Whether the tests may run here (root); otherwise says so, and fails
/// under `STACK_ROOT_TESTS=required`.
pub fn may_run(test: &str) -> bool {
    if is_root() {
        return true;
    }
    assert_ne!(
        std::env::var("STACK_ROOT_TESTS").as_deref(),
        Ok("required"),
        "{test} needs root (namespaces, veth, af_packet)"
    );
    println!("SKIPPED {test}: needs root");
    false
}

/// A Linux client in the namespace: `conns` connections, each sending
/// `bytes` and reading the same bytes back.
pub const LINUX_CLIENT: &str = r#"
import socket, sys
conns, size = int(sys.argv[1]), int(sys.argv[2])
ok = 0
for i in range(conns):
    data = bytes((j * 7 + i) % 251 for j in range(size))
    s = socket.create_connection(("10.99.0.1", 7), timeout=10)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        part = s.recv(65536)
        if not part:
            break
        got += part
    s.close()
    ok += got == data
print('{"linux_client": {"connections": %d, "echoed": %d}}' % (conns, ok), flush=True)
sys.exit(0 if ok == conns else 1)
"#;

/// A Linux echo server in the namespace, for `seconds`.
pub const LINUX_SERVER: &str = r#"
import socket, sys, threading, time
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("10.99.0.2", 9000))
l.listen(16)
l.settimeout(0.2)
end = time.monotonic() + float(sys.argv[1])
def serve(c):
    with c:
        while True:
            d = c.recv(65536)
            if not d:
                return
            c.sendall(d)
print("ready", flush=True)
while time.monotonic() < end:
    try:
        c, _ = l.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// Starts `server` (a program on the stack that prints "listening" when
/// ready), checks the stack answers ping, and has Linux open `conns`
/// connections of `size` bytes to port 7, each echoed back whole; `what`
/// names the server in a failure.
pub fn serve_linux_clients(
    peer: &Peer,
    mut server: Command,
    conns: usize,
    size: usize,
    what: &str,
) {
    let mut srv = server.stdout(std::process::Stdio::piped()).spawn().unwrap();
    wait_line(&mut srv, "listening", Duration::from_secs(20));
    let ping = peer
        .in_netns("ping")
        .args(["-c", "1", "-W", "5", "10.99.0.1"])
        .output()
        .unwrap();
    assert!(ping.status.success(), "the stack answers no ping");
    let linux = peer
        .in_netns("python3")
        .args(["-c", LINUX_CLIENT, &conns.to_string(), &size.to_string()])
        .output()
        .unwrap();
    let _ = srv.kill();
    let _ = srv.wait();
    let text = String::from_utf8_lossy(&linux.stdout).to_string();
    println!("{text}");
    assert!(
        linux.status.success(),
        "Linux clients of {what}: {text}{}",
        String::from_utf8_lossy(&linux.stderr)
    );
}

/// Runs `client` (a program on the stack that sends `lines` lines to
/// 10.99.0.2:9000 and prints how many came back) against a Linux echo
/// server; `what` names the client in a failure.
pub fn against_linux_server(peer: &Peer, mut client: Command, lines: usize, what: &str) {
    let mut lsrv = peer
        .in_netns("python3")
        .args(["-c", LINUX_SERVER, "30"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_line(&mut lsrv, "ready", Duration::from_secs(10));
    let out = client
        .args(["10.99.0.2", "9000", &lines.to_string()])
        .output()
        .unwrap();
    let _ = lsrv.kill();
    let _ = lsrv.wait();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    println!("{text}");
    assert!(
        out.status.success() && text.contains(&format!("\"echoed\": {lines}")),
        "{what}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
