"""`--log-level` filters the server's records and `--no-log` silences them all (the one line that
says why the server cannot start is still written).

With `--no-log` or a level above INFO, the `Listening at` line other tests wait for is not
written, so these servers bind a port chosen up front and are ready once a request on it is
answered. Each test stops its server and reads the whole output once the process has exited:
absence is asserted on the complete log, never by waiting for a line not to come.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests._http import Response, get
from tests.conftest import READY_TIMEOUT, Server, free_port, run_cli, run_server

APP_ERROR = r'^\[ERROR\] Application exception$'


def get_when_serving(server: Server, port: int, target: str = '/') -> Response:
    """The response to the first GET on `target` the server answers (it binds before serving)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            return get(port, target)
        except OSError:
            if server.proc.poll() is not None or time.monotonic() > deadline:
                raise server.fail(f'not serving on port {port}') from None
            time.sleep(0.05)


@contextmanager
def quiet_server(*args: str) -> Iterator[tuple[Server, int]]:
    """A server started with `args` on a known port, serving; stopped (exit 0) after the block."""
    port = free_port()
    with run_server(*args, port=port, ready=False) as server:
        assert get_when_serving(server, port).status == 200
        yield server, port
        assert server.stop() == 0


@pytest.mark.parametrize('level', ['warning', 'warn'])
def test_warning_hides_info_and_keeps_errors(level: str) -> None:
    with quiet_server('--log-level', level) as (server, port):
        assert get(port, '/raise').status == 500
        server.wait_for(APP_ERROR)
    lines = server.lines()
    assert not [line for line in lines if line.startswith('[INFO]')], lines
    assert not any('Listening at' in line or 'Starting granian' in line for line in lines), lines


def test_critical_hides_application_errors() -> None:
    with quiet_server('--log-level', 'critical') as (server, port):
        assert get(port, '/raise').status == 500
    assert server.lines() == []


def test_debug_shows_debug_records() -> None:
    with run_server('--log-level', 'debug', workers=2) as server:
        assert server.stop() == 0
    lines = server.lines()
    assert '[INFO] Shutting down granian' in lines
    for worker in (1, 2):
        # A worker's last record before it drains its connections, logged at DEBUG.
        assert f'[DEBUG] Stopping worker-{worker}' in lines


def test_info_shows_no_debug_records() -> None:
    with run_server('--log-level', 'info') as server:
        assert server.stop() == 0
    lines = server.lines()
    assert any(line.startswith('[INFO] Stopped worker-1 ') for line in lines), lines
    assert not [line for line in lines if line.startswith('[DEBUG]')], lines


def test_no_log_writes_nothing_while_serving() -> None:
    # Even asking for the most: debug records and the access log stay off too.
    with quiet_server('--no-log', '--log-level', 'debug', '--access-log') as (server, port):
        assert get(port, '/raise').status == 500
        assert get(port, '/').body == b'Hello, world!'
    assert server.lines() == []


def test_no_log_still_says_why_the_server_cannot_start() -> None:
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = run_cli('--interface', 'asgi', '--no-log', '--port', str(port), 'tests.apps.asgi_app:app')
    assert code == 1
    assert output.splitlines() == [f'Error: cannot listen on 127.0.0.1:{port}: Address already in use']


def test_log_writes_the_lifecycle() -> None:
    with run_server('--log') as server:
        assert server.stop() == 0
    text = server.log_text
    for line in ('Starting granian', 'Listening at', 'Started worker-1', 'Shutting down granian', 'Stopped worker-1'):
        assert re.search(rf'^\[INFO\] {line}', text, re.MULTILINE), text
