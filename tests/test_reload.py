"""`--reload` as Granian does it: every file watchfiles' `DefaultFilter` lets through restarts the
workers (not only Python files), the ignore options and `reload_filter` extend that filter, the
watcher ticks every `--reload-tick` ms, and with `--reload-ignore-worker-failure` a worker that
fails waits for the next change instead of stopping the server. Environment files are read again
before a restart (SIGHUP or a change)."""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from granian import Granian
from granian._supervisor import _Supervisor, reload_filter

from tests.conftest import REPO_ROOT, Server, run_server, server_env

pytestmark = pytest.mark.skipif(importlib.util.find_spec('watchfiles') is None, reason='--reload needs watchfiles')

if importlib.util.find_spec('watchfiles') is not None:
    import watchfiles
    from watchfiles import Change

# Logged once the watcher sees changes: a change made before it might be missed.
WATCHING = r'Watching for changes in: '

APP = """\
import os

VERSION = {version!r}


async def app(scope, receive, send):
    if scope['type'] != 'http':
        return
    body = f'{{VERSION}} {{os.getpid()}}'.encode()
    await send({{'type': 'http.response.start', 'status': 200, 'headers': []}})
    await send({{'type': 'http.response.body', 'body': body}})
"""


@contextmanager
def reloading(tmp_path: Path, *args: str, version: str = 'first', ready: bool = True) -> Iterator[Server]:
    """A server with `--reload` on a module in `tmp_path` (its working directory)."""
    (tmp_path / 'reload_app.py').write_text(APP.format(version=version))
    with run_server(
        '--reload',
        '--working-dir',
        str(tmp_path),
        *args,
        interface='asginl',
        app='reload_app:app',
        cwd=tmp_path,
        env={'PYTHONDONTWRITEBYTECODE': '1'},
        ready=ready,
    ) as server:
        if ready:
            server.wait_for(WATCHING)
        yield server


def version_of(server: Server) -> str:
    with server.client() as http:
        return http.get('/').text.rsplit(' ', 1)[0]


def changed_paths(server: Server, start: int) -> list[str]:
    """The paths of the `Modified: PATH` (`Added:`, `Deleted:`) lines logged since `start`."""
    found = []
    for line in server.lines(start):
        match = re.search(r'\] (?:Added|Modified|Deleted): (.+)$', line)
        if match:
            found.append(match.group(1))
    return found


def test_any_file_restarts_the_workers(tmp_path: Path) -> None:
    templates = tmp_path / 'templates'
    templates.mkdir()
    (templates / 'index.html').write_text('<p>one</p>')
    with reloading(tmp_path) as server:
        mark = server.mark()
        (templates / 'index.html').write_text('<p>two</p>')
        server.wait_for(r'Changes detected, reloading workers', start=mark)
        server.wait_for_workers(1, start=mark)
        assert str(templates / 'index.html') in changed_paths(server, mark)
        assert server.stop() == 0


def test_ignored_names_paths_and_dirs_do_not_restart(tmp_path: Path) -> None:
    for name in ('build', 'generated', 'src'):
        (tmp_path / name).mkdir()
    ignored = [tmp_path / 'notes.log', tmp_path / 'generated' / 'out.py', tmp_path / 'build' / 'x.py']
    args = ('--reload-ignore-patterns', r'\.log$', '--reload-ignore-dirs', 'build')
    with reloading(tmp_path, *args, '--reload-ignore-paths', str(tmp_path / 'generated')) as server:
        mark = server.mark()
        for path in ignored:
            path.write_text('ignored')
        # Written after the ignored ones: its change is reported no earlier than theirs would be.
        (tmp_path / 'src' / 'view.py').write_text('x = 1\n')
        server.wait_for(r'Changes detected', start=mark)
        server.wait_for_workers(1, start=mark)
        assert changed_paths(server, mark) == [str(tmp_path / 'src' / 'view.py')]
        assert server.stop() == 0


def test_a_failing_worker_waits_for_the_next_change(tmp_path: Path) -> None:
    with reloading(tmp_path, '--reload-ignore-worker-failure') as server:
        assert version_of(server) == 'first'
        mark = server.mark()
        (tmp_path / 'reload_app.py').write_text('this is not python\n')
        server.wait_for(r'Unexpected exit from worker-1 \(exit code 3\)', start=mark)
        server.wait_for(r'worker-1 will start again on the next change', start=mark)
        assert server.proc.poll() is None
        mark = server.mark()
        (tmp_path / 'reload_app.py').write_text(APP.format(version='fixed'))
        server.wait_for_workers(1, start=mark)
        assert version_of(server) == 'fixed'
        assert server.stop() == 0


def test_a_failing_worker_stops_the_server_by_default(tmp_path: Path) -> None:
    with reloading(tmp_path) as server:
        mark = server.mark()
        (tmp_path / 'reload_app.py').write_text('this is not python\n')
        server.wait_for(r'Unexpected exit from worker-1 \(exit code 3\)', start=mark)
        assert server.wait_exit() == 1


def test_a_worker_failing_at_start_waits_too(tmp_path: Path) -> None:
    (tmp_path / 'reload_app.py').write_text('raise RuntimeError("not yet")\n')
    with run_server(
        '--reload',
        '--reload-ignore-worker-failure',
        '--working-dir',
        str(tmp_path),
        interface='asginl',
        app='reload_app:app',
        cwd=tmp_path,
        env={'PYTHONDONTWRITEBYTECODE': '1'},
        ready=False,
    ) as server:
        server.wait_for(r'worker-1 will start again on the next change')
        server.wait_for(WATCHING)
        mark = server.mark()
        (tmp_path / 'reload_app.py').write_text(APP.format(version='now'))
        server.wait_ready(1)
        server.wait_for_workers(1, start=mark)
        assert version_of(server) == 'now'
        assert server.stop() == 0


# -- the watcher's filter and tick -------------------------------------------------------------------


def test_filter_extends_default_filter(tmp_path: Path) -> None:
    options = Granian(
        'app',
        reload_ignore_dirs=['build'],
        reload_ignore_patterns=[r'\.log$'],
        reload_ignore_paths=[tmp_path / 'generated'],
    ).options
    accept = reload_filter(options)
    assert isinstance(accept, watchfiles.DefaultFilter)
    assert accept(Change.modified, str(tmp_path / 'templates' / 'index.html'))
    assert accept(Change.modified, str(tmp_path / 'app.py'))
    for path in ('build/app.py', 'notes.log', 'generated/app.py', '.git/HEAD', '__pycache__/a.pyc', 'x.swp'):
        assert not accept(Change.modified, str(tmp_path / path)), path


def test_reload_filter_class_is_extended_not_changed(tmp_path: Path) -> None:
    before = (watchfiles.PythonFilter.ignore_dirs, watchfiles.PythonFilter.ignore_entity_patterns)
    options = Granian('app', reload_filter=watchfiles.PythonFilter, reload_ignore_patterns=[r'^skip_']).options
    accept = reload_filter(options)
    assert isinstance(accept, watchfiles.PythonFilter)
    assert accept(Change.added, str(tmp_path / 'app.py'))
    assert not accept(Change.added, str(tmp_path / 'index.html'))
    assert not accept(Change.added, str(tmp_path / 'skip_me.py'))
    assert (watchfiles.PythonFilter.ignore_dirs, watchfiles.PythonFilter.ignore_entity_patterns) == before
    defaults = watchfiles.DefaultFilter.ignore_dirs
    reload_filter(Granian('app', reload_ignore_dirs=['build']).options)
    assert watchfiles.DefaultFilter.ignore_dirs == defaults


def test_watcher_ticks_every_reload_tick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def watch(*paths: Any, **kwargs: Any) -> Iterator[set[tuple[Any, str]]]:
        seen.update(kwargs, paths=paths)
        yield {(Change.modified, str(tmp_path / 'a.py'))}

    monkeypatch.setattr(watchfiles, 'watch', watch)
    supervisor = _Supervisor(Granian('app', reload=True, reload_tick=250, reload_paths=[tmp_path]).options)
    supervisor._watch()
    assert seen['step'] == 250
    assert seen['paths'] == (tmp_path,)
    assert isinstance(seen['watch_filter'], watchfiles.DefaultFilter)
    assert supervisor._changes == [('modified', str(tmp_path / 'a.py'))]


# -- hooks and environment files on a restart ---------------------------------------------------------


def test_reload_hooks_run_on_a_change(tmp_path: Path) -> None:
    module = tmp_path / 'watched.py'
    module.write_text('x = 1\n')
    server = Server(
        [sys.executable, '-m', 'tests.apps.api_serve', 'reload'],
        env=server_env({'RELOAD_DIR': str(tmp_path)}),
        cwd=REPO_ROOT,
    )
    try:
        server.wait_ready(1)
        server.wait_for(WATCHING)
        master = server.proc.pid
        mark = server.mark()
        module.write_text('x = 2\n')
        server.wait_for(rf'^hook: reload {master}$', start=mark)
        server.wait_for_workers(1, start=mark)
        assert server.stop() == 0
    finally:
        server.kill()


def test_environment_files_are_read_again_before_a_restart(tmp_path: Path) -> None:
    env_file = tmp_path / 'app.env'
    env_file.write_text('GRANIAN_TEST_ENV=one\n')
    with run_server('--env-files', str(env_file), app='tests.apps.ops_app:asgi') as server:
        with server.client() as http:
            assert json.loads(http.get('/').text)['env'] == 'one'
        env_file.write_text('GRANIAN_TEST_ENV=two\n')
        mark = server.mark()
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for(r'Stopped worker-1', start=mark)
        with server.client() as http:
            assert json.loads(http.get('/').text)['env'] == 'two'
        assert server.stop() == 0
    # A variable set in the environment still wins over the file.
    with run_server(
        '--env-files', str(env_file), app='tests.apps.ops_app:asgi', env={'GRANIAN_TEST_ENV': 'outside'}
    ) as server:
        env_file.write_text('GRANIAN_TEST_ENV=three\n')
        mark = server.mark()
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for(r'Stopped worker-1', start=mark)
        with server.client() as http:
            assert json.loads(http.get('/').text)['env'] == 'outside'
        assert server.stop() == 0
