"""Logging as Granian does it, so that a `--log-config` written for Granian keeps working: the
server logs on `_granian`, application errors reach `_granian`'s handlers too, access lines go to
`granian.access`, both on stdout by default; Granian's formatter and handler names can be used.
A configuration naming `granian` (granian's former server logger) still gets the server records.
Fatal errors go to stderr, as JSON records with `--log-json`."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from tests._http import RawConnection, request_bytes
from tests.conftest import REPO_ROOT, granian_command, run_cli, run_server, server_env

WAIT = 20.0


def get(port: int, target: str) -> int:
    with RawConnection(port) as conn:
        conn.send(request_bytes('GET', target, headers=[('Connection', 'close')]))
        return conn.read_response().status


def wait_for_line(path: Path, needle: str) -> str:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for line in path.read_text(encoding='utf-8').splitlines() if path.exists() else ():
            if needle in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f'no line with {needle!r} in {path}:\n{path.read_text() if path.exists() else ""}')


def test_server_and_access_lines_go_to_stdout(tmp_path: Path) -> None:
    out, err = tmp_path / 'stdout', tmp_path / 'stderr'
    command = granian_command('--access-log', '--access-log-fmt', 'ACCESS %(path)s')
    with out.open('w') as stdout, err.open('w') as stderr:
        proc = subprocess.Popen(
            command, cwd=REPO_ROOT, env=server_env(), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
        )
        try:
            listening = wait_for_line(out, 'Listening at: ')
            wait_for_line(out, 'Started worker-1')
            port = int(listening.rsplit(':', 1)[1])
            assert get(port, '/to-stdout') == 404
            wait_for_line(out, 'ACCESS /to-stdout')
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(WAIT) == 0
    assert 'Listening at' not in err.read_text() and 'ACCESS' not in err.read_text()


def test_a_config_for_granians_logger_gets_server_records_and_app_errors(tmp_path: Path) -> None:
    log_file = tmp_path / 'server.log'
    config = tmp_path / 'logging.json'
    config.write_text(
        json.dumps(
            {
                'version': 1,
                # `generic` is Granian's formatter: a file written for Granian may name it.
                'handlers': {
                    'file': {'class': 'logging.FileHandler', 'filename': str(log_file), 'formatter': 'generic'}
                },
                'loggers': {'_granian': {'handlers': ['file'], 'level': 'INFO', 'propagate': False}},
            }
        )
    )
    with run_server('--log-config', str(config), ready=False) as server:
        listening = wait_for_line(log_file, '[INFO] Listening at: ')
        wait_for_line(log_file, 'Started worker-1')
        port = int(listening.rsplit(':', 1)[1])
        assert get(port, '/raise') == 500
        wait_for_line(log_file, 'RuntimeError: boom from /raise')
        assert server.stop() == 0
    assert not any('Listening at' in line for line in server.lines())


def test_a_config_for_granians_former_logger_name_still_gets_server_records(tmp_path: Path) -> None:
    log_file = tmp_path / 'server.log'
    config = tmp_path / 'logging.json'
    config.write_text(
        json.dumps(
            {
                'version': 1,
                'formatters': {'mine': {'format': 'MINE %(name)s %(message)s'}},
                'handlers': {'file': {'class': 'logging.FileHandler', 'filename': str(log_file), 'formatter': 'mine'}},
                'loggers': {'granian': {'handlers': ['file'], 'level': 'INFO', 'propagate': False}},
            }
        )
    )
    with run_server('--log-config', str(config), ready=False) as server:
        listening = wait_for_line(log_file, 'MINE _granian Listening at: ')
        wait_for_line(log_file, 'Started worker-1')
        assert get(int(listening.rsplit(':', 1)[1]), '/raise') == 500
        wait_for_line(log_file, 'MINE granian.asgi ')
        assert server.stop() == 0


def test_access_log_with_granians_access_handler(tmp_path: Path) -> None:
    config = tmp_path / 'logging.json'
    config.write_text(
        json.dumps(
            {
                'version': 1,
                'loggers': {'granian.access': {'handlers': ['access'], 'level': 'INFO', 'propagate': False}},
            }
        )
    )
    with run_server('--log-config', str(config), '--access-log', '--access-log-fmt', 'AL %(path)s') as server:
        mark = server.mark()
        assert get(server.port, '/through-access-handler') == 404
        server.wait_for(r'^AL /through-access-handler$', start=mark)
        assert server.stop() == 0


def test_fatal_errors_are_json_with_log_json() -> None:
    code, output = run_cli('--log-json', '--interface', 'asgi', '--port', '0', 'tests.apps.no_such_module:app')
    assert code == 1, output
    records = [json.loads(line) for line in output.splitlines() if line.startswith('{')]
    fatal = [record for record in records if record['level'] == 'CRITICAL']
    assert len(fatal) == 1, output
    assert fatal[0]['logger'] == '_granian'
    assert "cannot import module 'tests.apps.no_such_module'" in fatal[0]['message']
    assert all(line.startswith('{') for line in output.splitlines() if line.strip()), output


def test_fatal_errors_in_the_master_are_json_too(tmp_path: Path) -> None:
    taken = tmp_path / 'not-a-socket'
    taken.write_text('')
    code, output = run_cli('--log-json', '--interface', 'asgi', '--uds', str(taken), 'tests.apps.asgi_app:app')
    assert code == 1, output
    record = json.loads(output.strip().splitlines()[-1])
    assert record['level'] == 'CRITICAL' and 'cannot listen on' in record['message']


def test_an_import_traceback_is_the_exc_info_of_the_json_record(tmp_path: Path) -> None:
    (tmp_path / 'broken_app.py').write_text('raise RuntimeError("broken at import")\n')
    code, output = run_cli(
        '--log-json', '--interface', 'asgi', '--port', '0', '--working-dir', str(tmp_path), 'broken_app:app'
    )
    assert code == 1, output
    fatal = next(json.loads(line) for line in output.splitlines() if '"CRITICAL"' in line)
    assert 'RuntimeError: broken at import' in fatal['exc_info']
    assert all(line.startswith('{') for line in output.splitlines() if line.strip()), output


def test_granians_default_configuration_as_a_config_file(tmp_path: Path) -> None:
    from granian.log import DEFAULT_ACCESS_LOG_FORMAT, DEFAULT_ACCESSLOG_FMT, LOGGING_CONFIG

    assert DEFAULT_ACCESSLOG_FMT == DEFAULT_ACCESS_LOG_FORMAT
    config = tmp_path / 'logging.json'
    config.write_text(json.dumps(LOGGING_CONFIG))
    with run_server('--log-config', str(config), '--access-log', '--access-log-fmt', 'AL %(path)s') as server:
        mark = server.mark()
        assert get(server.port, '/with-granians-config') == 404
        server.wait_for(r'^AL /with-granians-config$', start=mark)
        assert server.stop() == 0
    assert any(line.startswith('[INFO] Shutting down granian') for line in server.lines())
