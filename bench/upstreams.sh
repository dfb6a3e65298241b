#!/usr/bin/env bash
# `--auto` against a host with N failing upstreams, N = 1, 2, 5, 10: the
# walk runs once per upstream, so this is what that costs.
#
#   bench/upstreams.sh            (RUNS=7 by default)
#
# For each N: a private nginx (prefix, config, logs and pid in a temp dir,
# on free loopback ports) with N locations, each proxying to its own port
# where nothing listens; one request to each logs N upstream failures
# (connect() refused); then `nginx-doctor --auto --format json --conf ...`
# runs RUNS times and the median, min and max wall times are printed, with
# the number of findings as a check that every upstream was walked.
# Nothing outside the temp dir is touched; nginx is stopped at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-7}
NGINX=${NGINX:-/usr/sbin/nginx}
cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/nginx-doctor"
command -v curl >/dev/null || { echo "needs curl" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

printf '%-10s %8s %8s %8s %9s\n' upstreams median_ms min_ms max_ms findings
for n in 1 2 5 10; do
    dir=$(mktemp -d /tmp/nginx-doctor-upstreams.XXXXXX)
    port=$(free_port)
    {
        echo "daemon on; worker_processes 1; pid $dir/nginx.pid; error_log $dir/error.log;"
        echo "events { worker_connections 64; }"
        echo "http { access_log $dir/access.log;"
        for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $dir/$t;"; done
        echo "  server { listen 127.0.0.1:$port;"
        for i in $(seq "$n"); do
            echo "    location /u$i/ { proxy_pass http://127.0.0.1:$(free_port); }"
        done
        echo "  }"
        echo "}"
    } >"$dir/nginx.conf"
    "$NGINX" -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf"
    trap '"$NGINX" -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" -s stop 2>/dev/null || true; rm -rf "$dir"' EXIT
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
    for i in $(seq "$n"); do curl -s -o /dev/null "http://127.0.0.1:$port/u$i/x"; done
    # Exit 1 (faults found) is the expected answer here, not a failure.
    findings=$({ "$BIN" --auto --format json --conf "$dir/nginx.conf" || true; } |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)["findings"]))')
    times=()
    for _ in $(seq "$RUNS"); do
        t0=$(date +%s%N)
        "$BIN" --auto --format json --conf "$dir/nginx.conf" >/dev/null || true
        times+=("$(ms "$t0")")
    done
    sorted=$(printf '%s\n' "${times[@]}" | sort -n)
    median=$(echo "$sorted" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    printf '%-10s %8s %8s %8s %9s\n' "$n" "$median" "$(echo "$sorted" | head -1)" "$(echo "$sorted" | tail -1)" "$findings"
    "$NGINX" -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" -s stop
    rm -rf "$dir"
    trap - EXIT
done
