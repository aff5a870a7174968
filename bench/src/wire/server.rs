//! The wire tool's server: echo on one port (rtt, rr, crr, and bulk both
//! ways), discard on another (bulk one way), in one engine loop. Echo is
//! zero copy: received buffers are queued for sending as they are.

use std::collections::{HashMap, VecDeque};

use dpdk_io::{App, Mbuf, MbufPool};
use stack::{Engine, Error, Handle, Instant};

/// Port of the echo service.
pub const ECHO_PORT: u16 = 7;
/// Port of the discard service.
pub const DISCARD_PORT: u16 = 9;
/// First of the echo ports the idle test spreads its connections over
/// (each allows about 64 k connections from one client address).
pub const IDLE_PORT_BASE: u16 = 20_000;
/// Number of idle-test ports: 20 x 60 k connections is more than 1 M.
pub const IDLE_PORTS: u16 = 20;

enum Role {
    Echo(VecDeque<Mbuf>),
    Discard,
}

/// Echo and discard servers sharing one engine.
#[derive(Default)]
pub struct WireServer {
    echo: Option<Handle>,
    discard: Option<Handle>,
    idle: Vec<Handle>,
    conns: HashMap<Handle, Role>,
    /// Connections accepted.
    pub accepted: u64,
}

impl WireServer {
    fn service(&mut self, engine: &mut Engine<MbufPool>, h: Handle) {
        let Some(role) = self.conns.get_mut(&h) else {
            return;
        };
        let closed = match role {
            Role::Discard => loop {
                match engine.read_buf(h) {
                    Ok(Some(_)) => {}
                    Ok(None) => break true,
                    Err(Error::WouldBlock) => break false,
                    Err(_) => break true,
                }
            },
            Role::Echo(queue) => 'echo: loop {
                while let Some(buf) = queue.pop_front() {
                    match engine.write_buf(h, buf) {
                        Ok(()) => {}
                        Err((Error::WouldBlock, buf)) => {
                            queue.push_front(buf);
                            break 'echo false;
                        }
                        Err(_) => break 'echo true,
                    }
                }
                match engine.read_buf(h) {
                    Ok(Some(buf)) => queue.push_back(buf),
                    Ok(None) => break true,
                    Err(Error::WouldBlock) => break false,
                    Err(_) => break true,
                }
            },
        };
        if closed {
            let _ = engine.close(h);
            self.conns.remove(&h);
        }
    }
}

impl App for WireServer {
    fn start(&mut self, engine: &mut Engine<MbufPool>) -> Result<(), dpdk_io::AppError> {
        self.echo = Some(engine.listen(ECHO_PORT, 4096).map_err(|e| e.to_string())?);
        self.discard = Some(
            engine
                .listen(DISCARD_PORT, 4096)
                .map_err(|e| e.to_string())?,
        );
        for p in IDLE_PORT_BASE..IDLE_PORT_BASE + IDLE_PORTS {
            self.idle
                .push(engine.listen(p, 4096).map_err(|e| e.to_string())?);
        }
        Ok(())
    }

    fn poll(&mut self, engine: &mut Engine<MbufPool>, _now: Instant) {
        while let Some(ev) = engine.poll_event() {
            let listener = Some(ev.handle);
            if listener == self.echo || listener == self.discard || self.idle.contains(&ev.handle) {
                while let Ok((h, _)) = engine.accept(ev.handle) {
                    let _ = engine.set_nodelay(h, true);
                    self.accepted += 1;
                    let role = if listener == self.echo {
                        Role::Echo(VecDeque::new())
                    } else {
                        Role::Discard
                    };
                    self.conns.insert(h, role);
                    self.service(engine, h);
                }
            } else {
                self.service(engine, ev.handle);
            }
        }
    }
}
