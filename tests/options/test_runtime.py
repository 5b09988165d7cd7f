"""Options that shape the worker process: the listening socket's backlog, the runtime's mode and
thread counts and the event loop the application runs on, each observed from outside the server
(the kernel's view of the socket, the worker's threads and descriptors in /proc) or from inside
the application."""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests._http import get
from tests._kernel import Listener, listener_inodes, listeners
from tests.conftest import Server, run_server

APPS = {'asgi': 'tests.options._apps:asgi', 'rsgi': 'tests.options._apps:rsgi'}
# The name the runtime gives its threads (crates/serve/src/listener.rs, `runtime`).
RUNTIME_THREAD = 'granian-rt'


def thread_names(pid: int) -> list[str]:
    names = []
    for task in Path(f'/proc/{pid}/task').iterdir():
        try:
            names.append((task / 'comm').read_text().strip())
        except FileNotFoundError:  # the thread exited meanwhile
            pass
    return names


def runtime_threads(pid: int) -> int:
    return thread_names(pid).count(RUNTIME_THREAD)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes (a thread names itself once it runs,
    which on a loaded machine may come after the worker said it serves); whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def descriptors_of(pid: int, inode: int) -> int:
    """How many of the process's descriptors refer to the socket `inode`."""
    count = 0
    for fd in Path(f'/proc/{pid}/fd').iterdir():
        try:
            count += os.readlink(fd) == f'socket:[{inode}]'
        except FileNotFoundError:  # closed meanwhile
            pass
    return count


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
            # A thread names itself once it first runs, which on a loaded machine can come
            # after the worker reported it serves: wait for it, within a deadline.
            deadline = time.monotonic() + 10
            while thread_names(pid).count(RUNTIME_THREAD) < threads and time.monotonic() < deadline:
                time.sleep(0.05)
            assert thread_names(pid).count(RUNTIME_THREAD) == threads, (pid, thread_names(pid))


@pytest.mark.parametrize('interface', sorted(APPS))
@pytest.mark.parametrize(
    ('loop', 'module'),
    [('asyncio', 'asyncio.unix_events'), ('uvloop', 'uvloop'), ('rloop', 'rloop.loop'), ('auto', 'rloop.loop')],
)
def test_loop_runs_the_application(interface: str, loop: str, module: str) -> None:
    # `auto` picks rloop, then uvloop, as Granian does; the test extras install both.
    assert importlib.util.find_spec('uvloop') is not None
    assert importlib.util.find_spec('rloop') is not None
    with run_server('--loop', loop, app=APPS[interface], interface=interface) as server:
        response = get(server.port, '/loop')
    assert response.status == 200, response
    assert json.loads(response.body)['module'] == module


def listening_descriptors(server: Server) -> int:
    """Descriptors of the listening socket in the worker: one per accept loop (the worker closes
    the one it inherited once the native server holds its own)."""
    (inode,) = listener_inodes(server.port)
    (worker,) = server.worker_pids()
    return descriptors_of(worker, inode)


@pytest.mark.parametrize('interface', ['asgi', 'rsgi', 'wsgi'])
@pytest.mark.parametrize('mode', ['st', 'mt'])
def test_runtime_modes(interface: str, mode: str) -> None:
    """`mt`: one runtime over the threads, one accept loop; `st`: a runtime per thread, each
    accepting on the shared socket itself."""
    app = f'tests.apps.{interface}_app:app'
    with run_server('--runtime-mode', mode, '--runtime-threads', '3', app=app, interface=interface) as server:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: get(server.port).status, range(32)))
        assert statuses == [200] * 32
        (pid,) = server.worker_pids()
        assert wait_until(lambda: runtime_threads(pid) == 3), thread_names(pid)
        assert listening_descriptors(server) == (3 if mode == 'st' else 1)


@pytest.mark.parametrize(('interface', 'mode'), [('rsgi', 'mt'), ('asgi', 'mt'), ('wsgi', 'mt')])
def test_runtime_mode_auto(interface: str, mode: str) -> None:
    # auto is one multi-threaded runtime, whatever the interface and thread count.
    app = f'tests.apps.{interface}_app:app'
    with run_server('--runtime-mode', 'auto', app=app, interface=interface) as server:
        assert get(server.port).status == 200
        assert listening_descriptors(server) == 1
    with run_server('--runtime-mode', 'auto', '--runtime-threads', '2', app=app, interface=interface) as server:
        assert get(server.port).status == 200
        # Two threads are always one multi-threaded runtime: one accept loop.
        assert listening_descriptors(server) == 1
    if mode == 'st':
        with run_server('--runtime-threads', '2', '--runtime-mode', 'st', app=app, interface=interface) as server:
            assert listening_descriptors(server) == 2


@pytest.mark.parametrize(('mode', 'threads', 'blocking'), [('mt', 1, 1), ('st', 2, 2)])
def test_runtime_blocking_threads_bound_file_reads(tmp_path: Path, mode: str, threads: int, blocking: int) -> None:
    """Static files are read on the runtime's blocking threads: many reads at once start no more
    than `--runtime-blocking-threads` of them (in `st`, shared out among the runtimes)."""
    (tmp_path / 'big.bin').write_bytes(os.urandom(2 * 1024 * 1024))
    args = ['--runtime-mode', mode, '--runtime-threads', str(threads), '--runtime-blocking-threads', str(blocking)]
    args += ['--static-path-mount', str(tmp_path), '--static-path-route', '/files']
    with run_server(*args, app=APPS['rsgi'], interface='rsgi') as server:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            sizes = list(pool.map(lambda _: len(get(server.port, '/files/big.bin').body), range(48)))
        assert sizes == [2 * 1024 * 1024] * 48
        (pid,) = server.worker_pids()
        # The runtime threads, plus the blocking ones: started (reads happened) and bounded.
        # Idle blocking threads stay for tokio's keep-alive (10 s), long enough to be counted.
        assert wait_until(lambda: runtime_threads(pid) == threads + blocking), thread_names(pid)
