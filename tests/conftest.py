"""Start real granian servers for the end-to-end tests.

`run_server(...)` launches `python -m granian` on 127.0.0.1 with port 0, collects its log
lines (stdout and stderr, one stream) in a background thread, and waits for the
`Listening at` line and one `Started worker-N` line per worker: readiness comes from the log,
never from sleeping. Every wait has a deadline and fails with the captured log.

Modules share one server through the module-scoped `server` fixture, configured by optional
module globals `SERVER_ARGS`, `SERVER_ENV`, `SERVER_APP` and `SERVER_INTERFACE`; modules that
parametrize across interfaces or HTTP modes define their own module-scoped `server` fixture
with `run_server`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = '127.0.0.1'
DEFAULT_APP = 'tests.apps.asgi_app:app'
READY_TIMEOUT = 20.0
EXIT_TIMEOUT = 20.0
LOG_TAIL = 200

LISTENING = re.compile(r'Listening at: https?://127\.0\.0\.1:(\d+)')
STARTED_WORKER = re.compile(r'Started worker-(\d+)\b')
SPAWNING_WORKER = re.compile(r'Spawning worker-(\d+) with PID: (\d+)')

# On a failing example hypothesis imports libcst to suggest an @example patch; with mypy
# installed, libcst's import warns (mypy_extensions.TypedDict), and filterwarnings=error turns
# that into an internal error that hides the real failure. Import it once here, quietly.
with contextlib.suppress(ImportError), warnings.catch_warnings():
    warnings.filterwarnings('ignore', message='mypy_extensions.TypedDict is deprecated', category=DeprecationWarning)
    import hypothesis.extra._patching  # noqa: F401

# Network round trips make per-example timing meaningless, hence no deadline.
settings.register_profile('fast', max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    'ci', max_examples=200, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'fast'))


def pytest_report_header(config: pytest.Config) -> str:
    spec = importlib.util.find_spec('granian')
    where = spec.origin if spec is not None else 'not importable: build it first (maturin develop)'
    return f'granian under test: {where}'


class ServerError(AssertionError):
    """The server did not do what a test waited for; carries the server's log."""


class Server:
    """A running `python -m granian` process and its log."""

    def __init__(
        self, command: Sequence[str], *, env: Mapping[str, str], cwd: Path, pass_fds: Sequence[int] = ()
    ) -> None:
        self.command = list(command)
        self.log: list[str] = []
        self.port = 0
        self._eof = False
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            self.command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own process group, so teardown can reach workers of a master that hangs.
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
        self._reader = threading.Thread(target=self._read, name=f'granian-log-{self.proc.pid}', daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode('utf-8', errors='replace').rstrip('\r\n')
            with self._cond:
                self.log.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def option(self, flag: str) -> str | None:
        """The value given to `flag` on the command line (the last one wins), or None."""
        values = [self.command[index + 1] for index, part in enumerate(self.command[:-1]) if part == flag]
        return values[-1] if values else None

    @property
    def url(self) -> str:
        return f'http://{HOST}:{self.port}'

    @property
    def log_text(self) -> str:
        with self._cond:
            return '\n'.join(self.log)

    def mark(self) -> int:
        """The current log length, to wait only for lines logged after this point."""
        with self._cond:
            return len(self.log)

    def lines(self, start: int = 0) -> list[str]:
        with self._cond:
            return self.log[start:]

    def fail(self, message: str) -> ServerError:
        tail = '\n'.join(self.lines()[-LOG_TAIL:])
        return ServerError(
            f'{message}\ncommand: {" ".join(self.command)}\nexit code: {self.proc.poll()}\n--- server log ---\n{tail}'
        )

    def _find(self, pattern: re.Pattern[str], start: int) -> list[re.Match[str]]:
        return [match for line in self.log[start:] if (match := pattern.search(line))]

    def wait_for(
        self, pattern: str | re.Pattern[str], timeout: float = READY_TIMEOUT, *, start: int = 0, count: int = 1
    ) -> list[re.Match[str]]:
        """Wait until `count` log lines from index `start` on match `pattern`; return the matches."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                matches = self._find(regex, start)
                if len(matches) >= count:
                    return matches
                if self._eof:
                    raise self.fail(f'server output ended with {len(matches)}/{count} lines matching {regex.pattern!r}')
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self.fail(f'{len(matches)}/{count} lines matching {regex.pattern!r} after {timeout}s')
                self._cond.wait(remaining)

    def saw(self, pattern: str | re.Pattern[str], timeout: float, *, start: int = 0) -> bool:
        """Whether a line matching `pattern` shows up within `timeout`; for asserting absence."""
        try:
            self.wait_for(pattern, timeout, start=start)
        except ServerError:
            return False
        return True

    def wait_ready(self, workers: int, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        match = self.wait_for(LISTENING, timeout)[0]
        self.port = int(match.group(1))
        if self.port == 0:
            raise self.fail('server reported port 0 instead of the port it bound')
        self.wait_for_workers(workers, timeout=max(deadline - time.monotonic(), 0.1))

    def wait_for_workers(self, workers: int, *, start: int = 0, timeout: float = READY_TIMEOUT) -> set[int]:
        """Wait for `Started worker-N` from `workers` distinct N; return those N."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(deadline - time.monotonic(), 0.0)
            matches = self.wait_for(STARTED_WORKER, remaining, start=start)
            ids = {int(match.group(1)) for match in matches}
            if len(ids) >= workers:
                return ids
            # Fewer distinct workers than lines (a worker may log more than once): wait for more lines.
            self.wait_for(STARTED_WORKER, max(deadline - time.monotonic(), 0.0), start=start, count=len(matches) + 1)

    def worker_pids(self) -> list[int]:
        return [int(match.group(2)) for match in self._find(SPAWNING_WORKER, 0)]

    def wait_exit(self, timeout: float = EXIT_TIMEOUT) -> int:
        """Wait for the process to exit on its own and for its output to be fully read."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise self.fail(f'server still running after {timeout}s') from None
        self._reader.join(5.0)
        return code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = EXIT_TIMEOUT) -> int:
        """Signal the master and return its exit code (killing the group if it outlives `timeout`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        """SIGKILL this server's process group (the master and its workers)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5.0)
        self._reader.join(5.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)  # type: ignore[arg-type]


def server_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test environment minus any GRANIAN_* settings a developer may have exported."""
    base = {key: value for key, value in os.environ.items() if not key.startswith('GRANIAN_')}
    return {**base, 'PYTHONUNBUFFERED': '1', **(env or {})}


def granian_command(
    *args: str,
    app: str | None = DEFAULT_APP,
    interface: str | None = 'asgi',
    host: str | None = HOST,
    port: int | None = 0,
    workers: int | None = None,
) -> list[str]:
    """`python -m granian` with the given options; None leaves an option to its default or env var."""
    command = [sys.executable, '-m', 'granian']
    if interface is not None:
        command += ['--interface', interface]
    if host is not None:
        command += ['--host', host]
    if port is not None:
        command += ['--port', str(port)]
    if workers is not None:
        command += ['--workers', str(workers)]
    command += args
    if app is not None:
        command.append(app)
    return command


@contextlib.contextmanager
def run_server(
    *args: str,
    app: str = DEFAULT_APP,
    interface: str | None = 'asgi',
    env: Mapping[str, str] | None = None,
    workers: int | None = 1,
    port: int | None = 0,
    cwd: Path = REPO_ROOT,
    ready: bool = True,
    pass_fds: Sequence[int] = (),
) -> Iterator[Server]:
    """Run a server for the duration of the block; on exit stop it (SIGTERM, then SIGKILL).

    `interface`, `port` or `workers` set to None leave that flag out (for env var tests).
    `ready=False` yields as soon as the process is spawned, for servers expected not to start
    or whose readiness the test checks itself. `pass_fds` are descriptors the server inherits.
    """
    command = granian_command(*args, app=app, interface=interface, port=port, workers=workers)
    server = Server(command, env=server_env(env), cwd=cwd, pass_fds=pass_fds)
    try:
        if ready:
            server.wait_ready(workers or 1)
        yield server
    finally:
        if server.proc.poll() is None:
            with contextlib.suppress(ServerError):
                server.stop()
        server.kill()


@contextlib.contextmanager
def module_server(request: pytest.FixtureRequest, *args: str, **options: object) -> Iterator[Server]:
    """A server configured by the requesting module's SERVER_* globals plus `args`/`options`,
    stopped at the end with SIGTERM and required to exit with 0."""
    module = request.module
    options.setdefault('app', getattr(module, 'SERVER_APP', DEFAULT_APP))
    options.setdefault('interface', getattr(module, 'SERVER_INTERFACE', 'asgi'))
    options.setdefault('env', getattr(module, 'SERVER_ENV', None))
    with run_server(*getattr(module, 'SERVER_ARGS', ()), *args, **options) as server:  # type: ignore[arg-type]
        yield server
        code = server.stop()
        if code != 0:
            raise server.fail(f'server exited with {code} at the end of the module')


@pytest.fixture(scope='module')
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """One server per test module (see the module docstring for configuration)."""
    with module_server(request) as running:
        yield running


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def free_port() -> int:
    """A port that was free a moment ago, for tests that must name the port up front."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def run_cli(*args: str, env: Mapping[str, str] | None = None, timeout: float = READY_TIMEOUT) -> tuple[int, str]:
    """Run a granian command expected to exit by itself; (exit code, combined output).

    A command that is still running at the deadline (it started serving instead of refusing)
    is killed and fails the test.
    """
    command = [sys.executable, '-m', 'granian', *args]
    proc = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=server_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=5.0)
        raise AssertionError(
            f'{command} still running after {timeout}s:\n{output.decode("utf-8", errors="replace")}'
        ) from None
    return proc.returncode, output.decode('utf-8', errors='replace')
