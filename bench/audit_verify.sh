#!/usr/bin/env bash
# Whole-process benchmark of `arbiter audit verify` on a 1,000,000-entry export.
#
# Builds the release binary, generates (once) a signed export of N entries
# with a checkpoint every 1000 (`arbiter audit sample-log`, the same appender,
# Merkle tree and signing code the server uses) into bench/out/, checks that it
# verifies, then times the whole process: median and min wall time over RUNS
# runs (hyperfine when installed, else a `date +%s.%N` loop) and peak RSS
# (`/usr/bin/time -v`). Target from issue #5: <= 3 s for 1,000,000 entries
# on the 2-core machine.
#
# Environment:
#   RUNS=N              timed runs (default 5)
#   ENTRIES=N           entries in the export (default 1000000)
#   ARBITER_BIN=PATH    measure this binary instead of building one
#   CARGO_TARGET_DIR    where cargo builds (the binary is looked up there)
#   BENCH_STRICT=1      exit 1 when the target is missed
#
# Usage: bench/audit_verify.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
out="$here/out"
runs="${RUNS:-5}"
entries="${ENTRIES:-1000000}"
target=3.0
mkdir -p "$out"

if [[ -z "${ARBITER_BIN:-}" ]]; then
    echo "building: cargo build --release -p arbiter-cli" >&2
    (cd "$root" && cargo build --release -p arbiter-cli --quiet)
    ARBITER_BIN="${CARGO_TARGET_DIR:-$root/target}/release/arbiter"
fi
[[ -x "$ARBITER_BIN" ]] || { echo "error: no binary at $ARBITER_BIN" >&2; exit 1; }

log="$out/audit-$entries.jsonl"
key="$out/audit-$entries.key.json"
if [[ ! -s "$log" || ! -s "$key" ]]; then
    echo "generating $log ($entries entries)" >&2
    "$ARBITER_BIN" audit sample-log "$log.tmp" --entries "$entries" --checkpoint-every 1000 --key-out "$key"
    mv "$log.tmp" "$log"
fi
cmd=("$ARBITER_BIN" audit verify "$log" --key "$key")

# It must verify (exit 0) before it is worth timing.
if ! "${cmd[@]}" >"$out/audit-verify.txt" 2>&1; then
    echo "error: ${cmd[*]} failed:" >&2
    cat "$out/audit-verify.txt" >&2
    exit 1
fi

if command -v hyperfine >/dev/null; then
    json="$out/hyperfine-audit-verify.json"
    hyperfine -N --style none --warmup 1 --runs "$runs" --export-json "$json" "${cmd[*]}" >/dev/null 2>&1
    read -r median min < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["median"], r["min"])' "$json")
else
    echo "note: hyperfine not installed (apt-get install -y hyperfine); timing with a date loop" >&2
    "${cmd[@]}" >/dev/null 2>&1 # warm-up
    times=()
    for ((i = 0; i < runs; i++)); do
        t0=$(date +%s.%N)
        "${cmd[@]}" >/dev/null 2>&1
        t1=$(date +%s.%N)
        times+=("$(python3 -c "print($t1 - $t0)")")
    done
    read -r median min < <(printf '%s\n' "${times[@]}" | python3 -c 'import statistics,sys; t=[float(x) for x in sys.stdin]; print(statistics.median(t), min(t))')
fi

rss="-"
if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -v -o "$out/time-audit.txt" "${cmd[@]}" >/dev/null 2>&1
    kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$out/time-audit.txt")
    rss=$(python3 -c "print(round($kb / 1024, 1))")
fi

mb=$(python3 -c "import os; print(round(os.path.getsize('$log') / 1e6, 1))")
result=$(python3 -c "import sys; print('PASS' if $median <= $target else 'MISS')")
echo
echo "arbiter audit verify (1 file, $entries entries, ${mb} MB); $runs runs; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %8s %10s %10s %10s  %-14s %s\n' entries MB median_s min_s rss_MB target result
printf '%-10s %8s %10.3f %10.3f %10s  %-14s %s\n' "$entries" "$mb" "$median" "$min" "$rss" "wall <= ${target}s" "$result"

if [[ "${BENCH_STRICT:-0}" == 1 && $result != PASS ]]; then
    exit 1
fi
