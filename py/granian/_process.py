"""`ForkedProcess`: a function run in a forked child, which the master starts its workers with.

It does what the master used of `multiprocessing`'s fork context, the same way (the exit codes,
the sentinel, standard input on /dev/null in the child), without importing `multiprocessing`,
which brings subprocess, tempfile, shutil and pickle with it: ~2 MiB of the master's resident
memory, counted again in every worker it forks (see docs/benchmarks.md, Memory).
`multiprocessing.current_process()` in a worker is the `MainProcess` of that worker.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ['ForkedProcess', 'wait']


class ForkedProcess:
    """`target(*args, **kwargs)` in a child process, started by `start()`.

    The child exits once `target` returns (0), raises `SystemExit` (its code: 0 for None, the
    integer, or 1 after writing anything else to stderr, as `sys.exit` does) or another exception
    (1, after the traceback on stderr). Before exiting it waits for its non-daemon threads and
    flushes stdout and stderr; it never returns into the parent's code, nor runs its `atexit`
    handlers. `exitcode` is None while it runs, then its exit code, or minus the signal that
    killed it. `sentinel` is a descriptor that becomes readable when the child exits.
    """

    __slots__ = ('_args', '_kwargs', '_target', 'exitcode', 'name', 'pid', 'sentinel')

    def __init__(
        self,
        target: Callable[..., Any],
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        name: str = '',
    ) -> None:
        self._target = target
        self._args = tuple(args)
        self._kwargs = dict(kwargs or {})
        self.name = name
        self.pid: int | None = None
        self.sentinel = -1
        self.exitcode: int | None = None

    def start(self) -> None:
        if self.pid is not None:
            raise RuntimeError(f'{self.name or "process"} started twice')
        # The child holds the write end until it exits: EOF on the read end is the sentinel.
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(read)
                code = self._child()
            finally:
                os._exit(code)
        os.close(write)
        self.pid = pid
        self.sentinel = read

    def _child(self) -> int:
        if sys.stdin is not None:
            try:
                sys.stdin.close()
                # Open for the child's life, as multiprocessing leaves it.
                sys.stdin = open(os.devnull)
            except (OSError, ValueError):
                pass
        try:
            self._target(*self._args, **self._kwargs)
            code = 0
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                sys.stderr.write(f'{exc.code}\n')
                code = 1
        except BaseException:
            sys.stderr.write(f'Process {self.name}:\n')
            traceback.print_exc()
            code = 1
        current = threading.current_thread()
        for thread in threading.enumerate():
            if thread is not current and not thread.daemon:
                thread.join()
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (AttributeError, ValueError, OSError):
                pass
        return code

    def _wait(self, flags: int) -> None:
        if self.exitcode is not None or self.pid is None:
            return
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:
            return
        if pid == self.pid:
            self.exitcode = os.waitstatus_to_exitcode(status)

    def is_alive(self) -> bool:
        """Whether the child still runs (a child that exited is reaped here)."""
        if self.pid is None:
            return False
        self._wait(os.WNOHANG)
        return self.exitcode is None

    def join(self) -> None:
        """Wait for the child to exit and reap it."""
        self._wait(0)

    def _signal(self, signum: int) -> None:
        if self.pid is not None and self.exitcode is None:
            # Gone between the check and the signal: nothing left to signal.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def close(self) -> None:
        """Release the sentinel, once the child was reaped."""
        if self.pid is not None and self.exitcode is None:
            raise ValueError(f'{self.name or "process"} still running: join() it first')
        if self.sentinel >= 0:
            os.close(self.sentinel)
            self.sentinel = -1


def wait(fds: Iterable[int], timeout: float | None = None) -> list[int]:
    """The descriptors of `fds` ready for reading (readable, at EOF or closed by the peer) within
    `timeout` seconds (None: without limit); an empty list when none was."""
    poller = select.poll()
    wanted = list(fds)
    for fd in wanted:
        poller.register(fd, select.POLLIN)
    milliseconds = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
    return [fd for fd, _ in poller.poll(milliseconds)]
