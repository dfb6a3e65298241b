#!/usr/bin/env bash
# What keeping `nginx -t` from writing costs, and prints the figures.
#
#   sudo bench/isolation.sh [WORKDIR]     (default: a fresh mktemp dir; RUNS=21)
#
# For a stopped nginx whose configuration keeps everything in WORKDIR, the
# median over $RUNS runs of:
#   1. `nginx -t` run directly (after one run created what it creates);
#   2. the doctor's `nginx-test` check, isolated: its duration in the JSON
#      report, spawn to exit, the namespace and its mounts included;
#   3. the same with $ENTRIES rotated logs beside the error log (one bind
#      mount each in the cover of that directory).
# Needs root (mount namespaces) and nginx; changes nothing outside WORKDIR,
# which is deleted at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-$(mktemp -d /tmp/nginx-doctor-isolation.XXXXXX)}
RUNS=${RUNS:-21}
ENTRIES=${ENTRIES:-500}
NGINX=${NGINX:-/usr/sbin/nginx}
[ "$(id -u)" = 0 ] || { echo "run as root: the isolation needs mount namespaces" >&2; exit 2; }
trap 'rm -rf "$WORK"' EXIT

cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
DOCTOR=${CARGO_TARGET_DIR:-$ROOT/target}/release/nginx-doctor

mkdir -p "$WORK/tmp" "$WORK/logs"
cat >"$WORK/nginx.conf" <<EOF
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log;
events {}
http {
    access_log $WORK/logs/access.log;
    client_body_temp_path $WORK/tmp/body;
    proxy_temp_path $WORK/tmp/proxy;
    fastcgi_temp_path $WORK/tmp/fastcgi;
    uwsgi_temp_path $WORK/tmp/uwsgi;
    scgi_temp_path $WORK/tmp/scgi;
    server { listen 127.0.0.1:1; location / { return 200; } }
}
EOF

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

plain() {
    "$NGINX" -t -q -p "$WORK/" -c "$WORK/nginx.conf"
    for _ in $(seq "$RUNS"); do
        start=$(date +%s%N)
        "$NGINX" -t -q -p "$WORK/" -c "$WORK/nginx.conf"
        echo $((($(date +%s%N) - start) / 1000))
    done | median
}

isolated() {
    for _ in $(seq "$RUNS"); do
        "$DOCTOR" --auto --format json --conf "$WORK/nginx.conf" |
            jq '.checks[] | select(.probe == "nginx-test") | .duration_ms'
    done | median
}

command -v jq >/dev/null || apt-get install -y jq >/dev/null
echo "nginx -t, direct:                 $(plain) µs (median of $RUNS)"
rm -rf "$WORK/nginx.pid" "$WORK/logs"/* "$WORK/tmp"/*
echo "nginx-test check, isolated:       $("$DOCTOR" --version >/dev/null; isolated) ms"
for i in $(seq "$ENTRIES"); do : >"$WORK/logs/error.log.$i"; done
echo "isolated, $ENTRIES more log files: $(isolated) ms"
if [ -z "$(ls "$WORK/tmp")" ] && [ ! -e "$WORK/nginx.pid" ]; then
    echo "the isolated runs wrote nothing (no pid file, no temp directory)"
else
    echo "the isolated runs WROTE to $WORK" >&2
    exit 1
fi
