//! Benchmarks: the criterion fixtures below, and the wire tool ([`wire`]).
//!
//! Benchmark fixtures: an engine under test and a scripted peer that
//! builds exact frames for it, so a benchmark measures the engine and
//! nothing else (no second engine, no simulator).
//!
//! The benches live in `benches/`: `wire` (parse and emit, checksum),
//! `timers` (the timing wheel), `engine` (receive and transmit fast
//! paths, reassembly, connection lookup with up to 1 M connections) and
//! `mbuf` (the fast paths over DPDK mbufs, software segmentation).

pub mod mbuf_paths;
pub mod wire;

use std::net::{Ipv4Addr, SocketAddrV4};

use stack::wire::{
    EtherType, EthernetAddress, EthernetFrame, EthernetRepr, IpProtocol, Ipv4Cidr, Ipv4Packet,
    Ipv4Repr, SeqNumber, TcpFlags, TcpPacket, TcpRepr,
};
use stack::{
    BufferPool, Engine, EngineConfig, Handle, HeapPool, Instant, PacketBuf, StaticNeighbor,
};

/// Our address (the engine under test).
pub const OURS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The scripted peer's address.
pub const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const OUR_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
const HEADERS: usize = 14 + 20 + 20;

/// An established connection as the peer sees it.
#[derive(Debug, Clone, Copy)]
pub struct PeerConn {
    /// The engine's handle.
    pub handle: Handle,
    /// The engine's port.
    pub local_port: u16,
    /// The peer's port.
    pub peer_port: u16,
    /// The peer's next sequence number.
    pub peer_seq: u32,
    /// What the peer acknowledges: the engine's next sequence number.
    pub peer_ack: u32,
}

/// The engine under test and its buffer pool (heap buffers, or mbufs in
/// `benches/mbuf.rs`).
pub struct Fixture<P: BufferPool = HeapPool> {
    /// The engine under test.
    pub engine: Engine<P>,
    /// Its pool (frames for it are allocated here, as a NIC would).
    pub pool: P,
    /// The virtual clock.
    pub now: Instant,
}

/// The configuration of the engine under test: the peer is a static
/// neighbour and the "device" verified checksums (a NIC's RX offload), so
/// frames can be patched in place between iterations.
pub fn config(max_connections: usize) -> EngineConfig {
    let mut cfg = EngineConfig {
        mac: OUR_MAC,
        address: Ipv4Cidr::new(OURS, 24).expect("valid"),
        neighbors: vec![StaticNeighbor {
            ip: PEER,
            mac: PEER_MAC,
        }],
        max_connections,
        ..EngineConfig::default()
    };
    cfg.offload.rx_checksum = true;
    cfg.tcp.ephemeral_first = 1024;
    cfg
}

impl Fixture {
    /// An engine with `cfg` and a pool of `buffers` heap buffers.
    pub fn new(cfg: EngineConfig, buffers: usize) -> Fixture {
        Fixture::with_pool(cfg, HeapPool::new(buffers, 2176, 128))
    }
}

impl<P: BufferPool + Clone> Fixture<P> {
    /// An engine with `cfg` taking its buffers from `pool`.
    pub fn with_pool(cfg: EngineConfig, pool: P) -> Fixture<P> {
        let engine =
            Engine::new(cfg, pool.clone(), [0x42; 16], Instant::ZERO).expect("valid config");
        Fixture {
            engine,
            pool,
            now: Instant::ZERO,
        }
    }

    /// A frame from the peer carrying `repr`, in a buffer of our pool.
    pub fn frame(&mut self, repr: &TcpRepr) -> P::Buf {
        let bytes = peer_frame(repr);
        let mut buf = self.pool.alloc().expect("pool");
        buf.append(bytes.len())
            .expect("room")
            .copy_from_slice(&bytes);
        buf
    }

    /// Sends everything the engine wants to send to nowhere; returns the
    /// last TCP sequence number it sent past (seq + len + SYN/FIN).
    pub fn drain(&mut self) -> Option<u32> {
        let mut next = None;
        while let Some(t) = self.engine.poll_transmit(self.now) {
            let head = t.head.data();
            if head.len() >= HEADERS {
                let tcp = TcpPacket::new_unchecked(&head[34..]);
                let flags = tcp.flags();
                let len = t.len() - 34 - usize::from(tcp.header_len())
                    + usize::from(flags.contains(TcpFlags::SYN))
                    + usize::from(flags.contains(TcpFlags::FIN));
                next = Some(tcp.seq_number().0.wrapping_add(len as u32));
            }
        }
        next
    }

    /// Opens a connection from `local_port` to the peer's `peer_port` with
    /// a scripted handshake.
    pub fn establish(&mut self, local_port: u16, peer_port: u16) -> PeerConn {
        let handle = self
            .engine
            .connect_from(local_port, SocketAddrV4::new(PEER, peer_port))
            .expect("connect");
        let syn_next = self.drain().expect("a SYN");
        let peer_iss = 1_000_000u32;
        let synack = TcpRepr {
            src_port: peer_port,
            dst_port: local_port,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            seq_number: SeqNumber(peer_iss),
            ack_number: SeqNumber(syn_next),
            window_len: 65535,
            max_seg_size: Some(1460),
            ..TcpRepr::default()
        };
        let f = self.frame(&synack);
        self.engine.handle_rx(self.now, f);
        self.drain();
        while self.engine.poll_event().is_some() {}
        PeerConn {
            handle,
            local_port,
            peer_port,
            peer_seq: peer_iss.wrapping_add(1),
            peer_ack: syn_next,
        }
    }
}

/// An Ethernet + IPv4 + TCP frame from the peer to us, checksums filled.
pub fn peer_frame(repr: &TcpRepr) -> Vec<u8> {
    let tcp_len = repr.header_len() + repr.payload.len();
    let mut bytes = vec![0u8; 14 + 20 + tcp_len];
    EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: OUR_MAC,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut bytes[..14]));
    Ipv4Repr {
        src_addr: PEER,
        dst_addr: OURS,
        protocol: IpProtocol::Tcp,
        payload_len: tcp_len,
        ttl: 64,
        dont_frag: true,
        ident: 0,
    }
    .emit(&mut Ipv4Packet::new_unchecked(&mut bytes[14..34]), true);
    repr.emit(
        &mut TcpPacket::new_unchecked(&mut bytes[34..]),
        PEER,
        OURS,
        true,
    );
    bytes
}

/// A segment from the peer on `c` carrying `payload` (ACK, and PSH when
/// there is data).
pub fn data_repr<'a>(c: &PeerConn, payload: &'a [u8]) -> TcpRepr<'a> {
    let flags = if payload.is_empty() {
        TcpFlags::ACK
    } else {
        TcpFlags::ACK | TcpFlags::PSH
    };
    TcpRepr {
        src_port: c.peer_port,
        dst_port: c.local_port,
        flags,
        seq_number: SeqNumber(c.peer_seq),
        ack_number: SeqNumber(c.peer_ack),
        window_len: 65535,
        urgent_at: 0,
        payload,
        ..TcpRepr::default()
    }
}

/// Byte offset of the TCP sequence number in a frame from [`peer_frame`].
pub const SEQ_AT: usize = 34 + 4;
/// Byte offset of the TCP acknowledgment number.
pub const ACK_AT: usize = 34 + 8;
/// Byte offset of the TCP source port.
pub const SRC_PORT_AT: usize = 34;
/// Byte offset of the TCP destination port.
pub const DST_PORT_AT: usize = 34 + 2;

/// Copies `template` into a buffer of `pool` (the NIC's DMA), with the
/// sequence and acknowledgment numbers patched.
pub fn patched<P: BufferPool>(pool: &mut P, template: &[u8], seq: u32, ack: u32) -> P::Buf {
    let mut buf = pool.alloc().expect("pool");
    let bytes = buf.append(template.len()).expect("room");
    bytes.copy_from_slice(template);
    bytes[SEQ_AT..SEQ_AT + 4].copy_from_slice(&seq.to_be_bytes());
    bytes[ACK_AT..ACK_AT + 4].copy_from_slice(&ack.to_be_bytes());
    buf
}

/// As [`patched`], with the TCP checksum brought up to date (RFC 1624
/// incremental update over the changed words), for an engine that
/// verifies checksums itself.
pub fn patched_checked<P: BufferPool>(pool: &mut P, template: &[u8], seq: u32, ack: u32) -> P::Buf {
    let mut buf = patched(pool, template, seq, ack);
    let bytes = buf.data_mut().expect("a fresh buffer");
    let word = |b: &[u8], at: usize| u32::from(u16::from_be_bytes([b[at], b[at + 1]]));
    const CSUM_AT: usize = 34 + 16;
    let mut sum = !word(template, CSUM_AT) & 0xffff;
    for at in [SEQ_AT, SEQ_AT + 2, ACK_AT, ACK_AT + 2] {
        sum += (!word(template, at) & 0xffff) + word(bytes, at);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    bytes[CSUM_AT..CSUM_AT + 2].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    buf
}
