//! The engine's side: [`Host::poll`], called from the engine's loop, serves
//! the requests of application threads, moves bytes between the engine
//! and the sockets' queues, and turns the engine's events into socket
//! state. It never blocks and takes no lock (except, to wake threads that
//! wait, the notifier's).

use std::net::SocketAddrV4;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use stack::{BufferPool, Engine, Error, EventKind, Handle, Shutdown};

use crate::shared::{flag, pack_addr, Shared, CHUNK};
use crate::{Inner, Op, Reply, Request};

/// The engine's bookkeeping for one socket.
struct Entry {
    handle: Handle,
    shared: Arc<Shared>,
    /// The chunk being written into the engine, and how much of it went.
    tx_partial: Option<(Vec<u8>, usize)>,
    /// `shutdown(Write)` waits for the queued bytes to reach the engine.
    shut_write: bool,
    /// `close` waits for the queued bytes to reach the engine.
    closing: bool,
    /// A `close` with linger set: answered when the outcome is known.
    linger_reply: Option<Arc<Reply>>,
    linger: Option<Duration>,
}

/// The engine's side of a set of sockets. Create it with
/// [`crate::Sockets::new`]; call [`Host::poll`] in every iteration of the
/// engine's loop.
pub struct Host {
    inner: Arc<Inner>,
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    scratch: Box<[u8]>,
}

/// Requests served per poll, so one busy thread cannot stall the loop.
const REQUESTS_PER_POLL: usize = 256;

impl Host {
    pub(crate) fn new(inner: Arc<Inner>) -> Host {
        Host {
            inner,
            entries: Vec::new(),
            free: Vec::new(),
            scratch: vec![0u8; CHUNK].into_boxed_slice(),
        }
    }

    /// Serves the sockets on `engine`: call once per loop iteration, after
    /// the engine took the received frames and before it is asked for
    /// frames to send. Returns whether it did anything. The host is the
    /// engine's only application: it takes every event.
    pub fn poll<P: BufferPool>(&mut self, engine: &mut Engine<P>) -> bool {
        let mut changed = false;
        for _ in 0..REQUESTS_PER_POLL {
            let Some(req) = self.inner.requests.pop() else {
                break;
            };
            self.serve(engine, req);
            changed = true;
        }
        while let Some(shared) = self.inner.kicks.pop() {
            shared.kicked.store(false, Ordering::Release);
            let id = shared.id.load(Ordering::Acquire);
            self.pump(engine, id);
            changed = true;
        }
        while let Some(ev) = engine.poll_event() {
            changed = true;
            let id = ev.token as u32;
            // An event raised before its socket was closed and its slot
            // reused names another handle: not this socket's.
            if self.entry(id).is_none_or(|e| e.handle != ev.handle) {
                continue;
            }
            match ev.kind {
                EventKind::Acceptable => self.accept(engine, id),
                EventKind::Connected => {
                    if let Some(e) = self.entry(id) {
                        e.shared.set(flag::CONNECTED);
                    }
                    self.pump(engine, id);
                }
                EventKind::Readable | EventKind::Writable | EventKind::PeerClosed => {
                    self.pump(engine, id)
                }
                EventKind::Reset { cause } => {
                    if let Some(e) = self.entry(id) {
                        e.shared.fail(cause.error().errno());
                        if let Some(r) = e.linger_reply.take() {
                            r.finish(Err(cause.error().errno()));
                        }
                    }
                    self.pump(engine, id);
                }
                EventKind::Closed { outcome } => {
                    if let Some(e) = self.entry(id) {
                        if let Some(r) = e.linger_reply.take() {
                            let ok = outcome == stack::CloseOutcome::Graceful;
                            // As Linux: a linger that ran out still closes;
                            // the caller learns nothing was confirmed.
                            r.finish(if ok {
                                Ok(0)
                            } else {
                                Err(Error::TimedOut.errno())
                            });
                        }
                    }
                    self.forget(id);
                }
                _ => {}
            }
        }
        if changed {
            self.inner.notify.wake();
        }
        changed
    }

    /// Runs `f` on the engine's thread with the sockets usable from it
    /// (run-to-completion: an application that lives in the engine's loop
    /// instead of threads of its own). During `f`, calls that need the
    /// engine are served at once, in the calling thread, and no call
    /// waits: a call that would block returns `WouldBlock` (every socket
    /// acts as non-blocking). Bytes move at the next [`Host::poll`].
    pub fn run_inline<P: BufferPool, T>(
        &mut self,
        engine: &mut Engine<P>,
        f: impl FnOnce() -> T,
    ) -> T {
        let mut serve = |req: Request| self.serve(engine, req);
        let serve: &mut dyn FnMut(Request) = &mut serve;
        // SAFETY: only the lifetime is erased. The pointer lives in this
        // thread's slot while `f` runs and is taken out before `serve`
        // (which borrows self and engine) goes, also on unwinding (the
        // guard); nothing else borrows self or engine meanwhile.
        let serve: *mut (dyn FnMut(Request) + 'static) = unsafe { std::mem::transmute(serve) };
        crate::INLINE.with(|slot| slot.set(Some(serve)));
        struct Clear;
        impl Drop for Clear {
            fn drop(&mut self) {
                crate::INLINE.with(|slot| slot.set(None));
            }
        }
        let _clear = Clear;
        let out = f();
        self.inner.notify.wake();
        out
    }

    fn entry(&mut self, id: u32) -> Option<&mut Entry> {
        self.entries.get_mut(id as usize)?.as_mut()
    }

    fn file(&mut self, entry: Entry) -> u32 {
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.entries.push(None);
                (self.entries.len() - 1) as u32
            }
        };
        entry.shared.id.store(id, Ordering::Release);
        self.entries[id as usize] = Some(entry);
        id
    }

    fn forget(&mut self, id: u32) {
        if let Some(slot) = self.entries.get_mut(id as usize) {
            if slot.take().is_some() {
                self.free.push(id);
            }
        }
    }

    fn serve<P: BufferPool>(&mut self, engine: &mut Engine<P>, req: Request) {
        let Request { sock, op, reply } = req;
        let id = sock.id.load(Ordering::Acquire);
        let result = match op {
            Op::Listen { port, backlog } => engine.listen(port, backlog).map(|h| {
                let local = SocketAddrV4::new(engine.config().address.address, port);
                sock.local.store(pack_addr(local), Ordering::Release);
                self.register(engine, h, sock);
                0
            }),
            Op::Connect { remote, local_port } => {
                let opened = match local_port {
                    0 => engine.connect(remote),
                    port => engine.connect_from(port, remote),
                };
                opened.map(|h| {
                    if let Ok((local, remote)) = engine.addresses(h) {
                        sock.local.store(pack_addr(local), Ordering::Release);
                        sock.remote.store(pack_addr(remote), Ordering::Release);
                    }
                    self.register(engine, h, sock);
                    0
                })
            }
            Op::Shutdown(how) => self.shutdown(engine, id, how),
            Op::Close => return self.close(engine, id, reply, false),
            Op::Abort => return self.close(engine, id, reply, true),
            Op::SetNodelay(on) => self.with_handle(id, |h| engine.set_nodelay(h, on)),
            Op::SetKeepalive(on) => self.with_handle(id, |h| engine.set_keepalive(h, on)),
            Op::SetLinger(linger) => {
                if let Some(e) = self.entry(id) {
                    e.linger = linger;
                }
                self.with_handle(id, |h| engine.set_linger(h, linger))
            }
        };
        reply.finish(result.map_err(Error::errno));
    }

    fn with_handle(
        &mut self,
        id: u32,
        f: impl FnOnce(Handle) -> stack::Result<()>,
    ) -> stack::Result<u64> {
        let h = self.entry(id).ok_or(Error::InvalidHandle)?.handle;
        f(h).map(|()| 0)
    }

    fn register<P: BufferPool>(&mut self, engine: &mut Engine<P>, h: Handle, shared: Arc<Shared>) {
        let id = self.file(Entry {
            handle: h,
            shared,
            tx_partial: None,
            shut_write: false,
            closing: false,
            linger_reply: None,
            linger: None,
        });
        let _ = engine.set_token(h, u64::from(id));
    }

    /// Takes what the listener's engine queue holds, as far as the
    /// socket's backlog has room.
    fn accept<P: BufferPool>(&mut self, engine: &mut Engine<P>, id: u32) {
        let Some(e) = self.entry(id) else {
            return;
        };
        let (lh, listener) = (e.handle, Arc::clone(&e.shared));
        listener.touch();
        let rx_chunks = self.inner.rx_chunks;
        while !listener.accepted.is_full() {
            let Ok((h, remote)) = engine.accept(lh) else {
                break;
            };
            let sndbuf = self.inner.sndbuf.load(Ordering::Relaxed);
            let conn = Arc::new(Shared::connection(u32::MAX, rx_chunks, sndbuf));
            conn.set(flag::CONNECTED);
            if let Ok((local, _)) = engine.addresses(h) {
                conn.local.store(pack_addr(local), Ordering::Release);
            }
            conn.remote.store(pack_addr(remote), Ordering::Release);
            self.register(engine, h, Arc::clone(&conn));
            let cid = conn.id.load(Ordering::Acquire);
            self.pump(engine, cid);
            // Room was checked above; a full queue cannot happen here.
            let _ = listener.accepted.push((conn, remote));
        }
    }

    fn shutdown<P: BufferPool>(
        &mut self,
        engine: &mut Engine<P>,
        id: u32,
        how: Shutdown,
    ) -> stack::Result<u64> {
        let e = self.entry(id).ok_or(Error::InvalidHandle)?;
        let h = e.handle;
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            engine.shutdown(h, Shutdown::Read)?;
            while let Some(c) = e.shared.rx.pop() {
                e.shared.rx_bytes.fetch_sub(c.len(), Ordering::AcqRel);
            }
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            e.shut_write = true;
            self.pump(engine, id);
        }
        Ok(0)
    }

    /// `close` (or `abort`): the queued bytes go to the engine first, so a
    /// graceful close sends them before the FIN (contract 8b); received
    /// bytes nobody read mean RST (contract 8a).
    fn close<P: BufferPool>(
        &mut self,
        engine: &mut Engine<P>,
        id: u32,
        reply: Arc<Reply>,
        abort: bool,
    ) {
        let Some(e) = self.entry(id) else {
            return reply.finish(Err(Error::InvalidHandle.errno()));
        };
        let h = e.handle;
        if e.shared.has(flag::LISTENER) {
            // Connections accepted by the engine but never by the
            // application go with it, reset (as Linux resets a closed
            // listener's queue).
            let shared = Arc::clone(&e.shared);
            let _ = engine.close(h);
            self.forget(id);
            while let Some((conn, _)) = shared.accepted.pop() {
                let cid = conn.id.load(Ordering::Acquire);
                if let Some(c) = self.entry(cid) {
                    let _ = engine.abort(c.handle);
                }
                self.forget(cid);
            }
            return reply.finish(Ok(0));
        }
        let unread = !e.shared.rx.is_empty();
        if abort || unread {
            let _ = engine.abort(h);
            self.forget(id);
            return reply.finish(Ok(0));
        }
        e.closing = true;
        if e.linger.is_some_and(|t| !t.is_zero()) {
            e.linger_reply = Some(reply);
        } else {
            reply.finish(Ok(0));
        }
        self.pump(engine, id);
    }

    /// Moves bytes: queued ones into the engine, received ones out of it;
    /// then carries out a pending shutdown or close once the queue is
    /// empty.
    fn pump<P: BufferPool>(&mut self, engine: &mut Engine<P>, id: u32) {
        if self.entry(id).is_some_and(|e| e.shared.has(flag::LISTENER)) {
            return self.accept(engine, id);
        }
        let Some(e) = self.entries.get_mut(id as usize).and_then(Option::as_mut) else {
            return;
        };
        let h = e.handle;
        let shared = Arc::clone(&e.shared);
        shared.touch();
        // Send side.
        if shared.has(flag::CONNECTED) {
            loop {
                let (chunk, off) = match e.tx_partial.take() {
                    Some(p) => p,
                    None => match shared.tx.pop() {
                        Some(c) => (c, 0),
                        None => break,
                    },
                };
                match engine.write(h, &chunk[off..]) {
                    Ok(n) => {
                        shared.tx_bytes.fetch_sub(n, Ordering::AcqRel);
                        if off + n < chunk.len() {
                            e.tx_partial = Some((chunk, off + n));
                            break;
                        }
                    }
                    Err(Error::WouldBlock) | Err(Error::NoBuffers) => {
                        e.tx_partial = Some((chunk, off));
                        break;
                    }
                    Err(err) => {
                        shared.fail(err.errno());
                        break;
                    }
                }
            }
        }
        let drained = e.tx_partial.is_none() && shared.tx.is_empty();
        if drained && e.shut_write {
            e.shut_write = false;
            let _ = engine.shutdown(h, Shutdown::Write);
        }
        if drained && e.closing {
            let lingering = e.linger_reply.is_some();
            let _ = engine.close(h);
            if !lingering {
                self.forget(id);
            }
            return;
        }
        // Receive side.
        if shared.has(flag::READ_SHUT) {
            return;
        }
        shared.clear(flag::RX_STALLED);
        loop {
            if shared.rx.is_full() {
                shared.set(flag::RX_STALLED);
                break;
            }
            match engine.read(h, &mut self.scratch) {
                Ok(0) => {
                    shared.set(flag::EOF);
                    break;
                }
                Ok(n) => {
                    shared.rx_bytes.fetch_add(n, Ordering::AcqRel);
                    // Room was checked above, and only this thread pushes.
                    let _ = shared.rx.push(self.scratch[..n].to_vec());
                }
                Err(Error::WouldBlock) | Err(Error::NotConnected) => break,
                Err(err) => {
                    shared.fail(err.errno());
                    break;
                }
            }
        }
    }
}
