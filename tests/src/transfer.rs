//! A bulk transfer application for the simulator: each side sends a
//! seeded pseudo-random byte stream and hashes what it receives, so the
//! test can check every byte arrived, in order.

use sha2::{Digest, Sha256};
use stack::{Engine, Error, HeapPool};

use crate::rng::Rng;

/// Bytes generated per chunk.
const CHUNK: usize = 64 * 1024;

/// One direction's sender.
pub struct Sender {
    rng: Rng,
    remaining: u64,
    pending: Vec<u8>,
    offset: usize,
    hasher: Sha256,
    /// Bytes accepted by `write` so far.
    pub sent: u64,
}

impl Sender {
    /// A sender of `total` bytes drawn from `seed`.
    pub fn new(seed: u64, total: u64) -> Sender {
        Sender {
            rng: Rng::new(seed),
            remaining: total,
            pending: Vec::new(),
            offset: 0,
            hasher: Sha256::new(),
            sent: 0,
        }
    }

    /// Writes as much as the connection takes. Returns the write error
    /// other than `WouldBlock`, if any.
    pub fn pump(&mut self, engine: &mut Engine<HeapPool>, h: stack::Handle) -> Result<(), Error> {
        loop {
            if self.offset == self.pending.len() {
                if self.remaining == 0 {
                    return Ok(());
                }
                let n = (self.remaining as usize).min(CHUNK);
                self.pending.resize(n, 0);
                self.rng.fill(&mut self.pending);
                self.hasher.update(&self.pending);
                self.remaining -= n as u64;
                self.offset = 0;
            }
            match engine.write(h, &self.pending[self.offset..]) {
                Ok(n) => {
                    self.offset += n;
                    self.sent += n as u64;
                }
                Err(Error::WouldBlock) | Err(Error::NoBuffers) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether everything was handed to the engine.
    pub fn done(&self) -> bool {
        self.remaining == 0 && self.offset == self.pending.len()
    }

    /// SHA-256 of everything generated.
    pub fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }
}

/// One direction's receiver.
#[derive(Default)]
pub struct Receiver {
    hasher: Sha256,
    /// Bytes read so far.
    pub received: u64,
    /// End of stream was read.
    pub eof: bool,
}

impl Receiver {
    /// Reads everything available. Returns the read error other than
    /// `WouldBlock`, if any.
    pub fn pump(&mut self, engine: &mut Engine<HeapPool>, h: stack::Handle) -> Result<(), Error> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match engine.read(h, &mut buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.hasher.update(&buf[..n]);
                    self.received += n as u64;
                }
                Err(Error::WouldBlock) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// SHA-256 of everything read.
    pub fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }
}
