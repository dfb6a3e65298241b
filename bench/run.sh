#!/usr/bin/env bash
# Benchmarks nginx-doctor's log reading and prints the figures.
#
#   bench/run.sh [WORKDIR]      (default: /tmp/nginx-doctor-bench; RUNS=5)
#
# 1. `scan` over a generated 1 GiB error log against `rg -c` with the same
#    signatures (bench/signatures.rg), alternating, medians of $RUNS runs,
#    after one warm-up run each (page cache warm for both);
# 2. peak RSS of both (/usr/bin/time -v's "Maximum resident set size");
# 3. `--auto` on a 10 GiB log vs a 1 MiB log with the same last hour: the
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

SCAN=("$DOCTOR" scan "$LOG" --since "2000-01-01 00:00" --format json)
RG=(rg -c -f "$ROOT/bench/signatures.rg" "$LOG")
"${SCAN[@]}" >/dev/null || true
"${RG[@]}" >/dev/null || true
for _ in $(seq "$RUNS"); do
    timed "$WORK/scan" "${SCAN[@]}"
    timed "$WORK/rg" "${RG[@]}"
done
scan_total=$("${SCAN[@]}" | jq .total || true)
rg_total=$("${RG[@]}" || true)
scan_s=$(median <"$WORK/scan.s")
rg_s=$(median <"$WORK/rg.s")
size=$(stat -c %s "$LOG")

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
for _ in $(seq "$RUNS"); do
    timed "$WORK/auto_small" "${AUTO[@]}" "$WORK/small.log"
    step_ms >>"$WORK/step_small.s"
    timed "$WORK/auto_big" "${AUTO[@]}" "$BIG"
    step_ms >>"$WORK/step_big.s"
done
for _ in $(seq "$RUNS"); do
    timed "$WORK/recent" "$DOCTOR" scan "$BIG" --since 15m --format json
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
step_small=$(median <"$WORK/step_small.s")
step_big=$(median <"$WORK/step_big.s")
cat <<REPORT

nginx-doctor $("$DOCTOR" --version | awk '{print $2}'), $(nproc) CPUs, $(rg --version | sed -n 1p), medians of $RUNS alternating runs, warm page cache

scan vs ripgrep on a $(awk -v s="$size" 'BEGIN { printf "%.2f GiB", s / 2^30 }') error log ($(wc -l <"$LOG") lines, ~8% upstream failures):
  nginx-doctor scan --since "2000-01-01 00:00"   ${scan_s} s   $(awk -v s="$scan_s" -v z="$size" 'BEGIN { printf "%.0f MiB/s", z / 2^20 / s }')   CPU $(median <"$WORK/scan.cpu") s   peak RSS $(mib "$(sort -n "$WORK/scan.rss" | tail -1)")   failures: $scan_total
  rg -c -f bench/signatures.rg                    ${rg_s} s   $(awk -v s="$rg_s" -v z="$size" 'BEGIN { printf "%.0f MiB/s", z / 2^20 / s }')   CPU $(median <"$WORK/rg.cpu") s   peak RSS $(mib "$(sort -n "$WORK/rg.rss" | tail -1)")   matching lines: $rg_total
  ratio scan / rg: wall $(ratio "$scan_s" "$rg_s"), CPU $(ratio "$(median <"$WORK/scan.cpu")" "$(median <"$WORK/rg.cpu")")

--auto, error-log check (report's duration_ms) and whole run:
  1 MiB log:   step ${step_small} ms   run $(median <"$WORK/auto_small.s") s   peak RSS $(mib "$(sort -n "$WORK/auto_small.rss" | tail -1)")
  10 GiB log:  step ${step_big} ms   run $(median <"$WORK/auto_big.s") s   peak RSS $(mib "$(sort -n "$WORK/auto_big.rss" | tail -1)")
  ratio 10 GiB / 1 MiB: step $(ratio "$step_big" "$step_small"), run $(ratio "$(median <"$WORK/auto_big.s")" "$(median <"$WORK/auto_small.s")")

scan --since 15m on the 10 GiB log: $(median <"$WORK/recent.s") s, peak RSS $(mib "$(sort -n "$WORK/recent.rss" | tail -1)")
REPORT
