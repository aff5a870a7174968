//! The application's socket types: [`TcpStream`] and [`TcpListener`].

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use stack::{Error, Shutdown};

use crate::shared::{flag, unpack_addr, Shared, CHUNK};
use crate::{errno_error, Op, Sockets};

/// What a socket is ready for, as `poll` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ready {
    /// A read (or accept) would not block.
    pub readable: bool,
    /// A write would not block.
    pub writable: bool,
    /// The peer closed its side (EPOLLRDHUP).
    pub peer_closed: bool,
    /// The connection failed (EPOLLERR); `take_error` tells why.
    pub error: bool,
}

/// A connection, for application threads: blocking by default, or
/// non-blocking ([`TcpStream::set_nonblocking`]). Reads and writes take
/// `&self`, so threads may share it as they share a `std::net::TcpStream`.
/// Dropping it closes the connection (contract 13).
pub struct TcpStream {
    sockets: Sockets,
    sock: Arc<Shared>,
    /// The chunk a read stopped inside of, and where.
    rx_partial: Mutex<Option<(Vec<u8>, usize)>>,
    nonblocking: AtomicBool,
    /// The failure was reported by a write already: later writes see
    /// `BrokenPipe` (contract 3).
    error_reported: AtomicBool,
    /// Read and write timeouts in nanoseconds (0: none).
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
    /// `close` or `abort` ran: the drop has nothing left to do.
    closed: AtomicBool,
}

fn deadline(nanos: u64) -> Option<Instant> {
    (nanos != 0).then(|| Instant::now() + Duration::from_nanos(nanos))
}

fn timeout_nanos(t: Option<Duration>) -> io::Result<u64> {
    match t {
        Some(d) if d.is_zero() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a zero timeout is not allowed",
        )),
        Some(d) => Ok(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        None => Ok(0),
    }
}

impl TcpStream {
    pub(crate) fn new(sockets: Sockets, sock: Arc<Shared>) -> TcpStream {
        TcpStream {
            sockets,
            sock,
            rx_partial: Mutex::new(None),
            nonblocking: AtomicBool::new(false),
            error_reported: AtomicBool::new(false),
            read_timeout: AtomicU64::new(0),
            write_timeout: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// Waits until the handshake completed (`Ok`) or failed.
    pub(crate) fn wait_connected(&self, timeout: Option<Duration>) -> io::Result<()> {
        let until = timeout.map(|t| Instant::now() + t);
        let s = &self.sock;
        let done = self
            .sockets
            .wait_until(until, || s.has(flag::CONNECTED | flag::ERROR));
        if let Some(errno) = s.errno() {
            return Err(errno_error(errno));
        }
        if !done {
            return Err(Error::TimedOut.into());
        }
        Ok(())
    }

    /// Non-blocking mode: calls that would wait return `WouldBlock`.
    pub fn set_nonblocking(&self, on: bool) {
        self.nonblocking.store(on, Ordering::Relaxed);
    }

    /// Whether the stream is non-blocking.
    pub fn is_nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    /// How long a blocking read waits (`None`: for ever).
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.read_timeout
            .store(timeout_nanos(t)?, Ordering::Relaxed);
        Ok(())
    }

    /// How long a blocking write waits (`None`: for ever).
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.write_timeout
            .store(timeout_nanos(t)?, Ordering::Relaxed);
        Ok(())
    }

    /// `TCP_NODELAY`.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.sockets.call(&self.sock, Op::SetNodelay(on)).map(drop)
    }

    /// `SO_KEEPALIVE`.
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        self.sockets
            .call(&self.sock, Op::SetKeepalive(on))
            .map(drop)
    }

    /// `SO_LINGER` (contract 9): with `Some(t)`, t > 0, dropping the
    /// stream waits until everything was acknowledged or t ran out; with
    /// `Some(0)`, dropping it resets the connection.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.sockets
            .call(&self.sock, Op::SetLinger(linger))
            .map(drop)
    }

    /// `SO_SNDBUF`: how many bytes may wait for the engine's thread.
    pub fn set_send_buffer(&self, bytes: usize) {
        self.sock.tx_limit.store(bytes.max(1), Ordering::Relaxed);
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        unpack_addr(self.sock.local.load(Ordering::Acquire))
            .ok_or_else(|| Error::NotConnected.into())
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddrV4> {
        unpack_addr(self.sock.remote.load(Ordering::Acquire))
            .ok_or_else(|| Error::NotConnected.into())
    }

    /// `SO_ERROR`: why the connection failed, if it did.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(self.sock.errno().map(errno_error))
    }

    /// Half-close or stop reading (contracts 10, 11, 12).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.sock.set(flag::READ_SHUT);
            let dropped = self
                .rx_partial
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some((chunk, off)) = dropped {
                self.sock
                    .rx_bytes
                    .fetch_sub(chunk.len() - off, Ordering::AcqRel);
            }
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            self.sock.set(flag::WRITE_SHUT);
        }
        self.sockets.call(&self.sock, Op::Shutdown(how)).map(drop)
    }

    /// Closes with RST now, whatever is queued (contract 9c).
    pub fn abort(self) -> io::Result<()> {
        self.closed.store(true, Ordering::Relaxed);
        self.sockets.call(&self.sock, Op::Abort).map(drop)
    }

    /// Closes the connection (contract 8), reporting what linger reports
    /// (`TimedOut` when the linger time ran out and RST went instead).
    pub fn close(self) -> io::Result<()> {
        self.closed.store(true, Ordering::Relaxed);
        self.sockets.call(&self.sock, Op::Close).map(drop)
    }

    /// Bytes a read would return now (`FIONREAD`).
    pub fn readable_bytes(&self) -> usize {
        self.sock.rx_bytes.load(Ordering::Acquire)
    }

    /// A counter that moves whenever the engine changes the stream (bytes
    /// in or out, state): with [`TcpStream::ready`], edge-triggered
    /// readiness.
    pub fn changes(&self) -> u32 {
        self.sock.changes.load(Ordering::Acquire)
    }

    /// What the stream is ready for now.
    pub fn ready(&self) -> Ready {
        let s = &self.sock;
        let partial = self
            .rx_partial
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        let error = s.has(flag::ERROR);
        Ready {
            readable: partial || !s.rx.is_empty() || s.has(flag::EOF | flag::READ_SHUT) || error,
            writable: (s.has(flag::CONNECTED)
                && s.tx_bytes.load(Ordering::Acquire) < s.tx_limit.load(Ordering::Relaxed))
                || error
                || s.has(flag::WRITE_SHUT),
            peer_closed: s.has(flag::EOF),
            error,
        }
    }

    /// Copies what is queued into `bufs`; returns the count (0: nothing).
    fn take_bytes(&self, bufs: &mut [IoSliceMut<'_>]) -> usize {
        let mut partial = self
            .rx_partial
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut total = 0;
        for buf in bufs.iter_mut() {
            let mut filled = 0;
            while filled < buf.len() {
                let (chunk, off) = match partial.take() {
                    Some(p) => p,
                    None => match self.sock.rx.pop() {
                        Some(c) => (c, 0),
                        None => break,
                    },
                };
                let n = (chunk.len() - off).min(buf.len() - filled);
                buf[filled..filled + n].copy_from_slice(&chunk[off..off + n]);
                self.sock.rx_bytes.fetch_sub(n, Ordering::AcqRel);
                filled += n;
                if off + n < chunk.len() {
                    *partial = Some((chunk, off + n));
                }
            }
            total += filled;
            if filled < buf.len() {
                break;
            }
        }
        total
    }

    /// A read that waits (`block`) or not, whatever the stream's mode
    /// (`MSG_DONTWAIT`).
    pub fn read_with(&self, bufs: &mut [IoSliceMut<'_>], block: bool) -> io::Result<usize> {
        self.read_any(bufs, !block)
    }

    /// A write that waits (`block`) or not, whatever the stream's mode.
    pub fn write_with(&self, bufs: &[IoSlice<'_>], block: bool) -> io::Result<usize> {
        self.write_any(bufs, !block)
    }

    fn read_any(&self, bufs: &mut [IoSliceMut<'_>], nonblocking: bool) -> io::Result<usize> {
        let nonblocking = nonblocking || crate::in_engine_thread();
        if bufs.iter().all(|b| b.is_empty()) {
            return Ok(0);
        }
        let until = deadline(self.read_timeout.load(Ordering::Relaxed));
        loop {
            let s = &self.sock;
            if s.has(flag::READ_SHUT) {
                return Ok(0);
            }
            // Contract 6: a reset is reported at once.
            if let Some(errno) = s.errno() {
                return Err(errno_error(errno));
            }
            let n = self.take_bytes(bufs);
            if n > 0 {
                if s.has(flag::RX_STALLED) {
                    self.sockets.kick(s);
                }
                return Ok(n);
            }
            if s.has(flag::EOF) && s.rx.is_empty() {
                return Ok(0);
            }
            if nonblocking {
                return Err(Error::WouldBlock.into());
            }
            let ready = self.sockets.wait_until(until, || {
                !s.rx.is_empty() || s.has(flag::EOF | flag::ERROR | flag::READ_SHUT)
            });
            if !ready {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out"));
            }
        }
    }

    fn write_any(&self, bufs: &[IoSlice<'_>], nonblocking: bool) -> io::Result<usize> {
        let nonblocking = nonblocking || crate::in_engine_thread();
        let want: usize = bufs.iter().map(|b| b.len()).sum();
        if want == 0 {
            return Ok(0);
        }
        let until = deadline(self.write_timeout.load(Ordering::Relaxed));
        let s = &self.sock;
        loop {
            if s.has(flag::WRITE_SHUT) {
                return Err(Error::BrokenPipe.into());
            }
            if let Some(errno) = s.errno() {
                return Err(if self.error_reported.swap(true, Ordering::AcqRel) {
                    Error::BrokenPipe.into()
                } else {
                    errno_error(errno)
                });
            }
            let limit = s.tx_limit.load(Ordering::Relaxed);
            let queued = s.tx_bytes.load(Ordering::Acquire);
            if s.has(flag::CONNECTED) && queued < limit {
                let n = self.queue(bufs, limit - queued);
                if n > 0 {
                    self.sockets.kick(s);
                    return Ok(n);
                }
            }
            if nonblocking {
                return Err(Error::WouldBlock.into());
            }
            let ready = self.sockets.wait_until(until, || {
                s.has(flag::ERROR | flag::WRITE_SHUT)
                    || (s.has(flag::CONNECTED)
                        && s.tx_bytes.load(Ordering::Acquire) < s.tx_limit.load(Ordering::Relaxed)
                        && !s.tx.is_full())
            });
            if !ready {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out"));
            }
        }
    }

    /// Queues up to `room` bytes of `bufs` in chunks; returns how many.
    fn queue(&self, bufs: &[IoSlice<'_>], room: usize) -> usize {
        let s = &self.sock;
        let mut queued = 0;
        let mut chunk = Vec::new();
        for b in bufs {
            let mut rest: &[u8] = b;
            while !rest.is_empty() && queued + chunk.len() < room {
                if chunk.capacity() == 0 {
                    chunk.reserve_exact(CHUNK.min(room - queued));
                }
                let take = rest
                    .len()
                    .min(CHUNK - chunk.len())
                    .min(room - queued - chunk.len());
                chunk.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if chunk.len() == CHUNK {
                    let full = std::mem::take(&mut chunk);
                    let len = full.len();
                    if s.tx.push(full).is_err() {
                        return queued;
                    }
                    s.tx_bytes.fetch_add(len, Ordering::AcqRel);
                    queued += len;
                }
            }
        }
        if !chunk.is_empty() {
            let len = chunk.len();
            if s.tx.push(chunk).is_ok() {
                s.tx_bytes.fetch_add(len, Ordering::AcqRel);
                queued += len;
            }
        }
        queued
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_any(&mut [IoSliceMut::new(buf)], self.is_nonblocking())
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.read_any(bufs, self.is_nonblocking())
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_any(&[IoSlice::new(buf)], self.is_nonblocking())
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_any(bufs, self.is_nonblocking())
    }

    /// Nothing to do: queued bytes go to the engine as soon as its thread
    /// runs, and out as the windows allow.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        if !self.closed.load(Ordering::Relaxed) {
            let _ = self.sockets.call(&self.sock, Op::Close);
        }
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

/// A listening socket, for application threads. Dropping it stops
/// listening.
pub struct TcpListener {
    sockets: Sockets,
    sock: Arc<Shared>,
    nonblocking: AtomicBool,
}

impl TcpListener {
    pub(crate) fn new(sockets: Sockets, sock: Arc<Shared>) -> TcpListener {
        TcpListener {
            sockets,
            sock,
            nonblocking: AtomicBool::new(false),
        }
    }

    /// Non-blocking mode: `accept` returns `WouldBlock` when none waits.
    pub fn set_nonblocking(&self, on: bool) {
        self.nonblocking.store(on, Ordering::Relaxed);
    }

    /// Whether `accept` is non-blocking.
    pub fn is_nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    /// The address listened on.
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        unpack_addr(self.sock.local.load(Ordering::Acquire))
            .ok_or_else(|| Error::NotConnected.into())
    }

    /// See [`TcpStream::changes`].
    pub fn changes(&self) -> u32 {
        self.sock.changes.load(Ordering::Acquire)
    }

    /// Whether a connection waits to be accepted.
    pub fn ready(&self) -> Ready {
        Ready {
            readable: !self.sock.accepted.is_empty(),
            ..Ready::default()
        }
    }

    /// The next connection, waiting for one unless non-blocking.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddrV4)> {
        loop {
            if let Some((sock, remote)) = self.sock.accepted.pop() {
                // Room in the backlog again: the engine may hand over more.
                self.sockets.kick(&self.sock);
                return Ok((TcpStream::new(self.sockets.clone(), sock), remote));
            }
            if self.nonblocking.load(Ordering::Relaxed) || crate::in_engine_thread() {
                return Err(Error::WouldBlock.into());
            }
            let s = &self.sock;
            self.sockets.wait_until(None, || !s.accepted.is_empty());
        }
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let _ = self.sockets.call(&self.sock, Op::Close);
    }
}
