"""Slowloris: many HTTP/1.1 connections, each sending its request head a byte at a time and never
finishing it. Each is dropped once `--http1-header-read-timeout` passes from the accept (2 s
here), and meanwhile the others are served."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests._http import assert_serves
from tests.attacks._attack import APPS, Rss, Sockets, probe
from tests.conftest import Server, module_server

HEADER_TIMEOUT_MS = 2000
CONNECTIONS = 300
# Each connection holds a read buffer and a task: a few MiB for all of them at most.
RSS_BOUND = 32 * 2**20


@pytest.fixture(scope='module', params=sorted(APPS))
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    args = ('--http1-header-read-timeout', str(HEADER_TIMEOUT_MS))
    with module_server(request, *args, app=APPS[request.param], interface=request.param) as running:
        yield running


def test_trickled_heads_are_dropped_and_others_served(server: Server) -> None:
    memory = Rss(server, RSS_BOUND)
    head = b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '
    with Sockets() as sockets:
        start = time.monotonic()
        attackers = sockets.connect(server.port, CONNECTIONS, b'G')
        sent = 1
        probes = []
        # Trickle one more byte of the head on every connection every 200 ms, past the timeout.
        while time.monotonic() - start < HEADER_TIMEOUT_MS / 1000 + 1.5:
            byte = head[sent : sent + 1] or b'x'
            sockets.send_each(attackers, byte)
            sent += 1
            probes.append(probe(server.port))
            memory.sample()
            time.sleep(0.2)
        closed = sum(Sockets.closed_by_server(sock) for sock in attackers)
    memory.check()
    # Every trickling connection was dropped by the deadline, counted from its accept.
    assert closed == CONNECTIONS, f'{CONNECTIONS - closed} connections still open'
    assert max(probes) < 1.0
    assert_serves(server.port)
