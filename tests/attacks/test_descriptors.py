"""A worker out of file descriptors (`EMFILE`): its open-file limit is lowered while it runs, under
a `--max-connections` too high to protect it, and more connections arrive than it can open. It
keeps serving the connections it has, logs the failure once (not once per attempt), does not
spin on the failing accept, and accepts again once descriptors are free."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator

import pytest

from tests._http import RawConnection, assert_serves, request_bytes
from tests.attacks._attack import APPS, Sockets, cpu_seconds, worker_pid
from tests.conftest import Server, module_server

ACCEPT_FAILED = 'cannot accept connections: Too many open files'
FLOOD = 80
# Descriptors the worker may open beyond those it holds when the attack starts.
SPARE = 12


@pytest.fixture(scope='module', params=sorted(APPS))
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with module_server(request, '--max-connections', '10000', app=APPS[request.param], interface=request.param) as s:
        yield s


def test_running_out_of_descriptors(server: Server) -> None:
    pid = worker_pid(server)
    limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    with RawConnection(server.port) as kept:
        kept.send(request_bytes('GET', '/'))
        assert kept.read_response().status == 200
        mark = server.mark()
        held = len(os.listdir(f'/proc/{pid}/fd'))
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (held + SPARE, limits[1]))
        try:
            with Sockets() as sockets:
                sockets.connect(server.port, FLOOD)
                server.wait_for(ACCEPT_FAILED, start=mark, timeout=5.0)
                cpu_before = cpu_seconds(pid)
                start = time.monotonic()
                # Out of descriptors, the connection it has is served all along.
                while time.monotonic() - start < 2.0:
                    kept.send(request_bytes('GET', '/'))
                    assert kept.read_response().status == 200
                    sockets.connect(server.port, 4)
                    time.sleep(0.1)
                busy = cpu_seconds(pid) - cpu_before
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
    # Once per 10 seconds, however many accepts failed.
    failures = [line for line in server.lines(mark) if ACCEPT_FAILED in line]
    assert len(failures) == 1, failures
    assert 'open connections, new ones wait in the listen queue' in failures[0]
    # Pausing between attempts, the worker used little CPU while the flood lasted.
    assert busy < 0.6, f'{busy:.2f}s of CPU in 2s'
    assert_serves(server.port)
