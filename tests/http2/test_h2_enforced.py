"""The --http2-* limits are enforced, not only advertised: a client that goes past the window,
frame size, stream count or header list size the server announced gets the error RFC 9113 names,
and one that stays at the limit is served.

The frames are written with hyperframe (see `RawH2`), since a client library refuses to break
the limits. The server applies its own SETTINGS once the client acknowledges them (RFC 9113
§6.5.3), so every connection here acknowledges them first.
"""

from __future__ import annotations

import json
import time
import uuid

from hyperframe.frame import DataFrame, Frame, GoAwayFrame, HeadersFrame, RstStreamFrame, SettingsFrame

from tests.conftest import run_server
from tests.http2.test_h2_attacks import RawH2, goaway_code, record_h2

# RFC 9113 §7 error codes.
FLOW_CONTROL_ERROR = 0x3
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
WAIT = 5.0


class Conn(RawH2):
    """`RawH2` decoding every response head as it arrives, as HPACK's shared table requires."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.statuses: dict[int, int] = {}

    def read_frames(self, timeout: float) -> list[Frame]:
        frames = super().read_frames(timeout)
        for frame in frames:
            if isinstance(frame, HeadersFrame):
                self.statuses[frame.stream_id] = int(dict(self.decoder.decode(frame.data))[':status'])
        return frames


def settled(port: int) -> Conn:
    """A connection whose client has acknowledged the server's SETTINGS."""
    conn = Conn(port)
    frames = conn.read_until(SettingsFrame, timeout=WAIT)
    assert any(isinstance(frame, SettingsFrame) and 'ACK' not in frame.flags for frame in frames), frames
    conn.send(SettingsFrame(0, flags=['ACK']))
    return conn


def post(conn: Conn, stream_id: int, path: str, body: bytes) -> None:
    """A request whose body is one DATA frame, whatever its size."""
    data = DataFrame(stream_id, body)
    data.flags.add('END_STREAM')
    conn.send(conn.headers(stream_id, path, method='POST', end_stream=False), data)


def resets(frames: list[Frame], stream_id: int) -> list[int]:
    return [frame.error_code for frame in frames if isinstance(frame, RstStreamFrame) and frame.stream_id == stream_id]


def body_length(conn: Conn, stream_id: int) -> int:
    """The length /body-info reports for `stream_id`, once its whole response has come."""
    frames: list[Frame] = []
    deadline = time.monotonic() + WAIT
    while not any(isinstance(f, DataFrame) and f.stream_id == stream_id and 'END_STREAM' in f.flags for f in frames):
        assert not conn.closed and time.monotonic() < deadline, frames
        frames += conn.read_frames(0.1)
    assert conn.statuses.get(stream_id) == 200, frames
    data = b''.join(frame.data for frame in frames if isinstance(frame, DataFrame) and frame.stream_id == stream_id)
    return int(json.loads(data)['length'])


def test_stream_window_is_enforced() -> None:
    with run_server('--http', '2', '--http2-initial-stream-window-size', '1000') as server:
        conn = settled(server.port)
        try:
            # Exactly the window: served.
            post(conn, 1, '/body-info', b'a' * 1000)
            assert body_length(conn, 1) == 1000
            # One byte over a fresh stream's window: that stream is reset, the connection lives on.
            post(conn, 3, '/body-info', b'b' * 1001)
            frames = conn.read_until(RstStreamFrame, timeout=WAIT)
            assert resets(frames, 3) == [FLOW_CONTROL_ERROR], frames
            assert goaway_code(frames) is None
            post(conn, 5, '/body-info', b'c' * 10)
            assert body_length(conn, 5) == 10
        finally:
            conn.close()


def test_connection_window_is_enforced() -> None:
    # A frame size above the connection window lets one DATA frame cross it: the check is then
    # not raced by the window updates the server sends as the application reads.
    args = ('--http2-initial-connection-window-size', '100000', '--http2-max-frame-size', '200000')
    with run_server('--http', '2', *args) as server:
        conn = settled(server.port)
        try:
            post(conn, 1, '/body-info', b'a' * 100000)
            assert body_length(conn, 1) == 100000
        finally:
            conn.close()
        conn = settled(server.port)
        try:
            post(conn, 1, '/body-info', b'b' * 100001)
            frames = conn.read_until(GoAwayFrame, timeout=WAIT)
            frames += conn.read_frames(WAIT)
        finally:
            conn.close()
    assert goaway_code(frames) == FLOW_CONTROL_ERROR, frames
    assert conn.closed


def test_max_frame_size_is_enforced() -> None:
    with run_server('--http', '2', '--http2-max-frame-size', '32768') as server:
        conn = settled(server.port)
        try:
            # Above the protocol's default of 16384, within what this server announced.
            post(conn, 1, '/body-info', b'a' * 32768)
            assert body_length(conn, 1) == 32768
            post(conn, 3, '/body-info', b'b' * 32769)
            frames = conn.read_until(GoAwayFrame, timeout=WAIT)
            frames += conn.read_frames(WAIT)
        finally:
            conn.close()
    assert goaway_code(frames) == FRAME_SIZE_ERROR, frames
    assert conn.closed


def test_max_concurrent_streams_is_enforced() -> None:
    held = [f'held-{uuid.uuid4()}' for _ in range(2)]
    with run_server('--http', '2', '--http2-max-concurrent-streams', '2') as server:
        conn = settled(server.port)
        try:
            # Two requests the application holds open (it answers only on disconnect): the limit.
            conn.send(*(conn.headers(1 + 2 * index, f'/disconnect?id={id_}') for index, id_ in enumerate(held)))
            for record_id in held:
                assert record_h2(server.port, record_id, until='waiting')['state'] == 'waiting'
            conn.send(conn.headers(5, '/'))
            frames = conn.read_until(RstStreamFrame, timeout=WAIT)
            assert resets(frames, 5) == [REFUSED_STREAM], frames
            assert goaway_code(frames) is None
            # Once the client cancels one, a new stream fits again.
            conn.send(RstStreamFrame(1, error_code=CANCEL), conn.headers(7, '/'))
            frames = conn.read_until(DataFrame, timeout=WAIT)
            assert conn.statuses == {7: 200}, frames
        finally:
            conn.close()


PSEUDO = [(':method', 'GET'), (':path', '/'), (':scheme', 'http'), (':authority', 'localhost')]


def field_size(name: str, value: str) -> int:
    """RFC 9113 §6.5.2: a field counts its name and value plus 32 bytes."""
    return len(name) + len(value) + 32


def header_list(size: int) -> list[tuple[str, str]]:
    """A request header list of exactly `size` bytes."""
    filler = size - sum(field_size(name, value) for name, value in PSEUDO) - field_size('x-filler', '')
    return [*PSEUDO, ('x-filler', 'f' * filler)]


def header_list_statuses(limit: int, sizes: list[int]) -> tuple[dict[int, int], list[Frame]]:
    """Send one GET per header list size in `sizes` on one connection to a server with
    `--http2-max-headers-size limit`: the statuses by stream, and the frames that came."""
    with run_server('--http', '2', '--http2-max-headers-size', str(limit)) as server:
        conn = settled(server.port)
        try:
            for index, size in enumerate(sizes):
                frame = HeadersFrame(1 + 2 * index, conn.encoder.encode(header_list(size)))
                frame.flags.add('END_HEADERS')
                frame.flags.add('END_STREAM')
                conn.send(frame)
            frames: list[Frame] = []
            deadline = time.monotonic() + WAIT
            while len(conn.statuses) < len(sizes) and not conn.closed and time.monotonic() < deadline:
                frames += conn.read_frames(0.1)
        finally:
            conn.close()
    return conn.statuses, frames


def test_max_headers_size_is_enforced() -> None:
    statuses, frames = header_list_statuses(2000, [1999, 2100])
    assert statuses == {1: 200, 3: 431}, frames
    # Besides the 431, h2 may reset the refused stream (REFUSED_STREAM) so that no body follows.
    assert resets(frames, 3) in ([], [REFUSED_STREAM]), frames
    assert goaway_code(frames) is None


def test_header_list_of_the_limit_is_refused() -> None:
    """The limit is the size a header list must stay under, as SETTINGS_MAX_HEADER_LIST_SIZE is
    enforced by h2 (`HeaderBlock::load` refuses a list whose size reaches it): a list of exactly
    the limit gets 431, one byte less is served (see the test above)."""
    statuses, frames = header_list_statuses(2000, [2000])
    assert statuses == {1: 431}, frames
