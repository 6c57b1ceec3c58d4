#!/usr/bin/env bash
# Every test of Ferry, on a fresh Debian machine as root or on a developer's:
# style and lints, unit tests, the simulator's rule tests, the engine against
# the simulator on a real S3 server, and the CLI end to end against a
# `ferry-sim` process. Every server is started by the tests themselves on
# 127.0.0.1 and stopped when they end.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s (%ss)\n' "$*" "$SECONDS"; }

step "toolchain"
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1 \
  || rustup component add rustfmt clippy
if ! command -v cargo-nextest >/dev/null; then
  cargo install cargo-nextest --locked
fi

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build (once, for every test below)"
cargo build --workspace --bins --tests --locked

step "tests"
cargo nextest run --workspace --locked --no-fail-fast --failure-output final

step "done"
