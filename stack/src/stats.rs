//! Per-engine counters, in the spirit of `netstat -s`.

use serde::{Deserialize, Serialize};

use crate::memory::MemoryLevel;

/// Why the engine dropped an incoming frame or segment. Every drop is counted
/// under exactly one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Too short, or a length field that does not fit.
    Malformed,
    /// IPv4 or TCP checksum mismatch.
    BadChecksum,
    /// Addressed to another host or MAC.
    NotForUs,
    /// An EtherType or IP protocol we do not speak.
    UnsupportedProtocol,
    /// An IPv4 fragment (we do not reassemble).
    Fragment,
    /// TTL was zero on arrival.
    TtlExpired,
    /// A SYN arrived while the listener's SYN queue was full.
    SynQueueFull,
    /// A SYN or handshake ACK arrived while the accept queue was full.
    AcceptQueueFull,
    /// A segment outside the receive window (RFC 9293 3.10.7.4).
    OutOfWindow,
    /// Out-of-order data beyond the reassembly memory bound.
    ReassemblyFull,
    /// Data beyond the receive buffer (the peer ignored our window).
    RecvBufferFull,
    /// An ACK for data we never sent.
    AckOfUnsent,
    /// No buffer could be allocated.
    NoBuffers,
    /// A packet waiting for ARP resolution could not be queued, or the
    /// neighbour never answered.
    NeighborUnresolved,
    /// A segment that the state machine ignores (RST out of window, stray
    /// segment in a closed state, ...).
    Ignored,
    /// The connection table is full.
    TableFull,
    /// Data beyond what the connection may hold in buffers
    /// (`memory.conn_recv_limit`), after collapsing and pruning.
    ConnMemory,
    /// Data refused because the engine's connections hold too much: out of
    /// order from the critical mark, in order in the reserved top.
    MemoryPressure,
    /// Data refused because the buffer pool is down to its reserve.
    PoolReserve,
    /// A timestamp older than the connection's TS.Recent (RFC 7323 PAWS):
    /// an old duplicate, acknowledged and dropped.
    Paws,
    /// An ACK more than the peer's largest window below SND.UNA (RFC 5961
    /// 5.2): blind injection, dropped with its data.
    AckTooOld,
    /// A flag combination no TCP sends (SYN with FIN or RST, no flag at
    /// all, FIN without ACK on a SYN...).
    IllegalFlags,
    /// A source address no host may have (RFC 1122 3.2.1.3: broadcast,
    /// multicast, 0.0.0.0, loopback, the subnet's broadcast, our own), or a
    /// destination that is not ours though the frame was.
    Martian,
    /// An echo request whose reply would exceed the MTU (we never send
    /// above it).
    Oversize,
    /// A SYN from a remote address that holds `max_connections_per_source`
    /// connections already.
    SourceLimit,
    /// An ICMP error that quotes no connection of ours, or a sequence
    /// number the connection has not sent or that is acknowledged already
    /// (RFC 5927 4.1: a forged or stale report).
    IcmpUnmatched,
}

/// Drops by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Drops {
    pub malformed: u64,
    pub bad_checksum: u64,
    pub not_for_us: u64,
    pub unsupported_protocol: u64,
    pub fragment: u64,
    pub ttl_expired: u64,
    pub syn_queue_full: u64,
    pub accept_queue_full: u64,
    pub out_of_window: u64,
    pub reassembly_full: u64,
    pub recv_buffer_full: u64,
    pub ack_of_unsent: u64,
    pub no_buffers: u64,
    pub neighbor_unresolved: u64,
    pub ignored: u64,
    pub table_full: u64,
    pub conn_memory: u64,
    pub memory_pressure: u64,
    pub pool_reserve: u64,
    pub paws: u64,
    pub ack_too_old: u64,
    pub illegal_flags: u64,
    pub martian: u64,
    pub oversize: u64,
    pub source_limit: u64,
    pub icmp_unmatched: u64,
}

impl Drops {
    /// Counts one drop.
    pub fn count(&mut self, reason: DropReason) {
        let c = match reason {
            DropReason::Malformed => &mut self.malformed,
            DropReason::BadChecksum => &mut self.bad_checksum,
            DropReason::NotForUs => &mut self.not_for_us,
            DropReason::UnsupportedProtocol => &mut self.unsupported_protocol,
            DropReason::Fragment => &mut self.fragment,
            DropReason::TtlExpired => &mut self.ttl_expired,
            DropReason::SynQueueFull => &mut self.syn_queue_full,
            DropReason::AcceptQueueFull => &mut self.accept_queue_full,
            DropReason::OutOfWindow => &mut self.out_of_window,
            DropReason::ReassemblyFull => &mut self.reassembly_full,
            DropReason::RecvBufferFull => &mut self.recv_buffer_full,
            DropReason::AckOfUnsent => &mut self.ack_of_unsent,
            DropReason::NoBuffers => &mut self.no_buffers,
            DropReason::NeighborUnresolved => &mut self.neighbor_unresolved,
            DropReason::Ignored => &mut self.ignored,
            DropReason::TableFull => &mut self.table_full,
            DropReason::ConnMemory => &mut self.conn_memory,
            DropReason::MemoryPressure => &mut self.memory_pressure,
            DropReason::PoolReserve => &mut self.pool_reserve,
            DropReason::Paws => &mut self.paws,
            DropReason::AckTooOld => &mut self.ack_too_old,
            DropReason::IllegalFlags => &mut self.illegal_flags,
            DropReason::Martian => &mut self.martian,
            DropReason::Oversize => &mut self.oversize,
            DropReason::SourceLimit => &mut self.source_limit,
            DropReason::IcmpUnmatched => &mut self.icmp_unmatched,
        };
        *c += 1;
    }

    /// All drops, whatever the reason.
    pub fn total(&self) -> u64 {
        self.malformed
            + self.bad_checksum
            + self.not_for_us
            + self.unsupported_protocol
            + self.fragment
            + self.ttl_expired
            + self.syn_queue_full
            + self.accept_queue_full
            + self.out_of_window
            + self.reassembly_full
            + self.recv_buffer_full
            + self.ack_of_unsent
            + self.no_buffers
            + self.neighbor_unresolved
            + self.ignored
            + self.table_full
            + self.conn_memory
            + self.memory_pressure
            + self.pool_reserve
            + self.paws
            + self.ack_too_old
            + self.illegal_flags
            + self.martian
            + self.oversize
            + self.source_limit
            + self.icmp_unmatched
    }
}

/// Why we sent a RST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RstReason {
    /// A segment for a port nobody listens on or a connection that does not
    /// exist.
    NoConnection,
    /// Closed with unread data (contract 8a).
    UnreadData,
    /// `abort`, linger 0, or a linger timeout (contract 9).
    Abort,
    /// Data for a connection the application closed (contracts 8c, 12).
    DataAfterClose,
    /// An unacceptable ACK in a synchronising state (RFC 9293 3.10.7.3).
    BadAck,
    /// The listener was closed with connections still in its accept queue.
    ListenerClosed,
}

/// Resets by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Resets {
    pub no_connection: u64,
    pub unread_data: u64,
    pub abort: u64,
    pub data_after_close: u64,
    pub bad_ack: u64,
    pub listener_closed: u64,
}

impl Resets {
    /// Counts one RST sent.
    pub fn count(&mut self, reason: RstReason) {
        let c = match reason {
            RstReason::NoConnection => &mut self.no_connection,
            RstReason::UnreadData => &mut self.unread_data,
            RstReason::Abort => &mut self.abort,
            RstReason::DataAfterClose => &mut self.data_after_close,
            RstReason::BadAck => &mut self.bad_ack,
            RstReason::ListenerClosed => &mut self.listener_closed,
        };
        *c += 1;
    }
}

/// Everything an engine counts. Cheap to copy out, serialisable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Frames handed to `handle_rx`.
    pub frames_in: u64,
    /// Frames returned by `poll_transmit`.
    pub frames_out: u64,
    /// Connections opened by `connect` (SYN sent).
    pub active_opens: u64,
    /// Connections opened by a SYN to a listener.
    pub passive_opens: u64,
    /// Connections that reached ESTABLISHED.
    pub established: u64,
    /// Handshakes that failed (refused, timed out, reset).
    pub attempt_fails: u64,
    /// TCP segments received (valid checksum, for us).
    pub segments_in: u64,
    /// TCP segments sent (a frame of several segments counts each).
    pub segments_out: u64,
    /// Frames handed out carrying several TCP segments, for the driver
    /// to cut (`offload.tx_segmentation`).
    pub tx_multi_segment_frames: u64,
    /// Segments sent again (RTO, fast retransmit, SYN retries).
    pub retransmits: u64,
    /// Retransmission timeouts that fired.
    pub rto_expired: u64,
    /// Segments sent again during fast recovery (as opposed to after a
    /// retransmission timeout).
    pub fast_retransmits: u64,
    /// Data segments that arrived out of order.
    pub out_of_order: u64,
    /// Duplicate data (already acknowledged) that arrived.
    pub duplicate_data: u64,
    /// Zero-window probes sent.
    pub window_probes: u64,
    /// Keepalive probes sent.
    pub keepalive_probes: u64,
    /// Connections that timed out (retransmissions or keepalive).
    pub timeouts: u64,
    /// RST segments sent, by reason.
    pub resets_sent: Resets,
    /// RST segments received that reset a connection.
    pub resets_received: u64,
    /// Frames and segments dropped, by reason.
    pub drops: Drops,
    /// ARP requests sent.
    pub arp_requests_sent: u64,
    /// ARP replies sent.
    pub arp_replies_sent: u64,
    /// ARP packets received.
    pub arp_in: u64,
    /// Neighbour cache entries evicted to make room for a new one (only
    /// entries nothing was sent to, or stale ones not in use).
    pub arp_evictions: u64,
    /// ARP packets whose sender claimed our own address (never learned).
    pub arp_own_address_claims: u64,
    /// ICMP messages received.
    pub icmp_in: u64,
    /// ICMP echo replies sent.
    pub icmp_echo_replies: u64,
    /// ICMP destination-unreachable messages received.
    pub icmp_unreachable_in: u64,
    /// ICMP errors (destination unreachable, time exceeded) that matched a
    /// connection and a sequence number in flight, and were applied: a
    /// soft error noted, an open aborted, or the path MTU lowered.
    pub icmp_errors_applied: u64,
    /// Times a "fragmentation needed" message lowered a connection's
    /// segment size (RFC 1191).
    pub pmtu_decreases: u64,
    /// ICMP errors sent (protocol unreachable).
    pub icmp_errors_sent: u64,
    /// ICMP errors the rate limit held back (`icmp_error_rate`).
    pub icmp_errors_suppressed: u64,
    /// Times the buffer pool was empty when the engine needed a buffer.
    pub buffer_exhaustion: u64,
    /// Times a connection with something to send waited because no buffer
    /// was free for the headers (nothing about the segment was committed:
    /// it goes once a buffer is free, not after a timeout).
    pub tx_waits_for_buffer: u64,
    /// Challenge ACKs sent (RFC 5961 3, 4, 5).
    pub challenge_acks: u64,
    /// Challenge ACKs the per-connection interval held back (RFC 5961 7,
    /// `tcp.challenge_ack_interval_ms`).
    pub challenge_acks_suppressed: u64,
    /// Duplicate SYNs in SYN-RECEIVED left unanswered because a SYN-ACK
    /// went again within `tcp.challenge_ack_interval_ms`.
    pub dup_syns_unanswered: u64,
    /// SYN-ACKs sent with a SYN cookie (the SYN queue was full).
    pub syn_cookies_sent: u64,
    /// Connections opened by an ACK that returned a valid cookie.
    pub syn_cookies_accepted: u64,
    /// ACKs to a listener, while cookies were in use, whose cookie did not
    /// check out (answered with RST).
    pub syn_cookies_rejected: u64,
    /// Payload bytes copied on the way out after the application handed
    /// them over, where sharing them failed: into header buffers when a
    /// segment spans more than `MAX_PAYLOAD_PARTS` send-queue buffers or no
    /// indirect buffer was free (into fresh buffers for a frame of several
    /// segments), and `write_buf` buffers collapsed onto the queue's tail. `write` itself copies the caller's bytes into buffers
    /// once; that copy is not counted here.
    pub tx_copied_bytes: u64,
    /// Payload bytes of segments under 256 bytes, placed in the header
    /// buffer by design: a second (indirect) buffer costs more than
    /// copying so few bytes. Everything else leaves as shared references
    /// to the send queue's buffers.
    pub tx_inlined_bytes: u64,
    /// Received payload bytes copied from one buffer into another: small
    /// segments coalesced onto the one before them (in order or out of
    /// order), and receive queues compacted under memory pressure. The
    /// rest stay in the buffers the device received them into until
    /// `read` (which copies) or `read_buf` (which does not).
    pub rx_copied_bytes: u64,
    /// Fast recovery episodes begun (RFC 6675; losses found by RACK, or
    /// by three duplicate ACKs without SACK).
    pub recoveries: u64,
    /// Segments RACK deemed lost (RFC 8985).
    pub rack_lost: u64,
    /// Tail loss probes sent (RFC 8985 7).
    pub tlp_probes: u64,
    /// Losses a tail loss probe repaired (RFC 8985 7.4).
    pub tlp_repairs: u64,
    /// Retransmission timeouts found spurious and undone (RFC 3522).
    pub spurious_rtos: u64,
    /// Recoveries found spurious by D-SACK and undone (RFC 3708).
    pub spurious_recoveries: u64,
    /// Connections that saw the network reorder segments.
    pub reorderings: u64,
    /// D-SACK blocks received (a duplicate reached the peer).
    pub dsacks_received: u64,
    /// SACK blocks sent in our ACKs (D-SACK blocks included).
    pub sack_blocks_sent: u64,
    /// D-SACK blocks sent: duplicates reported (RFC 2883).
    pub dsacks_sent: u64,
    /// SACK blocks received from peers.
    pub sack_blocks_received: u64,
    /// Connections that failed because queued data waited longer than the
    /// user timeout (`tcp.user_timeout_ms`), also counted in `timeouts`.
    pub user_timeouts: u64,
    /// Packet-buffer memory: gauges and what pressure did.
    pub memory: MemoryStats,
}

/// Packet-buffer memory held by the engine's connections (buffer truesize,
/// see [`crate::MemoryConfig`]): gauges of what is held now, and counters
/// of what pressure did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// The limit in bytes (`u64::MAX`: unlimited).
    pub limit: u64,
    /// The pressure mark in bytes.
    pub pressure_mark: u64,
    /// The critical mark in bytes.
    pub critical_mark: u64,
    /// Where the reserved top of the limit begins, in bytes.
    pub reserved_mark: u64,
    /// The level now.
    pub level: MemoryLevel,
    /// Bytes held now by all connections.
    pub held: u64,
    /// The most bytes ever held at once.
    pub peak_held: u64,
    /// Bytes held now in receive queues (in-order data not yet read).
    pub held_recv: u64,
    /// Bytes held now in out-of-order queues.
    pub held_ooo: u64,
    /// Bytes held now in send queues (written, `write_buf` included, not
    /// yet acknowledged).
    pub held_send: u64,
    /// Buffers held now in receive queues.
    pub bufs_recv: u64,
    /// Buffers held now in out-of-order queues.
    pub bufs_ooo: u64,
    /// Buffers held now in send queues.
    pub bufs_send: u64,
    /// Times the level rose to pressure.
    pub entered_pressure: u64,
    /// Times the level rose to critical.
    pub entered_critical: u64,
    /// Times the level rose into the reserved top.
    pub entered_reserved: u64,
    /// Small segments copied into another buffer (and their buffer freed).
    pub collapsed_segments: u64,
    /// Bytes copied by collapsing.
    pub collapsed_bytes: u64,
    /// Out-of-order queues pruned: whole, oldest first, at the critical
    /// mark; or from the highest sequence number down, when in-order data
    /// found its connection at its receive limit.
    pub ooo_pruned: u64,
    /// Out-of-order queues dropped after `memory.ooo_timeout_ms` without
    /// progress.
    pub ooo_timeouts: u64,
    /// Bytes freed by pruning and by the out-of-order timeout.
    pub ooo_pruned_bytes: u64,
    /// Writes (`write`, `write_buf`) refused or cut short by a memory limit.
    pub write_refused: u64,
}

impl MemoryStats {
    /// Counts a segment of `bytes` copied into another buffer.
    pub(crate) fn note_collapse(&mut self, bytes: usize) {
        self.collapsed_segments += 1;
        self.collapsed_bytes += bytes as u64;
    }
}

impl Stats {
    /// Counts received payload of `bytes` copied into another buffer.
    pub(crate) fn note_rx_copy(&mut self, bytes: usize) {
        self.memory.note_collapse(bytes);
        self.rx_copied_bytes += bytes as u64;
    }

    /// Counts queued payload of `bytes` copied onto the send queue's tail.
    pub(crate) fn note_tx_copy(&mut self, bytes: usize) {
        self.memory.note_collapse(bytes);
        self.tx_copied_bytes += bytes as u64;
    }

    /// Counts a dropped frame or segment.
    pub fn drop(&mut self, reason: DropReason) {
        tracing::trace!(target: "stack::drop", ?reason, "dropped");
        self.drops.count(reason);
    }

    /// Counts a RST we sent.
    pub fn reset_sent(&mut self, reason: RstReason) {
        self.resets_sent.count(reason);
    }
}
