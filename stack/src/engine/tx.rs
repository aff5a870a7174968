//! The transmit path: building frames for TCP segments, RSTs, ICMP and ARP,
//! and handing them to the neighbour cache for the destination MAC.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::api::State;
use crate::arp::Resolution;
use crate::buf::{BufferPool, PacketBuf};
use crate::memory::MemoryLevel;
use crate::stats::{DropReason, RstReason};
use crate::tcp::input::SegmentInfo;
use crate::tcp::output::OutSegment;
use crate::tcp::send_queue::SendQueue;
use crate::tcp::Outcome;
use crate::time::Instant;
use crate::wire::checksum;
use crate::wire::tcp::tcp_checksum_parts;
use crate::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr,
    Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr, SeqNumber, TcpFlags, TcpRepr,
};

use super::{Engine, Payload, Transmit};

/// What became of a segment handed to the transmit path.
enum Sent<B> {
    /// A frame ready for the wire.
    Frame(Transmit<B>),
    /// Waiting for ARP, or dropped and counted.
    Queued,
}

/// Payloads shorter than this are copied into the header buffer: a second
/// buffer (an indirect mbuf) costs more than copying a few bytes.
const ZERO_COPY_MIN: usize = 256;

/// The queued bytes `off..off + len` as shared parts of the send queue's
/// buffers, one per buffer they run over; `None` when they run over more
/// than [`super::MAX_PAYLOAD_PARTS`] buffers or a share is refused (an
/// exhausted pool of indirect mbufs): the caller copies them then.
fn share_payload<B: PacketBuf>(
    send: &mut SendQueue<B>,
    off: usize,
    len: usize,
) -> Option<Payload<B>> {
    let mut payload = Payload::new();
    let mut done = 0;
    while done < len {
        let run = send.slice_at(off + done)?;
        let n = run.len.min(len - done);
        let mut part = run.buf.share()?;
        part.trim_front(run.start);
        let extra = part.len() - n;
        part.trim_back(extra);
        payload.push(part).ok()?;
        done += n;
    }
    Some(payload)
}

/// The queued bytes `off..off + len` copied into fresh buffers from
/// `pool`, as few as hold them (when sharing failed for a frame of several
/// segments, too long for its header buffer); `None` when the pool runs
/// out or more than [`super::MAX_PAYLOAD_PARTS`] buffers would be needed.
fn copy_payload<P: BufferPool>(
    pool: &mut P,
    send: &mut SendQueue<P::Buf>,
    off: usize,
    len: usize,
) -> Option<Payload<P::Buf>> {
    let mut payload = Payload::new();
    let mut done = 0;
    while done < len {
        let mut buf = pool.alloc()?;
        let n = buf.tailroom().min(len - done);
        if n == 0 {
            return None;
        }
        let dst = buf.append(n)?;
        send.copy_out(off + done, dst);
        payload.push(buf).ok()?;
        done += n;
    }
    Some(payload)
}

const ETH_LEN: usize = 14;
const IPV4_LEN: usize = 20;
const DEFAULT_TTL: u8 = 64;

pub(super) fn tcp_repr(
    src_port: u16,
    dst_port: u16,
    flags: TcpFlags,
    seq: SeqNumber,
    ack: SeqNumber,
    window: u16,
) -> TcpRepr<'static> {
    TcpRepr {
        src_port,
        dst_port,
        flags,
        seq_number: seq,
        ack_number: ack,
        window_len: window,
        max_seg_size: None,
        window_scale: None,
        sack_permitted: false,
        sack_blocks: [None; 4],
        timestamp: None,
        urgent_at: 0,
        payload: &[],
    }
}

impl<P: BufferPool> Engine<P> {
    /// The next frame to send, or `None` when nothing is due.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit<P::Buf>> {
        self.now = now;
        self.release_dropped();
        self.cut_promised = 0;
        self.next_frame()
    }

    /// Appends up to `max` frames due now to `out` (the driver's transmit
    /// burst) and returns how many: the frames that many calls of
    /// [`Engine::poll_transmit`] would return, in the same order, with the
    /// clock and the queue of dropped handles looked at once. Connections
    /// take turns, one segment each, as there.
    pub fn poll_transmit_burst(
        &mut self,
        now: Instant,
        out: &mut Vec<Transmit<P::Buf>>,
        max: usize,
    ) -> usize {
        self.now = now;
        self.release_dropped();
        self.cut_promised = 0;
        let mut n = 0;
        while n < max {
            let Some(t) = self.next_frame() else { break };
            out.push(t);
            n += 1;
        }
        n
    }

    fn next_frame(&mut self) -> Option<Transmit<P::Buf>> {
        loop {
            if let Some(t) = self.control.pop_front() {
                self.stats.frames_out += 1;
                return Some(t);
            }
            let Some(&idx) = self.ready.front() else {
                // Nothing more to send. The spare header buffer stays for
                // the next poll (a connection put in the ready list by an
                // arriving segment often has nothing to send: taking and
                // returning a buffer each time cost two calls into the
                // pool), unless no connection is left or memory is under
                // pressure: then the engine holds no buffer idle.
                if self.conns.len() == 0 || self.stats.memory.level != MemoryLevel::Normal {
                    self.spare_head = None;
                }
                return None;
            };
            // Allocate, then commit: the header buffer is taken before the
            // TCB is asked for a segment, so a segment it hands out (its
            // sequence numbers advanced, its timers armed) always leaves.
            // With the pool empty the connection waits in the ready list.
            let Some(head) = self.take_head() else {
                self.stats.tx_waits_for_buffer += 1;
                return None;
            };
            let segments = self.segments_allowed();
            let ctx = super::tcb_ctx!(self, false);
            let Some(conn) = self.conns.get_mut(idx) else {
                self.spare_head = Some(head);
                self.ready.pop_front();
                continue;
            };
            let (seg, out) = conn.tcb.poll_segments(&ctx, segments);
            let Some(seg) = seg else {
                self.spare_head = Some(head);
                conn.in_ready = false;
                self.ready.pop_front();
                self.settle(idx, out);
                continue;
            };
            // Round robin: one segment (or one frame of several) per
            // connection per turn.
            self.ready.rotate_left(1);
            self.cut_promised += seg.segment_count() - 1;
            match self.transmit_segment(idx, &seg, out, head) {
                Sent::Frame(t) => {
                    self.stats.frames_out += 1;
                    return Some(t);
                }
                Sent::Queued => {}
            }
        }
    }

    /// An arriving segment left connection `idx` owing an ACK that must
    /// not wait for the driver's next `poll_transmit` (a duplicate ACK per
    /// out-of-order segment, an ACK per second full segment: RFC 5681
    /// 4.2): its next segment is built now, data carrying the ACK if data
    /// can go, else a pure ACK, and queued ahead of the rest. It is one
    /// segment even when frames may carry several: the segments after it
    /// wait for the driver's poll, so that they carry what the rest of
    /// the receive burst brings (as they would without segmentation).
    pub(super) fn transmit_ack_now(&mut self, idx: u32) {
        if !self.conns.get(idx).is_some_and(|c| c.tcb.ack_now) {
            return;
        }
        let Some(head) = self.take_head() else {
            // The ACK goes with the connection's next turn in the ready
            // list, once a buffer is free.
            self.stats.tx_waits_for_buffer += 1;
            return;
        };
        let ctx = super::tcb_ctx!(self, false);
        let Some(conn) = self.conns.get_mut(idx) else {
            return;
        };
        let (seg, out) = if conn.tcb.ack_pure {
            conn.tcb.poll_pure_ack(&ctx)
        } else {
            conn.tcb.poll_segment(&ctx)
        };
        let Some(seg) = seg else {
            self.spare_head = Some(head);
            if out.timers {
                self.sync_timers(idx);
            }
            return;
        };
        if let Sent::Frame(t) = self.transmit_segment(idx, &seg, out, head) {
            self.control.push_back(t);
        }
    }

    /// How many segments the next frame may carry. Joining them commits
    /// the TCB to segments whose frames the driver builds later, with a
    /// header buffer each from this pool (when it cuts them in software):
    /// so one segment only, unless the pool holds those buffers beyond its
    /// reserve, after what the frames handed out in this burst will take,
    /// and memory is not under pressure. Allocate, then commit, as for a
    /// single segment.
    fn segments_allowed(&self) -> usize {
        let most = self.segments_per_frame;
        if most == 1 || self.stats.memory.level != MemoryLevel::Normal {
            return 1;
        }
        match self.pool.available() {
            Some(free) if free < self.cfg.tcp.pool_reserve + self.cut_promised + most - 1 => 1,
            _ => most,
        }
    }

    /// A buffer for a segment's headers: the spare one, or a new one.
    fn take_head(&mut self) -> Option<P::Buf> {
        let head = self.spare_head.take().or_else(|| self.pool.alloc());
        if head.is_none() {
            self.stats.buffer_exhaustion += 1;
        }
        head
    }

    /// Builds the frame of `seg` for connection `idx` in `head`, counts
    /// it, and finds its next hop; `out` is what taking the segment did.
    fn transmit_segment(
        &mut self,
        idx: u32,
        seg: &OutSegment,
        out: Outcome,
        head: P::Buf,
    ) -> Sent<P::Buf> {
        let Some(conn) = self.conns.get(idx) else {
            return Sent::Queued;
        };
        let remote = conn.tcb.remote;
        // A probe into a closed window is a window probe, else keepalive.
        let window_probe = conn.tcb.snd_wnd == 0;
        let in_recovery = conn.tcb.recovery.is_some();
        let frame = self.build_segment(idx, seg, head);
        if out.timers {
            self.sync_timers(idx);
        }
        let Some(frame) = frame else {
            // Counted where it failed (a header that does not fit the
            // buffer); lost as if on the wire.
            return Sent::Queued;
        };
        self.stats.segments_out += seg.segment_count() as u64;
        if seg.segment_size > 0 {
            self.stats.tx_multi_segment_frames += 1;
        }
        if seg.retransmit {
            self.stats.retransmits += 1;
            if in_recovery {
                self.stats.fast_retransmits += 1;
            }
        }
        if seg.probe && window_probe {
            self.stats.window_probes += 1;
        } else if seg.probe {
            self.stats.keepalive_probes += 1;
        }
        match self.dispatch(frame, *remote.ip()) {
            Some(t) => Sent::Frame(t),
            None => Sent::Queued,
        }
    }

    fn build_segment(
        &mut self,
        idx: u32,
        seg: &OutSegment,
        mut head: P::Buf,
    ) -> Option<Transmit<P::Buf>> {
        let conn = self.conns.get_mut(idx)?;
        let tcb = &mut conn.tcb;
        let mut payload = Payload::new();
        if seg.segment_size > 0 {
            // Several segments: the headers stay alone in `head` (the
            // driver copies them per segment), the payload in buffers of
            // its own, shared or else copied.
            payload = match share_payload(&mut tcb.send, seg.data_off, seg.data_len) {
                Some(shared) => shared,
                None => {
                    let Some(copied) =
                        copy_payload(&mut self.pool, &mut tcb.send, seg.data_off, seg.data_len)
                    else {
                        self.stats.drop(DropReason::NoBuffers);
                        return None;
                    };
                    self.stats.tx_copied_bytes += seg.data_len as u64;
                    copied
                }
            };
        } else if seg.data_len > 0 {
            if seg.data_len >= ZERO_COPY_MIN {
                if let Some(shared) = share_payload(&mut tcb.send, seg.data_off, seg.data_len) {
                    payload = shared;
                }
            }
            if payload.is_empty() {
                let Some(dst) = head.append(seg.data_len) else {
                    self.stats.drop(DropReason::NoBuffers);
                    return None;
                };
                tcb.send.copy_out(seg.data_off, dst);
                if seg.data_len < ZERO_COPY_MIN {
                    self.stats.tx_inlined_bytes += seg.data_len as u64;
                } else {
                    self.stats.tx_copied_bytes += seg.data_len as u64;
                }
            }
        }
        let mut repr = tcp_repr(
            tcb.local.port(),
            tcb.remote.port(),
            seg.flags,
            seg.seq,
            seg.ack,
            seg.window,
        );
        repr.max_seg_size = seg.mss;
        repr.window_scale = seg.wscale;
        repr.timestamp = seg.ts;
        repr.sack_permitted = seg.sack_permitted;
        repr.sack_blocks = seg.sack;
        repr.urgent_at = seg.urgent;
        self.stats.sack_blocks_sent += repr.emitted_sack_blocks() as u64;
        let remote = *tcb.remote.ip();
        let segment_size = u16::try_from(seg.segment_size).ok().filter(|&s| s > 0);
        self.finish_tcp(head, payload, remote, &repr, segment_size)
    }

    /// Prepends the TCP header (with checksum), then IPv4 and Ethernet.
    /// A frame of several segments (`segment_size`) gets the
    /// pseudo-header sum in its checksum field, as for the device: each
    /// segment's checksum is computed when the frame is cut.
    fn finish_tcp(
        &mut self,
        mut head: P::Buf,
        payload: Payload<P::Buf>,
        dst: Ipv4Addr,
        repr: &TcpRepr,
        segment_size: Option<u16>,
    ) -> Option<Transmit<P::Buf>> {
        let src = self.cfg.address.address;
        let Some(hdr) = head.prepend(repr.header_len()) else {
            self.stats.drop(DropReason::NoBuffers);
            return None;
        };
        repr.emit_header(hdr);
        let tcp_len = head.len() + payload.len();
        let csum = if self.cfg.offload.tx_checksum || segment_size.is_some() {
            // What the device expects: the folded pseudo-header sum.
            checksum::fold(checksum::pseudo_header_sum(src, dst, 6, tcp_len as u16))
        } else {
            tcp_checksum_parts(src, dst, head.data(), payload.slices())
        };
        head.data_mut()?[16..18].copy_from_slice(&csum.to_be_bytes());
        let mut frame = self.ip_frame(head, payload, dst, IpProtocol::Tcp, tcp_len)?;
        if segment_size.is_some() {
            frame.segment_size = segment_size;
            // One identification per segment, as if sent one by one.
            let more = frame.segment_count() - 1;
            self.ip_ident = self.ip_ident.wrapping_add(more as u16);
        }
        Some(frame)
    }

    fn ip_frame(
        &mut self,
        mut head: P::Buf,
        payload: Payload<P::Buf>,
        dst: Ipv4Addr,
        protocol: IpProtocol,
        payload_len: usize,
    ) -> Option<Transmit<P::Buf>> {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let repr = Ipv4Repr {
            src_addr: self.cfg.address.address,
            dst_addr: dst,
            protocol,
            payload_len,
            ttl: DEFAULT_TTL,
            dont_frag: true,
            ident: self.ip_ident,
        };
        // The device fills checksums of the frames marked for it: TCP
        // segments. Anything else (ICMP) carries its IPv4 checksum.
        let offload = self.cfg.offload.tx_checksum && protocol == IpProtocol::Tcp;
        let Some(ip) = head.prepend(IPV4_LEN) else {
            self.stats.drop(DropReason::NoBuffers);
            return None;
        };
        repr.emit(&mut Ipv4Packet::new_unchecked(ip), !offload);
        let eth = head.prepend(ETH_LEN)?;
        EthernetRepr {
            src_addr: self.cfg.mac,
            dst_addr: EthernetAddress::UNSPECIFIED,
            ethertype: EtherType::Ipv4,
        }
        .emit(&mut EthernetFrame::new_unchecked(eth));
        Some(Transmit {
            head,
            payload,
            checksum_offload: offload,
            segment_size: None,
        })
    }

    /// Finds the next hop's MAC: the frame is returned ready to send, or
    /// queued until ARP resolves it.
    fn dispatch(&mut self, mut frame: Transmit<P::Buf>, dst: Ipv4Addr) -> Option<Transmit<P::Buf>> {
        let next_hop = if self.cfg.address.contains(dst) {
            dst
        } else if let Some(gw) = self.cfg.gateway {
            gw
        } else {
            self.stats.drop(DropReason::NeighborUnresolved);
            return None;
        };
        let resolution = self.neighbors.resolve(next_hop, frame, self.now);
        self.stats.arp_evictions = self.neighbors.evicted();
        match resolution {
            Resolution::Ready(mac, f) => {
                frame = f;
                self.set_dst_mac(&mut frame, mac);
                Some(frame)
            }
            Resolution::ReadyProbe(mac, f) => {
                self.send_arp(ArpOperation::Request, next_hop, mac);
                frame = f;
                self.set_dst_mac(&mut frame, mac);
                Some(frame)
            }
            Resolution::QueuedSendRequest => {
                self.send_arp(
                    ArpOperation::Request,
                    next_hop,
                    EthernetAddress::UNSPECIFIED,
                );
                None
            }
            Resolution::Queued => None,
            Resolution::Dropped(_) => {
                self.stats.drop(DropReason::NeighborUnresolved);
                None
            }
        }
    }

    /// Queues a frame built outside a TCB (RST, ICMP) for sending.
    fn send_control(&mut self, frame: Transmit<P::Buf>, dst: Ipv4Addr) {
        if let Some(t) = self.dispatch(frame, dst) {
            self.control.push_back(t);
        }
    }

    pub(super) fn set_dst_mac(&self, t: &mut Transmit<P::Buf>, mac: EthernetAddress) {
        if let Some(bytes) = t.head.data_mut() {
            bytes[..6].copy_from_slice(&mac.0);
        }
    }

    /// A RST in reply to `seg` (RFC 9293 3.10.7.1): `<SEQ=SEG.ACK><CTL=RST>`
    /// if it carried an ACK, else `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`.
    pub(super) fn send_rst_for(
        &mut self,
        local_port: u16,
        remote: SocketAddrV4,
        seg: &SegmentInfo,
        reason: RstReason,
    ) {
        let repr = if seg.flags.contains(TcpFlags::ACK) {
            tcp_repr(
                local_port,
                remote.port(),
                TcpFlags::RST,
                seg.ack,
                SeqNumber(0),
                0,
            )
        } else {
            tcp_repr(
                local_port,
                remote.port(),
                TcpFlags::RST | TcpFlags::ACK,
                SeqNumber(0),
                seg.seq + seg.seg_len(),
                0,
            )
        };
        self.send_rst(remote, &repr, reason);
    }

    /// A TCP segment built outside any connection (a SYN-ACK with a
    /// cookie), sent like a RST.
    pub(super) fn send_tcp_control(&mut self, remote: SocketAddrV4, repr: &TcpRepr) {
        let Some(head) = self.pool.alloc() else {
            self.stats.buffer_exhaustion += 1;
            return;
        };
        if let Some(frame) = self.finish_tcp(head, Payload::new(), *remote.ip(), repr, None) {
            self.stats.segments_out += 1;
            self.send_control(frame, *remote.ip());
        }
    }

    fn send_rst(&mut self, remote: SocketAddrV4, repr: &TcpRepr, reason: RstReason) {
        let Some(head) = self.pool.alloc() else {
            self.stats.buffer_exhaustion += 1;
            return;
        };
        if let Some(frame) = self.finish_tcp(head, Payload::new(), *remote.ip(), repr, None) {
            self.stats.reset_sent(reason);
            self.stats.segments_out += 1;
            self.send_control(frame, *remote.ip());
        }
    }

    /// Abortive close (contracts 8a, 9b, 9c): RST|ACK at SND.NXT, both
    /// buffers discarded, no TIME_WAIT.
    pub(super) fn abort_conn(&mut self, idx: u32, reason: RstReason) {
        let Some(conn) = self.conns.get_mut(idx) else {
            return;
        };
        let tcb = &mut conn.tcb;
        let synchronized = !matches!(tcb.state, State::Closed | State::SynSent | State::TimeWait);
        let repr = tcp_repr(
            tcb.local.port(),
            tcb.remote.port(),
            TcpFlags::RST | TcpFlags::ACK,
            // SND.MAX: the peer may have seen everything we ever sent.
            tcb.snd_max,
            tcb.rcv_nxt,
            0,
        );
        let remote = tcb.remote;
        tcb.aborted = true;
        tcb.discard_buffers();
        tcb.set_state(State::Closed);
        self.sync_timers(idx);
        if synchronized {
            self.send_rst(remote, &repr, reason);
        }
    }

    /// Sends an ICMP message to `dst`; returns whether it was formed.
    pub(super) fn send_icmp(&mut self, dst: Ipv4Addr, repr: &Icmpv4Repr) -> bool {
        let Some(mut head) = self.pool.alloc() else {
            self.stats.buffer_exhaustion += 1;
            return false;
        };
        let len = repr.buffer_len();
        let Some(bytes) = head.append(len) else {
            self.stats.drop(DropReason::NoBuffers);
            return false;
        };
        repr.emit(&mut Icmpv4Packet::new_unchecked(bytes));
        let Some(frame) = self.ip_frame(head, Payload::new(), dst, IpProtocol::Icmp, len) else {
            return false;
        };
        self.send_control(frame, dst);
        true
    }

    /// An ARP request (to broadcast) or reply (to `target_mac`).
    pub(super) fn send_arp(
        &mut self,
        op: ArpOperation,
        target_ip: Ipv4Addr,
        target_mac: EthernetAddress,
    ) {
        let Some(mut head) = self.pool.alloc() else {
            self.stats.buffer_exhaustion += 1;
            return;
        };
        let Some(bytes) = head.append(ETH_LEN + ArpRepr::BUFFER_LEN) else {
            return self.stats.drop(DropReason::NoBuffers);
        };
        // A request goes to everyone, unless it confirms an entry we
        // have: then to that MAC alone (RFC 1122 2.3.2.1).
        let eth_dst = match op {
            ArpOperation::Request if target_mac == EthernetAddress::UNSPECIFIED => {
                EthernetAddress::BROADCAST
            }
            _ => target_mac,
        };
        EthernetRepr {
            src_addr: self.cfg.mac,
            dst_addr: eth_dst,
            ethertype: EtherType::Arp,
        }
        .emit(&mut EthernetFrame::new_unchecked(&mut bytes[..ETH_LEN]));
        ArpRepr {
            operation: op,
            source_hardware_addr: self.cfg.mac,
            source_protocol_addr: self.cfg.address.address,
            target_hardware_addr: target_mac,
            target_protocol_addr: target_ip,
        }
        .emit(&mut ArpPacket::new_unchecked(&mut bytes[ETH_LEN..]));
        match op {
            ArpOperation::Request => self.stats.arp_requests_sent += 1,
            _ => self.stats.arp_replies_sent += 1,
        }
        self.control.push_back(Transmit {
            head,
            payload: Payload::new(),
            checksum_offload: false,
            segment_size: None,
        });
    }

    /// ARP retries and expiry.
    pub(super) fn poll_neighbors(&mut self, now: Instant) {
        if self.neighbors.next_deadline().is_none_or(|d| d > now) {
            return;
        }
        let mut requests = Vec::new();
        let mut dropped = 0u64;
        self.neighbors.poll(
            now,
            |ip, mac| requests.push((ip, mac)),
            |_frame| dropped += 1,
        );
        self.stats.drops.neighbor_unresolved += dropped;
        for (ip, mac) in requests {
            let target = mac.unwrap_or(EthernetAddress::UNSPECIFIED);
            self.send_arp(ArpOperation::Request, ip, target);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::HeapPool;

    /// A queue of twelve 100-byte buffers, bytes 0, 1, 2, ...
    fn queue(pool: &mut HeapPool) -> SendQueue<crate::buf::HeapBuf> {
        let mut q = SendQueue::new(10_000, 100);
        for i in 0..12u8 {
            let bytes: Vec<u8> = (0..100)
                .map(|j| i.wrapping_mul(100).wrapping_add(j))
                .collect();
            let buf = pool.alloc_with(&bytes).unwrap();
            assert!(q.push_buf(buf, false, |_| Ok(())).is_ok());
        }
        q
    }

    #[test]
    fn a_run_is_shared_part_by_part_up_to_the_part_limit() {
        let mut pool = HeapPool::new(32, 256, 0);
        let mut q = queue(&mut pool);
        // 50 + 6 x 100 + 50 bytes: eight parts, the most a frame takes.
        let p = share_payload(&mut q, 50, 700).expect("eight parts");
        assert_eq!(p.parts(), super::super::MAX_PAYLOAD_PARTS);
        let lens: Vec<usize> = p.iter().map(PacketBuf::len).collect();
        assert_eq!(lens, [50, 100, 100, 100, 100, 100, 100, 50]);
        let mut expected = vec![0u8; 700];
        assert_eq!(q.copy_out(50, &mut expected), 700);
        assert_eq!(p.slices().flatten().copied().collect::<Vec<_>>(), expected);
        // Ten buffers' worth does not fit: the caller copies instead, and
        // the shares taken on the way are released.
        assert!(share_payload(&mut q, 0, 1000).is_none());
        drop(p);
        assert_eq!(pool.available(), 32 - 12);
    }
}
