"""Clients that ask for a large response and stop reading it: over HTTP/1.1 they stop reading the
socket, over HTTP/2 they hold the flow-control window at zero (the stream's, or the
connection's). Each such response must hold no request slot and no WSGI thread for longer than
the send timeout: the server closes the connection (HTTP/1.1) or resets the stream (HTTP/2), and
the application's sends report the disconnect (WSGI: its iterable is closed)."""

from __future__ import annotations

import time

from hyperframe.frame import SettingsFrame

from tests._http import request_bytes
from tests.attacks._support import (
    CANCEL,
    MARGIN,
    RSS_GROWTH_LIMIT,
    TIMEOUT,
    RawH2,
    interface_of,
    probe,
    stats,
    stop_reading_over_http1,
    wait_stats,
    worker_rss,
)
from tests.conftest import Server

# More slow readers than a WSGI worker has threads (4 per core, at most 32).
CONNECTIONS = 40
# HTTP/2: streams per connection, on one connection whose streams get no window at all and one
# whose connection window is never replenished beyond the first 64 KiB.
H2_STREAMS = 50


def failures(server: Server) -> tuple[str, int]:
    """The application counter a given-up download shows in: ASGI and RSGI see their send fail,
    WSGI has its iterable closed."""
    name = 'download_closed' if interface_of(server) == 'wsgi' else 'download_failed'
    return name, stats(server.port)[name]


def test_slow_readers_over_http1(server: Server) -> None:
    counter, _ = failures(server)
    stop_reading_over_http1(server, request_bytes('GET', '/download'), CONNECTIONS, counter, b'HTTP/1.1 200 ')


def test_slow_readers_over_http2(server: Server) -> None:
    counter, seen = failures(server)
    before = worker_rss(server)
    # No window for any stream, and a connection window of 64 KiB that is never replenished.
    no_window = RawH2(server.port, {SettingsFrame.INITIAL_WINDOW_SIZE: 0})
    no_credit = RawH2(server.port)
    conns = [no_window, no_credit]
    try:
        for conn in conns:
            frames = b''.join(conn.request(1 + 2 * index, 'GET', '/download', end=True) for index in range(H2_STREAMS))
            conn.sock.sendall(frames)
        probe(server.port)
        peak = worker_rss(server)
        deadline = time.monotonic() + TIMEOUT + MARGIN
        streams = [1 + 2 * index for index in range(H2_STREAMS)]
        for conn in conns:
            conn.read(deadline, until=lambda conn: len(conn.resets) == H2_STREAMS)
            assert not conn.closed, 'the connection was closed, not the streams reset'
            assert conn.statuses == dict.fromkeys(streams, 200), conn.statuses
            assert conn.resets == dict.fromkeys(streams, CANCEL), conn.resets
        assert not no_window.data, no_window.data
        assert sum(no_credit.data.values()) <= 65535
        given_up = wait_stats(server.port, counter, seen + 2 * H2_STREAMS)
        assert given_up == seen + 2 * H2_STREAMS
        peak = max(peak, worker_rss(server))
    finally:
        for conn in conns:
            conn.close()
    assert peak - before < RSS_GROWTH_LIMIT, (before, peak)
    probe(server.port)
