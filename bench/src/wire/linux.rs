//! The Linux baseline: the same workloads through the kernel's TCP
//! (`std::net`), client and server in one process on two threads, over
//! loopback (or any address the server side listens on).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Echo and discard servers on two threads (plus one per connection).
pub struct Servers {
    /// Where the echo server listens.
    pub echo: SocketAddr,
    /// Where the discard server listens.
    pub discard: SocketAddr,
    /// Where the connect-request-response server listens: one connection
    /// at a time on its accept thread (no thread start per connection).
    pub crr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loops.
        let _ = TcpStream::connect(self.echo);
        let _ = TcpStream::connect(self.discard);
        let _ = TcpStream::connect(self.crr);
    }
}

fn serve_sequentially(listener: TcpListener, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        for conn in listener.incoming() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_nodelay(true);
            // Echo until the client closes, then close: the same order of
            // closes as the stack's crr.
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 || conn.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
}

fn serve(listener: TcpListener, echo: bool, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_nodelay(true);
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) if echo => {
                            if conn.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
}

/// Fixed ports of the servers `wire linux-server` runs (echo, discard,
/// connect-request-response), so a client elsewhere can find them.
pub const FIXED_PORTS: [u16; 3] = [7, 9, 13];

/// Starts echo, discard and crr servers on `ip`: on `ports` (echo,
/// discard, crr), or on ports the kernel picks when `ports` is `None`.
pub fn servers_on(ip: std::net::IpAddr, ports: Option<[u16; 3]>) -> std::io::Result<Servers> {
    let [pe, pd, pc] = ports.unwrap_or([0, 0, 0]);
    let stop = Arc::new(AtomicBool::new(false));
    let e = TcpListener::bind((ip, pe))?;
    let d = TcpListener::bind((ip, pd))?;
    let c = TcpListener::bind((ip, pc))?;
    let s = Servers {
        echo: e.local_addr()?,
        discard: d.local_addr()?,
        crr: c.local_addr()?,
        stop: Arc::clone(&stop),
    };
    serve(e, true, Arc::clone(&stop));
    serve(d, false, Arc::clone(&stop));
    serve_sequentially(c, stop);
    Ok(s)
}

/// Starts the servers on `ip`, on ports the kernel picks.
pub fn servers(ip: std::net::IpAddr) -> std::io::Result<Servers> {
    servers_on(ip, None)
}

/// Closed-loop request/response over `conns` connections, all driven by
/// one thread with non-blocking sockets (busy polling, as the stack's
/// loop does). Returns (latency histogram in ns, requests per second).
pub fn request_response(
    echo: SocketAddr,
    conns: usize,
    size: usize,
    warmup: Duration,
    measure: Duration,
) -> std::io::Result<(Histogram<u64>, f64)> {
    let conns = (0..conns)
        .map(|_| TcpStream::connect(echo))
        .collect::<std::io::Result<Vec<_>>>()?;
    request_response_on(conns, size, warmup, measure)
}

/// [`request_response`] over connections already open.
pub fn request_response_on(
    conns: Vec<TcpStream>,
    size: usize,
    warmup: Duration,
    measure: Duration,
) -> std::io::Result<(Histogram<u64>, f64)> {
    let mut streams = Vec::with_capacity(conns.len());
    for s in conns {
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        streams.push((s, 0usize, Instant::now()));
    }
    let msg = vec![0x61u8; size];
    let mut buf = vec![0u8; size.max(2048)];
    let mut hist = super::client::histogram();
    let start = Instant::now();
    let (measure_from, end) = (start + warmup, start + warmup + measure);
    let mut completed = 0u64;
    for s in &mut streams {
        s.2 = Instant::now();
        s.0.write_all(&msg)?;
    }
    'outer: loop {
        for s in &mut streams {
            match s.0.read(&mut buf) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    s.1 += n;
                    if s.1 >= size {
                        let now = Instant::now();
                        if now > measure_from {
                            let _ = hist.record((now - s.2).as_nanos().max(1) as u64);
                            completed += 1;
                        }
                        if now > end {
                            break 'outer;
                        }
                        s.1 = 0;
                        s.2 = Instant::now();
                        s.0.write_all(&msg)?;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok((hist, completed as f64 / measure.as_secs_f64()))
}

/// One connection: one way to discard (`both_ways` false: writes for
/// `measure`, then waits for the server to have read all) or both ways
/// through echo (a reader thread counts what comes back). Gbit/s per
/// direction.
pub fn bulk(server: SocketAddr, both_ways: bool, measure: Duration) -> std::io::Result<f64> {
    bulk_on(TcpStream::connect(server)?, both_ways, measure)
}

/// [`bulk`] over a connection already open.
pub fn bulk_on(mut s: TcpStream, both_ways: bool, measure: Duration) -> std::io::Result<f64> {
    let chunk = vec![0x5au8; 256 * 1024];
    let start = Instant::now();
    if both_ways {
        let mut r = s.try_clone()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            let mut got = 0u64;
            while !stop2.load(Ordering::Relaxed) {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n as u64,
                }
            }
            got
        });
        while start.elapsed() < measure {
            s.write_all(&chunk)?;
        }
        stop.store(true, Ordering::Relaxed);
        let secs = start.elapsed().as_secs_f64();
        let _ = s.shutdown(std::net::Shutdown::Both);
        let got = reader.join().unwrap_or(0);
        return Ok(got as f64 * 8.0 / secs / 1e9);
    }
    let mut sent = 0u64;
    while start.elapsed() < measure {
        s.write_all(&chunk)?;
        sent += chunk.len() as u64;
    }
    s.shutdown(std::net::Shutdown::Write)?;
    // The discard server closes after reading everything.
    let mut buf = [0u8; 16];
    let _ = s.read(&mut buf);
    Ok(sent as f64 * 8.0 / start.elapsed().as_secs_f64() / 1e9)
}

/// Connect, request, response, close, in a loop for `measure`;
/// connections per second.
pub fn connect_request_response(
    echo: SocketAddr,
    size: usize,
    measure: Duration,
) -> std::io::Result<f64> {
    let msg = vec![0x42u8; size];
    let mut buf = vec![0u8; size.max(2048)];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < measure {
        let mut s = TcpStream::connect(echo)?;
        s.set_nodelay(true)?;
        s.write_all(&msg)?;
        let mut got = 0;
        while got < size {
            match s.read(&mut buf)? {
                0 => return Err(ErrorKind::UnexpectedEof.into()),
                k => got += k,
            }
        }
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}
