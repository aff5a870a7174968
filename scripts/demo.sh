#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs the main job. Until the DPDK
# runtime lands, that is the simulator demo: two engines over simulated
# lossy links (scenario S1 as a trace, then bulk transfers at several loss
# rates, SHA-256 checked), followed by the API example.
# Usage: scripts/demo.sh [MIB_PER_DIRECTION] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
cargo build --release --locked -p integration-tests --bin simdemo -p stack --example hello
./target/release/simdemo "${1:-16}" "${2:-1}"
echo
echo "API example (stack/examples/hello.rs):"
./target/release/examples/hello
