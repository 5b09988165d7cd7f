#!/bin/bash
# System calls, context switches and CPU time per request of a granian-compatible server's
# worker under load, counted by perf's tracepoints and software events (no PMU needed). Load as
# in ../shared/bench: wrk -t1 -c64 for HTTP/1.1, h2load -t1 -c16 -m16 for HTTP/2; server on
# core 0, load on core 1. The counts say how a request is served (one write per response, or
# one per several), which a noisy machine's req/s cannot.
#
#   tests/bench/syscalls.sh VENV INTERFACE HTTP ROUTE [SECONDS]
#   tests/bench/syscalls.sh .venv-release rsgi 2 b
#
# VENV has bin/granian; INTERFACE is asgi, rsgi or wsgi; HTTP is 1 or 2; ROUTE is b, echo (1 KiB
# POST bodies) or another route of ../shared/bench/apps. Needs root (or perf_event_paranoid
# -1), perf (Debian: linux-perf), wrk and h2load (nghttp2-client).
set -euo pipefail
VENV=$1 IFACE=$2 HTTP=$3 ROUTE=$4 SECONDS_=${5:-6}
BENCH=$(cd "$(dirname "$0")/../../../shared/bench" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true' EXIT
head -c 1024 /dev/zero | tr '\0' 'x' >"$WORK/body"
port=$((20000 + RANDOM % 20000))

load() { # SECONDS -> requests completed
    local url="http://127.0.0.1:$port/$ROUTE"
    if [ "$HTTP" = 1 ]; then
        local flags=(-t1 -c64 "-d$1s")
        if [ "$ROUTE" = echo ]; then flags+=(-s "$BENCH/lua/post_1k.lua"); fi
        taskset -c 1 wrk "${flags[@]}" "$url" | awk '/requests in/ {print $1}'
    else
        local flags=(-t1 -c16 -m16 -D "$1")
        if [ "$ROUTE" = echo ]; then flags+=(-d "$WORK/body"); fi
        taskset -c 1 h2load "${flags[@]}" "$url" | awk '/^requests:/ {print $4}'
    fi
}

(cd "$BENCH/apps" && exec taskset -c 0 "$VENV/bin/granian" --interface "$IFACE" --http "$HTTP" \
    --workers 1 --runtime-threads 1 --log-level warning --port "$port" "${IFACE}_app:app") >"$WORK/log" 2>&1 &
server=$!
probe=()
if [ "$HTTP" = 2 ]; then probe=(--http2-prior-knowledge); fi
for _ in $(seq 100); do
    curl -s -o /dev/null "${probe[@]}" "http://127.0.0.1:$port/b" && break
    sleep 0.2
done
worker=$(pgrep -P "$server" | head -1)
load 2 >/dev/null
perf stat -e 'syscalls:sys_enter_*' -e context-switches -e task-clock -p "$worker" -o "$WORK/stat" \
    -- sleep "$SECONDS_" &
counting=$!
requests=$(load "$SECONDS_")
wait "$counting"
echo "$IFACE h$HTTP $ROUTE: $requests requests; per request:"
awk -v n="$requests" '$1 ~ /^[0-9.,]+$/ && $2 != "seconds" {
    gsub(",", "", $1); label = ($2 == "msec") ? "ms of CPU (task-clock)" : $2
    if ($1 > 0) printf "%10.4f %s\n", $1 / n, label }' "$WORK/stat" | sort -rn | head -12
