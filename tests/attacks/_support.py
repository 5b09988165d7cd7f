"""What every slow-client attack checks, and the raw clients they attack with.

Each attack asserts three things against a server at its default limits, except for the two
timeouts, shortened to `TIMEOUT` seconds so the suite stays fast:

1. while the attack holds, a normal request on a new connection gets its 200 within
   `PROBE_LIMIT` (`probe`, called while `Holding.still` shows the attack in place);
2. the worker's resident memory grows by less than `RSS_GROWTH_LIMIT` (`worker_rss`, read from
   /proc/PID/status);
3. the server ends the attack's requests itself (408, RST_STREAM or a close, each within the
   timeout plus `MARGIN`), and serves normally once the attacker is gone.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Callable, Iterable, Iterator

import hpack
from hyperframe.frame import DataFrame, Frame, GoAwayFrame, HeadersFrame, RstStreamFrame, SettingsFrame

from tests._http import H2_PREFACE, H2Client, RawConnection, connect, request_bytes
from tests.conftest import Server, run_server

# --http-body-read-timeout and --http-send-timeout of the servers under attack, in seconds.
TIMEOUT = 2.0
# How late past TIMEOUT the server may end an attack's request (a loaded machine).
MARGIN = 5.0
# The answer a normal client must get while an attack runs.
PROBE_LIMIT = 1.0
# How much a worker may grow while absorbing one attack.
RSS_GROWTH_LIMIT = 48 * 1024 * 1024

# A client receive buffer this small (fixed, not autotuned) fills at once.
SMALL_RECEIVE_BUFFER = 4096

# RFC 9113 §7 error codes.
REFUSED_STREAM = 0x7
CANCEL = 0x8


@contextlib.contextmanager
def attacked_server(interface: str) -> Iterator[Server]:
    """One worker serving tests/apps/attack_app.py with `interface`, its timeouts at TIMEOUT."""
    with run_server(
        '--http-body-read-timeout',
        str(TIMEOUT),
        '--http-send-timeout',
        str(TIMEOUT),
        app=f'tests.apps.attack_app:{interface}',
        interface=interface,
    ) as server:
        yield server


def interface_of(server: Server) -> str:
    interface = server.option('--interface')
    assert interface is not None
    return interface


def worker_rss(server: Server) -> int:
    [pid] = server.worker_pids()
    with open(f'/proc/{pid}/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    raise AssertionError('no VmRSS line')


def probe(port: int) -> None:
    """A GET on a new HTTP/1.1 connection and one on a new HTTP/2 connection each get their 200
    within PROBE_LIMIT."""
    started = time.monotonic()
    with RawConnection(port, timeout=PROBE_LIMIT) as conn:
        conn.send(request_bytes('GET', '/', headers=[('Connection', 'close')]))
        response = conn.read_response()
    assert (response.status, response.body) == (200, b'ok'), response
    with H2Client(port, timeout=PROBE_LIMIT) as client:
        stream = client.request('GET', '/')
        answer = client.wait([stream])[stream]
    assert (answer.status, answer.body) == (200, b'ok'), answer
    elapsed = time.monotonic() - started
    assert elapsed < 2 * PROBE_LIMIT, f'two probes took {elapsed:.2f}s'


def stats(port: int) -> dict[str, int]:
    """What the application saw (see tests/apps/attack_app.py)."""
    with RawConnection(port) as conn:
        conn.send(request_bytes('GET', '/stats', headers=[('Connection', 'close')]))
        response = conn.read_response()
    assert response.status == 200, response
    return dict(json.loads(response.body))


def wait_stats(port: int, name: str, at_least: int, timeout: float = MARGIN) -> int:
    """The application's counter `name` once it reached `at_least` (its last value otherwise)."""
    deadline = time.monotonic() + timeout
    while True:
        value = stats(port)[name]
        if value >= at_least or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def answered(socks: Iterable[socket.socket]) -> list[socket.socket]:
    """The sockets the server has written to (or closed) so far, without waiting."""
    socks = list(socks)
    readable: list[socket.socket] = []
    # select() takes at most FD_SETSIZE descriptors at once.
    for start in range(0, len(socks), 500):
        ready, _, _ = select.select(socks[start : start + 500], [], [], 0)
        readable += ready
    return readable


def open_connection(port: int, data: bytes, *, receive_buffer: int | None = None) -> socket.socket:
    sock = connect(port, timeout=TIMEOUT + MARGIN, receive_buffer=receive_buffer)
    sock.sendall(data)
    return sock


def stop_reading_over_http1(server: Server, request: bytes, connections: int, counter: str, answer: bytes) -> None:
    """Open `connections` HTTP/1.1 connections with a small receive buffer, send `request` on
    each and never read: the application's `counter` must count each one given up within the send
    timeout of its socket filling up, and each connection must start with `answer` and be closed
    far short of the 256 MiB the application meant to send."""
    seen = stats(server.port)[counter]
    before = worker_rss(server)
    socks = [open_connection(server.port, request, receive_buffer=SMALL_RECEIVE_BUFFER) for _ in range(connections)]
    try:
        probe(server.port)
        peak = worker_rss(server)
        given_up = wait_stats(server.port, counter, seen + connections, timeout=TIMEOUT + MARGIN)
        assert given_up == seen + connections
        peak = max(peak, worker_rss(server))
        # What the server had queued for each before giving up still arrives first.
        deadline = time.monotonic() + TIMEOUT + MARGIN
        for sock in socks:
            head, length = read_until_closed(sock, deadline)
            assert head.startswith(answer), head[:200]
            assert length < 64 * 1024 * 1024
    finally:
        for sock in socks:
            sock.close()
    assert peak - before < RSS_GROWTH_LIMIT, (before, peak)
    probe(server.port)


def read_until_closed(sock: socket.socket, deadline: float) -> tuple[bytes, int]:
    """What the server sends until it closes the connection, as its first KiB and its length;
    fails at the deadline."""
    head = b''
    length = 0
    buffer = bytearray(1 << 20)
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f'the server kept the connection open; received {length} bytes: {head[:200]!r}'
        sock.settimeout(remaining)
        try:
            received = sock.recv_into(buffer)
        except ConnectionResetError:
            return head, length
        if not received:
            return head, length
        if len(head) < 1024:
            head += bytes(buffer[: min(received, 1024 - len(head))])
        length += received


class RawH2:
    """An HTTP/2 client speaking frames directly: it sends what it is told, acknowledges
    nothing, and grants no flow-control window beyond its opening SETTINGS."""

    def __init__(self, port: int, settings: dict[int, int] | None = None) -> None:
        self.sock = connect(port, timeout=TIMEOUT + MARGIN)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.buffer = b''
        self.closed = False
        # Per stream: the :status of its response, the error code of its RST_STREAM, the bytes
        # of its body.
        self.statuses: dict[int, int] = {}
        self.resets: dict[int, int] = {}
        self.data: dict[int, int] = {}
        self.sock.sendall(H2_PREFACE + SettingsFrame(0, settings or {}).serialize())

    def close(self) -> None:
        self.sock.close()

    def request(
        self, stream_id: int, method: str, path: str, headers: Iterable[tuple[str, str]] = (), *, end: bool
    ) -> bytes:
        """The HEADERS frame of a request, serialised; `end`: no body follows."""
        block = self.encoder.encode(
            [(':method', method), (':path', path), (':scheme', 'http'), (':authority', 'localhost'), *headers]
        )
        frame = HeadersFrame(stream_id, block)
        frame.flags.add('END_HEADERS')
        if end:
            frame.flags.add('END_STREAM')
        return frame.serialize()

    def read(self, deadline: float, until: Callable[[RawH2], bool]) -> None:
        """Read frames until `until(self)` holds, the server closes, or the deadline."""
        while not until(self) and not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                return
            except ConnectionResetError:
                chunk = b''
            if not chunk:
                self.closed = True
                return
            self.buffer += chunk
            self._parse()

    def _parse(self) -> None:
        while len(self.buffer) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
            if len(self.buffer) < 9 + length:
                return
            frame.parse_body(memoryview(self.buffer[9 : 9 + length]))
            self.buffer = self.buffer[9 + length :]
            self._handle(frame)

    def _handle(self, frame: Frame) -> None:
        if isinstance(frame, HeadersFrame):
            headers = dict(self.decoder.decode(frame.data))
            status = headers.get(':status') or headers.get(b':status')
            if status is not None:
                self.statuses.setdefault(frame.stream_id, int(status))
        elif isinstance(frame, RstStreamFrame):
            self.resets[frame.stream_id] = frame.error_code
        elif isinstance(frame, DataFrame):
            self.data[frame.stream_id] = self.data.get(frame.stream_id, 0) + len(frame.data)
        elif isinstance(frame, GoAwayFrame):
            self.closed = True
