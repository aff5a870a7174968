//! An unmodified Debian nginx over the stack through `LD_PRELOAD`, serving
//! files to curl and wrk in a Linux namespace, beside the same nginx on
//! Linux's TCP over the same veth in the same run.
//!
//! nginx runs as one process (`master_process off`: a forked worker would
//! have no engine thread) with epoll and sendfile as configured by
//! default. The files are checked byte for byte with curl; wrk measures
//! requests/s of a small file (one thread, 10 connections, 3 s) on both,
//! and the test prints them (a measurement, not an assertion). Linux: the
//! veth end in the root namespace gets 10.99.0.3, offloads off on both
//! ends as for the stack, default sysctls.
//!
//! Needs root, nginx, wrk and curl (the README's test command installs
//! them).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../../capi/tests/common/peer.rs"]
mod peer;

use peer::*;

/// An nginx configuration serving `root` on `listen`, everything under
/// `dir`.
fn nginx_conf(dir: &Path, root: &Path, listen: &str) -> PathBuf {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let l = logs.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\n\
         error_log {l}/error.log info;\npid {l}/nginx.pid;\n\
         events {{ worker_connections 1024; use epoll; }}\n\
         http {{\n  access_log off;\n  sendfile on;\n  keepalive_timeout 30;\n\
           client_body_temp_path {l}/body;\n  proxy_temp_path {l}/proxy;\n\
           fastcgi_temp_path {l}/fcgi;\n  uwsgi_temp_path {l}/uwsgi;\n\
           scgi_temp_path {l}/scgi;\n\
           server {{ listen {listen}; root {}; }}\n}}\n",
        root.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

/// An nginx process, killed when dropped (a failing test leaves none).
struct Nginx(Option<Child>);

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn_nginx(dir: &Path, conf: &Path, preload: Option<&Path>) -> Nginx {
    let mut c = Command::new("nginx");
    c.arg("-p").arg(dir).arg("-c").arg(conf);
    if let Some(config) = preload {
        c.env(
            "LD_PRELOAD",
            lib_dir("libstackpreload.so").join("libstackpreload.so"),
        )
        .env("STACK_CONFIG", config);
    }
    Nginx(Some(
        c.stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ))
}

/// curl in the namespace: the body of `url`, once it answers (20 s).
fn fetch(peer: &Peer, url: &str) -> Vec<u8> {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let out = peer
            .in_netns("curl")
            .args(["-s", "-f", "-m", "10", url])
            .output()
            .unwrap();
        if out.status.success() {
            return out.stdout;
        }
        assert!(Instant::now() < end, "{url} never answered");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// wrk in the namespace; returns (requests/s, the report).
fn wrk(peer: &Peer, url: &str) -> (f64, String) {
    let out = peer
        .in_netns("wrk")
        .args(["-t1", "-c10", "-d3s", url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec from wrk:\n{text}"));
    (rps, text)
}

fn stop(mut nginx: Nginx) -> String {
    let Some(mut child) = nginx.0.take() else {
        return String::new();
    };
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn nginx_serves_files_over_the_stack() {
    if !may_run("nginx_serves_files_over_the_stack") {
        return;
    }
    for tool in ["nginx", "wrk", "curl"] {
        assert!(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .unwrap()
                .status
                .success(),
            "{tool} is not installed (scripts/setup.sh installs it)"
        );
    }
    let peer = Peer::up();
    let www = peer.dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(www.join("big.bin"), &big).unwrap();
    std::fs::write(www.join("index.html"), "hello from nginx\n").unwrap();

    // nginx over the stack.
    let sdir = peer.dir.join("stack-nginx");
    std::fs::create_dir_all(&sdir).unwrap();
    let conf = nginx_conf(&sdir, &www, "10.99.0.1:8080");
    let nginx = spawn_nginx(&sdir, &conf, Some(&peer.config()));
    let got = fetch(&peer, "http://10.99.0.1:8080/big.bin");
    let small = fetch(&peer, "http://10.99.0.1:8080/index.html");
    let (stack_rps, stack_report) = wrk(&peer, "http://10.99.0.1:8080/index.html");
    let stack_log = stop(nginx);
    assert!(
        got == big,
        "the 3 MB file came back different ({} bytes)",
        got.len()
    );
    assert_eq!(small, b"hello from nginx\n", "{stack_log}");
    assert!(
        !stack_report.contains("Socket errors") && !stack_report.contains("Non-2xx"),
        "wrk saw errors over the stack:\n{stack_report}"
    );

    // The same nginx on Linux's TCP, over the same veth.
    let add = Command::new("ip")
        .args(["addr", "add", "10.99.0.3/24", "dev", &peer.stk_if])
        .status()
        .unwrap();
    assert!(add.success());
    let ldir = peer.dir.join("linux-nginx");
    std::fs::create_dir_all(&ldir).unwrap();
    let conf = nginx_conf(&ldir, &www, "10.99.0.3:8081");
    let nginx = spawn_nginx(&ldir, &conf, None);
    let got = fetch(&peer, "http://10.99.0.3:8081/big.bin");
    let (linux_rps, linux_report) = wrk(&peer, "http://10.99.0.3:8081/index.html");
    stop(nginx);
    assert!(got == big, "Linux's nginx sent a different file");
    println!(
        "nginx 1.22, one process, a 17-byte file, wrk -t1 -c10 -d3s from the namespace: \
         {stack_rps:.0} requests/s over the stack (LD_PRELOAD), {linux_rps:.0} over Linux's TCP \
         on the same veth ({:.2}x)\n--- stack ---\n{stack_report}--- linux ---\n{linux_report}",
        stack_rps / linux_rps
    );
}
