//! The targets. Each takes arbitrary bytes, must not panic, and checks
//! invariants of its own (a failed invariant is a panic too).

use core::time::Duration;
use std::net::{Ipv4Addr, SocketAddrV4};

use stack::wire::{
    ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr, Icmpv4Packet,
    Icmpv4Repr, IpProtocol, Ipv4Cidr, Ipv4Packet, Ipv4Repr, TcpPacket, TcpRepr,
};
use stack::{
    BufferPool, Engine, EngineConfig, EventKind, Handle, HeapPool, Instant, PacketBuf,
    StaticNeighbor,
};

/// Every wire parser on the frame and its layers; whatever parses is
/// emitted again and must parse back to the same representation.
pub fn wire(data: &[u8]) {
    let Ok(frame) = EthernetFrame::new_checked(data) else {
        return;
    };
    let Ok(eth) = EthernetRepr::parse(&frame) else {
        return;
    };
    let mut buf = [0u8; EthernetFrame::<&[u8]>::HEADER_LEN];
    eth.emit(&mut EthernetFrame::new_unchecked(&mut buf[..]));
    let back = EthernetRepr::parse(&EthernetFrame::new_checked(&buf[..]).unwrap()).unwrap();
    assert_eq!(back, eth, "Ethernet round trip");
    match eth.ethertype {
        EtherType::Arp => arp(frame.payload()),
        EtherType::Ipv4 => ipv4(frame.payload()),
        _ => {}
    }
}

fn arp(bytes: &[u8]) {
    let Ok(packet) = ArpPacket::new_checked(bytes) else {
        return;
    };
    let Ok(repr) = ArpRepr::parse(&packet) else {
        return;
    };
    let mut buf = [0u8; ArpRepr::BUFFER_LEN];
    repr.emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
    let back = ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()).unwrap();
    assert_eq!(back, repr, "ARP round trip");
}

fn ipv4(bytes: &[u8]) {
    let Ok(packet) = Ipv4Packet::new_checked(bytes) else {
        return;
    };
    // With and without the checksum: a device may have verified it.
    for verify in [false, true] {
        let Ok(repr) = Ipv4Repr::parse(&packet, verify) else {
            continue;
        };
        let mut buf = vec![0u8; 20 + repr.payload_len];
        let mut out = Ipv4Packet::new_unchecked(&mut buf[..]);
        repr.emit(&mut out, true);
        let back = Ipv4Repr::parse(&Ipv4Packet::new_checked(&buf[..]).unwrap(), true).unwrap();
        assert_eq!(back, repr, "IPv4 round trip");
        let payload = &packet.payload()[..repr.payload_len.min(packet.payload().len())];
        match repr.protocol {
            IpProtocol::Tcp => tcp(payload, repr.src_addr, repr.dst_addr),
            IpProtocol::Icmp => icmp(payload),
            _ => {}
        }
    }
}

fn tcp(bytes: &[u8], src: Ipv4Addr, dst: Ipv4Addr) {
    let Ok(packet) = TcpPacket::new_checked(bytes) else {
        return;
    };
    let Ok(repr) = TcpRepr::parse(&packet, src, dst, false) else {
        return;
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), src, dst, true);
    let back = TcpRepr::parse(&TcpPacket::new_checked(&buf[..]).unwrap(), src, dst, true)
        .expect("what we emit parses, checksum included");
    assert_eq!(back, repr, "TCP round trip");
}

fn icmp(bytes: &[u8]) {
    let Ok(packet) = Icmpv4Packet::new_checked(bytes) else {
        return;
    };
    let Ok(repr) = Icmpv4Repr::parse(&packet, false) else {
        return;
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]));
    let back = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&buf[..]).unwrap(), true)
        .expect("what we emit parses, checksum included");
    assert_eq!(back, repr, "ICMP round trip");
}

const CLIENT: u8 = 1;
const SERVER: u8 = 2;
const PORT: u16 = 7;

fn host(n: u8, peer: u8) -> EngineConfig {
    let mut cfg = EngineConfig {
        mac: EthernetAddress([2, 0, 0, 0, 0, n]),
        address: Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, n), 24).unwrap(),
        neighbors: vec![StaticNeighbor {
            ip: Ipv4Addr::new(10, 0, 0, peer),
            mac: EthernetAddress([2, 0, 0, 0, 0, peer]),
        }],
        max_connections: 64,
        ..EngineConfig::default()
    };
    // Short timers, so a run ends (and leaks show) within a few simulated
    // minutes.
    cfg.tcp.max_retransmits = 4;
    cfg.tcp.syn_retries = 3;
    cfg.tcp.synack_retries = 3;
    cfg.tcp.rto_max = Duration::from_secs(2);
    cfg.tcp.time_wait = Duration::from_secs(1);
    cfg.tcp.fin_wait2_timeout = Duration::from_secs(1);
    cfg.tcp.send_buffer = 32 * 1024;
    cfg.tcp.recv_buffer = 16 * 1024;
    // The client hands over frames of several segments, which the wire
    // below cuts (`stack::segment::cut`) as a driver without TSO does.
    cfg.offload.tx_segmentation = n == CLIENT;
    cfg
}

/// The frames on the wire for `t`: itself, or the segments it is cut into.
fn wire_frames(pool: &mut HeapPool, t: stack::Transmit<stack::HeapBuf>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // A pool too empty to cut into loses the rest, as on a wire.
    let _ = stack::segment::cut(t, pool, |f| out.push(f.to_vec()));
    out
}

/// Two engines on a wire, a connection between them with data sent both
/// ways: the state a mutated frame lands in.
pub struct Pair {
    engines: [Engine<HeapPool>; 2],
    pools: [HeapPool; 2],
    now: Instant,
    handles: Vec<(usize, Handle)>,
    listener: Handle,
    /// Frames the client sent to the server, as they were on the wire.
    pub client_frames: Vec<Vec<u8>>,
    /// Readable events are answered by reading (and discarding) the data;
    /// off when the target reads for itself.
    auto_read: bool,
}

impl Pair {
    /// Sets the pair up: handshake, 3 kB each way, all acknowledged.
    pub fn new() -> Pair {
        let pools = [HeapPool::new(512, 2176, 128), HeapPool::new(512, 2176, 128)];
        let mut engines = [
            Engine::new(
                host(CLIENT, SERVER),
                pools[0].clone(),
                [0x11; 16],
                Instant::ZERO,
            )
            .unwrap(),
            Engine::new(
                host(SERVER, CLIENT),
                pools[1].clone(),
                [0x22; 16],
                Instant::ZERO,
            )
            .unwrap(),
        ];
        let listener = engines[1].listen(PORT, 8).unwrap();
        let client = engines[0]
            .connect(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, SERVER), PORT))
            .unwrap();
        let mut pair = Pair {
            engines,
            pools,
            now: Instant::ZERO,
            handles: vec![(0, client)],
            listener,
            client_frames: Vec::new(),
            auto_read: true,
        };
        pair.run(Duration::from_millis(50));
        let data = vec![0x42u8; 3000];
        let handles = pair.handles.clone();
        for (side, h) in handles {
            let _ = pair.engines[side].write(h, &data);
        }
        pair.run(Duration::from_millis(300));
        pair
    }

    /// The client engine's counters.
    pub fn client_stats(&self) -> &stack::Stats {
        self.engines[0].stats()
    }

    /// Moves frames both ways, reads what arrives, accepts what is
    /// acceptable, and runs timers, for `span` of simulated time (or until
    /// nothing is left to do).
    fn run(&mut self, span: Duration) {
        let end = self.now + span;
        for _ in 0..20_000 {
            self.exchange();
            let next = self
                .engines
                .iter()
                .filter_map(Engine::poll_timeout)
                .min()
                .map(|t| t.max(self.now + Duration::from_micros(100)));
            match next {
                Some(t) if t <= end => self.now = t,
                _ => {
                    self.now = end;
                    for e in &mut self.engines {
                        e.handle_timeouts(end);
                    }
                    self.exchange();
                    return;
                }
            }
            for e in &mut self.engines {
                e.handle_timeouts(self.now);
            }
        }
    }

    fn exchange(&mut self) {
        for _ in 0..64 {
            let mut moved = false;
            for from in 0..2 {
                while let Some(frame) = self.engines[from].poll_transmit(self.now) {
                    for bytes in wire_frames(&mut self.pools[from], frame) {
                        if from == 0 {
                            self.client_frames.push(bytes.clone());
                        }
                        self.deliver(1 - from, &bytes);
                    }
                    moved = true;
                }
            }
            self.events();
            if !moved {
                return;
            }
        }
    }

    fn deliver(&mut self, to: usize, bytes: &[u8]) {
        if std::env::var_os("FUZZ_TRACE").is_some() {
            trace(self.now, to, bytes);
        }
        let Some(mut buf) = self.pools[to].alloc() else {
            return; // as a NIC with an empty ring: dropped
        };
        match buf.append(bytes.len()) {
            Some(room) => room.copy_from_slice(bytes),
            None => return,
        }
        self.engines[to].handle_rx(self.now, buf);
    }

    /// Frames to engine `to` in one receive burst (each dropped, as by a
    /// NIC, when its pool is empty).
    fn deliver_burst(&mut self, to: usize, frames: &[&[u8]]) {
        let mut bufs = Vec::with_capacity(frames.len());
        for bytes in frames {
            if std::env::var_os("FUZZ_TRACE").is_some() {
                trace(self.now, to, bytes);
            }
            let Some(mut buf) = self.pools[to].alloc() else {
                continue;
            };
            if let Some(room) = buf.append(bytes.len()) {
                room.copy_from_slice(bytes);
                bufs.push(buf);
            }
        }
        self.engines[to].handle_rx_burst(self.now, bufs);
    }

    fn events(&mut self) {
        let mut buf = [0u8; 4096];
        for side in 0..2 {
            while let Some(ev) = self.engines[side].poll_event() {
                if ev.kind == EventKind::Acceptable {
                    while let Ok((h, _)) = self.engines[side].accept(self.listener) {
                        self.handles.push((side, h));
                    }
                } else if ev.kind == EventKind::Readable && self.auto_read {
                    while let Ok(n) = self.engines[side].read(ev.handle, &mut buf) {
                        if n == 0 {
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Feeds `frame` to the server as if from the wire.
    pub fn inject(&mut self, frame: &[u8]) {
        self.deliver(1, frame);
        self.run(Duration::from_millis(50));
    }

    /// What must hold at any time.
    pub fn check(&self) {
        for (i, e) in self.engines.iter().enumerate() {
            assert_eq!(e.flow_count(), e.connection_count(), "engine {i}: flows");
            let m = &e.stats().memory;
            assert!(
                m.held <= m.limit,
                "engine {i}: held {} > limit {}",
                m.held,
                m.limit
            );
        }
    }

    /// Closes everything and lets every timer run out: nothing may be left
    /// (no connection, timer, handle, or buffer).
    pub fn finish(mut self) {
        let handles = std::mem::take(&mut self.handles);
        for (side, h) in handles {
            let _ = self.engines[side].close(h);
        }
        let _ = self.engines[1].close(self.listener);
        self.run(Duration::from_secs(120));
        for (i, e) in self.engines.iter().enumerate() {
            assert_eq!(
                e.connection_count(),
                0,
                "engine {i}: states {:?}, {} timers, next {:?} (now {:?}), {:?}",
                e.state_counts(),
                e.timer_count(),
                e.poll_timeout(),
                self.now,
                e.stats()
            );
            assert_eq!(e.timer_count(), 0, "engine {i}: timers left");
            assert_eq!(e.handle_count(), 0, "engine {i}: handles left");
            assert_eq!(e.stats().memory.held, 0, "engine {i}: memory held");
        }
        let (totals, pools): (Vec<usize>, Vec<HeapPool>) =
            self.pools.iter().map(|p| (p.total(), p.clone())).unzip();
        drop(self.engines);
        for (i, (total, pool)) in totals.into_iter().zip(pools).enumerate() {
            assert_eq!(pool.available(), total, "pool {i}: buffers not returned");
        }
    }
}

impl Default for Pair {
    fn default() -> Self {
        Pair::new()
    }
}

/// One line per delivered frame (`FUZZ_TRACE`): time, direction, TCP
/// flags, sequence numbers, length and window.
fn trace(now: Instant, to: usize, bytes: &[u8]) {
    let eth = EthernetFrame::<&[u8]>::HEADER_LEN;
    let line = bytes
        .get(eth..)
        .and_then(|b| Ipv4Packet::new_checked(b).ok())
        .and_then(|ip| {
            let repr = Ipv4Repr::parse(&ip, false).ok()?;
            let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
            let t = TcpRepr::parse(&tcp, repr.src_addr, repr.dst_addr, false).ok()?;
            Some(format!(
                "{:?} seq {} ack {} len {} win {}",
                t.flags,
                t.seq_number.0,
                t.ack_number.0,
                t.payload.len(),
                t.window_len
            ))
        })
        .unwrap_or_else(|| format!("{} bytes", bytes.len()));
    eprintln!("{:>12?} -> {to}: {line}", now);
}

/// Recomputes the IPv4 header and TCP checksums of `frame` where its
/// layers are complete enough, so mutations reach past the checksum check.
pub fn fix_checksums(frame: &mut [u8]) {
    let eth = EthernetFrame::<&[u8]>::HEADER_LEN;
    if frame.len() < eth + 20 || frame[12..14] != [0x08, 0x00] {
        return;
    }
    let ip = &mut frame[eth..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if ihl < 20 || ihl > total || total > ip.len() {
        return;
    }
    let mut packet = Ipv4Packet::new_unchecked(&mut ip[..total]);
    packet.fill_checksum();
    let (src, dst, proto) = (packet.src_addr(), packet.dst_addr(), packet.protocol());
    if proto == IpProtocol::Tcp && total - ihl >= 20 {
        let mut tcp = TcpPacket::new_unchecked(&mut ip[ihl..total]);
        tcp.fill_checksum(src, dst);
    }
    if proto == IpProtocol::Icmp && total - ihl >= 8 {
        Icmpv4Packet::new_unchecked(&mut ip[ihl..total]).fill_checksum();
    }
}

/// One mutated frame on an established connection: the first byte says
/// whether the checksums are made right again (so the frame reaches TCP),
/// the rest is the frame. Afterwards the books must be straight, and once
/// everything is closed nothing may be left.
pub fn engine_frame(data: &[u8]) {
    let Some((&mode, frame)) = data.split_first() else {
        return;
    };
    let mut frame = frame.to_vec();
    if mode & 1 == 0 {
        fix_checksums(&mut frame);
    }
    let mut pair = Pair::new();
    pair.inject(&frame);
    pair.check();
    pair.finish();
}

/// The byte at `offset` of the stream side `side` writes: position-dependent,
/// so a byte delivered twice or out of place shows.
fn stream_byte(side: usize, offset: usize) -> u8 {
    (offset
        .wrapping_mul(131)
        .wrapping_add(offset >> 8)
        .wrapping_add(side * 71)) as u8
}

/// A connection driven by a sequence of operations decoded from `data`:
/// writes (urgent ones too), reads, shutdowns, closes and aborts (on live
/// and, after close, stale handles), linger and Nagle settings, clock
/// jumps, ICMP errors from a router about frames in flight (fragmentation
/// needed, unreachable), and a channel that delivers, drops, duplicates
/// and reorders frames as told, moving them one by one or in bursts. Each
/// side must only ever read a prefix of what the other wrote; the books
/// stay straight; and once everything is closed nothing is left.
pub fn engine_ops(data: &[u8]) {
    let mut pair = Pair::new();
    pair.auto_read = false;
    let ends = [
        pair.handles[0],
        pair.handles.get(1).copied().unwrap_or(pair.handles[0]),
    ];
    if ends[0].0 == ends[1].0 {
        return; // the handshake did not complete: nothing to drive
    }
    // What the set-up sent is read and set aside: the streams start here.
    let mut buf = vec![0u8; 8192];
    for &(side, h) in &ends {
        while let Ok(k) = pair.engines[side].read(h, &mut buf) {
            if k == 0 {
                break;
            }
        }
    }
    // What each side wrote, and what each side read (of the other's).
    let mut written = [Vec::new(), Vec::new()];
    let mut read = [Vec::new(), Vec::new()];
    let mut wire: std::collections::VecDeque<(usize, Vec<u8>)> = Default::default();
    let mut bytes = data.iter().copied();
    while let (Some(op), Some(arg)) = (bytes.next(), bytes.next()) {
        let side = usize::from(op >> 7);
        let (engine_side, h) = ends[side];
        let e = &mut pair.engines[engine_side];
        match op & 0x0f {
            0 => {
                let n = usize::from(arg) * 24;
                let from = written[side].len();
                let chunk: Vec<u8> = (from..from + n).map(|i| stream_byte(side, i)).collect();
                if let Ok(k) = e.write(h, &chunk) {
                    written[side].extend_from_slice(&chunk[..k]);
                }
            }
            1 => {
                if let Ok(k) = e.read(h, &mut buf[..usize::from(arg) * 32 + 1]) {
                    read[side].extend_from_slice(&buf[..k]);
                }
            }
            2 => {
                let step = if arg & 0x80 != 0 {
                    Duration::from_millis(u64::from(arg & 0x7f) * 100)
                } else {
                    Duration::from_millis(u64::from(arg))
                };
                pair.now += step;
                for e in &mut pair.engines {
                    e.handle_timeouts(pair.now);
                }
            }
            3 => {
                // Collect what the engines send (frame by frame, or in
                // bursts of up to `arg % 4 + 1`), then deliver `arg % 8`
                // frames: one by one, or, with the top bit, each run of
                // frames to the same engine as one receive burst.
                for from in 0..2 {
                    if arg & 0x40 == 0 {
                        while let Some(f) = pair.engines[from].poll_transmit(pair.now) {
                            for bytes in wire_frames(&mut pair.pools[from], f) {
                                wire.push_back((1 - from, bytes));
                            }
                        }
                    } else {
                        let mut out = Vec::new();
                        let max = usize::from(arg % 4) + 1;
                        while pair.engines[from].poll_transmit_burst(pair.now, &mut out, max) > 0 {
                            assert!(out.len() <= max, "a transmit burst over its limit");
                            for f in out.drain(..) {
                                for bytes in wire_frames(&mut pair.pools[from], f) {
                                    wire.push_back((1 - from, bytes));
                                }
                            }
                        }
                    }
                }
                let n = usize::from(arg % 8).min(wire.len());
                let frames: Vec<(usize, Vec<u8>)> = wire.drain(..n).collect();
                if arg & 0x80 == 0 {
                    for (to, f) in &frames {
                        pair.deliver(*to, f);
                    }
                } else {
                    for run in frames.chunk_by(|a, b| a.0 == b.0) {
                        let bytes: Vec<&[u8]> = run.iter().map(|(_, f)| &f[..]).collect();
                        pair.deliver_burst(run[0].0, &bytes);
                    }
                }
            }
            4 => {
                wire.pop_front();
            }
            5 => {
                if let Some(front) = wire.front().cloned() {
                    wire.push_back(front);
                }
            }
            6 => {
                if wire.len() >= 2 {
                    let k = 1 + usize::from(arg) % (wire.len() - 1);
                    wire.swap(0, k);
                }
            }
            7 => {
                let _ = e.shutdown(h, stack::Shutdown::Write);
            }
            8 => {
                let _ = e.close(h);
            }
            9 => {
                let _ = e.abort(h);
            }
            10 => {
                let linger = (arg & 1 == 1).then(|| Duration::from_millis(u64::from(arg) * 4));
                let _ = e.set_linger(h, linger);
            }
            11 => {
                let _ = e.set_nodelay(h, arg & 1 == 1);
            }
            12 => {
                let _ = e.set_cork(h, arg & 1 == 1);
            }
            13 => {
                let n = usize::from(arg) * 8 + 1;
                let from = written[side].len();
                let chunk: Vec<u8> = (from..from + n).map(|i| stream_byte(side, i)).collect();
                if let Ok(k) = e.write_urgent(h, &chunk) {
                    written[side].extend_from_slice(&chunk[..k]);
                }
            }
            14 => {
                // A router answers the frame at the front of the wire with
                // an ICMP error: fragmentation needed (an MTU from the
                // argument) or another unreachable code.
                if let Some((to, f)) = wire.front() {
                    if let Some(icmp) = icmp_error_for(1 - *to, f, arg) {
                        pair.deliver(1 - *to, &icmp);
                    }
                }
            }
            _ => {
                // A small read, possibly of zero bytes.
                let n = usize::from(arg) % 64;
                if let Ok(k) = e.read(h, &mut buf[..n]) {
                    read[side].extend_from_slice(&buf[..k]);
                }
            }
        }
        // Events: acceptances and reads are the driver's, not the ops'.
        for side in 0..2 {
            while pair.engines[side].poll_event().is_some() {}
        }
        for (s, got) in read.iter().enumerate() {
            let other = 1 - s;
            assert!(
                written[other].starts_with(got),
                "side {s} read {} bytes that are not a prefix of the {} side {other} wrote",
                got.len(),
                written[other].len()
            );
        }
        pair.check();
    }
    // The channel heals: everything in flight arrives, and what is still
    // readable is read.
    for (to, f) in wire.drain(..) {
        pair.deliver(to, &f);
    }
    pair.handles
        .retain(|&(_, h)| h != ends[0].1 && h != ends[1].1);
    pair.run(Duration::from_secs(5));
    for (s, &(engine_side, h)) in ends.iter().enumerate() {
        while let Ok(k) = pair.engines[engine_side].read(h, &mut buf) {
            if k == 0 {
                break;
            }
            read[s].extend_from_slice(&buf[..k]);
        }
    }
    for (s, got) in read.iter().enumerate() {
        let w = &written[1 - s];
        let first_bad = got.iter().zip(w.iter()).position(|(a, b)| a != b);
        assert!(
            w.starts_with(got),
            "side {s}: read {} bytes, the other wrote {}; first difference at {first_bad:?} \
             (read {:02x?}, written {:02x?})",
            got.len(),
            w.len(),
            &got[..got.len().min(8)],
            &w[..w.len().min(8)]
        );
    }
    pair.check();
    for &(engine_side, h) in &ends {
        let _ = pair.engines[engine_side].close(h);
    }
    pair.finish();
}

/// An ICMP error from a router (10.0.0.254) to engine `to` about `frame`,
/// which `to` sent: code 4 with a next-hop MTU of `300 + 8 * arg` when
/// `arg` is even, else Destination Unreachable with code `arg % 16`.
fn icmp_error_for(to: usize, frame: &[u8], arg: u8) -> Option<Vec<u8>> {
    let quoted = frame.get(14..14 + 28)?;
    let (code, mtu) = if arg % 2 == 0 {
        (4, 300 + 8 * u16::from(arg))
    } else {
        (arg % 16, 0)
    };
    let body = Icmpv4Repr::DstUnreachable {
        code,
        original: quoted,
    };
    let n = to as u8 + 1;
    let ip = Ipv4Repr {
        src_addr: Ipv4Addr::new(10, 0, 0, 254),
        dst_addr: Ipv4Addr::new(10, 0, 0, n),
        protocol: IpProtocol::Icmp,
        payload_len: body.buffer_len(),
        ttl: 64,
        dont_frag: false,
        ident: 1,
    };
    let mut out = vec![0u8; 14 + ip.buffer_len()];
    EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 3 - n]),
        dst_addr: EthernetAddress([2, 0, 0, 0, 0, n]),
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut out[..]));
    let mut packet = Ipv4Packet::new_unchecked(&mut out[14..]);
    ip.emit(&mut packet, true);
    let mut icmp = Icmpv4Packet::new_unchecked(packet.payload_mut());
    body.emit(&mut icmp);
    icmp.set_next_hop_mtu(mtu);
    icmp.fill_checksum();
    Some(out)
}

/// Frames a fresh pair's client sent, for the seed corpus.
pub fn seed_frames() -> Vec<Vec<u8>> {
    let frames = Pair::new().client_frames;
    // ICMP errors to the server quoting what it might have sent: a client
    // frame with addresses and ports turned round.
    let mut icmp = Vec::new();
    for f in frames.iter().filter(|f| f.len() >= 14 + 28) {
        let mut back = f.clone();
        let (ip, tcp) = (14, 14 + 20);
        let (src, dst) = (
            back[ip + 12..ip + 16].to_vec(),
            back[ip + 16..ip + 20].to_vec(),
        );
        back[ip + 12..ip + 16].copy_from_slice(&dst);
        back[ip + 16..ip + 20].copy_from_slice(&src);
        let (sport, dport) = (back[tcp..tcp + 2].to_vec(), back[tcp + 2..tcp + 4].to_vec());
        back[tcp..tcp + 2].copy_from_slice(&dport);
        back[tcp + 2..tcp + 4].copy_from_slice(&sport);
        for arg in [0u8, 3, 130] {
            icmp.extend(icmp_error_for(1, &back, arg));
        }
    }
    frames.into_iter().chain(icmp).collect()
}
