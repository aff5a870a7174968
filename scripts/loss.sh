#!/usr/bin/env bash
# The `loss` benchmark section: one veth pair into a network namespace
# (scripts/linux-peer.sh: offloads off on both ends), Linux's TCP servers
# in the namespace (`wire linux-server`), and nftables there dropping a
# share of the TCP frames at random in both directions. `wire loss` sends
# the same bulk transfer and the same request/response workload once from
# the stack (net_af_packet on the root end) and once from Linux's TCP (a
# kernel address on the same root end), rate by rate, and prints the
# table. Needs root; run by scripts/demo.sh, or alone after
# scripts/setup.sh.
#
# Usage: scripts/loss.sh [--quick] [wire loss options...]
set -euo pipefail
cd "$(dirname "$0")/.."

wire=./target/release/wire
[ -x "$wire" ] || cargo build --release --locked -p bench --bin wire
out=target/wire
mkdir -p "$out"

export STK_PEER_SUFFIX=l
netns=stkpeerl
stk_if=stk0l
peer_if=stk1l
export STK_PEER_ADDR=10.99.0.2/24

run_loss() {
  # Linux's sending side shares the stack's veth end.
  ip addr add 10.99.0.3/24 dev "$stk_if"
  ip netns exec "$netns" "$wire" linux-server --bind 10.99.0.2 2> "$out/loss-server.log" &
  local server=$!
  sleep 0.5
  local cfg="$out/loss-stack.toml"
  sed "s/iface=stk0\"/iface=$stk_if\"/" configs/linux-peer.toml > "$cfg"
  local status=0
  "$wire" loss --config "$cfg" --server 10.99.0.2 --netns "$netns" --peer-if "$peer_if" \
    --json "$out/loss.json" "$@" 2> "$out/loss-client.log" || status=$?
  kill -INT "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    tail -20 "$out/loss-client.log" >&2
  fi
  return "$status"
}

# Under `linux-peer.sh run` the namespace and veth go whatever happens.
if [ "${1:-}" = "--inner" ]; then
  shift
  run_loss "$@"
else
  exec scripts/linux-peer.sh run "$0" --inner "$@"
fi
