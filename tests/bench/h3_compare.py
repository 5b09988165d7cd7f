"""Compare HTTP/3 throughput: granian over HTTP/3 (h3load), granian over HTTP/2 with TLS (h2load)
and Hypercorn over HTTP/3 (h3load), on the shared bench harness's ASGI app, one worker each.

The server runs pinned to core 0 and the load to core 1; each cell runs `--repeat` times, each
time on a fresh server, and the median req/s is reported with the spread and the machine's load.

    python tests/bench/h3_compare.py --granian /work/venv-h3bench --hypercorn ~/.cache/bench-venvs/hypercorn \\
        --apps ../shared/bench/apps --h3load target/h3load/release/h3load

Needs `h2load` (Debian nghttp2-client), h3load (tests/bench/h3load), `trustme` for the
certificate, and aioquic in the Hypercorn venv (`--quic-bind`). Every load run is bounded.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trustme

REQS = re.compile(r'finished in [\d.]+s, ([\d.]+) req/s')
STATUS = re.compile(r'status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx')
FAILURES = re.compile(r'requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_tcp(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(('127.0.0.1', port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f'nothing listens on {port}')


def run_load(command: list[str], duration: float) -> tuple[float, int]:
    """req/s and the count of failed requests, from h2load's or h3load's summary."""
    done = subprocess.run(
        ['taskset', '-c', '1', *command], capture_output=True, text=True, timeout=duration + 30, check=False
    )
    out = done.stdout
    reqs = REQS.search(out)
    if reqs is None:
        raise RuntimeError(f'no summary from {command[0]}:\n{out}{done.stderr}')
    failed = sum(int(n) for n in FAILURES.search(out).groups()) if FAILURES.search(out) else 0
    status = STATUS.search(out)
    if status is not None:
        failed += sum(int(n) for n in status.groups()[1:])
    return float(reqs.group(1)), failed


def server(kind: str, args: argparse.Namespace, port: int, cert: Path, key: Path) -> subprocess.Popen[bytes]:
    if kind == 'hypercorn-h3':
        command = [
            str(Path(args.hypercorn) / 'bin' / 'hypercorn'),
            '--config',
            str(Path(args.apps).parent / 'conf' / 'hypercorn.toml'),
            '--workers',
            '1',
            '--log-level',
            'warning',
            '--certfile',
            str(cert),
            '--keyfile',
            str(key),
            '--bind',
            f'127.0.0.1:{port}',
            '--quic-bind',
            f'127.0.0.1:{port}',
            'asgi_app:app',
        ]
    else:
        command = [
            str(Path(args.granian) / 'bin' / 'granian'),
            '--interface',
            'asgi',
            '--workers',
            '1',
            '--runtime-threads',
            '1',
            '--log-level',
            'warning',
            '--host',
            '127.0.0.1',
            '--port',
            str(port),
            '--ssl-certificate',
            str(cert),
            '--ssl-keyfile',
            str(key),
            *(['--http3'] if kind == 'granian-h3' else []),
            'asgi_app:app',
        ]
    return subprocess.Popen(
        ['taskset', '-c', '0', *command],
        cwd=args.apps,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def load(kind: str, args: argparse.Namespace, port: int, route: str, duration: float) -> list[str]:
    url = f'https://127.0.0.1:{port}{route}'
    if kind == 'granian-h2':
        return ['h2load', '-t1', '-c16', '-m16', '-D', f'{duration:g}', url]
    return [args.h3load, '--url', url, '-c', '16', '-m', '16', '-d', f'{duration:g}', '-t', '1', '--insecure']


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--granian', required=True, help='venv with the granian under test')
    parser.add_argument('--hypercorn', required=True, help='venv with hypercorn and aioquic')
    parser.add_argument('--apps', required=True, help='the bench harness apps directory')
    parser.add_argument('--h3load', required=True)
    parser.add_argument('--routes', default='/b,/10k')
    parser.add_argument('--kinds', default='granian-h3,granian-h2,hypercorn-h3')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--duration', type=float, default=8.0)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix='h3bench-'))
    ca = trustme.CA()
    issued = ca.issue_cert('127.0.0.1', 'localhost')
    cert, key = tmp / 'cert.pem', tmp / 'key.pem'
    issued.private_key_pem.write_to_path(str(key))
    cert.write_bytes(b''.join(blob.bytes() for blob in issued.cert_chain_pems))

    kinds = args.kinds.split(',')
    routes = args.routes.split(',')
    results: dict[tuple[str, str], list[float]] = {}
    failures: dict[tuple[str, str], int] = {}
    for repeat in range(args.repeat):
        for kind in kinds:
            port = free_port()
            proc = server(kind, args, port, cert, key)
            try:
                wait_tcp(port)
                time.sleep(1.0)
                for route in routes:
                    # Warm-up, discarded.
                    run_load(load(kind, args, port, route, 2.0), 2.0)
                    reqs, failed = run_load(load(kind, args, port, route, args.duration), args.duration)
                    results.setdefault((kind, route), []).append(reqs)
                    failures[(kind, route)] = failures.get((kind, route), 0) + failed
                    print(f'run {repeat + 1} {kind} {route}: {reqs:.0f} req/s, {failed} failed', flush=True)
            finally:
                os.killpg(proc.pid, 15)
                proc.wait(30)
    print(f'\nload average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}')
    print('| server | route | req/s median [min-max] | failed |')
    print('|---|---|---|---|')
    for (kind, route), values in results.items():
        print(
            f'| {kind} | {route} | {statistics.median(values):.0f} [{min(values):.0f}-{max(values):.0f}] '
            f'| {failures[(kind, route)]} |'
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
