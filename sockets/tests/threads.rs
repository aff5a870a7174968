//! Sockets used from application threads, over two engines wired back to
//! back and driven by a thread of their own (as a DPDK core would drive
//! one): each engine has a `Host`, and the test's threads use the two
//! `Sockets`. The rules of docs/contract.md, seen through blocking and
//! non-blocking calls.

use std::io::{ErrorKind, IoSlice, IoSliceMut, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use stack::wire::{EthernetAddress, Ipv4Cidr};
use stack::{Engine, EngineConfig, HeapPool, Instant, Shutdown, StaticNeighbor};
use stack_sockets::{Sockets, SocketsConfig};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn config(me: u8, peer: u8) -> EngineConfig {
    EngineConfig {
        mac: EthernetAddress([2, 0, 0, 0, 0, me]),
        address: Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, me), 24).unwrap(),
        neighbors: vec![StaticNeighbor {
            ip: Ipv4Addr::new(10, 0, 0, peer),
            mac: EthernetAddress([2, 0, 0, 0, 0, peer]),
        }],
        ..EngineConfig::default()
    }
}

/// Two engines and their hosts on a driver thread; stops when dropped.
struct Net {
    a: Sockets,
    b: Sockets,
    stop: Arc<AtomicBool>,
    driver: Option<thread::JoinHandle<()>>,
}

impl Net {
    fn new() -> Net {
        Net::with_config(&SocketsConfig::default())
    }

    fn with_config(cfg: &SocketsConfig) -> Net {
        let (a, mut host_a) = Sockets::with_config(cfg);
        let (b, mut host_b) = Sockets::with_config(cfg);
        let stop = Arc::new(AtomicBool::new(false));
        let quit = Arc::clone(&stop);
        let driver = thread::spawn(move || {
            let start = std::time::Instant::now();
            let now = || Instant::from_nanos(start.elapsed().as_nanos() as u64);
            let pool = || HeapPool::new(4096, 2048 + 128, 128);
            let mut ea = Engine::new(config(1, 2), pool(), [1; 16], now()).unwrap();
            let mut eb = Engine::new(config(2, 1), pool(), [2; 16], now()).unwrap();
            // Bounded: a test that hangs ends here after a minute.
            while !quit.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(60) {
                let t = now();
                ea.handle_timeouts(t);
                eb.handle_timeouts(t);
                let mut busy = host_a.poll(&mut ea);
                busy |= host_b.poll(&mut eb);
                while let Some(f) = ea.poll_transmit(t) {
                    let buf = eb.pool_mut().alloc_with(&f.to_vec());
                    if let Some(buf) = buf {
                        eb.handle_rx(t, buf);
                    }
                    busy = true;
                }
                while let Some(f) = eb.poll_transmit(t) {
                    let buf = ea.pool_mut().alloc_with(&f.to_vec());
                    if let Some(buf) = buf {
                        ea.handle_rx(t, buf);
                    }
                    busy = true;
                }
                if !busy {
                    thread::yield_now();
                }
            }
        });
        Net {
            a,
            b,
            stop,
            driver: Some(driver),
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(d) = self.driver.take() {
            let _ = d.join();
        }
    }
}

fn pattern(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 ^ salt).collect()
}

// Contracts 1, 4, 5, 10: a blocking client sends 3 MB and half-closes; a
// server thread echoes until end of stream and closes; the client reads
// the echo to its end. Bytes intact both ways.
#[test]
fn blocking_echo_of_three_megabytes_with_half_close() {
    let net = Net::new();
    let listener = net.b.listen(7, 16).unwrap();
    assert_eq!(listener.local_addr().unwrap(), SocketAddrV4::new(B, 7));
    let server = thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        assert_eq!(*peer.ip(), A);
        let mut buf = vec![0u8; 10_000];
        let mut total = 0;
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n]).unwrap();
            total += n;
        }
        s.close().unwrap();
        total
    });
    let mut c = net
        .a
        .connect(SocketAddrV4::new(B, 7), Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(c.peer_addr().unwrap(), SocketAddrV4::new(B, 7));
    let data = pattern(3_000_000, 0x5a);
    // One thread both writes and reads, non-blocking, so that neither
    // direction's flow control stalls the other.
    let mut echoed = Vec::new();
    let mut sent = 0;
    let mut buf = vec![0u8; 65_536];
    c.set_nonblocking(true);
    while echoed.len() < data.len() {
        if sent < data.len() {
            match c.write(&data[sent..(sent + 100_000).min(data.len())]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("write: {e}"),
            }
            if sent == data.len() {
                c.shutdown(Shutdown::Write).unwrap();
            }
        }
        match c.read(&mut buf) {
            Ok(0) => panic!("end of stream after {} bytes", echoed.len()),
            Ok(n) => echoed.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::yield_now(),
            Err(e) => panic!("read: {e}"),
        }
    }
    c.set_nonblocking(false);
    assert_eq!(c.read(&mut buf).unwrap(), 0, "end of stream (contract 5)");
    assert_eq!(c.read(&mut buf).unwrap(), 0, "and again");
    assert!(echoed == data, "the echo differs");
    assert_eq!(server.join().unwrap(), data.len());
}

// Contracts 8a, 3, 6: the server closes with the client's bytes unread:
// RST. The client's read reports the reset at once; its first write
// reports it too, later writes BrokenPipe.
#[test]
fn close_with_unread_data_resets_the_peer() {
    let net = Net::new();
    let listener = net.b.listen(8, 4).unwrap();
    let c = net.a.connect(SocketAddrV4::new(B, 8), None).unwrap();
    let (s, _) = listener.accept().unwrap();
    (&c).write_all(b"never read").unwrap();
    // Until the bytes are in the server's queue, its close would be
    // graceful: wait for them.
    while !s.ready().readable {
        thread::sleep(Duration::from_millis(1));
    }
    s.close().unwrap();
    let mut buf = [0u8; 16];
    let e = (&c).read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    let e = (&c).write(b"x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    let e = (&c).write(b"x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BrokenPipe);
    assert_eq!(
        c.take_error().unwrap().map(|e| e.kind()),
        Some(ErrorKind::ConnectionReset)
    );
}

// Contract 15: nothing listens: ConnectionRefused. Non-blocking calls
// return WouldBlock instead of waiting; a read timeout ends a blocking
// read.
#[test]
fn refused_would_block_and_timeouts() {
    let net = Net::new();
    let e = net
        .a
        .connect(SocketAddrV4::new(B, 9), Some(Duration::from_secs(5)))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    let listener = net.b.listen(10, 4).unwrap();
    listener.set_nonblocking(true);
    assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
    let c = net.a.connect(SocketAddrV4::new(B, 10), None).unwrap();
    c.set_nonblocking(true);
    let mut buf = [0u8; 4];
    assert_eq!(
        (&c).read(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    c.set_nonblocking(false);
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    assert_eq!((&c).read(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
    listener.set_nonblocking(false);
    let (s, _) = listener.accept().unwrap();
    // Contract 11: shutdown(Read) makes reads return end of stream.
    s.shutdown(Shutdown::Read).unwrap();
    assert_eq!((&s).read(&mut buf).unwrap(), 0);
}

// Vectored calls keep the order of their slices; a linger close waits
// until everything was acknowledged and reports success (contract 9b).
#[test]
fn vectored_io_and_a_lingering_close() {
    let net = Net::new();
    let listener = net.b.listen(11, 4).unwrap();
    let c = net.a.connect(SocketAddrV4::new(B, 11), None).unwrap();
    let (s, _) = listener.accept().unwrap();
    let big = pattern(100_000, 3);
    let n = (&c)
        .write_vectored(&[
            IoSlice::new(b"head:"),
            IoSlice::new(&big),
            IoSlice::new(b":tail"),
        ])
        .unwrap();
    assert_eq!(n, 100_010);
    c.set_linger(Some(Duration::from_secs(5))).unwrap();
    let closer = thread::spawn(move || c.close());
    let mut got = Vec::new();
    let (mut a, mut b) = ([0u8; 3], [0u8; 7000]);
    loop {
        let n = (&s)
            .read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
            .unwrap();
        if n == 0 {
            break;
        }
        let (x, y) = (n.min(3), n.saturating_sub(3));
        got.extend_from_slice(&a[..x]);
        got.extend_from_slice(&b[..y]);
    }
    let mut want = b"head:".to_vec();
    want.extend_from_slice(&big);
    want.extend_from_slice(b":tail");
    assert!(
        got == want,
        "{} bytes read, {} wanted",
        got.len(),
        want.len()
    );
    closer
        .join()
        .unwrap()
        .expect("everything acknowledged within the linger time");
}

// Sixteen threads, each opening 20 connections one after another and
// echoing a line on each, all at once: every call gets its own answer.
#[test]
fn many_threads_open_use_and_close_connections() {
    let net = Net::new();
    let listener = Arc::new(net.b.listen(12, 64).unwrap());
    let server = {
        let listener = Arc::clone(&listener);
        thread::spawn(move || {
            let mut handlers = Vec::new();
            for _ in 0..320 {
                let (s, _) = listener.accept().unwrap();
                handlers.push(thread::spawn(move || {
                    let mut line = [0u8; 64];
                    let n = (&s).read(&mut line).unwrap();
                    (&s).write_all(&line[..n]).unwrap();
                }));
            }
            for h in handlers {
                h.join().unwrap();
            }
        })
    };
    let clients: Vec<_> = (0..16)
        .map(|t| {
            let a = net.a.clone();
            thread::spawn(move || {
                for i in 0..20 {
                    let c = a.connect(SocketAddrV4::new(B, 12), None).unwrap();
                    let line = format!("thread {t} connection {i}");
                    (&c).write_all(line.as_bytes()).unwrap();
                    let mut got = vec![0u8; line.len()];
                    (&c).read_exact(&mut got).unwrap();
                    assert_eq!(got, line.as_bytes());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
}

// Contract 7 across the threads: a reader that does not read stops the
// writer (its writes would block) without a byte lost; once it reads,
// everything arrives in order.
#[test]
fn a_reader_that_does_not_read_holds_the_writer_back() {
    let net = Net::with_config(&SocketsConfig {
        rx_chunks: 4,
        send_buffer: 64 * 1024,
        ..SocketsConfig::default()
    });
    let listener = net.b.listen(13, 4).unwrap();
    let c = net.a.connect(SocketAddrV4::new(B, 13), None).unwrap();
    let (s, _) = listener.accept().unwrap();
    c.set_nonblocking(true);
    let data = pattern(2_000_000, 9);
    let mut sent = 0;
    let mut stalls = 0;
    while sent < data.len() && stalls < 200 {
        match (&c).write(&data[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                stalls += 1;
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(sent < data.len(), "the writer was never held back");
    let held = sent;
    let writer = thread::spawn(move || {
        c.set_nonblocking(false);
        (&c).write_all(&data[held..]).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        c
    });
    let mut got = Vec::new();
    (&s).read_to_end(&mut got).unwrap();
    let _c = writer.join().unwrap();
    assert!(got == pattern(2_000_000, 9), "{} bytes arrived", got.len());
}
