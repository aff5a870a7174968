//! Which core owns a frame: the flow-to-core rule of the multi-core
//! runtime, shared by RSS and software steering.
//!
//! A TCP flow belongs to core `reta[toeplitz(key, 4-tuple) % reta.len()]`,
//! the 4-tuple taken in the direction the frame travels *towards us*
//! (source = the peer, destination = us). With RSS, `key` and `reta` are
//! read back from the device, so the rule is exactly where the NIC puts
//! the frame. Without RSS, the key is [`SOFTWARE_KEY`] and the table maps
//! entry `i` to core `i % cores`: a deterministic hash of the 4-tuple,
//! modulo the number of cores.
//!
//! The same rule owns passive and active connections: a SYN to a listener
//! goes to the core the hash names (every core listens), and an active
//! open picks its source port with [`Steering::selector`] so that the
//! peer's replies hash to the opening core.
//!
//! Frames that are not IPv4/TCP: ARP replies go to every core (each
//! engine keeps its own neighbour cache and may be waiting for the
//! answer); everything else (ARP requests, ICMP, other EtherTypes,
//! IPv4 fragments) goes to core 0, which answers ARP requests and pings
//! for the whole address. ICMP errors about another core's connection
//! are therefore not seen by that connection (no PMTU discovery across
//! cores).

use std::net::{Ipv4Addr, SocketAddrV4};

use stack::hash::toeplitz_ipv4_tcp;
use stack::PortSelector;

/// The Toeplitz key software steering uses (the well-known default RSS
/// key of Microsoft's RSS specification, which many NICs ship with).
pub const SOFTWARE_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// Entries of the software redirection table.
const SOFTWARE_RETA: usize = 128;

/// Where a received frame must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The core with this index (0-based, in runtime order).
    Core(usize),
    /// Every core (ARP replies).
    All,
}

/// The flow-to-core rule: a Toeplitz key and a redirection table of core
/// indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Steering {
    key: Vec<u8>,
    reta: Vec<u16>,
    cores: usize,
}

impl Steering {
    /// Software steering over `cores` cores: [`SOFTWARE_KEY`], and a table
    /// whose entry `i` is `i % cores`.
    ///
    /// # Panics
    /// If `cores` is 0.
    pub fn software(cores: usize) -> Steering {
        assert!(cores > 0, "at least one core");
        Steering {
            key: SOFTWARE_KEY.to_vec(),
            reta: (0..SOFTWARE_RETA).map(|i| (i % cores) as u16).collect(),
            cores,
        }
    }

    /// The rule of a device's RSS: its key and redirection table (RX queue
    /// per entry; queue `q` is served by core `q`). `None` if the table is
    /// empty, names a queue `>= cores`, or the key is too short for an
    /// IPv4/TCP hash (16 bytes).
    pub fn rss(key: Vec<u8>, reta: Vec<u16>, cores: usize) -> Option<Steering> {
        if reta.is_empty() || key.len() < 16 || reta.iter().any(|&q| usize::from(q) >= cores) {
            return None;
        }
        Some(Steering { key, reta, cores })
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.cores
    }

    /// The Toeplitz key.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The redirection table.
    pub fn reta(&self) -> &[u16] {
        &self.reta
    }

    /// The core owning the TCP flow whose frames towards us go from `src`
    /// (the peer) to `dst` (our address and port).
    pub fn owner(&self, src: SocketAddrV4, dst: SocketAddrV4) -> usize {
        let h = toeplitz_ipv4_tcp(&self.key, *src.ip(), *dst.ip(), src.port(), dst.port());
        usize::from(self.reta[h as usize % self.reta.len()])
    }

    /// The core owning a connection from `local` to `remote` (either
    /// side may have opened it).
    pub fn owner_of_connection(&self, local: SocketAddrV4, remote: SocketAddrV4) -> usize {
        self.owner(remote, local)
    }

    /// A port selector for core `core`'s engine: it accepts a local port
    /// iff the peer's replies to it hash to `core`.
    pub fn selector(&self, core: usize) -> PortSelector {
        let rule = self.clone();
        Box::new(move |local, remote| rule.owner(remote, local) == core)
    }

    /// Where the Ethernet frame `frame` must go.
    pub fn classify(&self, frame: &[u8]) -> Destination {
        match ipv4_tcp_tuple(frame) {
            Some((src, dst)) => Destination::Core(self.owner(src, dst)),
            None if is_arp_reply(frame) => Destination::All,
            None => Destination::Core(0),
        }
    }

    /// [`Steering::classify`] for a frame in segments (an mbuf chain).
    /// The headers are read from the first segment when it holds them or
    /// is the only one; otherwise from a copy of the first bytes of the
    /// segments, so a chain that splits the headers is steered as the
    /// whole frame would be.
    pub fn classify_segments<'a>(
        &self,
        mut segments: impl Iterator<Item = &'a [u8]>,
    ) -> Destination {
        let first = segments.next().unwrap_or_default();
        if first.len() >= STEER_HEAD {
            return self.classify(first);
        }
        let Some(second) = segments.next() else {
            return self.classify(first);
        };
        let mut head = [0u8; STEER_HEAD];
        let mut n = 0;
        for seg in [first, second].into_iter().chain(segments) {
            let k = seg.len().min(STEER_HEAD - n);
            head[n..n + k].copy_from_slice(&seg[..k]);
            n += k;
            if n == STEER_HEAD {
                break;
            }
        }
        self.classify(&head[..n])
    }
}

/// Bytes of a frame that steering reads, at most: the Ethernet header,
/// the longest IPv4 header and the TCP ports.
const STEER_HEAD: usize = 14 + 60 + 4;

/// The (source, destination) of an unfragmented IPv4/TCP frame.
fn ipv4_tcp_tuple(frame: &[u8]) -> Option<(SocketAddrV4, SocketAddrV4)> {
    if frame.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = frame.get(14..)?;
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    if ip[0] >> 4 != 4 || ihl < 20 || *ip.get(9)? != 6 {
        return None;
    }
    // More fragments, or a fragment offset: only the first fragment has
    // ports, so fragments go to core 0 (the engine drops them anyway).
    let frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
    if frag & 0x3fff != 0 {
        return None;
    }
    let addr = |at: usize| Some(Ipv4Addr::new(ip[at], ip[at + 1], ip[at + 2], ip[at + 3]));
    let tcp = ip.get(ihl..ihl + 4)?;
    let port = |at: usize| u16::from_be_bytes([tcp[at], tcp[at + 1]]);
    let src = SocketAddrV4::new(addr(12)?, port(0));
    let dst = SocketAddrV4::new(addr(16)?, port(2));
    Some((src, dst))
}

/// Whether `frame` is an ARP reply (opcode 2).
fn is_arp_reply(frame: &[u8]) -> bool {
    frame.get(12..14) == Some(&[0x08, 0x06]) && frame.get(20..22) == Some(&[0x00, 0x02])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_frame(src: SocketAddrV4, dst: SocketAddrV4, frag: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[20..22].copy_from_slice(&frag.to_be_bytes());
        f[23] = 6;
        f[26..30].copy_from_slice(&src.ip().octets());
        f[30..34].copy_from_slice(&dst.ip().octets());
        f[34..36].copy_from_slice(&src.port().to_be_bytes());
        f[36..38].copy_from_slice(&dst.port().to_be_bytes());
        f
    }

    fn arp(op: u8) -> Vec<u8> {
        let mut f = vec![0u8; 42];
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        f[21] = op;
        f
    }

    #[test]
    fn tcp_frames_go_to_the_hash_owner() {
        let s = Steering::software(2);
        let us = Ipv4Addr::new(10, 8, 0, 1);
        let peer = Ipv4Addr::new(10, 8, 0, 2);
        let mut per_core = [0usize; 2];
        for port in 40_000..40_200 {
            let src = SocketAddrV4::new(peer, 7);
            let dst = SocketAddrV4::new(us, port);
            let h = toeplitz_ipv4_tcp(&SOFTWARE_KEY, peer, us, 7, port);
            let want = (h as usize % SOFTWARE_RETA) % 2;
            assert_eq!(s.classify(&tcp_frame(src, dst, 0)), Destination::Core(want));
            assert_eq!(s.owner_of_connection(dst, src), want);
            per_core[want] += 1;
        }
        // Both cores get a fair share.
        assert!(per_core.iter().all(|&n| n > 60), "{per_core:?}");
    }

    #[test]
    fn selector_accepts_exactly_the_ports_owned_by_its_core() {
        let s = Steering::software(2);
        let local = Ipv4Addr::new(10, 8, 0, 1);
        let remote = SocketAddrV4::new(Ipv4Addr::new(10, 8, 0, 2), 5000);
        let (sel0, sel1) = (s.selector(0), s.selector(1));
        for port in 49_152..50_152 {
            let l = SocketAddrV4::new(local, port);
            let owner = s.owner(remote, l);
            assert_eq!(sel0(l, remote), owner == 0);
            assert_eq!(sel1(l, remote), owner == 1);
        }
    }

    #[test]
    fn other_frames_go_to_core_zero_and_arp_replies_everywhere() {
        let s = Steering::software(2);
        let a = SocketAddrV4::new(Ipv4Addr::new(1, 2, 3, 4), 1);
        let b = SocketAddrV4::new(Ipv4Addr::new(5, 6, 7, 8), 2);
        assert_eq!(s.classify(&arp(1)), Destination::Core(0));
        assert_eq!(s.classify(&arp(2)), Destination::All);
        assert_eq!(s.classify(&tcp_frame(a, b, 0x2000)), Destination::Core(0));
        let mut icmp = tcp_frame(a, b, 0);
        icmp[23] = 1;
        assert_eq!(s.classify(&icmp), Destination::Core(0));
        assert_eq!(s.classify(&[0u8; 10]), Destination::Core(0));
    }

    #[test]
    fn a_chain_is_steered_as_its_whole_frame() {
        let s = Steering::software(2);
        let us = Ipv4Addr::new(10, 8, 0, 1);
        let peer = Ipv4Addr::new(10, 8, 0, 2);
        let mut frames = vec![arp(2), arp(1)];
        frames.extend((40_000..40_016).map(|port| {
            let mut f = tcp_frame(SocketAddrV4::new(peer, 7), SocketAddrV4::new(us, port), 0);
            f.extend_from_slice(&[0xab; 100]);
            f
        }));
        for f in &frames {
            let whole = s.classify(f);
            assert_eq!(s.classify_segments(std::iter::once(&f[..])), whole);
            // Split anywhere in the headers, in two or in many pieces.
            for cut in [1, 13, 14, 20, 35, 37, 38, 60] {
                let (a, b) = f.split_at(cut.min(f.len()));
                assert_eq!(s.classify_segments([a, b].into_iter()), whole, "cut {cut}");
            }
            assert_eq!(s.classify_segments(f.chunks(3)), whole);
            assert_eq!(s.classify_segments(f.chunks(1)), whole);
        }
        // Both cores appear among the TCP frames, so the split matters.
        let cores: Vec<_> = frames[2..].iter().map(|f| s.classify(f)).collect();
        assert!(cores.contains(&Destination::Core(0)) && cores.contains(&Destination::Core(1)));
        assert_eq!(
            s.classify_segments(std::iter::empty()),
            Destination::Core(0)
        );
    }

    #[test]
    fn rss_rule_checks_its_table() {
        assert!(Steering::rss(SOFTWARE_KEY.to_vec(), vec![0, 1, 2], 2).is_none());
        assert!(Steering::rss(vec![0; 8], vec![0, 1], 2).is_none());
        assert!(Steering::rss(SOFTWARE_KEY.to_vec(), vec![], 2).is_none());
        let s = Steering::rss(SOFTWARE_KEY.to_vec(), vec![1; 64], 2).unwrap();
        let a = SocketAddrV4::new(Ipv4Addr::new(1, 2, 3, 4), 1);
        let b = SocketAddrV4::new(Ipv4Addr::new(5, 6, 7, 8), 2);
        assert_eq!(s.owner(a, b), 1);
    }
}
