#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs every check and test:
# formatting, clippy with warnings denied, documentation, and the whole
# workspace's tests. Runs as root (it installs packages when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "cargo test"
# The tests against Linux in a namespace need root; here they must run,
# not skip (a skipped test would report ok).
STACK_ROOT_TESTS=required cargo test --workspace --locked --release

step "criterion benches, quick mode (each runs once)"
cargo test --locked --release -p bench --benches
