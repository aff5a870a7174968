#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine (as root): installs what is
# missing, builds, and runs the stack serving real traffic on a software
# vdev: `wire server` (echo, discard, raw reflector) on one side of a
# net_memif pair, `wire client` on the other, measuring rtt, rr, bulk and
# crr beside the raw device and Linux's TCP (loopback) of the same run,
# and printing the table. JSON with every sample goes to target/wire/.
#
# Usage: scripts/demo.sh [--quick]      (--quick: 1 x 0.2 s per figure)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick)

cargo build --release --locked -p bench --bin wire
out=target/wire
mkdir -p "$out"
wire=./target/release/wire

echo "==> Linux baseline: the same workloads through the kernel's TCP over loopback"
"$wire" linux "${quick[@]}" --json "$out/linux.json" > "$out/linux.txt"
echo "    done ($out/linux.json)"

echo "==> the stack: wire server on net_memif (role server, core 0)"
rm -f /tmp/stack-bench.sock
"$wire" server --config configs/bench-memif-server.toml 2> "$out/server.log" &
server=$!
trap 'kill -INT $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
sleep 1

echo "==> wire client on net_memif (role client, core 1): raw device, then TCP"
"$wire" client --config configs/bench-memif-client.toml --server 10.20.0.1 \
  "${quick[@]}" --linux "$out/linux.json" --json "$out/wire.json" 2> "$out/client.log"
echo
echo "JSON: $out/wire.json (every sample, the configuration and the commit)"
