"""`--log-config`, `--log-json` and the errors of the logging flags.

A `dictConfig` file routes `granian.access` to a file while the loggers it leaves out keep
writing to stdout; `--log-json` turns server records (tracebacks included) into JSON lines; a
format with an unknown atom, an unreadable config file, or YAML without PyYAML stop the server
before it starts, saying why.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import pytest
import yaml
from granian.cli import LogConfigFile

from tests._http import RawConnection, request_bytes
from tests.conftest import Server, run_cli, run_server

WAIT = 10.0


def get(server: Server, target: str) -> int:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', target, headers=[('Connection', 'close')]))
        return conn.read_response().status


def wait_for_file_line(path: Path, needle: str) -> str:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text(encoding='utf-8').splitlines():
                if needle in line:
                    return line
        time.sleep(0.05)
    raise AssertionError(f'no line with {needle!r} in {path}')


def access_to_file_config(path: Path) -> dict[str, object]:
    return {
        'version': 1,
        'formatters': {'bare': {'format': 'FILE %(message)s'}},
        'handlers': {'file': {'class': 'logging.FileHandler', 'filename': str(path), 'formatter': 'bare'}},
        'loggers': {'granian.access': {'handlers': ['file'], 'level': 'INFO', 'propagate': False}},
    }


def test_json_config_routes_the_access_log_to_a_file(tmp_path: Path) -> None:
    access_file = tmp_path / 'access.log'
    config = tmp_path / 'logging.json'
    config.write_text(json.dumps(access_to_file_config(access_file)), encoding='utf-8')
    with run_server('--access-log', '--access-log-fmt', 'AL %(path)s %(status)d', '--log-config', str(config)) as srv:
        mark = srv.mark()
        assert get(srv, '/to-file') == 404
        assert wait_for_file_line(access_file, '/to-file') == 'FILE AL /to-file 404'
        # Not on stdout any more; the `_granian` logger, which the file does not name, still is.
        assert not srv.saw(r'AL /to-file', timeout=0.5, start=mark)
        assert any('Started worker-1' in line for line in srv.lines())


def test_yaml_config(tmp_path: Path) -> None:
    access_file = tmp_path / 'access.log'
    config = tmp_path / 'logging.yaml'
    config.write_text(yaml.safe_dump(access_to_file_config(access_file)), encoding='utf-8')
    with run_server('--access-log', '--access-log-fmt', 'AL %(path)s', '--log-config', str(config)) as srv:
        get(srv, '/from-yaml')
        assert wait_for_file_line(access_file, '/from-yaml') == 'FILE AL /from-yaml'


def test_env_var_names_the_config(tmp_path: Path) -> None:
    access_file = tmp_path / 'access.log'
    config = tmp_path / 'logging.json'
    config.write_text(json.dumps(access_to_file_config(access_file)), encoding='utf-8')
    env = {
        'GRANIAN_LOG_CONFIG': str(config),
        'GRANIAN_LOG_ACCESS_ENABLED': 'true',
        'GRANIAN_LOG_ACCESS_FMT': '%(path)s',
    }
    with run_server(env=env) as srv:
        get(srv, '/from-env')
        assert wait_for_file_line(access_file, '/from-env') == 'FILE /from-env'


def test_log_json_server_records() -> None:
    with run_server('--log-json', '--log-level', 'debug') as srv:
        mark = srv.mark()
        assert get(srv, '/raise') == 500
        srv.wait_for(r'"exc_info"', start=mark)
    records = [json.loads(line) for line in srv.lines() if line.startswith('{')]
    assert records, srv.lines()
    listening = next(record for record in records if record['message'].startswith('Listening at'))
    assert set(listening) == {'time', 'level', 'logger', 'message'}
    assert listening['level'] == 'INFO'
    assert listening['logger'] == '_granian'
    assert listening['time'][:4].isdigit() and 'T' in listening['time']
    failed = next(record for record in records if 'exc_info' in record)
    assert failed['level'] == 'ERROR'
    assert failed['logger'] == 'granian.asgi'
    assert 'Traceback (most recent call last)' in failed['exc_info']
    # Every line the server itself wrote is one JSON object.
    assert all(line.startswith('{') for line in srv.lines() if line.strip()), srv.lines()


def test_log_json_with_access_json_writes_access_objects_as_they_are() -> None:
    with run_server('--log-json', '--access-log', '--access-log-json') as srv:
        mark = srv.mark()
        get(srv, '/?both=1')
        line = srv.wait_for(r'"query_string": ?"both=1"', start=mark)[0].string
    record = json.loads(line)
    assert record['path'] == '/'
    assert 'message' not in record


@pytest.mark.parametrize(
    ('fmt', 'message'),
    [
        ('%(nope)s', 'unknown atom `nope`'),
        ('%(path)d', 'atom `path` is text, not a number'),
        ('%(status', 'unclosed'),
        ('%s', 'needs an atom name'),
        ('%(header{bad name})s', 'not a valid header name'),
    ],
)
def test_bad_access_log_format_stops_the_server(fmt: str, message: str) -> None:
    code, output = run_cli('--access-log', '--access-log-fmt', fmt, 'tests.apps.asgi_app:app')
    assert code != 0
    assert message in output
    assert '--access-log-fmt' in output


def test_unreadable_log_config(tmp_path: Path) -> None:
    config = tmp_path / 'broken.json'
    config.write_text('{not json', encoding='utf-8')
    code, output = run_cli('--log-config', str(config), 'tests.apps.asgi_app:app')
    assert code != 0
    assert 'is not valid JSON' in output


def test_log_config_refused_by_dictconfig(tmp_path: Path) -> None:
    config = tmp_path / 'bad.json'
    config.write_text(json.dumps({'version': 1, 'handlers': {'h': {'class': 'no.such.Handler'}}}), encoding='utf-8')
    code, output = run_cli('--log-config', str(config), 'tests.apps.asgi_app:app')
    assert code != 0
    assert 'log config:' in output
    assert 'no.such' in output or "'h'" in output


def test_yaml_without_pyyaml_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / 'logging.yml'
    config.write_text('version: 1\n', encoding='utf-8')
    monkeypatch.setitem(sys.modules, 'yaml', None)
    with pytest.raises(click.BadParameter, match='needs PyYAML'):
        LogConfigFile().convert(str(config), None, None)


def test_access_lines_bypass_logging_only_while_its_setup_is_granians() -> None:
    import logging

    from granian import log

    log.configure_logging()
    try:
        assert log.access_log_fd() == sys.stdout.fileno()
        extra = logging.NullHandler()
        log.access_logger.addHandler(extra)
        assert log.access_log_fd() is None
        log.access_logger.removeHandler(extra)
        log.configure_logging(json=True)
        assert log.access_log_fd() is None
        log.configure_logging(enabled=False)
        assert log.access_log_fd() is None
    finally:
        log.configure_logging()
