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
use std::process::Command;

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

#[test]
fn c_programs_over_the_stack_with_linux() {
    if !may_run("c_programs_over_the_stack_with_linux") {
        return;
    }
    let peer = Peer::up();
    let server = compile("echo_server", &peer.dir);
    let client = compile("client", &peer.dir);

    // The epoll echo server on the stack; Linux connects 20 times.
    let mut srv = Command::new(&server);
    srv.arg(peer.config()).args(["7", "20"]);
    serve_linux_clients(&peer, srv, 20, 100_000, "the epoll server");

    // The run-to-completion echo server (stack_run: no thread of its own);
    // Linux connects 10 times.
    let rtc = compile("rtc_echo", &peer.dir);
    let mut srv = Command::new(&rtc);
    srv.arg(peer.config()).args(["7", "20"]);
    serve_linux_clients(&peer, srv, 10, 50_000, "the run-to-completion server");

    // The blocking C client on the stack; a Linux echo server.
    let mut c = Command::new(&client);
    c.arg(peer.config());
    against_linux_server(&peer, c, 500, "the C client");
}
