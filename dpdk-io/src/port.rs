//! Ethernet ports: configuration, start, link, bursts, stats, capabilities.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dpdk_sys::rte_mbuf;

use crate::eal::{Eal, EalToken};
use crate::error::{rte_errno, DpdkError};
use crate::mbuf::{Mbuf, MbufPool};

/// Frames moved per DPDK call inside the bursts.
const BURST: usize = 32;

/// How to set a port up. `Default` gives one RX and one TX queue of 1024
/// descriptors, no offloads and no RSS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// Number of RX queues.
    pub rx_queues: u16,
    /// Number of TX queues.
    pub tx_queues: u16,
    /// Descriptors per RX queue (the driver may round it).
    pub rx_ring_size: u16,
    /// Descriptors per TX queue (the driver may round it).
    pub tx_ring_size: u16,
    /// `RTE_ETH_RX_OFFLOAD_*` flags; each must be in
    /// [`PortInfo::rx_offload_capa`].
    pub rx_offloads: u64,
    /// `RTE_ETH_TX_OFFLOAD_*` flags; each must be in
    /// [`PortInfo::tx_offload_capa`].
    pub tx_offloads: u64,
    /// The MTU (`rxmode.mtu`: the largest IP packet the device receives
    /// and sends), or `None` for the driver's default (1500, or less if
    /// the device cannot take 1500). Must be within
    /// [`PortInfo::min_mtu`]`..=`[`PortInfo::mtu_limit`].
    pub mtu: Option<u32>,
    /// RSS over several RX queues, or `None`.
    pub rss: Option<RssConfig>,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            rx_queues: 1,
            tx_queues: 1,
            rx_ring_size: 1024,
            tx_ring_size: 1024,
            rx_offloads: 0,
            tx_offloads: 0,
            mtu: None,
            rss: None,
        }
    }
}

/// Receive-side scaling settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RssConfig {
    /// `RTE_ETH_RSS_*` hash types, masked with
    /// [`PortInfo::flow_type_rss_offloads`].
    pub hash_types: u64,
    /// The Toeplitz key, or `None` for the driver's.
    pub key: Option<Vec<u8>>,
}

/// What a port can do (`rte_eth_dev_info_get`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// The PMD's name, e.g. `net_ring`.
    pub driver: String,
    /// Most RX queues.
    pub max_rx_queues: u16,
    /// Most TX queues.
    pub max_tx_queues: u16,
    /// `RTE_ETH_RX_OFFLOAD_*` the port supports.
    pub rx_offload_capa: u64,
    /// `RTE_ETH_TX_OFFLOAD_*` the port supports.
    pub tx_offload_capa: u64,
    /// `RTE_ETH_RSS_*` hash types the port supports (0: no RSS).
    pub flow_type_rss_offloads: u64,
    /// Entries in the RSS redirection table.
    pub reta_size: u16,
    /// Bytes in the RSS key.
    pub hash_key_size: u8,
    /// Smallest MTU.
    pub min_mtu: u16,
    /// Largest MTU, as the driver reports it (65535: no limit of its own).
    pub max_mtu: u16,
    /// Largest frame the device receives, Ethernet header and CRC included
    /// (the ethdev layer refuses an MTU that makes larger frames).
    pub max_rx_pktlen: u32,
}

impl PortInfo {
    /// The largest MTU the device can be configured with: `max_mtu`, and
    /// no more than `max_rx_pktlen` less the frame's overhead. As the
    /// ethdev layer counts it (DPDK 22.11 `eth_dev_validate_mtu`): the
    /// overhead is `max_rx_pktlen - max_mtu` when the driver reports both,
    /// else the Ethernet header and CRC (18 bytes). A driver's report may
    /// be a placeholder: net_memif says 1518 bytes (MTU 1500) and carries
    /// larger frames over several of its buffers.
    pub fn mtu_limit(&self) -> u32 {
        const ETHER_HDR_AND_CRC: u32 = 18;
        let max_mtu = u32::from(self.max_mtu);
        let overhead = if self.max_mtu != u16::MAX && self.max_rx_pktlen > max_mtu {
            self.max_rx_pktlen - max_mtu
        } else {
            ETHER_HDR_AND_CRC
        };
        max_mtu.min(self.max_rx_pktlen.saturating_sub(overhead))
    }
}

/// Link state (`rte_eth_link`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    /// Whether the link is up.
    pub up: bool,
    /// Speed in Mb/s (0 if unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// Port counters (`rte_eth_stats`, totals only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct PortStats {
    /// Frames received.
    pub ipackets: u64,
    /// Frames sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Frames dropped by the hardware (RX queue full).
    pub imissed: u64,
    /// Erroneous received frames.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// RX mbuf allocation failures.
    pub rx_nombuf: u64,
}

fn check(port: u16, op: &'static str, ret: i32) -> Result<(), DpdkError> {
    if ret < 0 {
        Err(DpdkError::port(port, op, ret))
    } else {
        Ok(())
    }
}

/// Port ids whose device is open in this process (a [`Port`] or a queue
/// handle of it is alive). Two `Port`s on one device would configure it
/// over each other and both close it.
static CLAIMED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// The claim on a port id: taken before the device is touched, released
/// when dropped (after the device is closed: see [`Device`]'s fields).
#[derive(Debug)]
struct PortClaim(u16);

impl PortClaim {
    /// Claims `id`, or [`DpdkError::PortInUse`] if it is claimed already.
    fn take(id: u16) -> Result<PortClaim, DpdkError> {
        let mut claimed = CLAIMED.lock().unwrap_or_else(PoisonError::into_inner);
        if claimed.insert(id) {
            Ok(PortClaim(id))
        } else {
            Err(DpdkError::PortInUse(id))
        }
    }
}

impl Drop for PortClaim {
    fn drop(&mut self) {
        CLAIMED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.0);
    }
}

/// What a [`Port`] and the queue handles taken from it share: the
/// configured device. The last of them to be dropped stops and closes it.
#[derive(Debug)]
struct Device {
    id: u16,
    /// Whether the device is started. Changed only by a [`Port`] whose
    /// queue handles are all at home (see [`Port::queues_home`]).
    started: AtomicBool,
    /// The `RTE_ETH_TX_OFFLOAD_*` flags the port was configured with.
    tx_offloads: u64,
    /// Queue handles alive, the ones still held by the port included.
    /// Each handle's drop decrements it with release ordering.
    handles: AtomicUsize,
    // Dropped after `Drop::drop` closed the device, in this order: the
    // pool outlives the close (the driver frees what its rings hold into
    // it); the claim lets the id go only once the device is closed; the
    // EAL goes last.
    pool: MbufPool,
    _claim: PortClaim,
    _eal: Arc<EalToken>,
}

impl Drop for Device {
    fn drop(&mut self) {
        if *self.started.get_mut() {
            // SAFETY: we started the device; this is the last reference
            // to it, so no queue handle is left to poll it.
            unsafe { dpdk_sys::rte_eth_dev_stop(self.id) };
        }
        // SAFETY: we configured the device and nothing else uses its id
        // (we hold its claim, and this is the last port or handle on it);
        // the queues are released here, before the pool handle is dropped.
        unsafe { dpdk_sys::rte_eth_dev_close(self.id) };
    }
}

/// A configured port; the device is stopped and closed when the port and
/// every queue handle taken from it are dropped. One port id has at most
/// one open device in a process: [`Port::configure`] refuses a second one
/// with [`DpdkError::PortInUse`].
///
/// A DPDK queue is not thread-safe, so each queue has one owner. The port
/// owns them all at first and polls them with [`Port::rx_burst`] and
/// [`Port::tx_burst`] (`&mut self`). To poll queues from other threads
/// (one lcore per queue), take their handles: [`Port::take_rx_queue`] and
/// [`Port::take_tx_queue`] hand each queue out once, as an [`RxQueue`] or
/// a [`TxQueue`] that can move to another thread but not be shared by two.
/// While a taken handle is alive the port cannot be started or stopped
/// ([`DpdkError::QueuesInUse`]): start it first.
#[derive(Debug)]
pub struct Port {
    id: u16,
    dev: Arc<Device>,
    /// The RX queues' handles not taken yet, by queue id.
    rx: Vec<Option<RxQueue>>,
    /// The TX queues' handles not taken yet, by queue id.
    tx: Vec<Option<TxQueue>>,
}

impl Port {
    /// Number of ports the EAL found (vdevs included).
    pub fn count() -> Result<u16, DpdkError> {
        let _eal = Eal::token()?;
        // SAFETY: the EAL is initialised; a plain getter.
        Ok(unsafe { dpdk_sys::rte_eth_dev_count_avail() })
    }

    /// The id of the port named `name` (a vdev's name, e.g. `net_ring0`).
    pub fn id_by_name(name: &str) -> Result<u16, DpdkError> {
        let _eal = Eal::token()?;
        let c = CString::new(name).map_err(|_| DpdkError::NulInArgument(name.to_string()))?;
        let mut id = 0u16;
        // SAFETY: c is a valid C string and id a valid out-pointer.
        let ret = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        if ret < 0 {
            return Err(DpdkError::NoSuchPort(name.to_string()));
        }
        Ok(id)
    }

    /// The capabilities of port `id`.
    pub fn info_of(id: u16) -> Result<PortInfo, DpdkError> {
        let _eal = Eal::token()?;
        let mut info = dpdk_sys::rte_eth_dev_info::default();
        // SAFETY: info is a valid out-struct; DPDK validates the port id.
        check(id, "rte_eth_dev_info_get", unsafe {
            dpdk_sys::rte_eth_dev_info_get(id, &mut info)
        })?;
        let driver = if info.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: a static NUL-terminated string owned by the driver.
            unsafe { CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        Ok(PortInfo {
            driver,
            max_rx_queues: info.max_rx_queues,
            max_tx_queues: info.max_tx_queues,
            rx_offload_capa: info.rx_offload_capa,
            tx_offload_capa: info.tx_offload_capa,
            flow_type_rss_offloads: info.flow_type_rss_offloads,
            reta_size: info.reta_size,
            hash_key_size: info.hash_key_size,
            min_mtu: info.min_mtu,
            max_mtu: info.max_mtu,
            max_rx_pktlen: info.max_rx_pktlen,
        })
    }

    /// Configures port `id` with `config`, receiving into `pool`. The port
    /// is not started yet: see [`Port::start`].
    ///
    /// Fails with [`DpdkError::PortInUse`] while another `Port` of `id`, or
    /// a queue handle taken from one, is alive in this process; the id is
    /// free again once they are all dropped. (That closes the device, and
    /// DPDK then releases the id: it names a device again only when a new
    /// one takes it, e.g. from [`create_ring_pair`].)
    pub fn configure(id: u16, config: &PortConfig, pool: &MbufPool) -> Result<Port, DpdkError> {
        let eal = Eal::token()?;
        // Before any DPDK call: a live port's device must not be touched.
        let claim = PortClaim::take(id)?;
        let info_raw = raw_info(id)?;
        let info = Port::info_of(id)?;
        let capability = |what: String| DpdkError::PortCapability { port: id, what };
        if config.rx_queues == 0 || config.rx_queues > info.max_rx_queues {
            return Err(capability(format!(
                "{} RX queues (max {})",
                config.rx_queues, info.max_rx_queues
            )));
        }
        if config.tx_queues == 0 || config.tx_queues > info.max_tx_queues {
            return Err(capability(format!(
                "{} TX queues (max {})",
                config.tx_queues, info.max_tx_queues
            )));
        }
        if config.rx_offloads & !info.rx_offload_capa != 0 {
            return Err(capability(format!(
                "RX offloads {:#x}",
                config.rx_offloads & !info.rx_offload_capa
            )));
        }
        if config.tx_offloads & !info.tx_offload_capa != 0 {
            return Err(capability(format!(
                "TX offloads {:#x}",
                config.tx_offloads & !info.tx_offload_capa
            )));
        }

        if let Some(mtu) = config.mtu {
            if mtu < u32::from(info.min_mtu) || mtu > info.mtu_limit() {
                return Err(capability(format!(
                    "MTU {mtu} (the device takes {}..={}: largest MTU {}, largest frame {} bytes)",
                    info.min_mtu,
                    info.mtu_limit(),
                    info.max_mtu,
                    info.max_rx_pktlen
                )));
            }
        }

        let mut conf = dpdk_sys::rte_eth_conf::default();
        conf.rxmode.offloads = config.rx_offloads;
        conf.txmode.offloads = config.tx_offloads;
        if let Some(mtu) = config.mtu {
            conf.rxmode.mtu = mtu;
        }
        // The key must stay alive until rte_eth_dev_configure returns.
        let mut key_storage: Vec<u8>;
        if let Some(rss) = &config.rss {
            if info.flow_type_rss_offloads == 0 {
                return Err(capability("RSS".to_string()));
            }
            conf.rxmode.mq_mode = dpdk_sys::RTE_ETH_MQ_RX_RSS;
            let rss_conf = &mut conf.rx_adv_conf.rss_conf;
            rss_conf.rss_hf = rss.hash_types & info.flow_type_rss_offloads;
            if let Some(key) = &rss.key {
                key_storage = key.clone();
                rss_conf.rss_key = key_storage.as_mut_ptr();
                rss_conf.rss_key_len = u8::try_from(key_storage.len())
                    .map_err(|_| capability(format!("RSS key of {} bytes", key.len())))?;
            }
        }
        // SAFETY: conf is a valid, fully initialised configuration whose
        // pointers (the RSS key) outlive the call; DPDK checks the port id.
        check(id, "rte_eth_dev_configure", unsafe {
            dpdk_sys::rte_eth_dev_configure(id, config.rx_queues, config.tx_queues, &conf)
        })?;

        let (mut nb_rxd, mut nb_txd) = (config.rx_ring_size, config.tx_ring_size);
        // SAFETY: valid out-pointers to u16.
        check(id, "rte_eth_dev_adjust_nb_rx_tx_desc", unsafe {
            dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut nb_rxd, &mut nb_txd)
        })?;
        // SAFETY: a plain getter; -1 (SOCKET_ID_ANY) when unknown.
        let socket = unsafe { dpdk_sys::rte_eth_dev_socket_id(id) };
        let socket = if socket < 0 {
            dpdk_sys::SOCKET_ID_ANY
        } else {
            socket
        } as u32;

        let mut rxconf = info_raw.default_rxconf;
        rxconf.offloads = config.rx_offloads;
        for q in 0..config.rx_queues {
            // SAFETY: rxconf is valid; the pool is live and outlives the
            // device (the Device keeps a clone of the MbufPool).
            check(id, "rte_eth_rx_queue_setup", unsafe {
                dpdk_sys::rte_eth_rx_queue_setup(
                    id,
                    q,
                    nb_rxd,
                    socket,
                    &rxconf,
                    pool.direct().as_ptr(),
                )
            })?;
        }
        let mut txconf = info_raw.default_txconf;
        txconf.offloads = config.tx_offloads;
        for q in 0..config.tx_queues {
            // SAFETY: txconf is valid; DPDK checks port and queue ids.
            check(id, "rte_eth_tx_queue_setup", unsafe {
                dpdk_sys::rte_eth_tx_queue_setup(id, q, nb_txd, socket, &txconf)
            })?;
        }
        let dev = Arc::new(Device {
            id,
            started: AtomicBool::new(false),
            tx_offloads: config.tx_offloads,
            handles: AtomicUsize::new(0),
            pool: pool.clone(),
            _claim: claim,
            _eal: eal,
        });
        Ok(Port {
            id,
            rx: (0..config.rx_queues)
                .map(|q| Some(RxQueue::new(&dev, q)))
                .collect(),
            tx: (0..config.tx_queues)
                .map(|q| Some(TxQueue::new(&dev, q)))
                .collect(),
            dev,
        })
    }

    /// The port id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The pool frames are received into.
    pub fn pool(&self) -> &MbufPool {
        &self.dev.pool
    }

    /// This port's capabilities.
    pub fn info(&self) -> Result<PortInfo, DpdkError> {
        Port::info_of(self.id)
    }

    /// The `RTE_ETH_TX_OFFLOAD_*` flags the port was configured with
    /// ([`PortConfig::tx_offloads`]): what frames may ask of it.
    pub fn tx_offloads(&self) -> u64 {
        self.dev.tx_offloads
    }

    /// The MTU the device is configured with (`rte_eth_dev_get_mtu`).
    pub fn mtu(&self) -> Result<u16, DpdkError> {
        let mut mtu = 0u16;
        // SAFETY: mtu is a valid out-pointer; the port is configured.
        check(self.id, "rte_eth_dev_get_mtu", unsafe {
            dpdk_sys::rte_eth_dev_get_mtu(self.id, &mut mtu)
        })?;
        Ok(mtu)
    }

    /// Takes the handle of RX queue `queue`, to poll it from another
    /// thread. Each queue's handle is handed out once:
    /// [`DpdkError::QueueTaken`] the second time (and [`Port::rx_burst`]
    /// on that queue panics from then on), [`DpdkError::NoSuchQueue`] for a
    /// queue the port was not configured with.
    pub fn take_rx_queue(&mut self, queue: u16) -> Result<RxQueue, DpdkError> {
        let (port, direction) = (self.id, "RX");
        self.rx
            .get_mut(usize::from(queue))
            .ok_or(DpdkError::NoSuchQueue {
                port,
                direction,
                queue,
            })?
            .take()
            .ok_or(DpdkError::QueueTaken {
                port,
                direction,
                queue,
            })
    }

    /// Takes the handle of TX queue `queue`, to send on it from another
    /// thread; as [`Port::take_rx_queue`] for RX queues.
    pub fn take_tx_queue(&mut self, queue: u16) -> Result<TxQueue, DpdkError> {
        let (port, direction) = (self.id, "TX");
        self.tx
            .get_mut(usize::from(queue))
            .ok_or(DpdkError::NoSuchQueue {
                port,
                direction,
                queue,
            })?
            .take()
            .ok_or(DpdkError::QueueTaken {
                port,
                direction,
                queue,
            })
    }

    /// [`DpdkError::QueuesInUse`] while a queue handle taken from this port
    /// is alive. Starting or stopping the device swaps its burst functions
    /// and may free what its rings hold: not under the feet of a thread
    /// that polls one of its queues.
    fn queues_home(&self) -> Result<(), DpdkError> {
        let home = self.rx.iter().flatten().count() + self.tx.iter().flatten().count();
        // Acquire: pairs with the release in each handle's drop, so the
        // bursts of a handle dropped on another thread happened before.
        // Only a port can hand out handles, and we hold it (&mut self at
        // our callers): the count cannot grow meanwhile.
        if self.dev.handles.load(Ordering::Acquire) == home {
            Ok(())
        } else {
            Err(DpdkError::QueuesInUse(self.id))
        }
    }

    /// Starts the device. [`DpdkError::QueuesInUse`] while a queue handle
    /// taken from the port is alive.
    pub fn start(&mut self) -> Result<(), DpdkError> {
        self.queues_home()?;
        // SAFETY: the port is configured with its queues set up, and no
        // other thread polls them (checked above).
        check(self.id, "rte_eth_dev_start", unsafe {
            dpdk_sys::rte_eth_dev_start(self.id)
        })?;
        self.dev.started.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Stops the device (frames in flight stay in its rings).
    /// [`DpdkError::QueuesInUse`] while a queue handle taken from the port
    /// is alive: the device is then stopped when the last of them goes.
    pub fn stop(&mut self) -> Result<(), DpdkError> {
        if self.dev.started.load(Ordering::Relaxed) {
            self.queues_home()?;
            // SAFETY: the port was started by us, and no other thread
            // polls its queues (checked above).
            check(self.id, "rte_eth_dev_stop", unsafe {
                dpdk_sys::rte_eth_dev_stop(self.id)
            })?;
            self.dev.started.store(false, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Turns promiscuous mode on or off.
    pub fn set_promiscuous(&mut self, on: bool) -> Result<(), DpdkError> {
        // SAFETY: plain control calls on a configured port.
        let ret = unsafe {
            if on {
                dpdk_sys::rte_eth_promiscuous_enable(self.id)
            } else {
                dpdk_sys::rte_eth_promiscuous_disable(self.id)
            }
        };
        check(self.id, "rte_eth_promiscuous_enable/disable", ret)
    }

    /// The link state now, without waiting.
    pub fn link(&self) -> Result<LinkStatus, DpdkError> {
        let mut link = dpdk_sys::rte_eth_link::default();
        // SAFETY: link is a valid out-struct.
        check(self.id, "rte_eth_link_get_nowait", unsafe {
            dpdk_sys::rte_eth_link_get_nowait(self.id, &mut link)
        })?;
        Ok(LinkStatus {
            up: link.link_status() != 0,
            speed_mbps: link.link_speed,
            full_duplex: link.link_duplex() != 0,
        })
    }

    /// Polls the link until it is up, for at most `timeout`.
    pub fn wait_link_up(&self, timeout: Duration) -> Result<LinkStatus, DpdkError> {
        let deadline = Instant::now() + timeout;
        loop {
            let link = self.link()?;
            if link.up {
                return Ok(link);
            }
            if Instant::now() >= deadline {
                return Err(DpdkError::LinkTimeout { port: self.id });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The port's MAC address.
    pub fn mac_addr(&self) -> Result<[u8; 6], DpdkError> {
        let mut addr = dpdk_sys::rte_ether_addr::default();
        // SAFETY: addr is a valid out-struct.
        check(self.id, "rte_eth_macaddr_get", unsafe {
            dpdk_sys::rte_eth_macaddr_get(self.id, &mut addr)
        })?;
        Ok(addr.addr_bytes)
    }

    /// The port's counters.
    pub fn stats(&self) -> Result<PortStats, DpdkError> {
        let mut s = dpdk_sys::rte_eth_stats::default();
        // SAFETY: s is a valid out-struct.
        check(self.id, "rte_eth_stats_get", unsafe {
            dpdk_sys::rte_eth_stats_get(self.id, &mut s)
        })?;
        Ok(PortStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }

    /// Zeroes the port's counters.
    pub fn reset_stats(&mut self) -> Result<(), DpdkError> {
        // SAFETY: a plain control call.
        check(self.id, "rte_eth_stats_reset", unsafe {
            dpdk_sys::rte_eth_stats_reset(self.id)
        })
    }

    /// The RSS key and hash types in use, read back from the device.
    /// [`DpdkError::NotSupported`] on a device without RSS.
    pub fn rss_hash_conf(&self) -> Result<(Vec<u8>, u64), DpdkError> {
        let info = self.info()?;
        let mut key = vec![0u8; usize::from(info.hash_key_size).max(40)];
        let mut conf = dpdk_sys::rte_eth_rss_conf {
            rss_key: key.as_mut_ptr(),
            rss_key_len: key.len() as u8,
            ..Default::default()
        };
        // SAFETY: conf points at a key buffer of rss_key_len bytes that
        // outlives the call.
        check(self.id, "rte_eth_dev_rss_hash_conf_get", unsafe {
            dpdk_sys::rte_eth_dev_rss_hash_conf_get(self.id, &mut conf)
        })?;
        key.truncate(usize::from(conf.rss_key_len));
        Ok((key, conf.rss_hf))
    }

    /// The RSS redirection table: entry `i` is the RX queue for hash
    /// values whose low bits are `i`. [`DpdkError::NotSupported`] on a
    /// device without RSS.
    pub fn rss_reta(&self) -> Result<Vec<u16>, DpdkError> {
        let size = usize::from(self.info()?.reta_size);
        if size == 0 {
            return Err(DpdkError::NotSupported {
                port: self.id,
                op: "rte_eth_dev_rss_reta_query",
            });
        }
        let group = dpdk_sys::RTE_ETH_RETA_GROUP_SIZE as usize;
        let mut groups = vec![
            dpdk_sys::rte_eth_rss_reta_entry64 {
                mask: u64::MAX,
                reta: [0; 64],
            };
            size.div_ceil(group)
        ];
        // SAFETY: groups holds reta_size / 64 entries, as the API requires.
        check(self.id, "rte_eth_dev_rss_reta_query", unsafe {
            dpdk_sys::rte_eth_dev_rss_reta_query(self.id, groups.as_mut_ptr(), size as u16)
        })?;
        Ok(groups.iter().flat_map(|g| g.reta).take(size).collect())
    }

    /// Receives up to `max` frames from `queue`, appending them to `out`;
    /// returns how many arrived.
    ///
    /// # Panics
    /// If `queue` is not a configured RX queue, or its handle was taken.
    pub fn rx_burst(&mut self, queue: u16, out: &mut Vec<Mbuf>, max: usize) -> usize {
        match self.rx.get_mut(usize::from(queue)) {
            Some(Some(q)) => q.rx_burst(out, max),
            Some(None) => panic!("RX queue {queue} of port {} was taken", self.id),
            None => panic!("RX queue {queue} not configured"),
        }
    }

    /// Sends frames from the front of `pkts` on `queue`; the sent ones are
    /// removed (the driver owns them now), the rest stay in order. Returns
    /// how many were sent.
    ///
    /// # Panics
    /// If `queue` is not a configured TX queue, or its handle was taken.
    pub fn tx_burst(&mut self, queue: u16, pkts: &mut Vec<Mbuf>) -> usize {
        match self.tx.get_mut(usize::from(queue)) {
            Some(Some(q)) => q.tx_burst(pkts),
            Some(None) => panic!("TX queue {queue} of port {} was taken", self.id),
            None => panic!("TX queue {queue} not configured"),
        }
    }
}

/// One RX queue of a configured port, from [`Port::take_rx_queue`]. Its
/// holder is the queue's only poller: the handle is [`Send`], to move to
/// the thread that polls it, and not [`Sync`], so two threads never poll
/// it at once (a DPDK queue is not thread-safe). The device stays open
/// while the handle is alive.
///
/// ```
/// fn to_another_thread<T: Send>() {}
/// to_another_thread::<dpdk_io::RxQueue>();
/// ```
///
/// ```compile_fail,E0277
/// fn shared_between_threads<T: Sync>() {}
/// shared_between_threads::<dpdk_io::RxQueue>();
/// ```
#[derive(Debug)]
pub struct RxQueue {
    dev: Arc<Device>,
    queue: u16,
    /// `Cell` is `Send` but not `Sync`, and so is the handle.
    _one_thread: PhantomData<Cell<()>>,
}

impl RxQueue {
    /// The handle of queue `queue` of `dev`, counted in `dev.handles`.
    /// Made once per configured queue, by [`Port::configure`].
    fn new(dev: &Arc<Device>, queue: u16) -> RxQueue {
        dev.handles.fetch_add(1, Ordering::Relaxed);
        RxQueue {
            dev: dev.clone(),
            queue,
            _one_thread: PhantomData,
        }
    }

    /// The port's id.
    pub fn port_id(&self) -> u16 {
        self.dev.id
    }

    /// The queue's id.
    pub fn queue_id(&self) -> u16 {
        self.queue
    }

    /// The pool frames are received into.
    pub fn pool(&self) -> &MbufPool {
        &self.dev.pool
    }

    /// Receives up to `max` frames, appending them to `out`; returns how
    /// many arrived.
    pub fn rx_burst(&mut self, out: &mut Vec<Mbuf>, max: usize) -> usize {
        let mut raws = [std::ptr::null_mut::<rte_mbuf>(); BURST];
        let mut total = 0;
        while total < max {
            let want = (max - total).min(BURST);
            // SAFETY: the queue was set up by Port::configure and the
            // device is open while we hold it (DPDK swaps in a dummy burst
            // function while it is stopped, and it is not started or
            // stopped while a taken handle lives). This handle is the
            // queue's only one and is not Sync, and we have &mut self: no
            // other burst runs on the queue. raws has room for `want`.
            let got = usize::from(unsafe {
                dpdk_sys::shim_rx_burst(self.dev.id, self.queue, raws.as_mut_ptr(), want as u16)
            });
            for &raw in &raws[..got] {
                let raw = NonNull::new(raw).expect("rx_burst returns valid mbufs");
                // SAFETY: a received mbuf from the pool this queue was set
                // up with, now owned by us.
                out.push(unsafe { self.dev.pool.wrap(raw) });
            }
            total += got;
            if got < want {
                break;
            }
        }
        total
    }
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        // Release: our bursts happen before whatever a port that sees the
        // handle gone (acquire, in Port::queues_home) does next.
        self.dev.handles.fetch_sub(1, Ordering::Release);
    }
}

/// One TX queue of a configured port, from [`Port::take_tx_queue`]; like
/// [`RxQueue`], [`Send`] and not [`Sync`], and it keeps the device open.
///
/// ```
/// fn to_another_thread<T: Send>() {}
/// to_another_thread::<dpdk_io::TxQueue>();
/// ```
///
/// ```compile_fail,E0277
/// fn shared_between_threads<T: Sync>() {}
/// shared_between_threads::<dpdk_io::TxQueue>();
/// ```
#[derive(Debug)]
pub struct TxQueue {
    dev: Arc<Device>,
    queue: u16,
    /// `Cell` is `Send` but not `Sync`, and so is the handle.
    _one_thread: PhantomData<Cell<()>>,
}

impl TxQueue {
    /// The handle of queue `queue` of `dev`, counted in `dev.handles`.
    /// Made once per configured queue, by [`Port::configure`].
    fn new(dev: &Arc<Device>, queue: u16) -> TxQueue {
        dev.handles.fetch_add(1, Ordering::Relaxed);
        TxQueue {
            dev: dev.clone(),
            queue,
            _one_thread: PhantomData,
        }
    }

    /// The port's id.
    pub fn port_id(&self) -> u16 {
        self.dev.id
    }

    /// The queue's id.
    pub fn queue_id(&self) -> u16 {
        self.queue
    }

    /// Sends frames from the front of `pkts`; the sent ones are removed
    /// (the driver owns them now), the rest stay in order. Returns how
    /// many were sent.
    pub fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let mut raws = [std::ptr::null_mut::<rte_mbuf>(); BURST];
        let mut sent = 0;
        while sent < pkts.len() {
            let chunk = &pkts[sent..(sent + BURST).min(pkts.len())];
            for (slot, m) in raws.iter_mut().zip(chunk) {
                *slot = m.as_ptr();
            }
            // SAFETY: as in RxQueue::rx_burst, the queue exists and this
            // is its only sender. raws holds chunk.len() valid mbufs we
            // own; the ones the driver takes are forgotten below so they
            // are not freed twice.
            let n = usize::from(unsafe {
                dpdk_sys::shim_tx_burst(
                    self.dev.id,
                    self.queue,
                    raws.as_mut_ptr(),
                    chunk.len() as u16,
                )
            });
            sent += n;
            if n < chunk.len() {
                break;
            }
        }
        for m in pkts.drain(..sent) {
            // The driver owns these now.
            let _ = m.into_raw();
        }
        sent
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        // Release: as in RxQueue's drop.
        self.dev.handles.fetch_sub(1, Ordering::Release);
    }
}

// The handles move to the threads that poll them.
const _: () = {
    const fn send<T: Send>() {}
    send::<RxQueue>();
    send::<TxQueue>();
};

fn raw_info(id: u16) -> Result<dpdk_sys::rte_eth_dev_info, DpdkError> {
    let mut info = dpdk_sys::rte_eth_dev_info::default();
    // SAFETY: info is a valid out-struct; DPDK validates the port id.
    check(id, "rte_eth_dev_info_get", unsafe {
        dpdk_sys::rte_eth_dev_info_get(id, &mut info)
    })?;
    Ok(info)
}

/// Creates two `net_ring` ports wired back to back, like the two ends of a
/// cable: what `a` sends, `b` receives, and the other way round. Returns
/// their port ids. (A `--vdev=net_ring0` port, by contrast, receives what
/// it sends itself, and two vdevs with `nodeaction` cannot be paired in
/// one process.) The rings live until the EAL is cleaned up.
pub fn create_ring_pair(name_a: &str, name_b: &str) -> Result<(u16, u16), DpdkError> {
    let _eal = Eal::token()?;
    let ring = |suffix: &str| -> Result<NonNull<dpdk_sys::rte_ring>, DpdkError> {
        let name = format!("{name_a}_{suffix}");
        let c = CString::new(name.clone()).map_err(|_| DpdkError::NulInArgument(name.clone()))?;
        // SAFETY: c is a valid C string DPDK copies; 1024 is a power of
        // two; flags 0 make a multi-producer, multi-consumer ring.
        let r = unsafe { dpdk_sys::rte_ring_create(c.as_ptr(), 1024, dpdk_sys::SOCKET_ID_ANY, 0) };
        NonNull::new(r).ok_or_else(|| DpdkError::Ring {
            name,
            errno: rte_errno(),
        })
    };
    let a_to_b = ring("ab")?;
    let b_to_a = ring("ba")?;
    let port = |name: &str, rx: NonNull<dpdk_sys::rte_ring>, tx: NonNull<dpdk_sys::rte_ring>| {
        let c = CString::new(name).map_err(|_| DpdkError::NulInArgument(name.to_string()))?;
        let rxs = [rx.as_ptr()];
        let txs = [tx.as_ptr()];
        // SAFETY: one valid ring each way; DPDK copies the pointers and
        // the name. The rings are never freed while the EAL lives.
        let id = unsafe {
            dpdk_sys::rte_eth_from_rings(
                c.as_ptr(),
                rxs.as_ptr(),
                1,
                txs.as_ptr(),
                1,
                dpdk_sys::rte_socket_id(),
            )
        };
        u16::try_from(id).map_err(|_| DpdkError::Ring {
            name: name.to_string(),
            errno: rte_errno(),
        })
    };
    let a = port(name_a, b_to_a, a_to_b)?;
    let b = port(name_b, a_to_b, b_to_a)?;
    Ok((a, b))
}
