#!/usr/bin/env bash
# The README's run command: on a fresh Debian/Ubuntu machine (root, or a
# user with sudo; Rust and Node.js installed) it installs the system
# packages the app needs, builds it and opens the window on the demo portal.
# Arguments go to the app's build (e.g. `--features ...`); FERRY_* variables
# to the app.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "$(uname -s)" == Linux && -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
  cat >&2 <<'MSG'
Ferry opens a window, and this session has no display (DISPLAY and
WAYLAND_DISPLAY are not set). Run it from a desktop session, over SSH with
X forwarding (`ssh -X`), or on a virtual display:
  apt-get install xvfb && xvfb-run -a bash src-tauri/run.sh
Without a window, the `ferry` command line does the same work:
  cargo run --release -p ferry-cli --bin ferry -- --help
MSG
  exit 2
fi
[[ "$(uname -s)" == Linux ]] && bash src-tauri/install-debs.sh app
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
command -v npm >/dev/null || { echo "Node.js 20.19+ and npm are required (https://nodejs.org)" >&2; exit 1; }
exec cargo run --release --bin ferry-app "$@"
