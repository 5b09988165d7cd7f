"""What every attack test checks, whatever the attack.

1. While the attack runs, a normal request on a new connection is answered 200 within a second
   (`probe`): the attack does not lock other clients out.
2. The worker's resident memory grows by less than the bound the test states (`Rss`).
3. Once the attack stops, the server serves normally (`tests._http.assert_serves`).

Attacks hold many sockets at once from this process; `Sockets` opens them without blocking and
closes every one at the end, whatever happens in between.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time

from tests._http import HOST, request_bytes
from tests.conftest import Server

# The answer a probe must get within this many seconds.
PROBE_DEADLINE = 1.0
# The interfaces every attack on the protocol layers runs against, with their test apps.
APPS = {
    'asgi': 'tests.apps.asgi_app:app',
    'rsgi': 'tests.apps.rsgi_app:app',
    'wsgi': 'tests.apps.wsgi_app:app',
}


def worker_pid(server: Server) -> int:
    [pid] = server.worker_pids()
    return pid


def rss(pid: int) -> int:
    """Resident memory of `pid`, in bytes."""
    with open(f'/proc/{pid}/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    raise AssertionError('no VmRSS line')


def cpu_seconds(pid: int) -> float:
    """User and system CPU time `pid` used so far."""
    with open(f'/proc/{pid}/stat') as stat:
        fields = stat.read().rsplit(')', 1)[1].split()
    ticks = os.sysconf('SC_CLK_TCK')
    return (int(fields[11]) + int(fields[12])) / ticks


def open_sockets(pid: int) -> int:
    """How many sockets `pid` holds open."""
    count = 0
    for fd in os.listdir(f'/proc/{pid}/fd'):
        with contextlib.suppress(OSError):
            if os.readlink(f'/proc/{pid}/fd/{fd}').startswith('socket:'):
                count += 1
    return count


class Rss:
    """The worker's memory from the start of an attack: `growth()` so far, checked by `check()`."""

    def __init__(self, server: Server, bound: int) -> None:
        self.pid = worker_pid(server)
        self.bound = bound
        self.before = rss(self.pid)
        self.peak = self.before

    def sample(self) -> None:
        self.peak = max(self.peak, rss(self.pid))

    def check(self) -> None:
        self.sample()
        growth = self.peak - self.before
        assert growth < self.bound, f'worker grew by {growth / 2**20:.1f} MiB (bound {self.bound / 2**20:.0f} MiB)'


def probe(port: int, *, deadline: float = PROBE_DEADLINE) -> float:
    """A GET / on a new connection: asserts 200 with the test apps' greeting within `deadline`
    seconds, counted from the connect; returns how long it took."""
    start = time.monotonic()
    with socket.create_connection((HOST, port), timeout=deadline) as sock:
        sock.sendall(request_bytes('GET', '/', headers=[('Connection', 'close')]))
        received = b''
        while True:
            remaining = deadline - (time.monotonic() - start)
            assert remaining > 0, f'no answer within {deadline}s: {received[:200]!r}'
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                raise AssertionError(f'no answer within {deadline}s: {received[:200]!r}') from None
            if not chunk:
                break
            received += chunk
    elapsed = time.monotonic() - start
    assert received.startswith(b'HTTP/1.1 200 '), received[:200]
    assert received.endswith(b'Hello, world!'), received[-200:]
    return elapsed


class Sockets:
    """Many client connections held at once (non-blocking, so none can stall the test)."""

    def __init__(self) -> None:
        self.open: list[socket.socket] = []

    def __enter__(self) -> Sockets:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close_all()

    def connect(self, port: int, count: int, first: bytes = b'') -> list[socket.socket]:
        """Open `count` connections and send `first` on each; the connect may still be in the
        listen queue (a server at its cap does not accept), which is what some attacks want."""
        made = []
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            err = sock.connect_ex((HOST, port))
            assert err in (0, errno.EINPROGRESS), os.strerror(err)
            self.open.append(sock)
            made.append(sock)
        if first:
            self.send_each(made, first)
        return made

    def send_each(self, socks: list[socket.socket], data: bytes) -> int:
        """Send `data` on each socket that takes it now; how many did (a full or closed one is
        skipped)."""
        sent = 0
        for sock in socks:
            with contextlib.suppress(BlockingIOError, OSError):
                if sock.send(data) == len(data):
                    sent += 1
        return sent

    @staticmethod
    def closed_by_server(sock: socket.socket) -> bool:
        """Whether the server has closed `sock` (end of input or a reset); data is discarded."""
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return True
        except BlockingIOError:
            return False
        except OSError:
            return True

    def close_all(self) -> None:
        for sock in self.open:
            sock.close()
        self.open.clear()
