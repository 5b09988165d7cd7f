"""What the master process loads (see `granian._supervisor` and `_worker.preload`).

Forked workers share the master's pages, so every module the master imports shows in each
process's resident memory. A master forking one worker imports neither asyncio (with ssl), nor
the event loop, nor the native module: only the worker does. One forking more imports them once,
before forking, and the workers share that copy. The application is imported by workers only.

Checked in `/proc/PID/maps`, which lists every shared library a process loaded: the C parts of
asyncio (`_asyncio`), ssl (`_ssl`) and ctypes (`_ctypes`), the event loop package's extension,
granian's `_native`, and `_decimal`, which tests/apps/memory_app.py imports. Each is first seen in
a worker, so that a Python where one of them is built in cannot make a check pass by not showing
it. Neither process loads multiprocessing (`_multiprocessing`): the master forks without it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from granian._loops import loops, resolve_loop

from tests._http import get
from tests.conftest import run_server

pytestmark = pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc/PID/maps (Linux)')

APP = 'tests.apps.memory_app:app'


def _origin(module: str) -> str | None:
    """The file a module is loaded from when it is a shared library, else None (built in)."""
    spec = importlib.util.find_spec(module)
    origin = None if spec is None else spec.origin
    return origin if origin is not None and origin.endswith('.so') else None


def _loop_directory() -> str:
    """The directory of the package the default event loop comes from (rloop, uvloop...)."""
    packages = loops.packages(str(resolve_loop('auto')))
    if not packages:
        pytest.skip('the default event loop is asyncio: no package of its own to look for')
    spec = importlib.util.find_spec(packages[0])
    assert spec is not None and spec.submodule_search_locations
    return str(Path(next(iter(spec.submodule_search_locations))).resolve()) + '/'


# What a worker loads and the master does not, whatever the number of workers.
APPLICATION = {'_decimal': _origin('_decimal')}
# What a worker loads before serving; the master too when it forks more than one.
WORKER = {name: _origin(name) for name in ('_asyncio', '_ssl', '_ctypes', 'granian._native')}
# What neither loads: the master forks its workers without multiprocessing.
NEITHER = {'_multiprocessing': _origin('_multiprocessing')}


def mapped(pid: int) -> set[str]:
    """The files `pid` has mapped, resolved."""
    paths = set()
    for line in Path(f'/proc/{pid}/maps').read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5].startswith('/'):
            paths.add(str(Path(parts[5]).resolve()))
    return paths


def loaded(pid: int, libraries: dict[str, str | None], loop_directory: str) -> set[str]:
    """Which of `libraries` (and `loop`, the event loop's extension) `pid` has loaded."""
    paths = mapped(pid)
    names = {name for name, origin in libraries.items() if origin is not None and str(Path(origin).resolve()) in paths}
    if any(path.startswith(loop_directory) for path in paths):
        names.add('loop')
    return names


def visible(libraries: dict[str, str | None]) -> set[str]:
    return {name for name, origin in libraries.items() if origin is not None}


def test_a_master_with_one_worker_loads_no_worker_module_nor_the_application() -> None:
    loop_directory = _loop_directory()
    everything = {**WORKER, **APPLICATION, **NEITHER}
    with run_server(app=APP, interface='rsgi', workers=1) as server:
        assert get(server.port, '/').body == b'0.3'
        [worker] = server.worker_pids()
        assert loaded(worker, everything, loop_directory) == visible(WORKER) | visible(APPLICATION) | {'loop'}
        assert loaded(server.proc.pid, everything, loop_directory) == set()


def test_a_master_with_two_workers_shares_the_worker_modules_but_not_the_application() -> None:
    loop_directory = _loop_directory()
    everything = {**WORKER, **APPLICATION, **NEITHER}
    with run_server(app=APP, interface='rsgi', workers=2) as server:
        assert get(server.port, '/').body == b'0.3'
        for worker in server.worker_pids():
            assert loaded(worker, everything, loop_directory) == visible(WORKER) | visible(APPLICATION) | {'loop'}
        assert loaded(server.proc.pid, everything, loop_directory) == visible(WORKER) | {'loop'}
