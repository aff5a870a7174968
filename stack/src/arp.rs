//! The neighbour cache: IPv4 to MAC resolution with ARP (RFC 826).
//!
//! Frames for a neighbour whose address is unknown wait in a bounded queue
//! (per neighbour, and for all neighbours together, so that peers cannot
//! pin the pool's buffers there) while requests go out at
//! `retry_interval`; a reply releases them, and
//! after `max_requests` unanswered requests they are dropped and counted.
//! Learned entries expire after `entry_ttl`; static entries never do.

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

use crate::config::ArpConfig;
use crate::time::Instant;
use crate::wire::EthernetAddress;

enum Entry<F> {
    Resolved {
        mac: EthernetAddress,
        /// `None` for static entries.
        expires: Option<Instant>,
    },
    Pending {
        queue: VecDeque<F>,
        requests: u32,
        next_request: Instant,
    },
}

/// What happened to a frame offered to [`NeighborCache::resolve`].
pub(crate) enum Resolution<F> {
    /// Send it to this MAC now.
    Ready(EthernetAddress, F),
    /// Queued; send an ARP request for the address now.
    QueuedSendRequest,
    /// Queued behind a request already sent.
    Queued,
    /// The queue (or cache) is full: dropped.
    Dropped(F),
}

pub(crate) struct NeighborCache<F> {
    entries: HashMap<Ipv4Addr, Entry<F>>,
    cfg: ArpConfig,
    /// The earliest retry or expiry, or earlier: kept on insert, exact
    /// after each `poll`, so asking costs nothing on the hot path.
    next: Option<Instant>,
    /// Frames waiting in all pending queues.
    pending: usize,
}

impl<F> NeighborCache<F> {
    pub fn new(cfg: ArpConfig) -> Self {
        NeighborCache {
            entries: HashMap::with_capacity(cfg.capacity.min(4096)),
            cfg,
            next: None,
            pending: 0,
        }
    }

    pub fn add_static(&mut self, ip: Ipv4Addr, mac: EthernetAddress) {
        self.entries
            .insert(ip, Entry::Resolved { mac, expires: None });
    }

    pub fn lookup(&self, ip: Ipv4Addr, now: Instant) -> Option<EthernetAddress> {
        match self.entries.get(&ip)? {
            Entry::Resolved { mac, expires } if expires.is_none_or(|e| e > now) => Some(*mac),
            _ => None,
        }
    }

    /// Routes `frame` to `ip`'s MAC, or queues it until resolution.
    pub fn resolve(&mut self, ip: Ipv4Addr, frame: F, now: Instant) -> Resolution<F> {
        if let Some(mac) = self.lookup(ip, now) {
            return Resolution::Ready(mac, frame);
        }
        if self.pending >= self.cfg.pending_total {
            return Resolution::Dropped(frame);
        }
        let full = self.entries.len() >= self.cfg.capacity && !self.entries.contains_key(&ip);
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
        let room = self.entries.len() < self.cfg.capacity;
        self.note_deadline(now + self.cfg.entry_ttl);
        match self.entries.get_mut(&ip) {
            Some(Entry::Resolved { expires: None, .. }) => VecDeque::new(),
            Some(entry) => {
                let old = core::mem::replace(entry, Entry::Resolved { mac, expires });
                match old {
                    Entry::Pending { queue, .. } => {
                        self.pending -= queue.len();
                        queue
                    }
                    Entry::Resolved { .. } => VecDeque::new(),
                }
            }
            None if create && room => {
                self.entries.insert(ip, Entry::Resolved { mac, expires });
                VecDeque::new()
            }
            None => VecDeque::new(),
        }
    }

    /// Retries and expiry. Calls `request(ip)` for each request to send and
    /// `dropped(frame)` for each frame given up on.
    pub fn poll(
        &mut self,
        now: Instant,
        mut request: impl FnMut(Ipv4Addr),
        mut dropped: impl FnMut(F),
    ) {
        let max = self.cfg.max_requests;
        let retry = self.cfg.retry_interval;
        let pending = &mut self.pending;
        self.entries.retain(|ip, entry| match entry {
            Entry::Resolved { expires, .. } => expires.is_none_or(|e| e > now),
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
                request(*ip);
                true
            }
        });
        self.next = self.scan_deadline();
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
                Entry::Resolved { expires, .. } => *expires,
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
        let mut c = NeighborCache::new(cfg());
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
        let mut c = NeighborCache::new(ArpConfig {
            pending_total: 3,
            ..cfg()
        });
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
        c.poll(t + Duration::from_secs(5), |_| {}, |_| drops += 1);
        c.poll(t + Duration::from_secs(10), |_| {}, |_| drops += 1);
        assert_eq!(drops, 3);
        assert!(matches!(
            c.resolve(ip(5), 7, t),
            Resolution::QueuedSendRequest
        ));
    }

    #[test]
    fn requests_are_retried_then_given_up() {
        let mut c = NeighborCache::new(cfg());
        let t = Instant::ZERO;
        let _ = c.resolve(IP, 1, t);
        let (mut reqs, mut drops) = (0, 0);
        c.poll(t + Duration::from_secs(1), |_| reqs += 1, |_| drops += 1);
        assert_eq!((reqs, drops), (1, 0));
        c.poll(t + Duration::from_secs(2), |_| reqs += 1, |_| drops += 1);
        assert_eq!((reqs, drops), (1, 1));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn learned_entries_expire_static_ones_do_not() {
        let mut c: NeighborCache<u8> = NeighborCache::new(cfg());
        let t = Instant::ZERO;
        c.learn(IP, MAC, t, true);
        c.add_static(Ipv4Addr::new(10, 0, 0, 3), MAC);
        let later = t + Duration::from_secs(61);
        assert_eq!(c.lookup(IP, later), None);
        c.poll(later, |_| {}, |_| {});
        assert_eq!(c.len(), 1);
        assert_eq!(c.lookup(Ipv4Addr::new(10, 0, 0, 3), later), Some(MAC));
    }
}
