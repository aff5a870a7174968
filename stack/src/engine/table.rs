//! The engine's tables: connections (a slab with generations), the flow
//! map from 4-tuple to connection, listeners, and application handles.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddrV4;

use crate::api::Handle;
use crate::tcp::timers::TimerKind;
use crate::tcp::{EventBits, Tcb};
use crate::time::Instant;
use crate::timer::TimerId;

/// A slab of values addressed by index, with a generation per slot so
/// that a stale reference (a timer, a handle) is detected after reuse.
pub(crate) struct Slab<T> {
    slots: Vec<(u32, Option<T>)>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Slab<T> {
    pub fn with_capacity(n: usize) -> Self {
        Slab {
            slots: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
            len: 0,
        }
    }

    pub fn insert(&mut self, value: T) -> (u32, u32) {
        self.len += 1;
        if let Some(i) = self.free.pop() {
            let slot = &mut self.slots[i as usize];
            slot.1 = Some(value);
            return (i, slot.0);
        }
        self.slots.push((0, Some(value)));
        ((self.slots.len() - 1) as u32, 0)
    }

    pub fn remove(&mut self, index: u32) -> Option<T> {
        let slot = self.slots.get_mut(index as usize)?;
        let value = slot.1.take()?;
        slot.0 = slot.0.wrapping_add(1);
        self.free.push(index);
        self.len -= 1;
        Some(value)
    }

    pub fn get(&self, index: u32) -> Option<&T> {
        self.slots.get(index as usize)?.1.as_ref()
    }

    pub fn get_mut(&mut self, index: u32) -> Option<&mut T> {
        self.slots.get_mut(index as usize)?.1.as_mut()
    }

    /// The value at `index` if its generation is still `generation`.
    pub fn get_gen_mut(&mut self, index: u32, generation: u32) -> Option<&mut T> {
        let slot = self.slots.get_mut(index as usize)?;
        if slot.0 != generation {
            return None;
        }
        slot.1.as_mut()
    }

    /// The value at `index` if its generation is still `generation`.
    pub fn get_gen(&self, index: u32, generation: u32) -> Option<&T> {
        let slot = self.slots.get(index as usize)?;
        if slot.0 != generation {
            return None;
        }
        slot.1.as_ref()
    }

    pub fn generation(&self, index: u32) -> u32 {
        self.slots.get(index as usize).map_or(0, |s| s.0)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Heap memory of the slab itself (not what its values point to).
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<(u32, Option<T>)>() + self.free.capacity() * 4
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, (_, v))| v.as_ref().map(|v| (i as u32, v)))
    }
}

/// A connection as the engine holds it: the TCB plus bookkeeping.
pub(crate) struct ConnEntry<B> {
    pub tcb: Tcb<B>,
    /// Application handles referring to it (contract 13).
    pub handles: u32,
    /// The handle events name (the one `connect` or `accept` returned).
    pub event_handle: Option<Handle>,
    /// The listener that owns it until `accept` takes it.
    pub listener: Option<u32>,
    pub in_accept_queue: bool,
    /// Mirror of the TCB deadlines in the timing wheel.
    pub timers: [Option<(TimerId, Instant)>; TimerKind::COUNT],
    /// Queued in the engine's ready list.
    pub in_ready: bool,
    /// Queued in the engine's list of connections holding out-of-order
    /// data (pruned first under memory pressure).
    pub in_ooo_list: bool,
    /// The application's token, returned with the connection's events.
    pub token: u64,
    /// Events held back until the receive burst ends (at most one of each
    /// kind per connection per burst), and whether its timers are owed a
    /// sync then.
    pub deferred: EventBits,
    pub deferred_timers: bool,
}

impl<B> ConnEntry<B> {
    pub fn new(tcb: Tcb<B>) -> Self {
        ConnEntry {
            tcb,
            handles: 0,
            event_handle: None,
            listener: None,
            in_accept_queue: false,
            timers: [None; TimerKind::COUNT],
            in_ready: false,
            in_ooo_list: false,
            token: 0,
            deferred: EventBits::default(),
            deferred_timers: false,
        }
    }
}

/// What a wheel entry refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerRef {
    pub conn: u32,
    pub generation: u32,
    pub kind: TimerKind,
}

/// A listening port.
pub(crate) struct Listener {
    pub port: u16,
    pub backlog: usize,
    /// Connections in SYN_RECEIVED (contract 14, the SYN queue).
    pub half_open: usize,
    /// Established connections waiting for `accept`.
    pub accept_queue: VecDeque<u32>,
    pub handle: Handle,
    /// The application's token, returned with the listener's events.
    pub token: u64,
}

/// What an application handle refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Conn(u32),
    Listener(u32),
}

/// The 4-tuple, local address implied (one address per engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FlowKey {
    pub local_port: u16,
    pub remote: SocketAddrV4,
}

impl FlowKey {
    fn as_u64(&self) -> u64 {
        (u64::from(u32::from(*self.remote.ip())) << 32)
            | (u64::from(self.remote.port()) << 16)
            | u64::from(self.local_port)
    }
}

/// A keyed multiply-xorshift hash of the 4-tuple: one multiplication per
/// lookup instead of SipHash's rounds; the key keeps remote parties from
/// choosing colliding tuples.
#[derive(Clone, Copy)]
pub(crate) struct FlowHashBuilder {
    key: u64,
}

impl FlowHashBuilder {
    pub fn new(key: u64) -> Self {
        FlowHashBuilder { key: key | 1 }
    }
}

impl BuildHasher for FlowHashBuilder {
    type Hasher = FlowHasher;
    fn build_hasher(&self) -> FlowHasher {
        FlowHasher {
            key: self.key,
            state: 0,
        }
    }
}

pub(crate) struct FlowHasher {
    key: u64,
    state: u64,
}

impl Hasher for FlowHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        let x = (self.state ^ v ^ self.key).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.state = x ^ (x >> 29);
    }

    fn finish(&self) -> u64 {
        let x = self.state.wrapping_mul(self.key);
        x ^ (x >> 32)
    }
}

/// Flow map: 4-tuple to connection index. Open addressing (the standard
/// library's SwissTable), preallocated so the steady state never resizes.
pub(crate) struct FlowTable {
    map: HashMap<u64, u32, FlowHashBuilder>,
}

impl FlowTable {
    pub fn new(capacity: usize, key: u64) -> Self {
        FlowTable {
            map: HashMap::with_capacity_and_hasher(capacity, FlowHashBuilder::new(key)),
        }
    }

    pub fn get(&self, key: &FlowKey) -> Option<u32> {
        self.map.get(&key.as_u64()).copied()
    }

    pub fn insert(&mut self, key: FlowKey, conn: u32) {
        self.map.insert(key.as_u64(), conn);
    }

    pub fn remove(&mut self, key: &FlowKey) {
        self.map.remove(&key.as_u64());
    }

    pub fn contains(&self, key: &FlowKey) -> bool {
        self.map.contains_key(&key.as_u64())
    }

    /// Flows in the table.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Heap memory of the table: SwissTable buckets of key, value and one
    /// control byte each (at 7/8 load factor).
    pub fn heap_bytes(&self) -> usize {
        self.map.capacity() * 8 / 7 * (core::mem::size_of::<(u64, u32)>() + 1)
    }
}
