//! Segment-level tests of the engine, in the manner of smoltcp's TCP tests:
//! one engine under test at 10.0.0.1, a peer at 10.0.0.2 scripted by hand,
//! exact segments fed in with [`Harness::send`] and exact segments expected
//! out with [`Harness::recv`] / [`Harness::recv_nothing`], and a virtual
//! clock that moves only when a test says so.
//!
//! Test names say what they prove; comments cite the rule of docs/contract.md
//! ("contract 8a") or the RFC section. The simulator crate (tests/) covers
//! whole conversations between engines; this suite pins single segments.

mod ack;
mod api;
mod burst;
mod close;
mod data;
mod handshake;
mod hostile;
mod icmp;
mod link;
mod loss;
mod memory;
mod options;
mod ports;
mod sack;
mod timers;
mod urgent;

use core::fmt;
use core::time::Duration;
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::buf::HeapPool;
use crate::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr,
    IpProtocol, Ipv4Cidr, Ipv4Packet, Ipv4Repr, SackBlock, SeqNumber, TcpFlags, TcpPacket, TcpRepr,
    TcpTimestamp,
};
use crate::{Engine, EngineConfig, EventKind, Handle, Instant, State, StaticNeighbor};

const LOCAL_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const LOCAL_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
const PEER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);
/// The port our listeners use.
const LISTEN_PORT: u16 = 80;
/// The peer's port for passive opens, and the service it listens on for
/// active ones.
const PEER_PORT: u16 = 40_000;
const PEER_SERVICE: u16 = 9_000;
const PEER_ISS: SeqNumber = SeqNumber(1_000_000);
/// The window the peer advertises unless a test says otherwise.
const PEER_WIN: u16 = 65_535;
/// Our MSS with the default 1500-byte MTU, and the peer's.
const MSS: usize = 1460;
/// The window we advertise with an empty 64 KiB receive buffer.
const WIN: u16 = 65_535;

const ACK: TcpFlags = TcpFlags::ACK;
const SYN: TcpFlags = TcpFlags::SYN;
const FIN: TcpFlags = TcpFlags::FIN;
const RST: TcpFlags = TcpFlags::RST;
const PSH: TcpFlags = TcpFlags::PSH;
const URG: TcpFlags = TcpFlags::URG;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A TCP segment as the test sees it: every header field the engine sets,
/// and the payload. Used both to build what the peer sends and to state
/// exactly what the engine must send.
#[derive(Clone, PartialEq, Eq)]
struct Seg {
    sport: u16,
    dport: u16,
    flags: TcpFlags,
    seq: SeqNumber,
    /// Zero unless `flags` has ACK.
    ack: SeqNumber,
    win: u16,
    mss: Option<u16>,
    /// Window scale option.
    wscale: Option<u8>,
    /// Timestamps option: (TSval, TSecr).
    ts: Option<(u32, u32)>,
    /// SACK-permitted option.
    sack_perm: bool,
    /// SACK blocks, as (left, right).
    sack: Vec<(SeqNumber, SeqNumber)>,
    /// The urgent pointer (zero unless `flags` has URG).
    urgent: u16,
    data: Vec<u8>,
}

impl fmt::Debug for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {} [{}] seq {} ack {} win {} len {}",
            self.sport,
            self.dport,
            self.flags,
            self.seq,
            self.ack,
            self.win,
            self.data.len()
        )?;
        if let Some(mss) = self.mss {
            write!(f, " mss {mss}")?;
        }
        if let Some(ws) = self.wscale {
            write!(f, " wscale {ws}")?;
        }
        if let Some((val, ecr)) = self.ts {
            write!(f, " ts {val} ecr {ecr}")?;
        }
        if self.sack_perm {
            write!(f, " sackOK")?;
        }
        for (l, r) in &self.sack {
            write!(f, " sack {l}:{r}")?;
        }
        if self.urgent != 0 {
            write!(f, " urg {}", self.urgent)?;
        }
        Ok(())
    }
}

impl Seg {
    fn flags(mut self, flags: TcpFlags) -> Seg {
        self.flags = flags;
        self
    }

    fn seq(mut self, seq: SeqNumber) -> Seg {
        self.seq = seq;
        self
    }

    fn ack(mut self, ack: SeqNumber) -> Seg {
        self.ack = ack;
        self
    }

    fn win(mut self, win: u16) -> Seg {
        self.win = win;
        self
    }

    fn mss(mut self, mss: u16) -> Seg {
        self.mss = Some(mss);
        self
    }

    fn wscale(mut self, shift: u8) -> Seg {
        self.wscale = Some(shift);
        self
    }

    fn ts(mut self, tsval: u32, tsecr: u32) -> Seg {
        self.ts = Some((tsval, tsecr));
        self
    }

    fn sack_perm(mut self) -> Seg {
        self.sack_perm = true;
        self
    }

    /// SACK blocks as byte offsets into the stream of the connection's
    /// sender whose ISS is `base` (`base + 1 + offset`).
    fn sack(mut self, base: SeqNumber, blocks: &[(usize, usize)]) -> Seg {
        self.sack = blocks
            .iter()
            .map(|&(l, r)| (base + 1 + l, base + 1 + r))
            .collect();
        self
    }

    fn urgent(mut self, pointer: u16) -> Seg {
        self.urgent = pointer;
        self
    }

    fn data(mut self, data: &[u8]) -> Seg {
        self.data = data.to_vec();
        self
    }

    /// Sequence space the segment occupies (SEG.LEN).
    fn len(&self) -> usize {
        self.data.len()
            + usize::from(self.flags.contains(SYN))
            + usize::from(self.flags.contains(FIN))
    }
}

/// One connection between the engine and the scripted peer, with the
/// initial sequence numbers of both sides.
#[derive(Debug, Clone, Copy)]
struct Conn {
    h: Handle,
    port: u16,
    peer_port: u16,
    /// Our ISS (chosen by the engine, learnt from its SYN or SYN-ACK).
    iss: SeqNumber,
    /// The peer's ISS.
    irs: SeqNumber,
    /// The window we advertise when the receive buffer is empty.
    win: u16,
}

impl Conn {
    /// A segment from the peer: ACK, `seq` bytes after its SYN, acking
    /// `ack` bytes after ours.
    fn peer(&self, seq: usize, ack: usize) -> Seg {
        Seg {
            sport: self.peer_port,
            dport: self.port,
            flags: ACK,
            seq: self.irs + 1 + seq,
            ack: self.iss + 1 + ack,
            win: PEER_WIN,
            mss: None,
            wscale: None,
            ts: None,
            sack_perm: false,
            sack: Vec::new(),
            urgent: 0,
            data: Vec::new(),
        }
    }

    /// A segment from us, offsets as in [`Conn::peer`], with a full window.
    fn ours(&self, seq: usize, ack: usize) -> Seg {
        Seg {
            sport: self.port,
            dport: self.peer_port,
            flags: ACK,
            seq: self.iss + 1 + seq,
            ack: self.irs + 1 + ack,
            win: self.win,
            mss: None,
            wscale: None,
            ts: None,
            sack_perm: false,
            sack: Vec::new(),
            urgent: 0,
            data: Vec::new(),
        }
    }
}

/// The engine under test, its clock, and the peer's side of the wire.
struct Harness {
    engine: Engine<HeapPool>,
    now: Instant,
    /// The ISS the peer uses in the handshake helpers.
    peer_iss: SeqNumber,
    /// The engine's pool (shared), for tests that hold its buffers.
    pool: HeapPool,
}

impl Harness {
    fn new() -> Harness {
        Harness::with_config(|_| {})
    }

    /// An engine at 10.0.0.1/24 that knows the peer's MAC (no ARP), with
    /// `change` applied to the default configuration.
    fn with_config(change: impl FnOnce(&mut EngineConfig)) -> Harness {
        let mut cfg = EngineConfig {
            mac: LOCAL_MAC,
            address: Ipv4Cidr::new(LOCAL_IP, 24).unwrap(),
            neighbors: vec![StaticNeighbor {
                ip: PEER_IP,
                mac: PEER_MAC,
            }],
            ..EngineConfig::default()
        };
        // Every segment's ACK is delayed unless a rule says otherwise, so
        // each test sees the rule it is about; quick ACKs (on by default)
        // have tests of their own in `ack.rs`. Likewise our SYNs offer no
        // window scaling, timestamps or SACK here (`options.rs` and
        // `sack.rs` test them), so the exact segments stay those of an
        // option-less exchange.
        cfg.tcp.quickacks = 0;
        cfg.tcp.window_scaling = false;
        cfg.tcp.timestamps = false;
        cfg.tcp.sack = false;
        change(&mut cfg);
        let pool = HeapPool::new(4096, 2048, 128);
        let engine = Engine::new(cfg, pool.clone(), [0x5e; 16], Instant::ZERO).unwrap();
        Harness {
            engine,
            now: Instant::ZERO,
            peer_iss: PEER_ISS,
            pool,
        }
    }

    /// The window we advertise with an empty receive buffer.
    fn full_window(&self) -> u16 {
        self.engine.config().tcp.recv_buffer.min(65_535) as u16
    }

    /// Moves the clock to `at` (since the start) and runs the timers due.
    fn advance_to(&mut self, at: Duration) {
        self.now = Instant::ZERO + at;
        self.engine.handle_timeouts(self.now);
    }

    /// Feeds raw frame bytes to the engine.
    fn send_frame(&mut self, bytes: &[u8]) {
        let buf = self
            .engine
            .pool_mut()
            .alloc_with(bytes)
            .expect("pool has buffers for test frames");
        self.engine.handle_rx(self.now, buf);
    }

    /// The peer's segments arrive in one receive burst
    /// ([`Engine::handle_rx_burst`]).
    fn send_burst(&mut self, segs: &[Seg]) {
        let pool = self.engine.pool_mut();
        let bufs: Vec<_> = segs
            .iter()
            .map(|seg| {
                pool.alloc_with(&Harness::frame_for(seg))
                    .expect("pool has buffers for test frames")
            })
            .collect();
        self.engine.handle_rx_burst(self.now, bufs);
    }

    /// The bytes of a frame from the peer carrying `seg`, checksums right.
    fn frame_for(seg: &Seg) -> Vec<u8> {
        Harness::frame_from(seg, PEER_IP)
    }

    /// The same, from source address `src` (the peer's MAC still).
    fn frame_from(seg: &Seg, src: Ipv4Addr) -> Vec<u8> {
        let tcp = TcpRepr {
            src_port: seg.sport,
            dst_port: seg.dport,
            flags: seg.flags,
            seq_number: seg.seq,
            ack_number: seg.ack,
            window_len: seg.win,
            max_seg_size: seg.mss,
            window_scale: seg.wscale,
            timestamp: seg.ts.map(|(tsval, tsecr)| TcpTimestamp { tsval, tsecr }),
            sack_permitted: seg.sack_perm,
            sack_blocks: sack_blocks(&seg.sack),
            urgent_at: seg.urgent,
            payload: &seg.data,
        };
        let ip = Ipv4Repr {
            src_addr: src,
            dst_addr: LOCAL_IP,
            protocol: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            ttl: 64,
            dont_frag: true,
            ident: 7,
        };
        ip_frame(&ip, |bytes| {
            tcp.emit(&mut TcpPacket::new_unchecked(bytes), src, LOCAL_IP, true);
        })
    }

    /// The peer sends `seg` (smoltcp's `send!`).
    fn send(&mut self, seg: Seg) {
        let frame = Harness::frame_for(&seg);
        self.send_frame(&frame);
    }

    /// The next frame the engine transmits, as bytes.
    fn recv_frame(&mut self) -> Option<Vec<u8>> {
        self.engine.poll_transmit(self.now).map(|t| t.to_vec())
    }

    /// The next frame, which must be a TCP segment to the peer with valid
    /// Ethernet, IPv4 and TCP headers and checksums.
    #[track_caller]
    fn recv_seg(&mut self) -> Seg {
        let Some(frame) = self.recv_frame() else {
            panic!("expected a segment, the engine sent nothing");
        };
        parse_seg(&frame)
    }

    /// The engine must send exactly `expected` next (smoltcp's `recv!`).
    #[track_caller]
    fn recv(&mut self, expected: Seg) {
        let got = self.recv_seg();
        assert_eq!(
            got, expected,
            "segment differs (left: sent, right: expected)"
        );
    }

    /// The engine must have nothing to send (smoltcp's `recv_nothing!`).
    #[track_caller]
    fn recv_nothing(&mut self) {
        if let Some(frame) = self.recv_frame() {
            let what = match EthernetFrame::new_checked(&frame[..]) {
                Ok(eth) if eth.ethertype() == EtherType::Ipv4 => format!("{:?}", parse_seg(&frame)),
                _ => format!("a non-TCP frame of {} bytes", frame.len()),
            };
            panic!("expected nothing, the engine sent {what}");
        }
    }

    /// Drains the application events.
    fn events(&mut self) -> Vec<(Handle, EventKind)> {
        std::iter::from_fn(|| self.engine.poll_event())
            .map(|e| (e.handle, e.kind))
            .collect()
    }

    fn listen(&mut self) -> Handle {
        self.engine.listen(LISTEN_PORT, 16).unwrap()
    }

    /// Passive open from the peer's `peer_port`, up to the engine's
    /// SYN-ACK (RFC 9293 3.10.7.2). Returns the connection, not accepted
    /// yet (`h` is the listener's handle until then).
    #[track_caller]
    fn syn_to_listener(&mut self, listener: Handle, peer_port: u16) -> Conn {
        let mut c = Conn {
            h: listener,
            port: LISTEN_PORT,
            peer_port,
            iss: SeqNumber(0),
            irs: self.peer_iss,
            win: self.full_window(),
        };
        self.send(
            c.peer(0, 0)
                .flags(SYN)
                .seq(c.irs)
                .ack(SeqNumber(0))
                .mss(MSS as u16),
        );
        let synack = self.recv_seg();
        c.iss = synack.seq;
        assert_eq!(
            synack,
            c.ours(0, 0).flags(SYN | ACK).seq(c.iss).mss(MSS as u16),
            "SYN-ACK"
        );
        c
    }

    /// A complete passive open on `listener` from `peer_port`, accepted.
    #[track_caller]
    fn accept_from(&mut self, listener: Handle, peer_port: u16) -> Conn {
        let mut c = self.syn_to_listener(listener, peer_port);
        self.send(c.peer(0, 0));
        self.recv_nothing();
        assert_eq!(self.events(), [(listener, EventKind::Acceptable)]);
        let (h, remote) = self.engine.accept(listener).unwrap();
        assert_eq!(remote, SocketAddrV4::new(PEER_IP, peer_port));
        assert_eq!(self.events(), [(h, EventKind::Writable)]);
        c.h = h;
        assert_eq!(self.engine.state(h), Ok(State::Established));
        c
    }

    /// A listener on [`LISTEN_PORT`] and one accepted connection from
    /// [`PEER_PORT`].
    #[track_caller]
    fn passive(&mut self) -> Conn {
        let l = self.listen();
        self.accept_from(l, PEER_PORT)
    }

    /// `connect` to the peer's service, up to the engine's SYN.
    #[track_caller]
    fn connect(&mut self) -> Conn {
        let h = self
            .engine
            .connect(SocketAddrV4::new(PEER_IP, PEER_SERVICE))
            .unwrap();
        assert_eq!(self.engine.state(h), Ok(State::SynSent));
        let syn = self.recv_seg();
        let c = Conn {
            h,
            port: syn.sport,
            peer_port: PEER_SERVICE,
            iss: syn.seq,
            irs: self.peer_iss,
            win: self.full_window(),
        };
        // RFC 9293 3.10.1: <SEQ=ISS><CTL=SYN>, with our MSS and window.
        assert_eq!(
            syn,
            c.ours(0, 0)
                .flags(SYN)
                .seq(c.iss)
                .ack(SeqNumber(0))
                .mss(MSS as u16),
            "SYN"
        );
        c
    }

    /// A complete active open: SYN, SYN-ACK from the peer, our ACK.
    #[track_caller]
    fn active(&mut self) -> Conn {
        let c = self.connect();
        self.send(c.peer(0, 0).flags(SYN | ACK).seq(c.irs).mss(MSS as u16));
        self.recv(c.ours(0, 0));
        assert_eq!(
            self.events(),
            [(c.h, EventKind::Connected), (c.h, EventKind::Writable)]
        );
        assert_eq!(self.engine.state(c.h), Ok(State::Established));
        c
    }

    /// Reads everything buffered on `h`.
    #[track_caller]
    fn read_all(&mut self, h: Handle) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = self.engine.read(h, &mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        out
    }
}

/// An ARP packet from `sender` (at PEER_MAC) about `target`.
pub(super) fn arp_from(op: ArpOperation, sender: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut frame = vec![0u8; 14 + ArpRepr::BUFFER_LEN];
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EtherType::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    ArpRepr {
        operation: op,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: sender,
        target_hardware_addr: EthernetAddress::UNSPECIFIED,
        target_protocol_addr: target,
    }
    .emit(&mut ArpPacket::new_unchecked(&mut frame[14..]));
    frame
}

/// An ICMP echo request from the peer to us carrying `data`.
fn echo_request(data: &[u8]) -> Vec<u8> {
    let icmp = crate::wire::Icmpv4Repr::EchoRequest {
        ident: 0x1234,
        seq_no: 7,
        data,
    };
    let ip = Ipv4Repr {
        src_addr: PEER_IP,
        dst_addr: LOCAL_IP,
        protocol: IpProtocol::Icmp,
        payload_len: icmp.buffer_len(),
        ttl: 64,
        dont_frag: false,
        ident: 99,
    };
    ip_frame(&ip, |bytes| {
        icmp.emit(&mut crate::wire::Icmpv4Packet::new_unchecked(bytes))
    })
}

/// Ethernet and IPv4 headers from the peer to us around a payload that
/// `fill` writes.
fn ip_frame(ip: &Ipv4Repr, fill: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let eth_len = EthernetFrame::<&[u8]>::HEADER_LEN;
    let mut frame = vec![0u8; eth_len + ip.buffer_len()];
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: LOCAL_MAC,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    let mut packet = Ipv4Packet::new_unchecked(&mut frame[eth_len..]);
    ip.emit(&mut packet, true);
    fill(packet.payload_mut());
    frame
}

/// Decodes a frame the engine sent to the peer, checking every layer.
#[track_caller]
fn parse_seg(frame: &[u8]) -> Seg {
    let eth = EthernetFrame::new_checked(frame).expect("Ethernet header");
    let eth = EthernetRepr::parse(&eth).unwrap();
    assert_eq!(
        (eth.src_addr, eth.dst_addr, eth.ethertype),
        (LOCAL_MAC, PEER_MAC, EtherType::Ipv4),
        "Ethernet header"
    );
    let ip = Ipv4Packet::new_checked(&frame[14..]).expect("IPv4 header");
    let ip_repr = Ipv4Repr::parse(&ip, true).expect("IPv4 header and checksum");
    assert_eq!(
        (ip_repr.src_addr, ip_repr.dst_addr, ip_repr.protocol),
        (LOCAL_IP, PEER_IP, IpProtocol::Tcp),
        "IPv4 header"
    );
    let at = 14 + usize::from(ip.header_len());
    let tcp_bytes = &frame[at..at + ip_repr.payload_len];
    let tcp = TcpPacket::new_checked(tcp_bytes).expect("TCP header");
    let repr = TcpRepr::parse(&tcp, LOCAL_IP, PEER_IP, true).expect("TCP header and checksum");
    Seg {
        sport: repr.src_port,
        dport: repr.dst_port,
        flags: repr.flags,
        seq: repr.seq_number,
        ack: repr.ack_number,
        win: repr.window_len,
        mss: repr.max_seg_size,
        wscale: repr.window_scale,
        ts: repr.timestamp.map(|t| (t.tsval, t.tsecr)),
        sack_perm: repr.sack_permitted,
        sack: repr
            .sack_blocks
            .iter()
            .flatten()
            .map(|b| (b.left, b.right))
            .collect(),
        urgent: repr.urgent_at,
        data: repr.payload.to_vec(),
    }
}

fn sack_blocks(blocks: &[(SeqNumber, SeqNumber)]) -> [Option<SackBlock>; 4] {
    let mut out = [None; 4];
    for (slot, &(left, right)) in out.iter_mut().zip(blocks) {
        *slot = Some(SackBlock { left, right });
    }
    out
}

/// `n` bytes of a recognisable pattern.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[test]
fn harness_round_trips_a_segment_through_its_own_codec() {
    let seg = Seg {
        sport: 1,
        dport: 2,
        flags: SYN | ACK | URG,
        seq: SeqNumber(3),
        ack: SeqNumber(4),
        win: 5,
        mss: Some(6),
        wscale: Some(7),
        ts: Some((8, 9)),
        sack_perm: true,
        sack: vec![(SeqNumber(10), SeqNumber(11))],
        urgent: 12,
        data: b"xyz".to_vec(),
    };
    let frame = Harness::frame_for(&seg);
    // parse_seg expects frames from us; swap the layers' addresses.
    let mut swapped = frame.clone();
    swapped[..6].copy_from_slice(&PEER_MAC.0);
    swapped[6..12].copy_from_slice(&LOCAL_MAC.0);
    let mut ip = Ipv4Packet::new_unchecked(&mut swapped[14..]);
    ip.set_src_addr(LOCAL_IP);
    ip.set_dst_addr(PEER_IP);
    ip.fill_checksum();
    let mut tcp = TcpPacket::new_unchecked(ip.payload_mut());
    tcp.fill_checksum(LOCAL_IP, PEER_IP);
    assert_eq!(parse_seg(&swapped), seg);
    assert_eq!(seg.len(), 4);
}
