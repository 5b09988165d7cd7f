"""What the master does around serving: the pid file, environment files, the process name,
and the working directory and factory options."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from granian._ops import EnvFileError, parse_env_file

from tests.conftest import REPO_ROOT, run_cli, run_server

ASGI = 'tests.apps.ops_app:asgi'


def test_pid_file_is_written_and_removed(tmp_path: Path) -> None:
    pid_file = tmp_path / 'granian.pid'
    with run_server('--pid-file', str(pid_file), app=ASGI) as server:
        assert pid_file.read_text().strip() == str(server.proc.pid)
        assert server.stop() == 0
    assert not pid_file.exists()


def test_env_files_are_loaded_before_the_app(tmp_path: Path) -> None:
    first = tmp_path / 'first.env'
    second = tmp_path / 'second.env'
    first.write_text('# settings\nGRANIAN_TEST_ENV=from-first\nOTHER=1\n')
    second.write_text('export GRANIAN_TEST_ENV="from second"  # later files win\n')
    with run_server('--env-files', str(first), '--env-files', str(second), app=ASGI) as server:
        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            assert client.get('/').json()['env'] == 'from second'


def test_environment_wins_over_env_files(tmp_path: Path) -> None:
    env_file = tmp_path / '.env'
    env_file.write_text('GRANIAN_TEST_ENV=from-file\n')
    with run_server('--env-files', str(env_file), app=ASGI, env={'GRANIAN_TEST_ENV': 'from-env'}) as server:
        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            assert client.get('/').json()['env'] == 'from-env'


def test_malformed_env_file_is_a_clear_error(tmp_path: Path) -> None:
    env_file = tmp_path / 'bad.env'
    env_file.write_text('GOOD=1\nnot a setting\n')
    code, output = run_cli('--interface', 'asgi', '--env-files', str(env_file), ASGI)
    assert code == 2
    assert f'Error: env_files: {env_file}:2: expected KEY=VALUE' in output


def _comm(pid: int) -> str:
    return Path(f'/proc/{pid}/comm').read_text().strip()


def test_process_name_names_master_and_workers() -> None:
    with run_server('--process-name', 'granian-api', app=ASGI, workers=2) as server:
        assert _comm(server.proc.pid) == 'granian-api'
        workers = server.worker_pids()
        assert len(workers) == 2
        for pid in workers:
            # The kernel keeps 15 bytes of a process name.
            assert _comm(pid) == 'granian-api [worker-'[:15]


def test_working_dir_and_factory(tmp_path: Path) -> None:
    (tmp_path / 'ops_factory_app.py').write_text(
        'import os\n'
        'from tests.apps.ops_app import asgi\n'
        'def build():\n'
        '    os.environ["GRANIAN_TEST_ENV"] = os.getcwd()\n'
        '    return asgi\n'
    )
    env = {'PYTHONPATH': os.pathsep.join([str(REPO_ROOT), os.environ.get('PYTHONPATH', '')])}
    with run_server(
        '--working-dir', str(tmp_path), '--factory', app='ops_factory_app:build', env=env, cwd=REPO_ROOT
    ) as server:
        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            assert client.get('/').json()['env'] == str(tmp_path.resolve())


def test_env_file_format(tmp_path: Path) -> None:
    env_file = tmp_path / '.env'
    env_file.write_text(
        '# comment\n'
        '\n'
        'PLAIN=value\n'
        'export EXPORTED = spaced value  # trailing comment\n'
        'HASH=a#b\n'
        'EMPTY=\n'
        "SINGLE='no \\n escapes # here'\n"
        'DOUBLE="line\\nbreak \\"quoted\\""\n'
    )
    assert parse_env_file(env_file) == {
        'PLAIN': 'value',
        'EXPORTED': 'spaced value',
        'HASH': 'a#b',
        'EMPTY': '',
        'SINGLE': 'no \\n escapes # here',
        'DOUBLE': 'line\nbreak "quoted"',
    }


@pytest.mark.parametrize(
    ('line', 'message'),
    [('NOEQUALS', 'expected KEY=VALUE'), ('1BAD=x', 'expected KEY=VALUE'), ('Q="open', 'unterminated quote')],
)
def test_env_file_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    env_file = tmp_path / '.env'
    env_file.write_text(f'OK=1\n{line}\n')
    with pytest.raises(EnvFileError, match=f':2: {message}'):
        parse_env_file(env_file)
