//! SYN cookies (RFC 4987 3.6): when a listener's SYN queue is full, the
//! SYN-ACK's sequence number carries what the connection needs, and
//! nothing is kept until the client's ACK returns it.
//!
//! The cookie (our ISN):
//!
//! ```text
//!   31      27 26  24 23                                 0
//!  +----------+------+-----------------------------------+
//!  |  minute  | MSS  | keyed hash of the addresses, the  |
//!  |  (5 bit) |index | client's ISN, minute, MSS, options |
//!  +----------+------+-----------------------------------+
//! ```
//!
//! `minute` counts 64-second periods: an ACK is taken in the period its
//! cookie was made and the next. When both SYNs carry timestamps, the low
//! five bits of our SYN-ACK's TSval (which the ACK echoes) carry the
//! client's window scale and SACK-permitted, as Linux does; the hash covers
//! them too. Without timestamps only the MSS survives, so the SYN-ACK then
//! offers neither window scaling nor SACK.

use crate::hash::SipHasher24;
use crate::time::Instant;
use crate::wire::SeqNumber;
use std::net::SocketAddrV4;

/// The MSS values a cookie can name; the client's is rounded down, to
/// 536 at least (what every host accepts, RFC 1122 3.3.3).
const MSS_TABLE: [u16; 8] = [536, 1200, 1360, 1400, 1440, 1460, 4312, 8960];

/// Seconds per `minute`.
const PERIOD_SECS: u64 = 64;

/// Option bits in the TSval: window scale (15: none) and SACK-permitted.
const WSCALE_NONE: u32 = 0xf;
const SACK_BIT: u32 = 0x10;
const OPTION_BITS: u32 = 0x1f;

/// What the client's SYN offered, as far as a cookie keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Offered {
    pub mss: u16,
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
}

fn period(now: Instant) -> u32 {
    ((now.as_nanos() / 1_000_000_000 / PERIOD_SECS) & 0x1f) as u32
}

fn option_bits(o: &Offered) -> u32 {
    let ws = o.wscale.map_or(WSCALE_NONE, |w| u32::from(w.min(14)));
    ws | if o.sack_permitted { SACK_BIT } else { 0 }
}

fn hash24(
    secret: [u8; 16],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    client_isn: SeqNumber,
    minute: u32,
    mss_index: u32,
    options: u32,
) -> u32 {
    let mut h = SipHasher24::new(secret);
    h.write(b"syn cookie");
    h.write(&local.ip().octets());
    h.write_u16(local.port());
    h.write(&remote.ip().octets());
    h.write_u16(remote.port());
    h.write(&client_isn.0.to_be_bytes());
    h.write(&[minute as u8, mss_index as u8, options as u8]);
    (h.finish() as u32) & 0x00ff_ffff
}

/// The cookie for a SYN from `remote` with sequence number `client_isn`,
/// and the options bits for the TSval (meaningful only with timestamps).
/// The offered MSS is rounded down to the table.
pub(crate) fn make(
    secret: [u8; 16],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    client_isn: SeqNumber,
    offered: &Offered,
    now: Instant,
) -> (SeqNumber, u32) {
    let mss_index = MSS_TABLE
        .iter()
        .rposition(|&m| m <= offered.mss)
        .unwrap_or(0) as u32;
    let minute = period(now);
    let options = option_bits(offered);
    let hash = hash24(
        secret, local, remote, client_isn, minute, mss_index, options,
    );
    (
        SeqNumber((minute << 27) | (mss_index << 24) | hash),
        options,
    )
}

/// Puts the option bits into a TSval, keeping it no later than `tsval`
/// (the clock must not run backwards for the peer's PAWS).
pub(crate) fn stamp(tsval: u32, options: u32) -> u32 {
    let base = tsval & !OPTION_BITS;
    let stamped = base | options;
    if stamped > tsval {
        base.wrapping_sub(OPTION_BITS + 1) | options
    } else {
        stamped
    }
}

/// Checks the cookie an ACK returns (`ack - 1`), for the client's ISN
/// `seq - 1`; `tsecr` is the echoed TSval when timestamps are on. Returns
/// what the SYN offered, or `None` for a forged, stale or damaged cookie.
pub(crate) fn check(
    secret: [u8; 16],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    seq: SeqNumber,
    ack: SeqNumber,
    tsecr: Option<u32>,
    now: Instant,
) -> Option<Offered> {
    let cookie = (ack - 1).0;
    let minute = cookie >> 27;
    let mss_index = (cookie >> 24) & 0x7;
    let current = period(now);
    if minute != current && minute != (current + 31) & 0x1f {
        return None;
    }
    let options = tsecr.map_or(WSCALE_NONE, |t| t & OPTION_BITS);
    let expected = hash24(secret, local, remote, seq - 1, minute, mss_index, options);
    if cookie & 0x00ff_ffff != expected {
        return None;
    }
    let ws = options & WSCALE_NONE;
    Some(Offered {
        mss: MSS_TABLE[mss_index as usize],
        wscale: (ws != WSCALE_NONE).then_some(ws as u8),
        sack_permitted: options & SACK_BIT != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;
    use std::net::Ipv4Addr;

    const SECRET: [u8; 16] = [7; 16];

    fn ends() -> (SocketAddrV4, SocketAddrV4) {
        (
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 40_000),
        )
    }

    #[test]
    fn a_cookie_returns_what_the_syn_offered_within_two_periods() {
        let (l, r) = ends();
        let isn = SeqNumber(123_456);
        let offered = Offered {
            mss: 1460,
            wscale: Some(7),
            sack_permitted: true,
        };
        let t0 = Instant::from_nanos(1_000_000_000_000);
        let (cookie, bits) = make(SECRET, l, r, isn, &offered, t0);
        let tsecr = stamp(0x1234_5678, bits);
        assert!(tsecr <= 0x1234_5678);
        let ok = |at| check(SECRET, l, r, isn + 1, cookie + 1, Some(tsecr), at);
        assert_eq!(ok(t0), Some(offered));
        assert_eq!(ok(t0 + Duration::from_secs(PERIOD_SECS)), Some(offered));
        assert_eq!(ok(t0 + Duration::from_secs(3 * PERIOD_SECS)), None);
    }

    #[test]
    fn a_changed_address_isn_or_option_breaks_the_cookie() {
        let (l, r) = ends();
        let isn = SeqNumber(99);
        let offered = Offered {
            mss: 1400,
            wscale: None,
            sack_permitted: false,
        };
        let t = Instant::from_nanos(5_000_000_000);
        let (cookie, _) = make(SECRET, l, r, isn, &offered, t);
        assert_eq!(
            check(SECRET, l, r, isn + 1, cookie + 1, None, t),
            Some(offered)
        );
        let other = SocketAddrV4::new(*r.ip(), 40_001);
        assert_eq!(check(SECRET, l, other, isn + 1, cookie + 1, None, t), None);
        assert_eq!(check(SECRET, l, r, isn + 2, cookie + 1, None, t), None);
        assert_eq!(check(SECRET, l, r, isn + 1, cookie + 2, None, t), None);
        // Claiming SACK through the echoed TSval does not pass.
        assert_eq!(
            check(SECRET, l, r, isn + 1, cookie + 1, Some(SACK_BIT | 0xf), t),
            None
        );
        assert_eq!(check([8; 16], l, r, isn + 1, cookie + 1, None, t), None);
    }

    #[test]
    fn the_mss_is_rounded_down_to_the_table() {
        let (l, r) = ends();
        let t = Instant::from_nanos(0);
        let offered = |mss| Offered {
            mss,
            wscale: None,
            sack_permitted: false,
        };
        for (given, kept) in [(1460, 1460), (1459, 1440), (500, 536), (9000, 8960)] {
            let (c, _) = make(SECRET, l, r, SeqNumber(1), &offered(given), t);
            let back = check(SECRET, l, r, SeqNumber(2), c + 1, None, t).unwrap();
            assert_eq!(back.mss, kept, "offered {given}");
        }
    }
}
