//! Applications that tests run on simulated hosts: a zero-copy echo
//! server, a client that checks the server answers, and a prober that
//! checks ARP and ping from a raw endpoint.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddrV4;
use std::time::Duration;

use stack::{Engine, Error, EventKind, Handle, HeapBuf, HeapPool, Instant, PacketBuf};

use crate::raw::{Heard, RawHost};
use crate::sim::Sim;

/// An echo server that moves received buffers back out without copying
/// (`read_buf` / `write_buf`), and reads more only once what it holds is
/// written: a peer that does not read slows the server's reading too.
pub struct Echo {
    listener: Handle,
    /// Per connection, buffers read and not yet written (at most one).
    held: HashMap<Handle, VecDeque<HeapBuf>>,
    /// Connections accepted so far.
    pub accepted: u64,
    /// Bytes echoed so far.
    pub bytes: u64,
}

impl Echo {
    /// An echo server listening on `port` of `engine`.
    pub fn new(engine: &mut Engine<HeapPool>, port: u16) -> Echo {
        Echo {
            listener: engine.listen(port, 4096).expect("listen"),
            held: HashMap::new(),
            accepted: 0,
            bytes: 0,
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.held.len()
    }

    /// Handles the engine's events.
    pub fn poll(&mut self, engine: &mut Engine<HeapPool>) {
        while let Some(ev) = engine.poll_event() {
            if ev.handle == self.listener {
                while let Ok((h, _)) = engine.accept(self.listener) {
                    self.accepted += 1;
                    self.held.insert(h, VecDeque::new());
                    self.service(engine, h);
                }
            } else if !matches!(ev.kind, EventKind::Closed { .. }) {
                self.service(engine, ev.handle);
            }
        }
    }

    fn service(&mut self, engine: &mut Engine<HeapPool>, h: Handle) {
        let Some(queue) = self.held.get_mut(&h) else {
            return;
        };
        loop {
            while let Some(buf) = queue.pop_front() {
                let n = buf.len();
                match engine.write_buf(h, buf) {
                    Ok(()) => self.bytes += n as u64,
                    Err((Error::WouldBlock | Error::NoBuffers, buf)) => {
                        queue.push_front(buf);
                        return;
                    }
                    Err(_) => return self.close(engine, h),
                }
            }
            match engine.read_buf(h) {
                Ok(Some(buf)) => queue.push_back(buf),
                Ok(None) => return self.close(engine, h),
                Err(Error::WouldBlock) => return,
                Err(_) => return self.close(engine, h),
            }
        }
    }

    fn close(&mut self, engine: &mut Engine<HeapPool>, h: Handle) {
        let _ = engine.close(h);
        self.held.remove(&h);
    }
}

/// A well-behaved client that, every `interval`, opens a connection to
/// the server, sends a message, waits for all of it back, and closes:
/// each attempt succeeds or fails within `timeout`.
pub struct EchoClient {
    server: SocketAddrV4,
    interval: Duration,
    timeout: Duration,
    next_at: Instant,
    current: Option<Attempt>,
    /// Attempts finished, and how many succeeded.
    pub attempts: u64,
    /// Attempts that got the whole message back in time.
    pub successes: u64,
    /// When each failure happened (start of the attempt), for messages.
    pub failures: Vec<Instant>,
}

struct Attempt {
    h: Handle,
    started: Instant,
    message: Vec<u8>,
    received: Vec<u8>,
}

impl EchoClient {
    /// A client of `server`, trying every `interval` from `start`.
    pub fn new(server: SocketAddrV4, start: Instant, interval: Duration) -> EchoClient {
        EchoClient {
            server,
            interval,
            timeout: Duration::from_secs(1),
            next_at: start,
            current: None,
            attempts: 0,
            successes: 0,
            failures: Vec::new(),
        }
    }

    /// Whether an attempt is under way.
    pub fn busy(&self) -> bool {
        self.current.is_some()
    }

    /// Runs the client on node `i` of `sim`; stops starting new attempts
    /// after `until`.
    pub fn poll(&mut self, sim: &mut Sim, i: usize, until: Instant) {
        let now = sim.now;
        let engine = &mut sim.nodes[i].engine;
        let events: Vec<_> = std::iter::from_fn(|| engine.poll_event()).collect();
        if let Some(a) = &mut self.current {
            let mut failed = events
                .iter()
                .any(|e| e.handle == a.h && matches!(e.kind, EventKind::Reset { .. }));
            let connected = events
                .iter()
                .any(|e| e.handle == a.h && e.kind == EventKind::Connected);
            if connected && engine.write(a.h, &a.message) != Ok(a.message.len()) {
                failed = true;
            }
            let mut buf = [0u8; 512];
            while let Ok(n @ 1..) = engine.read(a.h, &mut buf) {
                a.received.extend_from_slice(&buf[..n]);
            }
            let done = a.received.len() >= a.message.len();
            if done || failed || now - a.started > self.timeout {
                let ok = done && a.received == a.message;
                let _ = if ok {
                    engine.close(a.h)
                } else {
                    engine.abort(a.h)
                };
                self.attempts += 1;
                if ok {
                    self.successes += 1;
                } else {
                    self.failures.push(a.started);
                }
                self.current = None;
            }
        }
        if self.current.is_none() && now >= self.next_at && now < until {
            self.next_at = now + self.interval;
            let message = format!("attempt {} at {now:?}", self.attempts).into_bytes();
            if let Ok(h) = engine.connect(self.server) {
                self.current = Some(Attempt {
                    h,
                    started: now,
                    message,
                    received: Vec::new(),
                });
            } else {
                self.attempts += 1;
                self.failures.push(now);
            }
        }
    }
}

/// Asks a host for its MAC (ARP) and pings it every `interval` from a
/// raw endpoint, and counts the answers that come within the interval.
pub struct Prober {
    tap: usize,
    me: RawHost,
    target: std::net::Ipv4Addr,
    interval: Duration,
    next_at: Instant,
    seq: u16,
    waiting: Option<(Instant, u16, bool, bool)>,
    /// Probes sent (an ARP request and a ping each).
    pub sent: u64,
    /// ARP requests answered in time.
    pub arp_answered: u64,
    /// Pings answered in time.
    pub ping_answered: u64,
}

impl Prober {
    /// A prober on tap `tap` of `sim`, as `me`, of `target`.
    pub fn new(
        tap: usize,
        me: RawHost,
        target: std::net::Ipv4Addr,
        start: Instant,
        interval: Duration,
    ) -> Prober {
        Prober {
            tap,
            me,
            target,
            interval,
            next_at: start,
            seq: 0,
            waiting: None,
            sent: 0,
            arp_answered: 0,
            ping_answered: 0,
        }
    }

    /// Reads the tap's inbox and sends the next probe when due, until
    /// `until`.
    pub fn poll(&mut self, sim: &mut Sim, until: Instant) {
        let mut target_mac = None;
        for (_, frame) in sim.take_inbox(self.tap) {
            match Heard::decode(&frame) {
                Heard::ArpReply { ip, mac } if ip == self.target => {
                    target_mac = Some(mac);
                    if let Some(w) = &mut self.waiting {
                        w.2 = true;
                    }
                }
                Heard::EchoReply { seq_no, .. } => {
                    if let Some(w) = self.waiting.as_mut().filter(|w| w.1 == seq_no) {
                        w.3 = true;
                    }
                }
                Heard::ArpRequest { target } if target == self.me.ip => {
                    let dst = <[u8; 6]>::try_from(&frame[6..12]).map(stack::wire::EthernetAddress);
                    if let Ok(dst) = dst {
                        sim.send_raw(self.me.arp_reply(dst, self.target));
                    }
                }
                _ => {}
            }
        }
        if let Some((at, _, arp, ping)) = self.waiting {
            if (arp && ping) || sim.now >= at + self.interval {
                self.arp_answered += u64::from(arp);
                self.ping_answered += u64::from(ping);
                self.waiting = None;
            }
        }
        if let Some(mac) = target_mac {
            if let Some((_, seq, _, false)) = self.waiting {
                sim.send_raw(self.me.ping(mac, self.target, 7, seq));
            }
        }
        if self.waiting.is_none() && sim.now >= self.next_at && sim.now < until {
            self.next_at = sim.now + self.interval;
            self.seq = self.seq.wrapping_add(1);
            self.sent += 1;
            self.waiting = Some((sim.now, self.seq, false, false));
            sim.send_raw(self.me.arp_request(self.target));
        }
    }
}
