//! The runtime's configuration file (`configs/*.toml`): EAL, port, mbuf
//! pool, loop, fault injection, and the engine's own configuration.
//!
//! Every field has a documented default; unknown keys are rejected with
//! the key's name, and [`RuntimeConfig::validate`] names the field of any
//! value that cannot work.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stack::EngineConfig;

use crate::eal::EalArgs;

/// Everything one stack process needs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// The DPDK environment.
    pub eal: EalConfig,
    /// The network port.
    pub port: PortSection,
    /// The mbuf pool.
    pub mempool: MempoolConfig,
    /// The poll loop.
    #[serde(rename = "loop")]
    pub run: LoopConfig,
    /// Faults injected on the port (tests and experiments), off by default.
    pub fault: Option<crate::fault::FaultConfig>,
    /// The TCP/IP engine.
    pub engine: EngineConfig,
}

/// EAL settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EalConfig {
    /// Cores to run on (`-l`), e.g. `"0"` or `"0-1"`. Default `"0"`.
    pub lcores: String,
    /// Run without hugepages (`--no-huge`). Default true: software vdevs
    /// need none; a physical NIC wants false.
    pub no_huge: bool,
    /// Memory in MiB (`-m`). Default 256.
    pub memory_mb: u32,
    /// Keep no shared runtime files (`--no-shconf`), so several processes
    /// can run side by side. Default true. (`--in-memory` is rejected by
    /// DPDK 22.11 together with `--no-huge`.)
    pub no_shconf: bool,
    /// `--file-prefix`, when processes must share or separate runtime
    /// files. Default: none.
    pub file_prefix: Option<String>,
    /// Scan the PCI bus for devices. Default false (`--no-pci`).
    pub pci: bool,
    /// Virtual devices (`--vdev`), e.g.
    /// `"net_memif0,role=server,socket=/tmp/stack.sock,socket-abstract=no"`.
    pub vdevs: Vec<String>,
    /// EAL log level (`--log-level`). Default `"notice"`.
    pub log_level: String,
    /// Anything else, passed through as is.
    pub extra_args: Vec<String>,
}

impl Default for EalConfig {
    fn default() -> Self {
        EalConfig {
            lcores: "0".into(),
            no_huge: true,
            memory_mb: 256,
            no_shconf: true,
            file_prefix: None,
            pci: false,
            vdevs: Vec::new(),
            log_level: "notice".into(),
            extra_args: Vec::new(),
        }
    }
}

/// Which port to use and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortSection {
    /// The device name: a vdev's name (`"net_memif0"`) or a PCI address
    /// (`"0000:03:00.0"`). Default `"net_memif0"`.
    pub device: String,
    /// RX descriptors per queue. Default 1024.
    pub rx_ring: u16,
    /// TX descriptors per queue. Default 1024.
    pub tx_ring: u16,
    /// Receive every frame, whatever its destination MAC. Default true.
    pub promiscuous: bool,
    /// Use the port's MAC address instead of `engine.mac`. Default true.
    pub use_port_mac: bool,
    /// How long to wait for the link at start, in ms; a link still down
    /// after it is reported, not fatal. Default 2000.
    pub link_timeout_ms: u64,
    /// The device is configured with `engine.mtu`, and an `engine.mtu`
    /// beyond the largest MTU the device reports is an error. Set this for
    /// a device whose report is not a real limit, to run the engine at
    /// `engine.mtu` anyway while the device stays at its default MTU:
    /// net_memif reports 1518-byte frames (MTU 1500) and carries larger
    /// ones over several of its buffers (`bsize`). Default false.
    pub mtu_beyond_reported_limit: bool,
}

impl Default for PortSection {
    fn default() -> Self {
        PortSection {
            device: "net_memif0".into(),
            rx_ring: 1024,
            tx_ring: 1024,
            promiscuous: true,
            use_port_mac: true,
            link_timeout_ms: 2000,
            mtu_beyond_reported_limit: false,
        }
    }
}

/// The mbuf pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolConfig {
    /// Direct mbufs (frames and send-buffer data). Default 16383.
    pub mbufs: u32,
    /// Indirect mbufs: the most payload shares in flight. Default 16383.
    pub indirect_mbufs: u32,
    /// Per-lcore cache. Default 256.
    pub cache: u32,
    /// Bytes per mbuf, headroom included. Default 2176 (2048 + 128).
    pub data_room: u16,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            mbufs: 16383,
            indirect_mbufs: 16383,
            cache: 256,
            data_room: 2176,
        }
    }
}

/// The poll loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoopConfig {
    /// Most frames taken per RX burst. Default 32.
    pub burst: u16,
    /// Write every frame in and out to this pcap file. Default: none.
    pub pcap: Option<PathBuf>,
    /// Print the engine's and the loop's counters as one JSON line on
    /// standard error this often, in ms; 0 never. Default 0.
    pub stats_interval_ms: u64,
    /// Yield the core (`sched_yield`) after an iteration that moved no
    /// frame. Nearly free when nothing else wants the core, and it lets
    /// several stacks, tools and tests share a small machine. Default true;
    /// a dedicated, isolated core wants false (pure spinning).
    pub idle_yield: bool,
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig {
            burst: 32,
            pcap: None,
            stats_interval_ms: 0,
            idle_yield: true,
        }
    }
}

/// A configuration that cannot be used, with the key at fault.
#[derive(Debug)]
pub struct ConfigError {
    /// Where it came from.
    pub path: PathBuf,
    /// What is wrong (serde's message names unknown or mistyped keys).
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for ConfigError {}

impl RuntimeConfig {
    /// Reads, parses and validates a configuration file.
    pub fn from_file(path: &Path) -> Result<RuntimeConfig, ConfigError> {
        let err = |message: String| ConfigError {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        RuntimeConfig::from_toml(&text).map_err(err)
    }

    /// Parses and validates configuration text.
    pub fn from_toml(text: &str) -> Result<RuntimeConfig, String> {
        let config: RuntimeConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |key: &str, why: &str| Err(format!("invalid configuration: `{key}`: {why}"));
        if self.eal.lcores.trim().is_empty() {
            return bad("eal.lcores", "must name at least one core");
        }
        if self.eal.memory_mb < 64 {
            return bad("eal.memory_mb", "DPDK needs at least 64 MiB");
        }
        if self.port.device.is_empty() {
            return bad("port.device", "must name a device");
        }
        if !(1..=512).contains(&self.run.burst) {
            return bad("loop.burst", "must be within 1..=512");
        }
        if self.mempool.mbufs < 2 * u32::from(self.port.rx_ring) {
            return bad("mempool.mbufs", "must be at least twice port.rx_ring");
        }
        if self.engine.memory.limit.is_none()
            && self.mempool.mbufs as usize <= self.mbufs_set_aside(1)
        {
            return bad(
                "mempool.mbufs",
                "leaves nothing for connections once the port rings, the transmit backlog, \
                 the cache and engine.tcp.pool_reserve have theirs (or set engine.memory.limit)",
            );
        }
        if usize::from(self.mempool.data_room) < usize::from(self.engine.mtu) + 14 + 128 {
            return bad(
                "mempool.data_room",
                "must hold the MTU, the Ethernet header and 128 bytes of headroom",
            );
        }
        if let Some(f) = &self.fault {
            f.validate()?;
        }
        self.engine
            .validate()
            .map_err(|e| format!("invalid configuration: `engine.{}`: {}", e.field, e.reason))
    }

    /// Mbufs of the pool that no engine's connections may hold, with
    /// `engines` engines on it: per engine, its port queues' rings (a NIC
    /// fills its RX ring at start), its transmit backlog and its lcore's
    /// cache; and once, `engine.tcp.pool_reserve`.
    pub fn mbufs_set_aside(&self, engines: usize) -> usize {
        let per_engine = usize::from(self.port.rx_ring)
            + usize::from(self.port.tx_ring)
            + crate::runtime::TX_BACKLOG
            + self.mempool.cache as usize;
        engines * per_engine + self.engine.tcp.pool_reserve
    }

    /// The configuration of one of `engines` engines sharing a pool of
    /// `mbufs` mbufs of `data_room` bytes. `engine.memory.limit`, when
    /// left open, becomes the engine's share of the mbufs left once
    /// [`RuntimeConfig::mbufs_set_aside`] is set aside, so connections can
    /// never take the buffers the device needs to receive.
    pub fn engine_for(
        &self,
        engines: usize,
        mbufs: usize,
        data_room: u16,
    ) -> Result<EngineConfig, String> {
        let mut engine = self.engine.clone();
        if engine.memory.limit.is_none() {
            let engines = engines.max(1);
            let aside = self.mbufs_set_aside(engines);
            if mbufs <= aside {
                return Err(format!(
                    "invalid configuration: `mempool.mbufs`: {mbufs} leaves nothing for \
                     connections once the rings, backlogs, caches and the pool reserve of \
                     {engines} engine(s) have their {aside}"
                ));
            }
            let share = (mbufs - aside) / engines;
            engine.memory.limit = Some(share * usize::from(data_room));
        }
        Ok(engine)
    }

    /// The EAL arguments this configuration asks for.
    pub fn eal_args(&self) -> Vec<String> {
        let e = &self.eal;
        let mut args = EalArgs::new().lcores(&e.lcores).log_level(&e.log_level);
        if e.no_huge {
            args = args.no_huge(e.memory_mb);
        } else {
            args = args.arg("-m").arg(&e.memory_mb.to_string());
        }
        if e.no_shconf {
            args = args.arg("--no-shconf");
        }
        if let Some(prefix) = &e.file_prefix {
            args = args.file_prefix(prefix);
        }
        if !e.pci {
            args = args.arg("--no-pci");
        }
        args = args.arg("--no-telemetry").pmd_dir(crate::PMD_DIR);
        for v in &e.vdevs {
            args = args.vdev(v);
        }
        for a in &e.extra_args {
            args = args.arg(a);
        }
        args.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_a_minimal_file_parses() {
        RuntimeConfig::default().validate().unwrap();
        let c = RuntimeConfig::from_toml(
            "[eal]\nvdevs = [\"net_ring0\"]\n[port]\ndevice = \"net_ring0\"\n[engine]\naddress = \"10.1.0.1/24\"\n",
        )
        .unwrap();
        assert_eq!(c.port.device, "net_ring0");
        assert!(c
            .eal_args()
            .iter()
            .any(|a| a == "--vdev=net_ring0" || a == "net_ring0"));
    }

    #[test]
    fn unknown_and_bad_keys_are_named() {
        let e = RuntimeConfig::from_toml("[port]\ndevise = \"x\"\n").unwrap_err();
        assert!(e.contains("devise"), "{e}");
        let e = RuntimeConfig::from_toml("[loop]\nburst = 0\n").unwrap_err();
        assert!(e.contains("loop.burst"), "{e}");
        let e = RuntimeConfig::from_toml("[engine.tcp]\nrto_min_ms = 0\n").unwrap_err();
        assert!(e.contains("engine.tcp.rto_min_ms"), "{e}");
        let e = RuntimeConfig::from_toml("[engine]\nmtu = \"big\"\n").unwrap_err();
        assert!(e.contains("mtu"), "{e}");
        let e = RuntimeConfig::from_toml("[mempool]\nmbufs = 3000\n").unwrap_err();
        assert!(e.contains("mempool.mbufs"), "{e}");
    }

    #[test]
    fn the_memory_limit_is_the_engines_share_of_what_the_rings_leave() {
        let c = RuntimeConfig::default();
        // 1024 + 1024 RX and TX descriptors, 1024 of transmit backlog and
        // a 256-mbuf cache per engine, and the 64-buffer reserve once.
        assert_eq!(c.mbufs_set_aside(1), 3392);
        let one = c.engine_for(1, 16383, 2176).unwrap();
        assert_eq!(one.memory.limit, Some((16383 - 3392) * 2176));
        let two = c.engine_for(2, 16383, 2176).unwrap();
        assert_eq!(two.memory.limit, Some((16383 - 6720) / 2 * 2176));
        let e = c.engine_for(5, 16383, 2176).unwrap_err();
        assert!(e.contains("mempool.mbufs"), "{e}");
        // A limit in the file is kept as it is.
        let mut set = c.clone();
        set.engine.memory.limit = Some(1 << 20);
        assert_eq!(
            set.engine_for(5, 100, 2176).unwrap().memory.limit,
            Some(1 << 20)
        );
    }
}

#[cfg(test)]
mod shipped {
    use super::*;

    #[test]
    fn every_shipped_configuration_parses_and_validates() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml")
                && path.file_name().is_some_and(|n| n != "engine.toml")
            {
                RuntimeConfig::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
                seen += 1;
            }
        }
        assert!(seen >= 5, "only {seen} configuration files");
    }
}
