#!/bin/bash
# Instructions per request of a granian-compatible server, counted by valgrind's callgrind:
# every instruction of the server's processes (all threads, Python and Rust). The count per
# request is the difference between a run of N requests and one of 1,000, each after 500
# warm-up requests, so start-up and shutdown cancel out. Unlike req/s, the count does not
# depend on what else the machine runs; it leaves out system calls and cache misses.
#
#   tests/bench/instructions.sh VENV INTERFACE HTTP ROUTE [N]
#   tests/bench/instructions.sh .venv-release asgi 2 echo 5000
#
# VENV has bin/python with the server installed; INTERFACE is asgi, rsgi or wsgi; HTTP is 1
# or 2; ROUTE is a route of ../shared/bench/apps (b, echo, 10k, ...); echo is sent 1 KiB
# POST bodies. Needs valgrind and h2load (Debian: valgrind, nghttp2-client).
set -euo pipefail
VENV=$1 IFACE=$2 HTTP=$3 ROUTE=$4 N=${5:-3000}
APPS=${BENCH_APPS:-$(cd "$(dirname "$0")/../../../shared/bench/apps" && pwd)}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
head -c 1024 /dev/zero | tr '\0' 'x' >"$WORK/body"

load() { # URL COUNT
    local flags=(-n "$2")
    if [ "$HTTP" = 1 ]; then flags+=(--h1 -c 16); else flags+=(-c 4 -m 4); fi
    if [ "$ROUTE" = echo ]; then flags+=(-d "$WORK/body"); fi
    h2load "${flags[@]}" "$1" | awk '/^requests:/ {print $8}'
}

# Total instructions of a server that answered COUNT requests after the warm-up.
count() { # COUNT
    local port=$((20000 + RANDOM % 20000)) out="$WORK/run.$1"
    mkdir -p "$out"
    (cd "$APPS" && exec valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" \
        "$VENV/bin/python" -m granian --interface "$IFACE" --http "$HTTP" --workers 1 \
        --runtime-threads 1 --log-level warning --port "$port" "${IFACE}_app:app") >"$out/log" 2>&1 &
    local server=$!
    local probe=()
    if [ "$HTTP" = 2 ]; then probe=(--http2-prior-knowledge); fi
    for _ in $(seq 300); do
        curl -s -o /dev/null "${probe[@]}" "http://127.0.0.1:$port/b" && break
        sleep 0.5
    done
    load "http://127.0.0.1:$port/$ROUTE" 500 >/dev/null
    local done
    done=$(load "http://127.0.0.1:$port/$ROUTE" "$1")
    if [ "$done" != "$1" ]; then
        echo "only $done of $1 requests succeeded" >&2
        exit 1
    fi
    kill -INT "$server"
    wait "$server" || true
    cat "$out"/cg.* | awk '/^summary:/ {sum += $2} END {print sum}'
}

small=$(count 1000)
large=$(count "$N")
echo "$IFACE h$HTTP $ROUTE: $(((large - small) / (N - 1000))) instructions per request"
