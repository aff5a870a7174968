#!/usr/bin/env bash
# Instructions and calls across the language boundary per segment on the
# engine's fast paths over DPDK mbufs (the steps of `cargo bench -p bench
# --bench mbuf`), counted by callgrind: exact and free of the timing noise
# of a shared machine. Each path runs twice, N and 2N steps after the same
# set-up; the difference divided by N is one step, set-up excluded.
#
#   scripts/per-segment.sh [N]      (default 2000; needs valgrind: installed
#                                    with apt-get when missing, as root)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
if ! command -v valgrind >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends valgrind >/dev/null
fi
cargo build --release --locked -p bench --bin per-segment >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-22s %10s %14s %s\n' path segments instructions "C calls per segment (shim and DPDK, from Rust)"
for path in rx rx-software-checksum tx tx-segmented-8; do
  for steps in "$n" "$((2 * n))"; do
    valgrind --tool=callgrind --callgrind-out-file="$out/$path-$steps.out" \
      target/release/per-segment "$path" "$steps" 2>/dev/null
  done
  python3 - "$out/$path-$n.out" "$out/$path-$((2 * n)).out" "$n" "$path" <<'PY'
import re, sys
from collections import Counter

def read(path):
    names, calls, total = {}, Counter(), 0
    current, callee = "", None
    for line in open(path, errors="replace"):
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if m:
            kind, ident, name = m.groups()
            if name:
                names[ident] = name
            if kind == "fn":
                current, callee = names.get(ident, ""), None
            else:
                callee = names.get(ident, "")
            continue
        if line.startswith("calls=") and callee is not None:
            count = int(line.split()[0][6:])
            inside_c = current.startswith(("shim_", "rte_", "__rte", "mempool_", "common_ring"))
            if callee.startswith("shim_") or (callee.startswith("rte_") and not inside_c):
                calls[callee] += count
            callee = None
        elif line.startswith("totals:"):
            total = int(line.split()[1])
    return total, calls

(t1, c1), (t2, c2) = read(sys.argv[1]), read(sys.argv[2])
n, path = int(sys.argv[3]), sys.argv[4]
per_step = 8 if path == "tx-segmented-8" else 1
segments = n * per_step
instr = (t2 - t1) / segments
diff = {k: (c2[k] - c1[k]) / segments for k in c2}
shown = ", ".join(f"{k} {v:.2f}" for k, v in sorted(diff.items(), key=lambda kv: -kv[1]) if v >= 0.01)
print(f"{path:<22} {segments:>10} {instr:>14.0f} {sum(v for v in diff.values()):.2f}: {shown}")
PY
done
