#!/usr/bin/env bash
# Whole-process benchmark of `arbiter evaluate PLAN --format json`.
#
# Builds the release binary, generates realistic 1k- and 10k-change plans
# (bench/gen_plan.py, deterministic) into bench/out/, then measures the whole
# process: median and min wall time over RUNS runs (hyperfine when installed,
# else a `date +%s.%N` loop) and peak RSS (`/usr/bin/time -v`, worst of 3
# runs). Prints a table against the targets of the issue:
#
#   10k changes: <= 0.3 s wall (median), <= 250 MB peak RSS
#    1k changes: <= 50 ms wall (median)
#
# An empty plan and a one-change plan are measured too: the fixed cost, and
# the typical agent change (only the rules its resource types need are compiled).
#
# Environment:
#   RUNS=N              timed runs per plan (default 10)
#   ARBITER_BIN=PATH    measure this binary instead of building one
#   CARGO_TARGET_DIR    where cargo builds (the binary is looked up there)
#   BENCH_STRICT=1      exit 1 when a target is missed
#
# Usage: bench/evaluate.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
out="$here/out"
runs="${RUNS:-10}"
mkdir -p "$out"

if [[ -z "${ARBITER_BIN:-}" ]]; then
    echo "building: cargo build --release -p arbiter-cli" >&2
    (cd "$root" && cargo build --release -p arbiter-cli --quiet)
    ARBITER_BIN="${CARGO_TARGET_DIR:-$root/target}/release/arbiter"
fi
[[ -x "$ARBITER_BIN" ]] || { echo "error: no binary at $ARBITER_BIN" >&2; exit 1; }

# Plans are regenerated only when missing or older than the generator.
gen() { # N FILE
    if [[ ! -s "$2" || "$2" -ot "$here/gen_plan.py" ]]; then
        echo "generating $2 ($1 changes)" >&2
        python3 "$here/gen_plan.py" "$1" "$2.tmp"
        mv "$2.tmp" "$2"
    fi
}
gen 0 "$out/plan-0.json"
gen 1 "$out/plan-1.json"
gen 1000 "$out/plan-1k.json"
gen 10000 "$out/plan-10k.json"

# Median and min wall time in seconds of RUNS runs, and the mean CPU time
# (user + system, all threads; "-" without hyperfine): "MEDIAN MIN CPU".
# CPU time moves much less than wall time when other processes compete.
wall() { # PLAN
    local json="$out/hyperfine-$(basename "$1" .json).json"
    if command -v hyperfine >/dev/null; then
        # -N: no intermediate shell; -i: exit codes 2/3 (review/reject) are results, not failures.
        hyperfine -N -i --style none --warmup 2 --runs "$runs" --export-json "$json" \
            "$ARBITER_BIN evaluate $1 --format json" >/dev/null 2>&1
        python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["median"], r["min"], round(r["user"] + r["system"], 3))' "$json"
    else
        "$ARBITER_BIN" evaluate "$1" --format json >/dev/null 2>&1 || true # warm-up
        local times=() t0 t1
        for ((i = 0; i < runs; i++)); do
            t0=$(date +%s.%N)
            "$ARBITER_BIN" evaluate "$1" --format json >/dev/null 2>&1 || true
            t1=$(date +%s.%N)
            times+=("$(python3 -c "print($t1 - $t0)")")
        done
        printf '%s\n' "${times[@]}" | python3 -c 'import statistics,sys; t=[float(x) for x in sys.stdin]; print(statistics.median(t), min(t), "-")'
    fi
}

# Peak resident set size in MB, worst of 3 runs.
peak_rss() { # PLAN
    local worst=0 kb
    for _ in 1 2 3; do
        /usr/bin/time -v -o "$out/time.txt" "$ARBITER_BIN" evaluate "$1" --format json >/dev/null 2>&1 || true
        kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$out/time.txt")
        if ((kb > worst)); then worst=$kb; fi
    done
    python3 -c "print(round($worst / 1024, 1))"
}

check_runs() { # PLAN: the binary must judge it (exit 0/2/3), not fail.
    local code=0
    "$ARBITER_BIN" evaluate "$1" --format json >/dev/null 2>"$out/stderr.txt" || code=$?
    if [[ $code -ne 0 && $code -ne 2 && $code -ne 3 ]]; then
        echo "error: arbiter evaluate $1 exited $code: $(head -1 "$out/stderr.txt")" >&2
        exit 1
    fi
}

[[ -x /usr/bin/time ]] || { echo "error: /usr/bin/time missing (apt-get install -y time)" >&2; exit 1; }
command -v hyperfine >/dev/null || echo "note: hyperfine not installed (apt-get install -y hyperfine); timing with a date loop" >&2

missed=0
verdict() { # VALUE LIMIT -> PASS or MISS
    if python3 -c "import sys; sys.exit(0 if $1 <= $2 else 1)"; then echo PASS; else echo MISS; fi
}

echo
echo "arbiter evaluate PLAN --format json; $runs runs; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %8s %8s %10s %10s %8s %10s  %-16s %s\n' plan changes MB median_s min_s cpu_s rss_MB target result
# The empty plan shows the fixed cost (start-up, compiling the rule pack).
for spec in "0 0 - -" "1 1 - -" "1k 1000 0.050 -" "10k 10000 0.300 250"; do
    read -r name n wall_target rss_target <<<"$spec"
    plan="$out/plan-$name.json"
    check_runs "$plan"
    read -r median min cpu < <(wall "$plan")
    rss=$(peak_rss "$plan")
    mb=$(python3 -c "import os; print(round(os.path.getsize('$plan') / 1e6, 1))")
    if [[ "$wall_target" == "-" ]]; then
        label="(fixed cost)"
        [[ "$n" == 0 ]] || label="(one change)"
        printf '%-6s %8s %8s %10.3f %10.3f %8s %10s  %-16s %s\n' "$name" "$n" "$mb" "$median" "$min" "$cpu" "$rss" "$label" ""
        continue
    fi
    result=$(verdict "$median" "$wall_target")
    [[ $result == PASS ]] || missed=1
    printf '%-6s %8s %8s %10.3f %10.3f %8s %10s  %-16s %s\n' "$name" "$n" "$mb" "$median" "$min" "$cpu" "$rss" \
        "wall <= ${wall_target}s" "$result"
    if [[ "$rss_target" != "-" ]]; then
        result=$(verdict "$rss" "$rss_target")
        [[ $result == PASS ]] || missed=1
        printf '%-6s %8s %8s %10s %10s %8s %10s  %-16s %s\n' "$name" "" "" "" "" "" "$rss" \
            "RSS <= ${rss_target}MB" "$result"
    fi
done

if [[ "${BENCH_STRICT:-0}" == 1 && $missed == 1 ]]; then
    exit 1
fi
