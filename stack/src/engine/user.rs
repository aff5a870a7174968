//! The application API: listeners, connections, and the calls on them.
//!
//! Calls take effect at the time of the driver's last `handle_*` or
//! `poll_*` call; anything they make the engine send goes out on the next
//! [`Engine::poll_transmit`].

use core::time::Duration;
use std::collections::VecDeque;
use std::net::SocketAddrV4;

use crate::api::{Error, Handle, Result, Shutdown, State};
use crate::buf::BufferPool;
use crate::hash::SipHasher24;
use crate::stats::RstReason;
use crate::tcp::cc::CongestionAlgorithm;
use crate::tcp::timers::TimerKind;
use crate::tcp::{EventBits, Outcome, Secrets, Tcb};
use crate::time::Instant;
use crate::wire::SeqNumber;

use super::table::{ConnEntry, FlowKey, Listener, Target};
use super::Engine;

/// Decides whether an active open may use a local port: called with the
/// local address (this engine's address and the candidate port) and the
/// remote address, it returns `true` if the port may be used.
///
/// A multi-core driver installs one per engine (see
/// [`Engine::set_port_selector`]) so that the peer's replies, hashed by
/// the NIC's RSS or by software steering, reach the core that opened the
/// connection (contract 16). It runs once per candidate port, so it should
/// be cheap (a Toeplitz hash and a table lookup).
pub type PortSelector = Box<dyn Fn(SocketAddrV4, SocketAddrV4) -> bool + Send>;

/// What the application can find out about a connection at any time, so a
/// missed event is never fatal (contract 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// The connection's state.
    pub state: State,
    /// Bytes waiting to be read.
    pub readable_bytes: usize,
    /// The peer sent FIN.
    pub peer_closed: bool,
    /// Room in the send buffer, in bytes.
    pub writable_bytes: usize,
    /// The error `read` would report, if any.
    pub error: Option<Error>,
}

/// The sender's view of a connection, for diagnosis (as Linux's
/// `TCP_INFO`). Byte counts, not segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpInfo {
    /// The connection's state.
    pub state: State,
    /// The congestion control algorithm in use.
    pub congestion: CongestionAlgorithm,
    /// Congestion window.
    pub cwnd: usize,
    /// Slow start threshold (`usize::MAX` until the first loss).
    pub ssthresh: usize,
    /// The segment size data is sent in (options excluded).
    pub snd_mss: usize,
    /// The peer's receive window.
    pub snd_wnd: usize,
    /// Sent and not yet cumulatively acknowledged.
    pub unacked: usize,
    /// Still in the network by RFC 6675's reckoning (`pipe`).
    pub in_flight: usize,
    /// Reported by the peer's SACK blocks.
    pub sacked: usize,
    /// Deemed lost.
    pub lost: usize,
    /// Smoothed round-trip time, once measured.
    pub srtt: Option<Duration>,
    /// The smallest round trip seen.
    pub min_rtt: Option<Duration>,
    /// The current retransmission timeout.
    pub rto: Duration,
    /// Recovering from a loss (fast recovery, or after a timeout).
    pub in_recovery: bool,
    /// Timestamps (RFC 7323) were agreed.
    pub timestamps: bool,
    /// Window scaling (RFC 7323) was agreed.
    pub window_scaling: bool,
    /// SACK (RFC 2018) was agreed.
    pub sack: bool,
}

impl<P: BufferPool> Engine<P> {
    fn conn_index(&self, h: Handle) -> Result<u32> {
        if h.engine != self.tag {
            return Err(Error::InvalidHandle);
        }
        match self.handles.get_gen(h.index, h.generation) {
            Some(Target::Conn(idx)) => Ok(*idx),
            _ => Err(Error::InvalidHandle),
        }
    }

    fn listener_index(&self, h: Handle) -> Result<u32> {
        if h.engine != self.tag {
            return Err(Error::InvalidHandle);
        }
        match self.handles.get_gen(h.index, h.generation) {
            Some(Target::Listener(idx)) => Ok(*idx),
            _ => Err(Error::InvalidHandle),
        }
    }

    fn new_handle(&mut self, target: Target) -> Handle {
        let (index, generation) = self.handles.insert(target);
        Handle {
            index,
            generation,
            engine: self.tag,
        }
    }

    /// Sets the token the events of `h` (a connection or a listener) carry
    /// from now on ([`crate::Event::token`]). Every handle of a connection
    /// shares it.
    pub fn set_token(&mut self, h: Handle, token: u64) -> Result<()> {
        if let Ok(lidx) = self.listener_index(h) {
            let l = self.listeners.get_mut(lidx).ok_or(Error::InvalidHandle)?;
            l.token = token;
            return Ok(());
        }
        let idx = self.conn_index(h)?;
        self.conns.get_mut(idx).ok_or(Error::InvalidHandle)?.token = token;
        Ok(())
    }

    /// The token of `h` (0 until [`Engine::set_token`]).
    pub fn token(&self, h: Handle) -> Result<u64> {
        if let Ok(lidx) = self.listener_index(h) {
            return Ok(self.listeners.get(lidx).ok_or(Error::InvalidHandle)?.token);
        }
        let idx = self.conn_index(h)?;
        Ok(self.conns.get(idx).ok_or(Error::InvalidHandle)?.token)
    }

    /// Runs `f` on the TCB behind `h`, then settles the engine's books.
    fn with_tcb<T>(
        &mut self,
        h: Handle,
        f: impl FnOnce(&mut Tcb<P::Buf>, &crate::tcp::Ctx, &mut P, &mut crate::stats::Stats) -> T,
    ) -> Result<T> {
        let idx = self.conn_index(h)?;
        let ctx = super::tcb_ctx!(self, self.pool_low());
        let conn = self.conns.get_mut(idx).ok_or(Error::InvalidHandle)?;
        let (result, mut out) = conn
            .tcb
            .call(|tcb| f(tcb, &ctx, &mut self.pool, &mut self.stats));
        // An ACK an application call owes (a window update after a read)
        // goes with the connection's turn in the ready list, where after_tcb
        // puts it: however many reads the application makes before the
        // driver's next poll_transmit, one ACK carries the final window.
        out.ack_now = false;
        self.after_tcb(idx, out);
        Ok(result)
    }

    /// Listens on `port` with an accept queue of `backlog` connections
    /// (capped by `tcp.max_backlog`), contract 14.
    pub fn listen(&mut self, port: u16, backlog: usize) -> Result<Handle> {
        if port == 0 || backlog == 0 {
            return Err(Error::InvalidInput);
        }
        if self.listener_on_port(port) {
            return Err(Error::AddrInUse);
        }
        let (lidx, _) = self.listeners.insert(Listener {
            port,
            backlog: backlog.min(self.cfg.tcp.max_backlog),
            half_open: 0,
            accept_queue: VecDeque::new(),
            handle: Handle::from_raw(0),
            token: 0,
        });
        let handle = self.new_handle(Target::Listener(lidx));
        if let Some(l) = self.listeners.get_mut(lidx) {
            l.handle = handle;
        }
        Ok(handle)
    }

    fn listener_on_port(&self, port: u16) -> bool {
        self.listeners.iter().any(|(_, l)| l.port == port)
    }

    /// Takes a connection from the listener's accept queue.
    pub fn accept(&mut self, listener: Handle) -> Result<(Handle, SocketAddrV4)> {
        let lidx = self.listener_index(listener)?;
        let l = self.listeners.get_mut(lidx).ok_or(Error::InvalidHandle)?;
        let idx = l.accept_queue.pop_front().ok_or(Error::WouldBlock)?;
        let handle = self.new_handle(Target::Conn(idx));
        let conn = self.conns.get_mut(idx).ok_or(Error::InvalidHandle)?;
        conn.listener = None;
        conn.in_accept_queue = false;
        conn.handles = 1;
        conn.event_handle = Some(handle);
        let remote = conn.tcb.remote;
        // What happened while it waited in the queue.
        let tcb = &conn.tcb;
        let mut bits = EventBits::WRITABLE;
        if !tcb.recv.is_empty() || tcb.peer_fin || tcb.reset.is_some() {
            bits |= EventBits::READABLE;
        }
        if tcb.peer_fin {
            bits |= EventBits::PEER_CLOSED;
        }
        if tcb.reset.is_some() {
            bits |= EventBits::RESET;
        }
        self.after_tcb(idx, Outcome::events(bits));
        Ok((handle, remote))
    }

    /// Constrains the local ports of active opens: [`Engine::connect`]
    /// picks only ports `selector` accepts, and [`Engine::connect_from`]
    /// refuses the others with `AddrNotAvailable`. `None` (the default)
    /// accepts every port. Listeners and accepted connections are not
    /// affected: their owner is decided by whoever steers frames.
    pub fn set_port_selector(&mut self, selector: Option<PortSelector>) {
        self.port_selector = selector;
    }

    /// Whether the port selector (if any) accepts `local_port` towards
    /// `remote`.
    fn port_selected(&self, local_port: u16, remote: SocketAddrV4) -> bool {
        self.port_selector.as_ref().is_none_or(|accepts| {
            accepts(
                SocketAddrV4::new(self.cfg.address.address, local_port),
                remote,
            )
        })
    }

    /// Opens a connection to `remote` from an ephemeral port (RFC 6056,
    /// among those the port selector accepts); completion is reported by
    /// [`crate::EventKind::Connected`] (contract 15).
    pub fn connect(&mut self, remote: SocketAddrV4) -> Result<Handle> {
        let port = self.ephemeral_port(remote)?;
        self.connect_from(port, remote)
    }

    /// Opens a connection from local port `local_port`: `AddrInUse` if a
    /// listener has it or the 4-tuple exists (contract 16),
    /// `AddrNotAvailable` if the port selector refuses it (the peer's
    /// replies would reach another core).
    pub fn connect_from(&mut self, local_port: u16, remote: SocketAddrV4) -> Result<Handle> {
        if local_port == 0
            || remote.port() == 0
            || remote.ip().is_unspecified()
            || remote.ip().is_broadcast()
        {
            return Err(Error::InvalidInput);
        }
        if !self.cfg.address.contains(*remote.ip()) && self.cfg.gateway.is_none() {
            return Err(Error::InvalidInput);
        }
        let key = FlowKey { local_port, remote };
        if self.flows.contains(&key) || self.listener_on_port(local_port) {
            return Err(Error::AddrInUse);
        }
        if !self.port_selected(local_port, remote) {
            return Err(Error::AddrNotAvailable);
        }
        if self.conns.len() >= self.cfg.max_connections {
            return Err(Error::TooManyConnections);
        }
        let local = SocketAddrV4::new(self.cfg.address.address, local_port);
        let secrets = self.secrets(local, remote, self.now);
        let ctx = self.ctx();
        let mut tcb = Tcb::new_active(&ctx, local, remote, secrets);
        let out = tcb.finish();
        let (idx, _) = self.conns.insert(Box::new(ConnEntry::new(tcb)));
        self.flows.insert(key, idx);
        let handle = self.new_handle(Target::Conn(idx));
        if let Some(conn) = self.conns.get_mut(idx) {
            conn.handles = 1;
            conn.event_handle = Some(handle);
        }
        self.stats.active_opens += 1;
        self.after_tcb(idx, out);
        Ok(handle)
    }

    /// A connection's ISN and timestamp offset. RFC 6528: ISN = M +
    /// F(4-tuple, secret), M a 4 µs clock; RFC 7323 5.4: the timestamp
    /// clock starts at a random offset per connection (the other half of
    /// the same keyed hash).
    pub(super) fn secrets(
        &self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        now: Instant,
    ) -> Secrets {
        let mut h = SipHasher24::new(self.secret);
        h.write(&local.ip().octets());
        h.write_u16(local.port());
        h.write(&remote.ip().octets());
        h.write_u16(remote.port());
        let f = h.finish();
        let m = (now.as_nanos() / 4_000) as u32;
        Secrets {
            iss: SeqNumber(m.wrapping_add(f as u32)),
            ts_offset: (f >> 32) as u32,
        }
    }

    /// RFC 6056 algorithm 3: a keyed hash of the destination picks where to
    /// start looking, a counter moves on from there. Ports in use, ports of
    /// listeners and ports the port selector refuses are skipped.
    fn ephemeral_port(&mut self, remote: SocketAddrV4) -> Result<u16> {
        let first = u32::from(self.cfg.tcp.ephemeral_first);
        let count = u32::from(self.cfg.tcp.ephemeral_last) - first + 1;
        let mut h = SipHasher24::new(self.secret);
        h.write(b"ephemeral");
        h.write(&remote.ip().octets());
        h.write_u16(remote.port());
        let offset = h.finish() as u32;
        for i in 0..count {
            let port =
                (first + offset.wrapping_add(self.ephemeral_next).wrapping_add(i) % count) as u16;
            let key = FlowKey {
                local_port: port,
                remote,
            };
            if !self.flows.contains(&key)
                && !self.listener_on_port(port)
                && self.port_selected(port, remote)
            {
                self.ephemeral_next = self.ephemeral_next.wrapping_add(i + 1);
                return Ok(port);
            }
        }
        Err(Error::AddrNotAvailable)
    }

    /// Copies received bytes into `buf` (contracts 4, 5, 6): `Ok(0)` is end
    /// of stream, `WouldBlock` means nothing yet.
    pub fn read(&mut self, h: Handle, buf: &mut [u8]) -> Result<usize> {
        self.with_tcb(h, |tcb, ctx, _, _| tcb.read(ctx, buf))?
    }

    /// Zero-copy read: the next received buffer as it arrived (`None` at end
    /// of stream). The window reopens as the application reads; dropping
    /// the buffer returns it to the pool.
    pub fn read_buf(&mut self, h: Handle) -> Result<Option<P::Buf>> {
        self.with_tcb(h, |tcb, ctx, _, _| tcb.read_buf(ctx))?
    }

    /// Copies as much of `data` as fits into the send buffer (contracts 1,
    /// 2, 3).
    pub fn write(&mut self, h: Handle, data: &[u8]) -> Result<usize> {
        self.with_tcb(h, |tcb, ctx, pool, stats| tcb.write(ctx, pool, data, stats))?
    }

    /// Writes `data` as urgent data (RFC 9293 3.8.5, `MSG_OOB`): queued
    /// like [`Engine::write`], and the last byte queued becomes the urgent
    /// mark, sent at once with URG on every segment before it. The peer
    /// reads urgent data inline. Returns how many bytes were queued
    /// (`WouldBlock` if none).
    pub fn write_urgent(&mut self, h: Handle, data: &[u8]) -> Result<usize> {
        self.with_tcb(h, |tcb, ctx, pool, stats| {
            let n = tcb.write(ctx, pool, data, stats)?;
            if n > 0 {
                tcb.mark_urgent();
            }
            Ok(n)
        })?
    }

    /// How many bytes remain to be read up to and including the last
    /// urgent byte the peer marked, or `None` when no urgent data is
    /// pending (RFC 9293 MUST-33; `SIOCATMARK` is `Some` turning `None`).
    pub fn urgent_pending(&self, h: Handle) -> Result<Option<usize>> {
        let idx = self.conn_index(h)?;
        let conn = self.conns.get(idx).ok_or(Error::InvalidHandle)?;
        Ok(conn.tcb.urgent_pending())
    }

    /// Zero-copy write: queues the caller's buffer whole, or hands it back
    /// with the reason: `WouldBlock` when it does not fit the send buffer
    /// or a memory limit refuses it (`Writable` follows), `NoBuffers` when
    /// the pool is down to `tcp.pool_reserve`, as for [`Engine::write`]. A
    /// buffer far smaller than its truesize (under an eighth), or any
    /// buffer under memory pressure, is copied onto the send queue's last
    /// buffer when it fits there, and freed.
    pub fn write_buf(
        &mut self,
        h: Handle,
        buf: P::Buf,
    ) -> core::result::Result<(), (Error, P::Buf)> {
        let idx = match self.conn_index(h) {
            Ok(i) => i,
            Err(e) => return Err((e, buf)),
        };
        let pool_low = self.pool_at_reserve();
        let ctx = super::tcb_ctx!(self, pool_low);
        let Some(conn) = self.conns.get_mut(idx) else {
            return Err((Error::InvalidHandle, buf));
        };
        let (result, out) = conn
            .tcb
            .call(|tcb| tcb.write_buf(&ctx, buf, pool_low, &mut self.stats));
        self.after_tcb(idx, out);
        result
    }

    /// Half-closes or fully shuts the connection (contracts 10, 11, 12).
    /// Acts on the connection whatever the number of handles (contract 13).
    pub fn shutdown(&mut self, h: Handle, how: Shutdown) -> Result<()> {
        self.with_tcb(h, |tcb, _, _, _| tcb.shutdown(how))?
    }

    /// Sets linger for `close` (contract 9): `None` (default), `Some(t)`, or
    /// `Some(Duration::ZERO)` for an abortive close.
    pub fn set_linger(&mut self, h: Handle, linger: Option<Duration>) -> Result<()> {
        self.with_tcb(h, |tcb, _, _, _| tcb.linger = linger)
    }

    /// Disables (`true`) or enables Nagle's algorithm (on by default,
    /// `tcp.nodelay`). With Nagle on, a segment shorter than the MSS waits
    /// while another short segment is unacknowledged (Minshall's variant,
    /// as Linux: full segments in flight do not hold a short tail back).
    pub fn set_nodelay(&mut self, h: Handle, nodelay: bool) -> Result<()> {
        self.with_tcb(h, |tcb, _, _, _| tcb.nodelay = nodelay)
    }

    /// Corks (`true`) or uncorks the connection (Linux `TCP_CORK`): while
    /// corked only full segments go out, whatever `nodelay` says, so
    /// several writes leave as few segments; uncorking sends what waited.
    /// A FIN (shutdown, close) sends it too. Unlike Linux there is no
    /// 200 ms ceiling: the application uncorks.
    pub fn set_cork(&mut self, h: Handle, cork: bool) -> Result<()> {
        self.with_tcb(h, |tcb, _, _, _| tcb.cork = cork)
    }

    /// The congestion control algorithm for this connection (the
    /// default is `tcp.congestion`). A connection already sending starts
    /// the new algorithm from its current window and threshold.
    pub fn set_congestion(&mut self, h: Handle, algorithm: CongestionAlgorithm) -> Result<()> {
        self.with_tcb(h, |tcb, ctx, _, _| tcb.set_congestion(ctx, algorithm))
    }

    /// Turns keepalive probing on or off (timing from `tcp.keepalive`).
    pub fn set_keepalive(&mut self, h: Handle, on: bool) -> Result<()> {
        self.with_tcb(h, |tcb, ctx, _, _| {
            tcb.keepalive = on;
            tcb.touch_keepalive(ctx);
        })
    }

    /// Sets how long queued data may wait without any of it being
    /// acknowledged before the connection fails with `TimedOut` (Linux
    /// `TCP_USER_TIMEOUT`): it covers a peer that stops acknowledging and
    /// one that keeps its window closed while answering probes. `None`
    /// turns it off; the default is `tcp.user_timeout_ms`.
    pub fn set_user_timeout(&mut self, h: Handle, timeout: Option<Duration>) -> Result<()> {
        self.with_tcb(h, |tcb, _, _, _| {
            tcb.user_timeout = timeout.unwrap_or(Duration::ZERO);
            for kind in [TimerKind::Rto, TimerKind::Persist] {
                if let Some(at) = tcb.deadlines.get(kind) {
                    tcb.set_send_timer(kind, at);
                }
            }
        })
    }

    /// A second handle on the same connection (contract 13).
    pub fn try_clone(&mut self, h: Handle) -> Result<Handle> {
        let idx = self.conn_index(h)?;
        let handle = self.new_handle(Target::Conn(idx));
        if let Some(conn) = self.conns.get_mut(idx) {
            conn.handles += 1;
        }
        Ok(handle)
    }

    /// Releases the handle (contracts 8, 9, 13). When it was the last one,
    /// the connection closes: RST if unread data remains, else FIN after
    /// the queued data, with linger as set.
    pub fn close(&mut self, h: Handle) -> Result<()> {
        if let Ok(lidx) = self.listener_index(h) {
            return self.close_listener(h, lidx);
        }
        let idx = self.conn_index(h)?;
        self.handles.remove(h.index);
        let ctx = super::tcb_ctx!(self, false);
        let conn = self.conns.get_mut(idx).ok_or(Error::InvalidHandle)?;
        conn.handles -= 1;
        if conn.handles > 0 {
            return Ok(());
        }
        let out = conn.tcb.close(&ctx);
        self.after_tcb(idx, out);
        Ok(())
    }

    /// Abortive close (contract 9c): RST now, both buffers discarded, no
    /// TIME_WAIT; releases the handle.
    pub fn abort(&mut self, h: Handle) -> Result<()> {
        let idx = self.conn_index(h)?;
        self.abort_conn(idx, RstReason::Abort);
        self.close(h)
    }

    fn close_listener(&mut self, h: Handle, lidx: u32) -> Result<()> {
        self.handles.remove(h.index);
        let Some(l) = self.listeners.remove(lidx) else {
            return Ok(());
        };
        // Connections nobody accepted, and half-open ones, are reset.
        let orphans: Vec<u32> = self
            .conns
            .iter()
            .filter(|(_, c)| c.listener == Some(lidx))
            .map(|(i, _)| i)
            .collect();
        for idx in orphans.into_iter().chain(l.accept_queue) {
            if let Some(conn) = self.conns.get_mut(idx) {
                conn.listener = None;
                conn.in_accept_queue = false;
            }
            self.abort_conn(idx, RstReason::ListenerClosed);
            self.after_tcb(idx, Outcome::default());
        }
        Ok(())
    }

    /// The connection's state (RFC 9293 names).
    pub fn state(&self, h: Handle) -> Result<State> {
        let idx = self.conn_index(h)?;
        Ok(self.conns.get(idx).ok_or(Error::InvalidHandle)?.tcb.state)
    }

    /// Everything the application may want to poll (contract 17).
    pub fn readiness(&self, h: Handle) -> Result<Readiness> {
        let idx = self.conn_index(h)?;
        let tcb = &self.conns.get(idx).ok_or(Error::InvalidHandle)?.tcb;
        Ok(Readiness {
            state: tcb.state,
            readable_bytes: tcb.recv.len(),
            peer_closed: tcb.peer_fin,
            writable_bytes: if tcb.write_shut || tcb.reset.is_some() {
                0
            } else {
                tcb.send.free_space()
            },
            error: tcb.reset.map(|c| c.error()),
        })
    }

    /// The sender's state of the connection: windows, RTT, what is in
    /// flight, lost and SACKed.
    pub fn tcp_info(&self, h: Handle) -> Result<TcpInfo> {
        let idx = self.conn_index(h)?;
        let tcb = &self.conns.get(idx).ok_or(Error::InvalidHandle)?.tcb;
        Ok(tcb.info())
    }

    /// Local and remote address of the connection.
    pub fn addresses(&self, h: Handle) -> Result<(SocketAddrV4, SocketAddrV4)> {
        let idx = self.conn_index(h)?;
        let tcb = &self.conns.get(idx).ok_or(Error::InvalidHandle)?.tcb;
        Ok((tcb.local, tcb.remote))
    }
}
