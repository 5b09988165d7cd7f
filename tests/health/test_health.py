"""`--health-path` and `--ready-path`: probes answered by the server itself, before the
application and the access log; readiness fails once the server drains or is about to
(`--shutdown-delay`), and while the application's `--ready-check` fails.

pairs with crates/health (and the shutdown delay in granian._supervisor).
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from granian._options import ConfigError, validate

from tests._http import RawConnection, Response, get, request_bytes
from tests.conftest import Server, run_server

APP = 'tests.apps.deploy_app:asgi_app'
APPS = {
    'asgi': 'tests.apps.deploy_app:asgi_app',
    'rsgi': 'tests.apps.deploy_app:rsgi_app',
    'wsgi': 'tests.apps.deploy_app:wsgi_app',
}
PROBES = ('--health-path', '/healthz', '--ready-path', '/readyz')


def calls(port: int) -> int:
    """The app's call count (this call included)."""
    response = get(port, '/count')
    assert response.status == 200, response
    count: int = json.loads(response.body)['calls']
    return count


def until_status(port: int, path: str, status: int, timeout: float) -> Response:
    """GET `path` on new connections until it answers `status`; the deadline fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        response = get(port, path)
        if response.status == status or time.monotonic() > deadline:
            assert response.status == status, response
            return response


@pytest.fixture(scope='module')
def server() -> Iterator[Server]:
    with run_server(*PROBES, '--access-log', app=APP, interface='asgi') as running:
        yield running


def test_probes_never_reach_the_app_nor_the_access_log(server: Server) -> None:
    start = server.mark()
    before = calls(server.port)
    for path, body in (('/healthz', b'ok\n'), ('/readyz', b'ready\n'), ('/readyz?verbose=1', b'ready\n')):
        response = get(server.port, path)
        assert (response.status, response.body) == (200, body), path
        assert response.header('cache-control') == 'no-store'
        assert response.header('content-type') == 'text/plain; charset=utf-8'
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('HEAD', '/readyz') + request_bytes('POST', '/healthz', body=b'x'))
        head = conn.read_response(method='HEAD')
        assert (head.status, head.body, head.header('content-length')) == (200, b'', '6')
        post = conn.read_response()
        assert (post.status, post.header('allow')) == (405, 'GET, HEAD')
    assert calls(server.port) == before + 1
    server.wait_for(r'"GET /count HTTP/1\.1" 200', start=start, count=2)
    assert not any('healthz' in line or 'readyz' in line for line in server.lines(start))


def test_look_alike_paths_are_the_apps(server: Server) -> None:
    before = calls(server.port)
    for path in ('/healthz/', '/readyz2', '/HEALTHZ'):
        assert get(server.port, path).status == 200
    assert calls(server.port) == before + 4


def test_probes_in_the_access_log_when_asked() -> None:
    with run_server(*PROBES, '--access-log', '--health-access-log', app=APP, interface='asgi') as server:
        start = server.mark()
        assert get(server.port, '/healthz').status == 200
        assert get(server.port, '/readyz').status == 200
        server.wait_for(r'"GET /healthz HTTP/1\.1" 200', start=start)
        server.wait_for(r'"GET /readyz HTTP/1\.1" 200', start=start)
        assert calls(server.port) == 1


def test_readiness_fails_during_the_shutdown_delay() -> None:
    delay = 4.0
    with run_server('--ready-path', '/readyz', '--shutdown-delay', str(delay), app=APP, workers=2) as server:
        assert get(server.port, '/readyz').status == 200
        start = server.mark()
        signalled = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.wait_for(r'Received SIGTERM: not ready from now on, serving 4s more', start=start)
        server.wait_for(r'worker-\d: /readyz answers 503 from now on', start=start, count=2)
        response = get(server.port, '/readyz')
        assert (response.status, response.body) == (503, b'draining\n')
        # Meanwhile every request is served, on new connections, by both workers.
        pids = set()
        for _ in range(10):
            response = get(server.port, '/')
            assert response.status == 200, response
            pids.add(json.loads(response.body)['pid'])
            assert get(server.port, '/readyz').status == 503
        assert len(pids) >= 1
        assert time.monotonic() - signalled < delay, 'the checks above outlasted the delay'
        assert server.wait_exit() == 0
        assert time.monotonic() - signalled >= delay
        lines = server.lines(start)
        assert [line for line in lines if 'Shutting down granian' in line]


def test_another_signal_cuts_the_delay_short() -> None:
    with run_server('--ready-path', '/readyz', '--shutdown-delay', '60', app=APP) as server:
        start = server.mark()
        server.proc.send_signal(signal.SIGTERM)
        server.wait_for('Received SIGTERM', start=start)
        signalled = time.monotonic()
        server.proc.send_signal(signal.SIGINT)
        server.wait_for('Shutdown delay cut short by another signal', start=start)
        assert server.wait_exit() == 0
        assert time.monotonic() - signalled < 15


def test_sigint_has_no_delay() -> None:
    with run_server('--shutdown-delay', '60', app=APP) as server:
        start = server.mark()
        signalled = time.monotonic()
        assert server.stop(signal.SIGINT) == 0
        assert time.monotonic() - signalled < 15
        assert not any('Received SIGTERM' in line for line in server.lines(start))


def test_a_draining_worker_is_not_ready() -> None:
    """A worker being replaced (SIGHUP here; lifetime, memory and max-requests alike) drains:
    a probe that still reaches it, on a connection it kept, gets 503."""
    with run_server('--ready-path', '/readyz', app=APP) as server:
        # Several kept-alive connections to the old worker: the one a probe is in flight on
        # when the drain starts closes after its answer, the idle ones answer one more, 503.
        opened = [RawConnection(server.port) for _ in range(3)]
        conns = list(opened)
        try:
            for conn in conns:
                conn.send(request_bytes('GET', '/readyz'))
                assert conn.read_response().status == 200
            old = server.worker_pids()[-1]
            start = server.mark()
            server.proc.send_signal(signal.SIGHUP)
            server.wait_for(rf'Stopping worker-1 \(PID: {old}\)', start=start)
            answered = None
            deadline = time.monotonic() + 5.0
            while answered is None and conns and time.monotonic() < deadline:
                for conn in list(conns):
                    conn.send(request_bytes('GET', '/readyz'))
                    response = conn.read_response()
                    if response.header('connection') == 'close':
                        conns.remove(conn)
                    if response.status == 503:
                        answered = response
                        break
                    assert response.status == 200, response
            assert answered is not None, 'the draining worker never answered 503'
            assert answered.body == b'draining\n'
        finally:
            for conn in opened:
                conn.close()
        # The new worker is ready.
        server.wait_for(rf'Stopped worker-1 \(PID: {old}\)', start=start)
        assert get(server.port, '/readyz').status == 200


@pytest.fixture
def ready_state(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    state, calls_file = tmp_path / 'state', tmp_path / 'calls'
    state.write_text('ok')
    return state, calls_file, {'READY_STATE_FILE': str(state), 'READY_CALLS_FILE': str(calls_file)}


@pytest.mark.parametrize(
    ('interface', 'check'),
    [('asgi', 'ready_async'), ('asgi', 'ready'), ('wsgi', 'ready'), ('rsgi', 'ready_async')],
)
def test_the_ready_check_decides(ready_state: tuple[Path, Path, dict[str, str]], interface: str, check: str) -> None:
    state, _, env = ready_state
    with run_server(
        '--ready-path',
        '/readyz',
        '--ready-check',
        f'tests.apps.deploy_app:{check}',
        '--ready-check-ttl',
        '0.1',
        '--ready-check-timeout',
        '0.5',
        app=APPS[interface],
        interface=interface,
        env=env,
    ) as server:
        assert get(server.port, '/readyz').status == 200
        start = server.mark()
        state.write_text('no')
        assert until_status(server.port, '/readyz', 503, timeout=5.0).body == b'not ready\n'
        server.wait_for('Readiness check failed: it returned a false value', start=start)
        state.write_text('ok')
        until_status(server.port, '/readyz', 200, timeout=5.0)
        server.wait_for('Readiness check passes again', start=start)
        start = server.mark()
        state.write_text('raise')
        until_status(server.port, '/readyz', 503, timeout=5.0)
        server.wait_for('Readiness check failed: RuntimeError: the database is unreachable', start=start)
        state.write_text('ok')
        until_status(server.port, '/readyz', 200, timeout=5.0)
        # A check that does not answer in time is a failure, answered at the timeout.
        start = server.mark()
        state.write_text('slow')
        began = time.monotonic()
        until_status(server.port, '/readyz', 503, timeout=5.0)
        assert time.monotonic() - began < 3.0
        server.wait_for(r'Readiness check failed: no answer within 0\.5s', start=start)
        # The app itself was never called.
        assert calls(server.port) == 1


def test_a_probe_storm_calls_the_check_once(ready_state: tuple[Path, Path, dict[str, str]]) -> None:
    _, calls_file, env = ready_state
    with run_server(
        '--ready-path',
        '/readyz',
        '--ready-check',
        'tests.apps.deploy_app:ready',
        '--ready-check-ttl',
        '60',
        app=APP,
        env=env,
    ) as server:
        statuses: list[int] = []
        lock = threading.Lock()

        def probe() -> None:
            for _ in range(10):
                status = get(server.port, '/readyz').status
                with lock:
                    statuses.append(status)

        threads = [threading.Thread(target=probe) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * 80
        assert len(calls_file.read_text().splitlines()) == 1


def test_a_ready_check_that_cannot_be_imported_stops_the_worker() -> None:
    with run_server(
        '--ready-path', '/readyz', '--ready-check', 'tests.apps.deploy_app:missing', app=APP, ready=False
    ) as server:
        assert server.wait_exit() == 1
        assert re.search(r"ready_check: module 'tests\.apps\.deploy_app' has no attribute 'missing'", server.log_text)


@pytest.mark.parametrize(
    ('values', 'option'),
    [
        ({'ready_check': 'tests.apps.deploy_app:ready'}, 'ready_check'),
        ({'health_path': '/z', 'ready_path': '/z'}, 'ready_path'),
        ({'health_path': 'healthz'}, 'health_path'),
        ({'ready_path': '/ready?x=1'}, 'ready_path'),
        ({'ready_path': '/ready check'}, 'ready_path'),
        ({'ready_path': '/r', 'ready_check': 'no_colon'}, 'ready_check'),
        ({'health_access_log': True}, 'health_access_log'),
        ({'shutdown_delay': -1}, 'shutdown_delay'),
        ({'ready_check_timeout': 0}, 'ready_check_timeout'),
    ],
)
def test_invalid_combinations_are_refused(values: dict[str, object], option: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate('app', values)
    assert caught.value.option == option


def test_a_callable_is_a_ready_check() -> None:
    def check() -> bool:
        return True

    assert validate('app', {'ready_path': '/r', 'ready_check': check}).ready_check is check
