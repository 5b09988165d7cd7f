"""`--pid-file`: a file naming a running process stops the server before it binds anything
(exit code 1; `PidFileError` from `Granian.serve()`), a stale one is replaced, and a file that
holds no PID is refused rather than overwritten."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from granian import Granian
from granian.errors import FatalError, PidFileError

from tests.conftest import free_port, run_cli, run_server

ASGI = 'tests.apps.ops_app:asgi'


@pytest.fixture
def other_process() -> object:
    """A running process that is not the server."""
    proc = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_running_process_in_the_pid_file_stops_the_server(tmp_path: Path, other_process: object) -> None:
    pid_file = tmp_path / 'granian.pid'
    pid = other_process.pid  # type: ignore[attr-defined]
    pid_file.write_text(f'{pid}\n')
    port = free_port()
    code, output = run_cli('--interface', 'asgi', '--port', str(port), '--pid-file', str(pid_file), ASGI)
    assert code == 1, output
    assert f"Error: pid file '{pid_file}' names PID {pid}, which is running" in output
    assert 'Listening at' not in output and 'Traceback' not in output
    # The file is left as it was.
    assert pid_file.read_text() == f'{pid}\n'


def test_the_api_raises_pid_file_error(tmp_path: Path, other_process: object) -> None:
    pid_file = tmp_path / 'granian.pid'
    pid_file.write_text(str(other_process.pid))  # type: ignore[attr-defined]
    server = Granian(ASGI, '127.0.0.1', free_port(), interface='asgi', pid_file=pid_file, log_enabled=False)
    with pytest.raises(PidFileError, match='which is running') as info:
        server.serve()
    assert isinstance(info.value, FatalError)


def test_a_stale_pid_file_is_replaced(tmp_path: Path) -> None:
    # A PID that existed and is gone: the child is reaped, so its PID is free unless reused.
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    pid_file = tmp_path / 'granian.pid'
    pid_file.write_text(f'{dead.pid}\n')
    with run_server('--pid-file', str(pid_file), app=ASGI) as server:
        assert pid_file.read_text().strip() == str(server.proc.pid)
        assert f"Replacing the stale pid file '{pid_file}' (PID {dead.pid} is not running)" in server.log_text
        assert server.stop() == 0
    assert not pid_file.exists()


@pytest.mark.parametrize('content', ['', 'not a pid\n', '-3\n'])
def test_a_file_without_a_pid_is_not_overwritten(tmp_path: Path, content: str) -> None:
    pid_file = tmp_path / 'settings.txt'
    pid_file.write_text(content)
    code, output = run_cli('--interface', 'asgi', '--port', str(free_port()), '--pid-file', str(pid_file), ASGI)
    assert code == 1, output
    assert f"Error: pid file '{pid_file}' cannot be used: it does not hold a PID" in output
    assert pid_file.read_text() == content


def test_a_symlink_at_the_pid_file_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / 'victim.txt'
    victim.write_text('keep me\n')
    pid_file = tmp_path / 'granian.pid'
    pid_file.symlink_to(victim)
    code, output = run_cli('--interface', 'asgi', '--port', str(free_port()), '--pid-file', str(pid_file), ASGI)
    assert code == 1, output
    assert f"Error: pid file '{pid_file}' cannot be used: it is a symbolic link" in output
    assert victim.read_text() == 'keep me\n'
    assert pid_file.is_symlink()


def test_the_pid_file_is_written_through_an_unpredictable_file(tmp_path: Path) -> None:
    from granian import _ops

    victim = tmp_path / 'victim.txt'
    victim.write_text('keep me\n')
    pid_file = tmp_path / 'granian.pid'
    # Links planted where a predictable temporary name would be, and at the pid file itself
    # (placed after the server checked it): the PID lands in a file of the server's own.
    (tmp_path / f'.granian.pid.{os.getpid()}').symlink_to(victim)
    pid_file.symlink_to(victim)
    _ops.write_pid_file(pid_file)
    assert victim.read_text() == 'keep me\n'
    assert not pid_file.is_symlink()
    assert pid_file.read_text() == f'{os.getpid()}\n'
    assert stat.S_IMODE(pid_file.stat().st_mode) == 0o644
    assert _ops.read_pid_file(pid_file) == os.getpid()
    # No temporary file is left behind.
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        ['victim.txt', 'granian.pid', f'.granian.pid.{os.getpid()}']
    )
    _ops.remove_pid_file(pid_file)
    assert not pid_file.exists()
