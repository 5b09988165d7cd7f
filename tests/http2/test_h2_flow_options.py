"""HTTP/2 flow options at work: `--http2-max-send-buffer-size` bounds what the server buffers for
a stream whose client does not read, and `--http2-adaptive-window` grows the windows the server
grants an uploading client beyond the initial 65535 bytes."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import h2.config
import h2.connection
import h2.events
import hpack
from hyperframe.frame import HeadersFrame, SettingsFrame, WindowUpdateFrame

from tests._http import H2_PREFACE, app_record, connect
from tests.conftest import run_server

KIB = 1024
MIB = 1024 * KIB
CHUNK = 64 * KIB
MAX_WINDOW = 2**31 - 1
SPEC_WINDOW = 65535  # RFC 9113 §6.9.2: every window starts here


def chunks_pushed_until_blocked(port: int, record_id: str, *, quiet: float = 0.5, timeout: float = 10.0) -> int:
    """The chunks the /stream app has sent once its count stops moving for `quiet` seconds: it is
    blocked in `send`."""
    deadline = time.monotonic() + timeout
    sent, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now_sent = app_record(port, record_id)['sent']
        if now_sent != sent:
            sent, since = now_sent, time.monotonic()
        elif sent > 0 and time.monotonic() - since >= quiet:
            return sent
        time.sleep(0.05)
    raise AssertionError(f'the app never blocked: {sent} chunks sent')


def pushed_to_a_client_that_does_not_read(send_buffer: int) -> int:
    """How many `CHUNK`-byte chunks an application streams into a stream whose client grants the
    largest windows (so flow control holds nothing back) and then reads nothing.

    What the application gets rid of is what the server buffers for the stream (at most the send
    buffer size), plus what the kernel holds in the two sockets (the client's receive buffer is
    pinned small; the server's send buffer is whatever the kernel grants, about the same every
    run), plus the chunks in the channel between the application and the connection.
    """
    record_id = f'send-buffer-{uuid.uuid4()}'
    with run_server('--http2-max-send-buffer-size', str(send_buffer)) as server:
        sock = connect(server.port, timeout=5.0, receive_buffer=4096)
        try:
            headers = HeadersFrame(
                1,
                hpack.Encoder().encode(
                    [
                        (':method', 'GET'),
                        (':path', f'/stream?n=1000&size={CHUNK}&id={record_id}'),
                        (':scheme', 'http'),
                        (':authority', 'localhost'),
                    ]
                ),
            )
            headers.flags.add('END_HEADERS')
            headers.flags.add('END_STREAM')
            sock.sendall(
                H2_PREFACE
                + SettingsFrame(0, {SettingsFrame.INITIAL_WINDOW_SIZE: MAX_WINDOW}).serialize()
                + WindowUpdateFrame(0, MAX_WINDOW - SPEC_WINDOW).serialize()
                + headers.serialize()
            )
            return chunks_pushed_until_blocked(server.port, record_id)
        finally:
            sock.close()


def test_send_buffer_bounds_what_a_stalled_stream_buffers() -> None:
    small, large = 16 * KIB, 8 * MIB
    difference = (pushed_to_a_client_that_does_not_read(large) - pushed_to_a_client_that_does_not_read(small)) * CHUNK
    # Everything but the server's stream buffer is the same in both runs: the difference is the
    # difference in send buffer sizes (within a quarter, for the kernel's share moving a little).
    assert 0.75 * (large - small) <= difference <= 1.25 * (large - small), difference / MIB


@dataclass
class Upload:
    length: int  # what the application received
    largest_connection_window: int  # the most the client was ever allowed to send, by level
    largest_stream_window: int
    pings: int  # PINGs from the server (h2 answers them)


def upload(port: int, size: int) -> Upload:
    """POST `size` bytes to /body-info as fast as the server's windows allow."""
    sock = connect(port, timeout=10.0)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_connection()
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(
        stream_id,
        [
            (b':method', b'POST'),
            (b':path', b'/body-info'),
            (b':scheme', b'http'),
            (b':authority', b'localhost'),
            (b'content-length', str(size).encode()),
        ],
    )
    left, body, ended = size, b'', False
    result = Upload(0, 0, 0, 0)
    deadline = time.monotonic() + 20.0
    try:
        while not ended:
            assert time.monotonic() < deadline, 'upload still running at the deadline'
            while left:
                # Everything both windows allow, before reading again.
                size_now = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size, left)
                if size_now <= 0:
                    break
                conn.send_data(stream_id, b'u' * size_now, end_stream=size_now == left)
                left -= size_now
            sock.sendall(conn.data_to_send())
            data = sock.recv(65536)
            assert data, 'server closed the connection'
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.PingReceived):
                    result.pings += 1
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    ended = True
                elif isinstance(event, h2.events.StreamReset | h2.events.ConnectionTerminated):
                    raise AssertionError(f'upload refused: {event}')
            result.largest_connection_window = max(result.largest_connection_window, conn.outbound_flow_control_window)
            if left:
                result.largest_stream_window = max(
                    result.largest_stream_window, conn.local_flow_control_window(stream_id)
                )
            sock.sendall(conn.data_to_send())
    finally:
        sock.close()
    result.length = json.loads(body)['length']
    return result


def test_fixed_windows_stay_at_their_initial_size() -> None:
    fixed = (
        '--http2-initial-connection-window-size',
        str(SPEC_WINDOW),
        '--http2-initial-stream-window-size',
        str(SPEC_WINDOW),
    )
    with run_server('--http', '2', '--no-http2-adaptive-window', *fixed) as server:
        result = upload(server.port, 4 * MIB)
    assert result.length == 4 * MIB
    assert result.largest_connection_window == SPEC_WINDOW
    assert result.largest_stream_window == SPEC_WINDOW
    assert result.pings == 0


def test_adaptive_window_grows_the_windows_during_an_upload() -> None:
    """hyper starts adaptive windows at 65535 and measures the bandwidth-delay product with PINGs;
    a client that keeps its windows full makes each measurement double them."""
    with run_server('--http', '2', '--http2-adaptive-window') as server:
        result = upload(server.port, 4 * MIB)
    assert result.length == 4 * MIB
    assert result.pings >= 1
    assert result.largest_connection_window > SPEC_WINDOW
    assert result.largest_stream_window > SPEC_WINDOW
