//! The descriptor table: what each descriptor number the stack handed out
//! stands for. Numbers are reserved from the kernel (an eventfd per
//! descriptor), so they never collide with the program's own.
//!
//! The table is the application threads' only shared structure here; the
//! engine's thread never touches it.

use std::io;
use std::net::SocketAddrV4;
use std::os::raw::c_int;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use stack_sockets::{TcpListener, TcpStream};

use crate::epoll::Epoll;
use crate::errno_of;

/// What a descriptor stands for.
#[derive(Clone)]
pub(crate) enum Object {
    /// A socket neither listening nor connected yet.
    Pending(Pending),
    Listener(Arc<TcpListener>),
    Stream(Arc<TcpStream>),
    Epoll(Arc<Epoll>),
}

/// A socket before `listen` or `connect`.
#[derive(Clone, Default)]
pub(crate) struct Pending {
    pub nonblocking: bool,
    /// From `bind` (0: none).
    pub port: u16,
}

/// Options as set (for `getsockopt`, and to apply at `connect`).
#[derive(Clone, Default)]
pub(crate) struct Options {
    pub nodelay: Option<bool>,
    pub keepalive: Option<bool>,
    pub linger: Option<Option<Duration>>,
    pub sndbuf: Option<usize>,
}

impl Options {
    /// Applies what was set before the connection existed.
    pub fn apply(&self, s: &TcpStream) -> io::Result<()> {
        if let Some(on) = self.nodelay {
            s.set_nodelay(on)?;
        }
        if let Some(on) = self.keepalive {
            s.set_keepalive(on)?;
        }
        if let Some(l) = self.linger {
            s.set_linger(l)?;
        }
        if let Some(b) = self.sndbuf {
            s.set_send_buffer(b);
        }
        Ok(())
    }
}

struct Entry {
    obj: Mutex<Object>,
    opts: Mutex<Options>,
}

static TABLE: RwLock<Vec<Option<Arc<Entry>>>> = RwLock::new(Vec::new());

fn entry(fd: c_int) -> Result<Arc<Entry>, c_int> {
    let table = TABLE.read().unwrap_or_else(PoisonError::into_inner);
    usize::try_from(fd)
        .ok()
        .and_then(|i| table.get(i).cloned().flatten())
        .ok_or(libc::EBADF)
}

fn object(fd: c_int) -> Result<Object, c_int> {
    Ok(entry(fd)?
        .obj
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone())
}

/// Files `obj` under a newly reserved descriptor number.
pub(crate) fn insert(obj: Object) -> Result<c_int, c_int> {
    // SAFETY: eventfd takes no pointers; the descriptor is ours until
    // `remove` closes it.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EMFILE));
    }
    let mut table = TABLE.write().unwrap_or_else(PoisonError::into_inner);
    let i = fd as usize;
    if table.len() <= i {
        table.resize(i + 1, None);
    }
    table[i] = Some(Arc::new(Entry {
        obj: Mutex::new(obj),
        opts: Mutex::new(Options::default()),
    }));
    Ok(fd)
}

/// Files `obj` under `fd`, a number the caller holds (a kernel socket the
/// stack takes over): the number now stands for a reserved eventfd, the
/// kernel socket behind it is closed.
pub(crate) fn insert_at(fd: c_int, obj: Object) -> Result<(), c_int> {
    // SAFETY: eventfd and dup2 take no pointers; dup2 atomically replaces
    // what `fd` stood for (the caller's socket, which it gives up).
    unsafe {
        let e = libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK);
        if e < 0 {
            return Err(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EMFILE));
        }
        let r = libc::dup3(e, fd, libc::O_CLOEXEC);
        libc::close(e);
        if r < 0 {
            return Err(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EBADF));
        }
    }
    let mut table = TABLE.write().unwrap_or_else(PoisonError::into_inner);
    let i = usize::try_from(fd).map_err(|_| libc::EBADF)?;
    if table.len() <= i {
        table.resize(i + 1, None);
    }
    table[i] = Some(Arc::new(Entry {
        obj: Mutex::new(obj),
        opts: Mutex::new(Options::default()),
    }));
    Ok(())
}

/// Takes `fd` out of the table and gives its number back to the kernel.
pub(crate) fn remove(fd: c_int) -> Result<Object, c_int> {
    let e = {
        let mut table = TABLE.write().unwrap_or_else(PoisonError::into_inner);
        usize::try_from(fd)
            .ok()
            .and_then(|i| table.get_mut(i).and_then(Option::take))
            .ok_or(libc::EBADF)?
    };
    crate::epoll::forget(fd);
    // SAFETY: the number was reserved by `insert` and is no longer in the
    // table, so nothing else uses it.
    unsafe { libc::close(fd) };
    let obj = e.obj.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Ok(obj)
}

pub(crate) fn exists(fd: c_int) -> bool {
    entry(fd).is_ok()
}

/// Runs `f` on a socket that is neither listening nor connected.
pub(crate) fn with_pending(
    fd: c_int,
    f: impl FnOnce(&mut Pending) -> Result<c_int, c_int>,
) -> Result<c_int, c_int> {
    let e = entry(fd)?;
    let mut obj = e.obj.lock().unwrap_or_else(PoisonError::into_inner);
    match &mut *obj {
        Object::Pending(p) => f(p),
        Object::Epoll(_) => Err(libc::ENOTSOCK),
        _ => Err(libc::EINVAL),
    }
}

/// Replaces the object of `fd` with what `f` makes of it (listen,
/// connect). The object stays locked meanwhile: a concurrent `listen` or
/// `connect` on the same descriptor waits.
pub(crate) fn transform(
    fd: c_int,
    f: impl FnOnce(&mut Object, &Options) -> Result<Object, c_int>,
) -> Result<(), c_int> {
    let e = entry(fd)?;
    let opts = e
        .opts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut obj = e.obj.lock().unwrap_or_else(PoisonError::into_inner);
    if matches!(&*obj, Object::Epoll(_)) {
        return Err(libc::ENOTSOCK);
    }
    let next = f(&mut obj, &opts)?;
    *obj = next;
    Ok(())
}

pub(crate) fn listener(fd: c_int) -> Result<Arc<TcpListener>, c_int> {
    match object(fd)? {
        Object::Listener(l) => Ok(l),
        Object::Epoll(_) => Err(libc::ENOTSOCK),
        _ => Err(libc::EINVAL),
    }
}

pub(crate) fn stream(fd: c_int) -> Result<Arc<TcpStream>, c_int> {
    match object(fd)? {
        Object::Stream(s) => Ok(s),
        Object::Epoll(_) => Err(libc::ENOTSOCK),
        _ => Err(libc::ENOTCONN),
    }
}

pub(crate) fn epoll(fd: c_int) -> Result<Arc<Epoll>, c_int> {
    match object(fd)? {
        Object::Epoll(e) => Ok(e),
        _ => Err(libc::EINVAL),
    }
}

/// The object of `fd`, whatever it is (for epoll's readiness checks).
pub(crate) fn get(fd: c_int) -> Result<Object, c_int> {
    object(fd)
}

pub(crate) fn nonblocking(fd: c_int) -> Result<bool, c_int> {
    Ok(match object(fd)? {
        Object::Pending(p) => p.nonblocking,
        Object::Listener(l) => l.is_nonblocking(),
        Object::Stream(s) => s.is_nonblocking(),
        Object::Epoll(_) => false,
    })
}

pub(crate) fn set_nonblocking(fd: c_int, on: bool) -> Result<(), c_int> {
    let e = entry(fd)?;
    let mut obj = e.obj.lock().unwrap_or_else(PoisonError::into_inner);
    match &mut *obj {
        Object::Pending(p) => p.nonblocking = on,
        Object::Listener(l) => l.set_nonblocking(on),
        Object::Stream(s) => s.set_nonblocking(on),
        Object::Epoll(_) => {}
    }
    Ok(())
}

/// Records an option and, on a connection, applies it now.
pub(crate) fn set_option(
    fd: c_int,
    record: impl FnOnce(&mut Options),
    apply: impl FnOnce(&TcpStream) -> io::Result<()>,
) -> Result<(), c_int> {
    let e = entry(fd)?;
    record(&mut e.opts.lock().unwrap_or_else(PoisonError::into_inner));
    let obj = e.obj.lock().unwrap_or_else(PoisonError::into_inner).clone();
    match obj {
        Object::Stream(s) => apply(&s).map_err(|e| errno_of(&e)),
        Object::Epoll(_) => Err(libc::ENOTSOCK),
        _ => Ok(()),
    }
}

pub(crate) fn options(fd: c_int) -> Result<Options, c_int> {
    Ok(entry(fd)?
        .opts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone())
}

pub(crate) fn local_addr(fd: c_int) -> Result<SocketAddrV4, c_int> {
    match object(fd)? {
        Object::Listener(l) => l.local_addr().map_err(|e| errno_of(&e)),
        Object::Stream(s) => s.local_addr().map_err(|e| errno_of(&e)),
        Object::Pending(p) => Ok(SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, p.port)),
        Object::Epoll(_) => Err(libc::ENOTSOCK),
    }
}

/// Removes every descriptor (when the runtime stops).
pub(crate) fn clear() {
    let taken: Vec<(usize, Arc<Entry>)> = {
        let mut table = TABLE.write().unwrap_or_else(PoisonError::into_inner);
        table
            .iter_mut()
            .enumerate()
            .filter_map(|(i, e)| e.take().map(|e| (i, e)))
            .collect()
    };
    for (fd, _) in taken {
        // SAFETY: reserved by `insert`, now out of the table.
        unsafe { libc::close(fd as c_int) };
    }
}
