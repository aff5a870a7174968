//! Frames from a peer that does not play along: spoofed and impossible
//! sources, flag combinations no TCP sends, broadcast tricks, forged ARP,
//! and floods of duplicates. Each is dropped and counted, and draws no
//! reply (or a rate-limited one), whatever else is going on.

use super::*;
use crate::wire::{ArpOperation, ArpPacket, ArpRepr, Icmpv4Packet, Icmpv4Repr};

/// A TCP segment to our listener from `src`, in a frame to `dst_mac`.
fn segment_from(src: Ipv4Addr, dst_mac: EthernetAddress, flags: TcpFlags) -> Vec<u8> {
    let mut seg = conn_for(PEER_PORT, SeqNumber(0))
        .peer(0, 0)
        .flags(flags)
        .seq(PEER_ISS);
    seg.ack = SeqNumber(0);
    if flags.contains(SYN) {
        seg.mss = Some(MSS as u16);
    }
    let mut frame = Harness::frame_from(&seg, src);
    frame[..6].copy_from_slice(&dst_mac.0);
    frame
}

/// A SYN from the peer's port `port` to our listener, with the MSS option.
fn syn_from_port(port: u16) -> Seg {
    conn_for(port, SeqNumber(0))
        .peer(0, 0)
        .flags(SYN)
        .seq(PEER_ISS)
        .ack(SeqNumber(0))
        .mss(MSS as u16)
}

// RFC 1122 3.2.1.3: a SYN from a source no host may have (broadcast,
// multicast, unspecified, loopback, reserved, the subnet's broadcast, our
// own address: the land attack) makes no half-open connection and sends
// nothing, not even an ARP request.
#[test]
fn regression_martian_sources_open_nothing_and_send_nothing() {
    let mut t = Harness::new();
    let l = t.listen();
    let martians = [
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::LOCALHOST,
        Ipv4Addr::new(240, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 255),
        LOCAL_IP,
    ];
    for src in martians {
        t.send_frame(&segment_from(src, LOCAL_MAC, SYN));
    }
    t.recv_nothing();
    assert_eq!(t.engine.connection_count(), 0);
    let stats = t.engine.stats();
    assert_eq!(stats.drops.martian, martians.len() as u64);
    assert_eq!(stats.arp_requests_sent, 0);
    // A real neighbour still connects.
    t.syn_to_listener(l, PEER_PORT);
}

// IPv4 to the broadcast MAC is not for us alone: a SYN or a ping sent to
// ff:ff:ff:ff:ff:ff with our address gets no answer.
#[test]
fn regression_ip_to_the_broadcast_mac_is_not_answered() {
    let mut t = Harness::new();
    t.listen();
    t.send_frame(&segment_from(PEER_IP, EthernetAddress::BROADCAST, SYN));
    let icmp = Icmpv4Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: b"ping",
    };
    let ip = Ipv4Repr {
        src_addr: PEER_IP,
        dst_addr: LOCAL_IP,
        protocol: IpProtocol::Icmp,
        payload_len: icmp.buffer_len(),
        ttl: 64,
        dont_frag: false,
        ident: 9,
    };
    let mut ping = ip_frame(&ip, |b| icmp.emit(&mut Icmpv4Packet::new_unchecked(b)));
    ping[..6].copy_from_slice(&EthernetAddress::BROADCAST.0);
    t.send_frame(&ping);
    t.recv_nothing();
    assert_eq!(t.engine.connection_count(), 0);
    assert_eq!(t.engine.stats().drops.not_for_us, 2);
}

// SYN+FIN (a scanner's probe), SYN+RST and a segment with no flag at all
// are dropped and counted: no SYN-ACK, no RST.
#[test]
fn regression_syn_fin_and_other_illegal_flags_are_dropped() {
    let mut t = Harness::new();
    t.listen();
    for flags in [SYN | FIN, SYN | RST, TcpFlags::empty(), FIN, TcpFlags::PSH] {
        t.send_frame(&segment_from(PEER_IP, LOCAL_MAC, flags));
    }
    t.recv_nothing();
    assert_eq!(t.engine.connection_count(), 0);
    assert_eq!(t.engine.stats().drops.illegal_flags, 5);
}

// A stream of duplicate SYNs in SYN-RECEIVED draws one SYN-ACK again, not
// one per SYN (the SYN-ACK's own retransmission timer covers the rest).
#[test]
fn regression_duplicate_syns_do_not_draw_a_syn_ack_each() {
    let mut t = Harness::new();
    let l = t.listen();
    let c = t.syn_to_listener(l, PEER_PORT);
    let syn = || {
        c.peer(0, 0)
            .flags(SYN)
            .seq(c.irs)
            .ack(SeqNumber(0))
            .mss(MSS as u16)
    };
    for _ in 0..30 {
        t.send(syn());
    }
    t.recv(c.ours(0, 0).flags(SYN | ACK).seq(c.iss).mss(MSS as u16));
    t.recv_nothing();
    assert_eq!(t.engine.stats().dup_syns_unanswered, 29);
    // The handshake still completes.
    t.send(c.peer(0, 0));
    assert_eq!(t.engine.stats().established, 1);
}

// ARP: a sender off our subnet is neither learned nor answered; a claim
// of our own address is never learned, and counted; an address probe
// (RFC 5227, sender 0.0.0.0) for our address is answered.
#[test]
fn regression_arp_learns_only_on_link_senders_and_never_our_address() {
    let mut t = Harness::with_config(|c| c.neighbors.clear());
    let off_link = Ipv4Addr::new(192, 168, 7, 7);
    t.send_frame(&arp_from(ArpOperation::Request, off_link, LOCAL_IP));
    t.recv_nothing();
    t.send_frame(&arp_from(ArpOperation::Reply, LOCAL_IP, LOCAL_IP));
    t.recv_nothing();
    let stats = t.engine.stats();
    assert_eq!(stats.arp_own_address_claims, 1);
    assert_eq!(stats.arp_replies_sent, 0);
    assert_eq!(t.engine.neighbor_count(), 0);

    t.send_frame(&arp_from(
        ArpOperation::Request,
        Ipv4Addr::UNSPECIFIED,
        LOCAL_IP,
    ));
    let frame = t.recv_frame().expect("a reply to the probe");
    let arp = ArpRepr::parse(&ArpPacket::new_checked(&frame[14..]).unwrap()).unwrap();
    assert_eq!(arp.operation, ArpOperation::Reply);
    assert_eq!(arp.source_protocol_addr, LOCAL_IP);
    assert_eq!(t.engine.neighbor_count(), 0, "a probe teaches nothing");

    // An on-link neighbour asking for us is answered and learned.
    t.send_frame(&arp_from(ArpOperation::Request, PEER_IP, LOCAL_IP));
    assert!(t.recv_frame().is_some());
    assert_eq!(t.engine.neighbor_count(), 1);
}

// We never send above the MTU: an echo request whose reply would exceed
// it gets none.
#[test]
fn regression_no_echo_reply_above_the_mtu() {
    let mut t = Harness::with_config(|c| c.mtu = 576);
    let data = vec![0x5a; 600];
    let icmp = Icmpv4Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: &data,
    };
    let ip = Ipv4Repr {
        src_addr: PEER_IP,
        dst_addr: LOCAL_IP,
        protocol: IpProtocol::Icmp,
        payload_len: icmp.buffer_len(),
        ttl: 64,
        dont_frag: false,
        ident: 9,
    };
    t.send_frame(&ip_frame(&ip, |b| {
        icmp.emit(&mut Icmpv4Packet::new_unchecked(b))
    }));
    t.recv_nothing();
    assert_eq!(t.engine.stats().drops.oversize, 1);
}

/// The SYN-ACK a SYN from `peer_port` draws, parsed.
fn syn_ack_for(t: &mut Harness, peer_port: u16, syn: Seg) -> Seg {
    t.send(syn);
    let synack = t.recv_seg();
    assert_eq!(synack.flags, SYN | ACK, "from port {peer_port}");
    synack
}

fn conn_for(peer_port: u16, iss: SeqNumber) -> Conn {
    Conn {
        h: Handle::from_raw(0),
        port: LISTEN_PORT,
        peer_port,
        iss,
        irs: PEER_ISS,
        win: WIN,
    }
}

// Contract 14, RFC 4987 3.6: with the SYN queue full, a SYN still gets a SYN-ACK, but
// nothing is kept: its sequence number is a cookie. The ACK that returns
// it opens the connection (its data included); a forged one gets a RST.
#[test]
fn a_full_syn_queue_answers_with_cookies_and_the_ack_opens_the_connection() {
    let mut t = Harness::with_config(|c| c.tcp.syn_queue = 1);
    let l = t.listen();
    let first = t.syn_to_listener(l, PEER_PORT);
    let syn = |port| {
        let c = conn_for(port, SeqNumber(0));
        c.peer(0, 0)
            .flags(SYN)
            .seq(PEER_ISS)
            .ack(SeqNumber(0))
            .mss(1400)
    };
    let synack = syn_ack_for(&mut t, 40_001, syn(40_001));
    assert_eq!(synack.mss, Some(MSS as u16));
    assert_eq!(
        t.engine.connection_count(),
        1,
        "nothing kept for the cookie"
    );
    assert_eq!(t.engine.stats().syn_cookies_sent, 1);

    // A forged ACK (wrong cookie) is refused.
    let forged = conn_for(40_001, synack.seq + 7);
    t.send(forged.peer(0, 0));
    let rst = t.recv_seg();
    assert!(rst.flags.contains(RST));
    assert_eq!(t.engine.stats().syn_cookies_rejected, 1);

    // The true one opens it, and its data is delivered.
    let c = conn_for(40_001, synack.seq);
    t.send(c.peer(0, 0).flags(PSH | ACK).data(b"hello"));
    assert_eq!(t.engine.stats().syn_cookies_accepted, 1);
    // Acknowledged after the delayed-ACK time, as any data.
    t.advance_to(t.now - Instant::ZERO + ms(40));
    t.recv(c.ours(0, 5).win(WIN - 5));
    let events = t.events();
    assert!(events.contains(&(l, EventKind::Acceptable)), "{events:?}");
    let (h, remote) = t.engine.accept(l).unwrap();
    assert_eq!(remote.port(), 40_001);
    let mut buf = [0u8; 8];
    assert_eq!(t.engine.read(h, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    // The MSS came through the cookie: the peer offered 1400.
    assert_eq!(t.engine.tcp_info(h).unwrap().snd_mss, 1400);
    // The half-open connection from before is unharmed.
    t.send(first.peer(0, 0));
    assert_eq!(t.engine.connection_count(), 2);
}

// With timestamps on both sides, the cookie keeps window scaling and SACK
// (in the TSval the ACK echoes): the connection has both.
#[test]
fn cookies_keep_window_scaling_and_sack_with_timestamps() {
    let mut t = Harness::with_config(|c| {
        c.tcp.syn_queue = 1;
        c.tcp.timestamps = true;
        c.tcp.window_scaling = true;
        c.tcp.sack = true;
    });
    let l = t.listen();
    t.send(syn_from_port(PEER_PORT));
    let _ = t.recv_seg();
    let syn = syn_from_port(40_002).wscale(7).sack_perm().ts(1000, 0);
    let synack = syn_ack_for(&mut t, 40_002, syn);
    assert!(synack.wscale.is_some() && synack.sack_perm);
    let (tsval, _) = synack.ts.expect("timestamps on the SYN-ACK");
    let c = conn_for(40_002, synack.seq);
    t.send(c.peer(0, 0).ts(1001, tsval));
    assert_eq!(t.engine.stats().syn_cookies_accepted, 1);
    let (h, _) = t.engine.accept(l).unwrap();
    let info = t.engine.tcp_info(h).unwrap();
    assert!(
        info.window_scaling && info.sack && info.timestamps,
        "{info:?}"
    );
}

// Without timestamps a cookie keeps only the MSS, so the SYN-ACK offers
// neither window scaling nor SACK (the client must not scale what we
// could not remember).
#[test]
fn cookies_without_timestamps_offer_neither_scaling_nor_sack() {
    let mut t = Harness::with_config(|c| {
        c.tcp.syn_queue = 1;
        c.tcp.window_scaling = true;
        c.tcp.sack = true;
    });
    let l = t.listen();
    t.syn_to_listener(l, PEER_PORT);
    let syn = syn_from_port(40_003).wscale(7).sack_perm();
    let synack = syn_ack_for(&mut t, 40_003, syn);
    assert_eq!((synack.wscale, synack.sack_perm), (None, false));
}

// One host may hold at most `max_connections_per_source` connections on
// listeners: its further SYNs are dropped and counted, and another host
// still connects. When one goes, room is made again.
#[test]
fn one_source_cannot_fill_the_table() {
    let mut t = Harness::with_config(|c| c.max_connections_per_source = 2);
    let l = t.listen();
    let a = t.accept_from(l, 40_001);
    t.accept_from(l, 40_002);
    let syn = syn_from_port(40_003);
    t.send(syn.clone());
    t.recv_nothing();
    assert_eq!(t.engine.stats().drops.source_limit, 1);
    // Another host is not limited by it: its SYN makes a half-open
    // connection (the SYN-ACK waits for ARP).
    let before = t.engine.connection_count();
    t.send_frame(&segment_from(Ipv4Addr::new(10, 0, 0, 3), LOCAL_MAC, SYN));
    assert_eq!(t.engine.connection_count(), before + 1);
    assert_eq!(t.engine.stats().drops.source_limit, 1);
    while t.recv_frame().is_some() {}
    // One of the first host's connections goes (abortive close): room.
    t.engine.abort(a.h).unwrap();
    let _ = t.recv_frame();
    t.send(syn);
    let synack = t.recv_seg();
    assert_eq!(synack.flags, SYN | ACK);
}

// With the connection table full, a SYN gets a cookie rather than
// silence; the connection is made if the ACK finds room.
#[test]
fn a_full_table_answers_syns_with_cookies() {
    let mut t = Harness::with_config(|c| c.max_connections = 1);
    let l = t.listen();
    let first = t.accept_from(l, 40_001);
    let synack = syn_ack_for(&mut t, 40_002, syn_from_port(40_002));
    assert_eq!(t.engine.stats().syn_cookies_sent, 1);
    // Room is made before the ACK comes back.
    t.engine.abort(first.h).unwrap();
    let _ = t.recv_frame();
    t.send(conn_for(40_002, synack.seq).peer(0, 0));
    assert_eq!(t.engine.stats().syn_cookies_accepted, 1);
    assert!(t.engine.accept(l).is_ok());
}
