#!/usr/bin/env bash
# Wall time of `nginx-doctor --auto` on every real-fault scenario, as a table,
# then their distribution (min, median, p90, max, how many over 0.5 s).
#
#   bench/scenarios.sh            (TIMING_RUNS is fixed at 5 by the tests)
#
# 1. builds the release binary and runs the lab scenarios (tests/scenarios/,
#    tests/messy_host.rs, tests/nginx_down.rs,
#    tests/protocol_mismatch.rs) in release with DOCTOR_TIMING=1: after its own
#    diagnosis each scenario runs `--auto --format json` five more times on
#    the live fault and prints `timing: <test> median_ms=<n>`;
# 2. as root, runs the network-namespace scenarios (tests/fixtures/netns/*.sh)
#    under `unshare --net --mount` with a DOCTOR wrapper that times five more
#    runs the same way.
# Every figure includes starting the process. Nothing is asserted: a failing
# scenario is listed as failed. Figures with a probe waiting on a timeout
# (a silent backend) are expected to exceed the 0.5 s goal.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=5
WORK=$(mktemp -d /tmp/nginx-doctor-scenarios.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

cargo build --release --locked --quiet
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/nginx-doctor"

echo "== lab scenarios (cargo test --release, DOCTOR_TIMING=1)" >&2
DOCTOR_TIMING=1 cargo test --release --locked --test integration -- \
    --nocapture --test-threads=1 scenarios:: messy_host:: nginx_down:: \
    protocol_mismatch:: >"$WORK/test.out" 2>&1 || true
grep -oE 'timing: [^ ]+ median_ms=[0-9]+' "$WORK/test.out" |
    sed -E 's/^timing: ([^ ]+) median_ms=([0-9]+)$/\1 \2/' >"$WORK/table"
grep -E '^test .* FAILED$' "$WORK/test.out" | sed -E 's/^test (.*) \.\.\. FAILED$/\1 FAILED/' >>"$WORK/table" || true

# The netns scripts read $DOCTOR: this wrapper answers for the real binary,
# then times $RUNS more runs on the same fault.
cat >"$WORK/doctor" <<'WRAP'
#!/usr/bin/env bash
"$REAL_DOCTOR" "$@"
status=$?
for _ in $(seq "$RUNS"); do
    t0=$(date +%s%N)
    "$REAL_DOCTOR" "$@" >/dev/null 2>&1 || true
    echo $(( ($(date +%s%N) - t0) / 1000000 )) >>"$TIMES"
done
exit $status
WRAP
chmod +x "$WORK/doctor"

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

if [ "$(id -u)" = 0 ] && unshare --net --mount true 2>/dev/null; then
    echo "== network-namespace scenarios (tests/fixtures/netns)" >&2
    for script in tests/fixtures/netns/*.sh; do
        name=$(basename "$script" .sh)
        [ "$name" = common ] && continue
        dir="$WORK/$name"
        mkdir -p "$dir"
        if DIR="$dir" DOCTOR="$WORK/doctor" REAL_DOCTOR="$BIN" RUNS=$RUNS TIMES="$dir/times" \
            NO_COLOR=1 unshare --net --mount bash "$script" </dev/null >/dev/null 2>&1 &&
            [ -s "$dir/times" ]; then
            echo "netns::$name $(median "$dir/times")" >>"$WORK/table"
        else
            echo "netns::$name FAILED" >>"$WORK/table"
        fi
    done
else
    echo "(network-namespace scenarios skipped: they need root and unshare)" >&2
fi

{
    echo "scenario median_ms"
    sort "$WORK/table"
} | column -t

# The distribution of the scenarios' medians.
grep -vE 'FAILED$' "$WORK/table" | awk '{ print $2 }' | sort -n >"$WORK/ms"
awk '{ v[NR] = $1; if ($1 > 500) over++ }
    END {
        if (!NR) exit
        p90 = v[int(NR * 0.9 + 0.999)]
        printf "\n%d scenarios: min %d ms, median %d ms, p90 %d ms, max %d ms; over 500 ms: %d\n",
            NR, v[1], v[int((NR + 1) / 2)], p90, v[NR], over + 0
    }' "$WORK/ms"
