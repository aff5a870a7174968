//! The receive path: Ethernet, ARP, IPv4, ICMP, and TCP demultiplexing.

use std::net::SocketAddrV4;

use crate::api::State;
use crate::buf::{BufferPool, PacketBuf};
use crate::stats::{DropReason, RstReason};
use crate::tcp::input::SegmentInfo;
use crate::tcp::Tcb;
use crate::time::Instant;
use crate::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame, IpProtocol, Ipv4Packet, Ipv4Repr,
    TcpFlags, TcpPacket, TcpRepr, WireError,
};

use super::cookies;
use super::table::{ConnEntry, FlowKey};
use super::Engine;

/// Where the TCP payload sits in the frame, and the header fields.
struct Parsed {
    src: SocketAddrV4,
    dst_port: u16,
    seg: SegmentInfo,
    payload_at: usize,
}

/// Flag combinations no TCP sends: SYN with FIN or RST (SYN+FIN is the
/// classic scanner's probe), or none of SYN, ACK and RST (a segment
/// without ACK is legal only as a SYN or a RST: RFC 9293 3.10.7).
fn illegal_flags(flags: TcpFlags) -> bool {
    let syn = flags.contains(TcpFlags::SYN);
    (syn && flags.intersects(TcpFlags::FIN | TcpFlags::RST))
        || !flags.intersects(TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST)
}

pub(super) fn wire_drop(e: WireError) -> DropReason {
    match e {
        WireError::BadChecksum => DropReason::BadChecksum,
        WireError::Unsupported => DropReason::UnsupportedProtocol,
        _ => DropReason::Malformed,
    }
}

/// A received frame for [`Engine::handle_rx_burst`]: the buffer, and
/// whether the device verified its IPv4 and TCP checksums (DPDK's
/// `RTE_MBUF_F_RX_*_CKSUM_GOOD`; frames it found bad are the driver's to
/// drop). A plain buffer converts into an unverified frame.
pub struct RxFrame<B> {
    /// The frame, from its Ethernet header.
    pub buf: B,
    /// The device checked both checksums and found them good.
    pub checksums_verified: bool,
}

impl<B> From<B> for RxFrame<B> {
    fn from(buf: B) -> Self {
        RxFrame {
            buf,
            checksums_verified: false,
        }
    }
}

impl<P: BufferPool> Engine<P> {
    /// Takes one received frame. Malformed or foreign frames are counted
    /// and dropped; nothing here can panic on bad input.
    pub fn handle_rx(&mut self, now: Instant, frame: P::Buf) {
        self.handle_rx_burst(now, [frame]);
    }

    /// Takes one received frame whose IPv4 and TCP checksums the device
    /// has verified (DPDK's `RTE_MBUF_F_RX_*_CKSUM_GOOD`): the engine skips
    /// verifying them. Frames the device marked bad must be dropped by the
    /// driver; frames it did not check go to [`Engine::handle_rx`].
    pub fn handle_rx_verified(&mut self, now: Instant, frame: P::Buf) {
        self.handle_rx_burst(
            now,
            [RxFrame {
                buf: frame,
                checksums_verified: true,
            }],
        );
    }

    /// Takes a burst of received frames, in order. Each is handled as by
    /// [`Engine::handle_rx`], with the work that need not repeat done
    /// once for the burst: the clock is read once, and each connection
    /// gets at most one `Readable` and one `Writable` event and one update
    /// of its timers however many of its segments arrived. ACKs keep their
    /// per-segment rules (a duplicate ACK for each out-of-order segment, an
    /// ACK for at least every second full-sized one: RFC 5681 4.2).
    pub fn handle_rx_burst<I>(&mut self, now: Instant, frames: I)
    where
        I: IntoIterator,
        I::Item: Into<RxFrame<P::Buf>>,
    {
        self.begin_burst(now);
        let device_checks = self.cfg.offload.rx_checksum;
        for frame in frames {
            let frame = frame.into();
            let verify = !(device_checks || frame.checksums_verified);
            self.rx_frame(now, frame.buf, verify);
        }
        self.end_burst();
    }

    fn rx_frame(&mut self, now: Instant, frame: P::Buf, verify: bool) {
        self.stats.frames_in += 1;
        let data = frame.data();
        let Ok(eth) = EthernetFrame::new_checked(data) else {
            return self.stats.drop(DropReason::Malformed);
        };
        let dst = eth.dst_addr();
        if dst != self.cfg.mac && !dst.is_broadcast() {
            return self.stats.drop(DropReason::NotForUs);
        }
        match eth.ethertype() {
            EtherType::Arp => match Self::parse_arp(data) {
                Ok(repr) => self.handle_arp(now, &repr),
                Err(reason) => self.stats.drop(reason),
            },
            // IPv4 sent to the broadcast MAC is for everyone on the link:
            // nothing we serve (we answer no broadcast IP), and answering
            // it would let one frame draw replies from every host.
            EtherType::Ipv4 if dst.is_broadcast() => self.stats.drop(DropReason::NotForUs),
            EtherType::Ipv4 => self.rx_ipv4(now, frame, verify),
            _ => self.stats.drop(DropReason::UnsupportedProtocol),
        }
    }

    /// RFC 1122 3.2.1.3: a source no host may have. Such packets are
    /// spoofed (or broken): a SYN from one would make us answer a
    /// broadcast or ourselves (the land attack).
    fn is_martian_source(&self, src: std::net::Ipv4Addr) -> bool {
        let ours = &self.cfg.address;
        src.is_unspecified()
            || src.is_broadcast()
            || src.is_multicast()
            || src.is_loopback()
            || src.octets()[0] >= 240
            || src == ours.address
            || ours.broadcast() == Some(src)
    }

    fn rx_ipv4(&mut self, now: Instant, frame: P::Buf, verify: bool) {
        let offset = EthernetFrame::<&[u8]>::HEADER_LEN;
        let data = &frame.data()[offset..];
        let ip = match Ipv4Packet::new_checked(data) {
            Ok(ip) => ip,
            Err(e) => return self.stats.drop(wire_drop(e)),
        };
        if ip.is_fragment() {
            return self.stats.drop(DropReason::Fragment);
        }
        let repr = match Ipv4Repr::parse(&ip, verify) {
            Ok(r) => r,
            Err(e) => return self.stats.drop(wire_drop(e)),
        };
        if repr.dst_addr != self.cfg.address.address {
            return self.stats.drop(DropReason::NotForUs);
        }
        if self.is_martian_source(repr.src_addr) {
            return self.stats.drop(DropReason::Martian);
        }
        let ip_payload_at = offset + ip.header_len() as usize;
        match repr.protocol {
            IpProtocol::Tcp => {
                let parsed = match self.parse_tcp(&frame, &repr, ip_payload_at, verify) {
                    Ok(p) => p,
                    Err(reason) => return self.stats.drop(reason),
                };
                self.rx_tcp(now, frame, parsed);
            }
            IpProtocol::Icmp => self.rx_icmp(&frame, &repr, ip_payload_at, verify),
            _ => {
                self.stats.drop(DropReason::UnsupportedProtocol);
                let datagram = &frame.data()[offset..];
                self.protocol_unreachable(&repr, datagram);
            }
        }
    }

    fn parse_tcp(
        &self,
        frame: &P::Buf,
        ip: &Ipv4Repr,
        at: usize,
        verify: bool,
    ) -> Result<Parsed, DropReason> {
        let bytes = frame
            .data()
            .get(at..at + ip.payload_len)
            .ok_or(DropReason::Malformed)?;
        let packet = TcpPacket::new_checked(bytes).map_err(wire_drop)?;
        let repr = TcpRepr::parse(&packet, ip.src_addr, ip.dst_addr, verify).map_err(wire_drop)?;
        Ok(Parsed {
            src: SocketAddrV4::new(ip.src_addr, repr.src_port),
            dst_port: repr.dst_port,
            seg: SegmentInfo {
                seq: repr.seq_number,
                ack: repr.ack_number,
                flags: repr.flags,
                window: repr.window_len,
                mss: repr.max_seg_size,
                wscale: repr.window_scale,
                ts: repr.timestamp,
                sack_permitted: repr.sack_permitted,
                sack: repr.sack_blocks,
                len: repr.payload.len(),
                urgent: repr.flags.contains(TcpFlags::URG).then_some(repr.urgent_at),
            },
            payload_at: at + usize::from(packet.header_len()),
        })
    }

    fn rx_tcp(&mut self, now: Instant, mut frame: P::Buf, p: Parsed) {
        self.stats.segments_in += 1;
        if illegal_flags(p.seg.flags) {
            return self.stats.drop(DropReason::IllegalFlags);
        }
        let payload = if p.seg.len > 0 {
            frame.trim_front(p.payload_at);
            let extra = frame.len() - p.seg.len;
            frame.trim_back(extra);
            Some(frame)
        } else {
            drop(frame);
            None
        };
        let key = FlowKey {
            local_port: p.dst_port,
            remote: p.src,
        };
        if let Some(idx) = self.flows.get(&key) {
            return self.rx_conn(idx, &p, payload);
        }
        if let Some(lidx) = self.listener_on(p.dst_port) {
            return self.rx_listen(now, lidx, &p, payload);
        }
        drop(payload);
        // RFC 9293 3.10.7.1: CLOSED. Everything but a RST gets a RST.
        if !p.seg.flags.contains(TcpFlags::RST) {
            self.send_rst_for(p.dst_port, p.src, &p.seg, RstReason::NoConnection);
        } else {
            self.stats.drop(DropReason::Ignored);
        }
    }

    fn rx_conn(&mut self, idx: u32, p: &Parsed, payload: Option<P::Buf>) {
        if let Some(buf) = &payload {
            self.make_room(idx, buf.truesize(), p.seg.seq);
        }
        let ctx = super::tcb_ctx!(self, self.pool_low());
        let Some(conn) = self.conns.get_mut(idx) else {
            return;
        };
        // Contract 14: with the accept queue full, the handshake's final
        // ACK is ignored; the peer retransmits and we try again.
        if conn.tcb.state == State::SynReceived && p.seg.flags.contains(TcpFlags::ACK) {
            if let Some(l) = conn.listener.and_then(|l| self.listeners.get(l)) {
                if l.accept_queue.len() >= l.backlog {
                    self.stats.drop(DropReason::AcceptQueueFull);
                    return;
                }
            }
        }
        let out = conn.tcb.on_segment(&ctx, &p.seg, payload, &mut self.stats);
        if let Some(reason) = out.reply_rst {
            self.send_rst_for(p.dst_port, p.src, &p.seg, reason);
        }
        self.after_tcb(idx, out);
    }

    fn listener_on(&self, port: u16) -> Option<u32> {
        self.listeners
            .iter()
            .find(|(_, l)| l.port == port)
            .map(|(i, _)| i)
    }

    /// RFC 9293 3.10.7.2: LISTEN.
    fn rx_listen(&mut self, now: Instant, lidx: u32, p: &Parsed, payload: Option<P::Buf>) {
        let flags = p.seg.flags;
        if flags.contains(TcpFlags::RST) {
            return self.stats.drop(DropReason::Ignored);
        }
        if flags.contains(TcpFlags::ACK) {
            if now < self.cookies_until && self.open_from_cookie(now, lidx, p, payload) {
                return;
            }
            return self.send_rst_for(p.dst_port, p.src, &p.seg, RstReason::NoConnection);
        }
        if !flags.contains(TcpFlags::SYN) {
            return self.stats.drop(DropReason::Ignored);
        }
        let Some(l) = self.listeners.get(lidx) else {
            return;
        };
        // Contract 14: a full accept queue ignores SYNs (the client
        // retries); beyond a full SYN queue they get SYN cookies (or, with
        // cookies off, are dropped).
        if l.accept_queue.len() >= l.backlog {
            return self.stats.drop(DropReason::AcceptQueueFull);
        }
        if l.half_open >= self.cfg.tcp.syn_queue {
            if self.cfg.tcp.syn_cookies {
                return self.send_syn_cookie(now, p);
            }
            return self.stats.drop(DropReason::SynQueueFull);
        }
        if !self.source_allowed(*p.src.ip()) {
            return self.stats.drop(DropReason::SourceLimit);
        }
        if self.conns.len() >= self.cfg.max_connections {
            if self.cfg.tcp.syn_cookies {
                return self.send_syn_cookie(now, p);
            }
            return self.stats.drop(DropReason::TableFull);
        }
        let local = SocketAddrV4::new(self.cfg.address.address, p.dst_port);
        let secrets = self.secrets(local, p.src, now);
        let ctx = self.ctx();
        let tcb = Tcb::new_passive(&ctx, local, p.src, secrets, &p.seg);
        self.add_passive(lidx, p, tcb);
    }

    /// Files a connection a listener's SYN (or SYN cookie) opened: in the
    /// tables, the listener's half-open count and the source's count.
    fn add_passive(&mut self, lidx: u32, p: &Parsed, mut tcb: Tcb<P::Buf>) -> u32 {
        let out = tcb.finish();
        let mut conn = ConnEntry::new(tcb);
        conn.listener = Some(lidx);
        let (idx, _) = self.conns.insert(Box::new(conn));
        self.flows.insert(
            FlowKey {
                local_port: p.dst_port,
                remote: p.src,
            },
            idx,
        );
        if let Some(l) = self.listeners.get_mut(lidx) {
            l.half_open += 1;
        }
        self.source_added(*p.src.ip());
        self.stats.passive_opens += 1;
        self.after_tcb(idx, out);
        idx
    }

    /// Whether `src` may open another connection on a listener.
    fn source_allowed(&self, src: std::net::Ipv4Addr) -> bool {
        let limit = self.cfg.max_connections_per_source;
        limit == 0
            || self
                .per_source
                .get(&src)
                .is_none_or(|&n| (n as usize) < limit)
    }

    fn source_added(&mut self, src: std::net::Ipv4Addr) {
        if self.cfg.max_connections_per_source > 0 {
            *self.per_source.entry(src).or_insert(0) += 1;
        }
    }

    pub(super) fn source_gone(&mut self, src: std::net::Ipv4Addr) {
        if self.cfg.max_connections_per_source == 0 {
            return;
        }
        if let Some(n) = self.per_source.get_mut(&src) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&src);
            }
        }
    }

    /// A SYN the full SYN queue has no room for: a SYN-ACK whose sequence
    /// number is a cookie, and nothing kept ([`super::cookies`]).
    fn send_syn_cookie(&mut self, now: Instant, p: &Parsed) {
        let cfg = &self.cfg.tcp;
        let local = SocketAddrV4::new(self.cfg.address.address, p.dst_port);
        let syn = &p.seg;
        // Window scaling and SACK survive in the timestamp only.
        let ts = syn.ts.filter(|_| cfg.timestamps);
        let offered = cookies::Offered {
            mss: syn.mss.unwrap_or(536),
            wscale: syn.wscale.filter(|_| ts.is_some() && cfg.window_scaling),
            sack_permitted: syn.sack_permitted && ts.is_some() && cfg.sack,
        };
        let (cookie, options) = cookies::make(self.secret, local, p.src, syn.seq, &offered, now);
        let secrets = self.secrets(local, p.src, now);
        let mut repr = super::tx::tcp_repr(
            p.dst_port,
            p.src.port(),
            TcpFlags::SYN | TcpFlags::ACK,
            cookie,
            syn.seq + 1,
            cfg.recv_buffer.min(crate::tcp::MAX_WINDOW) as u16,
        );
        repr.max_seg_size = Some(u16::try_from(self.mss).unwrap_or(u16::MAX));
        repr.window_scale = offered
            .wscale
            .map(|_| crate::tcp::wscale_for(cfg.recv_buffer));
        repr.sack_permitted = offered.sack_permitted;
        repr.timestamp = ts.map(|t| crate::wire::TcpTimestamp {
            tsval: cookies::stamp(
                ((now.as_nanos() / 1_000_000) as u32).wrapping_add(secrets.ts_offset),
                options,
            ),
            tsecr: t.tsval,
        });
        self.stats.syn_cookies_sent += 1;
        self.cookies_until = now + core::time::Duration::from_secs(128);
        self.send_tcp_control(p.src, &repr);
    }

    /// An ACK to a listener that may return a SYN cookie: if it does, the
    /// connection is made as if its SYN had waited in the queue, and the
    /// ACK (with any data) is processed on it. False if it does not.
    fn open_from_cookie(
        &mut self,
        now: Instant,
        lidx: u32,
        p: &Parsed,
        payload: Option<P::Buf>,
    ) -> bool {
        let seg = &p.seg;
        if seg.flags.contains(TcpFlags::SYN) {
            return false;
        }
        let local = SocketAddrV4::new(self.cfg.address.address, p.dst_port);
        let tsecr = seg.ts.map(|t| t.tsecr);
        let Some(offered) = cookies::check(self.secret, local, p.src, seg.seq, seg.ack, tsecr, now)
        else {
            self.stats.syn_cookies_rejected += 1;
            return false;
        };
        let Some(l) = self.listeners.get(lidx) else {
            return false;
        };
        if !self.source_allowed(*p.src.ip()) {
            self.stats.drop(DropReason::SourceLimit);
            return true;
        }
        if l.accept_queue.len() >= l.backlog || self.conns.len() >= self.cfg.max_connections {
            // As for the SYN: the client retransmits, and may find room.
            self.stats.drop(DropReason::AcceptQueueFull);
            return true;
        }
        let syn = SegmentInfo {
            seq: seg.seq - 1,
            ack: crate::wire::SeqNumber(0),
            flags: TcpFlags::SYN,
            window: seg.window,
            mss: Some(offered.mss),
            wscale: offered.wscale,
            ts: seg.ts.map(|t| crate::wire::TcpTimestamp {
                tsval: t.tsval,
                tsecr: 0,
            }),
            sack_permitted: offered.sack_permitted,
            sack: [None; 4],
            len: 0,
            urgent: None,
        };
        let mut secrets = self.secrets(local, p.src, now);
        secrets.iss = seg.ack - 1;
        let ctx = self.ctx();
        let mut tcb = Tcb::new_passive(&ctx, local, p.src, secrets, &syn);
        tcb.syn_ack_sent_as_cookie();
        self.stats.syn_cookies_accepted += 1;
        let idx = self.add_passive(lidx, p, tcb);
        self.rx_conn(idx, p, payload);
        true
    }

    /// Answers ARP requests for our address and learns from replies
    /// (RFC 826).
    pub(super) fn handle_arp(&mut self, now: Instant, repr: &ArpRepr) {
        self.stats.arp_in += 1;
        let ours = self.cfg.address.address;
        let sender = repr.source_protocol_addr;
        if sender == ours {
            // Someone claims our address (a conflict, or a forged reply
            // to steal our traffic): never learned.
            self.stats.arp_own_address_claims += 1;
            tracing::warn!(
                target: "stack::arp",
                mac = %repr.source_hardware_addr,
                address = %ours,
                "another host claims our address"
            );
            return self.stats.drop(DropReason::Martian);
        }
        if sender.is_unspecified()
            && repr.operation == ArpOperation::Request
            && repr.target_protocol_addr == ours
        {
            // An address probe (RFC 5227 2.1.1): the address is taken.
            return self.send_arp(ArpOperation::Reply, sender, repr.source_hardware_addr);
        }
        if !self.cfg.address.contains(sender) || self.is_martian_source(sender) {
            // Only on-link neighbours are ever reached directly: an
            // off-link or impossible sender gets no entry and no reply.
            return self.stats.drop(DropReason::Martian);
        }
        let for_us = repr.target_protocol_addr == ours;
        let released = self.neighbors.learn(
            repr.source_protocol_addr,
            repr.source_hardware_addr,
            now,
            for_us,
        );
        self.stats.arp_evictions = self.neighbors.evicted();
        for mut t in released {
            self.set_dst_mac(&mut t, repr.source_hardware_addr);
            self.control.push_back(t);
        }
        if for_us && repr.operation == ArpOperation::Request {
            self.send_arp(
                ArpOperation::Reply,
                repr.source_protocol_addr,
                repr.source_hardware_addr,
            );
        }
    }

    /// The parsed ARP packet of a frame, if it is one we can use.
    pub(super) fn parse_arp(data: &[u8]) -> Result<ArpRepr, DropReason> {
        let payload = data
            .get(EthernetFrame::<&[u8]>::HEADER_LEN..)
            .ok_or(DropReason::Malformed)?;
        let packet = ArpPacket::new_checked(payload).map_err(wire_drop)?;
        ArpRepr::parse(&packet).map_err(wire_drop)
    }
}
