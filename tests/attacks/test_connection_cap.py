"""More connections than `--max-connections` (32 here): the worker never holds more; a flood of
connections that send nothing is shed from the idle end, so a new client is still answered at
once; and connections busy with requests keep their slots while newcomers wait in the listen
queue (accepted later, never dropped)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests._http import RawConnection, assert_serves, request_bytes
from tests.attacks._attack import APPS, Rss, Sockets, open_sockets, probe, worker_pid
from tests.conftest import Server, module_server

CAP = 32
FLOOD = 120
RSS_BOUND = 32 * 2**20
# A path each test app answers after sleeping this long (query parameter by interface).
SLOW_SECONDS = 2.0
SLOW = {
    'asgi': f'/slow?s={SLOW_SECONDS}',
    'rsgi': f'/slow?s={SLOW_SECONDS}',
    'wsgi': f'/sleep?seconds={SLOW_SECONDS}',
}


@pytest.fixture(scope='module', params=sorted(APPS))
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    # Enough WSGI threads that every capped connection runs its request at once.
    args = ['--max-connections', str(CAP)]
    if request.param == 'wsgi':
        args += ['--blocking-threads', str(CAP)]
    with module_server(request, *args, app=APPS[request.param], interface=request.param) as running:
        running.interface = request.param  # type: ignore[attr-defined]
        yield running


def test_a_flood_of_silent_connections_does_not_lock_clients_out(server: Server) -> None:
    pid = worker_pid(server)
    baseline = open_sockets(pid)
    memory = Rss(server, RSS_BOUND)
    most = 0
    with Sockets() as sockets:
        start = time.monotonic()
        sockets.connect(server.port, FLOOD)
        while time.monotonic() - start < 2.5:
            probe(server.port)
            # The flood keeps coming: the connections shed are replaced.
            sockets.connect(server.port, 8)
            most = max(most, open_sockets(pid) - baseline)
            memory.sample()
            time.sleep(0.1)
    memory.check()
    assert most <= CAP, f'the worker held {most} connections (cap {CAP})'
    assert_serves(server.port)


def test_busy_connections_keep_their_slots_and_newcomers_wait(server: Server) -> None:
    slow = SLOW[server.interface]  # type: ignore[attr-defined]
    busy: list[RawConnection] = []
    try:
        for _ in range(CAP):
            conn = RawConnection(server.port, timeout=10.0)
            busy.append(conn)
            conn.send(request_bytes('GET', slow))
        # Every slot holds a request in flight: a newcomer waits in the listen queue...
        started = time.monotonic()
        answered: list[float] = []

        def newcomer() -> None:
            with RawConnection(server.port, timeout=10.0) as conn:
                conn.send(request_bytes('GET', '/', headers=[('Connection', 'close')]))
                response = conn.read_response()
                assert response.status == 200, response
                answered.append(time.monotonic() - started)

        thread = threading.Thread(target=newcomer)
        thread.start()
        for conn in busy:
            assert conn.read_response().status == 200
        thread.join(10.0)
        # ...and is served once a request finished and its slot is free, not refused.
        assert answered, 'the newcomer was not answered'
        assert answered[0] >= SLOW_SECONDS * 0.75, f'answered after {answered[0]:.2f}s, beyond the cap'
    finally:
        for conn in busy:
            conn.close()
    assert_serves(server.port)
