"""Throughput and memory against the worker count: each server given, with `--workers` 1 and 2,
serving the test applications' `/` route, loaded by wrk over HTTP/1.1.

    python tests/bench/scaling.py --server ours=VENV --server granian=VENV [--interfaces rsgi,asgi,wsgi]
        [--workers 1,2] [--repeat 2] [--duration 8] [--json FILE]

Nothing is pinned: the workers and wrk (2 threads, 128 connections) share the machine's cores,
as several instances on one host would. Memory is the idle process tree (master and workers):
RSS, which counts shared pages once per process, and PSS, which splits them. Each cell is the
median of the repeats; the ratio is against the first server. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.bench.frameworks import ROOT, free_port, load, stop

Cell = tuple[str, str, int]


def start(venv: Path, interface: str, workers: int, port: int) -> subprocess.Popen[bytes]:
    command = [
        str(venv / 'bin' / 'granian'), '--interface', interface, '--workers', str(workers),
        '--log-level', 'warning', '--host', '127.0.0.1', '--port', str(port), f'tests.apps.{interface}_app:app',
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(tree(proc.pid)) == workers + 1 and answers(port):
            time.sleep(1.0)
            return proc
        time.sleep(0.2)
    stop(proc)
    raise SystemExit(f'{venv}: the server did not start')


def answers(port: int) -> bool:
    done = subprocess.run(
        ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', f'http://127.0.0.1:{port}/'],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout == '200'


def tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        children = Path(f'/proc/{current}/task/{current}/children')
        if children.exists():
            pending.extend(int(child) for child in children.read_text().split())
    return found


def memory(pid: int) -> tuple[float, float]:
    """RSS and PSS of the process tree, MiB."""
    rss = pss = 0
    for member in tree(pid):
        rollup = Path(f'/proc/{member}/smaps_rollup').read_text()
        rss += int(re.search(r'^Rss:\s+(\d+)', rollup, re.M).group(1))  # type: ignore[union-attr]
        pss += int(re.search(r'^Pss:\s+(\d+)', rollup, re.M).group(1))  # type: ignore[union-attr]
    return rss / 1024, pss / 1024


def wrk(port: int, duration: int) -> tuple[float, float]:
    return load(['wrk', '-t2', '-c128'], f'http://127.0.0.1:{port}/', duration)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--server', action='append', required=True, help='NAME=VENV (the first is the baseline)')
    parser.add_argument('--interfaces', default='rsgi,asgi,wsgi')
    parser.add_argument('--workers', default='1,2')
    parser.add_argument('--repeat', type=int, default=2)
    parser.add_argument('--duration', type=int, default=8)
    parser.add_argument('--json', type=Path)
    args = parser.parse_args()
    for tool in ('wrk', 'curl'):
        if shutil.which(tool) is None:
            raise SystemExit(f'{tool} is needed (apt install {tool})')
    servers = [(name, Path(venv)) for name, _, venv in (item.partition('=') for item in args.server)]
    interfaces = args.interfaces.split(',')
    counts = [int(count) for count in args.workers.split(',')]
    load: dict[Cell, list[tuple[float, float]]] = {}
    idle: dict[Cell, list[tuple[float, float]]] = {}
    for _ in range(args.repeat):
        for interface in interfaces:
            for workers in counts:
                for name, venv in servers:
                    port = free_port()
                    proc = start(venv, interface, workers, port)
                    try:
                        idle.setdefault((name, interface, workers), []).append(memory(proc.pid))
                        load.setdefault((name, interface, workers), []).append(wrk(port, args.duration))
                    finally:
                        stop(proc)
    rows = []
    print(f'{os.cpu_count()} cores shared by the workers and wrk (-t2 -c128), HTTP/1.1 GET /\n')
    print('| interface | workers | server | req/s | p99 ms | ratio | idle tree RSS MiB | PSS MiB |')
    print('|---|--:|---|--:|--:|--:|--:|--:|')
    for interface in interfaces:
        for workers in counts:
            base = statistics.median(rps for rps, _ in load[(servers[0][0], interface, workers)])
            for name, _ in servers:
                cell = (name, interface, workers)
                rps = statistics.median(r for r, _ in load[cell])
                p99 = statistics.median(p for _, p in load[cell])
                rss = statistics.median(r for r, _ in idle[cell])
                pss = statistics.median(p for _, p in idle[cell])
                rows.append(
                    {'server': name, 'interface': interface, 'workers': workers, 'rps': rps, 'p99_ms': p99}
                    | {'rss_mib': rss, 'pss_mib': pss}
                )
                print(
                    f'| {interface} | {workers} | {name} | {rps:,.0f} | {p99:.2f} | {rps / base:.2f}x '
                    f'| {rss:.1f} | {pss:.1f} |'
                )
    if args.json:
        args.json.write_text(json.dumps({'argv': sys.argv, 'rows': rows}, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
