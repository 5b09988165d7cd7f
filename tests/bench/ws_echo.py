"""Websocket echo load on loopback: messages per second and latency percentiles.

Each of `--connections` clients sends a message and waits for its echo, over and over, for
`--duration` seconds per message size (64 B and 16 KiB by default); a message's latency is the
time from its send to its echo. The clients run in this one Python process, so on a small machine
they are part of what is measured: compare servers with the same command on the same machine.

    python tests/bench/ws_echo.py --start asgi            # starts granian on a free port, then measures
    python tests/bench/ws_echo.py --url ws://127.0.0.1:8000/ws/echo

`--start asgi|rsgi` serves tests/apps/{asgi,rsgi}_app.py (route /ws/echo) with `python -m granian`
from this checkout's environment; `--url` measures any server that echoes. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r'Listening at: http://127\.0\.0\.1:(\d+)')
WORKER = re.compile(r'Spawning worker-1 with PID: (\d+)')
MAX_DURATION = 60.0


async def _client(url: str, payload: bytes, deadline: float, latencies: list[float]) -> None:
    async with connect(url, compression=None, max_size=None, ping_interval=None) as ws:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            await ws.send(payload)
            await ws.recv()
            latencies.append(time.perf_counter() - sent)


async def measure(url: str, size: int, connections: int, duration: float) -> dict[str, float]:
    payload = b'x' * size
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*(_client(url, payload, deadline, latencies) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(fraction: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * fraction))] * 1000

    return {
        'size': size,
        'messages': len(latencies),
        'messages_per_s': len(latencies) / elapsed,
        'p50_ms': percentile(0.50),
        'p99_ms': percentile(0.99),
    }


@contextlib.contextmanager
def started_server(interface: str, python: str = sys.executable) -> Iterator[tuple[int, int]]:
    """Serve tests/apps/{interface}_app.py with one worker on a free port, with `python -m granian`
    (this environment's granian unless `python` names another); yield (port, the worker's PID)
    once the worker serves."""
    command = [
        python,
        '-m',
        'granian',
        '--interface',
        interface,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--workers',
        '1',
        '--no-access-log',
        f'tests.apps.{interface}_app:app',
    ]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        port = worker = None
        deadline = time.monotonic() + 20
        # The worker logs once it serves.
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit('the server exited before serving')
            if match := LISTENING.search(line):
                port = int(match.group(1))
            elif match := WORKER.search(line):
                worker = int(match.group(1))
            elif 'Started worker-1' in line:
                break
        if port is None or worker is None:
            raise SystemExit('the server did not start serving in time')
        # Keep reading the log, so that the server never blocks on a full pipe.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield port, worker
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument('--url', help='an echo endpoint on loopback, such as ws://127.0.0.1:8000/ws/echo')
    target.add_argument('--start', choices=['asgi', 'rsgi'], help='start granian with the test app')
    parser.add_argument('--connections', type=int, default=16)
    parser.add_argument('--duration', type=float, default=5.0, help=f'seconds per size (at most {MAX_DURATION})')
    parser.add_argument('--sizes', type=int, nargs='+', default=[64, 16384])
    args = parser.parse_args()
    duration = min(max(args.duration, 0.5), MAX_DURATION)

    def run(url: str) -> None:
        host = urlsplit(url).hostname
        if host not in ('127.0.0.1', 'localhost', '::1'):
            raise SystemExit('loopback only')
        print(f'{url}: {args.connections} connections, {duration:g} s per size')
        print(f'{"size":>8} {"messages":>10} {"msg/s":>10} {"p50 ms":>8} {"p99 ms":>8}')
        for size in args.sizes:
            result = asyncio.run(measure(url, size, args.connections, duration))
            print(
                f'{result["size"]:>8} {result["messages"]:>10} {result["messages_per_s"]:>10.0f} '
                f'{result["p50_ms"]:>8.2f} {result["p99_ms"]:>8.2f}'
            )

    if args.start:
        with started_server(args.start) as (port, _):
            run(f'ws://127.0.0.1:{port}/ws/echo')
    else:
        run(args.url)


if __name__ == '__main__':
    main()
