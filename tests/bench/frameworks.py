"""Real frameworks under load: a FastAPI JSON endpoint (`/json`) and a Starlette plain response
(`/plain`) served by each server given, as ASGI with one worker, measured with wrk.

    python tests/bench/frameworks.py --server ours=VENV --server granian=VENV [--repeat 3] [--duration 8]

Each VENV holds a `granian` command (this project's release build, or Granian itself) and
FastAPI. The server runs on core 0 (`taskset -c 0`) and wrk (Debian package `wrk`) on core 1,
64 connections, after a 2 s warm-up; the table gives the median req/s and p99 of the repeats
and each server's ratio to the first one. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = 'tests.bench.fastapi_bench:app'
ROUTES = ('/json', '/plain')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def start(venv: Path, port: int) -> subprocess.Popen[bytes]:
    command = [
        'taskset', '-c', '0', str(venv / 'bin' / 'granian'), '--interface', 'asgi', '--workers', '1',
        '--runtime-threads', '1', '--log-level', 'warning', '--host', '127.0.0.1', '--port', str(port), APP,
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(('127.0.0.1', port)) == 0:
                time.sleep(1.0)
                return proc
        time.sleep(0.1)
    stop(proc)
    raise SystemExit(f'{venv}: the server did not start')


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def wrk(port: int, route: str, duration: int) -> tuple[float, float]:
    return load(['taskset', '-c', '1', 'wrk', '-t1', '-c64'], f'http://127.0.0.1:{port}{route}', duration)


def load(command: list[str], url: str, duration: int) -> tuple[float, float]:
    """Run wrk (`command` and its options before the duration) for 2 s, then for `duration`
    seconds: its req/s and p99 in ms."""
    subprocess.run([*command, '-d2s', url], capture_output=True, check=True)
    out = subprocess.run([*command, f'-d{duration}s', '--latency', url], capture_output=True, text=True, check=True)
    rps = float(re.search(r'Requests/sec:\s+([\d.]+)', out.stdout).group(1))  # type: ignore[union-attr]
    p99 = re.search(r'99%\s+([\d.]+)(us|ms|s)', out.stdout)
    scale = {'us': 0.001, 'ms': 1.0, 's': 1000.0}
    return rps, float(p99.group(1)) * scale[p99.group(2)] if p99 else float('nan')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--server', action='append', required=True, help='NAME=VENV (the first is the baseline)')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--duration', type=int, default=8)
    args = parser.parse_args()
    if shutil.which('wrk') is None:
        raise SystemExit('wrk is needed (apt install wrk)')
    servers = [(name, Path(venv)) for name, _, venv in (item.partition('=') for item in args.server)]
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(args.repeat):
        for name, venv in servers:
            port = free_port()
            proc = start(venv, port)
            try:
                for route in ROUTES:
                    results.setdefault((name, route), []).append(wrk(port, route, args.duration))
            finally:
                stop(proc)
    print('| server | route | req/s (median) | p99 ms | ratio |')
    print('|---|---|--:|--:|--:|')
    for route in ROUTES:
        base = statistics.median(rps for rps, _ in results[(servers[0][0], route)])
        for name, _ in servers:
            runs = results[(name, route)]
            rps = statistics.median(r for r, _ in runs)
            p99 = statistics.median(p for _, p in runs)
            print(f'| {name} | {route} | {rps:,.0f} | {p99:.2f} | {rps / base:.2f}x |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
