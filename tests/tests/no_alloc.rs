//! The steady-state data path allocates nothing: once a connection is
//! established and warmed up, in-order data in / ACK out and data out /
//! ACK in run without touching the heap, frame by frame and in bursts. A counting global allocator
//! proves it; this file is its own test binary so nothing else counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use stack::wire::{EthernetAddress, Ipv4Cidr};
use stack::{
    BufferPool, Engine, EngineConfig, Handle, HeapBuf, HeapPool, Instant, PacketBuf,
    StaticNeighbor, Transmit,
};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY (of the impl as a whole): every call is forwarded unchanged to the
// system allocator; the counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    (out, ALLOCATIONS.load(Ordering::Relaxed) - before)
}

fn host(n: u8, peer: u8) -> EngineConfig {
    EngineConfig {
        mac: EthernetAddress([2, 0, 0, 0, 0, n]),
        address: Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, n), 24).unwrap(),
        neighbors: vec![StaticNeighbor {
            ip: Ipv4Addr::new(10, 0, 0, peer),
            mac: EthernetAddress([2, 0, 0, 0, 0, peer]),
        }],
        ..EngineConfig::default()
    }
}

/// Two engines wired back to back: frames move from one's `poll_transmit`
/// into a buffer of the other's pool, as a NIC would DMA them.
struct Wire {
    now: Instant,
    engines: [Engine<HeapPool>; 2],
    pools: [HeapPool; 2],
    /// Frames whose payload ran over more than one send-queue buffer.
    multi_part_frames: u64,
    /// Frames per burst, or one by one.
    burst: Option<usize>,
    out: Vec<Transmit<HeapBuf>>,
    rx: Vec<HeapBuf>,
}

impl Wire {
    fn new(burst: Option<usize>) -> Wire {
        let pools = [
            HeapPool::new(4096, 2176, 128),
            HeapPool::new(4096, 2176, 128),
        ];
        let engines = [
            Engine::new(host(1, 2), pools[0].clone(), [1; 16], Instant::ZERO).unwrap(),
            Engine::new(host(2, 1), pools[1].clone(), [2; 16], Instant::ZERO).unwrap(),
        ];
        Wire {
            now: Instant::ZERO,
            engines,
            pools,
            multi_part_frames: 0,
            burst,
            out: Vec::with_capacity(64),
            rx: Vec::with_capacity(64),
        }
    }

    /// Two engines with a connection from engine 0 to port 80 of engine
    /// 1: the wire, the client's handle and the server's.
    fn connected(burst: Option<usize>) -> (Wire, Handle, Handle) {
        let mut w = Wire::new(burst);
        let listener = w.engines[1].listen(80, 16).unwrap();
        let client = w.engines[0]
            .connect(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80))
            .unwrap();
        for _ in 0..10 {
            w.pump(Duration::from_micros(50));
        }
        let (server, _) = w.engines[1].accept(listener).expect("accepted");
        (w, client, server)
    }

    /// The frame `t` as it arrives at engine `to`: one buffer of its pool.
    fn deliver(&mut self, to: usize, t: Transmit<HeapBuf>) -> HeapBuf {
        let mut buf = self.pools[to].alloc().expect("pool");
        buf.append(t.head.len())
            .unwrap()
            .copy_from_slice(t.head.data());
        if t.payload.parts() > 1 {
            self.multi_part_frames += 1;
        }
        for part in t.payload.iter() {
            buf.append(part.len()).unwrap().copy_from_slice(part.data());
        }
        buf
    }

    /// Moves every pending frame across, both ways, until both are quiet;
    /// then advances the clock by `step`, running timers. Frames go one
    /// by one, or in bursts of `self.burst` (`poll_transmit_burst` and
    /// `handle_rx_burst`) when it is set.
    fn pump(&mut self, step: Duration) {
        loop {
            let mut moved = false;
            for from in 0..2 {
                let to = 1 - from;
                match self.burst {
                    None => {
                        while let Some(t) = self.engines[from].poll_transmit(self.now) {
                            let buf = self.deliver(to, t);
                            self.engines[to].handle_rx(self.now, buf);
                            moved = true;
                        }
                    }
                    Some(max) => {
                        let mut out = std::mem::take(&mut self.out);
                        let mut rx = std::mem::take(&mut self.rx);
                        while self.engines[from].poll_transmit_burst(self.now, &mut out, max) > 0 {
                            for t in out.drain(..) {
                                rx.push(self.deliver(to, t));
                            }
                            self.engines[to].handle_rx_burst(self.now, rx.drain(..));
                            moved = true;
                        }
                        (self.out, self.rx) = (out, rx);
                    }
                }
            }
            if !moved {
                break;
            }
        }
        self.now += step;
        for e in &mut self.engines {
            e.handle_timeouts(self.now);
            while e.poll_event().is_some() {}
        }
    }
}

/// Client writes `total` bytes; server reads them into a fixed buffer.
fn stream(
    w: &mut Wire,
    client: Handle,
    server: Handle,
    total: usize,
    chunk: &[u8],
    sink: &mut [u8],
) {
    let (mut written, mut read) = (0, 0);
    while read < total {
        while written < total {
            let n = chunk.len().min(total - written);
            match w.engines[0].write(client, &chunk[..n]) {
                Ok(k) => written += k,
                Err(_) => break,
            }
        }
        w.pump(Duration::from_micros(50));
        while let Ok(n) = w.engines[1].read(server, sink) {
            if n == 0 {
                break;
            }
            read += n;
        }
    }
}

#[test]
fn established_data_path_does_not_allocate() {
    // The counter itself works: a boxed value is one allocation.
    let (b, n) = counted(|| Box::new(7u64));
    assert_eq!((*b, n), (7, 1));
    // Frame by frame, and in bursts of 32 as the DPDK loop moves them.
    stream_without_allocating(None);
    stream_without_allocating(Some(32));
}

fn stream_without_allocating(burst: Option<usize>) {
    let (mut w, client, server) = Wire::connected(burst);
    let chunk = vec![0x5a; 16 * 1024];
    let mut sink = vec![0u8; 16 * 1024];

    // Warm up: queues, the timer wheel's slab and the event queue reach
    // their working size.
    stream(&mut w, client, server, 4 << 20, &chunk, &mut sink);

    let ((), allocations) = counted(|| stream(&mut w, client, server, 16 << 20, &chunk, &mut sink));
    let sent = w.engines[0].stats().segments_out;
    assert_eq!(
        allocations, 0,
        "heap allocations on the established data path (bursts {burst:?})"
    );
    assert!(
        sent > 10_000,
        "the measured phase moved real traffic ({sent} segments)"
    );
    // Without memory pressure nothing was copied together either: every
    // segment stayed in the buffer it arrived in, and every segment sent
    // was a share of the send queue (zero copy).
    for e in &w.engines {
        let s = e.stats();
        assert_eq!(s.memory.level, stack::MemoryLevel::Normal);
        assert_eq!(
            (s.memory.entered_pressure, s.memory.collapsed_segments),
            (0, 0),
            "{:?}",
            s.memory
        );
        assert_eq!((s.tx_copied_bytes, s.rx_copied_bytes), (0, 0));
    }
}

/// The zero-copy API end to end: the server takes each received buffer
/// with `read_buf` and queues it back with `write_buf` behind a 100-byte
/// reply header (as a server that frames its replies does). The header
/// lands on the tail of the buffer before it, so the queue's buffers are
/// no longer segment-sized and most segments span two of them: they go
/// out as shared parts, never copied, and nothing is allocated.
#[test]
fn echo_through_read_buf_and_write_buf_neither_allocates_nor_copies() {
    const HEADER: [u8; 100] = [0x48; 100];
    let (mut w, client, server) = Wire::connected(Some(32));
    let chunk: Vec<u8> = (0..16 * 1024).map(|i| (i % 251) as u8).collect();
    let mut sink = vec![0u8; 16 * 1024];

    // Client writes `total` bytes; the server echoes each buffer behind a
    // header; the client reads until all of it is back. Returns the bytes
    // echoed and the header bytes sent.
    let mut echo = |w: &mut Wire, total: usize| {
        let (mut written, mut echoed, mut headers, mut got) = (0, 0, 0, 0);
        let mut held = None;
        while got < echoed + headers || echoed < total {
            while written < total {
                let n = chunk.len().min(total - written);
                match w.engines[0].write(client, &chunk[..n]) {
                    Ok(k) => written += k,
                    Err(_) => break,
                }
            }
            w.pump(Duration::from_micros(50));
            // A buffer the send queue refused (its memory limit counts
            // whole buffers) waits for the next round, header already sent.
            loop {
                let buf = match held.take() {
                    Some(buf) => buf,
                    None => {
                        if w.engines[1].readiness(server).unwrap().readable_bytes == 0 {
                            break;
                        }
                        match w.engines[1].write(server, &HEADER) {
                            Ok(k) => headers += k,
                            Err(_) => break,
                        }
                        let Ok(Some(buf)) = w.engines[1].read_buf(server) else {
                            unreachable!("readable");
                        };
                        buf
                    }
                };
                let n = buf.len();
                match w.engines[1].write_buf(server, buf) {
                    Ok(()) => echoed += n,
                    Err((stack::Error::WouldBlock, buf)) => {
                        held = Some(buf);
                        break;
                    }
                    Err((e, _)) => panic!("write_buf: {e:?}"),
                }
            }
            while let Ok(n) = w.engines[0].read(client, &mut sink) {
                if n == 0 {
                    break;
                }
                got += n;
            }
        }
        (echoed, headers)
    };
    // Warm up, then count.
    echo(&mut w, 4 << 20);
    let before = w.engines[1].stats().clone();
    let multi_before = w.multi_part_frames;
    let ((echoed, headers), allocations) = counted(|| echo(&mut w, 8 << 20));
    let after = w.engines[1].stats();
    assert_eq!(echoed, 8 << 20, "every byte came back");
    assert_eq!(allocations, 0, "heap allocations on the echo path");
    let sent = after.segments_out - before.segments_out;
    assert!(
        sent > 5_000 && headers > 100_000,
        "real traffic ({sent} segments, {headers} header bytes)"
    );
    let multi = w.multi_part_frames - multi_before;
    assert!(
        multi > sent / 2,
        "most segments span two buffers ({multi} of {sent})"
    );
    assert_eq!(
        after.tx_copied_bytes - before.tx_copied_bytes,
        0,
        "payload copied into frames"
    );
    assert_eq!(after.rx_copied_bytes - before.rx_copied_bytes, 0);
    assert_eq!(after.memory.collapsed_segments, 0);
}
