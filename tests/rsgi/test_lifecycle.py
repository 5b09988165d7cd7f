"""How a worker drives an RSGI application (spec 1.6): `__rsgi__` over `__call__`, a bare
callable, `__rsgi_init__(loop)` before serving and `__rsgi_del__(loop)` after, both while the
loop is not running, and the access log."""

from __future__ import annotations

import signal
from pathlib import Path

from tests._http import RawConnection, request_bytes
from tests.conftest import run_server

APP = 'tests.apps.rsgi_app:app'


def read_events(path: Path) -> list[tuple[str, int, str]]:
    if not path.exists():
        return []
    return [
        (event, int(pid), running) for event, pid, running in (line.split() for line in path.read_text().splitlines())
    ]


def test_rsgi_entry_point_is_preferred_and_init_and_del_run_once_per_worker(tmp_path: Path) -> None:
    events = tmp_path / 'events.log'
    with run_server(app=APP, interface='rsgi', workers=2, env={'RSGI_LOG': str(events)}) as server:
        pids = sorted(server.worker_pids())
        # Both workers ran init before they started serving, with the loop idle.
        assert sorted(read_events(events)) == sorted(('init', pid, 'running=False') for pid in pids)
        with server.client() as http:
            # App.__call__ (ASGI) raises: a 200 means __rsgi__ served it.
            response = http.get('/')
            assert response.status_code == 200
            assert response.text == 'Hello, world!'
        assert server.stop(signal.SIGTERM) == 0
    assert sorted(read_events(events)) == sorted(
        [*(('init', pid, 'running=False') for pid in pids), *(('del', pid, 'running=False') for pid in pids)]
    )


def test_a_bare_callable_is_served() -> None:
    with run_server(app='tests.apps.rsgi_app:plain', interface='rsgi') as server, server.client() as http:
        response = http.post('/some/path')
        assert response.status_code == 200
        assert response.text == 'plain POST /some/path'


def test_failing_init_stops_the_worker_before_serving(tmp_path: Path) -> None:
    with run_server(app=APP, interface='rsgi', env={'RSGI_INIT_FAIL': '1'}, ready=False) as server:
        code = server.wait_exit()
        assert code != 0, server.log_text
        assert not any('Started worker-' in line for line in server.log), server.log_text
        server.wait_for(r'^\[ERROR\] worker-1: the application failed in __rsgi_init__$')
        server.wait_for(r'RuntimeError: init refused \(RSGI_INIT_FAIL=1\)')
        server.wait_for(r'exit code 4')


def test_access_log(tmp_path: Path) -> None:
    with run_server('--access-log', app=APP, interface='rsgi') as server:
        mark = server.mark()
        with RawConnection(server.port) as conn:
            conn.send(request_bytes('GET', '/empty?code=204', headers=[('Connection', 'close')]))
            assert conn.read_response().status == 204
        server.wait_for(r'^\[[-0-9: +]+\] 127\.0\.0\.1 - "GET /empty HTTP/1\.1" 204 \d+\.\d{3}$', start=mark)
