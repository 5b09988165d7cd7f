"""Resident memory of an idle granian process tree, per process, by worker count (Linux).

Starts `granian --interface I --http 1 --workers N` on a free loopback port serving
tests/apps/I_app.py (rsgi by default; `--app` and `--app-dir` for another), waits until it
answers a request (any status), waits two more seconds, then reads each process's RSS
(/proc/PID/statm) and PSS (/proc/PID/smaps_rollup), as the shared bench harness does; the
median of `--runs` fresh servers is printed per worker count. RSS counts every
page a process maps, shared or not; PSS divides shared pages among the processes sharing them,
so the PSS of a tree is what it costs the machine.

    python tests/bench/idle_memory.py                        # this checkout's environment
    python tests/bench/idle_memory.py --granian VENV/bin/granian --workers 1,2,3 --runs 5
    python tests/bench/idle_memory.py --workers 1 --runs 1 --smaps   # where the pages are
    python tests/bench/idle_memory.py --app rsgi_app:app --app-dir ../shared/bench/apps

`--smaps` also groups each process's /proc/PID/smaps by what is mapped: `[anon]` and `[heap]`
(Python objects, allocator arenas, thread stacks), the Python executable, each shared library.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RANGE = re.compile(r'^[0-9a-f]+-[0-9a-f]+ ')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f'/proc/{entry}/stat').read_text()
                if int(stat.rpartition(')')[2].split()[1]) == pid:
                    found.append(int(entry))
    return sorted(found)


def rss_kib(pid: int) -> int:
    return int(Path(f'/proc/{pid}/statm').read_text().split()[1]) * os.sysconf('SC_PAGE_SIZE') // 1024


def pss_kib(pid: int) -> int:
    for line in Path(f'/proc/{pid}/smaps_rollup').read_text().splitlines():
        if line.startswith('Pss:'):
            return int(line.split()[1])
    return 0


def smaps(pid: int) -> dict[str, list[int]]:
    """RSS, PSS and private kB by what is mapped."""
    groups: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    name = ''
    for line in Path(f'/proc/{pid}/smaps').read_text().splitlines():
        if RANGE.match(line):
            parts = line.split(maxsplit=5)
            path = parts[5] if len(parts) == 6 else '[anon]'
            name = os.path.basename(path) if path.startswith('/') else path
        elif line.startswith('Rss:'):
            groups[name][0] += int(line.split()[1])
        elif line.startswith('Pss:'):
            groups[name][1] += int(line.split()[1])
        elif line.startswith(('Private_Clean:', 'Private_Dirty:')):
            groups[name][2] += int(line.split()[1])
    return groups


def print_smaps(role: str, pid: int) -> None:
    groups = smaps(pid)
    print(f'  {role} (PID {pid}), kB:')
    for name, (rss, pss, private) in sorted(groups.items(), key=lambda item: -item[1][0])[:12]:
        print(f'    {name[:48]:48s} RSS {rss:6d}  PSS {pss:6d}  private {private:6d}')


def answer(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection('127.0.0.1', port, timeout=2)
        connection.request('GET', '/')
        connection.getresponse().read()
        connection.close()
        return True
    except (OSError, http.client.HTTPException):
        return False


def measure(args: argparse.Namespace, workers: int) -> dict[str, float]:
    port = free_port()
    command = [args.granian, '--interface', args.interface, '--http', '1', '--workers', str(workers)]
    command += ['--log-level', 'warning', '--host', '127.0.0.1', '--port', str(port), args.app]
    server = subprocess.Popen(command, cwd=args.app_dir, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (answer(port) and len(children(server.pid)) >= workers):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f'the server did not start: {" ".join(command)}')
            time.sleep(0.1)
        time.sleep(2.0)
        kids = children(server.pid)
        if args.smaps:
            print_smaps('master', server.pid)
            for kid in kids:
                print_smaps('worker', kid)
        return {
            'tree_rss': rss_kib(server.pid) + sum(map(rss_kib, kids)),
            'tree_pss': pss_kib(server.pid) + sum(map(pss_kib, kids)),
            'master_rss': rss_kib(server.pid),
            'master_pss': pss_kib(server.pid),
            'worker_rss': statistics.mean(map(rss_kib, kids)),
            'worker_pss': statistics.mean(map(pss_kib, kids)),
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--granian', default=str(Path(sys.executable).with_name('granian')))
    parser.add_argument('--interface', default='rsgi', choices=['asgi', 'rsgi', 'wsgi'])
    parser.add_argument('--workers', default='1,2', help='worker counts, comma-separated')
    parser.add_argument('--runs', type=int, default=3, help='fresh servers per worker count (median)')
    parser.add_argument('--smaps', action='store_true', help='group each process smaps by mapping')
    parser.add_argument('--app', help='MODULE:ATTR to serve (default: tests.apps.INTERFACE_app:app)')
    parser.add_argument('--app-dir', type=Path, default=ROOT, help='directory the server starts in')
    args = parser.parse_args()
    args.app = args.app or f'tests.apps.{args.interface}_app:app'
    args.granian = os.path.abspath(args.granian)
    print('| workers | tree RSS | tree PSS | master RSS | master PSS | worker RSS | worker PSS |')
    print('|--:|--:|--:|--:|--:|--:|--:|')
    for workers in (int(count) for count in args.workers.split(',')):
        runs = [measure(args, workers) for _ in range(args.runs)]
        columns = ('tree_rss', 'tree_pss', 'master_rss', 'master_pss', 'worker_rss', 'worker_pss')
        cells = ' | '.join(f'{statistics.median(run[key] for run in runs) / 1024:.1f}' for key in columns)
        print(f'| {workers} | {cells} |')


if __name__ == '__main__':
    main()
