"""What a user sees first: the version, the application, the interface, the HTTP versions, the
workers and the address in the first log lines; an import failure that names the module, the
working directory and `--working-dir`; a warning when an ASGI or WSGI application is served with
the default RSGI interface."""

from __future__ import annotations

import re

from granian import __version__

from tests.conftest import REPO_ROOT, run_cli, run_server


def test_first_lines_say_what_is_served_and_where() -> None:
    with run_server('--http', '1', '--loop', 'asyncio', workers=2) as server:
        lines = [line for line in server.lines() if line.startswith('[')]
        assert re.fullmatch(r'\[INFO\] Starting granian \(main PID: \d+\)', lines[0])
        assert lines[1] == (
            f'[INFO] granian {__version__} serving tests.apps.asgi_app:app: interface asgi, HTTP/1.1, 2 workers, '
            'event loop asyncio'
        )
        assert lines[2] == f'[INFO] Listening at: http://127.0.0.1:{server.port}'
        assert server.stop() == 0


def test_default_modes_in_the_first_lines() -> None:
    with run_server(interface='wsgi', app='tests.apps.wsgi_app:app', workers=None) as server:
        summary = server.lines()[1]
        assert 'interface wsgi, HTTP/1.1 and HTTP/2, 1 worker, event loop ' in summary
        assert server.stop() == 0


def test_an_app_that_cannot_be_imported_names_the_directory_and_the_option() -> None:
    code, output = run_cli('--interface', 'asgi', '--port', '0', 'no_such_app_module:app')
    assert code == 1, output
    error = next(line for line in output.splitlines() if line.startswith('Error: '))
    assert "cannot import module 'no_such_app_module'" in error
    assert f"working directory '{REPO_ROOT}'" in error
    assert '--working-dir' in error
    assert 'Traceback' not in output


def test_an_asgi_app_served_as_rsgi_gets_a_warning() -> None:
    with run_server(interface=None) as server:
        server.wait_for(r"\[WARNING\] 'tests.apps.asgi_app:app' looks like an ASGI application .* add --interface asgi")
        assert server.stop() == 0


def test_a_wsgi_app_served_as_rsgi_gets_a_warning() -> None:
    with run_server(interface=None, app='tests.apps.wsgi_app:app') as server:
        server.wait_for(r'looks like a WSGI application .* add --interface wsgi')
        assert server.stop() == 0


def test_an_rsgi_app_gets_no_warning() -> None:
    with run_server(interface='rsgi', app='tests.apps.rsgi_app:app') as server:
        assert server.stop() == 0
    assert 'looks like' not in server.log_text
