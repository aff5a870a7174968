//! Owning connection handles: a [`Conn`] closes its connection when it is
//! dropped without being closed, as `std::net::TcpStream` does (contract
//! 13), and [`Conn::close`] consumes it (contract 8).
//!
//! A dropped `Conn` cannot reach the engine, so it leaves its handle in a
//! release queue the engine drains at its next driver call. Checking the
//! queue costs one relaxed atomic load; the lock is taken only when
//! something was dropped.

use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::api::{Handle, Result};
use crate::buf::BufferPool;

use super::Engine;

/// Handles dropped without `close`, waiting for the engine.
#[derive(Default)]
pub(crate) struct ReleaseQueue {
    pending: AtomicBool,
    handles: Mutex<Vec<Handle>>,
}

impl ReleaseQueue {
    fn push(&self, h: Handle) {
        // A poisoned lock only means another thread panicked while pushing;
        // the vector itself is still sound.
        let mut handles = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        handles.push(h);
        self.pending.store(true, Ordering::Release);
    }

    fn take(&self, out: &mut Vec<Handle>) {
        // A plain load first: the swap is a locked read-modify-write, too
        // dear for every driver call when (almost always) nothing waits.
        if !self.pending.load(Ordering::Relaxed) || !self.pending.swap(false, Ordering::Acquire) {
            return;
        }
        let mut handles = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        out.append(&mut handles);
    }
}

/// A connection handle that owns its reference to the connection: dropping
/// it closes it (contract 13), `close` consumes it (contract 8).
///
/// The engine's calls take the plain [`Handle`] ([`Conn::handle`]); a
/// `Conn` only adds the ownership.
#[must_use = "dropping a Conn closes the connection"]
pub struct Conn {
    handle: Handle,
    // `None` once the handle was given up with `into_raw`.
    release: Option<Arc<ReleaseQueue>>,
}

impl Conn {
    /// The handle to pass to the engine's calls.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// Closes this reference (contract 8): the connection closes when it
    /// was the last one.
    pub fn close<P: BufferPool>(self, engine: &mut Engine<P>) -> Result<()> {
        engine.close(self.into_raw())
    }

    /// Abortive close (contract 9c): RST now.
    pub fn abort<P: BufferPool>(self, engine: &mut Engine<P>) -> Result<()> {
        engine.abort(self.into_raw())
    }

    /// A second owning reference to the same connection (contract 13).
    pub fn try_clone<P: BufferPool>(&self, engine: &mut Engine<P>) -> Result<Conn> {
        let h = engine.try_clone(self.handle)?;
        Ok(engine.adopt(h))
    }

    /// The connection as a non-blocking [`std::io::Read`] and
    /// [`std::io::Write`] on `engine`: `WouldBlock` comes back as
    /// [`std::io::ErrorKind::WouldBlock`], end of stream as `Ok(0)`, the
    /// other errors as their kinds (`From<Error> for io::Error`). For code
    /// on the engine's core; application threads use the runtime's
    /// blocking stream instead.
    pub fn io<'a, P: BufferPool>(&self, engine: &'a mut Engine<P>) -> Stream<'a, P> {
        Stream {
            engine,
            handle: self.handle,
        }
    }

    /// Gives up ownership: the raw handle must then be closed by hand.
    pub fn into_raw(mut self) -> Handle {
        self.release = None;
        self.handle
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(queue) = self.release.take() {
            queue.push(self.handle);
        }
    }
}

impl core::fmt::Debug for Conn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Conn({})", self.handle)
    }
}

/// A connection and its engine as a non-blocking byte stream
/// ([`Conn::io`], [`Engine::io`]).
pub struct Stream<'a, P: BufferPool> {
    engine: &'a mut Engine<P>,
    handle: Handle,
}

impl<P: BufferPool> std::io::Read for Stream<'_, P> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Ok(self.engine.read(self.handle, buf)?)
    }
}

impl<P: BufferPool> std::io::Write for Stream<'_, P> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(self.engine.write(self.handle, buf)?)
    }

    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        // One pass: what fits of each slice in turn, stopping at the
        // first that does not fit whole (so the count stays a prefix).
        let mut total = 0;
        for b in bufs.iter().filter(|b| !b.is_empty()) {
            match self.engine.write(self.handle, b) {
                Ok(n) => {
                    total += n;
                    if n < b.len() {
                        break;
                    }
                }
                Err(_) if total > 0 => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(total)
    }

    /// Nothing to do: the engine sends queued data as the windows allow
    /// (`set_nodelay` and `set_cork` decide about small segments).
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<P: BufferPool> Engine<P> {
    /// The connection `h` as a non-blocking [`std::io::Read`] and
    /// [`std::io::Write`] (see [`Conn::io`]).
    pub fn io(&mut self, h: Handle) -> Stream<'_, P> {
        Stream {
            engine: self,
            handle: h,
        }
    }

    fn adopt(&self, handle: Handle) -> Conn {
        Conn {
            handle,
            release: Some(Arc::clone(&self.release)),
        }
    }

    /// [`Engine::connect`], returning an owning handle.
    pub fn connect_owned(&mut self, remote: SocketAddrV4) -> Result<Conn> {
        let h = self.connect(remote)?;
        Ok(self.adopt(h))
    }

    /// [`Engine::accept`], returning an owning handle.
    pub fn accept_owned(&mut self, listener: Handle) -> Result<(Conn, SocketAddrV4)> {
        let (h, remote) = self.accept(listener)?;
        Ok((self.adopt(h), remote))
    }

    /// Takes ownership of a raw connection handle.
    pub fn own(&mut self, h: Handle) -> Result<Conn> {
        self.state(h)?;
        Ok(self.adopt(h))
    }

    /// Closes the handles of `Conn`s dropped since the last call. Called on
    /// every driver call: the common case is one relaxed load, inlined.
    #[inline]
    pub(super) fn release_dropped(&mut self) {
        if self.release.pending.load(Ordering::Relaxed) {
            self.release_dropped_slow();
        }
    }

    #[cold]
    fn release_dropped_slow(&mut self) {
        let mut dropped = Vec::new();
        self.release.take(&mut dropped);
        for h in dropped {
            // Already closed through another path: nothing to do.
            let _ = self.close(h);
        }
    }
}
