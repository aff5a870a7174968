//! The C examples (`capi/examples/*.c`), compiled against `stack.h` and
//! linked with `libstackc.so`, run over DPDK's net_af_packet against Linux
//! in a network namespace (`scripts/linux-peer.sh`): the epoll echo server
//! (on its own thread) and the run-to-completion echo server (`stack_run`,
//! in the engine's loop) serve a Linux client, and the blocking client
//! talks to a Linux echo server. Bytes are checked on both sides.
//!
//! Needs root (namespaces, veth, af_packet) and a C compiler; without
//! root the test says so and passes, unless `STACK_ROOT_TESTS=required`
//! (the README's test command sets it), which makes it fail instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "common/peer.rs"]
mod peer;

use peer::*;

/// Compiles `capi/examples/NAME.c` with warnings as errors.
fn compile(name: &str, out: &Path) -> PathBuf {
    let lib = lib_dir("libstackc.so");
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
        .arg("-I")
        .arg(repo().join("capi/include"))
        .arg(repo().join(format!("capi/examples/{name}.c")))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib)
        .arg("-lstackc")
        // DT_RPATH, not RUNPATH: the library beside the test wins over
        // LD_LIBRARY_PATH (cargo's, which may name an older build's).
        .arg("-Wl,--disable-new-dtags")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .status()
        .expect("a C compiler (cc)");
    assert!(status.success(), "cc {name}.c failed");
    exe
}

/// A Linux client in the namespace: `conns` connections, each sending
/// `bytes` and reading the same bytes back.
const LINUX_CLIENT: &str = r#"
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
fn c_programs_over_the_stack_with_linux() {
    if !may_run("c_programs_over_the_stack_with_linux") {
        return;
    }
    let peer = Peer::up();
    let server = compile("echo_server", &peer.dir);
    let client = compile("client", &peer.dir);

    // The epoll echo server on the stack; Linux connects 20 times.
    let mut srv = Command::new(&server)
        .arg(peer.config())
        .args(["7", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_line(&mut srv, "listening", Duration::from_secs(20));
    let mut ping = Command::new("ip");
    ping.args([
        "netns",
        "exec",
        &peer.netns,
        "ping",
        "-c",
        "1",
        "-W",
        "5",
        "10.99.0.1",
    ]);
    assert!(
        ping.output().unwrap().status.success(),
        "the stack answers no ping"
    );
    let linux = peer
        .in_netns("python3")
        .args(["-c", LINUX_CLIENT, "20", "100000"])
        .output()
        .unwrap();
    let linux_out = String::from_utf8_lossy(&linux.stdout).to_string();
    let _ = srv.kill();
    let _ = srv.wait();
    println!("{linux_out}");
    assert!(
        linux.status.success(),
        "the Linux client's echoes: {linux_out}{}",
        String::from_utf8_lossy(&linux.stderr)
    );

    // The run-to-completion echo server (stack_run: no thread of its own);
    // Linux connects 10 times.
    let rtc = compile("rtc_echo", &peer.dir);
    let mut srv = Command::new(&rtc)
        .arg(peer.config())
        .args(["7", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_line(&mut srv, "listening", Duration::from_secs(20));
    let linux = peer
        .in_netns("python3")
        .args(["-c", LINUX_CLIENT, "10", "50000"])
        .output()
        .unwrap();
    let linux_out = String::from_utf8_lossy(&linux.stdout).to_string();
    let _ = srv.kill();
    let _ = srv.wait();
    println!("{linux_out}");
    assert!(
        linux.status.success(),
        "the Linux client of the run-to-completion server: {linux_out}{}",
        String::from_utf8_lossy(&linux.stderr)
    );

    // The blocking C client on the stack; a Linux echo server.
    let mut lsrv = peer
        .in_netns("python3")
        .args(["-c", LINUX_SERVER, "30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_line(&mut lsrv, "ready", Duration::from_secs(10));
    let out = Command::new(&client)
        .arg(peer.config())
        .args(["10.99.0.2", "9000", "500"])
        .output()
        .unwrap();
    let _ = lsrv.kill();
    let _ = lsrv.wait();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    println!("{text}");
    assert!(
        out.status.success() && text.contains("\"echoed\": 500"),
        "the C client: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
