//! `LD_PRELOAD=libstackpreload.so STACK_CONFIG=stack.toml program ...`:
//! an unmodified program's TCP sockets go over the stack when they bind to
//! the stack's address or connect into its subnet; every other descriptor
//! stays with libc.
//!
//! `socket()` makes a kernel socket as usual. When a TCP/IPv4 socket is
//! bound to the stack's address (from `STACK_CONFIG`, the configuration
//! `stackd` takes) or connects to an address of the stack's subnet, the
//! stack takes its descriptor number over (the kernel socket behind it is
//! closed) and starts, if it has not yet, on a thread of its own. From
//! then on the calls on that descriptor are the stack's
//! (`libstackc`): socket, bind, listen, accept, accept4, connect, read,
//! write, readv, writev, recv, send, recvfrom, sendto, recvmsg, sendmsg
//! (no ancillary data), shutdown, close, fcntl, ioctl (`FIONBIO`,
//! `FIONREAD`), setsockopt, getsockopt, getsockname, getpeername,
//! sendfile. `epoll_*`, `poll` and `select` may mix the stack's
//! descriptors with the program's own: the kernel waits, and the stack's
//! thread wakes it through an eventfd when one of its sockets changes.
//!
//! Not supported: `fork` after the stack started (the child has no engine
//! thread), `dup` of a stack descriptor, `MSG_PEEK`, ancillary data.

#![allow(clippy::missing_safety_doc)]

use std::collections::HashMap;
use std::ffi::CString;
use std::net::Ipv4Addr;
use std::os::raw::{c_int, c_long, c_ulong, c_void};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use libc::{
    epoll_event, fd_set, iovec, msghdr, nfds_t, off_t, pollfd, size_t, sockaddr, socklen_t,
    ssize_t, timeval,
};
use stackc::interpose;

/// The libc function `name` has, from the next object after this one.
macro_rules! real {
    ($name:literal, fn($($arg:ty),*) -> $ret:ty) => {{
        static PTR: OnceLock<usize> = OnceLock::new();
        let p = *PTR.get_or_init(|| {
            // SAFETY: dlsym with a NUL-terminated name.
            unsafe { libc::dlsym(libc::RTLD_NEXT, concat!($name, "\0").as_ptr().cast()) as usize }
        });
        if p == 0 {
            // Without libc's own function nothing can go on.
            std::process::abort();
        }
        // SAFETY: the symbol is libc's function of this signature.
        unsafe { std::mem::transmute::<usize, unsafe extern "C" fn($($arg),*) -> $ret>(p) }
    }};
}

/// The stack's address and subnet, from `STACK_CONFIG`.
struct Target {
    config: CString,
    address: Ipv4Addr,
    network: u32,
    mask: u32,
}

fn target() -> Option<&'static Target> {
    static TARGET: OnceLock<Option<Target>> = OnceLock::new();
    TARGET
        .get_or_init(|| {
            let path = std::env::var("STACK_CONFIG").ok()?;
            let cfg = match dpdk_io::RuntimeConfig::from_file(std::path::Path::new(&path)) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("stack preload: STACK_CONFIG {path}: {e}");
                    return None;
                }
            };
            let cidr = cfg.engine.address;
            let mask = if cidr.prefix_len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(cidr.prefix_len))
            };
            Some(Target {
                config: CString::new(path).ok()?,
                address: cidr.address,
                network: u32::from(cidr.address) & mask,
                mask,
            })
        })
        .as_ref()
}

/// The eventfd the stack's thread writes when something changes while a
/// thread waits in the kernel.
static WAKE_FD: OnceLock<c_int> = OnceLock::new();
/// `epoll_event.u64` of the wake eventfd in the program's epoll sets.
const WAKE_MARK: u64 = 0x57ac_cafe_57ac_cafe;

/// Starts the stack once; the error (errno) stays.
fn started() -> Result<(), c_int> {
    static STARTED: OnceLock<Result<(), c_int>> = OnceLock::new();
    *STARTED.get_or_init(|| {
        let t = target().ok_or(libc::ENETDOWN)?;
        // SAFETY: a NUL-terminated path.
        if unsafe { stackc::stack_start(t.config.as_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO));
        }
        // SAFETY: eventfd takes no pointers.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(libc::EMFILE);
        }
        let _ = WAKE_FD.set(fd);
        if let Some(s) = interpose::sockets() {
            s.set_external_waker(Box::new(move || {
                let one: u64 = 1;
                let write = real!("write", fn(c_int, *const c_void, size_t) -> ssize_t);
                // SAFETY: eight bytes from a local to our eventfd.
                unsafe { write(fd, (&raw const one).cast(), 8) };
            }));
        }
        Ok(())
    })
}

fn fail<T: From<i8>>(errno: c_int) -> T {
    // SAFETY: the calling thread's errno slot.
    unsafe { *libc::__errno_location() = errno };
    T::from(-1)
}

/// The IPv4 address in `addr`, if it is one.
unsafe fn ipv4(addr: *const sockaddr, len: socklen_t) -> Option<Ipv4Addr> {
    if addr.is_null() || (len as usize) < std::mem::size_of::<libc::sockaddr_in>() {
        return None;
    }
    // SAFETY: `len` readable bytes, a sockaddr_in at least.
    let sin: libc::sockaddr_in = unsafe { std::ptr::read_unaligned(addr.cast()) };
    (c_int::from(sin.sin_family) == libc::AF_INET)
        .then(|| Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
}

/// Whether kernel descriptor `fd` is a TCP/IPv4 socket.
fn is_tcp4(fd: c_int) -> bool {
    let getsockopt = real!(
        "getsockopt",
        fn(c_int, c_int, c_int, *mut c_void, *mut socklen_t) -> c_int
    );
    let mut v: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: an int and its length.
    let ty = unsafe {
        getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&raw mut v).cast(),
            &mut len,
        )
    };
    if ty != 0 || v != libc::SOCK_STREAM {
        return false;
    }
    let mut d: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: likewise.
    let dom = unsafe {
        getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_DOMAIN,
            (&raw mut d).cast(),
            &mut len,
        )
    };
    dom == 0 && d == libc::AF_INET
}

/// Hands kernel socket `fd` over to the stack (starting it if need be).
fn take_over(fd: c_int) -> Result<(), c_int> {
    started()?;
    let fcntl = real!("fcntl", fn(c_int, c_int, c_long) -> c_int);
    // SAFETY: F_GETFL takes no pointer.
    let fl = unsafe { fcntl(fd, libc::F_GETFL, 0) };
    interpose::take_over(fd, fl >= 0 && fl & libc::O_NONBLOCK != 0)
}

#[no_mangle]
pub unsafe extern "C" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    if !interpose::owns(fd) {
        // SAFETY: the caller's pointer and length.
        let ours =
            unsafe { ipv4(addr, len) }.is_some_and(|ip| target().is_some_and(|t| ip == t.address));
        if !ours || !is_tcp4(fd) {
            let real = real!("bind", fn(c_int, *const sockaddr, socklen_t) -> c_int);
            // SAFETY: libc's bind with the caller's arguments.
            return unsafe { real(fd, addr, len) };
        }
        if let Err(e) = take_over(fd) {
            return fail(e);
        }
    }
    // SAFETY: as bind's contract.
    unsafe { stackc::stack_bind(fd, addr, len) }
}

#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    if !interpose::owns(fd) {
        // SAFETY: the caller's pointer and length.
        let ours = unsafe { ipv4(addr, len) }.is_some_and(|ip| {
            target().is_some_and(|t| u32::from(ip) & t.mask == t.network && ip != t.address)
        });
        if !ours || !is_tcp4(fd) {
            let real = real!("connect", fn(c_int, *const sockaddr, socklen_t) -> c_int);
            // SAFETY: libc's connect with the caller's arguments.
            return unsafe { real(fd, addr, len) };
        }
        if let Err(e) = take_over(fd) {
            return fail(e);
        }
    }
    // SAFETY: as connect's contract.
    unsafe { stackc::stack_connect(fd, addr, len) }
}

/// Calls the stack's function for the stack's descriptors, libc's for the
/// others.
macro_rules! route {
    ($fd:expr, $stack:expr, $name:literal, fn($($arg:ty),*) -> $ret:ty, ($($a:expr),*)) => {
        if interpose::owns($fd) {
            #[allow(unused_unsafe)]
            unsafe { $stack }
        } else {
            let real = real!($name, fn($($arg),*) -> $ret);
            // SAFETY: libc's function with the caller's arguments.
            unsafe { real($($a),*) }
        }
    };
}

#[no_mangle]
pub unsafe extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    route!(
        fd,
        stackc::stack_listen(fd, backlog),
        "listen",
        fn(c_int, c_int) -> c_int,
        (fd, backlog)
    )
}

#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    route!(
        fd,
        stackc::stack_accept(fd, addr, len),
        "accept",
        fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int,
        (fd, addr, len)
    )
}

#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    route!(
        fd,
        stackc::stack_accept4(fd, addr, len, flags),
        "accept4",
        fn(c_int, *mut sockaddr, *mut socklen_t, c_int) -> c_int,
        (fd, addr, len, flags)
    )
}

#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    route!(
        fd,
        stackc::stack_read(fd, buf, count),
        "read",
        fn(c_int, *mut c_void, size_t) -> ssize_t,
        (fd, buf, count)
    )
}

#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    route!(
        fd,
        stackc::stack_write(fd, buf, count),
        "write",
        fn(c_int, *const c_void, size_t) -> ssize_t,
        (fd, buf, count)
    )
}

#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
    route!(
        fd,
        stackc::stack_readv(fd, iov, n),
        "readv",
        fn(c_int, *const iovec, c_int) -> ssize_t,
        (fd, iov, n)
    )
}

#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
    route!(
        fd,
        stackc::stack_writev(fd, iov, n),
        "writev",
        fn(c_int, *const iovec, c_int) -> ssize_t,
        (fd, iov, n)
    )
}

#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int) -> ssize_t {
    route!(
        fd,
        stackc::stack_recv(fd, buf, n, flags),
        "recv",
        fn(c_int, *mut c_void, size_t, c_int) -> ssize_t,
        (fd, buf, n, flags)
    )
}

#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, n: size_t, flags: c_int) -> ssize_t {
    route!(
        fd,
        stackc::stack_send(fd, buf, n, flags),
        "send",
        fn(c_int, *const c_void, size_t, c_int) -> ssize_t,
        (fd, buf, n, flags)
    )
}

#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> ssize_t {
    if interpose::owns(fd) {
        // SAFETY: the caller's buffer; then its address slot, if any.
        let r = unsafe { stackc::stack_recv(fd, buf, n, flags) };
        if r >= 0 && !addr.is_null() {
            unsafe { stackc::stack_getpeername(fd, addr, len) };
        }
        return r;
    }
    let real = real!(
        "recvfrom",
        fn(c_int, *mut c_void, size_t, c_int, *mut sockaddr, *mut socklen_t) -> ssize_t
    );
    // SAFETY: libc's recvfrom with the caller's arguments.
    unsafe { real(fd, buf, n, flags, addr, len) }
}

#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    n: size_t,
    flags: c_int,
    addr: *const sockaddr,
    len: socklen_t,
) -> ssize_t {
    if interpose::owns(fd) {
        // A connected stream: the address is ignored, as Linux does.
        // SAFETY: the caller's buffer.
        return unsafe { stackc::stack_send(fd, buf, n, flags) };
    }
    let real = real!(
        "sendto",
        fn(c_int, *const c_void, size_t, c_int, *const sockaddr, socklen_t) -> ssize_t
    );
    // SAFETY: libc's sendto with the caller's arguments.
    unsafe { real(fd, buf, n, flags, addr, len) }
}

#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    if !interpose::owns(fd) {
        let real = real!("recvmsg", fn(c_int, *mut msghdr, c_int) -> ssize_t);
        // SAFETY: libc's recvmsg with the caller's arguments.
        return unsafe { real(fd, msg, flags) };
    }
    if msg.is_null() {
        return fail(libc::EFAULT);
    }
    // SAFETY: the caller's msghdr.
    let m = unsafe { &mut *msg };
    let r = if flags & libc::MSG_DONTWAIT != 0 && !stackc_nonblocking(fd) {
        with_nonblocking(fd, || unsafe {
            stackc::stack_readv(fd, m.msg_iov, m.msg_iovlen as c_int)
        })
    } else {
        // SAFETY: the caller's iovecs.
        unsafe { stackc::stack_readv(fd, m.msg_iov, m.msg_iovlen as c_int) }
    };
    if r >= 0 {
        m.msg_controllen = 0;
        m.msg_flags = 0;
        if !m.msg_name.is_null() {
            let mut len = m.msg_namelen;
            // SAFETY: the caller's name buffer of msg_namelen bytes.
            unsafe { stackc::stack_getpeername(fd, m.msg_name.cast(), &mut len) };
            m.msg_namelen = len;
        }
    }
    r
}

#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    if !interpose::owns(fd) {
        let real = real!("sendmsg", fn(c_int, *const msghdr, c_int) -> ssize_t);
        // SAFETY: libc's sendmsg with the caller's arguments.
        return unsafe { real(fd, msg, flags) };
    }
    if msg.is_null() {
        return fail(libc::EFAULT);
    }
    // SAFETY: the caller's msghdr.
    let m = unsafe { &*msg };
    if flags & libc::MSG_DONTWAIT != 0 && !stackc_nonblocking(fd) {
        with_nonblocking(fd, || unsafe {
            stackc::stack_writev(fd, m.msg_iov, m.msg_iovlen as c_int)
        })
    } else {
        // SAFETY: the caller's iovecs.
        unsafe { stackc::stack_writev(fd, m.msg_iov, m.msg_iovlen as c_int) }
    }
}

fn stackc_nonblocking(fd: c_int) -> bool {
    stackc::stack_fcntl(fd, libc::F_GETFL, 0) & libc::O_NONBLOCK != 0
}

/// Runs `f` with `fd` non-blocking for the call (`MSG_DONTWAIT`).
fn with_nonblocking(fd: c_int, f: impl FnOnce() -> ssize_t) -> ssize_t {
    stackc::stack_fcntl(fd, libc::F_SETFL, c_long::from(libc::O_NONBLOCK));
    let r = f();
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    stackc::stack_fcntl(fd, libc::F_SETFL, 0);
    // SAFETY: the calling thread's errno slot.
    unsafe { *libc::__errno_location() = errno };
    r
}

#[no_mangle]
pub unsafe extern "C" fn shutdown(fd: c_int, how: c_int) -> c_int {
    route!(
        fd,
        stackc::stack_shutdown(fd, how),
        "shutdown",
        fn(c_int, c_int) -> c_int,
        (fd, how)
    )
}

/// Kernel epoll instances that also watch stack descriptors: the stack's
/// epoll instance beside each.
static COMPANIONS: Mutex<Option<HashMap<c_int, c_int>>> = Mutex::new(None);

fn companion(epfd: c_int) -> Option<c_int> {
    COMPANIONS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()?
        .get(&epfd)
        .copied()
}

#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    if interpose::owns(fd) {
        return stackc::stack_close(fd);
    }
    let comp = COMPANIONS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_mut()
        .and_then(|m| m.remove(&fd));
    if let Some(c) = comp {
        stackc::stack_close(c);
    }
    let real = real!("close", fn(c_int) -> c_int);
    // SAFETY: libc's close.
    unsafe { real(fd) }
}

#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    route!(
        fd,
        stackc::stack_fcntl(fd, cmd, arg),
        "fcntl",
        fn(c_int, c_int, c_long) -> c_int,
        (fd, cmd, arg)
    )
}

#[no_mangle]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    route!(
        fd,
        stackc::stack_fcntl(fd, cmd, arg),
        "fcntl64",
        fn(c_int, c_int, c_long) -> c_int,
        (fd, cmd, arg)
    )
}

#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    if !interpose::owns(fd) {
        let real = real!("ioctl", fn(c_int, c_ulong, *mut c_void) -> c_int);
        // SAFETY: libc's ioctl with the caller's arguments.
        return unsafe { real(fd, request, arg) };
    }
    if arg.is_null() {
        return fail(libc::EFAULT);
    }
    match request {
        libc::FIONBIO => {
            // SAFETY: FIONBIO takes an int.
            let on = unsafe { *arg.cast::<c_int>() } != 0;
            stackc::stack_fcntl(
                fd,
                libc::F_SETFL,
                if on {
                    c_long::from(libc::O_NONBLOCK)
                } else {
                    0
                },
            )
        }
        libc::FIONREAD => match interpose::readable_bytes(fd) {
            Ok(n) => {
                // SAFETY: FIONREAD fills an int.
                unsafe { *arg.cast::<c_int>() = n.min(c_int::MAX as usize) as c_int };
                0
            }
            Err(e) => fail(e),
        },
        _ => fail(libc::ENOTTY),
    }
}

#[no_mangle]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    v: *const c_void,
    len: socklen_t,
) -> c_int {
    route!(
        fd,
        stackc::stack_setsockopt(fd, level, name, v, len),
        "setsockopt",
        fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int,
        (fd, level, name, v, len)
    )
}

#[no_mangle]
pub unsafe extern "C" fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    v: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    route!(
        fd,
        stackc::stack_getsockopt(fd, level, name, v, len),
        "getsockopt",
        fn(c_int, c_int, c_int, *mut c_void, *mut socklen_t) -> c_int,
        (fd, level, name, v, len)
    )
}

#[no_mangle]
pub unsafe extern "C" fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    route!(
        fd,
        stackc::stack_getsockname(fd, addr, len),
        "getsockname",
        fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int,
        (fd, addr, len)
    )
}

#[no_mangle]
pub unsafe extern "C" fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    route!(
        fd,
        stackc::stack_getpeername(fd, addr, len),
        "getpeername",
        fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int,
        (fd, addr, len)
    )
}

/// `sendfile` to a stack socket: the file's bytes are read and written
/// (one copy; the kernel's page cache is not the stack's).
#[no_mangle]
pub unsafe extern "C" fn sendfile(
    out: c_int,
    input: c_int,
    offset: *mut off_t,
    count: size_t,
) -> ssize_t {
    if !interpose::owns(out) {
        let real = real!("sendfile", fn(c_int, c_int, *mut off_t, size_t) -> ssize_t);
        // SAFETY: libc's sendfile with the caller's arguments.
        return unsafe { real(out, input, offset, count) };
    }
    let pread = real!("pread", fn(c_int, *mut c_void, size_t, off_t) -> ssize_t);
    let read = real!("read", fn(c_int, *mut c_void, size_t) -> ssize_t);
    let mut buf = vec![0u8; 64 * 1024];
    let mut done: usize = 0;
    while done < count {
        let want = buf.len().min(count - done);
        // SAFETY: our buffer; the caller's offset pointer when given.
        let got = unsafe {
            if offset.is_null() {
                read(input, buf.as_mut_ptr().cast(), want)
            } else {
                pread(
                    input,
                    buf.as_mut_ptr().cast(),
                    want,
                    *offset + done as off_t,
                )
            }
        };
        if got <= 0 {
            if done == 0 && got < 0 {
                return -1;
            }
            break;
        }
        // SAFETY: `got` bytes of our buffer.
        let sent = unsafe { stackc::stack_write(out, buf.as_ptr().cast(), got as size_t) };
        if sent < 0 {
            if done == 0 {
                return -1;
            }
            break;
        }
        done += sent as usize;
        if (sent as usize) < got as usize {
            // A short write. With an offset the caller resumes from
            // *offset + done; without one, the file's position goes back
            // over what was read and not sent, as Linux leaves it.
            if offset.is_null() {
                let lseek = real!("lseek", fn(c_int, off_t, c_int) -> off_t);
                // SAFETY: lseek takes no pointer.
                unsafe { lseek(input, -((got as off_t) - sent as off_t), libc::SEEK_CUR) };
            }
            break;
        }
    }
    if !offset.is_null() {
        // SAFETY: the caller's offset.
        unsafe { *offset += done as off_t };
    }
    done as ssize_t
}

#[no_mangle]
pub unsafe extern "C" fn sendfile64(
    out: c_int,
    input: c_int,
    offset: *mut off_t,
    count: size_t,
) -> ssize_t {
    // SAFETY: same contract (off_t is 64 bits on x86-64).
    unsafe { sendfile(out, input, offset, count) }
}

#[no_mangle]
pub unsafe extern "C" fn epoll_ctl(
    epfd: c_int,
    op: c_int,
    fd: c_int,
    ev: *mut epoll_event,
) -> c_int {
    if !interpose::owns(fd) {
        let real = real!(
            "epoll_ctl",
            fn(c_int, c_int, c_int, *mut epoll_event) -> c_int
        );
        // SAFETY: libc's epoll_ctl with the caller's arguments.
        return unsafe { real(epfd, op, fd, ev) };
    }
    let comp = match companion(epfd) {
        Some(c) => c,
        None => {
            let c = stackc::stack_epoll_create1(0);
            if c < 0 {
                return -1;
            }
            // The kernel instance wakes when the stack's thread writes the
            // eventfd.
            if let Some(&wake) = WAKE_FD.get() {
                let real = real!(
                    "epoll_ctl",
                    fn(c_int, c_int, c_int, *mut epoll_event) -> c_int
                );
                let mut wev = epoll_event {
                    events: libc::EPOLLIN as u32,
                    u64: WAKE_MARK,
                };
                // SAFETY: a local event.
                unsafe { real(epfd, libc::EPOLL_CTL_ADD, wake, &mut wev) };
            }
            COMPANIONS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert_with(HashMap::new)
                .insert(epfd, c);
            c
        }
    };
    // SAFETY: as epoll_ctl's contract.
    unsafe { stackc::stack_epoll_ctl(comp, op, fd, ev) }
}

/// Drains the wake eventfd.
fn drain_wake() {
    if let Some(&fd) = WAKE_FD.get() {
        let read = real!("read", fn(c_int, *mut c_void, size_t) -> ssize_t);
        let mut v: u64 = 0;
        // SAFETY: eight bytes into a local.
        unsafe { read(fd, (&raw mut v).cast(), 8) };
    }
}

/// Kernel events without the wake eventfd's; returns how many are left.
fn strip_wake(evs: &mut [epoll_event]) -> usize {
    let mut keep = 0;
    for i in 0..evs.len() {
        let data = evs[i].u64;
        if data == WAKE_MARK {
            drain_wake();
            continue;
        }
        evs[keep] = evs[i];
        keep += 1;
    }
    keep
}

#[no_mangle]
pub unsafe extern "C" fn epoll_wait(
    epfd: c_int,
    evs: *mut epoll_event,
    max: c_int,
    timeout: c_int,
) -> c_int {
    // SAFETY: the same arguments.
    unsafe { epoll_pwait(epfd, evs, max, timeout, std::ptr::null()) }
}

#[no_mangle]
pub unsafe extern "C" fn epoll_pwait(
    epfd: c_int,
    evs: *mut epoll_event,
    max: c_int,
    timeout: c_int,
    sigmask: *const libc::sigset_t,
) -> c_int {
    let real = real!(
        "epoll_pwait",
        fn(c_int, *mut epoll_event, c_int, c_int, *const libc::sigset_t) -> c_int
    );
    let (Some(comp), Some(sockets)) = (companion(epfd), interpose::sockets()) else {
        // SAFETY: libc's epoll_pwait with the caller's arguments.
        return unsafe { real(epfd, evs, max, timeout, sigmask) };
    };
    if max <= 0 || evs.is_null() {
        return fail(libc::EINVAL);
    }
    let deadline = (timeout >= 0).then(|| Instant::now() + Duration::from_millis(timeout as u64));
    loop {
        let seen = sockets.generation();
        // SAFETY: room for `max` events at `evs`.
        let n = unsafe { stackc::stack_epoll_wait(comp, evs, max, 0) };
        if n < 0 {
            return n;
        }
        let mut total = n as usize;
        if total < max as usize {
            // SAFETY: the rest of the caller's array.
            let k = unsafe { real(epfd, evs.add(total), max - total as c_int, 0, sigmask) };
            if k > 0 {
                // SAFETY: `k` events were just written there.
                let slice = unsafe { std::slice::from_raw_parts_mut(evs.add(total), k as usize) };
                total += strip_wake(slice);
            }
        }
        if total > 0 {
            return total as c_int;
        }
        let wait_ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return 0;
                }
                left.as_millis().clamp(1, c_int::MAX as u128) as c_int
            }
        };
        let guard = sockets.external_wait();
        if sockets.generation() != seen {
            continue;
        }
        // SAFETY: the caller's array.
        let k = unsafe { real(epfd, evs, max, wait_ms, sigmask) };
        drop(guard);
        if k < 0 {
            return k;
        }
        // SAFETY: `k` events were just written.
        let kept = strip_wake(unsafe { std::slice::from_raw_parts_mut(evs, k as usize) });
        if kept > 0 {
            // Kernel events may be edge-triggered: return them now, with
            // whatever the stack has ready beside them.
            let room = max - kept as c_int;
            let more = if room > 0 {
                // SAFETY: the rest of the caller's array.
                unsafe { stackc::stack_epoll_wait(comp, evs.add(kept), room, 0) }.max(0)
            } else {
                0
            };
            return kept as c_int + more;
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut pollfd, n: nfds_t, timeout: c_int) -> c_int {
    let real = real!("poll", fn(*mut pollfd, nfds_t, c_int) -> c_int);
    if fds.is_null() || n == 0 {
        // SAFETY: libc's poll with the caller's arguments.
        return unsafe { real(fds, n, timeout) };
    }
    // SAFETY: the caller's array of `n`.
    let all = unsafe { std::slice::from_raw_parts_mut(fds, n as usize) };
    let (Some(sockets), true) = (
        interpose::sockets(),
        all.iter().any(|p| interpose::owns(p.fd)),
    ) else {
        // SAFETY: as above.
        return unsafe { real(fds, n, timeout) };
    };
    let deadline = (timeout >= 0).then(|| Instant::now() + Duration::from_millis(timeout as u64));
    // The kernel's descriptors, and the wake eventfd last.
    let mut kernel: Vec<(usize, pollfd)> = all
        .iter()
        .enumerate()
        .filter(|(_, p)| !interpose::owns(p.fd))
        .map(|(i, p)| (i, *p))
        .collect();
    let wake = WAKE_FD.get().copied().unwrap_or(-1);
    loop {
        let seen = sockets.generation();
        let mut ready = 0;
        for p in all.iter_mut() {
            p.revents = 0;
            if interpose::owns(p.fd) {
                p.revents = interpose::poll_events(p.fd, p.events);
                ready += usize::from(p.revents != 0);
            }
        }
        let mut set: Vec<pollfd> = kernel.iter().map(|(_, p)| *p).collect();
        set.push(pollfd {
            fd: wake,
            events: libc::POLLIN,
            revents: 0,
        });
        let wait_ms = if ready > 0 {
            0
        } else {
            match deadline {
                None => -1,
                Some(d) => d
                    .saturating_duration_since(Instant::now())
                    .as_millis()
                    .min(c_int::MAX as u128) as c_int,
            }
        };
        let guard = sockets.external_wait();
        let wait_ms = if sockets.generation() != seen {
            0
        } else {
            wait_ms
        };
        // SAFETY: our own array.
        let k = unsafe { real(set.as_mut_ptr(), set.len() as nfds_t, wait_ms) };
        drop(guard);
        if k < 0 {
            return k;
        }
        if set.last().is_some_and(|w| w.revents != 0) {
            drain_wake();
        }
        for ((i, orig), got) in kernel.iter_mut().zip(&set) {
            all[*i].revents = got.revents;
            orig.revents = 0;
            ready += usize::from(got.revents != 0);
        }
        if ready > 0 {
            return ready as c_int;
        }
        if wait_ms == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
            return 0;
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn select(
    n: c_int,
    rd: *mut fd_set,
    wr: *mut fd_set,
    ex: *mut fd_set,
    tv: *mut timeval,
) -> c_int {
    let real = real!(
        "select",
        fn(c_int, *mut fd_set, *mut fd_set, *mut fd_set, *mut timeval) -> c_int
    );
    let isset = |set: *mut fd_set, fd: c_int| {
        // SAFETY: the caller's set, or none.
        !set.is_null() && unsafe { libc::FD_ISSET(fd, set) }
    };
    let ours =
        (0..n).any(|fd| interpose::owns(fd) && (isset(rd, fd) || isset(wr, fd) || isset(ex, fd)));
    if !ours {
        // SAFETY: libc's select with the caller's arguments.
        return unsafe { real(n, rd, wr, ex, tv) };
    }
    // As poll: the sets become a pollfd array and back.
    let mut fds: Vec<pollfd> = (0..n)
        .filter_map(|fd| {
            let mut events = 0;
            if isset(rd, fd) {
                events |= libc::POLLIN;
            }
            if isset(wr, fd) {
                events |= libc::POLLOUT;
            }
            if isset(ex, fd) {
                events |= libc::POLLPRI;
            }
            (events != 0).then_some(pollfd {
                fd,
                events,
                revents: 0,
            })
        })
        .collect();
    let timeout = if tv.is_null() {
        -1
    } else {
        // SAFETY: the caller's timeval.
        let t = unsafe { *tv };
        (t.tv_sec * 1000 + t.tv_usec / 1000) as c_int
    };
    // SAFETY: our own array.
    let r = unsafe { poll(fds.as_mut_ptr(), fds.len() as nfds_t, timeout) };
    if r < 0 {
        return r;
    }
    for set in [rd, wr, ex] {
        if !set.is_null() {
            // SAFETY: the caller's set.
            unsafe { libc::FD_ZERO(set) };
        }
    }
    let mut count = 0;
    for p in &fds {
        for (set, bits) in [
            (rd, libc::POLLIN | libc::POLLHUP | libc::POLLERR),
            (wr, libc::POLLOUT | libc::POLLERR),
            (ex, libc::POLLPRI),
        ] {
            if !set.is_null() && p.events & bits != 0 && p.revents & bits != 0 {
                // SAFETY: the caller's set.
                unsafe { libc::FD_SET(p.fd, set) };
                count += 1;
            }
        }
    }
    count
}
