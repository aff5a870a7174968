//! The C ABI called as C calls it, over two engines wired back to back on
//! a driver thread (no DPDK): engine A serves the C functions
//! (`stackc::install`), engine B is the peer, used through the Rust
//! sockets API. Return values and `errno` are checked as Linux's would be
//! in the same situations.

use std::io::{Read, Write};
use std::mem::size_of;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::raw::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use stack::wire::{EthernetAddress, Ipv4Cidr};
use stack::{Engine, EngineConfig, HeapPool, Instant, StaticNeighbor};
use stack_sockets::Sockets;
use stackc::*;

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

/// Engine A's sockets go to the C ABI; B's are returned. The driver stops
/// with the process (or after a minute).
fn start() -> Sockets {
    let (a, mut host_a) = Sockets::new();
    let (b, mut host_b) = Sockets::new();
    let stop = Arc::new(AtomicBool::new(false));
    thread::spawn(move || {
        let start = std::time::Instant::now();
        let now = || Instant::from_nanos(start.elapsed().as_nanos() as u64);
        let pool = || HeapPool::new(4096, 2048 + 128, 128);
        let mut ea = Engine::new(config(1, 2), pool(), [1; 16], now()).unwrap();
        let mut eb = Engine::new(config(2, 1), pool(), [2; 16], now()).unwrap();
        while !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(60) {
            let t = now();
            ea.handle_timeouts(t);
            eb.handle_timeouts(t);
            let mut busy = host_a.poll(&mut ea) | host_b.poll(&mut eb);
            while let Some(f) = ea.poll_transmit(t) {
                if let Some(buf) = eb.pool_mut().alloc_with(&f.to_vec()) {
                    eb.handle_rx(t, buf);
                }
                busy = true;
            }
            while let Some(f) = eb.poll_transmit(t) {
                if let Some(buf) = ea.pool_mut().alloc_with(&f.to_vec()) {
                    ea.handle_rx(t, buf);
                }
                busy = true;
            }
            if !busy {
                thread::yield_now();
            }
        }
    });
    assert!(install(a).is_ok());
    b
}

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap()
}

fn sin(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    }
}

const SIN_LEN: libc::socklen_t = size_of::<libc::sockaddr_in>() as libc::socklen_t;

fn bind_listen(port: u16, kind: c_int) -> c_int {
    let l = stack_socket(libc::AF_INET, kind, 0);
    assert!(l >= 0, "socket: errno {}", errno());
    let a = sin(Ipv4Addr::UNSPECIFIED, port);
    assert_eq!(unsafe { stack_bind(l, (&raw const a).cast(), SIN_LEN) }, 0);
    assert_eq!(stack_listen(l, 16), 0, "listen: errno {}", errno());
    l
}

fn epoll_add(ep: c_int, fd: c_int, events: u32) {
    let mut ev = libc::epoll_event {
        events,
        u64: fd as u64,
    };
    let r = unsafe { stack_epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) };
    assert_eq!(r, 0, "epoll_ctl({ep}, ADD, {fd}): errno {}", errno());
}

fn epoll_wait(ep: c_int, ms: c_int) -> Vec<(c_int, u32)> {
    let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 16];
    let n = unsafe { stack_epoll_wait(ep, evs.as_mut_ptr(), 16, ms) };
    assert!(n >= 0, "epoll_wait: errno {}", errno());
    evs[..n as usize]
        .iter()
        .map(|e| {
            let (data, events) = (e.u64, e.events);
            (data as c_int, events)
        })
        .collect()
}

#[test]
fn the_c_abi_behaves_as_linux_sockets_do() {
    let b = start();

    // Bad arguments and descriptors: the errno Linux sets.
    assert_eq!(stack_socket(libc::AF_INET6, libc::SOCK_STREAM, 0), -1);
    assert_eq!(errno(), libc::EAFNOSUPPORT);
    assert_eq!(stack_socket(libc::AF_INET, libc::SOCK_DGRAM, 0), -1);
    assert_eq!(errno(), libc::EPROTONOSUPPORT);
    let mut byte = 0u8;
    assert_eq!(unsafe { stack_read(9999, (&raw mut byte).cast(), 1) }, -1);
    assert_eq!(errno(), libc::EBADF);
    let s = stack_socket(libc::AF_INET, libc::SOCK_STREAM, 0);
    assert_eq!(unsafe { stack_read(s, (&raw mut byte).cast(), 1) }, -1);
    assert_eq!(errno(), libc::ENOTCONN);
    assert_eq!(stack_listen(s, 4), -1, "listen without bind");
    assert_eq!(errno(), libc::EDESTADDRREQ);
    assert_eq!(stack_close(s), 0);
    assert_eq!(stack_close(s), -1);
    assert_eq!(errno(), libc::EBADF);

    // A passive open with epoll: the listener, then the connection.
    let l = bind_listen(7000, libc::SOCK_STREAM | libc::SOCK_NONBLOCK);
    let ep = stack_epoll_create1(0);
    epoll_add(ep, l, libc::EPOLLIN as u32);
    assert!(epoll_wait(ep, 0).is_empty());
    let mut peer = b
        .connect(SocketAddrV4::new(A, 7000), Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(epoll_wait(ep, 2000), [(l, libc::EPOLLIN as u32)]);
    let mut from = sin(Ipv4Addr::UNSPECIFIED, 0);
    let mut from_len = SIN_LEN;
    let c = unsafe {
        stack_accept4(
            l,
            (&raw mut from).cast(),
            &mut from_len,
            libc::SOCK_NONBLOCK,
        )
    };
    assert!(c >= 0, "accept: errno {}", errno());
    assert_eq!(
        (
            u32::from_be(from.sin_addr.s_addr),
            u16::from_be(from.sin_port)
        ),
        (u32::from(B), peer.local_addr().unwrap().port())
    );
    assert_eq!(
        unsafe { stack_accept(l, std::ptr::null_mut(), std::ptr::null_mut()) },
        -1
    );
    assert_eq!(errno(), libc::EAGAIN);
    assert_eq!(
        stack_fcntl(c, libc::F_GETFL, 0) & libc::O_NONBLOCK,
        libc::O_NONBLOCK
    );
    let mut name = sin(Ipv4Addr::UNSPECIFIED, 0);
    let mut len = SIN_LEN;
    assert_eq!(
        unsafe { stack_getsockname(c, (&raw mut name).cast(), &mut len) },
        0
    );
    assert_eq!(
        (
            u32::from_be(name.sin_addr.s_addr),
            u16::from_be(name.sin_port)
        ),
        (u32::from(A), 7000)
    );

    epoll_add(ep, c, (libc::EPOLLIN | libc::EPOLLRDHUP) as u32);
    let mut buf = [0u8; 64];
    assert_eq!(unsafe { stack_read(c, buf.as_mut_ptr().cast(), 64) }, -1);
    assert_eq!(errno(), libc::EAGAIN);
    peer.write_all(b"hello from B").unwrap();
    assert_eq!(epoll_wait(ep, 2000), [(c, libc::EPOLLIN as u32)]);
    let n = unsafe { stack_recv(c, buf.as_mut_ptr().cast(), 64, 0) };
    assert_eq!(&buf[..n as usize], b"hello from B");
    // writev, then the peer reads it all.
    let parts: [&[u8]; 2] = [b"one ", b"two"];
    let iov = parts.map(|p| libc::iovec {
        iov_base: p.as_ptr() as *mut c_void,
        iov_len: p.len(),
    });
    assert_eq!(unsafe { stack_writev(c, iov.as_ptr(), 2) }, 7);
    let mut got = [0u8; 7];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"one two");
    // The peer half-closes: EPOLLIN | EPOLLRDHUP, then end of stream.
    peer.shutdown(stack::Shutdown::Write).unwrap();
    let evs = epoll_wait(ep, 2000);
    assert_eq!(evs.len(), 1);
    assert_eq!(
        evs[0].1 & (libc::EPOLLRDHUP as u32),
        libc::EPOLLRDHUP as u32
    );
    assert_eq!(unsafe { stack_read(c, buf.as_mut_ptr().cast(), 64) }, 0);
    assert_eq!(stack_shutdown(c, libc::SHUT_WR), 0);
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert_eq!(stack_close(c), 0);
    assert_eq!(stack_close(l), 0);

    // An active open, non-blocking: EINPROGRESS, then writable and
    // SO_ERROR 0; a second connect EISCONN.
    let bl = b.listen(8000, 4).unwrap();
    let s = stack_socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0);
    let one: c_int = 1;
    assert_eq!(
        unsafe {
            stack_setsockopt(
                s,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&raw const one).cast(),
                size_of::<c_int>() as libc::socklen_t,
            )
        },
        0
    );
    let to = sin(B, 8000);
    assert_eq!(
        unsafe { stack_connect(s, (&raw const to).cast(), SIN_LEN) },
        -1
    );
    assert_eq!(errno(), libc::EINPROGRESS);
    epoll_add(ep, s, libc::EPOLLOUT as u32);
    assert_eq!(epoll_wait(ep, 2000), [(s, libc::EPOLLOUT as u32)]);
    let (mut err, mut elen) = (-1 as c_int, size_of::<c_int>() as libc::socklen_t);
    assert_eq!(
        unsafe {
            stack_getsockopt(
                s,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&raw mut err).cast(),
                &mut elen,
            )
        },
        0
    );
    assert_eq!(err, 0);
    let (mut nd, mut ndlen) = (0 as c_int, size_of::<c_int>() as libc::socklen_t);
    unsafe {
        stack_getsockopt(
            s,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&raw mut nd).cast(),
            &mut ndlen,
        )
    };
    assert_eq!(nd, 1, "TCP_NODELAY as set before connect");
    assert_eq!(
        unsafe { stack_connect(s, (&raw const to).cast(), SIN_LEN) },
        -1
    );
    assert_eq!(errno(), libc::EISCONN);
    let (mut bs, _) = bl.accept().unwrap();
    let msg = b"over the C ABI";
    assert_eq!(
        unsafe { stack_send(s, msg.as_ptr().cast(), msg.len(), libc::MSG_NOSIGNAL) },
        14
    );
    let mut got = [0u8; 14];
    bs.read_exact(&mut got).unwrap();
    assert_eq!(&got, msg);
    // The peer resets: the next read reports it, writes then EPIPE.
    bs.abort().unwrap();
    thread::sleep(Duration::from_millis(50));
    assert_eq!(unsafe { stack_read(s, buf.as_mut_ptr().cast(), 64) }, -1);
    assert_eq!(errno(), libc::ECONNRESET);
    assert_eq!(unsafe { stack_write(s, msg.as_ptr().cast(), 1) }, -1);
    assert_eq!(errno(), libc::ECONNRESET);
    assert_eq!(unsafe { stack_write(s, msg.as_ptr().cast(), 1) }, -1);
    assert_eq!(errno(), libc::EPIPE);
    assert_eq!(stack_close(s), 0);

    // Nothing listens: a blocking connect fails with ECONNREFUSED.
    let s = stack_socket(libc::AF_INET, libc::SOCK_STREAM, 0);
    let to = sin(B, 8001);
    assert_eq!(
        unsafe { stack_connect(s, (&raw const to).cast(), SIN_LEN) },
        -1
    );
    assert_eq!(errno(), libc::ECONNREFUSED);
    assert_eq!(stack_close(s), 0);
    assert_eq!(stack_close(ep), 0);
}
