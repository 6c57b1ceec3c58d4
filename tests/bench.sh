#!/usr/bin/env bash
# Benchmark: one file (default 1 GiB) uploaded through `ferry-sim`'s real S3
# server by ferry (Loculus protocol, presigned multipart), and to the same
# S3 server by `aws s3 cp` and `rclone copy`, in the same run. Prints a
# table of time, throughput and peak memory (RSS). Usage:
#   bash tests/bench.sh [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-1024}
WORK=target/bench
REL=${CARGO_TARGET_DIR:-target}/release
mkdir -p "$WORK"

echo "== installing reference tools (aws CLI from PyPI, rclone and GNU time from Debian)" >&2
# Only the benchmark needs these, so they are not in src-tauri/debian-packages.txt.
if ! command -v rclone >/dev/null || [ ! -x /usr/bin/time ] || ! python3 -c 'import ensurepip' 2>/dev/null; then
  (apt-get update -qq && apt-get install -y -qq rclone time python3-venv) >/dev/null
fi
if [ ! -x "$WORK/venv/bin/aws" ]; then
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install -q awscli
fi

echo "== building ferry (release)" >&2
cargo build --release --locked -p ferry-cli -p ferry-sim >&2

FILE="$WORK/bench_${SIZE_MIB}MiB.fastq.gz"
if [ ! -f "$FILE" ] || [ "$(stat -c %s "$FILE")" -ne $((SIZE_MIB * 1048576)) ]; then
  echo "== writing a ${SIZE_MIB} MiB test file" >&2
  head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$FILE"
fi
SHA=$(sha256sum "$FILE" | cut -d' ' -f1)

rm -rf "$WORK/sim-data"
"$REL"/ferry-sim --url-expiry-secs 7200 --data-dir "$WORK/sim-data" > "$WORK/sim.json" 2>/dev/null &
SIM=$!
trap 'kill $SIM 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$WORK/sim.json" ] && break; sleep 0.1; done
INFO=$(head -n1 "$WORK/sim.json")
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$INFO" "$1"; }
BACKEND=$(field backend); S3=$(field s3); TOKEN=$(field token)
export AWS_ACCESS_KEY_ID=$(field access_key) AWS_SECRET_ACCESS_KEY=$(field secret_key) AWS_DEFAULT_REGION=$(field region)
BUCKET=$(field bucket)

# Runs a command under GNU time; prints "seconds peak_rss_kib".
measure() {
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" > "$WORK/out.txt" 2> "$WORK/err.txt" || {
    echo "FAILED: $*" >&2; cat "$WORK/err.txt" >&2; return 1; }
  cat "$WORK/time.txt"
}

declare -a ROWS
row() { # name seconds rss_kib note
  local mbs; mbs=$(python3 -c "print(f'{$SIZE_MIB*1.048576/$2:.0f}')")
  ROWS+=("$(printf '| %-34s | %8.2f | %8s | %12.0f | %s |' "$1" "$2" "$mbs" "$(python3 -c "print($3/1024)")" "$4")")
}

echo "== ferry upload (8 parts in flight)" >&2
read -r s m < <(FERRY_TOKEN=$TOKEN measure "$REL"/ferry upload -q --backend "$BACKEND" --group 1 "$FILE")
GOT=$(cut -f2 "$WORK/out.txt")
[ "$GOT" = "$SHA" ] || { echo "ferry's SHA-256 differs from sha256sum" >&2; exit 1; }
ID=$(cut -f1 "$WORK/out.txt")
STORED=$(curl -s "$BACKEND/_sim/object/$ID" | python3 -c "import json,sys; print(json.load(sys.stdin)['sha256'])")
[ "$STORED" = "$SHA" ] || { echo "the stored object differs from the file" >&2; exit 1; }
row "ferry upload (Loculus, 8 parts)" "$s" "$m" "stored SHA-256 verified"

echo "== ferry upload (16 parts in flight)" >&2
read -r s m < <(FERRY_TOKEN=$TOKEN measure "$REL"/ferry upload -q --parts-in-flight 16 --backend "$BACKEND" --group 1 "$FILE")
row "ferry upload (Loculus, 16 parts)" "$s" "$m" ""

echo "== ferry upload (links valid 20 s: a deadline plan of few huge parts side by side)" >&2
# A second simulator whose links die after 20 s: at the 1 MB/s assumed
# before anything is measured, ferry sends the file as a few huge parts that
# all start at once (the hasher spills and re-reads what it cannot hold).
mkdir -p "$WORK/sim2-data"
"$REL"/ferry-sim --url-expiry-secs 20 --data-dir "$WORK/sim2-data" > "$WORK/sim2.json" 2>/dev/null &
SIM2=$!
trap 'kill $SIM $SIM2 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$WORK/sim2.json" ] && break; sleep 0.1; done
INFO2=$(head -n1 "$WORK/sim2.json")
B2=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['backend'])" "$INFO2")
T2=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['token'])" "$INFO2")
# A small file first: its links tell ferry how long links live there.
head -c 1000 /dev/urandom > "$WORK/first.tsv"
read -r s m < <(FERRY_TOKEN=$T2 measure "$REL"/ferry upload --backend "$B2" --group 1 "$WORK/first.tsv" "$FILE")
PLAN=$(grep -o 'sent as [0-9]* parts\? of [0-9]* MiB' "$WORK/err.txt" | head -n1 || true)
GOT=$(grep -F "$FILE" "$WORK/out.txt" | cut -f2); ID=$(grep -F "$FILE" "$WORK/out.txt" | cut -f1)
STORED=$(curl -s "$B2/_sim/object/$ID" | python3 -c "import json,sys; print(json.load(sys.stdin)['sha256'])")
[ "$GOT" = "$SHA" ] && [ "$STORED" = "$SHA" ] || { echo "deadline plan: SHA-256 differs" >&2; exit 1; }
kill $SIM2 2>/dev/null || true; rm -rf "$WORK/sim2-data"
row "ferry upload (20 s links, 8 parts, +1 kB file)" "$s" "$m" "${PLAN:-plan unchanged}; stored SHA-256 verified"

echo "== aws s3 cp" >&2
export AWS_CONFIG_FILE="$WORK/aws.cfg"
printf '[default]\ns3 =\n    addressing_style = path\n' > "$AWS_CONFIG_FILE"
read -r s m < <(measure "$WORK/venv/bin/aws" --endpoint-url "$S3" s3 cp --only-show-errors "$FILE" "s3://$BUCKET/bench/aws.bin")
row "aws s3 cp ($("$WORK/venv/bin/aws" --version 2>&1 | cut -d' ' -f1))" "$s" "$m" "direct S3 credentials"

echo "== rclone copy" >&2
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other RCLONE_CONFIG_BENCH_ENV_AUTH=false \
  RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
  RCLONE_CONFIG_BENCH_ENDPOINT=$S3 RCLONE_CONFIG_BENCH_REGION=$AWS_DEFAULT_REGION RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true
# rclone rejects AWS_CA_BUNDLE with a plain-HTTP endpoint; it is not needed on loopback.
read -r s m < <(measure env -u AWS_CA_BUNDLE rclone copy --s3-upload-concurrency 8 "$FILE" "bench:$BUCKET/bench-rclone/")
row "rclone copy ($(rclone version | head -n1 | cut -d' ' -f2), 8 streams)" "$s" "$m" "direct S3 credentials"

printf '\nLargest file that reaches Loculus before its 30-minute links expire (from the deadline model;\nFerry keeps a 20%% margin, the website none)\n\n'
cargo run --release --locked -q -p ferry-engine --example reach
printf '\nUpload of %s MiB to the same loopback S3 server (s3s-fs), %s cores\n\n' "$SIZE_MIB" "$(nproc)"
echo "| tool                               |  seconds |     MB/s | peak RSS MiB | note |"
echo "|------------------------------------|---------:|---------:|-------------:|------|"
printf '%s\n' "${ROWS[@]}"

# Fuzzing (proptest, stable Rust): a bounded run per target, its cases and time.
FUZZ_CASES=${FUZZ_CASES:-5000}
echo "== fuzzing: $FUZZ_CASES cases per target (FUZZ_CASES=N for more)" >&2
printf '\nFuzzing (proptest), %s cases per target\n\n' "$FUZZ_CASES"
echo "| target | cases | seconds |"
echo "|--------|------:|--------:|"
FERRY_FUZZ_CASES=$FUZZ_CASES cargo test --release --locked -p ferry-engine --test fuzz -- --nocapture --test-threads 1 2>/dev/null \
  | sed -n 's/^fuzz \(.*\): \([0-9]*\) cases in \([0-9.]*\) s$/| \1 | \2 | \3 |/p'
