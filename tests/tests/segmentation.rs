//! Software segmentation puts the same bytes on the wire as sending
//! segment by segment (`offload.tx_segmentation`, `stack::segment::cut`).
//!
//! Each case runs one transfer twice on the simulator, with the same seed
//! (so the same losses hit the same frames): once with the engines
//! handing over frames of up to eight segments that the driver cuts, once
//! without. Both runs are captured as pcap files; the files must be equal
//! byte for byte: every frame, in the same order, at the same time, with
//! the same sequence numbers, IPv4 identifications, flags and checksums.
//! On a difference the files are kept and the first differing frame is
//! shown.

use std::time::Duration;

use integration_tests::rng::{seed_from_env, Rng};
use integration_tests::transfer::{Receiver, Sender};
use integration_tests::{pcap, LinkConfig, Segment, Sim};
use stack::{Engine, HeapPool, Shutdown, Stats};

const PORT: u16 = 5001;
const MIB: u64 = 1024 * 1024;

/// How the application writes.
#[derive(Clone, Copy)]
enum Writes {
    /// As much as the connection takes, in 64 KiB writes.
    Bulk,
    /// One write of 1 to 3,000 bytes per simulator step: short segments
    /// (Nagle's) between full ones, so that segments straddle send-queue
    /// buffers and boundaries fall inside payload parts.
    Ragged,
}

struct Run {
    capture: Vec<(stack::Instant, usize, Vec<u8>)>,
    stats: [Stats; 2],
    cut_failed: u64,
}

/// Node `n`'s sender: writes per `how`.
struct App {
    send: Sender,
    recv: Receiver,
    shut: bool,
    ragged: Option<(Rng, Vec<u8>, usize)>,
}

impl App {
    fn new(seed: u64, bytes: u64, how: Writes) -> App {
        let ragged = match how {
            Writes::Bulk => None,
            Writes::Ragged => {
                let mut data = vec![0u8; bytes as usize];
                Rng::new(seed).fill(&mut data);
                Some((Rng::new(seed ^ 0x77), data, 0))
            }
        };
        App {
            send: Sender::new(seed, if ragged.is_some() { 0 } else { bytes }),
            recv: Receiver::default(),
            shut: false,
            ragged,
        }
    }

    fn poll(&mut self, engine: &mut Engine<HeapPool>, h: stack::Handle) {
        let done = match &mut self.ragged {
            None => {
                self.send.pump(engine, h).expect("write");
                self.send.done()
            }
            Some((rng, data, at)) => {
                if *at < data.len() {
                    let n = (1 + rng.below(3_000) as usize).min(data.len() - *at);
                    match engine.write(h, &data[*at..*at + n]) {
                        Ok(k) => *at += k,
                        Err(stack::Error::WouldBlock) => {}
                        Err(e) => panic!("write: {e}"),
                    }
                }
                *at == data.len()
            }
        };
        if done && !self.shut {
            engine.shutdown(h, Shutdown::Write).expect("shutdown");
            self.shut = true;
        }
        self.recv.pump(engine, h).expect("read");
        while engine.poll_event().is_some() {}
    }
}

/// One transfer of `bytes` from node 1 to node 2, and back if `both`.
fn run(
    seed: u64,
    link: &LinkConfig,
    segmentation: bool,
    how: Writes,
    bytes: u64,
    both: bool,
) -> Run {
    let mut sim = Sim::new(seed);
    sim.capture = Some(Vec::new());
    let mut nodes = [0; 2];
    for (i, n) in nodes.iter_mut().enumerate() {
        let mut cfg = Sim::host_config(i as u8 + 1);
        cfg.offload.tx_segmentation = segmentation;
        *n = sim.add_node_with(cfg, integration_tests::sim::POOL_BUFFERS, link.clone());
    }
    let [a, b] = nodes;
    let l = sim.nodes[b].engine.listen(PORT, 8).expect("listen");
    let (ha, hb) = sim.open(a, b, l, PORT);
    let mut app_a = App::new(seed ^ 0xa, bytes, how);
    let mut app_b = App::new(seed ^ 0xb, if both { bytes } else { 0 }, how);
    let finished = sim.run_until(Duration::from_secs(3600), |sim| {
        app_a.poll(&mut sim.nodes[a].engine, ha);
        app_b.poll(&mut sim.nodes[b].engine, hb);
        app_a.recv.eof && app_b.recv.eof
    });
    assert!(
        finished,
        "seed {seed:#x}: transfer stalled (segmentation {segmentation}); a {:?}",
        sim.nodes[a].engine.stats()
    );
    assert_eq!(app_b.recv.received, bytes, "seed {seed:#x}: a->b bytes");
    if let Some((_, data, _)) = &app_a.ragged {
        use sha2::Digest;
        let sent: [u8; 32] = sha2::Sha256::digest(data).into();
        assert_eq!(app_b.recv.digest(), sent, "seed {seed:#x}: a->b content");
    } else {
        assert_eq!(
            app_b.recv.digest(),
            app_a.send.digest(),
            "seed {seed:#x}: a->b content"
        );
    }
    Run {
        capture: sim.capture.take().unwrap_or_default(),
        stats: [
            sim.nodes[a].engine.stats().clone(),
            sim.nodes[b].engine.stats().clone(),
        ],
        cut_failed: sim.link_stats.cut_failed,
    }
}

/// Runs the case both ways and compares the captures.
fn same_on_the_wire(name: &str, seed: u64, link: LinkConfig, how: Writes, bytes: u64, both: bool) {
    let cut = run(seed, &link, true, how, bytes, both);
    let plain = run(seed, &link, false, how, bytes, both);
    let pcap_of = |r: &Run| pcap::to_bytes(r.capture.iter().map(|(t, _, f)| (*t, f.as_slice())));
    let (p_cut, p_plain) = (pcap_of(&cut), pcap_of(&plain));
    if p_cut != p_plain {
        let dir = std::env::temp_dir();
        let (f_cut, f_plain) = (
            dir.join(format!("{name}-{seed:#x}-segmented.pcap")),
            dir.join(format!("{name}-{seed:#x}-per-segment.pcap")),
        );
        pcap::write(&f_cut, &p_cut).expect("write pcap");
        pcap::write(&f_plain, &p_plain).expect("write pcap");
        let i = cut
            .capture
            .iter()
            .zip(&plain.capture)
            .position(|(x, y)| x != y)
            .unwrap_or(cut.capture.len().min(plain.capture.len()));
        let show = |r: &Run| {
            r.capture
                .get(i)
                .map(|(t, from, f)| format!("{t:?} node {from}: {:?}", Segment::decode(f)))
        };
        panic!(
            "seed {seed:#x}: {name}: the wire differs at frame {i} of {} / {}:\n  segmented:   {:?}\n  per segment: {:?}\ncaptures kept: {} {}",
            cut.capture.len(),
            plain.capture.len(),
            show(&cut),
            show(&plain),
            f_cut.display(),
            f_plain.display()
        );
    }
    // The comparison means something only if frames were cut.
    assert_eq!(cut.cut_failed, 0, "seed {seed:#x}: every frame cut");
    let joined: u64 = cut.stats.iter().map(|s| s.tx_multi_segment_frames).sum();
    assert!(
        joined > 0,
        "seed {seed:#x}: {name}: no frame of several segments"
    );
    for (c, p) in cut.stats.iter().zip(&plain.stats) {
        assert_eq!(p.tx_multi_segment_frames, 0);
        // Joined payloads stay within the parts a frame holds: shared,
        // never copied.
        assert_eq!(
            c.tx_copied_bytes, p.tx_copied_bytes,
            "seed {seed:#x}: copies"
        );
        assert_eq!(
            c.segments_out, p.segments_out,
            "seed {seed:#x}: same segments"
        );
        assert_eq!(
            c.retransmits, p.retransmits,
            "seed {seed:#x}: same retransmissions"
        );
    }
    println!(
        "{name}: {} frames identical; {} frames of several segments stood for {} segments",
        plain.capture.len(),
        joined,
        cut.stats[0].segments_out
    );
}

#[test]
fn bulk_one_way_is_the_same_on_the_wire() {
    let link = LinkConfig {
        bandwidth_bps: 1_000_000_000,
        ..LinkConfig::default()
    };
    same_on_the_wire(
        "bulk",
        seed_from_env(0x5e_0001),
        link,
        Writes::Bulk,
        8 * MIB,
        false,
    );
}

#[test]
fn bulk_both_ways_at_2_percent_loss_is_the_same_on_the_wire() {
    let link = LinkConfig {
        bandwidth_bps: 1_000_000_000,
        ..LinkConfig::lossy(0.02)
    };
    same_on_the_wire(
        "lossy",
        seed_from_env(0x5e_0002),
        link,
        Writes::Bulk,
        4 * MIB,
        true,
    );
}

#[test]
fn ragged_writes_both_ways_at_1_percent_loss_are_the_same_on_the_wire() {
    let link = LinkConfig {
        bandwidth_bps: 1_000_000_000,
        ..LinkConfig::lossy(0.01)
    };
    same_on_the_wire(
        "ragged",
        seed_from_env(0x5e_0003),
        link,
        Writes::Ragged,
        2 * MIB,
        true,
    );
}
