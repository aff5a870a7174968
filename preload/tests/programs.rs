//! Unmodified programs over the stack through `LD_PRELOAD`: plain POSIX C
//! programs (`preload/examples/*.c`, compiled without any stack header or
//! library) run with `LD_PRELOAD=libstackpreload.so STACK_CONFIG=...`
//! against Linux in a network namespace. The epoll echo server, bound to
//! the stack's address, serves Linux clients; the poll-based client,
//! connecting into the stack's subnet, talks to a Linux echo server.
//!
//! Needs root and a C compiler (see `capi/tests/common/peer.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

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

#[test]
fn unmodified_posix_programs_over_the_stack() {
    if !may_run("unmodified_posix_programs_over_the_stack") {
        return;
    }
    let peer = Peer::up();
    let server = compile("posix_echo_server", &peer.dir);
    let client = compile("posix_client", &peer.dir);

    let mut srv = preloaded(&server, &peer);
    srv.args(["10.99.0.1", "7", "30"]);
    serve_linux_clients(&peer, srv, 20, 100_000, "the preloaded server");
    against_linux_server(
        &peer,
        preloaded(&client, &peer),
        300,
        "the preloaded client",
    );
}
