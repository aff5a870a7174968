//! A pcap writer for every frame in and out (tcpdump, tshark and Wireshark
//! read it): the classic format, microsecond timestamps, Ethernet.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Frames larger than this are cut (pcap `snaplen`).
const SNAPLEN: u32 = 65_535;
const LINKTYPE_ETHERNET: u32 = 1;

/// Writes frames to a pcap file. Buffered; flushed on drop.
pub struct PcapWriter<W: Write = BufWriter<File>> {
    out: W,
}

impl PcapWriter {
    /// Creates (or truncates) `path` and writes the file header.
    pub fn create(path: &Path) -> io::Result<PcapWriter> {
        PcapWriter::new(BufWriter::new(File::create(path)?))
    }
}

impl<W: Write> PcapWriter<W> {
    /// A writer on `out`; writes the file header.
    pub fn new(mut out: W) -> io::Result<PcapWriter<W>> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&SNAPLEN.to_le_bytes());
        h.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out })
    }

    /// Records one frame made of `parts` (the segments of an mbuf chain),
    /// stamped with the wall clock. Allocates nothing.
    pub fn write<'a>(&mut self, parts: impl Iterator<Item = &'a [u8]> + Clone) -> io::Result<()> {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let len: usize = parts.clone().map(<[u8]>::len).sum();
        let caplen = len.min(SNAPLEN as usize);
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&(t.as_secs() as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&t.subsec_micros().to_le_bytes());
        rec[8..12].copy_from_slice(&(caplen as u32).to_le_bytes());
        rec[12..16].copy_from_slice(&(len as u32).to_le_bytes());
        self.out.write_all(&rec)?;
        let mut left = caplen;
        for p in parts {
            let n = p.len().min(left);
            self.out.write_all(&p[..n])?;
            left -= n;
        }
        Ok(())
    }

    /// Flushes buffered records.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_header_and_records() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write([&b"abc"[..], &b"defg"[..]].into_iter()).unwrap();
        let bytes = w.into_inner();
        assert_eq!(bytes.len(), 24 + 16 + 7);
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&bytes[20..24], &1u32.to_le_bytes());
        assert_eq!(&bytes[24 + 8..24 + 12], &7u32.to_le_bytes());
        assert_eq!(&bytes[40..], b"abcdefg");
    }
}
