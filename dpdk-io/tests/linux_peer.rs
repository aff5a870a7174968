//! The stack against the Linux kernel's TCP: `stackd` on one end of a veth
//! pair (net_af_packet), Linux in a network namespace on the other
//! (`scripts/linux-peer.sh`), the Linux programs in `tests/peer/peer.py`.
//!
//! Needs root (namespaces, veth, af_packet, tcpdump, nftables): when not
//! root every test prints why and passes without running. Each test makes
//! its own namespace and veth (names unique to the process and the test)
//! and removes them when it ends, passed or failed. The tests run one at a
//! time (a shared lock): each `stackd` and each Linux program wants a core
//! of a small machine. Every wait is bounded. On failure a test prints what
//! it saw: the capture, as tcpdump reads it, and every program's output.
//!
//! Covered: ping and ARP; echo with a Linux client; 256 MiB each way
//! between our `bulk` and a Linux one (SHA-256 of both directions compared
//! across); scenarios S1 and S2 of seed 000 with our side as client and
//! as server (contracts 8b, 8c, 10); close with unread data (8a), abort and
//! linger 0 (9c), linger running out and linger graceful (9b); 64 MiB each
//! way under 2 % random loss on the Linux side (nftables); 64 MiB each way
//! over net_tap (bridged to the veth) with frames of several segments,
//! cut by the driver's TSO or, where it refuses them, by the loop.

#[macro_use]
mod linux;

use std::time::Duration;

use linux::*;

/// The handshake: SYN from one side, SYN-ACK, ACK. Returns the index of
/// the ACK (it may carry the first data) and the initial sequence numbers
/// (client, server).
fn handshake(t: &Trace, client_is_stack: bool, rep: &str) -> (usize, u32, u32) {
    let syn = t.find(0, |s| s.flags == "S" && s.ours == client_is_stack);
    check!(syn.is_some(), rep, "no SYN from the client");
    let syn = syn.unwrap();
    let synack = t.find(syn, |s| s.flags == "S." && s.ours != client_is_stack);
    check!(synack.is_some(), rep, "no SYN-ACK from the server");
    let synack = synack.unwrap();
    let (c_isn, s_isn) = (t.segs[syn].seq, t.segs[synack].seq);
    let ack = t.find(synack, |s| {
        s.ours == client_is_stack && s.ack == Some(s_isn.wrapping_add(1))
    });
    check!(ack.is_some(), rep, "no ACK of the SYN-ACK");
    (ack.unwrap(), c_isn, s_isn)
}

// ---------------------------------------------------------------------------
// The tests.

#[test]
fn ping_and_arp() {
    let Some(env) = Env::new("ping_and_arp", 1) else {
        return;
    };
    let mut stackd = env.stackd(&["--stats", "echo"], false);
    env.wait_ping(&stackd);
    let (ok, out) = env.run_in_netns(&["ping", "-c", "3", "-i", "0.2", "-W", "2", STACK_IP]);
    check!(
        ok && out.contains("3 received"),
        report(None, &[&stackd]),
        "ping -c 3 {STACK_IP}: {out}"
    );
    // Linux learned the stack's MAC (the veth's own) through ARP.
    let mac = std::fs::read_to_string(format!("/sys/class/net/{}/address", env.stk_if))
        .unwrap()
        .trim()
        .to_string();
    let (_, neigh) = env.run_in_netns(&["ip", "neigh", "show", STACK_IP]);
    check!(
        neigh.contains(&format!("lladdr {mac}"))
            && !neigh.contains("FAILED")
            && !neigh.contains("INCOMPLETE"),
        report(None, &[&stackd]),
        "ip neigh for {STACK_IP}: `{}`, expected lladdr {mac}",
        neigh.trim()
    );
    stackd.stop(Duration::from_secs(10));
    let stats = json_line(&stackd, "engine");
    let engine = stats.as_ref().map(|s| &s["engine"]);
    let replies = engine.and_then(|e| e["icmp_echo_replies"].as_u64());
    let arp = engine.and_then(|e| e["arp_replies_sent"].as_u64());
    check!(
        replies.is_some_and(|n| n >= 4) && arp.is_some_and(|n| n >= 1),
        report(None, &[&stackd]),
        "engine counters: {replies:?} echo replies (>= 4 wanted), {arp:?} ARP replies"
    );
    println!(
        "ping_and_arp: {} {}",
        out.lines().last().unwrap_or(""),
        neigh.trim()
    );
}

#[test]
fn echo_server_with_linux_client() {
    let Some(env) = Env::new("echo_server_with_linux_client", 2) else {
        return;
    };
    let mut stackd = env.stackd(&["--stats", "echo", "--port", "7"], false);
    env.wait_ping(&stackd);
    let bytes = (4u64 << 20).to_string();
    let to = format!("{STACK_IP}:7");
    let mut client = env.linux(
        "linux echo-client",
        &["echo-client", "--to", &to, "--bytes", &bytes],
    );
    client.wait(Duration::from_secs(40));
    let res = json_line(&client, "equal");
    stackd.stop(Duration::from_secs(10));
    check!(
        res.as_ref()
            .is_some_and(|r| r["equal"] == true && r["received"].as_u64() == Some(4 << 20)),
        report(None, &[&client, &stackd]),
        "echo of 4 MiB through the stack: {res:?}"
    );
}

// Nagle with Minshall's variant against Linux's delayed ACK: a Linux
// client echoes 1,500 bytes twenty times through our echo server. Each
// answer is a full segment and a short tail. Strict RFC 896 sends the
// tail only when Linux acknowledges the full segment, which Linux delays
// (about 40 ms) once the exchange is ping-pong: every tail would follow a
// Linux ACK. Now the tail follows the full segment at once; only while
// Linux still quick-ACKs (the first exchanges) may its ACK land between
// the two. Asserted on the capture: at least 15 of the 20 tails come
// straight after their full segment.
#[test]
fn echo_of_1500_bytes_does_not_wait_for_linux_delayed_ack() {
    let Some(env) = Env::new("echo_1500", 14) else {
        return;
    };
    let mut stackd = env.stackd(&["echo", "--port", "7"], false);
    env.wait_ping(&stackd);
    let cap = env.capture(7);
    let to = format!("{STACK_IP}:7");
    let mut client = env.linux(
        "linux echo-rr",
        &["echo-rr", "--to", &to, "--size", "1500", "--count", "20"],
    );
    client.wait(Duration::from_secs(30));
    let res = json_line(&client, "echoes");
    let trace = cap.finish();
    stackd.stop(Duration::from_secs(10));
    let rep = report(Some(&trace), &[&client, &stackd]);
    check!(
        res.as_ref().is_some_and(|r| r["equal"] == true),
        rep,
        "the echoes did not come back: {res:?}"
    );
    // A full segment: 1,448 bytes beside timestamps (1,460 without).
    let full = trace.segs.iter().filter(|s| s.ours).map(|s| s.len).max();
    let full = full.unwrap_or(0);
    let (mut heads, mut straight) = (0, 0);
    for (i, s) in trace.segs.iter().enumerate() {
        if s.ours && s.len == full {
            heads += 1;
            let next = trace.segs.get(i + 1);
            straight += usize::from(next.is_some_and(|n| n.ours && n.len == 1500 - full));
        }
    }
    check!(heads == 20, rep, "{heads} echoes of 1,500 bytes seen");
    check!(
        straight >= 15,
        rep,
        "only {straight} of 20 tails left straight after their full segment"
    );
    println!("echo_1500: {straight} of 20 tails straight after the head; {res:?}");
}

// RFC 7323: window scaling and timestamps are agreed with Linux both
// ways, and every segment of the connection then carries a timestamp.
// Asserted on captures of Linux connecting to our echo server and of our
// bulk client connecting to Linux.
#[test]
fn window_scaling_and_timestamps_are_agreed_with_linux_both_ways() {
    let Some(env) = Env::new("options_both_ways", 15) else {
        return;
    };
    let check_trace = |trace: &Trace, rep: &str, client_is_stack: bool| {
        let syn = trace.find(0, |s| s.has('S') && !s.has('.'));
        let synack = trace.find(0, |s| s.has('S') && s.has('.'));
        check!(syn.is_some() && synack.is_some(), rep, "no handshake");
        let (syn, synack) = (&trace.segs[syn.unwrap()], &trace.segs[synack.unwrap()]);
        check!(
            syn.ours == client_is_stack,
            rep,
            "the SYN came from the wrong side"
        );
        for s in [syn, synack] {
            check!(
                s.has_option("mss") && s.has_option("wscale") && s.has_option("TS"),
                rep,
                "a SYN without MSS, window scale and timestamps: [{}]",
                s.options
            );
        }
        let data = trace.segs.iter().filter(|s| !s.has('S') && !s.has('R'));
        let without: Vec<_> = data.filter(|s| !s.has_option("TS")).collect();
        check!(
            without.is_empty(),
            rep,
            "segments without timestamps: {without:?}"
        );
    };
    // Linux connects to us.
    let mut stackd = env.stackd(&["echo", "--port", "7"], false);
    env.wait_ping(&stackd);
    let cap = env.capture(7);
    let to = format!("{STACK_IP}:7");
    let mut client = env.linux("linux echo-rr", &["echo-rr", "--to", &to, "--count", "3"]);
    client.wait(Duration::from_secs(30));
    let trace = cap.finish();
    stackd.stop(Duration::from_secs(10));
    let rep = report(Some(&trace), &[&client, &stackd]);
    check!(
        json_line(&client, "echoes").is_some_and(|r| r["equal"] == true),
        rep,
        "the echoes did not come back"
    );
    check_trace(&trace, &rep, false);
    // We connect to Linux.
    let mut linux = env.linux(
        "linux bulk",
        &["bulk", "--listen", "5001", "--bytes", "100000"],
    );
    linux.wait_for("listening on", Duration::from_secs(10), &|| String::new());
    let cap = env.capture(5001);
    let to = format!("{LINUX_IP}:5001");
    let mut stackd = env.stackd(
        &[
            "--settle-ms",
            "5000",
            "bulk",
            "--connect",
            &to,
            "--bytes",
            "100000",
        ],
        false,
    );
    stackd.wait(Duration::from_secs(30));
    linux.wait(Duration::from_secs(10));
    let trace = cap.finish();
    let rep = report(Some(&trace), &[&linux, &stackd]);
    check!(
        json_line(&stackd, "sent_sha256").is_some(),
        rep,
        "our bulk did not finish"
    );
    check_trace(&trace, &rep, true);
}

/// Our `bulk` connects to a Linux `bulk`; both send `bytes` at once and
/// each hashes what it receives; the hashes are compared across.
fn bulk_with_linux(env: &Env, bytes: u64, limit: Duration) {
    let port = "5001";
    let n = bytes.to_string();
    let mut linux = env.linux(
        "linux bulk",
        &[
            "--timeout",
            "120",
            "bulk",
            "--listen",
            port,
            "--bytes",
            &n,
            "--seed",
            "11",
        ],
    );
    linux.wait_for("listening on", Duration::from_secs(10), &|| String::new());
    let to = format!("{LINUX_IP}:{port}");
    let mut stackd = env.stackd(
        &[
            "--stats",
            "--settle-ms",
            "10000",
            "bulk",
            "--connect",
            &to,
            "--bytes",
            &n,
            "--seed",
            "3",
        ],
        false,
    );
    finish_bulk(env, &mut linux, &mut stackd, bytes, limit);
}

/// Waits (up to `limit`) for our bulk and Linux's, then checks both
/// directions arrived whole (counts and SHA-256 across). Returns
/// stackd's `--stats` line.
fn finish_bulk(
    env: &Env,
    linux: &mut Proc,
    stackd: &mut Proc,
    bytes: u64,
    limit: Duration,
) -> Option<serde_json::Value> {
    let ours_done = stackd.wait(limit);
    if ours_done.is_none() {
        stackd.stop(Duration::from_secs(5));
    }
    linux.wait(Duration::from_secs(10));
    if linux.status.is_none() {
        linux.stop(Duration::from_secs(2));
    }
    let rep = report(None, &[&*linux, &*stackd]);
    check!(
        ours_done.is_some(),
        rep,
        "our bulk did not finish within {limit:?}"
    );
    let ours = json_line(stackd, "sent_sha256");
    let theirs = json_line(linux, "sent_sha256");
    check!(
        ours.is_some() && theirs.is_some(),
        rep,
        "missing bulk reports"
    );
    let (ours, theirs) = (ours.unwrap(), theirs.unwrap());
    check!(
        ours["error"].is_null() && theirs["error"].is_null(),
        rep,
        "bulk errors: ours {} linux {}",
        ours["error"],
        theirs["error"]
    );
    check!(
        ours["sent"].as_u64() == Some(bytes) && theirs["sent"].as_u64() == Some(bytes),
        rep,
        "sent counts: ours {} linux {}",
        ours["sent"],
        theirs["sent"]
    );
    check!(
        theirs["received"] == ours["sent"] && theirs["received_sha256"] == ours["sent_sha256"],
        rep,
        "stack -> linux: sent {} {} but linux received {} {}",
        ours["sent"],
        ours["sent_sha256"],
        theirs["received"],
        theirs["received_sha256"]
    );
    check!(
        ours["received"] == theirs["sent"] && ours["received_sha256"] == theirs["sent_sha256"],
        rep,
        "linux -> stack: sent {} {} but the stack received {} {}",
        theirs["sent"],
        theirs["sent_sha256"],
        ours["received"],
        ours["received_sha256"]
    );
    let secs = ours["seconds"].as_f64().unwrap_or(0.0);
    let engine = json_line(stackd, "engine").map(|s| s["engine"].clone());
    println!(
        "{}: {} MiB each way in {secs:.2} s ({:.0} Mbit/s per direction), retransmits {}, RTOs {}",
        env.name,
        bytes >> 20,
        bytes as f64 * 8.0 / secs.max(1e-9) / 1e6,
        engine
            .as_ref()
            .map_or("?".into(), |e| e["retransmits"].to_string()),
        engine
            .as_ref()
            .map_or("?".into(), |e| e["rto_expired"].to_string()),
    );
    json_line(stackd, "engine")
}

/// A Linux bridge joining the tap of a net_tap port to the stack's veth
/// end (no address on it: it only forwards frames), removed on drop.
struct TapBridge {
    name: String,
}

impl TapBridge {
    fn new(bridge: &str, members: &[&str]) -> TapBridge {
        let run = |args: &[&str]| {
            let out = std::process::Command::new(args[0])
                .args(&args[1..])
                .output()
                .expect(args[0]);
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "ip",
            "link",
            "add",
            "name",
            bridge,
            "type",
            "bridge",
            "forward_delay",
            "0",
        ]);
        let b = TapBridge {
            name: bridge.to_string(),
        };
        for dev in std::iter::once(&bridge).chain(members) {
            let _ = std::process::Command::new("sysctl")
                .args(["-qw", &format!("net.ipv6.conf.{dev}.disable_ipv6=1")])
                .output();
        }
        for dev in members {
            run(&["ip", "link", "set", dev, "master", bridge]);
            run(&["ip", "link", "set", dev, "up"]);
        }
        run(&["ip", "link", "set", bridge, "up"]);
        b
    }
}

impl Drop for TapBridge {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.name])
            .output();
    }
}

/// stackd on net_tap (its tap bridged to the veth whose other end is
/// Linux's) with `engine.offload.tx_checksum` and `tx_segmentation`, and
/// `tcp.mss` if given: 64 MiB each way with a Linux bulk, SHA-256 checked
/// across. Returns stackd's loop counters and the longest segment Linux
/// received from us.
fn bulk_over_net_tap(env: &Env, mss: Option<u16>) -> (serde_json::Value, u32) {
    let tap = env.stk_if.replacen("stk0", "stkt", 1);
    let bridge = env.stk_if.replacen("stk0", "stkb", 1);
    let base = std::fs::read_to_string(&env.config).unwrap();
    let mut config = base
        .replace(
            &format!("net_af_packet0,iface={}", env.stk_if),
            &format!("net_tap0,iface={tap}"),
        )
        .replace("device = \"net_af_packet0\"", "device = \"net_tap0\"")
        // Not the tap's own MAC: the bridge keeps frames to its ports'
        // addresses for itself.
        .replace("use_port_mac = true", "use_port_mac = false")
        .replace("[engine]\n", "[engine]\nmac = \"02:00:00:00:99:01\"\n")
        + "\n[engine.offload]\ntx_checksum = true\ntx_segmentation = true\n";
    if let Some(mss) = mss {
        config += &format!("\n[engine.tcp]\nmss = {mss}\n");
    }
    assert!(config.contains("net_tap0,iface=") && config.contains("mac = \"02:00"));
    std::fs::write(&env.config, config).unwrap();
    let bytes: u64 = 64 << 20;
    let n = bytes.to_string();
    let mut stackd = env.stackd(
        &[
            "--stats",
            "--settle-ms",
            "10000",
            "bulk",
            "--listen",
            "5001",
            "--bytes",
            &n,
            "--seed",
            "3",
        ],
        false,
    );
    let _bridge = TapBridge::new(&bridge, &[&tap, &env.stk_if]);
    env.wait_ping(&stackd);
    let capture = env.capture(5001);
    let mut linux = env.linux(
        "linux bulk",
        &[
            "--timeout",
            "120",
            "bulk",
            "--to",
            &format!("{STACK_IP}:5001"),
            "--bytes",
            &n,
            "--seed",
            "11",
        ],
    );
    let stats = finish_bulk(env, &mut linux, &mut stackd, bytes, Duration::from_secs(60));
    let trace = capture.finish();
    let biggest = trace
        .segs
        .iter()
        .filter(|s| s.ours)
        .map(|s| s.len)
        .max()
        .unwrap_or(0);
    let lp = stats.map(|s| s["loop"].clone()).unwrap_or_default();
    println!(
        "{}: largest segment received by Linux {biggest} bytes; loop {lp}",
        env.name
    );
    (lp, biggest)
}

/// TCP segmentation offload against Linux, over net_tap (which offers
/// TSO, done by DPDK's GSO library inside the driver). net_tap in DPDK
/// 22.11 counts a segment's Ethernet header against the MTU, so with
/// MSS 1434 (segments of 1,422 bytes after the timestamps option) its
/// TSO takes every frame: stackd hands frames of several segments to the
/// device, cuts none itself, and Linux receives whole segments.
#[test]
fn bulk_with_linux_through_tso_on_net_tap() {
    let Some(env) = Env::new("bulk_with_linux_through_tso_on_net_tap", 30) else {
        return;
    };
    let (lp, biggest) = bulk_over_net_tap(&env, Some(1434));
    let tso = lp["tx_tso_frames"].as_u64().unwrap_or(0);
    assert!(tso > 0, "no frame went to the device's TSO: {lp}");
    assert_eq!(lp["tx_cut_frames"].as_u64(), Some(0), "{lp}");
    assert_eq!(biggest, 1422, "the largest segment Linux received from us");
}

/// The same at the full MSS, which net_tap's TSO would refuse: the loop
/// cuts those frames itself, and Linux receives full 1,448-byte segments.
#[test]
fn bulk_with_linux_over_net_tap_cuts_what_its_tso_refuses() {
    let Some(env) = Env::new("bulk_with_linux_over_net_tap_cuts_what_its_tso_refuses", 31) else {
        return;
    };
    let (lp, biggest) = bulk_over_net_tap(&env, None);
    assert!(
        lp["tx_cut_frames"].as_u64().unwrap_or(0) > 0,
        "nothing cut: {lp}"
    );
    assert_eq!(lp["tx_tso_frames"].as_u64(), Some(0), "{lp}");
    assert_eq!(lp["tx_cut_failed"].as_u64(), Some(0), "{lp}");
    assert_eq!(biggest, 1448, "the largest segment Linux received from us");
}

#[test]
fn bulk_256mib_each_way_with_linux() {
    let Some(env) = Env::new("bulk_256mib_each_way_with_linux", 3) else {
        return;
    };
    bulk_with_linux(&env, 256 << 20, Duration::from_secs(50));
}

#[test]
fn bulk_64mib_each_way_with_2pct_loss_on_linux_side() {
    let Some(env) = Env::new("bulk_64mib_each_way_with_2pct_loss_on_linux_side", 4) else {
        return;
    };
    add_loss(&env, 2);
    bulk_with_linux(&env, 64 << 20, Duration::from_secs(55));
    check_loss_dropped(&env);
}

/// Drops `percent` % of the TCP frames in each direction at Linux's veth
/// end (nftables `numgen random`: `tc netem` is not in this kernel).
fn add_loss(env: &Env, percent: u32) {
    let ruleset = format!(
        "table netdev loss {{\n\
         chain in {{ type filter hook ingress device \"{dev}\" priority 0; \
         ip protocol tcp numgen random mod 100 < {percent} counter drop; }}\n\
         chain out {{ type filter hook egress device \"{dev}\" priority 0; \
         ip protocol tcp numgen random mod 100 < {percent} counter drop; }}\n}}\n",
        dev = env.peer_if
    );
    let file = env.dir.join("loss.nft");
    std::fs::write(&file, &ruleset).unwrap();
    let (ok, out) = env.run_in_netns(&["nft", "-f", file.to_str().unwrap()]);
    assert!(ok, "nft -f:\n{ruleset}\n{out}");
}

/// The loss rules of [`add_loss`] dropped frames both ways.
fn check_loss_dropped(env: &Env) {
    let (_, rules) = env.run_in_netns(&["nft", "list", "table", "netdev", "loss"]);
    let drops: Vec<u64> = rules
        .lines()
        .filter_map(|l| l.split("packets ").nth(1))
        .filter_map(|v| v.split_whitespace().next()?.parse().ok())
        .collect();
    println!("nftables drops (in, out): {drops:?}");
    assert!(
        drops.len() == 2 && drops.iter().all(|&d| d > 0),
        "the loss rules dropped nothing:\n{rules}"
    );
}

// RFC 2018 against Linux: with 2 % of frames lost each way during a bulk
// transfer both ways, both sides' ACKs report SACK blocks (seen in the
// capture), and every byte arrives intact. Our frames are lost at Linux's
// ingress (nftables); Linux's on our receive path (the fault injector:
// nftables' egress hook sees too few of Linux's data frames to lose any
// reliably).
#[test]
fn sack_blocks_flow_both_ways_under_loss() {
    let Some(env) = Env::new("sack_under_loss", 16) else {
        return;
    };
    add_loss(&env, 2);
    let mut config = std::fs::read_to_string(&env.config).unwrap();
    config.push_str("\n[fault]\ndirection = \"rx\"\ndrop = 0.02\nseed = 7\n");
    std::fs::write(&env.config, config).unwrap();
    let cap = env.capture(5001);
    bulk_with_linux(&env, 4 << 20, Duration::from_secs(55));
    let trace = cap.finish();
    check_loss_dropped(&env);
    let sacks = |ours: bool| {
        trace
            .segs
            .iter()
            .filter(|s| s.ours == ours && s.has_option("sack"))
            .count()
    };
    let (ours, linux) = (sacks(true), sacks(false));
    println!("segments with SACK blocks: ours {ours}, Linux {linux}");
    assert!(
        ours > 0 && linux > 0,
        "SACK blocks: ours {ours}, Linux {linux}\n{}",
        trace.summary()
    );
}

/// S1, our client (contracts 8b, 8c): our seed-client sends "aaa" and
/// closes; the Linux server replies "Hi, aaa" a second later, to an
/// orphan, which answers with RST.
#[test]
fn s1_our_client_closes_linux_server_replies() {
    let Some(env) = Env::new("s1_our_client_closes_linux_server_replies", 5) else {
        return;
    };
    let cap = env.capture(9527);
    let mut server = env.linux(
        "linux seed-server",
        &[
            "seed-server",
            "--port",
            "9527",
            "--delay-s",
            "1",
            "--after-eof",
            "wait-reset",
        ],
    );
    server.wait_for("listening on", Duration::from_secs(10), &|| String::new());
    let to = format!("{LINUX_IP}:9527");
    let mut client = env.stackd(&["seed-client", "--to", &to], true);
    client.wait_for("connected to", Duration::from_secs(10), &|| server.output());
    client.send_line("aaa");
    server.wait_for("received 3 bytes: aaa", Duration::from_secs(10), &|| {
        client.output()
    });
    client.send_line("close");
    server.wait_for("write after reset", Duration::from_secs(15), &|| {
        client.output()
    });
    server.wait(Duration::from_secs(5));
    client.wait(Duration::from_secs(10));
    client.stop(Duration::from_secs(5));
    let t = cap.finish();
    let rep = report(Some(&t), &[&server, &client]);
    println!("{}", t.summary());

    let (i, c_isn, _s_isn) = handshake(&t, true, &rep);
    let data = t.find(i, |s| s.ours && s.len == 3);
    check!(data.is_some(), rep, "no \"aaa\" from the stack");
    let fin_seq = c_isn.wrapping_add(4);
    let fin = t.find(data.unwrap(), |s| s.ours && s.has('F'));
    check!(
        fin.is_some_and(|f| t.segs[f].seq == fin_seq && t.segs[f].len == 0),
        rep,
        "the stack's FIN should follow \"aaa\" on its own at seq {fin_seq}"
    );
    let fin = fin.unwrap();
    let reply = t.find(fin, |s| !s.ours && s.len == 7);
    check!(
        reply.is_some(),
        rep,
        "no \"Hi, aaa\" from Linux after the FIN"
    );
    let reply = reply.unwrap();
    check!(
        t.find(fin, |s| !s.ours && s.ack == Some(fin_seq.wrapping_add(1)))
            .is_some_and(|a| a <= reply),
        rep,
        "Linux did not acknowledge the FIN"
    );
    // Contract 8c: the orphan answers the reply with RST, exact sequence.
    let rst = t.find(reply, |s| s.ours);
    check!(
        rst.is_some_and(|r| t.segs[r].has('R') && t.segs[r].seq == fin_seq.wrapping_add(1)),
        rep,
        "the stack's answer to \"Hi, aaa\" should be RST seq {}",
        fin_seq.wrapping_add(1)
    );
    check!(
        t.count(|s| s.has('R')) == 1 && t.count(|s| !s.ours && s.has('F')) == 0,
        rep,
        "exactly one RST (ours) and no FIN from Linux expected"
    );
    // What the Linux server saw: the reply went out, then its read saw end
    // of stream (the FIN came first) or the reset; a write after the
    // reset fails.
    let out = server.texts();
    check!(
        out.iter().any(|l| l == "send bytes: 7"),
        rep,
        "Linux server did not send its reply"
    );
    check!(
        out.iter()
            .any(|l| l == "client closed" || l == "read error: ECONNRESET"),
        rep,
        "Linux server's read after the reply: neither end of stream nor ECONNRESET"
    );
    check!(
        out.iter()
            .any(|l| l == "write after reset: EPIPE" || l == "write after reset: ECONNRESET"),
        rep,
        "Linux server's write after the RST should fail with EPIPE or ECONNRESET"
    );
    check!(
        client.texts().iter().any(|l| l == "send bytes: 3"),
        rep,
        "our client's output"
    );
}

/// S2, our client (contract 10): our seed-client sends "aaa" and
/// half-closes; the Linux server replies, reads end of stream, closes.
#[test]
fn s2_our_client_half_closes_linux_server_replies() {
    let Some(env) = Env::new("s2_our_client_half_closes_linux_server_replies", 6) else {
        return;
    };
    let cap = env.capture(9527);
    let mut server = env.linux(
        "linux seed-server",
        &["seed-server", "--port", "9527", "--delay-s", "1"],
    );
    server.wait_for("listening on", Duration::from_secs(10), &|| String::new());
    let to = format!("{LINUX_IP}:9527");
    let mut client = env.stackd(&["seed-client", "--to", &to], true);
    client.wait_for("connected to", Duration::from_secs(10), &|| server.output());
    client.send_line("aaa");
    server.wait_for("received 3 bytes: aaa", Duration::from_secs(10), &|| {
        client.output()
    });
    client.send_line("shutdown");
    client.wait_for("server terminated", Duration::from_secs(15), &|| {
        server.output()
    });
    server.wait(Duration::from_secs(5));
    let exited = client.wait(Duration::from_secs(10));
    client.stop(Duration::from_secs(5));
    let t = cap.finish();
    let rep = report(Some(&t), &[&server, &client]);
    println!("{}", t.summary());
    check!(
        exited.is_some(),
        rep,
        "our seed-client did not finish at end of stream"
    );

    let (i, c_isn, s_isn) = handshake(&t, true, &rep);
    let data = t.find(i, |s| s.ours && s.len == 3);
    check!(data.is_some(), rep, "no \"aaa\" from the stack");
    let fin_seq = c_isn.wrapping_add(4);
    let fin = t.find(data.unwrap(), |s| s.ours && s.has('F'));
    check!(
        fin.is_some_and(|f| t.segs[f].seq == fin_seq && t.segs[f].len == 0),
        rep,
        "the stack's FIN (half-close) should follow \"aaa\" at seq {fin_seq}"
    );
    let fin = fin.unwrap();
    let reply = t.find(fin, |s| !s.ours && s.len == 7);
    check!(reply.is_some(), rep, "no \"Hi, aaa\" after the half-close");
    let reply = reply.unwrap();
    // The stack reads on after its FIN: it acknowledges the reply ...
    let reply_end = s_isn.wrapping_add(8);
    check!(
        t.find(reply, |s| s.ours
            && (s.ack == Some(reply_end)
                || s.ack == Some(reply_end.wrapping_add(1))))
            .is_some(),
        rep,
        "the stack did not acknowledge \"Hi, aaa\" (ack {reply_end})"
    );
    // ... then Linux closes (FIN at the reply's end) and the stack ACKs it.
    let lfin = t.find(reply, |s| !s.ours && s.has('F'));
    check!(
        lfin.is_some_and(|f| t.segs[f].end() == reply_end.wrapping_add(1)),
        rep,
        "Linux's FIN should come after the reply, at seq {reply_end}"
    );
    check!(
        t.find(lfin.unwrap(), |s| s.ours
            && s.ack == Some(reply_end.wrapping_add(1)))
            .is_some(),
        rep,
        "the stack did not acknowledge Linux's FIN"
    );
    check!(t.count(|s| s.has('R')) == 0, rep, "no RST expected in S2");
    let out = client.texts();
    let hi = out.iter().position(|l| l == "Hi, aaa");
    let term = out.iter().position(|l| l == "server terminated");
    check!(
        hi.is_some() && term.is_some() && hi < term,
        rep,
        "our client should print \"Hi, aaa\" then \"server terminated\""
    );
    check!(
        server.texts().iter().any(|l| l == "client closed"),
        rep,
        "the Linux server should read end of stream"
    );
}

/// S1, Linux client (contracts 8b/8c on Linux's side): the Linux client
/// sends "aaa" and closes; our seed-server replies a second later; Linux's
/// orphan answers with RST.
#[test]
fn s1_linux_client_closes_our_server_replies() {
    let Some(env) = Env::new("s1_linux_client_closes_our_server_replies", 7) else {
        return;
    };
    let cap = env.capture(9527);
    let mut server = env.stackd(
        &["seed-server", "--port", "9527", "--delay-ms", "1000"],
        false,
    );
    env.wait_ping(&server);
    let to = format!("{STACK_IP}:9527");
    let mut client = env.linux(
        "linux seed-client",
        &[
            "seed-client",
            "--to",
            &to,
            "--mode",
            "close",
            "--linger-s",
            "3",
        ],
    );
    client.wait_for("closed", Duration::from_secs(10), &|| server.output());
    server.wait_for("sent 7 bytes", Duration::from_secs(10), &|| client.output());
    // Our server's next read: end of stream (the FIN came first) or, if
    // the RST was quicker, the reset; then it closes.
    server.wait_any(
        &["client closed", "read error: connection reset"],
        Duration::from_secs(5),
        &|| client.output(),
    );
    client.wait(Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    server.stop(Duration::from_secs(10));
    let t = cap.finish();
    let rep = report(Some(&t), &[&client, &server]);
    println!("{}", t.summary());

    let (i, c_isn, s_isn) = handshake(&t, false, &rep);
    let data = t.find(i, |s| !s.ours && s.len == 3);
    check!(data.is_some(), rep, "no \"aaa\" from Linux");
    let fin_seq = c_isn.wrapping_add(4);
    let fin = t.find(data.unwrap(), |s| !s.ours && s.has('F'));
    check!(
        fin.is_some_and(|f| t.segs[f].seq == fin_seq && t.segs[f].len == 0),
        rep,
        "Linux's FIN should follow \"aaa\" at seq {fin_seq}"
    );
    let fin = fin.unwrap();
    let ack = t.find(fin, |s| s.ours && s.ack == Some(fin_seq.wrapping_add(1)));
    check!(ack.is_some(), rep, "the stack did not acknowledge the FIN");
    let reply = t.find(fin, |s| {
        s.ours && s.len == 7 && s.seq == s_isn.wrapping_add(1)
    });
    check!(
        reply.is_some(),
        rep,
        "no \"Hi, aaa\" from the stack after the FIN"
    );
    let reply = reply.unwrap();
    // Linux's orphan answers the reply with RST (seq = its FIN + 1).
    let rst = t.find(reply + 1, |s| !s.ours);
    check!(
        rst.is_some_and(|r| t.segs[r].has('R') && t.segs[r].seq == fin_seq.wrapping_add(1)),
        rep,
        "Linux's answer to \"Hi, aaa\" should be RST seq {}",
        fin_seq.wrapping_add(1)
    );
    check!(
        t.count(|s| s.ours && s.has('R')) == 0,
        rep,
        "the stack should send no RST"
    );
    let out = server.texts();
    check!(
        out.iter().any(|l| l == "received 3 bytes: aaa"),
        rep,
        "our server's output"
    );
}

/// S2, Linux client (contract 10 on our server's side): the Linux client
/// sends "aaa" and half-closes; our server replies, reads end of stream,
/// closes; the Linux client reads the reply, then end of stream.
#[test]
fn s2_linux_client_half_closes_our_server_replies() {
    let Some(env) = Env::new("s2_linux_client_half_closes_our_server_replies", 8) else {
        return;
    };
    let cap = env.capture(9527);
    let mut server = env.stackd(
        &["seed-server", "--port", "9527", "--delay-ms", "1000"],
        false,
    );
    env.wait_ping(&server);
    let to = format!("{STACK_IP}:9527");
    let mut client = env.linux(
        "linux seed-client",
        &["seed-client", "--to", &to, "--mode", "shutdown"],
    );
    client.wait_for("server terminated", Duration::from_secs(15), &|| {
        server.output()
    });
    client.wait(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    server.stop(Duration::from_secs(10));
    let t = cap.finish();
    let rep = report(Some(&t), &[&client, &server]);
    println!("{}", t.summary());

    let (i, c_isn, s_isn) = handshake(&t, false, &rep);
    let data = t.find(i, |s| !s.ours && s.len == 3);
    check!(data.is_some(), rep, "no \"aaa\" from Linux");
    let fin_seq = c_isn.wrapping_add(4);
    let fin = t.find(data.unwrap(), |s| !s.ours && s.has('F'));
    check!(
        fin.is_some_and(|f| t.segs[f].seq == fin_seq && t.segs[f].len == 0),
        rep,
        "Linux's FIN (half-close) should follow \"aaa\" at seq {fin_seq}"
    );
    let fin = fin.unwrap();
    check!(
        t.find(fin, |s| s.ours && s.ack == Some(fin_seq.wrapping_add(1)))
            .is_some(),
        rep,
        "the stack did not acknowledge the FIN"
    );
    let reply = t.find(fin, |s| s.ours && s.len == 7);
    check!(
        reply.is_some(),
        rep,
        "no \"Hi, aaa\" from the stack after the FIN"
    );
    let reply = reply.unwrap();
    let reply_end = s_isn.wrapping_add(8);
    // Our FIN at the reply's end (with the reply or after it), acknowledged.
    let our_fin = t.find(reply, |s| s.ours && s.has('F'));
    check!(
        our_fin.is_some_and(|f| t.segs[f].end() == reply_end.wrapping_add(1)),
        rep,
        "the stack's FIN should follow the reply at seq {reply_end}"
    );
    check!(
        t.find(reply, |s| !s.ours
            && s.ack == Some(reply_end.wrapping_add(1)))
            .is_some(),
        rep,
        "Linux did not acknowledge the stack's FIN"
    );
    check!(t.count(|s| s.has('R')) == 0, rep, "no RST expected in S2");
    let out = client.texts();
    let hi = out.iter().position(|l| l == "Hi, aaa");
    let term = out.iter().position(|l| l == "server terminated");
    check!(
        hi.is_some() && term.is_some() && hi < term,
        rep,
        "the Linux client should print \"Hi, aaa\" then \"server terminated\""
    );
    check!(
        server.texts().iter().any(|l| l == "client closed"),
        rep,
        "our server should read end of stream"
    );
}

/// Runs our `closer` against a Linux program; returns the trace and both.
fn closer_run(
    env: &Env,
    linux_args: &[&str],
    closer_args: &[&str],
    port: u16,
    linux_done: &str,
) -> (Trace, Proc, Proc) {
    let cap = env.capture(port);
    let mut linux = env.linux("linux peer", linux_args);
    linux.wait_for("listening on", Duration::from_secs(10), &|| String::new());
    let to = format!("{LINUX_IP}:{port}");
    let mut args = vec!["closer", "--to", &to];
    args.extend_from_slice(closer_args);
    let mut stackd = env.stackd(&args, false);
    linux.wait_for(linux_done, Duration::from_secs(20), &|| stackd.output());
    linux.wait(Duration::from_secs(5));
    let exited = stackd.wait(Duration::from_secs(10));
    stackd.stop(Duration::from_secs(5));
    let t = cap.finish();
    check!(
        exited.is_some(),
        report(Some(&t), &[&linux, &stackd]),
        "closer did not finish"
    );
    (t, linux, stackd)
}

/// Contract 8a: close with unread data sends RST at once (no FIN), and
/// the Linux side's read fails with ECONNRESET.
#[test]
fn close_with_unread_data_sends_rst() {
    let Some(env) = Env::new("close_with_unread_data_sends_rst", 9) else {
        return;
    };
    let (t, linux, stackd) = closer_run(
        &env,
        &["send-then-read", "--port", "6001", "--bytes", "1000"],
        &["--mode", "unread"],
        6001,
        "read ",
    );
    let rep = report(Some(&t), &[&linux, &stackd]);
    println!("{}", t.summary());
    let (i, c_isn, s_isn) = handshake(&t, true, &rep);
    let data = t.find(i, |s| !s.ours && s.len > 0);
    check!(data.is_some(), rep, "no data from Linux");
    let rst = t.find(data.unwrap(), |s| s.ours && s.has('R'));
    check!(
        rst.is_some_and(|r| t.segs[r].seq == c_isn.wrapping_add(1)),
        rep,
        "the stack should answer the unread data with RST seq {}",
        c_isn.wrapping_add(1)
    );
    check!(
        t.count(|s| s.ours && s.has('F')) == 0,
        rep,
        "no FIN expected from the stack"
    );
    let _ = s_isn;
    check!(
        linux
            .texts()
            .iter()
            .any(|l| l.starts_with("read error: ECONNRESET")),
        rep,
        "Linux's read should fail with ECONNRESET"
    );
    check!(
        stackd
            .texts()
            .iter()
            .any(|l| l.contains("close with 1000 unread bytes")),
        rep,
        "closer should report 1000 unread bytes"
    );
}

/// Contract 9c: abort (or linger 0) sends RST, and Linux sees ECONNRESET.
fn abortive(env: &Env, closer_args: &[&str], port: u16) {
    let p = port.to_string();
    let (t, linux, stackd) = closer_run(
        env,
        &["ack-then-read", "--port", &p],
        closer_args,
        port,
        "read ",
    );
    let rep = report(Some(&t), &[&linux, &stackd]);
    println!("{}", t.summary());
    let (i, c_isn, _) = handshake(&t, true, &rep);
    let hello = t.find(i, |s| s.ours && s.len == 5);
    check!(hello.is_some(), rep, "no \"hello\" from the stack");
    let ok = t.find(hello.unwrap(), |s| !s.ours && s.len == 2);
    check!(ok.is_some(), rep, "no \"ok\" from Linux");
    let rst = t.find(ok.unwrap(), |s| s.ours && s.has('R'));
    check!(
        rst.is_some_and(|r| t.segs[r].seq == c_isn.wrapping_add(6)),
        rep,
        "the stack should send RST seq {}",
        c_isn.wrapping_add(6)
    );
    check!(
        t.count(|s| s.ours && s.has('F')) == 0,
        rep,
        "no FIN expected from the stack"
    );
    check!(
        linux
            .texts()
            .iter()
            .any(|l| l.starts_with("read error: ECONNRESET")),
        rep,
        "Linux's read should fail with ECONNRESET"
    );
}

#[test]
fn abort_sends_rst() {
    let Some(env) = Env::new("abort_sends_rst", 10) else {
        return;
    };
    abortive(&env, &["--mode", "abort"], 6002);
}

#[test]
fn linger_zero_sends_rst() {
    let Some(env) = Env::new("linger_zero_sends_rst", 11) else {
        return;
    };
    abortive(&env, &["--mode", "linger", "--linger-ms", "0"], 6003);
}

/// Contract 9b: linger 1 s with a Linux reader that stops reading: the
/// data cannot all be delivered, so RST goes out 1 s after the close and
/// the outcome is Aborted; Linux's read ends in ECONNRESET.
#[test]
fn linger_runs_out_against_a_stalled_reader() {
    let Some(env) = Env::new("linger_runs_out_against_a_stalled_reader", 12) else {
        return;
    };
    let (t, linux, stackd) = closer_run(
        &env,
        &["stall", "--port", "6004", "--rcvbuf", "4096"],
        &["--mode", "linger", "--linger-ms", "1000", "--fill", "true"],
        6004,
        "read ",
    );
    let rep = report(Some(&t), &[&linux, &stackd]);
    println!("{}", t.summary());
    handshake(&t, true, &rep);
    let closing = stackd
        .lines()
        .into_iter()
        .find(|l| l.text.starts_with("closing:"));
    check!(closing.is_some(), rep, "closer did not close");
    let closing = closing.unwrap();
    let rsts: Vec<&Seg> = t.segs.iter().filter(|s| s.ours && s.has('R')).collect();
    check!(
        rsts.len() == 1,
        rep,
        "exactly one RST from the stack expected"
    );
    // On the wire: the RST leaves at the linger time after the close (the
    // close time is when its line was read, a few ms late at most).
    let after = rsts[0].at - closing.at;
    check!(
        (0.85..1.5).contains(&after),
        rep,
        "RST {after:.3} s after the close, expected ~1 s"
    );
    check!(
        t.count(|s| s.ours && s.has('F')) == 0,
        rep,
        "no FIN expected: data was still queued"
    );
    let outcome = stackd
        .texts()
        .into_iter()
        .find(|l| l.starts_with("closed: "));
    let ms: Option<u64> = outcome
        .as_ref()
        .and_then(|l| l.strip_prefix("closed: Aborted after "))
        .and_then(|l| l.strip_suffix(" ms"))
        .and_then(|v| v.parse().ok());
    check!(
        ms.is_some_and(|ms| (1000..1300).contains(&ms)),
        rep,
        "outcome: {outcome:?}, expected Aborted after ~1000 ms"
    );
    check!(
        linux
            .texts()
            .iter()
            .any(|l| l.starts_with("read error: ECONNRESET")),
        rep,
        "Linux's read should end in ECONNRESET"
    );
    println!(
        "{}: RST {after:.3} s after close; {}",
        env.name,
        outcome.unwrap_or_default()
    );
}

/// Contract 9b, the other outcome: with a reader that reads, the data and
/// FIN are acknowledged within the linger time: Graceful, no RST.
#[test]
fn linger_graceful_with_a_reader() {
    let Some(env) = Env::new("linger_graceful_with_a_reader", 13) else {
        return;
    };
    let (t, linux, stackd) = closer_run(
        &env,
        &["ack-then-read", "--port", "6005"],
        &["--mode", "linger", "--linger-ms", "3000"],
        6005,
        "read ",
    );
    let rep = report(Some(&t), &[&linux, &stackd]);
    println!("{}", t.summary());
    let (i, c_isn, _) = handshake(&t, true, &rep);
    let fin = t.find(i, |s| s.ours && s.has('F'));
    check!(
        fin.is_some_and(|f| t.segs[f].seq == c_isn.wrapping_add(6)),
        rep,
        "the stack should send FIN seq {}",
        c_isn.wrapping_add(6)
    );
    check!(
        t.find(fin.unwrap(), |s| !s.ours
            && s.ack == Some(c_isn.wrapping_add(7)))
            .is_some(),
        rep,
        "Linux did not acknowledge the FIN"
    );
    check!(
        t.count(|s| s.ours && s.has('R')) == 0,
        rep,
        "no RST expected from the stack"
    );
    check!(
        stackd
            .texts()
            .iter()
            .any(|l| l.starts_with("closed: Graceful after ")),
        rep,
        "outcome should be Graceful"
    );
    check!(
        linux.texts().iter().any(|l| l == "read eof after 0 bytes"),
        rep,
        "Linux should read end of stream"
    );
}
