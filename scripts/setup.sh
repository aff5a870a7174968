# Sourced by the other scripts: installs what the build needs on a fresh
# Debian 12 machine (DPDK 22.11 LTS and its headers, clang for bindgen,
# pkg-config). Idempotent: installs nothing when everything is present.

need_pkgs=()
command -v pkg-config >/dev/null 2>&1 || need_pkgs+=(pkg-config)
command -v cc >/dev/null 2>&1 || need_pkgs+=(gcc)
# The C examples of the C ABI (capi/tests/c_programs.rs) need libc's headers.
[ -e /usr/include/stdio.h ] || need_pkgs+=(libc6-dev)
command -v clang >/dev/null 2>&1 || need_pkgs+=(clang)
if ! pkg-config --exists libdpdk 2>/dev/null; then
  need_pkgs+=(dpdk dpdk-dev libdpdk-dev)
fi
# bindgen loads libclang at run time.
if ! ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 && ! ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1; then
  need_pkgs+=(libclang-dev)
fi
# The tests against Linux's TCP (dpdk-io/tests/linux_peer.rs): a network
# namespace and veth (iproute2, ethtool), captures (tcpdump), loss
# (nftables), ping (iputils-ping), the peer programs (python3).
command -v ip >/dev/null 2>&1 || need_pkgs+=(iproute2)
command -v ethtool >/dev/null 2>&1 || need_pkgs+=(ethtool)
command -v tcpdump >/dev/null 2>&1 || need_pkgs+=(tcpdump)
command -v nft >/dev/null 2>&1 || need_pkgs+=(nftables)
command -v ping >/dev/null 2>&1 || need_pkgs+=(iputils-ping)
command -v python3 >/dev/null 2>&1 || need_pkgs+=(python3)
# Unmodified programs over the stack (preload/tests/nginx.rs): a Debian
# nginx, and curl and wrk as its clients.
command -v nginx >/dev/null 2>&1 || need_pkgs+=(nginx-light)
command -v wrk >/dev/null 2>&1 || need_pkgs+=(wrk)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages (${need_pkgs[*]}); run as root or install them" >&2
    exit 1
  fi
  echo "setup: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  # Debian starts the nginx it installs; the tests run their own.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
    systemctl stop nginx || true
  fi
fi

for tool in cargo rustfmt cargo-clippy; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "setup: '$tool' not found: install the Rust toolchain (rustup, with rustfmt and clippy)" >&2
    exit 1
  fi
done
