//! The Environment Abstraction Layer: initialised once per process.

use std::ffi::{c_char, CString};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::error::{rte_errno, DpdkError};

/// Set by the first `Eal::init`, never cleared: DPDK cannot initialise the
/// EAL twice in one process, not even after `rte_eal_cleanup`.
static STARTED: AtomicBool = AtomicBool::new(false);

/// The live EAL, if any. Pools and ports hold a strong reference, so
/// `rte_eal_cleanup` runs only when the last of them is dropped.
static LIVE: Mutex<Weak<EalToken>> = Mutex::new(Weak::new());

/// Keeps the EAL alive; its drop runs `rte_eal_cleanup`.
#[derive(Debug)]
pub(crate) struct EalToken(());

impl Drop for EalToken {
    fn drop(&mut self) {
        // SAFETY: this token exists only after a successful rte_eal_init,
        // and it is the last one (Arc), so no pool or port built on this
        // EAL is left; the cleanup happens once because the token is unique.
        unsafe {
            dpdk_sys::rte_eal_cleanup();
        }
    }
}

/// A handle on the initialised EAL. Dropping the last handle (together with
/// every [`crate::Mempool`], [`crate::MbufPool`] and [`crate::Port`]) calls
/// `rte_eal_cleanup`.
#[derive(Debug, Clone)]
pub struct Eal {
    token: Arc<EalToken>,
}

impl Eal {
    /// Initialises the EAL with `args` (EAL options only: the program name
    /// is supplied here). Call it once per process, on the thread that is
    /// to be the main lcore: `rte_eal_init` pins that thread to the main
    /// lcore's CPU. A second call, even after a failed first one, returns
    /// [`DpdkError::AlreadyInitialized`].
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        let mut owned = Vec::with_capacity(args.len() + 1);
        owned.push(CString::new("dpdk-io").expect("no NUL in a literal"));
        for a in args {
            owned.push(CString::new(a.as_str()).map_err(|_| DpdkError::NulInArgument(a.clone()))?);
        }
        if STARTED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::AlreadyInitialized);
        }
        // The EAL may keep pointers into argv (getopt permutes it and some
        // options are stored as given), so argv lives for the process.
        let strings: &'static [CString] = Box::leak(owned.into_boxed_slice());
        let argv: &'static mut [*mut c_char] = Box::leak(
            strings
                .iter()
                .map(|s| s.as_ptr().cast_mut())
                .chain(std::iter::once(std::ptr::null_mut()))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        let argc = i32::try_from(strings.len()).expect("fewer than 2^31 arguments");
        // SAFETY: argv holds argc valid NUL-terminated strings followed by
        // NULL, all leaked, so they outlive the EAL; STARTED guarantees this
        // is the only call in the process.
        let ret = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            return Err(DpdkError::EalInit { errno: rte_errno() });
        }
        let token = Arc::new(EalToken(()));
        *LIVE.lock().unwrap_or_else(PoisonError::into_inner) = Arc::downgrade(&token);
        Ok(Eal { token })
    }

    /// A token on the live EAL, for pools and ports to hold.
    pub(crate) fn token() -> Result<Arc<EalToken>, DpdkError> {
        LIVE.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .upgrade()
            .ok_or(DpdkError::NotInitialized)
    }

    /// Whether this handle and another one refer to the same EAL.
    pub fn same_as(&self, other: &Eal) -> bool {
        Arc::ptr_eq(&self.token, &other.token)
    }

    /// Number of lcores the EAL was given (`-l`).
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: the EAL is initialised (self exists); a plain getter.
        unsafe { dpdk_sys::rte_lcore_count() }
    }

    /// The main lcore's id.
    pub fn main_lcore(&self) -> u32 {
        // SAFETY: the EAL is initialised (self exists); a plain getter.
        unsafe { dpdk_sys::rte_get_main_lcore() }
    }
}

/// The calling thread's registration with the EAL as a non-EAL lcore
/// (`rte_thread_register`, which gives it an lcore id of its own, so the
/// mempools' per-lcore caches work), undone when dropped.
///
/// It holds a token on the EAL, so the thread unregisters before
/// `rte_eal_cleanup` can run, whichever pools, ports and queue handles the
/// thread dropped before: a registration made first in a thread and
/// dropped last covers every DPDK call the thread makes.
#[derive(Debug)]
pub(crate) struct ThreadRegistration {
    registered: bool,
    /// Not `Send`: the registration is undone on the thread that made it.
    _this_thread: PhantomData<*const ()>,
    // Dropped after `Drop::drop` unregistered the thread.
    _eal: Arc<EalToken>,
}

impl ThreadRegistration {
    /// Registers the calling thread, unless the EAL knows it already (an
    /// EAL lcore, or a thread registered before), which then stays as it
    /// is. If the EAL refuses (multi-process mode, or every lcore id in
    /// use) the thread runs unregistered: the mempools then bypass their
    /// cache, slower but correct.
    pub(crate) fn register(eal: Arc<EalToken>) -> ThreadRegistration {
        let known = lcore_id() != u32::MAX;
        // SAFETY: the EAL is initialised (we hold a token) and, if we get
        // there, this thread is unknown to it; undone in drop.
        let registered = !known && unsafe { dpdk_sys::rte_thread_register() } == 0;
        ThreadRegistration {
            registered,
            _this_thread: PhantomData,
            _eal: eal,
        }
    }
}

impl Drop for ThreadRegistration {
    fn drop(&mut self) {
        if self.registered {
            // SAFETY: this thread registered in `register` (the handle is
            // not Send), and the EAL is still alive: `_eal` is dropped only
            // after this.
            unsafe { dpdk_sys::rte_thread_unregister() };
        }
    }
}

/// The calling thread's lcore id (`LCORE_ID_ANY`, `u32::MAX`, on a thread
/// the EAL did not create or register).
pub fn lcore_id() -> u32 {
    // SAFETY: reads a thread-local variable; valid on any thread.
    unsafe { dpdk_sys::shim_lcore_id() }
}

/// The NUMA socket of the calling thread (`SOCKET_ID_ANY`, -1, when unknown).
pub fn socket_id() -> i32 {
    // SAFETY: reads thread-local EAL state; valid on any thread.
    unsafe { dpdk_sys::rte_socket_id() as i32 }
}

/// The time-stamp counter.
#[inline]
pub fn rdtsc() -> u64 {
    // On x86-64 the instruction itself, as DPDK's inline rte_rdtsc does
    // (no fence): the loop reads it once or twice per iteration, and a
    // call into C for it cost about 3 % of a bulk sender's cycles.
    #[cfg(target_arch = "x86_64")]
    #[allow(unused_unsafe)]
    // SAFETY: rdtsc exists on every x86-64 CPU and touches no memory.
    return unsafe { core::arch::x86_64::_rdtsc() };
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: executes the architecture's cycle counter read; no memory
    // is touched.
    return unsafe { dpdk_sys::shim_rdtsc() };
}

/// Ticks per second of [`rdtsc`], as the EAL measured it (0 before init).
pub fn tsc_hz() -> u64 {
    // SAFETY: reads a global the EAL sets during init; 0 before that.
    unsafe { dpdk_sys::rte_get_tsc_hz() }
}

/// Builds EAL argument lists. The order of calls is the order of the
/// arguments.
///
/// ```
/// let args = dpdk_io::EalArgs::ci(256).lcores("0").vdev("net_ring0").build();
/// assert!(args.contains(&"--no-huge".to_string()));
/// ```
#[derive(Debug, Clone, Default)]
pub struct EalArgs {
    args: Vec<String>,
}

impl EalArgs {
    /// No arguments yet.
    pub fn new() -> EalArgs {
        EalArgs::default()
    }

    /// The arguments for CI and laptops (no hugepages, no PCI, no NIC):
    /// `--no-huge -m <mem_mb> --no-pci --no-shconf --no-telemetry -d <PMD_DIR>`.
    ///
    /// `--in-memory` is not used: DPDK 22.11 refuses it together with
    /// `--no-huge` ("--legacy-mem is not compatible with --in-memory").
    /// `--no-shconf` gives the same isolation: several processes can each
    /// run their own primary EAL.
    pub fn ci(mem_mb: u32) -> EalArgs {
        EalArgs::new()
            .no_huge(mem_mb)
            .arg("--no-pci")
            .arg("--no-shconf")
            .arg("--no-telemetry")
            .pmd_dir(crate::PMD_DIR)
    }

    /// One argument, as given.
    pub fn arg(mut self, a: &str) -> EalArgs {
        self.args.push(a.to_string());
        self
    }

    /// `--no-huge -m <mem_mb>`: memory from the heap instead of hugepages.
    pub fn no_huge(self, mem_mb: u32) -> EalArgs {
        self.arg("--no-huge").arg("-m").arg(&mem_mb.to_string())
    }

    /// `--file-prefix <prefix>`: a separate runtime directory per process.
    pub fn file_prefix(self, prefix: &str) -> EalArgs {
        self.arg("--file-prefix").arg(prefix)
    }

    /// `-d <dir>`: load the PMD plugins in `dir`.
    pub fn pmd_dir(self, dir: &str) -> EalArgs {
        self.arg("-d").arg(dir)
    }

    /// `-l <list>`: the lcores, e.g. `"0"` or `"0-1"`.
    pub fn lcores(self, list: &str) -> EalArgs {
        self.arg("-l").arg(list)
    }

    /// `--vdev=<spec>`, e.g. `net_ring0` or
    /// `net_memif0,role=server,socket=/tmp/memif.sock`.
    pub fn vdev(self, spec: &str) -> EalArgs {
        self.arg(&format!("--vdev={spec}"))
    }

    /// `--log-level=<level>`, e.g. `"notice"` or `"pmd.net.ring:debug"`.
    pub fn log_level(self, level: &str) -> EalArgs {
        self.arg(&format!("--log-level={level}"))
    }

    /// The argument list, for [`Eal::init`].
    pub fn build(self) -> Vec<String> {
        self.args
    }
}
