//! Captures of the simulated wire as pcap files (the classic format,
//! microsecond timestamps, Ethernet), to compare runs byte for byte and
//! to read with tcpdump when they differ.

use std::io::{self, Write};
use std::path::Path;

use stack::Instant;

/// `frames` (time, bytes) as a pcap file's bytes.
pub fn to_bytes<'a>(frames: impl IntoIterator<Item = (Instant, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    // Magic, version 2.4, GMT offset, accuracy, snap length, Ethernet.
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (at, frame) in frames {
        let micros = at.as_nanos() / 1_000;
        out.extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
        let len = frame.len() as u32;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(frame);
    }
    out
}

/// Writes `bytes` (from [`to_bytes`]) to `path`.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    std::fs::File::create(path)?.write_all(bytes)
}
