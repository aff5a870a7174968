//! Engine configuration.
//!
//! One [`EngineConfig`] per engine. Every field has a documented default, so
//! a configuration file names only what it changes. Deserialisation rejects
//! unknown keys (serde names the key); [`EngineConfig::validate`] rejects
//! values that make no sense and names the field. Durations are written in
//! milliseconds in configuration files (`rto_min_ms = 200`).

use core::time::Duration;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::wire::{EthernetAddress, Ipv4Cidr};

/// Everything an engine needs to know before it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Our MAC address. Default `02:00:00:00:00:01` (locally administered).
    #[serde(with = "text")]
    pub mac: EthernetAddress,
    /// Our IPv4 address and the prefix of the directly attached subnet.
    /// Default `10.99.0.1/24`.
    #[serde(with = "text")]
    pub address: Ipv4Cidr,
    /// Next hop for destinations outside the subnet. Default: none (only the
    /// local subnet is reachable).
    pub gateway: Option<Ipv4Addr>,
    /// IP MTU of the link in bytes. Default 1500.
    pub mtu: u16,
    /// Neighbours whose MAC address is known in advance (never expire).
    /// Default: none.
    pub neighbors: Vec<StaticNeighbor>,
    /// Whether to answer ICMP echo requests for our address. Default true.
    pub icmp_echo: bool,
    /// ICMP error messages the engine may send per second, over all
    /// destinations (a token bucket, as Linux's `icmp_msgs_per_sec`); 0
    /// sends none. The engine sends Protocol Unreachable for IP protocols
    /// it does not serve (RFC 1122 3.2.2.1). Echo replies are not counted.
    /// Default 1000.
    pub icmp_error_rate: u32,
    /// How many ICMP errors may go in one burst (the bucket's depth).
    /// Default 50.
    pub icmp_error_burst: u32,
    /// The smallest path MTU an ICMP "fragmentation needed" message may
    /// lower a connection to (RFC 1191; Linux's `min_pmtu`): a forged
    /// message cannot shrink segments below it. Default 552.
    pub min_path_mtu: u16,
    /// Most connections (any state, TIME_WAIT included) the engine holds.
    /// With the table full, a SYN to a listener gets a SYN cookie
    /// (`tcp.syn_cookies`) rather than silence: the connection is made
    /// when the ACK returns it, if there is room by then. Default 65,536.
    pub max_connections: usize,
    /// Most connections one remote address may hold on listeners (any
    /// state), so that one host cannot fill the table; SYNs beyond it are
    /// dropped and counted (`drops.source_limit`). Zero: no limit.
    /// Default 0.
    pub max_connections_per_source: usize,
    /// Checksum offloads the driver provides.
    pub offload: OffloadConfig,
    /// Neighbour resolution.
    pub arp: ArpConfig,
    /// TCP parameters.
    pub tcp: TcpConfig,
    /// How much packet-buffer memory connections may hold, and what
    /// happens as they near it.
    pub memory: MemoryConfig,
}

/// A neighbour with a fixed MAC address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticNeighbor {
    /// The neighbour's IPv4 address.
    pub ip: Ipv4Addr,
    /// Its MAC address, `aa:bb:cc:dd:ee:ff`.
    #[serde(with = "text")]
    pub mac: EthernetAddress,
}

/// Checksum work the device does for us.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OffloadConfig {
    /// The device verified IPv4 and TCP checksums of received frames and
    /// dropped bad ones. Default false (the engine verifies).
    pub rx_checksum: bool,
    /// The device fills IPv4 and TCP checksums of transmitted frames. The
    /// engine then writes the pseudo-header sum into the TCP checksum field
    /// and marks the frame (see [`crate::Transmit::checksum_offload`]).
    /// Default false.
    pub tx_checksum: bool,
    /// The driver cuts frames that carry several segments of new data
    /// (see [`crate::Transmit::segment_size`]): by the device's TCP
    /// segmentation offload, or in software ([`crate::segment`]). The
    /// engine then hands over up to eight full segments of a connection
    /// in one frame, built once. What reaches the wire is the same either
    /// way, byte for byte. Default false.
    pub tx_segmentation: bool,
}

/// ARP cache behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArpConfig {
    /// How long a learned entry stays fresh. A stale entry is still used
    /// while requests to its MAC confirm it (`max_requests` of them,
    /// `retry_interval` apart), and forgotten when unused for this long
    /// again. Default 60 s.
    #[serde(rename = "entry_ttl_ms", with = "millis")]
    pub entry_ttl: Duration,
    /// Time between requests for an unresolved address. Default 1 s.
    #[serde(rename = "retry_interval_ms", with = "millis")]
    pub retry_interval: Duration,
    /// Requests sent before giving up and dropping the queued packets.
    /// Default 3.
    pub max_requests: u32,
    /// Packets queued per unresolved neighbour; more are dropped and counted.
    /// Default 16.
    pub pending_per_neighbor: usize,
    /// Packets queued for all unresolved neighbours together (each holds a
    /// buffer); more are dropped and counted. Default 256.
    pub pending_total: usize,
    /// Most entries in the cache. When it is full, an entry nothing was
    /// sent to, or a stale one not in use, makes room for a new one
    /// (`arp_evictions`); entries in use are never evicted. Default 1024.
    pub capacity: usize,
}

/// Keepalive probing of idle connections (off by default, as in RFC 9293).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepaliveConfig {
    /// Whether new connections probe when idle. Default false.
    pub enabled: bool,
    /// Idle time before the first probe. Default 7200 s (RFC 1122 4.2.3.6).
    #[serde(rename = "idle_ms", with = "millis")]
    pub idle: Duration,
    /// Time between unanswered probes. Default 75 s.
    #[serde(rename = "interval_ms", with = "millis")]
    pub interval: Duration,
    /// Unanswered probes before the connection is reset. Default 9.
    pub count: u32,
}

/// Packet-buffer memory held by connections, counted by buffer truesize
/// (the whole buffer, not its payload), in the manner of Linux's
/// `tcp_mem`, `tcp_rmem` and `tcp_wmem`.
///
/// The engine's connections together hold at most `limit` bytes. Below
/// the pressure mark nothing is regulated. From the pressure mark on,
/// small segments are copied together into full buffers and windows grow
/// by at most four segments. From the critical mark on, out-of-order
/// queues are pruned (the longest-waiting first) and windows stop growing.
/// The last `reserved_percent` of the limit is kept for connections that
/// hold less than `conn_min`, so a new or quiet connection is served while
/// others hold the rest. Whatever lies beyond the limit in
/// the pool (at least `tcp.pool_reserve` buffers) is never held by a
/// connection: it receives ARP, ICMP and the ACKs and RSTs that free
/// buffers, so the engine always hears its peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryConfig {
    /// Bytes of buffer truesize all connections of the engine may hold.
    /// Default: derived from the pool, every buffer but `tcp.pool_reserve`
    /// (a driver whose pool also feeds device rings or other engines sets
    /// it; the DPDK runtime does).
    pub limit: Option<usize>,
    /// The pressure mark, in percent of `limit`. Default 50.
    pub pressure_percent: u8,
    /// The critical mark, in percent of `limit`. Default 75.
    pub critical_percent: u8,
    /// The top of the limit, in percent, that only connections holding
    /// less than `conn_min` may use. Default 10.
    pub reserved_percent: u8,
    /// A connection holding less than this (receive and send queues
    /// together) may take buffers from the reserved top of the limit, so
    /// a new or quiet connection is served whatever the others hold
    /// (Linux guarantees `tcp_rmem[0]` and `tcp_wmem[0]` the same way, per
    /// direction). Default 4096.
    pub conn_min: usize,
    /// Bytes of truesize one connection may hold in received data, in
    /// order and out of order. Default: twice `tcp.recv_buffer`, plus
    /// four buffers.
    pub conn_recv_limit: Option<usize>,
    /// Bytes of truesize one connection may hold in its send queue.
    /// Default: twice `tcp.send_buffer`, plus four buffers.
    pub conn_send_limit: Option<usize>,
    /// Out-of-order data held this long without the stream moving on is
    /// dropped (the sender still has it). Default 10 s.
    #[serde(rename = "ooo_timeout_ms", with = "millis")]
    pub ooo_timeout: Duration,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            limit: None,
            pressure_percent: 50,
            critical_percent: 75,
            reserved_percent: 10,
            conn_min: 4096,
            conn_recv_limit: None,
            conn_send_limit: None,
            ooo_timeout: Duration::from_secs(10),
        }
    }
}

/// TCP parameters, the defaults of a modern Linux host where they exist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TcpConfig {
    /// Send buffer per connection in bytes. Default 256 KiB.
    pub send_buffer: usize,
    /// Receive buffer per connection in bytes: the most unread data held,
    /// and so the largest window advertised (at most 65,535 bytes unless
    /// window scaling is on). Default 64 KiB.
    pub recv_buffer: usize,
    /// Buffers the engine leaves free for receiving: `write` stops taking
    /// buffers from the pool (returning `NoBuffers`) while fewer remain, so
    /// a sender whose send queues hold the rest can still receive the ACKs
    /// that free them. Default 64.
    pub pool_reserve: usize,
    /// Offer and accept window scaling (RFC 7323 section 2), so windows
    /// can exceed 64 KiB (the shift is the smallest that covers
    /// `recv_buffer`). Default true.
    pub window_scaling: bool,
    /// Offer and accept timestamps (RFC 7323 sections 3 to 5): an RTT
    /// sample from every ACK of new data, and PAWS. Each segment then
    /// carries 12 bytes of option, taken from its payload. Default true.
    pub timestamps: bool,
    /// Offer and accept selective acknowledgments (RFC 2018): ACKs report
    /// the blocks of out-of-order data held, and duplicates (D-SACK, RFC
    /// 2883). Default true.
    pub sack: bool,
    /// Congestion control for new connections (`Engine::set_congestion`
    /// changes it per connection). Default `cubic`.
    pub congestion: crate::CongestionAlgorithm,
    /// Challenge ACKs (RFC 5961: for a RST or SYN in the window but not
    /// exact, and for an ACK too old to be true) go at most once per this
    /// interval on a connection (RFC 5961 7; Linux's
    /// `tcp_invalid_ratelimit`). The limit is per connection, not per
    /// engine: an engine-wide count is a side channel through which an
    /// off-path attacker learns whether its guesses hit another
    /// connection (CVE-2016-5696). Zero: no limit. Default 500 ms.
    #[serde(rename = "challenge_ack_interval_ms", with = "millis")]
    pub challenge_ack_interval: Duration,
    /// The longest a peer may delay its ACK, for the tail loss probe's
    /// timeout when one segment is out (RFC 8985 7.2 `WCDelAckT`).
    /// Default 200 ms.
    #[serde(rename = "peer_max_ack_delay_ms", with = "millis")]
    pub peer_max_ack_delay: Duration,
    /// Maximum segment size we advertise and send. Default: the MTU less 40.
    pub mss: Option<u16>,
    /// Initial congestion window in segments (RFC 6928). Default 10.
    pub initial_window: u32,
    /// Retransmission timeout before any RTT sample (RFC 6298 2.1).
    /// Default 1 s.
    #[serde(rename = "rto_initial_ms", with = "millis")]
    pub rto_initial: Duration,
    /// Lower bound of the retransmission timeout. Default 200 ms (Linux);
    /// RFC 6298 2.4 suggests 1 s.
    #[serde(rename = "rto_min_ms", with = "millis")]
    pub rto_min: Duration,
    /// Upper bound of the retransmission timeout. Default 120 s.
    #[serde(rename = "rto_max_ms", with = "millis")]
    pub rto_max: Duration,
    /// Retransmissions of the same data before the connection fails with
    /// `TimedOut`. Default 15 (Linux `tcp_retries2`).
    pub max_retransmits: u32,
    /// SYN retransmissions before `connect` fails with `TimedOut`.
    /// Default 6.
    pub syn_retries: u32,
    /// SYN-ACK retransmissions before a half-open connection is dropped.
    /// Default 5.
    pub synack_retries: u32,
    /// Longest an ACK is delayed (RFC 9293 3.8.6.3 allows up to 500 ms).
    /// Zero acknowledges every segment at once. Default 40 ms.
    #[serde(rename = "delayed_ack_ms", with = "millis")]
    pub delayed_ack: Duration,
    /// Whether new connections disable Nagle's algorithm. Default false.
    pub nodelay: bool,
    /// In-order segments acknowledged at once, not delayed, at the start
    /// of a connection and again after the receive side was idle for a
    /// retransmission timeout (Linux's quick-ACK mode), unless the
    /// connection answers data with data (then the ACK rides on the
    /// answer). 0 turns it off. Default 16.
    pub quickacks: u8,
    /// Longest time queued data may wait without the peer acknowledging
    /// any of it, before the connection fails with `TimedOut` (Linux
    /// `TCP_USER_TIMEOUT`; covers a peer whose window stays closed). Zero
    /// turns it off. Default 0; per connection with
    /// `Engine::set_user_timeout`.
    #[serde(rename = "user_timeout_ms", with = "millis")]
    pub user_timeout: Duration,
    /// Zero-window probes an orphaned connection (closed by the
    /// application, data still queued) sends before it gives up, answered
    /// or not (Linux `tcp_orphan_retries`). Default 8.
    pub orphan_retries: u32,
    /// Keepalive probing.
    pub keepalive: KeepaliveConfig,
    /// Time spent in TIME_WAIT (2·MSL). Default 60 s.
    #[serde(rename = "time_wait_ms", with = "millis")]
    pub time_wait: Duration,
    /// How long an orphaned connection may sit in FIN_WAIT_2.
    /// Default 60 s (Linux `tcp_fin_timeout`).
    #[serde(rename = "fin_wait2_timeout_ms", with = "millis")]
    pub fin_wait2_timeout: Duration,
    /// Half-open connections per listener; beyond them, new SYNs get SYN
    /// cookies (or are dropped, with `syn_cookies` off). Default 1024.
    pub syn_queue: usize,
    /// Answer SYNs beyond `syn_queue` with SYN cookies (RFC 4987 3.6):
    /// nothing is kept until the client's ACK returns the cookie, so a
    /// flood of spoofed SYNs cannot lock out real clients. Connections
    /// opened so keep their MSS (rounded down to one of eight values) and,
    /// when both sides use timestamps, window scaling and SACK; without
    /// timestamps they get neither. Default true.
    pub syn_cookies: bool,
    /// Upper bound on any listener's backlog. Default 4096.
    pub max_backlog: usize,
    /// Memory (buffer truesize) one connection may hold in out-of-order
    /// segments; beyond it new out-of-order segments are dropped.
    /// Default 256 KiB.
    pub reassembly_limit: usize,
    /// First port of the ephemeral range (RFC 6056). Default 49152.
    pub ephemeral_first: u16,
    /// Last port of the ephemeral range. Default 65535.
    pub ephemeral_last: u16,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            mac: EthernetAddress([0x02, 0, 0, 0, 0, 0x01]),
            address: Ipv4Cidr::new(Ipv4Addr::new(10, 99, 0, 1), 24).expect("valid prefix"),
            gateway: None,
            mtu: 1500,
            neighbors: Vec::new(),
            icmp_echo: true,
            icmp_error_rate: 1000,
            icmp_error_burst: 50,
            min_path_mtu: 552,
            max_connections: 65_536,
            max_connections_per_source: 0,
            offload: OffloadConfig::default(),
            arp: ArpConfig::default(),
            tcp: TcpConfig::default(),
            memory: MemoryConfig::default(),
        }
    }
}

impl Default for ArpConfig {
    fn default() -> Self {
        ArpConfig {
            entry_ttl: Duration::from_secs(60),
            retry_interval: Duration::from_secs(1),
            max_requests: 3,
            pending_per_neighbor: 16,
            pending_total: 256,
            capacity: 1024,
        }
    }
}

impl Default for KeepaliveConfig {
    fn default() -> Self {
        KeepaliveConfig {
            enabled: false,
            idle: Duration::from_secs(7200),
            interval: Duration::from_secs(75),
            count: 9,
        }
    }
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            send_buffer: 256 * 1024,
            recv_buffer: 64 * 1024,
            window_scaling: true,
            timestamps: true,
            sack: true,
            congestion: crate::CongestionAlgorithm::Cubic,
            peer_max_ack_delay: Duration::from_millis(200),
            challenge_ack_interval: Duration::from_millis(500),
            pool_reserve: 64,
            mss: None,
            initial_window: 10,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(120),
            max_retransmits: 15,
            syn_retries: 6,
            synack_retries: 5,
            delayed_ack: Duration::from_millis(40),
            nodelay: false,
            quickacks: 16,
            user_timeout: Duration::ZERO,
            orphan_retries: 8,
            keepalive: KeepaliveConfig::default(),
            time_wait: Duration::from_secs(60),
            fin_wait2_timeout: Duration::from_secs(60),
            syn_queue: 1024,
            syn_cookies: true,
            max_backlog: 4096,
            reassembly_limit: 256 * 1024,
            ephemeral_first: 49152,
            ephemeral_last: 65535,
        }
    }
}

/// A configuration value that cannot work, with the field that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The field, as written in a configuration file (`tcp.rto_min_ms`).
    pub field: &'static str,
    /// Why the value is rejected.
    pub reason: String,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "invalid configuration: `{}`: {}",
            self.field, self.reason
        )
    }
}

impl std::error::Error for ConfigError {}

fn check(
    ok: bool,
    field: &'static str,
    reason: impl FnOnce() -> String,
) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError {
            field,
            reason: reason(),
        })
    }
}

/// Smallest IPv4 MTU every host must accept (RFC 791).
const MIN_MTU: u16 = 576;
/// Smallest IPv4 datagram every link must carry (RFC 791): the floor of
/// `min_path_mtu`.
const MIN_PATH_MTU: u16 = 68;
/// Largest MTU we build frames for (jumbo frames).
const MAX_MTU: u16 = 9216;
/// IPv4 and TCP headers without options.
const IP_TCP_HEADERS: u16 = 40;

impl EngineConfig {
    /// The MSS we advertise and send with: `tcp.mss`, or the MTU less the
    /// IPv4 and TCP headers.
    pub fn effective_mss(&self) -> u16 {
        self.tcp
            .mss
            .unwrap_or(self.mtu.saturating_sub(IP_TCP_HEADERS))
    }

    /// Checks every value; the error names the first offending field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let addr = self.address.address;
        check(self.mac.is_unicast(), "mac", || {
            format!("{} is not a unicast address", self.mac)
        })?;
        check(
            !addr.is_unspecified() && !addr.is_broadcast() && !addr.is_multicast(),
            "address",
            || format!("{addr} cannot be a host address"),
        )?;
        check(
            self.address.prefix_len == 32
                || (addr != self.address.network() && Some(addr) != self.address.broadcast()),
            "address",
            || format!("{} is the network or broadcast address", self.address),
        )?;
        if let Some(gw) = self.gateway {
            check(self.address.contains(gw) && gw != addr, "gateway", || {
                format!("{gw} is not another host on {}", self.address)
            })?;
        }
        check((MIN_MTU..=MAX_MTU).contains(&self.mtu), "mtu", || {
            format!("{} is outside {MIN_MTU}..={MAX_MTU}", self.mtu)
        })?;
        check(
            (MIN_PATH_MTU..=self.mtu).contains(&self.min_path_mtu),
            "min_path_mtu",
            || {
                format!(
                    "{} is outside {MIN_PATH_MTU}..={} (the mtu)",
                    self.min_path_mtu, self.mtu
                )
            },
        )?;
        check(
            self.icmp_error_rate == 0 || self.icmp_error_burst > 0,
            "icmp_error_burst",
            || "must be at least 1 when icmp_error_rate is set".into(),
        )?;
        check(self.max_connections < 1 << 23, "max_connections", || {
            format!(
                "{} is above 8,388,607 (handles hold 24-bit slots)",
                self.max_connections
            )
        })?;
        check(self.max_connections > 0, "max_connections", || {
            "must be at least 1".into()
        })?;
        self.arp.validate()?;
        self.tcp.validate(self.mtu)?;
        self.memory.validate()
    }
}

impl ArpConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check(!self.entry_ttl.is_zero(), "arp.entry_ttl_ms", || {
            "must be positive".into()
        })?;
        check(
            !self.retry_interval.is_zero(),
            "arp.retry_interval_ms",
            || "must be positive".into(),
        )?;
        check(self.max_requests > 0, "arp.max_requests", || {
            "must be at least 1".into()
        })?;
        check(self.capacity > 0, "arp.capacity", || {
            "must be at least 1".into()
        })
    }
}

impl MemoryConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        check(
            self.reserved_percent < 100,
            "memory.reserved_percent",
            || "must be below 100".into(),
        )?;
        if let Some(limit) = self.limit {
            check(limit > 0, "memory.limit", || "must be positive".into())?;
        }
        check(
            self.pressure_percent <= self.critical_percent,
            "memory.pressure_percent",
            || {
                format!(
                    "{} is above memory.critical_percent ({})",
                    self.pressure_percent, self.critical_percent
                )
            },
        )?;
        check(
            self.critical_percent <= 100 - self.reserved_percent,
            "memory.critical_percent",
            || {
                format!(
                    "{} reaches into the reserved top {} % of the limit",
                    self.critical_percent, self.reserved_percent
                )
            },
        )?;
        for (field, value) in [
            ("memory.conn_recv_limit", self.conn_recv_limit),
            ("memory.conn_send_limit", self.conn_send_limit),
        ] {
            if let Some(v) = value {
                check(v >= self.conn_min, field, || {
                    format!("{v} bytes is less than memory.conn_min ({})", self.conn_min)
                })?;
            }
        }
        check(!self.ooo_timeout.is_zero(), "memory.ooo_timeout_ms", || {
            "must be positive".into()
        })
    }
}

impl TcpConfig {
    fn validate(&self, mtu: u16) -> Result<(), ConfigError> {
        if let Some(mss) = self.mss {
            let max = mtu.saturating_sub(IP_TCP_HEADERS);
            check((88..=max).contains(&mss), "tcp.mss", || {
                format!("{mss} is outside 88..={max} (the MTU less 40 bytes of headers)")
            })?;
        }
        let mss = usize::from(self.mss.unwrap_or(mtu.saturating_sub(IP_TCP_HEADERS)));
        check(self.send_buffer >= mss, "tcp.send_buffer", || {
            format!(
                "{} bytes is less than one segment ({mss})",
                self.send_buffer
            )
        })?;
        check(self.recv_buffer >= mss, "tcp.recv_buffer", || {
            format!(
                "{} bytes is less than one segment ({mss})",
                self.recv_buffer
            )
        })?;
        check(self.pool_reserve >= 1, "tcp.pool_reserve", || {
            "must be at least 1 buffer: with none kept for receiving, a send \
             queue can take the whole pool and the ACKs that would free it \
             cannot be received"
                .into()
        })?;
        check(self.initial_window >= 1, "tcp.initial_window", || {
            "must be at least 1 segment".into()
        })?;
        check(!self.rto_min.is_zero(), "tcp.rto_min_ms", || {
            "must be positive".into()
        })?;
        check(
            self.rto_min <= self.rto_initial,
            "tcp.rto_initial_ms",
            || "must not be less than tcp.rto_min_ms".into(),
        )?;
        check(self.rto_initial <= self.rto_max, "tcp.rto_max_ms", || {
            "must not be less than tcp.rto_initial_ms".into()
        })?;
        check(self.max_retransmits >= 1, "tcp.max_retransmits", || {
            "must be at least 1".into()
        })?;
        check(
            self.delayed_ack <= Duration::from_millis(500),
            "tcp.delayed_ack_ms",
            || "RFC 9293 3.8.6.3 allows at most 500 ms".into(),
        )?;
        check(!self.time_wait.is_zero(), "tcp.time_wait_ms", || {
            "must be positive (RFC 9293 requires 2·MSL)".into()
        })?;
        check(
            !self.fin_wait2_timeout.is_zero(),
            "tcp.fin_wait2_timeout_ms",
            || "must be positive".into(),
        )?;
        check(self.syn_queue >= 1, "tcp.syn_queue", || {
            "must be at least 1".into()
        })?;
        check(self.max_backlog >= 1, "tcp.max_backlog", || {
            "must be at least 1".into()
        })?;
        check(self.reassembly_limit >= mss, "tcp.reassembly_limit", || {
            format!(
                "{} bytes is less than one segment ({mss})",
                self.reassembly_limit
            )
        })?;
        check(
            self.ephemeral_first >= 1024 && self.ephemeral_first <= self.ephemeral_last,
            "tcp.ephemeral_first",
            || {
                format!(
                    "range {}..={} must be non-empty and above 1023",
                    self.ephemeral_first, self.ephemeral_last
                )
            },
        )?;
        if self.keepalive.enabled {
            check(
                !self.keepalive.idle.is_zero(),
                "tcp.keepalive.idle_ms",
                || "must be positive".into(),
            )?;
            check(
                !self.keepalive.interval.is_zero(),
                "tcp.keepalive.interval_ms",
                || "must be positive".into(),
            )?;
            check(self.keepalive.count >= 1, "tcp.keepalive.count", || {
                "must be at least 1".into()
            })?;
        }
        Ok(())
    }
}

/// Durations as whole milliseconds in configuration files.
mod millis {
    use core::time::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// Types written as text in configuration files (MAC and CIDR addresses).
mod text {
    use core::fmt::Display;
    use core::str::FromStr;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e| D::Error::custom(format!("`{s}`: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        EngineConfig::default().validate().unwrap();
        assert_eq!(EngineConfig::default().effective_mss(), 1460);
    }

    #[test]
    fn a_partial_file_keeps_the_other_defaults() {
        let c: EngineConfig = toml::from_str(
            "address = \"192.168.7.2/24\"\n[tcp]\nrto_min_ms = 300\n[tcp.keepalive]\nenabled = true\n",
        )
        .unwrap();
        assert_eq!(c.address.to_string(), "192.168.7.2/24");
        assert_eq!(c.tcp.rto_min, Duration::from_millis(300));
        assert!(c.tcp.keepalive.enabled);
        assert_eq!(c.tcp.delayed_ack, Duration::from_millis(40));
        c.validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = toml::from_str::<EngineConfig>("[tcp]\nrto_minimum_ms = 3\n").unwrap_err();
        assert!(err.to_string().contains("rto_minimum_ms"), "{err}");
    }

    #[test]
    fn bad_text_values_are_named() {
        let err = toml::from_str::<EngineConfig>("mac = \"02:00:00\"\n").unwrap_err();
        assert!(err.to_string().contains("02:00:00"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_field() {
        let mut c = EngineConfig::default();
        c.tcp.rto_min = Duration::from_secs(5);
        assert_eq!(c.validate().unwrap_err().field, "tcp.rto_initial_ms");

        let c = EngineConfig {
            mtu: 100,
            ..EngineConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "mtu");

        let c = EngineConfig {
            gateway: Some(Ipv4Addr::new(10, 1, 0, 1)),
            ..EngineConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "gateway");

        let mut c = EngineConfig::default();
        c.tcp.mss = Some(1461);
        assert_eq!(c.validate().unwrap_err().field, "tcp.mss");

        // Found by fuzzing: with no buffer kept for receiving, one write
        // could take the whole pool and the connection never send again.
        let mut c = EngineConfig::default();
        c.tcp.pool_reserve = 0;
        assert_eq!(c.validate().unwrap_err().field, "tcp.pool_reserve");

        let mut c = EngineConfig::default();
        c.tcp.ephemeral_first = 60000;
        c.tcp.ephemeral_last = 50000;
        assert_eq!(c.validate().unwrap_err().field, "tcp.ephemeral_first");
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("tcp.ephemeral_first"));
    }

    #[test]
    fn round_trips_through_toml() {
        let c = EngineConfig::default();
        let text = toml::to_string(&c).unwrap();
        let back: EngineConfig = toml::from_str(&text).unwrap();
        assert_eq!(c, back);
    }
}
