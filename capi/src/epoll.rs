//! epoll over the stack's descriptors: an interest list per instance,
//! readiness read from the sockets' shared state, and a wait that sleeps
//! until the engine's thread changes something.
//!
//! Level-triggered by default. With `EPOLLET`, a descriptor is reported
//! when it is ready and has changed since its last report (new bytes, new
//! room, a new state), so a program that reads or writes until `EAGAIN`
//! is woken again only by news. `EPOLLONESHOT` disables the interest after
//! one report until `EPOLL_CTL_MOD`.

use std::collections::BTreeMap;
use std::os::raw::c_int;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use libc::epoll_event;

use crate::fds::{self, Object};
use crate::{fail, sockets};

struct Interest {
    events: u32,
    data: u64,
    /// The socket's change count at its last report (edge-triggered).
    reported: Option<u32>,
    /// Disabled by `EPOLLONESHOT` after a report.
    armed: bool,
}

/// One epoll instance.
#[derive(Default)]
pub(crate) struct Epoll {
    interests: Mutex<BTreeMap<c_int, Interest>>,
}

/// Every epoll instance, so that closing a descriptor takes it out of
/// their interest lists (as closing the last reference does on Linux):
/// a number reused later must not inherit the old interest.
static INSTANCES: Mutex<Vec<std::sync::Weak<Epoll>>> = Mutex::new(Vec::new());

/// `fd` was closed: no epoll instance watches it any more.
pub(crate) fn forget(fd: c_int) {
    let mut all = INSTANCES.lock().unwrap_or_else(PoisonError::into_inner);
    all.retain(|w| match w.upgrade() {
        Some(ep) => {
            ep.interests
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&fd);
            true
        }
        None => false,
    });
}

/// The events `fd` is ready for, and its change count.
pub(crate) fn readiness(fd: c_int) -> Option<(u32, u32)> {
    let (ready, changes) = match fds::get(fd).ok()? {
        Object::Stream(s) => (s.ready(), s.changes()),
        Object::Listener(l) => (l.ready(), l.changes()),
        // As Linux: a socket neither connected nor listening is writable
        // and hung up.
        Object::Pending(_) => {
            return Some(((libc::EPOLLOUT | libc::EPOLLHUP) as u32, 0));
        }
        Object::Epoll(_) => return Some((0, 0)),
    };
    let mut ev = 0u32;
    if ready.readable {
        ev |= libc::EPOLLIN as u32;
    }
    if ready.writable {
        ev |= libc::EPOLLOUT as u32;
    }
    if ready.peer_closed {
        ev |= (libc::EPOLLRDHUP | libc::EPOLLIN) as u32;
    }
    if ready.error {
        ev |= (libc::EPOLLERR | libc::EPOLLHUP | libc::EPOLLIN | libc::EPOLLOUT) as u32;
    }
    Some((ev, changes))
}

impl Epoll {
    /// Collects up to `max` ready descriptors into `out`.
    fn collect(&self, out: &mut Vec<epoll_event>, max: usize) {
        let mut interests = self
            .interests
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut gone = Vec::new();
        for (&fd, i) in interests.iter_mut() {
            if out.len() >= max {
                break;
            }
            if !i.armed {
                continue;
            }
            let Some((ready, changes)) = readiness(fd) else {
                // Closed without EPOLL_CTL_DEL: Linux drops it too.
                gone.push(fd);
                continue;
            };
            let always = (libc::EPOLLERR | libc::EPOLLHUP) as u32;
            let mask = ready & (i.events | always);
            if mask == 0 {
                continue;
            }
            if i.events & libc::EPOLLET as u32 != 0 && i.reported == Some(changes) {
                continue;
            }
            i.reported = Some(changes);
            if i.events & libc::EPOLLONESHOT as u32 != 0 {
                i.armed = false;
            }
            out.push(epoll_event {
                events: mask,
                u64: i.data,
            });
        }
        for fd in gone {
            interests.remove(&fd);
        }
    }
}

/// `epoll_create1` (flags: `EPOLL_CLOEXEC`).
#[no_mangle]
pub extern "C" fn stack_epoll_create1(flags: c_int) -> c_int {
    if flags & !libc::EPOLL_CLOEXEC != 0 {
        return fail(libc::EINVAL);
    }
    let ep = Arc::new(Epoll::default());
    INSTANCES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Arc::downgrade(&ep));
    match fds::insert(Object::Epoll(ep)) {
        Ok(fd) => fd,
        Err(e) => fail(e),
    }
}

/// `epoll_ctl` with `EPOLL_CTL_ADD`, `EPOLL_CTL_MOD`, `EPOLL_CTL_DEL`, on
/// the stack's descriptors (others give `EPERM`, as a regular file does on
/// Linux).
#[no_mangle]
pub unsafe extern "C" fn stack_epoll_ctl(
    epfd: c_int,
    op: c_int,
    fd: c_int,
    event: *mut epoll_event,
) -> c_int {
    let ep = match fds::epoll(epfd) {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    if !fds::exists(fd) {
        return fail(libc::EPERM);
    }
    if fd == epfd {
        return fail(libc::EINVAL);
    }
    let ev = if op == libc::EPOLL_CTL_DEL {
        None
    } else if event.is_null() {
        return fail(libc::EFAULT);
    } else {
        // SAFETY: the caller passes a readable epoll_event (packed on
        // x86-64: read unaligned).
        Some(unsafe { std::ptr::read_unaligned(event) })
    };
    let mut interests = ep.interests.lock().unwrap_or_else(PoisonError::into_inner);
    match (op, ev) {
        (libc::EPOLL_CTL_ADD, Some(ev)) => {
            if interests.contains_key(&fd) {
                return fail(libc::EEXIST);
            }
            interests.insert(
                fd,
                Interest {
                    events: ev.events,
                    data: ev.u64,
                    reported: None,
                    armed: true,
                },
            );
        }
        (libc::EPOLL_CTL_MOD, Some(ev)) => match interests.get_mut(&fd) {
            Some(i) => {
                *i = Interest {
                    events: ev.events,
                    data: ev.u64,
                    reported: None,
                    armed: true,
                }
            }
            None => return fail(libc::ENOENT),
        },
        (libc::EPOLL_CTL_DEL, _) => {
            if interests.remove(&fd).is_none() {
                return fail(libc::ENOENT);
            }
        }
        _ => return fail(libc::EINVAL),
    }
    0
}

/// `epoll_wait`: waits up to `timeout` ms (-1: for ever, 0: not at all).
#[no_mangle]
pub unsafe extern "C" fn stack_epoll_wait(
    epfd: c_int,
    events: *mut epoll_event,
    maxevents: c_int,
    timeout: c_int,
) -> c_int {
    let ep = match fds::epoll(epfd) {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    let Ok(max) = usize::try_from(maxevents) else {
        return fail(libc::EINVAL);
    };
    if max == 0 {
        return fail(libc::EINVAL);
    }
    if events.is_null() {
        return fail(libc::EFAULT);
    }
    let s = match sockets() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let deadline = match timeout {
        t if t < 0 => None,
        t => Some(Instant::now() + Duration::from_millis(t as u64)),
    };
    let mut out = Vec::with_capacity(max.min(1024));
    s.wait_until(deadline, || {
        out.clear();
        ep.collect(&mut out, max);
        !out.is_empty()
    });
    for (i, ev) in out.iter().enumerate() {
        // SAFETY: the caller passes room for `maxevents` events; at most
        // that many were collected.
        unsafe { std::ptr::write_unaligned(events.add(i), *ev) };
    }
    out.len() as c_int
}
