"""Websocket peers that stop reading while the application sends: each must be dropped within the
send timeout of its connection filling up (the application's send then fails), over HTTP/1.1 and
over HTTP/2 (RFC 8441). ASGI and RSGI only: WSGI has no websockets."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hyperframe.frame import SettingsFrame

from tests.attacks._support import (
    CANCEL,
    MARGIN,
    RSS_GROWTH_LIMIT,
    TIMEOUT,
    RawH2,
    attacked_server,
    probe,
    stats,
    stop_reading_over_http1,
    wait_stats,
    worker_rss,
)
from tests.conftest import Server

CONNECTIONS = 20
H2_STREAMS = 10
HANDSHAKE = (
    b'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
)


@pytest.fixture(scope='module', params=['asgi', 'rsgi'])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with attacked_server(request.param) as running:
        yield running


def test_websocket_peers_that_stop_reading_over_http1(server: Server) -> None:
    stop_reading_over_http1(server, HANDSHAKE, CONNECTIONS, 'ws_failed', b'HTTP/1.1 101 ')


def test_websocket_peers_that_stop_reading_over_http2(server: Server) -> None:
    seen = stats(server.port)['ws_failed']
    before = worker_rss(server)
    # Websockets on streams that get no window at all: the server can send nothing.
    conn = RawH2(server.port, {SettingsFrame.INITIAL_WINDOW_SIZE: 0})
    try:
        frames = b''.join(
            conn.request(
                1 + 2 * index,
                'CONNECT',
                '/ws',
                [(':protocol', 'websocket'), ('sec-websocket-version', '13')],
                end=False,
            )
            for index in range(H2_STREAMS)
        )
        conn.sock.sendall(frames)
        probe(server.port)
        peak = worker_rss(server)
        deadline = time.monotonic() + TIMEOUT + MARGIN
        conn.read(deadline, until=lambda conn: len(conn.resets) == H2_STREAMS)
        streams = [1 + 2 * index for index in range(H2_STREAMS)]
        assert conn.statuses == dict.fromkeys(streams, 200), conn.statuses
        assert conn.resets == dict.fromkeys(streams, CANCEL), conn.resets
        dropped = wait_stats(server.port, 'ws_failed', seen + H2_STREAMS)
        assert dropped == seen + H2_STREAMS
        peak = max(peak, worker_rss(server))
    finally:
        conn.close()
    assert peak - before < RSS_GROWTH_LIMIT, (before, peak)
    probe(server.port)
