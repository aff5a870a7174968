//! Finds the system DPDK with pkg-config, compiles the static-inline shims
//! (csrc/shim.c) and generates the bindings with bindgen.
//!
//! Missing DPDK or libclang ends the build with one message that names the
//! Debian packages to install, instead of a wall of compiler or linker
//! errors.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

const INSTALL_HINT: &str =
    "apt-get install -y dpdk dpdk-dev libdpdk-dev clang libclang-dev pkg-config";

/// The DPDK libraries the bindings use. `rte_net_ring` provides
/// `rte_eth_from_rings`; the other PMDs are loaded as plugins at run time.
const LINK_LIBS: &[&str] = &[
    "rte_net_ring",
    "rte_ethdev",
    "rte_net",
    "rte_mbuf",
    "rte_mempool",
    "rte_ring",
    "rte_eal",
    "rte_kvargs",
    "rte_telemetry",
];

fn fail(what: &str, detail: &str) -> ! {
    eprintln!();
    eprintln!("error: dpdk-sys: {what}");
    if !detail.is_empty() {
        eprintln!("  {}", detail.trim().replace('\n', "\n  "));
    }
    eprintln!("  dpdk-sys needs DPDK 22.11 (or newer) and libclang. On Debian 12:");
    eprintln!("    {INSTALL_HINT}");
    eprintln!("  then check: pkg-config --modversion libdpdk");
    eprintln!();
    exit(1);
}

fn pkg_config_bin() -> String {
    env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string())
}

/// `pkg-config --cflags libdpdk`, split into arguments. Kept whole (not only
/// the include paths) because DPDK's headers need `-include rte_config.h`
/// and the instruction-set baseline the distribution built DPDK with.
fn dpdk_cflags() -> Vec<String> {
    let out = Command::new(pkg_config_bin())
        .args(["--cflags", "libdpdk"])
        .output()
        .unwrap_or_else(|e| fail("could not run pkg-config", &e.to_string()));
    if !out.status.success() {
        fail(
            "pkg-config --cflags libdpdk failed",
            &String::from_utf8_lossy(&out.stderr),
        );
    }
    let flags: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if flags.iter().any(|f| f == "-march=native") {
        fail(
            "libdpdk.pc asks for -march=native",
            "this DPDK was built for one machine only; use the distribution's DPDK",
        );
    }
    flags
}

/// The directory holding the PMD plugins (`librte_net_ring.so` ...).
fn pmd_dir(lib: &pkg_config::Library) -> PathBuf {
    if let Ok(dir) = env::var("DPDK_PMD_DIR") {
        return PathBuf::from(dir);
    }
    if let Ok(dir) = pkg_config::get_variable("libdpdk", "pmdsdir") {
        if !dir.is_empty() {
            return PathBuf::from(dir);
        }
    }
    // DPDK records the directory it loads plugins from by default.
    for inc in &lib.include_paths {
        let cfg = inc.join("rte_build_config.h");
        let Ok(text) = std::fs::read_to_string(&cfg) else {
            continue;
        };
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("#define RTE_EAL_PMD_PATH") {
                let dir = rest.trim().trim_matches('"');
                if !dir.is_empty() {
                    return PathBuf::from(dir);
                }
            }
        }
    }
    // Last resort: <libdir>/dpdk/pmds-<abi>.
    for libdir in &lib.link_paths {
        if let Ok(entries) = std::fs::read_dir(libdir.join("dpdk")) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with("pmds-") {
                    return e.path();
                }
            }
        }
    }
    fail(
        "could not find DPDK's PMD plugin directory",
        "set DPDK_PMD_DIR to the directory holding librte_net_ring.so",
    )
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let csrc = manifest.join("csrc");
    for f in ["wrapper.h", "shim.h", "shim.c"] {
        println!("cargo:rerun-if-changed={}", csrc.join(f).display());
    }
    println!("cargo:rerun-if-env-changed=DPDK_PMD_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_LIBDIR");
    println!("cargo:rerun-if-env-changed=LIBCLANG_PATH");

    let lib = pkg_config::Config::new()
        .atleast_version("22.11")
        .cargo_metadata(false)
        .probe("libdpdk")
        .unwrap_or_else(|e| fail("DPDK (libdpdk) not found by pkg-config", &e.to_string()));
    let cflags = dpdk_cflags();

    let pmds = pmd_dir(&lib);
    if !pmds.join("librte_net_ring.so").exists() {
        println!(
            "cargo:warning=dpdk-sys: {} has no librte_net_ring.so; vdevs may not load",
            pmds.display()
        );
    }
    println!("cargo:rustc-env=DPDK_SYS_PMD_DIR={}", pmds.display());
    println!("cargo:rustc-env=DPDK_SYS_VERSION={}", lib.version);

    for dir in &lib.link_paths {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
    for l in LINK_LIBS {
        println!("cargo:rustc-link-lib=dylib={l}");
    }

    check_libclang();
    compile_shims(&csrc, &cflags);
    generate_bindings(&csrc, &cflags);
}

/// bindgen loads libclang at run time and panics when it is absent: turn
/// that panic into the install hint.
fn check_libclang() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let found = std::panic::catch_unwind(bindgen::clang_version);
    std::panic::set_hook(default_hook);
    if let Err(payload) = found {
        let detail = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        fail("libclang not found (bindgen needs it)", &detail);
    }
}

fn compile_shims(csrc: &Path, cflags: &[String]) {
    let mut build = cc::Build::new();
    build
        .file(csrc.join("shim.c"))
        .include(csrc)
        .warnings(false);
    for f in cflags {
        build.flag(f);
    }
    if let Err(e) = build.try_compile("dpdk_sys_shim") {
        fail(
            "compiling csrc/shim.c against the DPDK headers failed",
            &e.to_string(),
        );
    }
}

/// Gives the 64-bit flag families the type of the fields they are used
/// with (`ol_flags`, `rx_offload_capa`, `rss_hf` are all `u64`), instead of
/// the smallest type that holds each value.
#[derive(Debug)]
struct FlagTypes;

impl bindgen::callbacks::ParseCallbacks for FlagTypes {
    fn int_macro(&self, name: &str, _value: i64) -> Option<bindgen::callbacks::IntKind> {
        const U64_FAMILIES: &[&str] = &[
            "RTE_MBUF_F_",
            "RTE_ETH_TX_OFFLOAD_",
            "RTE_ETH_RX_OFFLOAD_",
            "RTE_ETH_RSS_",
        ];
        U64_FAMILIES
            .iter()
            .any(|p| name.starts_with(p))
            .then_some(bindgen::callbacks::IntKind::U64)
    }
}

fn generate_bindings(csrc: &Path, cflags: &[String]) {
    let bindings = bindgen::Builder::default()
        .header(csrc.join("wrapper.h").display().to_string())
        .clang_args(cflags)
        .clang_arg(format!("-I{}", csrc.display()))
        // RTE_BIT64() and friends are function-like macros: let clang
        // evaluate the flag constants built from them.
        .clang_macro_fallback()
        .parse_callbacks(Box::new(FlagTypes))
        .generate_comments(false)
        .derive_default(true)
        .prepend_enum_name(false)
        .allowlist_function("shim_.*")
        .allowlist_function("rte_eal_.*")
        .allowlist_function("rte_pktmbuf_.*")
        .allowlist_function("rte_mempool_(avail_count|in_use_count|free|lookup|dump)")
        .allowlist_function("rte_ring_(create|free|lookup)")
        .allowlist_function(
            "rte_eth_(dev_(configure|start|stop|close|info_get|socket_id|count_avail|is_valid_port|get_port_by_name|get_name_by_port|rss_hash_conf_get|rss_reta_query|set_mtu|get_mtu|adjust_nb_rx_tx_desc)|rx_queue_setup|tx_queue_setup|stats_get|stats_reset|link_get|link_get_nowait|link_speed_to_str|promiscuous_(enable|disable|get)|macaddr_get|find_next|from_rings|from_ring)",
        )
        .allowlist_function("rte_lcore_.*")
        .allowlist_function("rte_get_(next_lcore|main_lcore|tsc_hz)")
        .allowlist_function("rte_socket_id|rte_strerror|rte_thread_(register|unregister)")
        .allowlist_type("rte_mbuf|rte_mempool|rte_ring")
        .allowlist_type("rte_eth_(conf|dev_info|stats|link|rss_conf|rss_reta_entry64|rxconf|txconf)")
        .allowlist_type("rte_ether_(addr|hdr)|rte_ipv4_hdr")
        .allowlist_var("RTE_MBUF_F_.*")
        .allowlist_var("RTE_ETH_(TX|RX)_OFFLOAD_.*")
        .allowlist_var("RTE_ETH_RSS_.*")
        .allowlist_var("RTE_ETH_LINK_.*|RTE_ETH_SPEED_NUM_.*|RTE_ETH_MQ_.*")
        .allowlist_var("RTE_ETH_RETA_GROUP_SIZE|RTE_ETH_NAME_MAX_LEN|RTE_MAX_ETHPORTS|RTE_MAX_LCORE")
        .allowlist_var("RTE_PKTMBUF_HEADROOM|RTE_MBUF_DEFAULT_.*|RTE_MEMPOOL_CACHE_MAX_SIZE")
        .allowlist_var("RTE_ETHER_(ADDR_LEN|HDR_LEN|MTU|MAX_LEN|MIN_LEN|CRC_LEN|TYPE_IPV4|TYPE_ARP)")
        .allowlist_var("SOCKET_ID_ANY|LCORE_ID_ANY|RING_F_.*")
        .generate()
        .unwrap_or_else(|e| fail("bindgen could not parse the DPDK headers", &e.to_string()));

    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("bindings.rs");
    bindings
        .write_to_file(&out)
        .unwrap_or_else(|e| fail("could not write the bindings", &e.to_string()));
}
