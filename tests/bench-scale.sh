#!/usr/bin/env bash
# Benchmark at lab scale (issue 17, item 2), printed as a table of time and
# peak memory (RSS) next to the issue's targets; measured, not asserted:
#   - a folder of 100,000 files nested 3 deep: `ferry upload --dry-run`, and
#     what the window's engine does when it is dropped (scan, check, list);
#   - a journal of 100,000 files and 1,000,000 acknowledged parts: `ferry
#     jobs`, the window's start-up offer, and a resume's start;
#   - a 1 TiB sparse file: planned, and its first 10 GiB sent to the
#     simulator's S3 server (which hashes and drops the parts), RSS sampled;
#   - BaseSpace at its 10,000-part limit: plans only.
# Run by `bash tests/bench.sh` after its other tables, or alone with
# `bash tests/bench.sh scale`. SCALE_FILES=N / SCALE_SEND_GIB=N shrink it.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=target/bench
REL=${CARGO_TARGET_DIR:-target}/release
FILES=${SCALE_FILES:-100000}
SEND_GIB=${SCALE_SEND_GIB:-10}
mkdir -p "$WORK"
[ -x /usr/bin/time ] || (apt-get update -qq && apt-get install -y -qq time) >/dev/null

echo "== building ferry, ferry-sim and the scale examples (release)" >&2
cargo build --release --locked -p ferry-cli -p ferry-sim >&2
cargo build --release --locked -p ferry-engine --example scale_folder --example scale_journal >&2
EX=$REL/examples

# The folder: 1,000 folders 3 deep of FILES/1000 files each, every file a
# sparse 80 MiB (10 parts of 8 MiB): nothing to read, all to list and plan.
TREE=$WORK/tree$FILES
if [ ! -f "$TREE.ok" ]; then
  echo "== writing $FILES sparse files under $TREE" >&2
  rm -rf "$TREE"
  python3 - "$TREE" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = max(1, n // 1000)
for i in range(n):
    d = os.path.join(root, f"run{i // per // 100 % 10}", f"lane{i // per // 10 % 10}", f"plate{i // per % 10}")
    if i % per == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"sample{i:06d}_R1.fastq.gz"), "wb") as f:
        f.truncate(80 << 20)
PY
  touch "$TREE.ok"
fi

start_sim() { # name [ferry-sim args...]: starts a simulator; its JSON line in $WORK/NAME.json
  local name=$1; shift
  rm -rf "$WORK/$name-data"
  "$REL"/ferry-sim --data-dir "$WORK/$name-data" "$@" > "$WORK/$name.json" 2>"$WORK/$name.log" &
  SIMS+=("$!")
  for _ in $(seq 100); do [ -s "$WORK/$name.json" ] && break; sleep 0.1; done
}
SIMS=()
trap 'for p in "${SIMS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
field() { python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])" "$WORK/$1.json" "$2"; }
start_sim scale --url-expiry-secs 1800
BACKEND=$(field scale backend); TOKEN=$(field scale token)

ROWS=$WORK/scale-rows.tsv; : > "$ROWS"
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$ROWS"; } # what seconds cpu_s rss_kib target note

# Runs a command under GNU time: sets S (seconds), C (CPU seconds, user +
# sys: what the command costs whatever else shares the machine) and M
# (peak RSS, KiB).
measure() {
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/time.txt" "$@" > "$WORK/out.txt" 2> "$WORK/err.txt" || {
    echo "FAILED: $*" >&2; tail -n 20 "$WORK/err.txt" >&2; return 1; }
  read -r S M U Y < <(tail -n1 "$WORK/time.txt")
  C=$(python3 -c "print(f'{$U + $Y:.2f}')")
}

echo "== ferry upload --dry-run over $FILES files" >&2
measure "$REL"/ferry upload --dry-run --backend "$BACKEND" --group 1 "$TREE"
N=$(wc -l < "$WORK/out.txt")
[ "$N" -eq "$FILES" ] || { echo "the dry run planned $N files, not $FILES" >&2; exit 1; }
row "ferry upload --dry-run: $FILES files, 3 deep" "$S" "$C" "$M" "≤ 3 s, ≤ 300 MB" "$(tail -n1 "$WORK/err.txt" | cut -c1-90)"

echo "== the window's engine adds the folder (scan, check, list)" >&2
measure "$EX"/scale_folder "$TREE"
row "window's engine: folder dropped, checked, listed" "$S" "$C" "$M" "≤ 5 s" "Queue::add + the rows' first update as JSON"

echo "== a journal of $FILES files and $((FILES * 10)) acknowledged parts" >&2
JOURNAL=$WORK/scale-journal.sqlite
measure "$EX"/scale_journal build "$JOURNAL" "$TREE" "$BACKEND" $((FILES / 1000)) 1000 10
JOB=$(sed -n 's/^RESUME //p' "$WORK/out.txt")
BUILT=$(head -n1 "$WORK/out.txt")
echo "   $BUILT" >&2

measure "$REL"/ferry jobs --journal "$JOURNAL"
row "ferry jobs" "$S" "$C" "$M" "≤ 2 s" "$(($(wc -l < "$WORK/out.txt") - 1)) unfinished jobs listed"
measure "$EX"/scale_journal offer "$JOURNAL"
row "window's start-up offer (Queue::unfinished)" "$S" "$C" "$M" "≤ 2 s" "$(sed -n 's/^RESULT [^ ]* //p' "$WORK/out.txt") jobs offered"
measure "$EX"/scale_journal resume "$JOURNAL" "$JOB"
row "resume start: the journal's reads and the plan" "$S" "$C" "$M" "≤ 5 s" "job of 1,000 files; $(sed -n 's/^RESULT [^ ]* //p' "$WORK/out.txt") to send again"

# Runs a command until its JSON events say enough was sent, sampling its
# RSS every 0.5 s; then stops it. Prints "seconds peak_kib bytes
# part_bytes_max plan_parts plan_part_size rss_samples_kib...".
cat > "$WORK/until.py" <<'PY'
import json, os, signal, subprocess, sys, threading, time
want_bytes, first_part, cmd = int(sys.argv[1]), sys.argv[2] == "first", sys.argv[3:]
# Only this file's parts count (the time from its first part), if given.
only = int(os.environ["ONLY_FILE"]) if os.environ.get("ONLY_FILE") else None
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(os.environ["ERR"], "w"), text=True)
samples, sent, sizes, biggest, first_at, plan = [], 0, {}, 0, None, (0, 0)
def rss():
    try:
        for l in open(f"/proc/{p.pid}/status"):
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    except OSError:
        return None
def sample():
    while p.poll() is None:
        r = rss()
        if r: samples.append(r)
        time.sleep(0.5)
threading.Thread(target=sample, daemon=True).start()
for line in p.stdout:
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if only is not None and e.get("file") != only:
        continue
    if e.get("event") == "file_queued":
        plan = (e["parts"], e["part_size"])
    if e.get("event") == "part_started":
        if not sizes and only is not None:
            t0, samples[:] = time.monotonic(), samples[-1:]
        sizes[(e["file"], e["part"])] = e["size"]
        biggest = max(biggest, e["size"])
        if first_part and first_at is None:
            first_at = time.monotonic() - t0
            break
    elif e.get("event") == "part_done":
        sent += sizes.get((e["file"], e["part"]), 0)
        if not first_part and sent >= want_bytes:
            break
took = first_at if first_part else time.monotonic() - t0
r = rss()
if r: samples.append(r)
p.send_signal(signal.SIGTERM)
try:
    p.wait(10)
except subprocess.TimeoutExpired:
    p.kill()
print(f"{took:.2f}", max(samples or [0]), sent, biggest, *plan, *samples)
PY

echo "== ferry resume until its first part is sent" >&2
read -r S M _ _ _ _ _ < <(ERR=$WORK/err.txt FERRY_TOKEN=$TOKEN python3 "$WORK/until.py" 0 first \
  "$REL"/ferry resume "$JOB" --journal "$JOURNAL" --json)
row "ferry resume: start to the first part sent" "$S" "-" "$M" "≤ 5 s" "$(grep -m1 -o 'resuming job.*' "$WORK/err.txt" | cut -c1-90)"

echo "== 1 TiB sparse file: the first $SEND_GIB GiB sent" >&2
BIG=$WORK/sparse-1TiB.fastq.gz
[ -f "$BIG" ] || truncate -s 1T "$BIG"
# Links that live a day, as an instance for such files would give; the
# storage hashes (MD5, the ETag) and drops each part, so nothing is kept.
start_sim discard --url-expiry-secs 86400 --discard-bodies
B3=$(field discard backend); T3=$(field discard token)
# A 4 GiB file first: it tells ferry how long links live there and how
# fast the link is (the plan for 1 TiB assumes 1 MB/s until 2 s of sending
# are measured; a 1 GiB file's first part could end sooner, and the 1 TiB
# file was then planned, and refused, at 1 MB/s).
WARM=$WORK/sparse-4GiB.fastq.gz
[ -f "$WARM" ] || truncate -s 4G "$WARM"
rm -f "$WORK"/tib-journal.sqlite*
read -r S M SENT PART PPARTS PSIZE SAMPLES < <(ERR=$WORK/err.txt FERRY_TOKEN=$T3 ONLY_FILE=1 python3 "$WORK/until.py" $((SEND_GIB << 30)) bytes \
  "$REL"/ferry upload --json --backend "$B3" --group 1 --journal "$WORK/tib-journal.sqlite" "$WARM" "$BIG")
RSS=$(python3 - "$S" "$SENT" "$PART" $SAMPLES <<'PY'
import statistics, sys
secs, sent, part, samples = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), [int(x) for x in sys.argv[4:]]
rate = sent / secs
# Flat: the samples after the first few seconds, against the budget of
# 100 MB plus the parts in flight (8, the default, of the plan's part size).
steady = samples[len(samples) // 5:] or samples
eta = (1 << 40) / rate
print(f"{rate / 1e6:.0f} MB/s; RSS over {len(samples)} samples: min {min(steady) // 1024} / median {statistics.median(steady) // 1024:.0f} / max {max(steady) // 1024} MiB after warm-up; "
      f"parts of {part >> 20} MiB, budget {(100_000_000 + 8 * part) // (1 << 20)} MiB; 1 TiB would take {eta / 3600:.1f} h at this rate")
PY
)
row "1 TiB sparse file: first $SEND_GIB GiB sent (then stopped)" "$S" "-" "$M" "RSS flat, ≤ 100 MB + parts in flight" "planned as $PPARTS parts of $((PSIZE >> 20)) MiB; $RSS"

echo "== BaseSpace: plans at the 10,000-part limit" >&2
BS=$(field scale basespace); APP=$(field scale basespace_appresult)
BSF=$WORK/basespace-250GB.fastq.gz
truncate -s 250000000000 "$BSF"
measure "$REL"/ferry upload --dry-run --portal basespace --base-url "$BS" --appresult "$APP" "$BSF"
row "BaseSpace: one 250 GB file (10,000 × 25 MB)" "$S" "$C" "$M" "plan only, ≤ 10,000 parts" "$(cut -f3,4 "$WORK/out.txt" | tr '\t' ' ' | sed 's/ / parts of /') bytes"
truncate -s 250000000001 "$BSF"
if "$REL"/ferry upload --dry-run --portal basespace --base-url "$BS" --appresult "$APP" "$BSF" > /dev/null 2> "$WORK/err.txt"; then
  echo "a file one byte over BaseSpace's limit was planned" >&2; exit 1
fi
row "BaseSpace: one byte more" "-" "-" "-" "refused before sending" "$(grep -o 'do not fit.*' "$WORK/err.txt" | head -n1 | cut -c1-90)"
rm -f "$BSF"
BSD=$WORK/basespace-10000x25MB
if [ ! -f "$BSD.ok" ]; then
  rm -rf "$BSD"; mkdir -p "$BSD"
  python3 -c "
import os, sys
for i in range(10000):
    with open(os.path.join(sys.argv[1], f'lib{i:05d}_R1.fastq.gz'), 'wb') as f: f.truncate(25_000_000)
" "$BSD"
  touch "$BSD.ok"
fi
measure "$REL"/ferry upload --dry-run --portal basespace --base-url "$BS" --appresult "$APP" "$BSD"
row "BaseSpace: 10,000 files of 25 MB" "$S" "$C" "$M" "plan only" "$(tail -n1 "$WORK/err.txt" | cut -c1-90)"

printf '\nScale (issue 17, item 2), %s cores, load average %s; one run each; seconds are wall time, CPU s\n(user + sys) what it cost whatever else ran; peak RSS by GNU time (the last two ferry rows: sampled)\n\n' "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)"
echo "| what | seconds | CPU s | peak RSS MiB | target | note |"
echo "|---|---:|---:|---:|---|---|"
while IFS=$'\t' read -r what s c m target note; do
  [ "$m" = "-" ] || m=$((m / 1024))
  echo "| $what | $s | $c | $m | $target | $note |"
done < "$ROWS"
echo
echo "journal: $BUILT"
