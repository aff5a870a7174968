#!/usr/bin/env bash
# A Linux TCP peer for the stack: a network namespace holding one end of a
# veth pair, the other end left in the root namespace, with no kernel IP
# address, for the stack to drive through net_af_packet
# (configs/linux-peer.toml).
#
#   scripts/linux-peer.sh up          create (again, from scratch) the namespace and veth
#   scripts/linux-peer.sh down        remove them (nothing to remove is fine)
#   scripts/linux-peer.sh run CMD...  up, run CMD, then down whatever happens
#                                     (exit, failure, SIGINT/SIGTERM/SIGHUP);
#                                     exits with CMD's status
#
# Names and addresses, from the environment:
#   STK_PEER_SUFFIX  appended to the three default names below, so several
#                    peers can exist side by side (at most 11 characters:
#                    interface names have 15)
#   STK_NETNS        the namespace            (default stkpeer$STK_PEER_SUFFIX)
#   STK_IF           the stack's veth end     (default stk0$STK_PEER_SUFFIX)
#   STK_PEER_IF      Linux's veth end         (default stk1$STK_PEER_SUFFIX)
#   STK_PEER_ADDR    Linux's address          (default 10.99.0.2/24)
#
# Both veth ends have checksum offload, segmentation offload and GRO turned
# off, so Linux sends real frames of at most the MTU with real checksums
# (af_packet on the stack's end sees exactly what a NIC would), and IPv6
# is disabled on both, so no router solicitation or MLD frame adds noise.
# Needs root, iproute2, ethtool.
set -euo pipefail

suffix=${STK_PEER_SUFFIX:-}
netns=${STK_NETNS:-stkpeer$suffix}
stk_if=${STK_IF:-stk0$suffix}
peer_if=${STK_PEER_IF:-stk1$suffix}
peer_addr=${STK_PEER_ADDR:-10.99.0.2/24}

die() {
  echo "linux-peer: $*" >&2
  exit 1
}

for name in "$stk_if" "$peer_if"; do
  [ ${#name} -le 15 ] || die "interface name '$name' is longer than 15 characters"
done

ns_exists() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$netns"
}

down() {
  # Deleting one end of a veth pair deletes both; deleting the namespace
  # deletes the end inside it.
  if ip link show "$stk_if" >/dev/null 2>&1; then
    ip link del "$stk_if" 2>/dev/null || true
  fi
  if ns_exists; then
    ip netns del "$netns" 2>/dev/null || true
  fi
  # Wait (bounded) until the kernel has let the names go.
  for _ in $(seq 1 50); do
    if ! ip link show "$stk_if" >/dev/null 2>&1 &&
      ! ns_exists; then
      return 0
    fi
    sleep 0.1
  done
  die "could not remove $netns / $stk_if"
}

up() {
  [ "$(id -u)" -eq 0 ] || die "needs root"
  command -v ip >/dev/null 2>&1 || die "ip (iproute2) not found"
  command -v ethtool >/dev/null 2>&1 || die "ethtool not found"
  down
  ip netns add "$netns"
  ip link add "$stk_if" type veth peer name "$peer_if"
  ip link set "$peer_if" netns "$netns"

  # The stack's end: up, no address, no IPv6, no offloads.
  sysctl -qw "net.ipv6.conf.$stk_if.disable_ipv6=1" 2>/dev/null || true
  ethtool_off "" "$stk_if"
  ip link set "$stk_if" up

  # Linux's end.
  ip netns exec "$netns" sysctl -qw "net.ipv6.conf.all.disable_ipv6=1" 2>/dev/null || true
  ip netns exec "$netns" sysctl -qw "net.ipv6.conf.default.disable_ipv6=1" 2>/dev/null || true
  ip netns exec "$netns" sysctl -qw "net.ipv6.conf.$peer_if.disable_ipv6=1" 2>/dev/null || true
  ethtool_off "$netns" "$peer_if"
  ip -n "$netns" link set lo up
  ip -n "$netns" addr add "$peer_addr" dev "$peer_if"
  ip -n "$netns" link set "$peer_if" up

  # Both ends report carrier once both are up; wait for it (bounded).
  for _ in $(seq 1 50); do
    if [ "$(cat "/sys/class/net/$stk_if/operstate" 2>/dev/null)" = up ]; then
      echo "linux-peer: $netns up ($peer_if $peer_addr; stack on $stk_if)"
      return 0
    fi
    sleep 0.1
  done
  die "$stk_if did not come up"
}

ethtool_off() { # NETNS-or-empty IFACE
  local ns=$1 ifname=$2
  local -a pre=()
  [ -n "$ns" ] && pre=(ip netns exec "$ns")
  # One feature at a time: a feature this kernel does not have must not
  # keep the others on.
  for feature in tx rx sg tso gso gro lro; do
    "${pre[@]}" ethtool -K "$ifname" "$feature" off >/dev/null 2>&1 || true
  done
  if "${pre[@]}" ethtool -k "$ifname" 2>/dev/null |
    grep -E '^(tx-checksumming|rx-checksumming|tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload): on' >&2; then
    die "offloads still on for $ifname"
  fi
}

cmd=${1:-}
case "$cmd" in
  up) up ;;
  down) down ;;
  run)
    shift
    [ $# -gt 0 ] || die "run needs a command"
    trap 'down' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    up
    set +e
    "$@"
    status=$?
    set -e
    exit "$status"
    ;;
  *)
    echo "usage: $0 up|down|run CMD..." >&2
    exit 2
    ;;
esac
