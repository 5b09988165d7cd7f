"""Options that shape the worker process: the listening socket's backlog, the runtime's thread
count and the event loop the application runs on, each observed from outside the server (the
kernel's view of the socket, the worker's threads in /proc) or from inside the application."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests._http import get
from tests._kernel import Listener, listeners
from tests.conftest import run_server

APPS = {'asgi': 'tests.options._apps:asgi', 'rsgi': 'tests.options._apps:rsgi'}
# The name the runtime gives its threads (crates/serve/src/listener.rs, `runtime`).
RUNTIME_THREAD = 'granian-rt'


def thread_names(pid: int) -> list[str]:
    return [(task / 'comm').read_text().strip() for task in Path(f'/proc/{pid}/task').iterdir()]


@pytest.mark.parametrize('backlog', [7, 300])
def test_backlog_is_the_listen_queue_limit(backlog: int) -> None:
    with run_server('--backlog', str(backlog)) as server:
        assert listeners(server.port) == [Listener('127.0.0.1', backlog)]


@pytest.mark.parametrize('interface', ['asgi', 'wsgi'])
@pytest.mark.parametrize('threads', [1, 3])
def test_runtime_threads_per_worker(threads: int, interface: str) -> None:
    # WSGI applications run on blocking threads of their own (granian-wsgi-N), besides the runtime.
    app = f'tests.apps.{interface}_app:app'
    with run_server('--runtime-threads', str(threads), app=app, interface=interface, workers=2) as server:
        for _ in range(4):
            assert get(server.port).status == 200
        for pid in server.worker_pids():
            assert thread_names(pid).count(RUNTIME_THREAD) == threads, (pid, thread_names(pid))


@pytest.mark.parametrize('interface', sorted(APPS))
@pytest.mark.parametrize(
    ('loop', 'module'), [('asyncio', 'asyncio.unix_events'), ('uvloop', 'uvloop'), ('auto', 'rloop.loop')]
)
def test_loop_runs_the_application(interface: str, loop: str, module: str) -> None:
    # `auto` picks rloop first, then uvloop, as Granian does; the test extras install both.
    assert importlib.util.find_spec('uvloop') is not None
    assert importlib.util.find_spec('rloop') is not None
    with run_server('--loop', loop, app=APPS[interface], interface=interface) as server:
        response = get(server.port, '/loop')
    assert response.status == 200, response
    assert json.loads(response.body)['module'] == module
