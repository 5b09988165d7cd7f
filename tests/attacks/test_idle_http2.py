"""Idle HTTP/2 connections, many of them: some send the preface alone (no SETTINGS frame), the
others the whole client preface and then never open a stream. The first are dropped once
`--http1-header-read-timeout` passes (1 s here), the others get GOAWAY once `--http2-idle-timeout`
passes (2 s), and meanwhile new clients are served over both protocols."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from hyperframe.frame import Frame, GoAwayFrame, SettingsFrame

from tests._http import H2_PREFACE, H2Client, assert_serves
from tests.attacks._attack import APPS, PROBE_DEADLINE, Rss, Sockets, probe
from tests.conftest import Server, module_server

HEADER_TIMEOUT_S = 1.0
IDLE_TIMEOUT_S = 2.0
CONNECTIONS = 200
# An HTTP/2 connection's state is some tens of KiB before any stream.
RSS_BOUND = 48 * 2**20


@pytest.fixture(scope='module', params=sorted(APPS))
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    args = (
        '--http1-header-read-timeout',
        str(int(HEADER_TIMEOUT_S * 1000)),
        '--http2-idle-timeout',
        str(IDLE_TIMEOUT_S),
    )
    with module_server(request, *args, app=APPS[request.param], interface=request.param) as running:
        yield running


def frames_until_close(sock: socket.socket) -> tuple[list[Frame], bool]:
    """The frames already received on `sock`, and whether the server has closed it."""
    data = b''
    closed = False
    try:
        while chunk := sock.recv(65536):
            data += chunk
        closed = True
    except BlockingIOError:
        pass
    except OSError:
        closed = True
    frames = []
    while len(data) >= 9:
        frame, length = Frame.parse_frame_header(memoryview(data[:9]))
        if len(data) < 9 + length:
            break
        frame.parse_body(memoryview(data[9 : 9 + length]))
        frames.append(frame)
        data = data[9 + length :]
    return frames, closed


def probe_h2(port: int) -> None:
    """A request on a new HTTP/2 connection is answered within the probe deadline."""
    start = time.monotonic()
    with H2Client(port, timeout=PROBE_DEADLINE) as client:
        stream = client.request('GET', '/')
        response = client.wait([stream], timeout=PROBE_DEADLINE)[stream]
    assert response.status == 200 and response.body == b'Hello, world!', response
    assert time.monotonic() - start < PROBE_DEADLINE


def hold(server: Server, memory: Rss, until: float) -> None:
    """Probe both protocols every quarter second until `until` (a monotonic time)."""
    while time.monotonic() < until:
        probe(server.port)
        probe_h2(server.port)
        memory.sample()
        time.sleep(0.25)


def test_idle_connections_are_closed_and_others_served(server: Server) -> None:
    memory = Rss(server, RSS_BOUND)
    with Sockets() as sockets:
        start = time.monotonic()
        preface_only = sockets.connect(server.port, CONNECTIONS, H2_PREFACE)
        opened = sockets.connect(server.port, CONNECTIONS, H2_PREFACE + SettingsFrame(0).serialize())
        hold(server, memory, start + HEADER_TIMEOUT_S * 0.6)
        # Before the idle timeout, the connections that opened properly are all still there.
        for sock in opened:
            assert not frames_until_close(sock)[1], 'closed before the idle timeout'
        hold(server, memory, start + HEADER_TIMEOUT_S + 1.5)
        # No SETTINGS frame by the deadline: dropped, with nothing but the server's own SETTINGS.
        for sock in preface_only:
            frames, closed = frames_until_close(sock)
            assert closed, 'a preface without SETTINGS still open after the deadline'
            assert not any(isinstance(frame, GoAwayFrame) for frame in frames), frames
        hold(server, memory, start + IDLE_TIMEOUT_S + 2.0)
        # No stream for the idle timeout: GOAWAY, then closed.
        for sock in opened:
            frames, closed = frames_until_close(sock)
            assert closed, 'an idle connection still open after the idle timeout'
            goaway = [frame for frame in frames if isinstance(frame, GoAwayFrame)]
            assert goaway and goaway[0].error_code == 0, frames
    memory.check()
    assert_serves(server.port)
    probe_h2(server.port)
