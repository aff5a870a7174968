//! ICMP: echo, the errors we receive (handed to the connection they
//! concern: [`crate::tcp::icmp`]), and the errors we send, rate-limited.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::api::Unreachable;
use crate::buf::{BufferPool, PacketBuf};
use crate::stats::DropReason;
use crate::tcp::icmp::{IcmpEffect, IcmpReport};
use crate::time::Instant;
use crate::wire::icmpv4::{CODE_FRAG_NEEDED, CODE_PROTOCOL_UNREACHABLE};
use crate::wire::{Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Repr, SeqNumber};

use super::rx::wire_drop;
use super::table::FlowKey;
use super::Engine;

/// RFC 1191 7: the plateaus an MTU is guessed from when a router reports
/// "fragmentation needed" without the next hop's MTU (RFC 792 routers).
const PLATEAUS: [usize; 10] = [32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

/// A token bucket for the ICMP errors we send (`icmp_error_rate`,
/// `icmp_error_burst`), so that a flood of what provokes them cannot turn
/// the engine into a flood source.
#[derive(Debug, Clone)]
pub(super) struct IcmpLimit {
    tokens: u32,
    /// When the tokens were last topped up.
    at: Instant,
}

impl IcmpLimit {
    pub fn new(burst: u32, now: Instant) -> IcmpLimit {
        IcmpLimit {
            tokens: burst,
            at: now,
        }
    }

    /// Takes a token if one is left at `now`.
    fn take(&mut self, now: Instant, rate: u32, burst: u32) -> bool {
        if rate == 0 {
            return false;
        }
        let per_token = 1_000_000_000 / u64::from(rate);
        let elapsed = now.saturating_duration_since(self.at).as_nanos();
        let earned = elapsed / u128::from(per_token.max(1));
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX).min(burst);
            self.tokens = self.tokens.saturating_add(earned).min(burst);
            self.at = if self.tokens == burst {
                now
            } else {
                self.at + core::time::Duration::from_nanos(u64::from(earned) * per_token)
            };
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// What an ICMP error quotes of the TCP segment that caused it.
struct Quoted {
    /// Our port and the peer's address, as the segment carried them.
    key: FlowKey,
    seq: SeqNumber,
    /// The quoted datagram's total length (for the MTU plateaus).
    total_len: usize,
}

/// Parses the quoted datagram of an ICMP error (RFC 792: the IP header and
/// at least 8 bytes of its payload): only a TCP segment we sent counts.
fn quoted_segment(original: &[u8], ours: Ipv4Addr) -> Option<Quoted> {
    let first = *original.first()?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < 20 || original.len() < ihl + 8 {
        return None;
    }
    let ip = &original[..ihl];
    if ip[9] != u8::from(IpProtocol::Tcp) {
        return None;
    }
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    if src != ours {
        return None;
    }
    let tcp = &original[ihl..ihl + 8];
    let word = |i: usize| u16::from_be_bytes([tcp[i], tcp[i + 1]]);
    Some(Quoted {
        key: FlowKey {
            local_port: word(0),
            remote: SocketAddrV4::new(dst, word(2)),
        },
        seq: SeqNumber(u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]])),
        total_len: usize::from(u16::from_be_bytes([ip[2], ip[3]])),
    })
}

impl<P: BufferPool> Engine<P> {
    pub(super) fn rx_icmp(&mut self, frame: &P::Buf, ip: &Ipv4Repr, at: usize, verify: bool) {
        self.stats.icmp_in += 1;
        let Some(bytes) = frame.data().get(at..at + ip.payload_len) else {
            return self.stats.drop(DropReason::Malformed);
        };
        let packet = match Icmpv4Packet::new_checked(bytes) {
            Ok(p) => p,
            Err(e) => return self.stats.drop(wire_drop(e)),
        };
        match Icmpv4Repr::parse(&packet, verify) {
            Ok(Icmpv4Repr::EchoRequest { .. })
                if self.cfg.icmp_echo && 20 + ip.payload_len > usize::from(self.cfg.mtu) =>
            {
                self.stats.drop(DropReason::Oversize);
            }
            Ok(Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }) if self.cfg.icmp_echo => {
                let reply = Icmpv4Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                if self.send_icmp(ip.src_addr, &reply) {
                    self.stats.icmp_echo_replies += 1;
                }
            }
            Ok(Icmpv4Repr::DstUnreachable { code, original }) => {
                self.stats.icmp_unreachable_in += 1;
                let report = if code == CODE_FRAG_NEEDED {
                    Some(IcmpReport::PacketTooBig {
                        mtu: usize::from(packet.next_hop_mtu()),
                    })
                } else {
                    Unreachable::from_code(code).map(IcmpReport::Unreachable)
                };
                self.icmp_error(report, original);
            }
            // Code 1 (reassembly time exceeded) concerns fragments, which
            // we never send.
            Ok(Icmpv4Repr::TimeExceeded { code: 0, original }) => {
                let report = Some(IcmpReport::Unreachable(Unreachable::TtlExceeded));
                self.icmp_error(report, original);
            }
            Ok(_) => {}
            Err(e) => self.stats.drop(wire_drop(e)),
        }
    }

    /// Hands an ICMP error to the connection whose segment it quotes.
    fn icmp_error(&mut self, report: Option<IcmpReport>, original: &[u8]) {
        let quoted = quoted_segment(original, self.cfg.address.address);
        let (Some(mut report), Some(q)) = (report, quoted) else {
            return self.stats.drop(DropReason::IcmpUnmatched);
        };
        let Some(idx) = self.flows.get(&q.key) else {
            return self.stats.drop(DropReason::IcmpUnmatched);
        };
        if let IcmpReport::PacketTooBig { mtu } = &mut report {
            if *mtu == 0 {
                *mtu = PLATEAUS
                    .into_iter()
                    .find(|&p| p < q.total_len)
                    .unwrap_or(68);
            }
            *mtu = (*mtu).clamp(
                usize::from(self.cfg.min_path_mtu),
                usize::from(self.cfg.mtu),
            );
        }
        let Some(conn) = self.conns.get_mut(idx) else {
            return;
        };
        let (effect, out) = conn.tcb.on_icmp(q.seq, report);
        match effect {
            IcmpEffect::Unmatched => self.stats.drop(DropReason::IcmpUnmatched),
            IcmpEffect::Applied | IcmpEffect::Nothing => self.stats.icmp_errors_applied += 1,
            IcmpEffect::MssLowered => {
                self.stats.icmp_errors_applied += 1;
                self.stats.pmtu_decreases += 1;
            }
        }
        self.after_tcb(idx, out);
    }

    /// RFC 1122 3.2.2.1: a datagram for a protocol we do not serve gets
    /// Destination Unreachable, protocol, quoting its header and first 8
    /// bytes, within the rate limit. The receive path has dropped by then
    /// everything RFC 1122 3.2.2 forbids answering (broadcasts, fragments,
    /// martian sources); the datagram is no ICMP message either.
    pub(super) fn protocol_unreachable(&mut self, ip: &Ipv4Repr, datagram: &[u8]) {
        let (rate, burst) = (self.cfg.icmp_error_rate, self.cfg.icmp_error_burst);
        if !self.icmp_limit.take(self.now, rate, burst) {
            self.stats.icmp_errors_suppressed += 1;
            return;
        }
        let ihl = datagram.first().map_or(20, |b| usize::from(b & 0x0f) * 4);
        let quote = &datagram[..datagram.len().min(ihl + 8)];
        let msg = Icmpv4Repr::DstUnreachable {
            code: CODE_PROTOCOL_UNREACHABLE,
            original: quote,
        };
        if self.send_icmp(ip.src_addr, &msg) {
            self.stats.icmp_errors_sent += 1;
        }
    }
}
