#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages of src-tauri/debian-packages.txt that
# are missing: `install-debs.sh app` for the desktop app, `install-debs.sh
# test` for the app and its tests. Node.js too, unless one is installed
# (e.g. through nvm). Needs root or sudo; does nothing when all are there.
set -euo pipefail
want="${1:-app}"
list="$(dirname "$0")/debian-packages.txt"
debs=()
while read -r name who; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  [[ "$who" == app || "$want" == test ]] && debs+=("$name")
done <"$list"
command -v npm >/dev/null || debs+=(nodejs npm)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0
command -v apt-get >/dev/null || {
  echo "Ferry needs these packages (or your system's equivalents): ${missing[*]}" >&2
  echo "This script installs them with apt-get (Debian/Ubuntu); install them yourself here." >&2
  exit 1
}
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
