#!/usr/bin/env bash
# Benchmarks nginx-doctor's log reading and prints the figures.
#
#   bench/run.sh [WORKDIR]      (default: /tmp/nginx-doctor-bench; RUNS=5)
#   SKIP_BIG=1 bench/run.sh     only part 1 (no 10 GiB log)
#
# 1. `scan` over a generated 1 GiB error log, the whole file (its window
#    starts before the file's first line, as the report says; the script
#    checks it), against ripgrep on the same file:
#      rg -c -F -f bench/literals.rg    counts the lines holding any of five
#                                       literal strings (the yardstick);
#      rg -c -f bench/signatures.rg     counts the lines matching any of the
#                                       signature regexes: the same lines scan
#                                       counts (the script checks the totals).
#    `scan` does more than either: it joins continuation lines, classifies
#    each failure, parses its time and upstream, and tallies them by
#    signature, upstream and time. It uses every CPU; rg uses one thread for
#    one file (and memory-maps it, hence its RSS). All three alternate, after
#    one warm-up run each (page cache warm for all); medians of $RUNS runs,
#    wall and CPU (user + system), peak RSS, and the load average around them.
# 2. `--auto` on a 10 GiB log vs a 1 MiB log with the same last hour: the
#    error-log check's own duration (from the JSON report) and the whole
#    run's wall time; plus `scan --since 15m` on the 10 GiB log.
#
# Needs ~12 GiB free in WORKDIR; every file it writes is deleted at the end.
# Installs ripgrep, time and jq with apt-get when they are missing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/tmp/nginx-doctor-bench}
RUNS=${RUNS:-5}
GIB=1073741824
# The generator writes UTC; nginx-doctor reads the host's local time.
export TZ=UTC

need() { command -v "$1" >/dev/null || apt-get install -y "$2" >/dev/null; }
need rg ripgrep
need jq jq
[ -x /usr/bin/time ] || apt-get install -y time >/dev/null

mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
df -h "$WORK" | tail -1

cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
DOCTOR=$TARGET/release/nginx-doctor
rustc -O --edition 2021 "$ROOT/bench/gen_log.rs" -o "$WORK/gen_log"

NOW=$(date +%s)
LOG=$WORK/error.log
# 1 GiB over the week before the last hour; the small log is that last hour.
"$WORK/gen_log" "$LOG" "$GIB" $((NOW - 3600)) $((7 * 86400))
"$WORK/gen_log" "$WORK/small.log" $((1 << 20)) "$NOW" 3600

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
# timed OUT_PREFIX CMD...: appends the wall seconds to OUT_PREFIX.s, the CPU
# seconds (user + system) to OUT_PREFIX.cpu and the peak RSS (KiB) to OUT_PREFIX.rss
timed() {
    local out=$1; shift
    /usr/bin/time -f '%e %M %U %S' -o "$WORK/time" "$@" >"$WORK/stdout" 2>/dev/null || true
    # GNU time writes "Command exited with non-zero status N" first when it is.
    read -r secs rss user sys < <(tail -1 "$WORK/time")
    echo "$secs" >>"$out.s"
    echo "$rss" >>"$out.rss"
    awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }' >>"$out.cpu"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
speed() { awk -v s="$1" -v z="$2" 'BEGIN { printf "%.0f MiB/s", (s > 0) ? z / 2^20 / s : 0 }'; }
# row NAME PREFIX SIZE: "wall  speed  CPU  peak RSS" of the runs in PREFIX.*
row() {
    printf '  %-44s %5s s  %10s  CPU %5s s  peak RSS %s\n' "$1" "$(median <"$2.s")" \
        "$(speed "$(median <"$2.s")" "$3")" "$(median <"$2.cpu")" "$(mib "$(sort -n "$2.rss" | tail -1)")"
}

# The same window on every side: the whole file. scan's starts a minute
# before the file's first line (local time = UTC here).
FIRST=$(head -c 19 "$LOG")
LAST=$(tail -c 4096 "$LOG" | grep -E '^[0-9]{4}/' | tail -1 | cut -c1-19)
SINCE=$(date -u -d "$(echo "$FIRST" | tr / -) 1 minute ago" '+%Y-%m-%d %H:%M')
SCAN=("$DOCTOR" scan "$LOG" --since "$SINCE" --format json)
RG_LIT=(rg -c -F -f "$ROOT/bench/literals.rg" "$LOG")
RG_SIG=(rg -c -f "$ROOT/bench/signatures.rg" "$LOG")
"${SCAN[@]}" >"$WORK/scan.json" || true
"${RG_LIT[@]}" >/dev/null || true
"${RG_SIG[@]}" >/dev/null || true
# The window the report states starts before the file's first line.
since=$(jq -r .since "$WORK/scan.json")
[ "$(date -u -d "$since" +%s)" -lt "$(date -u -d "$(echo "$FIRST" | tr / -)" +%s)" ] ||
    { echo "scan's window ($since) does not cover the first line ($FIRST)" >&2; exit 1; }
load_before=$(load)
for _ in $(seq "$RUNS"); do
    timed "$WORK/scan" "${SCAN[@]}"
    timed "$WORK/rg_lit" "${RG_LIT[@]}"
    timed "$WORK/rg_sig" "${RG_SIG[@]}"
done
load_after=$(load)
scan_total=$(jq .total "$WORK/scan.json")
lit_total=$("${RG_LIT[@]}" || true)
sig_total=$("${RG_SIG[@]}" || true)
[ "$scan_total" = "$sig_total" ] ||
    echo "warning: scan counted $scan_total failures, rg -f bench/signatures.rg $sig_total lines" >&2
size=$(stat -c %s "$LOG")

cat <<REPORT

nginx-doctor $("$DOCTOR" --version | awk '{print $2}'), $(nproc) CPUs, $(rg --version | sed -n 1p), medians of $RUNS alternating runs, warm page cache
load average (1, 5, 15 min) before: $load_before, after: $load_after

The whole $(awk -v s="$size" 'BEGIN { printf "%.2f GiB", s / 2^30 }') error log, $FIRST to $LAST ($(wc -l <"$LOG") lines, ~8% upstream failures):
$(row "nginx-doctor scan --since \"$SINCE\"" "$WORK/scan" "$size")   failures: $scan_total
$(row "rg -c -F -f bench/literals.rg" "$WORK/rg_lit" "$size")   lines: $lit_total
$(row "rg -c -f bench/signatures.rg" "$WORK/rg_sig" "$size")   lines: $sig_total
  scan / rg -F literals:    wall $(ratio "$(median <"$WORK/scan.s")" "$(median <"$WORK/rg_lit.s")"), CPU $(ratio "$(median <"$WORK/scan.cpu")" "$(median <"$WORK/rg_lit.cpu")")
  scan / rg signatures:     wall $(ratio "$(median <"$WORK/scan.s")" "$(median <"$WORK/rg_sig.s")"), CPU $(ratio "$(median <"$WORK/scan.cpu")" "$(median <"$WORK/rg_sig.cpu")")
REPORT

[ "${SKIP_BIG:-0}" = 1 ] && exit 0

# 10 GiB: the 1 GiB log ten times (timestamps repeat; only its end is read),
# then the same last hour as the small log.
BIG=$WORK/big.log
for _ in $(seq 10); do cat "$LOG"; done >"$BIG"
cat "$WORK/small.log" >>"$BIG"
CONF=$WORK/nginx.conf
printf 'events {}\nhttp { server { listen 127.0.0.1:18080; location / { proxy_pass http://127.0.3.11:8080; } } }\n' >"$CONF"
AUTO=("$DOCTOR" --auto --format json --conf "$CONF" --error-log)
step_ms() { jq '[.checks[] | select(.probe == "error-log") | .duration_ms] | first' "$WORK/stdout"; }
"${AUTO[@]}" "$WORK/small.log" >/dev/null || true
"${AUTO[@]}" "$BIG" >/dev/null || true
load_before=$(load)
for _ in $(seq "$RUNS"); do
    timed "$WORK/auto_small" "${AUTO[@]}" "$WORK/small.log"
    step_ms >>"$WORK/step_small.s"
    timed "$WORK/auto_big" "${AUTO[@]}" "$BIG"
    step_ms >>"$WORK/step_big.s"
done
for _ in $(seq "$RUNS"); do
    timed "$WORK/recent" "$DOCTOR" scan "$BIG" --since 15m --format json
done
load_after=$(load)

step_small=$(median <"$WORK/step_small.s")
step_big=$(median <"$WORK/step_big.s")
cat <<REPORT

load average before: $load_before, after: $load_after
--auto, error-log check (report's duration_ms) and whole run:
  1 MiB log:   step ${step_small} ms   run $(median <"$WORK/auto_small.s") s   peak RSS $(mib "$(sort -n "$WORK/auto_small.rss" | tail -1)")
  10 GiB log:  step ${step_big} ms   run $(median <"$WORK/auto_big.s") s   peak RSS $(mib "$(sort -n "$WORK/auto_big.rss" | tail -1)")
  ratio 10 GiB / 1 MiB: step $(ratio "$step_big" "$step_small"), run $(ratio "$(median <"$WORK/auto_big.s")" "$(median <"$WORK/auto_small.s")")

scan --since 15m on the 10 GiB log: $(median <"$WORK/recent.s") s, peak RSS $(mib "$(sort -n "$WORK/recent.rss" | tail -1)")
REPORT
