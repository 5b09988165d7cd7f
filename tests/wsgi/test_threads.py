"""The blocking threads: requests run in parallel up to --blocking-threads, --backpressure bounds
the requests in flight, a thread waiting for the client does not hold the GIL, a thread's state
(threading.local) lasts from one request to the next, and threads beyond the first exit after
--blocking-threads-idle-timeout without work and start again on demand."""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._http import RawConnection, app_record, request_bytes
from tests.conftest import Server, module_server, run_server

SERVER_APP = 'tests.apps.wsgi_app:app'
SERVER_INTERFACE = 'wsgi'
SLEEP = 1.0


@pytest.fixture(scope='module')
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with module_server(request, '--blocking-threads', '4') as running:
        yield running


def parallel_gets(server: Server, targets: list[str]) -> tuple[float, list[httpx.Response]]:
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(targets)) as pool:
        responses = list(pool.map(lambda target: httpx.get(server.url + target, timeout=20.0), targets))
    return time.monotonic() - started, responses


def test_requests_run_in_parallel_on_distinct_threads(server: Server) -> None:
    elapsed, responses = parallel_gets(server, [f'/sleep?seconds={SLEEP}'] * 4)
    assert all(response.status_code == 200 for response in responses)
    assert elapsed < 2 * SLEEP, elapsed
    assert len({response.content for response in responses}) == 4


def test_more_requests_than_threads_wait_for_one(server: Server) -> None:
    elapsed, responses = parallel_gets(server, [f'/sleep?seconds={SLEEP}'] * 5)
    assert all(response.status_code == 200 for response in responses)
    # Four at once, then the fifth.
    assert 2 * SLEEP <= elapsed < 3.5 * SLEEP, elapsed
    assert len({response.content for response in responses}) == 4


def test_a_thread_waiting_for_the_request_body_does_not_hold_the_gil(server: Server) -> None:
    with RawConnection(server.port) as slow:
        slow.send(request_bytes('POST', '/body-info', headers=[('Content-Length', '10')]) + b'12345')
        # That thread is now blocked reading the body; the others keep serving.
        started = time.monotonic()
        for _ in range(20):
            assert httpx.get(server.url + '/', timeout=5.0).status_code == 200
        assert time.monotonic() - started < 5.0
        slow.send(b'67890')
        response = slow.read_response()
    assert response.status == 200
    assert response.body.startswith(b'{"length": 10')


def test_a_thread_waiting_for_a_slow_reader_does_not_hold_the_gil(server: Server) -> None:
    with RawConnection(server.port, receive_buffer=65536) as stalled:
        stalled.send(request_bytes('GET', '/stream?n=4096&size=65536'))
        assert stalled.read_head().status == 200
        # The streaming thread is blocked on a full channel; the others keep serving.
        for _ in range(20):
            assert httpx.get(server.url + '/', timeout=5.0).status_code == 200


def single_server(*args: str) -> contextlib.AbstractContextManager[Server]:
    """A server of its own, with `args` (one blocking thread by default)."""
    return run_server(*(args or ('--blocking-threads', '1')), app=SERVER_APP, interface=SERVER_INTERFACE)


def test_thread_state_lasts_between_requests() -> None:
    with single_server() as single, single.client() as http:
        first = http.get('/thread').json()
        second = http.get('/thread').json()
    assert first['thread'] == second['thread']
    assert second['served'] == first['served'] + 1


def test_backpressure_bounds_requests_in_flight() -> None:
    with single_server('--blocking-threads', '4', '--backpressure', '1') as single:
        elapsed, responses = parallel_gets(single, [f'/sleep?seconds={SLEEP}'] * 2)
    assert all(response.status_code == 200 for response in responses)
    # Four threads, but one request admitted at a time.
    assert elapsed >= 2 * SLEEP, elapsed


def test_sigterm_lets_the_requests_in_flight_finish() -> None:
    record_id = f'graceful-{uuid.uuid4()}'
    with single_server('--blocking-threads', '2') as running:
        with RawConnection(running.port, timeout=10.0) as conn:
            conn.send(request_bytes('GET', f'/stream?n=5&size=10&delay=0.2&id={record_id}'))
            assert conn.read_head().status == 200
            assert app_record(running.port, record_id, until='streaming')['state'] == 'streaming'
            running.proc.send_signal(signal.SIGTERM)
            chunks = []
            while chunk := conn.read_chunk():
                chunks.append(chunk)
        assert b''.join(chunks) == b''.join(bytes([97 + i]) * 10 for i in range(5))
        assert running.wait_exit() == 0


def wsgi_threads(pid: int) -> int:
    """The worker's application threads (named granian-wsgi-N by the server)."""
    count = 0
    for task in Path(f'/proc/{pid}/task').iterdir():
        try:
            count += (task / 'comm').read_text().startswith('granian-wsgi-')
        except FileNotFoundError:  # exited meanwhile
            pass
    return count


def wait_for_threads(pid: int, expected: int, timeout: float) -> float:
    """Poll until the worker has `expected` application threads; how long that took."""
    started = time.monotonic()
    while wsgi_threads(pid) != expected:
        assert time.monotonic() - started < timeout, (wsgi_threads(pid), expected)
        time.sleep(0.05)
    return time.monotonic() - started


def test_idle_threads_exit_and_come_back_under_load() -> None:
    idle = 5.0
    with single_server('--blocking-threads', '4', '--blocking-threads-idle-timeout', str(idle)) as running:
        (pid,) = running.worker_pids()
        # One thread to start with; the others start when requests find none free.
        wait_for_threads(pid, 1, timeout=10)
        for _ in range(2):
            elapsed, responses = parallel_gets(running, [f'/sleep?seconds={SLEEP}'] * 4)
            assert all(response.status_code == 200 for response in responses)
            assert len({response.content for response in responses}) == 4
            assert elapsed < 2 * SLEEP, elapsed
            assert wsgi_threads(pid) == 4
            # Without work, all but one leave once the idle timeout has passed, not before.
            waited = wait_for_threads(pid, 1, timeout=idle + 10)
            assert waited > idle - 1, waited
        # The one left serves on.
        assert httpx.get(running.url + '/', timeout=5.0).status_code == 200
