#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine (as root): installs what is
# missing, builds, and runs the stack serving real traffic on a software
# vdev: `wire server` (echo, discard, raw reflector) on one side of a
# net_memif pair, `wire client` on the other, measuring rtt, rr, bulk and
# crr beside the raw device and Linux's TCP of the same run (over loopback,
# and over a veth pair into a network namespace), with bulk at MTU 9000
# (configs/jumbo-memif-*.toml) as rows of their own, and printing the table;
# then the loss section (scripts/loss.sh): bulk without loss and at 0.1 to
# 10 % loss, and rr at 1 %, over a veth pair, the stack and Linux as senders in the same run.
# JSON with every sample goes to target/wire/.
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

echo "==> Linux baseline over a veth pair (kernel defaults, offloads on) into a namespace"
ns=stkbench$$
cleanup_veth() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup_veth EXIT
ip netns add "$ns"
ip link add stkb$$a type veth peer name stkb$$b
ip link set stkb$$b netns "$ns"
ip addr add 10.98.0.1/24 dev stkb$$a
ip link set stkb$$a up
ip netns exec "$ns" ip addr add 10.98.0.2/24 dev stkb$$b
ip netns exec "$ns" ip link set stkb$$b up
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" "$wire" linux-server --bind 10.98.0.2 2> "$out/veth-server.log" &
veth_server=$!
sleep 0.5
"$wire" linux "${quick[@]}" --server 10.98.0.2 --label linux-veth --json "$out/veth.json" > "$out/veth.txt"
kill -INT $veth_server 2>/dev/null || true
wait $veth_server 2>/dev/null || true
cleanup_veth
echo "    done ($out/veth.json)"

echo "==> the stack at MTU 9000: bulk only, over net_memif with jumbo frames"
rm -f /tmp/stack-bench-jumbo.sock
"$wire" server --config configs/jumbo-memif-server.toml 2> "$out/jumbo-server.log" &
server=$!
trap 'kill -INT $server 2>/dev/null || true; wait $server 2>/dev/null || true; cleanup_veth' EXIT
sleep 1
"$wire" client --config configs/jumbo-memif-client.toml --server 10.20.0.1 \
  "${quick[@]}" --only bulk --json "$out/jumbo.json" > "$out/jumbo.txt" 2> "$out/jumbo-client.log"
kill -INT $server 2>/dev/null || true
wait $server 2>/dev/null || true
echo "    done ($out/jumbo.json)"

echo "==> the stack: wire server on net_memif (role server, core 0)"
rm -f /tmp/stack-bench.sock
"$wire" server --config configs/bench-memif-server.toml 2> "$out/server.log" &
server=$!
trap 'kill -INT $server 2>/dev/null || true; wait $server 2>/dev/null || true; cleanup_veth' EXIT
sleep 1

echo "==> wire client on net_memif (role client, core 1): raw device, then TCP"
"$wire" client --config configs/bench-memif-client.toml --server 10.20.0.1 \
  "${quick[@]}" --linux "$out/linux.json" --linux "$out/veth.json" --extra "$out/jumbo.json" \
  --json "$out/wire.json" 2> "$out/client.log"
kill -INT $server 2>/dev/null || true
wait $server 2>/dev/null || true
grep -h '^wire server memory' "$out/server.log" || true
trap - EXIT
cleanup_veth

echo
echo "==> loss: bulk and rr over a veth pair with nftables loss in the namespace,"
echo "    the stack (net_af_packet) and Linux's TCP as senders to the same Linux receiver"
scripts/loss.sh "${quick[@]}"
echo
echo "JSON: $out/wire.json and $out/loss.json (every sample, the configuration and the commit)"
