#!/usr/bin/env bash
# Benchmark: one file (default 1 GiB) uploaded through `ferry-sim`'s real S3
# server by ferry (Loculus protocol, presigned multipart), and to the same
# S3 server by `aws s3 cp` and `rclone copy`, in the same run. Prints a
# table of time, throughput, CPU seconds per GiB and peak memory (RSS)
# (ROUNDS=N runs of every row, default 5; the median is shown). Then the
# scale table (tests/bench-scale.sh: 100,000 files, a journal of a million
# parts, 1 TiB, BaseSpace's part limit). Usage:
#   bash tests/bench.sh [SIZE_MIB]
#   bash tests/bench.sh scale      (the scale table alone)
#   bash tests/bench.sh gui        (the window under the issue's full load:
#                                   1 GiB + 10,000 files; figures in
#                                   tests/artifacts/gui-load.json)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = scale ]; then
  exec bash tests/bench-scale.sh
fi
if [ "${1:-}" = gui ]; then
  cargo build --workspace --bins
  FERRY_LOAD_FULL=1 exec dbus-run-session -- cargo nextest run -p ferry-e2e --test gui_scale \
    --run-ignored all -E 'test(window_under_load)' --no-capture
fi
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

# Runs a command under GNU time; prints "seconds peak_rss_kib cpu_seconds"
# (user + sys of the command and its children: CPU time is disturbed far
# less than wall time when other work shares the machine).
measure() {
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/time.txt" "$@" > "$WORK/out.txt" 2> "$WORK/err.txt" || {
    echo "FAILED: $*" >&2; cat "$WORK/err.txt" >&2; return 1; }
  python3 -c "import sys; e,m,u,s=open(sys.argv[1]).read().split()[-4:]; print(e, m, f'{float(u)+float(s):.2f}')" "$WORK/time.txt"
}

# Objects stored by a row are deleted once checked: the disk holds one
# copy of the file at a time however many rows and rounds run.
forget_objects() { find "$WORK/sim-data" -type f -size +1M -delete 2>/dev/null || true; }

# One row's runs go to $WORK/rows/KEY as "seconds rss_kib cpu_s" lines; the
# table shows the median seconds and CPU and the largest RSS of its rounds.
rm -rf "$WORK/rows"; mkdir -p "$WORK/rows"
keep() { echo "$2 $3 $4" >> "$WORK/rows/$1"; }
declare -a ORDER NAMES NOTES
declare -A SEEN
label() { # key name note
  [ -n "${SEEN[$1]:-}" ] && return 0
  SEEN[$1]=1; ORDER+=("$1"); NAMES+=("$2"); NOTES+=("$3")
}

ferry_row() { # key name note [ferry upload args...]
  local key=$1 name=$2 note=$3; shift 3
  echo "== $name" >&2
  read -r s m c < <(FERRY_TOKEN=$TOKEN measure "$@")
  keep "$key" "$s" "$m" "$c"; label "$key" "$name" "$note"
}

check_ferry_sha() { # the SHA-256 ferry printed and the stored object's
  local got id stored
  got=$(cut -f2 "$WORK/out.txt"); id=$(cut -f1 "$WORK/out.txt")
  [ "$got" = "$SHA" ] || { echo "ferry's SHA-256 differs from sha256sum" >&2; exit 1; }
  stored=$(curl -s "$BACKEND/_sim/object/$id" | python3 -c "import json,sys; print(json.load(sys.stdin)['sha256'])")
  [ "$stored" = "$SHA" ] || { echo "the stored object differs from the file" >&2; exit 1; }
}

# Where an upload's time went, on the server's clock (the sim logs when
# each request arrived and was answered): the parts, from the first one's
# arrival to the last one stored, then the completion, in which s3s-fs
# reads every part back and hashes it. Appends "parts_s complete_s" to
# $WORK/rows/KEY.phases. aws-cli completes on the storage host itself;
# ferry through the Loculus backend, which completes on the same server.
phases() { # key aws|ferry [file id]
  curl -s "$BACKEND/_sim/state" | python3 -c '
import json, sys
st = json.load(sys.stdin); who = sys.argv[1]; fid = sys.argv[2] if len(sys.argv) > 2 else ""
log = st["storage_log"]
if who == "aws":
    done = [r for r in log if r["method"] == "POST" and r["path"].endswith("/aws.bin") and "uploadId=" in r["query"]][-1]
    upload = [q for q in done["query"].split("&") if q.startswith("uploadId=")][0]
    parts = [r for r in log if r["method"] == "PUT" and upload in r["query"]]
else:
    parts = [r for r in log if r["method"] == "PUT" and r["path"].endswith(fid) and "partNumber=" in r["query"]]
    done = [r for r in st["api_log"] if r["path"] == "/files/complete-multipart-upload"][-1]
sent = max(r["ended_ms"] for r in parts) - min(r["started_ms"] for r in parts)
complete = done["ended_ms"] - done["started_ms"]
print(f"{sent / 1000:.3f} {complete / 1000:.3f}")
' "$2" "${3:-}" >> "$WORK/rows/$1.phases"
}

export AWS_CONFIG_FILE="$WORK/aws.cfg"
printf '[default]\ns3 =\n    addressing_style = path\n' > "$AWS_CONFIG_FILE"
AWS_NAME="aws s3 cp ($("$WORK/venv/bin/aws" --version 2>&1 | cut -d' ' -f1))"

DEFAULT_ROW="ferry upload (8 parts in flight, the default)"

# Rounds: every row once per round, in the same order, so the reference
# tools and ferry share the machine's ups and downs alike.
ROUNDS=${ROUNDS:-5}
for round in $(seq "$ROUNDS"); do
  echo "== round $round of $ROUNDS" >&2
  echo "== $AWS_NAME" >&2
  read -r s m c < <(measure "$WORK/venv/bin/aws" --endpoint-url "$S3" s3 cp --only-show-errors "$FILE" "s3://$BUCKET/bench/aws.bin")
  keep aws "$s" "$m" "$c"; label aws "$AWS_NAME" "direct S3 credentials; no checksum of its own"
  phases aws aws; forget_objects

  echo "== curl, one presigned PUT" >&2
  URL=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" "$BACKEND/files/request-upload?groupId=1&numberFiles=1" \
    | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['url'])")
  read -r s m c < <(measure curl -sS --fail -o /dev/null -H 'If-None-Match: *' -T "$FILE" "$URL")
  keep curl "$s" "$m" "$c"; label curl "curl, one presigned PUT" "the ceiling: one stream, no checksum"
  forget_objects

  ferry_row ferry8 "$DEFAULT_ROW" "SHA-256 + every part's MD5 checked; stored SHA-256 verified" \
    "$REL"/ferry upload -q --backend "$BACKEND" --group 1 "$FILE"
  check_ferry_sha; phases ferry8 ferry "$(cut -f1 "$WORK/out.txt")"; forget_objects

  ferry_row ferry16 "ferry upload (16 parts in flight)" "SHA-256 + MD5 checked; all 16 of AVX-512's MD5 lanes in use" \
    "$REL"/ferry upload -q --parts-in-flight 16 --backend "$BACKEND" --group 1 "$FILE"
  check_ferry_sha; forget_objects

  ferry_row ferry1 "ferry upload (1 part in flight)" "SHA-256 + MD5 checked" \
    "$REL"/ferry upload -q --parts-in-flight 1 --backend "$BACKEND" --group 1 "$FILE"
  check_ferry_sha; forget_objects

  ferry_row nohash "ferry upload --no-file-hash (8 parts)" "MD5 of every part still checked; what the SHA-256 costs" \
    "$REL"/ferry upload -q --no-file-hash --backend "$BACKEND" --group 1 "$FILE"
  forget_objects

  ferry_row scalar "ferry upload, FERRY_MD5=scalar (8 parts)" "one MD5 stream at a time: what the SIMD lanes save" \
    env FERRY_MD5=scalar "$REL"/ferry upload -q --backend "$BACKEND" --group 1 "$FILE"
  check_ferry_sha; forget_objects
done

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
read -r s m c < <(FERRY_TOKEN=$T2 measure "$REL"/ferry upload --backend "$B2" --group 1 "$WORK/first.tsv" "$FILE")
PLAN=$(grep -o 'sent as [0-9]* parts\? of [0-9]* MiB' "$WORK/err.txt" | head -n1 || true)
GOT=$(grep -F "$FILE" "$WORK/out.txt" | cut -f2); ID=$(grep -F "$FILE" "$WORK/out.txt" | cut -f1)
STORED=$(curl -s "$B2/_sim/object/$ID" | python3 -c "import json,sys; print(json.load(sys.stdin)['sha256'])")
[ "$GOT" = "$SHA" ] && [ "$STORED" = "$SHA" ] || { echo "deadline plan: SHA-256 differs" >&2; exit 1; }
kill $SIM2 2>/dev/null || true; rm -rf "$WORK/sim2-data"
keep links20 "$s" "$m" "$c"; label links20 "ferry upload (20 s links, 8 parts, +1 kB file)" "${PLAN:-plan unchanged}; stored SHA-256 verified"

echo "== rclone copy" >&2
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other RCLONE_CONFIG_BENCH_ENV_AUTH=false \
  RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
  RCLONE_CONFIG_BENCH_ENDPOINT=$S3 RCLONE_CONFIG_BENCH_REGION=$AWS_DEFAULT_REGION RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true
# rclone rejects AWS_CA_BUNDLE with a plain-HTTP endpoint; it is not needed on loopback.
read -r s m c < <(measure env -u AWS_CA_BUNDLE rclone copy --s3-upload-concurrency 8 "$FILE" "bench:$BUCKET/bench-rclone/")
keep rclone "$s" "$m" "$c"; label rclone "rclone copy ($(rclone version | head -n1 | cut -d' ' -f2), 8 streams)" "direct S3 credentials"
forget_objects

printf '\nLargest file that reaches Loculus before its 30-minute links expire (from the deadline model;\nFerry keeps a 20%% margin, the website none)\n\n'
cargo run --release --locked -q -p ferry-engine --example reach
printf '\nUpload of %s MiB to the same loopback S3 server (s3s-fs), %s cores; median of %s rounds\n' "$SIZE_MIB" "$(nproc)" "$ROUNDS"
printf '(seconds and CPU: median; peak RSS: the largest; CPU = user + sys of the tool, not the server)\n\n'
echo "| tool | seconds | MiB/s | CPU s/GiB | CPU vs aws | peak RSS MiB | note |"
echo "|---|---:|---:|---:|---:|---:|---|"
for i in "${!ORDER[@]}"; do
  python3 - "$WORK/rows/${ORDER[$i]}" "$WORK/rows/aws" "$SIZE_MIB" "${NAMES[$i]}" "${NOTES[$i]}" <<'PY'
import statistics, sys
def load(p):
    rows = [list(map(float, l.split())) for l in open(p) if l.strip()]
    return (statistics.median(r[0] for r in rows), max(r[1] for r in rows),
            statistics.median(r[2] for r in rows))
secs, rss, cpu = load(sys.argv[1])
_, _, aws_cpu = load(sys.argv[2])
gib = int(sys.argv[3]) / 1024
print(f"| {sys.argv[4]} | {secs:.2f} | {int(sys.argv[3]) / secs:.0f} | {cpu / gib:.2f} | {cpu / aws_cpu:.2f}x | {rss / 1024:.0f} | {sys.argv[5]} |")
PY
done
printf '\nWhere the time went, on the server'"'"'s clock (median of %s rounds): the parts, from the first\n' "$ROUNDS"
printf 'one'"'"'s arrival to the last one stored, then the completion (s3s-fs reads every part back and\n'
printf 'hashes it: the same work whoever uploaded)\n\n'
echo "| tool | parts sent, s | MiB/s | completion, s | sending vs aws |"
echo "|---|---:|---:|---:|---:|"
python3 - "$WORK/rows" "$SIZE_MIB" "$AWS_NAME" "$DEFAULT_ROW" <<'PY'
import statistics, sys
rows, mib, aws_name, ferry_name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def load(k):
    r = [list(map(float, l.split())) for l in open(f"{rows}/{k}.phases") if l.strip()]
    return statistics.median(x[0] for x in r), statistics.median(x[1] for x in r)
aws = load("aws")
for k, name in (("aws", aws_name), ("ferry8", ferry_name)):
    sent, done = load(k)
    print(f"| {name} | {sent:.2f} | {mib / sent:.0f} | {done:.2f} | {aws[0] / sent:.2f}x |")
# Round by round (rows and phases are appended in round order): the
# server's completion varies by a second between runs, so one median
# ratio hides how far apart single runs land.
def per_round(k, col, f):
    return [float(l.split()[col]) for l in open(f"{rows}/{k}{f}") if l.strip()]
total = [a / b for a, b in zip(per_round("aws", 0, ""), per_round("ferry8", 0, ""))]
sending = [a / b for a, b in zip(per_round("aws", 0, ".phases"), per_round("ferry8", 0, ".phases"))]
share = [c / t for c, t in zip(per_round("ferry8", 1, ".phases"), per_round("ferry8", 0, ""))]
fmt = lambda xs: ", ".join(f"{x:.2f}" for x in xs)
print(f"\nPer round, aws-cli's time over ferry's: in total {fmt(total)} (median {statistics.median(total):.2f}x);")
print(f"sending the parts {fmt(sending)} (median {statistics.median(sending):.2f}x). The server's completion")
print(f"is {min(share):.0%}-{max(share):.0%} of ferry's wall time.")
PY

# Fuzzing (proptest, stable Rust): a bounded run per target, its cases and time
# (libtest prints a test's output on its "test NAME ... " line, hence `^.*`).
FUZZ_CASES=${FUZZ_CASES:-5000}
echo "== fuzzing: $FUZZ_CASES cases per target (FUZZ_CASES=N for more)" >&2
printf '\nFuzzing (proptest), %s cases per target\n\n' "$FUZZ_CASES"
echo "| target | cases | seconds |"
echo "|--------|------:|--------:|"
FERRY_FUZZ_CASES=$FUZZ_CASES cargo test --release --locked -p ferry-engine --test fuzz -- --nocapture --test-threads 1 2>/dev/null \
  | sed -n 's/^.*fuzz \(.*\): \([0-9]*\) cases in \([0-9.]*\) s$/| \1 | \2 | \3 |/p'

bash tests/bench-scale.sh
