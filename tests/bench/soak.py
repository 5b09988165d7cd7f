"""Soak: millions of requests against one worker per interface, its memory sampled throughout.

For each interface (asgi, rsgi, wsgi by default) the script starts the server from this
checkout's test apps (`tests/apps/{interface}_app.py`, one worker, no access log) and sends it
its share of `--total` requests in rounds of `--round` seconds each, in turn:

    h1-get    wrk, HTTP/1.1 keep-alive, GET /
    h2-get    h2load, HTTP/2 with prior knowledge, GET /
    h1-post   wrk, POST /echo with a 1 KiB body
    h2-post   h2load, POST /echo with a 1 KiB body
    h1-close  wrk, GET / with `Connection: close`: a new connection per request

while websocket clients (asgi and rsgi; tests/bench/ws_echo.py) echo 64 B and 4 KiB messages
alongside, reconnecting every few seconds. Only successful responses (2xx) count; failures are
reported. The resident memory (RSS) of the worker's process tree is sampled every `--sample`
seconds. After the warm-up (the first `--warmup` share of each interface's requests), the
growth is the least-squares slope of RSS against requests served, in MiB per million requests;
the verdict is "flat" when it stays under `--limit` (2 MiB per million).

Writes one figure with a panel per interface (`--png`, docs/soak.png) and prints a Markdown
table of the results. Needs wrk and h2load (Debian: wrk, nghttp2-client), and matplotlib and
websockets in the Python running it; measure a release build (see docs/soak.md):

    nice -n 10 target/soak-venv/bin/python tests/bench/soak.py
    target/soak-venv/bin/python tests/bench/soak.py --total 300000 --round 5   # a quick look

Loopback only. Not part of the test suite: it runs for tens of minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ws_echo import measure, started_server

ROOT = Path(__file__).resolve().parents[2]
BODY = b'x' * 1024
MIB = 1024 * 1024
WEBSOCKET_INTERFACES = ('asgi', 'rsgi')


@dataclass
class Phase:
    """One interface's run: what was served, and the memory samples taken meanwhile."""

    interface: str
    started: float = 0.0
    # (time, requests served so far) at the end of every round.
    marks: list[tuple[float, int]] = field(default_factory=list)
    # (time, RSS of the worker's tree in bytes).
    samples: list[tuple[float, int]] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    ws_messages: int = 0
    ws_failures: int = 0
    ended: float = 0.0

    @property
    def requests(self) -> int:
        return self.marks[-1][1] if self.marks else 0

    def requests_at(self, moment: float) -> float:
        """Requests served by `moment`, interpolated between the ends of rounds."""
        previous = (self.started, 0)
        for mark in self.marks:
            if moment <= mark[0]:
                span = mark[0] - previous[0]
                share = (moment - previous[0]) / span if span > 0 else 1.0
                return previous[1] + share * (mark[1] - previous[1])
            previous = mark
        return float(previous[1])


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and every process below it (0 once it is gone)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            for line in Path(f'/proc/{current}/status').read_text().splitlines():
                if line.startswith('VmRSS:'):
                    total += int(line.split()[1]) * 1024
            for task in Path(f'/proc/{current}/task').iterdir():
                pending.extend(int(child) for child in (task / 'children').read_text().split())
    return total


def whole(seconds: float) -> int:
    """A duration as wrk and h2load take it: whole seconds, at least one."""
    return max(1, round(seconds))


def wrk(port: int, seconds: float, connections: int, script: Path | None, close: bool) -> tuple[int, int]:
    """(successful responses, failures) of one wrk run."""
    command = ['wrk', '-t1', f'-c{connections}', f'-d{whole(seconds)}s', f'http://127.0.0.1:{port}/']
    if script is not None:
        command[-1] += 'echo'
        command += ['-s', str(script)]
    if close:
        command += ['-H', 'Connection: close']
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r'(\d+) requests in', output)
    if match is None:
        raise SystemExit(f'unexpected wrk output:\n{output}')
    answered = int(match.group(1))
    refused = sum(int(n) for n in re.findall(r'Non-2xx or 3xx responses: (\d+)', output))
    errors = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', output)
    broken = sum(int(n) for n in errors.groups()) if errors else 0
    return answered - refused, refused + broken


def h2load(port: int, seconds: float, connections: int, body: Path | None) -> tuple[int, int]:
    """(successful responses, failures) of one h2load run."""
    url = f'http://127.0.0.1:{port}/' + ('echo' if body else '')
    command = ['h2load', '-t1', f'-c{connections}', '-m16', '-D', str(whole(seconds)), url]
    if body is not None:
        command += ['-d', str(body)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(
        r'requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored', output
    )
    status = re.search(r'status codes: (\d+) 2xx', output)
    if match is None or status is None:
        raise SystemExit(f'unexpected h2load output:\n{output}')
    ok = int(status.group(1))
    return ok, int(match.group(2)) + int(match.group(3)) + int(match.group(1)) - ok


class WebsocketLoad:
    """Echo clients running beside the HTTP load, on a thread of their own, until stopped."""

    def __init__(self, url: str, connections: int) -> None:
        self.url = url
        self.connections = connections
        self.messages = 0
        self.failures = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        # New connections every few seconds: the handshake and the close are part of the load.
        for size in itertools.cycle((64, 4096)):
            if self.stopping.is_set():
                return
            try:
                result = asyncio.run(measure(self.url, size, self.connections, 5.0))
                self.messages += int(result['messages'])
            except Exception as exc:
                self.failures += 1
                print(f'  websocket round failed: {exc!r}')
                time.sleep(1)

    def __enter__(self) -> WebsocketLoad:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(30)


def soak(args: argparse.Namespace, interface: str, share: int, files: dict[str, Path]) -> Phase:
    phase = Phase(interface)
    kinds = itertools.cycle(('h1-get', 'h2-get', 'h1-post', 'h2-post', 'h1-close'))
    with started_server(interface, args.python) as (port, worker):
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                phase.samples.append((time.monotonic(), tree_rss(worker)))
                stop.wait(args.sample)

        ws = contextlib.nullcontext()
        if interface in WEBSOCKET_INTERFACES and args.ws_connections > 0:
            ws = WebsocketLoad(f'ws://127.0.0.1:{port}/ws/echo', args.ws_connections)
        phase.started = time.monotonic()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with ws:
            while phase.requests < share:
                kind = next(kinds)
                if kind == 'h1-get':
                    ok, failed = wrk(port, args.round, args.connections, None, close=False)
                elif kind == 'h1-post':
                    ok, failed = wrk(port, args.round, args.connections, files['lua'], close=False)
                elif kind == 'h1-close':
                    # Each request costs a connection: shorter, so it stays a small share.
                    ok, failed = wrk(port, max(1.0, args.round / 3), args.connections, None, close=True)
                elif kind == 'h2-get':
                    ok, failed = h2load(port, args.round, args.h2_connections, None)
                else:
                    ok, failed = h2load(port, args.round, args.h2_connections, files['body'])
                phase.by_kind[kind] = phase.by_kind.get(kind, 0) + ok
                phase.failures[kind] = phase.failures.get(kind, 0) + failed
                phase.marks.append((time.monotonic(), phase.requests + ok))
                rss = phase.samples[-1][1] / MIB if phase.samples else 0.0
                print(
                    f'  {interface} {kind:8} {ok:>8} ok {failed:>4} failed, {phase.requests:>9} total, RSS {rss:.1f} MiB'
                )
        if isinstance(ws, WebsocketLoad):
            phase.ws_messages, phase.ws_failures = ws.messages, ws.failures
        # One sample after the load, before the server stops.
        phase.samples.append((time.monotonic(), tree_rss(worker)))
        stop.set()
        sampler.join()
        phase.ended = time.monotonic()
    return phase


@dataclass
class Growth:
    """Memory of one phase: at its start, and after its warm-up."""

    start_mib: float
    baseline_mib: float
    final_mib: float
    peak_mib: float
    slope_mib_per_million: float


def growth(phase: Phase, warmup: float) -> Growth:
    points = [(phase.requests_at(moment), rss / MIB) for moment, rss in phase.samples]
    after = [(x, y) for x, y in points if x >= warmup * phase.requests] or points[-2:]
    xs = [x / 1e6 for x, _ in after]
    ys = [y for _, y in after]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0
    return Growth(points[0][1], ys[0], ys[-1], max(ys), slope)


def plot(phases: list[Phase], warmup: float, limit: float, path: Path) -> None:
    """One panel per interface: RSS against requests served, the end of the warm-up marked."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(phases), figsize=(5 * len(phases), 4), squeeze=False)
    for axis, phase in zip(axes[0], phases, strict=True):
        xs = [phase.requests_at(moment) / 1e6 for moment, _ in phase.samples]
        ys = [rss / MIB for _, rss in phase.samples]
        result = growth(phase, warmup)
        axis.plot(xs, ys, marker='.', linewidth=1)
        axis.axvline(warmup * phase.requests / 1e6, color='grey', linestyle=':', label='end of warm-up')
        axis.set_title(f'{phase.interface}: {result.slope_mib_per_million:+.2f} MiB per million requests')
        axis.set_xlabel('requests served (millions)')
        axis.set_ylabel('worker RSS (MiB)')
        axis.set_ylim(0, max(ys) * 1.25 + 1)
        axis.grid(alpha=0.3)
        axis.legend(loc='lower right')
    figure.suptitle(f'Worker RSS under load (flat: growth under {limit:g} MiB per million requests)')
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)


def report(phases: list[Phase], warmup: float, limit: float) -> str:
    lines = [
        '| interface | requests | HTTP/1.1 | HTTP/2 | failed | ws messages | minutes | req/s '
        '| RSS at start | RSS after warm-up | RSS at end | peak | growth (MiB/M) | verdict |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ]
    for phase in phases:
        result = growth(phase, warmup)
        minutes = (phase.ended - phase.started) / 60
        http1 = sum(n for kind, n in phase.by_kind.items() if kind.startswith('h1'))
        http2 = sum(n for kind, n in phase.by_kind.items() if kind.startswith('h2'))
        verdict = 'flat' if result.slope_mib_per_million < limit else 'GROWS'
        lines.append(
            f'| {phase.interface} | {phase.requests:,} | {http1:,} | {http2:,} | {sum(phase.failures.values()):,} '
            f'| {phase.ws_messages:,} | {minutes:.1f} | {phase.requests / (minutes * 60):,.0f} '
            f'| {result.start_mib:.1f} MiB | {result.baseline_mib:.1f} MiB | {result.final_mib:.1f} MiB | {result.peak_mib:.1f} MiB '
            f'| {result.slope_mib_per_million:+.3f} | {verdict} |'
        )
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--total', type=int, default=10_000_000, help='requests across all interfaces')
    parser.add_argument('--interfaces', nargs='+', default=['asgi', 'rsgi', 'wsgi'])
    parser.add_argument('--python', default=sys.executable, help='the Python whose granian is measured')
    parser.add_argument('--round', type=float, default=15.0, help='seconds per load round')
    parser.add_argument('--sample', type=float, default=10.0, help='seconds between RSS samples')
    parser.add_argument('--warmup', type=float, default=0.1, help='share of requests before growth counts')
    parser.add_argument('--limit', type=float, default=2.0, help='MiB per million requests still called flat')
    parser.add_argument('--connections', type=int, default=32, help='wrk connections')
    parser.add_argument('--h2-connections', type=int, default=8, help='h2load connections (16 streams each)')
    parser.add_argument('--ws-connections', type=int, default=4, help='websocket echo clients')
    parser.add_argument('--png', type=Path, default=ROOT / 'docs' / 'soak.png')
    args = parser.parse_args()

    version = subprocess.run(
        [args.python, '-c', 'import granian, granian._native as n; print(granian.__version__, n.__file__)'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f'granian {version}; nice {os.nice(0)}')
    share = args.total // len(args.interfaces)
    phases = []
    with tempfile.TemporaryDirectory() as scratch:
        files = {'body': Path(scratch) / 'body', 'lua': Path(scratch) / 'post.lua'}
        files['body'].write_bytes(BODY)
        files['lua'].write_text(
            f'wrk.method = "POST"\nwrk.body = string.rep("x", {len(BODY)})\n'
            'wrk.headers["Content-Type"] = "application/octet-stream"\n'
        )
        for interface in args.interfaces:
            print(f'{interface}: {share:,} requests')
            phases.append(soak(args, interface, share, files))
    plot(phases, args.warmup, args.limit, args.png)
    print(f'wrote {args.png}')
    print(report(phases, args.warmup, args.limit))


if __name__ == '__main__':
    main()
