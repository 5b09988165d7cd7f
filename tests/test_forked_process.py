"""`granian._process.ForkedProcess`, which the master starts its workers with: the exit codes,
the sentinel and the child's standard streams, as `multiprocessing`'s fork context gives them."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from granian._process import ForkedProcess, wait

pytestmark = pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs fork()')


def run(target, *args: object) -> ForkedProcess:
    process = ForkedProcess(target, args, name='child')
    process.start()
    assert wait([process.sentinel], 20.0) == [process.sentinel], 'the child did not exit'
    process.join()
    process.close()
    return process


def returns() -> None:
    pass


def exits(code: object) -> None:
    sys.exit(code)


def raises() -> None:
    raise ValueError('bad value from the child')


def test_a_target_that_returns_exits_0() -> None:
    process = run(returns)
    assert process.exitcode == 0
    assert not process.is_alive()


@pytest.mark.parametrize(('code', 'expected'), [(None, 0), (0, 0), (3, 3), ('a message', 1)])
def test_sys_exit_gives_its_code(code: object, expected: int, capfd: pytest.CaptureFixture[str]) -> None:
    assert run(exits, code).exitcode == expected
    if isinstance(code, str):
        assert 'a message' in capfd.readouterr().err


def test_an_exception_exits_1_with_its_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    assert run(raises).exitcode == 1
    err = capfd.readouterr().err
    assert 'Process child:' in err
    assert 'ValueError: bad value from the child' in err


def wait_for_signal(path: str) -> None:
    Path(path).write_text('ready')
    signal.pause()


@pytest.mark.parametrize(('method', 'signum'), [('terminate', signal.SIGTERM), ('kill', signal.SIGKILL)])
def test_a_signalled_child_has_minus_the_signal(tmp_path: Path, method: str, signum: int) -> None:
    ready = tmp_path / 'ready'
    process = ForkedProcess(wait_for_signal, (str(ready),))
    process.start()
    deadline = time.monotonic() + 20
    while not ready.exists():
        assert time.monotonic() < deadline, 'the child never started'
        assert wait([process.sentinel], 0.01) == []
    assert process.is_alive()
    with pytest.raises(ValueError, match='still running'):
        process.close()
    getattr(process, method)()
    process.join()
    assert process.exitcode == -signum
    # Signalling a child that was reaped does nothing.
    process.kill()
    process.close()


def leaves_a_thread(path: str) -> None:
    def late() -> None:
        time.sleep(0.2)
        Path(path).write_text('written after the target returned')

    threading.Thread(target=late).start()


def test_the_child_waits_for_its_non_daemon_threads(tmp_path: Path) -> None:
    marker = tmp_path / 'marker'
    assert run(leaves_a_thread, str(marker)).exitcode == 0
    assert marker.read_text() == 'written after the target returned'


def report_stdin(path: str) -> None:
    Path(path).write_text(os.readlink(f'/proc/self/fd/{sys.stdin.fileno()}'))


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc/self/fd')
def test_the_child_reads_stdin_from_dev_null(tmp_path: Path) -> None:
    out = tmp_path / 'stdin'
    assert run(report_stdin, str(out)).exitcode == 0
    assert out.read_text() == os.devnull


def test_wait_returns_nothing_when_nothing_is_ready() -> None:
    read, write = os.pipe()
    try:
        assert wait([read], 0.01) == []
        os.write(write, b'x')
        assert wait([read], 0.01) == [read]
    finally:
        os.close(read)
        os.close(write)


def test_starting_twice_is_refused() -> None:
    process = run(returns)
    with pytest.raises(RuntimeError, match='started twice'):
        process.start()
