//! Attacks from a Linux namespace: `stackd echo` on
//! net_af_packet with the default configuration (16,383 mbufs; two tests
//! change one setting) against the
//! three ways a peer can try to take every packet buffer
//! (`tests/peer/attack.py`):
//!
//! - out-of-order data with one-byte holes on 200 connections (raw frames
//!   from a made-up host);
//! - one connection that keeps its window closed and sends 16,001
//!   one-byte segments, which the zero-copy echo queues back (raw);
//! - 100 ordinary Linux clients with a 2 KiB receive buffer that send
//!   400 kB each and never read;
//!
//! and a flood of spoofed SYNs, which fills the SYN queue (SYN cookies
//! then answer, RFC 4987); blind RST, SYN and data injection into a live
//! kernel connection (RFC 5961); ARP requests from 150 senders against a
//! 32-entry neighbour cache; one host holding as many idle connections
//! as `max_connections_per_source` lets it; and SYNs and pings from
//! martian sources, the land attack among them (RFC 1122 3.2.1.3).
//!
//! Beside each attack a Linux client connects, echoes a line and closes
//! every 50 ms, and a made-up host asks ARP and pings every 100 ms, from
//! a second before the attack to several seconds after it. The test
//! asserts, from what they print and from the counters `stackd --stats`
//! prints at exit, that the client and the prober were answered during
//! and after the attack, that the connections never held more than the
//! memory limit, that no RX poll found the pool short, and that nothing is
//! held once the attackers are gone. Each test prints the client's success
//! rate during the attack and the peak memory held.

#[macro_use]
mod linux;

use std::path::{Path, PathBuf};
use std::time::Duration;

use linux::*;
use serde_json::Value;

fn attack_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peer/attack.py")
}

impl Env {
    /// Appends `toml` to stackd's configuration, whose last table is
    /// `[engine]`.
    fn engine_config(&self, toml: &str) {
        let mut text = std::fs::read_to_string(&self.config).unwrap();
        let last_table = text.lines().rfind(|l| l.starts_with('['));
        assert_eq!(last_table, Some("[engine]"), "{text}");
        text.push('\n');
        text.push_str(toml);
        std::fs::write(&self.config, text).unwrap();
    }

    /// An attack.py program in the namespace.
    fn attack(&self, what: &str, args: &[&str]) -> Proc {
        let mut c = self.netns_cmd("python3");
        c.arg("-u").arg(attack_py()).args(args);
        Proc::spawn(what, &mut c, false)
    }
}

/// What one run saw.
struct Outcome {
    /// (attempts, successes) before, during and after the attack.
    client: [(usize, usize); 3],
    /// (probes, ARP answered, ping answered) over the whole run.
    probe: (u64, u64, u64),
    /// `stackd --stats` at exit.
    stats: Value,
    /// What the attacker printed at the end.
    attacker: Value,
    /// stackd's resident memory (kB): before the attack, its peak, and
    /// the last sample before it stopped.
    rss: [u64; 3],
}

/// Resident memory of process `pid` in kB (0 if gone).
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn num(v: &Value, path: &[&str]) -> u64 {
    let mut v = v;
    for key in path {
        v = &v[*key];
    }
    v.as_u64()
        .unwrap_or_else(|| panic!("no number at {path:?} in {v}"))
}

/// Runs `stackd echo`, the client and the prober, then the attack
/// (`attack.py ARGS`), and checks what every attack must leave intact.
fn run_attack(env: &Env, attack: &[&str], attack_secs: u64) -> Outcome {
    let mut stackd = env.stackd(&["--stats", "echo", "--port", "7"], false);
    env.wait_ping(&stackd);
    let watch = (attack_secs + 12).to_string();
    let mut client = env.attack("client", &["legit", "--seconds", &watch]);
    let mut prober = env.attack(
        "prober",
        &["probe", "--iface", &env.peer_if, "--seconds", &watch],
    );
    std::thread::sleep(Duration::from_secs(1));
    let pid = stackd.child.id();
    let rss_before = rss_kb(pid);
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let on = std::sync::Arc::clone(&sampling);
        std::thread::spawn(move || {
            let (mut peak, mut last) = (0, 0);
            while on.load(std::sync::atomic::Ordering::Relaxed) {
                let r = rss_kb(pid);
                if r > 0 {
                    peak = peak.max(r);
                    last = r;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            (peak, last)
        })
    };
    let start = wall_secs();
    let mut attacker = env.attack("attacker", attack);
    let status = attacker.wait(Duration::from_secs(attack_secs + 60));
    let end = wall_secs();
    let limit = Duration::from_secs(attack_secs + 30);
    client.wait(limit);
    prober.wait(limit);
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let (rss_peak, rss_last) = sampler.join().unwrap();
    stackd.stop(Duration::from_secs(10));
    let rep = report(None, &[&stackd, &attacker, &client, &prober]);
    check!(
        status.is_some_and(|s| s.success()),
        rep,
        "the attack did not run to its end"
    );
    let attacker_out = json_line(&attacker, "attack");
    let client_out = json_line(&client, "legit");
    let probe_out = json_line(&prober, "probe");
    let stats = json_line(&stackd, "engine");
    check!(
        attacker_out.is_some() && client_out.is_some() && probe_out.is_some() && stats.is_some(),
        rep,
        "a program printed no result"
    );
    let mut phases = [(0, 0); 3];
    for a in client_out.unwrap()["legit"].as_array().unwrap() {
        let at = a["at"].as_f64().unwrap();
        let phase = if at < start {
            0
        } else if at <= end {
            1
        } else {
            2
        };
        phases[phase].0 += 1;
        phases[phase].1 += usize::from(a["ok"].as_bool() == Some(true));
    }
    let p = &probe_out.unwrap()["probe"];
    let probe = (num(p, &["sent"]), num(p, &["arp"]), num(p, &["ping"]));
    let stats = stats.unwrap();
    let out = Outcome {
        client: phases,
        probe,
        stats,
        attacker: attacker_out.unwrap(),
        rss: [rss_before, rss_peak, rss_last],
    };
    check_survived(&out, &rep);
    out
}

/// What every attack must leave intact.
fn check_survived(o: &Outcome, rep: &str) {
    let s = &o.stats;
    let [before, during, after] = o.client;
    check!(
        before.0 >= 5 && before.1 == before.0,
        rep,
        "the client failed before the attack: {before:?}"
    );
    // During the attack the client shares two cores with the attacker and
    // the stack; an attempt may miss its 2 s bound for want of CPU, never
    // for want of an answer: at least 90 % succeed.
    check!(
        during.0 >= 10 && during.1 * 10 >= during.0 * 9,
        rep,
        "the client was not served during the attack: {during:?} (attempts, successes)"
    );
    check!(
        after.0 >= 20 && after.1 == after.0,
        rep,
        "the client was not served after the attack: {after:?}"
    );
    let (sent, arp, ping) = o.probe;
    check!(
        sent >= 20 && arp * 10 >= sent * 9 && ping * 10 >= sent * 9,
        rep,
        "ARP or ping went unanswered: {sent} probes, {arp} ARP replies, {ping} echo replies"
    );
    let m = &s["engine"]["memory"];
    check!(
        num(m, &["peak_held"]) <= num(m, &["limit"]),
        rep,
        "more than the limit was held: {m}"
    );
    check!(
        num(m, &["held"]) == 0,
        rep,
        "buffers still held at exit: {m}"
    );
    check!(
        num(s, &["loop", "rx_pool_short"]) == 0 && num(s, &["port", "rx_nombuf"]) == 0,
        rep,
        "the pool ran short of buffers for receiving: {}",
        s
    );
}

fn print_outcome(name: &str, o: &Outcome) {
    let m = &o.stats["engine"]["memory"];
    let peak = num(m, &["peak_held"]);
    let [_, during, after] = o.client;
    println!(
        "{name}: client {}/{} during the attack, {}/{} after; ARP {}/{} and ping {}/{}; \
         peak held {peak} bytes ({} mbufs) of a {}-byte limit; stackd RSS {} MB before, {} MB \
         at most, {} MB at the end; attacker: {}; memory: {}",
        during.1,
        during.0,
        after.1,
        after.0,
        o.probe.1,
        o.probe.0,
        o.probe.2,
        o.probe.0,
        peak / 2176,
        num(m, &["limit"]),
        o.rss[0] / 1024,
        o.rss[1] / 1024,
        o.rss[2] / 1024,
        o.attacker,
        m
    );
}

#[test]
fn out_of_order_flood_from_200_connections() {
    let Some(env) = Env::new("ooo_flood", 20) else {
        return;
    };
    let o = run_attack(
        &env,
        &[
            "ooo",
            "--iface",
            &env.peer_if,
            "--conns",
            "200",
            "--segments",
            "130",
            "--seconds",
            "4",
        ],
        4,
    );
    print_outcome("out-of-order flood", &o);
    let m = &o.stats["engine"]["memory"];
    assert!(num(m, &["entered_critical"]) >= 1, "{m}");
    assert!(num(m, &["ooo_pruned"]) >= 1, "{m}");
}

#[test]
fn one_byte_segments_into_a_closed_window() {
    let Some(env) = Env::new("tiny_segments", 21) else {
        return;
    };
    let o = run_attack(
        &env,
        &[
            "tiny",
            "--iface",
            &env.peer_if,
            "--count",
            "16001",
            "--seconds",
            "3",
        ],
        3,
    );
    print_outcome("one-byte segments", &o);
    let m = &o.stats["engine"]["memory"];
    assert!(num(m, &["collapsed_segments"]) >= 15_000, "{m}");
    // 16 kB queued back in a few buffers, not 16,001 of them.
    assert!(num(m, &["peak_held"]) <= 64 * 2176, "{m}");
}

#[test]
fn a_hundred_linux_clients_that_never_read() {
    let Some(env) = Env::new("never_read", 22) else {
        return;
    };
    let o = run_attack(
        &env,
        &[
            "noread",
            "--conns",
            "100",
            "--bytes",
            "400000",
            "--seconds",
            "5",
        ],
        5,
    );
    print_outcome("never-reading clients", &o);
    let m = &o.stats["engine"]["memory"];
    assert!(num(m, &["entered_critical"]) >= 1, "{m}");
}

// RFC 4987: spoofed SYNs fill the SYN queue; beyond it SYN cookies keep
// nothing, so the legitimate client keeps connecting through the flood.
#[test]
fn a_syn_flood_from_spoofed_sources() {
    let Some(env) = Env::new("syn_flood", 23) else {
        return;
    };
    let o = run_attack(
        &env,
        &["synflood", "--iface", &env.peer_if, "--seconds", "4"],
        4,
    );
    print_outcome("SYN flood", &o);
    let sent = num(&o.attacker, &["syns_sent"]);
    let e = &o.stats["engine"];
    println!(
        "SYN flood: {sent} SYNs; {} SYN cookies sent, {} accepted, {} rejected; {} connections opened",
        num(e, &["syn_cookies_sent"]),
        num(e, &["syn_cookies_accepted"]),
        num(e, &["syn_cookies_rejected"]),
        num(e, &["passive_opens"])
    );
    assert!(
        sent >= 2_000,
        "the flood was too thin to fill the queue: {sent}"
    );
    assert!(
        num(e, &["syn_cookies_sent"]) >= 1,
        "no cookie was sent: {e}"
    );
    // The queue stayed full of spoofed half-open connections: the client
    // got in through cookies.
    assert!(num(e, &["syn_cookies_accepted"]) >= 10, "{e}");
}

#[test]
fn blind_injection_into_a_live_connection() {
    let Some(env) = Env::new("inject", 24) else {
        return;
    };
    let secs = 3;
    let o = run_attack(
        &env,
        &[
            "inject",
            "--iface",
            &env.peer_if,
            "--seconds",
            &secs.to_string(),
        ],
        secs,
    );
    print_outcome("blind injection", &o);
    let a = &o.attacker;
    let e = &o.stats["engine"];
    let frames = &a["frames"];
    assert_eq!(
        a["victim_reset"],
        Value::Bool(false),
        "the victim was reset: {a}"
    );
    assert_eq!(
        a["echo_intact"],
        Value::Bool(true),
        "injected bytes reached the victim's stream: {a}"
    );
    assert!(num(a, &["lines"]) >= 20, "{a}");
    assert!(num(frames, &["window_rst"]) >= 20, "{a}");
    // RFC 5961: nothing reset the connection, the old-ACK data was dropped,
    // and challenge ACKs kept to one per connection per 500 ms (this
    // connection's, plus one each for a few legit ones at most).
    assert_eq!(num(e, &["resets_received"]), 0, "{e}");
    assert!(num(e, &["drops", "ack_too_old"]) >= 1, "{e}");
    let challenges = num(e, &["challenge_acks"]);
    println!(
        "blind injection: {challenges} challenge ACKs sent, {} held back; {} old-ACK segments \
         dropped; {} out of window",
        num(e, &["challenge_acks_suppressed"]),
        num(e, &["drops", "ack_too_old"]),
        num(e, &["drops", "out_of_window"])
    );
    assert!(
        challenges <= 2 * (secs + 2),
        "{challenges} challenge ACKs in {secs} s: {e}"
    );
    assert!(num(e, &["challenge_acks_suppressed"]) >= 10, "{e}");
}

#[test]
fn arp_requests_from_many_senders_against_a_small_cache() {
    let Some(env) = Env::new("arpfill", 25) else {
        return;
    };
    env.engine_config("[engine.arp]\ncapacity = 32\n");
    let o = run_attack(
        &env,
        &["arpfill", "--iface", &env.peer_if, "--seconds", "3"],
        3,
    );
    print_outcome("ARP cache filling", &o);
    let e = &o.stats["engine"];
    // 150 senders through 32 entries: they push each other out, never
    // the client's or the prober's entry, which are in use.
    assert!(num(e, &["arp_evictions"]) >= 100, "{e}");
    assert!(num(&o.attacker, &["requests"]) >= 1500, "{}", o.attacker);
}

#[test]
fn idle_connections_from_one_host_are_bounded() {
    let Some(env) = Env::new("idle_source", 26) else {
        return;
    };
    env.engine_config("max_connections_per_source = 100\n");
    let o = run_attack(
        &env,
        &[
            "idle",
            "--iface",
            &env.peer_if,
            "--conns",
            "300",
            "--seconds",
            "3",
        ],
        3,
    );
    print_outcome("idle connections from one host", &o);
    let e = &o.stats["engine"];
    assert_eq!(num(&o.attacker, &["opened"]), 100, "{}", o.attacker);
    assert!(num(e, &["drops", "source_limit"]) >= 200, "{e}");
}

#[test]
fn martian_sources_and_the_land_attack() {
    let Some(env) = Env::new("martian", 27) else {
        return;
    };
    let o = run_attack(
        &env,
        &["martian", "--iface", &env.peer_if, "--seconds", "3"],
        3,
    );
    print_outcome("martian sources", &o);
    let e = &o.stats["engine"];
    // Every one of them dropped as martian: no half-open connection, no
    // SYN-ACK, no echo reply, no ARP request for an impossible address.
    assert_eq!(
        num(e, &["drops", "martian"]),
        num(&o.attacker, &["frames"]),
        "{e}"
    );
    assert_eq!(num(e, &["arp_requests_sent"]), 0, "{e}");
    // The martian pings never reached ICMP; every other ping was answered.
    assert_eq!(num(e, &["icmp_in"]), num(e, &["icmp_echo_replies"]), "{e}");
}

#[test]
fn three_thousand_connections_come_and_go() {
    let Some(env) = Env::new("conn_churn", 28) else {
        return;
    };
    let o = run_attack(
        &env,
        &[
            "idle",
            "--iface",
            &env.peer_if,
            "--conns",
            "3000",
            "--seconds",
            "2",
            "--wait",
            "10",
        ],
        12,
    );
    print_outcome("3,000 connections held, then reset", &o);
    // Enough to pass the trimming threshold twice over, whatever the
    // Python attacker's pace on a loaded machine.
    assert!(num(&o.attacker, &["opened"]) >= 2048, "{}", o.attacker);
    // Once they are gone, the loop gives the freed heap back.
    assert!(
        num(&o.stats, &["loop", "heap_trims"]) >= 1,
        "{}",
        o.stats["loop"]
    );
}
