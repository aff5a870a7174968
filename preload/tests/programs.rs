//! Unmodified programs over the stack through `LD_PRELOAD`: plain POSIX C
//! programs (`preload/examples/*.c`, compiled without any stack header or
//! library) run with `LD_PRELOAD=libstackpreload.so STACK_CONFIG=...`
//! against Linux in a network namespace. The epoll echo server, bound to
//! the stack's address, serves Linux clients; the poll-based client,
//! connecting into the stack's subnet, talks to a Linux echo server.
//!
//! Needs root and a C compiler (see `capi/tests/common/peer.rs`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "../../capi/tests/common/peer.rs"]
mod peer;

use peer::*;

/// Compiles `preload/examples/NAME.c` as any program is: libc only.
fn compile(name: &str, out: &Path) -> PathBuf {
    let exe = out.join(name);
    let status = Command::new("cc")
        .args([
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-std=c11",
            "-D_GNU_SOURCE",
        ])
        .arg(repo().join(format!("preload/examples/{name}.c")))
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("a C compiler (cc)");
    assert!(status.success(), "cc {name}.c failed");
    exe
}

fn preloaded(exe: &Path, peer: &Peer) -> Command {
    let mut c = Command::new(exe);
    c.env(
        "LD_PRELOAD",
        lib_dir("libstackpreload.so").join("libstackpreload.so"),
    )
    .env("STACK_CONFIG", peer.config());
    c
}

/// Linux clients in the namespace: `conns` connections of `size` bytes
/// each, echoed back whole.
const LINUX_CLIENT: &str = r#"
import socket, sys
conns, size = int(sys.argv[1]), int(sys.argv[2])
ok = 0
for i in range(conns):
    data = bytes((j * 13 + i) % 251 for j in range(size))
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

const LINUX_SERVER: &str = r#"
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

#[test]
fn unmodified_posix_programs_over_the_stack() {
    if !may_run("unmodified_posix_programs_over_the_stack") {
        return;
    }
    let peer = Peer::up();
    let server = compile("posix_echo_server", &peer.dir);
    let client = compile("posix_client", &peer.dir);

    let mut srv = preloaded(&server, &peer)
        .args(["10.99.0.1", "7", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_line(&mut srv, "listening", Duration::from_secs(20));
    let ping = peer
        .in_netns("ping")
        .args(["-c", "1", "-W", "5", "10.99.0.1"])
        .output()
        .unwrap();
    assert!(ping.status.success(), "the stack answers no ping");
    let linux = peer
        .in_netns("python3")
        .args(["-c", LINUX_CLIENT, "20", "100000"])
        .output()
        .unwrap();
    let _ = srv.kill();
    let _ = srv.wait();
    let text = String::from_utf8_lossy(&linux.stdout).to_string();
    println!("{text}");
    assert!(
        linux.status.success(),
        "Linux clients of the preloaded server: {text}{}",
        String::from_utf8_lossy(&linux.stderr)
    );

    let mut lsrv = peer
        .in_netns("python3")
        .args(["-c", LINUX_SERVER, "30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_line(&mut lsrv, "ready", Duration::from_secs(10));
    let out = preloaded(&client, &peer)
        .args(["10.99.0.2", "9000", "300"])
        .output()
        .unwrap();
    let _ = lsrv.kill();
    let _ = lsrv.wait();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    println!("{text}");
    assert!(
        out.status.success() && text.contains("\"echoed\": 300"),
        "the preloaded client: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
