//! The neighbour cache: IPv4 to MAC resolution with ARP (RFC 826).
//!
//! Frames for a neighbour whose address is unknown wait in a bounded queue
//! (per neighbour, and for all neighbours together, so that peers cannot
//! pin the pool's buffers there) while requests go out at
//! `retry_interval`; a reply releases them, and
//! after `max_requests` unanswered requests they are dropped and counted.
//!
//! A learned entry is fresh for `entry_ttl`, then stale (static entries
//! never are). A stale entry is still used: traffic keeps flowing to the
//! known MAC while requests go to that MAC directly (RFC 1122 2.3.2.1's
//! unicast poll; Linux's STALE, then PROBE), `retry_interval` apart; a
//! reply makes it fresh again, and after `max_requests` unanswered ones it
//! is forgotten. A stale entry nobody uses for another `entry_ttl` is
//! forgotten too. So an expiry never drops a frame of a live flow.
//!
//! The cache is bounded (`capacity`). When it is full, a new entry takes
//! the place of one nobody uses: first one learned from a sender that
//! nothing was sent to, then a stale one that is not being confirmed,
//! oldest first. Entries in use, pending ones and static ones are never
//! evicted, so senders flooding us with requests can only push each other
//! out.

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

use crate::config::ArpConfig;
use crate::hash::KeyedState;
use crate::time::Instant;
use crate::wire::EthernetAddress;

enum Entry<F> {
    Resolved {
        mac: EthernetAddress,
        /// When the entry goes stale; `None` for static entries.
        expires: Option<Instant>,
        /// Re-resolution of a stale entry in use.
        probe: Option<Probe>,
        /// A frame went to it since it was learned: it is not evicted
        /// while fresh (or, stale, while probed).
        used: bool,
    },
    Pending {
        queue: VecDeque<F>,
        requests: u32,
        next_request: Instant,
    },
}

/// Requests sent to a stale entry's MAC, and when the next one is due.
#[derive(Debug, Clone, Copy)]
struct Probe {
    sent: u32,
    next: Instant,
}

/// What happened to a frame offered to [`NeighborCache::resolve`].
pub(crate) enum Resolution<F> {
    /// Send it to this MAC now.
    Ready(EthernetAddress, F),
    /// Send it to this MAC now, and an ARP request to the same MAC: the
    /// entry went stale and is being confirmed.
    ReadyProbe(EthernetAddress, F),
    /// Queued; send an ARP request for the address now.
    QueuedSendRequest,
    /// Queued behind a request already sent.
    Queued,
    /// The queue (or cache) is full: dropped.
    Dropped(F),
}

pub(crate) struct NeighborCache<F> {
    entries: HashMap<Ipv4Addr, Entry<F>, KeyedState>,
    cfg: ArpConfig,
    /// The earliest retry or expiry, or earlier: kept on insert, exact
    /// after each `poll`, so asking costs nothing on the hot path.
    next: Option<Instant>,
    /// Frames waiting in all pending queues.
    pending: usize,
    /// The last fresh entry used, and until when it stays fresh: most
    /// frames go to one neighbour (the peer, or the gateway), and this
    /// spares them the table's keyed hash.
    last: Option<(Ipv4Addr, EthernetAddress, Instant)>,
    /// Entries evicted to make room ([`NeighborCache::make_room`]).
    evicted: u64,
}

impl<F> NeighborCache<F> {
    /// A cache whose table is keyed by `key` (the engine's secret, with a
    /// label of its own).
    pub fn new(cfg: ArpConfig, key: [u8; 16]) -> Self {
        NeighborCache {
            entries: HashMap::with_capacity_and_hasher(
                cfg.capacity.min(4096),
                KeyedState::new(key),
            ),
            cfg,
            next: None,
            pending: 0,
            last: None,
            evicted: 0,
        }
    }

    pub fn add_static(&mut self, ip: Ipv4Addr, mac: EthernetAddress) {
        self.entries.insert(
            ip,
            Entry::Resolved {
                mac,
                expires: None,
                probe: None,
                used: true,
            },
        );
    }

    /// The MAC of `ip`, fresh or stale.
    #[cfg(test)]
    pub fn lookup(&self, ip: Ipv4Addr) -> Option<EthernetAddress> {
        match self.entries.get(&ip)? {
            Entry::Resolved { mac, .. } => Some(*mac),
            Entry::Pending { .. } => None,
        }
    }

    /// Routes `frame` to `ip`'s MAC, or queues it until resolution.
    pub fn resolve(&mut self, ip: Ipv4Addr, frame: F, now: Instant) -> Resolution<F> {
        if let Some((last_ip, mac, fresh_until)) = self.last {
            if last_ip == ip && now < fresh_until {
                return Resolution::Ready(mac, frame);
            }
        }
        if let Some(Entry::Resolved {
            mac,
            expires,
            probe,
            used,
        }) = self.entries.get_mut(&ip)
        {
            let mac = *mac;
            *used = true;
            if expires.is_some_and(|e| e <= now) && probe.is_none() {
                let next = now + self.cfg.retry_interval;
                *probe = Some(Probe { sent: 1, next });
                self.note_deadline(next);
                return Resolution::ReadyProbe(mac, frame);
            }
            if probe.is_none() {
                let until = expires.unwrap_or(Instant::from_nanos(u64::MAX));
                self.last = Some((ip, mac, until));
            }
            return Resolution::Ready(mac, frame);
        }
        if self.pending >= self.cfg.pending_total {
            return Resolution::Dropped(frame);
        }
        let full = !self.entries.contains_key(&ip) && !self.make_room(now);
        let limit = self.cfg.pending_per_neighbor;
        match self.entries.get_mut(&ip) {
            Some(Entry::Pending { queue, .. }) => {
                if queue.len() >= limit {
                    return Resolution::Dropped(frame);
                }
                queue.push_back(frame);
                self.pending += 1;
                Resolution::Queued
            }
            _ if full => Resolution::Dropped(frame),
            _ => {
                let mut queue = VecDeque::new();
                if limit == 0 {
                    return Resolution::Dropped(frame);
                }
                queue.push_back(frame);
                self.pending += 1;
                let next_request = now + self.cfg.retry_interval;
                self.note_deadline(next_request);
                self.entries.insert(
                    ip,
                    Entry::Pending {
                        queue,
                        requests: 1,
                        next_request,
                    },
                );
                Resolution::QueuedSendRequest
            }
        }
    }

    /// Learns `ip` is at `mac` (from a reply, or a request addressed to
    /// us, RFC 826 "merge"). Returns the frames that were waiting.
    pub fn learn(
        &mut self,
        ip: Ipv4Addr,
        mac: EthernetAddress,
        now: Instant,
        create: bool,
    ) -> VecDeque<F> {
        let expires = Some(now + self.cfg.entry_ttl);
        let mut fresh = Entry::Resolved {
            mac,
            expires,
            probe: None,
            used: false,
        };
        self.last = None;
        // Forgotten, if unused, a TTL after it goes stale.
        self.note_deadline(now + self.cfg.entry_ttl * 2);
        let room = create && (self.entries.contains_key(&ip) || self.make_room(now));
        match self.entries.get_mut(&ip) {
            Some(Entry::Resolved { expires: None, .. }) => VecDeque::new(),
            Some(entry) => {
                if let (Entry::Resolved { used: true, .. }, Entry::Resolved { used, .. }) =
                    (&*entry, &mut fresh)
                {
                    *used = true;
                }
                let old = core::mem::replace(entry, fresh);
                match old {
                    Entry::Pending { queue, .. } => {
                        self.pending -= queue.len();
                        queue
                    }
                    Entry::Resolved { .. } => VecDeque::new(),
                }
            }
            None if room => {
                self.entries.insert(ip, fresh);
                VecDeque::new()
            }
            None => VecDeque::new(),
        }
    }

    /// Retries, probes and expiry. Calls `request(ip, mac)` for each
    /// request to send (`mac`: the stale entry's, for a unicast request;
    /// `None`: broadcast) and `dropped(frame)` for each frame given up on.
    pub fn poll(
        &mut self,
        now: Instant,
        mut request: impl FnMut(Ipv4Addr, Option<EthernetAddress>),
        mut dropped: impl FnMut(F),
    ) {
        let max = self.cfg.max_requests;
        let retry = self.cfg.retry_interval;
        let ttl = self.cfg.entry_ttl;
        self.last = None;
        let pending = &mut self.pending;
        self.entries.retain(|ip, entry| match entry {
            Entry::Resolved { expires: None, .. } => true,
            Entry::Resolved {
                mac,
                probe: Some(p),
                ..
            } => {
                if p.next > now {
                    return true;
                }
                if p.sent >= max {
                    // Nobody answers at that MAC any more.
                    return false;
                }
                p.sent += 1;
                p.next = now + retry;
                request(*ip, Some(*mac));
                true
            }
            Entry::Resolved {
                expires: Some(e),
                probe: None,
                ..
            } => *e + ttl > now,
            Entry::Pending {
                queue,
                requests,
                next_request,
            } => {
                if *next_request > now {
                    return true;
                }
                if *requests >= max {
                    *pending -= queue.len();
                    queue.drain(..).for_each(&mut dropped);
                    return false;
                }
                *requests += 1;
                *next_request = now + retry;
                request(*ip, None);
                true
            }
        });
        self.next = self.scan_deadline();
    }

    /// Whether a new entry fits, evicting one if the cache is full: an
    /// entry nothing was sent to since it was learned (a host that asked
    /// for us and that we never answered with data), else a stale one
    /// that is not being confirmed, the oldest first. Static entries,
    /// pending ones (frames wait on them) and entries in use stay: a
    /// flood of senders can take only what nobody uses.
    fn make_room(&mut self, now: Instant) -> bool {
        if self.entries.len() < self.cfg.capacity {
            return true;
        }
        let victim = self
            .entries
            .iter()
            .filter_map(|(ip, e)| match e {
                Entry::Resolved {
                    expires: Some(at),
                    probe: None,
                    used,
                    ..
                } if !*used || *at <= now => Some((*used, *at, *ip)),
                _ => None,
            })
            .min();
        let Some((_, _, ip)) = victim else {
            return false;
        };
        self.entries.remove(&ip);
        self.evicted += 1;
        true
    }

    /// Entries evicted to make room.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }

    fn note_deadline(&mut self, at: Instant) {
        self.next = Some(self.next.map_or(at, |n| n.min(at)));
    }

    /// The earliest retry or expiry (or a little earlier), for
    /// `poll_timeout`. Constant time.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.next
    }

    fn scan_deadline(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter_map(|e| match e {
                Entry::Resolved { probe: Some(p), .. } => Some(p.next),
                Entry::Resolved { expires, .. } => expires.map(|e| e + self.cfg.entry_ttl),
                Entry::Pending { next_request, .. } => Some(*next_request),
            })
            .min()
    }

    /// Entries, resolved or pending.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn cfg() -> ArpConfig {
        ArpConfig {
            max_requests: 2,
            pending_per_neighbor: 2,
            ..ArpConfig::default()
        }
    }

    const IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);

    #[test]
    fn frames_wait_for_the_reply_and_are_bounded() {
        let mut c = NeighborCache::new(cfg(), [3; 16]);
        let t = Instant::ZERO;
        assert!(matches!(c.resolve(IP, 1, t), Resolution::QueuedSendRequest));
        assert!(matches!(c.resolve(IP, 2, t), Resolution::Queued));
        assert!(matches!(c.resolve(IP, 3, t), Resolution::Dropped(3)));
        let released = c.learn(IP, MAC, t, false);
        assert_eq!(released, [1, 2]);
        assert!(matches!(c.resolve(IP, 4, t), Resolution::Ready(MAC, 4)));
    }

    #[test]
    fn all_neighbours_together_queue_at_most_pending_total_frames() {
        let mut c = NeighborCache::new(
            ArpConfig {
                pending_total: 3,
                ..cfg()
            },
            [3; 16],
        );
        let t = Instant::ZERO;
        let ip = |n| Ipv4Addr::new(10, 0, 0, n);
        for n in 1..=3 {
            assert!(matches!(
                c.resolve(ip(n), n, t),
                Resolution::QueuedSendRequest
            ));
        }
        assert!(matches!(c.resolve(ip(4), 4, t), Resolution::Dropped(4)));
        assert!(matches!(c.resolve(ip(1), 5, t), Resolution::Dropped(5)));
        // A reply frees its neighbour's share; giving up frees the rest.
        assert_eq!(c.learn(ip(1), MAC, t, false), [1]);
        assert!(matches!(
            c.resolve(ip(4), 6, t),
            Resolution::QueuedSendRequest
        ));
        let mut drops = 0;
        c.poll(t + Duration::from_secs(5), |_, _| {}, |_| drops += 1);
        c.poll(t + Duration::from_secs(10), |_, _| {}, |_| drops += 1);
        assert_eq!(drops, 3);
        assert!(matches!(
            c.resolve(ip(5), 7, t),
            Resolution::QueuedSendRequest
        ));
    }

    // A full cache makes room by evicting what nobody uses: entries
    // learned from senders we never sent to (the oldest first), then stale
    // entries not being confirmed. Entries in use, pending ones and static
    // ones stay; with only those, a new neighbour is refused.
    #[test]
    fn a_full_cache_evicts_only_entries_nobody_uses() {
        let mut c = NeighborCache::new(
            ArpConfig {
                capacity: 3,
                ..cfg()
            },
            [3; 16],
        );
        let ip = |n| Ipv4Addr::new(10, 0, 0, n);
        let at = |ms| Instant::ZERO + Duration::from_millis(ms);
        c.learn(ip(1), MAC, at(0), true);
        assert!(matches!(c.resolve(ip(1), 1, at(0)), Resolution::Ready(..)));
        c.learn(ip(2), MAC, at(1), true);
        c.learn(ip(3), MAC, at(2), true);
        // Full: the oldest unused entry (2) goes for a new sender.
        c.learn(ip(4), MAC, at(3), true);
        assert_eq!((c.lookup(ip(2)), c.lookup(ip(3))), (None, Some(MAC)));
        // A neighbour we must reach takes the room of the next (3).
        assert!(matches!(
            c.resolve(ip(5), 2, at(4)),
            Resolution::QueuedSendRequest
        ));
        assert_eq!(c.lookup(ip(3)), None);
        assert_eq!(c.evicted(), 2);
        // The entry in use and the pending one survive any number of
        // senders; each new one takes the last unused one's place.
        for n in 10..60 {
            c.learn(ip(n), MAC, at(5), true);
        }
        assert_eq!(c.lookup(ip(1)), Some(MAC));
        assert_eq!(c.lookup(ip(59)), Some(MAC));
        assert_eq!(c.len(), 3);
        c.learn(ip(5), MAC, at(6), false);
        assert!(matches!(c.resolve(ip(5), 3, at(6)), Resolution::Ready(..)));
        // Now every entry is in use: a newcomer is refused, not let in.
        assert!(matches!(c.resolve(ip(59), 4, at(7)), Resolution::Ready(..)));
        c.learn(ip(60), MAC, at(8), true);
        assert_eq!(c.lookup(ip(60)), None);
        assert!(matches!(
            c.resolve(ip(61), 5, at(8)),
            Resolution::Dropped(5)
        ));
        // Once stale and unused since, an entry may go (the oldest).
        let later = at(8) + cfg().entry_ttl;
        c.learn(ip(62), MAC, later, true);
        assert_eq!((c.lookup(ip(1)), c.lookup(ip(62))), (None, Some(MAC)));
    }

    #[test]
    fn requests_are_retried_then_given_up() {
        let mut c = NeighborCache::new(cfg(), [3; 16]);
        let t = Instant::ZERO;
        let _ = c.resolve(IP, 1, t);
        let (mut reqs, mut drops) = (0, 0);
        c.poll(t + Duration::from_secs(1), |_, _| reqs += 1, |_| drops += 1);
        assert_eq!((reqs, drops), (1, 0));
        c.poll(t + Duration::from_secs(2), |_, _| reqs += 1, |_| drops += 1);
        assert_eq!((reqs, drops), (1, 1));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn a_stale_entry_in_use_keeps_its_mac_while_it_is_confirmed_by_unicast() {
        let mut c: NeighborCache<u8> = NeighborCache::new(cfg(), [3; 16]);
        let t = Instant::ZERO;
        c.learn(IP, MAC, t, true);
        let stale = t + Duration::from_secs(61);
        // In use after going stale: the frame goes, with a probe.
        assert!(matches!(
            c.resolve(IP, 1, stale),
            Resolution::ReadyProbe(MAC, 1)
        ));
        assert!(matches!(c.resolve(IP, 2, stale), Resolution::Ready(MAC, 2)));
        let mut reqs = Vec::new();
        c.poll(
            stale + Duration::from_secs(1),
            |ip, mac| reqs.push((ip, mac)),
            |_| {},
        );
        assert_eq!(reqs, [(IP, Some(MAC))], "the second request, unicast");
        // The reply makes it fresh.
        c.learn(IP, MAC, stale + Duration::from_millis(1500), false);
        let fresh = stale + Duration::from_secs(2);
        assert!(matches!(c.resolve(IP, 3, fresh), Resolution::Ready(MAC, 3)));
        reqs.clear();
        c.poll(
            fresh + Duration::from_secs(5),
            |ip, mac| reqs.push((ip, mac)),
            |_| {},
        );
        assert_eq!(reqs, []);
    }

    #[test]
    fn a_new_mac_replaces_the_one_the_last_frame_went_to() {
        let mut c: NeighborCache<u8> = NeighborCache::new(cfg(), [3; 16]);
        let t = Instant::ZERO;
        c.learn(IP, MAC, t, true);
        assert!(matches!(c.resolve(IP, 1, t), Resolution::Ready(MAC, 1)));
        const MOVED: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 9]);
        c.learn(IP, MOVED, t, false);
        assert!(matches!(c.resolve(IP, 2, t), Resolution::Ready(MOVED, 2)));
    }

    #[test]
    fn a_stale_entry_that_does_not_answer_is_forgotten() {
        let mut c: NeighborCache<u8> = NeighborCache::new(cfg(), [3; 16]);
        let t = Instant::ZERO;
        c.learn(IP, MAC, t, true);
        let stale = t + Duration::from_secs(61);
        let _ = c.resolve(IP, 1, stale);
        let mut reqs = 0;
        for s in 1..=3 {
            c.poll(stale + Duration::from_secs(s), |_, _| reqs += 1, |_| {});
        }
        assert_eq!(reqs, 1, "max_requests 2: one more after the first");
        assert_eq!(c.len(), 0);
        assert!(matches!(
            c.resolve(IP, 2, stale + Duration::from_secs(4)),
            Resolution::QueuedSendRequest
        ));
    }

    #[test]
    fn unused_stale_entries_go_after_another_ttl_static_ones_stay() {
        let mut c: NeighborCache<u8> = NeighborCache::new(cfg(), [3; 16]);
        let t = Instant::ZERO;
        c.learn(IP, MAC, t, true);
        c.add_static(Ipv4Addr::new(10, 0, 0, 3), MAC);
        c.poll(t + Duration::from_secs(61), |_, _| {}, |_| {});
        assert_eq!(c.lookup(IP), Some(MAC), "stale, still known");
        c.poll(t + Duration::from_secs(121), |_, _| {}, |_| {});
        assert_eq!(c.lookup(IP), None);
        assert_eq!(c.len(), 1);
        assert_eq!(c.lookup(Ipv4Addr::new(10, 0, 0, 3)), Some(MAC));
    }
}
