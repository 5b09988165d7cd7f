"""Known HTTP/2 attacks against a real server, each bounded in frames and time.

Frames are built with hyperframe/hpack over a raw socket, so a test can send what a
well-behaved client library refuses to. Every flood must end in GOAWAY or a connection the
server closed (a send that merely stalls is not a close), with a bound on the requests that
reached the application (counted by the app, `/count`); every malformed request in
RST_STREAM or GOAWAY. The worker's memory stays bounded, and the server serves a fresh
connection normally afterwards.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import hpack
import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from tests._http import H2_PREFACE, H2Client, connect
from tests.conftest import Server, module_server

# hyper/h2 error codes (RFC 9113 §7).
PROTOCOL_ERROR = 0x1
REFUSED_STREAM = 0x7
ENHANCE_YOUR_CALM = 0xB

# How much a worker may grow while absorbing one attack.
RSS_GROWTH_LIMIT = 64 * 1024 * 1024

SERVER_ARGS = ('--http2-max-concurrent-streams', '50', '--http2-max-headers-size', '16384')


@pytest.fixture(scope='module', params=['auto', '2'])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with module_server(request, '--http', request.param) as running:
        yield running


def worker_rss(server: Server) -> int:
    [pid] = server.worker_pids()
    with open(f'/proc/{pid}/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    raise AssertionError('no VmRSS line')


class RawH2:
    """A client connection speaking frames directly, with no state machine to stop it."""

    def __init__(self, port: int, *, timeout: float = 5.0) -> None:
        self.sock = connect(port, timeout=timeout)
        self.timeout = timeout
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.buffer = b''
        # The server closed the connection (end of stream, reset, broken pipe).
        self.closed = False
        # A send found the server not reading for `timeout`: it may yet read, or close.
        self.stalled = False
        self.sent = 0
        self.sock.sendall(H2_PREFACE + SettingsFrame(0).serialize())

    def close(self) -> None:
        self.sock.close()

    def send(self, *frames: Frame) -> bool:
        """Send frames; False once the server has closed or stopped reading for `timeout`."""
        return self.send_bytes(b''.join(frame.serialize() for frame in frames))

    def send_bytes(self, data: bytes) -> bool:
        self.sock.settimeout(self.timeout)
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True
            return False
        except TimeoutError:
            self.stalled = True
            return False
        self.sent += len(data)
        return True

    def drain(self) -> None:
        """Read and drop whatever the server sent so far, noting a close."""
        self.sock.setblocking(False)
        try:
            while data := self.sock.recv(1 << 20):
                del data
            self.closed = True
        except BlockingIOError:
            pass
        except ConnectionResetError:
            self.closed = True
        finally:
            self.sock.setblocking(True)

    def wait_closed(self, timeout: float) -> list[Frame]:
        """Frames read until the server closes or `timeout` passes; stops at GOAWAY."""
        return self.read_until(GoAwayFrame, timeout=timeout)

    def headers(self, stream_id: int, path: str = '/', *, method: str = 'GET', end_stream: bool = True) -> HeadersFrame:
        block = self.encoder.encode(
            [(':method', method), (':path', path), (':scheme', 'http'), (':authority', 'localhost')]
        )
        frame = HeadersFrame(stream_id, block)
        frame.flags.add('END_HEADERS')
        if end_stream:
            frame.flags.add('END_STREAM')
        return frame

    def read_frames(self, timeout: float) -> list[Frame]:
        """Frames that arrive within `timeout` (PINGs are not acknowledged); stops early on close."""
        frames: list[Frame] = []
        deadline = time.monotonic() + timeout
        while not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                data = b''
            if not data:
                self.closed = True
                break
            self.buffer += data
            while len(self.buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
                if len(self.buffer) < 9 + length:
                    break
                frame.parse_body(memoryview(self.buffer[9 : 9 + length]))
                self.buffer = self.buffer[9 + length :]
                frames.append(frame)
        return frames

    def read_until(self, predicate: Any, timeout: float) -> list[Frame]:
        """Read until a frame of type `predicate` arrives, the connection closes, or the timeout."""
        frames: list[Frame] = []
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            batch = self.read_frames(min(0.2, max(0.0, deadline - time.monotonic())))
            frames += batch
            if any(isinstance(frame, predicate) for frame in batch):
                break
        return frames

    def status_of(self, frames: list[Frame], stream_id: int) -> int | None:
        for frame in frames:
            if isinstance(frame, HeadersFrame) and frame.stream_id == stream_id:
                return int(dict(self.decoder.decode(frame.data))[':status'])
        return None


def assert_serves_h2(port: int) -> None:
    """A fresh HTTP/2 connection is served normally: the attack left the server healthy."""
    with H2Client(port) as client:
        stream = client.request('GET', '/')
        response = client.wait([stream])[stream]
    assert response.status == 200, response
    assert response.body == b'Hello, world!'


def record_h2(port: int, record_id: str, *, until: str | None) -> dict[str, Any]:
    """The test app's record (see tests/apps/asgi_app.py) once in state `until` (None: as it is),
    asked over HTTP/2."""
    wait = '' if until is None else f'&until={until}&timeout=5'
    with H2Client(port, timeout=10.0) as client:
        stream = client.request('GET', f'/record?id={record_id}{wait}')
        response = client.wait([stream])[stream]
    assert response.status == 200, response
    return dict(json.loads(response.body))


def goaway_code(frames: list[Frame]) -> int | None:
    return next((frame.error_code for frame in frames if isinstance(frame, GoAwayFrame)), None)


def requests_counted(port: int, record_id: str) -> int:
    """How many requests `/count?id=record_id` reached the application."""
    return int(record_h2(port, record_id, until=None).get('requests', 0))


# Requests a rapid reset may get to the application before the connection is cut off. None
# do when each RST_STREAM arrives with its HEADERS (the stream is reset before it is accepted,
# and h2 sends GOAWAY after 20 such resets); a busy worker may accept some first, so the test
# allows up to the stream limit (50 here) of the 5000 streams the attack opens.
RAPID_RESET_REQUESTS_LIMIT = 50


def test_rapid_reset_is_cut_off(server: Server) -> None:
    """CVE-2023-44487: streams opened and cancelled at once, thousands of them."""
    before = worker_rss(server)
    record_id = f'rapid-reset-{uuid.uuid4()}'
    conn = RawH2(server.port)
    try:
        stream_id = 1
        for _ in range(50):
            batch: list[Frame] = []
            for _ in range(100):
                batch += [conn.headers(stream_id, f'/count?id={record_id}'), RstStreamFrame(stream_id, error_code=0x8)]
                stream_id += 2
            if not conn.send(*batch):
                break
        frames = conn.wait_closed(timeout=10.0)
        assert conn.closed or goaway_code(frames) == ENHANCE_YOUR_CALM, (conn.stalled, frames[-5:])
    finally:
        conn.close()
    assert worker_rss(server) - before < RSS_GROWTH_LIMIT
    assert_serves_h2(server.port)
    assert requests_counted(server.port, record_id) <= RAPID_RESET_REQUESTS_LIMIT


def test_continuation_flood_is_cut_off(server: Server) -> None:
    """CVE-2024-27316: a header block that never ends, one CONTINUATION frame after another."""
    before = worker_rss(server)
    record_id = f'continuation-{uuid.uuid4()}'
    conn = RawH2(server.port)
    try:
        encoder = hpack.Encoder()
        block = [(':method', 'GET'), (':path', f'/count?id={record_id}'), (':scheme', 'http')]
        conn.send(HeadersFrame(1, encoder.encode(block)))
        filler = encoder.encode([('x-filler', 'f' * 1000)], huffman=False)
        for _ in range(20_000):  # 20 MB of header block at most
            if not conn.send(ContinuationFrame(1, filler)):
                break
        frames = conn.wait_closed(timeout=10.0)
        assert conn.closed or goaway_code(frames) is not None, (conn.stalled, frames[-5:])
    finally:
        conn.close()
    assert worker_rss(server) - before < RSS_GROWTH_LIMIT
    assert_serves_h2(server.port)
    # The header block never ended: no request began.
    assert requests_counted(server.port, record_id) == 0


# What a control frame flood may send before the server closes: the flood rule's 8 x 1 MiB of
# overhead, plus what the socket buffers on both sides hold meanwhile.
FLOOD_VOLUME_LIMIT = 48 * 1024 * 1024


def control_frame(kind: str) -> Frame:
    if kind == 'ping':
        return PingFrame(0, b'12345678')
    # Twenty settings per frame, of identifiers a server must ignore (RFC 9113 §6.5.2): the
    # server reads far more than the acknowledgements it writes.
    return SettingsFrame(0, {0xF000 + n: n for n in range(20)})


@pytest.mark.parametrize('kind', ['settings', 'ping'])
def test_control_frame_flood_is_closed(server: Server, kind: str) -> None:
    """CVE-2019-9515 and CVE-2019-9512: SETTINGS or PING frames and nothing else, from a client
    that reads the acknowledgements. h2 answers each one, which would keep the connection busy
    for ever; the flood rule (8 bytes sent per byte of payload, past 1 MiB) closes it."""
    before = worker_rss(server)
    conn = RawH2(server.port, timeout=10.0)
    try:
        burst = control_frame(kind).serialize() * 1000
        deadline = time.monotonic() + 30.0
        while conn.sent < FLOOD_VOLUME_LIMIT and time.monotonic() < deadline and conn.send_bytes(burst):
            conn.drain()
        frames = conn.wait_closed(timeout=10.0)
        assert conn.closed or goaway_code(frames) is not None, (conn.sent, conn.stalled, frames[-5:])
        assert conn.sent < FLOOD_VOLUME_LIMIT
    finally:
        conn.close()
    assert worker_rss(server) - before < RSS_GROWTH_LIMIT
    assert_serves_h2(server.port)


@pytest.mark.parametrize('kind', ['settings', 'ping'])
def test_control_frame_flood_without_reading_is_not_buffered(server: Server, kind: str) -> None:
    """The same frames from a client that never reads: h2 stops reading once an acknowledgement
    cannot be written, so the server holds no more than the socket buffers do, and the client
    stalls (or is closed) before it has sent a bounded volume. Ending a connection whose client
    stopped reading altogether is a send timeout's job; memory is what this bounds."""
    before = worker_rss(server)
    conn = RawH2(server.port, timeout=3.0)
    try:
        burst = control_frame(kind).serialize() * 1000
        while conn.sent < FLOOD_VOLUME_LIMIT and conn.send_bytes(burst):
            pass
        assert conn.stalled or conn.closed, conn.sent
        assert conn.sent < FLOOD_VOLUME_LIMIT
        assert worker_rss(server) - before < RSS_GROWTH_LIMIT
    finally:
        conn.close()
    assert_serves_h2(server.port)


@pytest.mark.parametrize(
    'headers',
    [
        [(':method', 'GET'), (':scheme', 'http'), (':authority', 'localhost')],  # no :path
        [(':method', 'GET'), (':path', '/'), (':scheme', 'http'), (':bogus', 'x')],  # unknown pseudo-header
        [(':path', '/'), (':method', 'GET'), ('x-a', 'b'), (':scheme', 'http')],  # pseudo after regular
        [(':method', 'GET'), (':path', '/'), (':scheme', 'http'), ('Upper-Case', 'x')],  # upper-case name
        [(':method', 'GET'), (':path', '/'), (':scheme', 'http'), ('connection', 'keep-alive')],  # connection-specific
    ],
    ids=['missing-path', 'unknown-pseudo', 'pseudo-after-regular', 'upper-case', 'connection-header'],
)
def test_malformed_headers_are_refused(server: Server, headers: list[tuple[str, str]]) -> None:
    """RFC 9113 §8.1.1: a malformed request is a stream error (h2 treats some as connection errors)."""
    conn = RawH2(server.port)
    try:
        bad = HeadersFrame(1, conn.encoder.encode(headers))
        bad.flags.add('END_HEADERS')
        bad.flags.add('END_STREAM')
        conn.send(bad)
        frames = conn.read_until(RstStreamFrame | GoAwayFrame, timeout=5.0)
        resets = [frame for frame in frames if isinstance(frame, RstStreamFrame) and frame.stream_id == 1]
        if goaway_code(frames) is not None:
            assert goaway_code(frames) == PROTOCOL_ERROR, frames
            conn.read_frames(5.0)
            assert conn.closed
        else:
            assert (resets and resets[0].error_code == PROTOCOL_ERROR) or conn.status_of(frames, 1) == 400, frames
            # Only the stream was refused: the connection still serves.
            conn.send(conn.headers(3))
            frames = conn.read_until(DataFrame, timeout=5.0)
            assert conn.status_of(frames, 3) == 200, frames
    finally:
        conn.close()
    assert_serves_h2(server.port)


def test_oversized_header_list_is_refused(server: Server) -> None:
    conn = RawH2(server.port)
    try:
        block = conn.encoder.encode(
            [(':method', 'GET'), (':path', '/'), (':scheme', 'http'), *((f'x-big-{i}', 'v' * 1000) for i in range(40))],
            huffman=False,
        )
        # 40 KiB of headers, split to fit the 16 KiB frame size.
        frames_out: list[Frame] = [HeadersFrame(1, block[:16000])]
        rest = block[16000:]
        while rest:
            frames_out.append(ContinuationFrame(1, rest[:16000]))
            rest = rest[16000:]
        frames_out[-1].flags.add('END_HEADERS')
        frames_out[0].flags.add('END_STREAM')
        conn.send(*frames_out)
        frames = conn.read_until(RstStreamFrame, timeout=5.0)
        status = conn.status_of(frames, 1)
        refused = any(isinstance(f, RstStreamFrame | GoAwayFrame) for f in frames) or conn.closed
        assert status == 431 or refused, frames
        assert status != 200
    finally:
        conn.close()
    assert_serves_h2(server.port)


def test_streams_that_never_send_their_body(server: Server) -> None:
    """Requests whose bodies never come hold only their own streams, up to the stream limit."""
    record_ids = [f'stalled-{uuid.uuid4()}' for _ in range(3)]
    before = worker_rss(server)
    conn = RawH2(server.port)
    try:
        for index, record_id in enumerate(record_ids):
            frame = conn.headers(1 + 2 * index, f'/disconnect?id={record_id}', method='POST', end_stream=False)
            conn.send(frame)
        for record_id in record_ids:
            assert record_h2(server.port, record_id, until='waiting')['state'] in ('waiting', 'receiving')
        # Past the advertised limit (50), further streams are refused, not queued without bound.
        stream_id = 1 + 2 * len(record_ids)
        opened = [conn.headers(stream_id + 2 * i, '/disconnect', method='POST', end_stream=False) for i in range(60)]
        conn.send(*opened, WindowUpdateFrame(0, 1000))
        frames = conn.read_until(RstStreamFrame, timeout=5.0)
        refused = [f for f in frames if isinstance(f, RstStreamFrame) and f.error_code == REFUSED_STREAM]
        assert refused or goaway_code(frames) is not None, frames[-5:]
        # Other clients are served meanwhile.
        with H2Client(server.port) as other:
            stream = other.request('GET', '/')
            assert other.wait([stream])[stream].status == 200
    finally:
        conn.close()
    # Closing the connection tells the stalled requests their client is gone.
    for record_id in record_ids:
        assert record_h2(server.port, record_id, until='disconnected')['state'] == 'disconnected'
    assert worker_rss(server) - before < RSS_GROWTH_LIMIT
    assert_serves_h2(server.port)


def test_garbage_after_the_preface_closes_the_connection(server: Server) -> None:
    conn = RawH2(server.port)
    try:
        # A frame of unknown type is ignored (RFC 9113 §4.1), but a HEADERS frame on stream 0 is
        # a connection error: the server must answer GOAWAY(PROTOCOL_ERROR) and close.
        junk = b'\x00\x00\x05\x01\x05\x00\x00\x00\x00' + b'junk!'
        conn.send(PingFrame(0, b'abcdefgh'))
        conn.sock.sendall(junk)
        frames = conn.read_until(GoAwayFrame, timeout=5.0)
        assert goaway_code(frames) == PROTOCOL_ERROR, frames
        conn.read_frames(5.0)
        assert conn.closed
    finally:
        conn.close()
    assert_serves_h2(server.port)
