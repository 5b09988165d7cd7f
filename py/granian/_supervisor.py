"""The master process: binds one listening socket and forks the workers, which inherit it (see
`granian._worker` for what a worker does and its exit codes). It never imports the application:
a worker restarted after a code change imports it afresh. Nor, with one worker, asyncio, the event
loop or the native module, which only that worker uses; with more, it imports them before forking
(`_worker.preload`), so that the workers share their pages.

Each worker also gets the write end of a pipe of its own, on which it tells the master that it
serves and, with `max_requests`, that it counted that many requests and wants replacing (the
count is an atomic in the native server, polled by the worker a few times a second). The master
replaces workers (SIGHUP, `workers_lifetime`, `workers_max_rss`, `max_requests`) by starting the
new one first and stopping the old one once the new one serves; see `_Supervisor`.

Master exit codes:

====  =======================================================================================
0     stopped by SIGINT or SIGTERM (after stopping the workers)
1     a worker exited on its own (it failed to start or crashed) without
      `respawn_failed_workers`, a crash loop with it, the socket (or with `http3` the UDP
      port) could not be bound, or the
      pid file names a running process (`Granian.serve()` raises `PidFileError` then); the
      cause is on stderr
2     a configuration the server cannot run with: an invalid option (the CLI reports these as
      usage errors), `--reload` without watchfiles, a missing uvloop
====  =======================================================================================

What the master logs on `_granian` (stdout, `[LEVEL] message`):

* `Starting granian (main PID: N)`, then `granian VERSION serving TARGET: interface I, HTTP/1.1
  and HTTP/2, N workers, event loop L`, then `Listening at: http://HOST:PORT` (the bound port,
  also when 0 was asked for; `https://` with TLS, `unix:PATH` on a Unix socket), with `http3`
  `HTTP/3 at: https://HOST:PORT (UDP)` once the UDP sockets are bound (see `_quic`), then
  `Spawning worker-N with PID: P` for each worker;
* with `shutdown_delay`, on SIGTERM first `Received SIGTERM: not ready from now on, serving Ns more
  before shutting down` (the workers keep serving, their readiness path answers 503; see
  `_Supervisor._delay_shutdown`), and `Shutdown delay cut short by another signal` when a second
  SIGTERM or SIGINT ends it;
* `Shutting down granian` on SIGINT/SIGTERM, `Stopped worker-N (PID: P)` for each worker, and
  `Killing worker-N ...` for one that outlives its stop timeout (or on a second signal);
* `Unexpected exit from worker-N (exit code C)` when a worker exits while not asked to; the
  master then stops the others and exits 1, or with `respawn_failed_workers` logs
  `Respawning worker-N` after `respawn_interval` (and `Workers failed N times within 60s:
  giving up on this crash loop` before exiting 1 when they keep failing);
* `Replacing worker-N (PID: P): REASON` when a worker is replaced (`SIGHUP`, `lifetime
  reached`, `memory over M MiB` after `rss_samples` consecutive `worker-N (PID: P) uses R MiB,
  over the M MiB limit` warnings, `N requests served`), then `Stopping worker-N (PID: P): replaced by PID Q` once the
  new worker serves (see `_Supervisor`);
* `Received SIGHUP, restarting workers`: a rolling restart, every worker replaced in turn;
* `Watching for changes in: PATHS` (with `reload`) once the watcher sees changes, then
  `Changes detected, reloading workers` on a change, then one `Modified: PATH` (`Added:`,
  `Deleted:`) line per file: the workers are stopped and spawned again. A worker that exits on
  its own with `reload_ignore_worker_failure` logs `worker-N will start again on the next
  change` and the master keeps running.

Fatal errors before serving are one `Error: ...` line on stderr (a JSON record with `log_json`).
"""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import _ops, _worker
from ._loops import LoopUnavailableError, resolve_loop
from ._options import Options
from ._process import ForkedProcess, wait
from .constants import HTTPModes, Loops
from .errors import PidFileError
from .log import LogConfigError, configure_logging, logger, write_fatal

if TYPE_CHECKING:
    from . import _quic

__all__ = ['CRASH_LOOP_FAILURES', 'CRASH_LOOP_WINDOW', 'EXIT_CONFIG', 'EXIT_FAILURE', 'EXIT_OK', 'Hooks', 'serve']

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

# Crash-loop detection: more unexpected worker exits than this within the window (seconds) make
# the master give up and exit 1 rather than respawn again.
CRASH_LOOP_FAILURES = 5
CRASH_LOOP_WINDOW = 60.0

# Directories never watched for reload, on top of watchfiles' defaults.
RELOAD_IGNORED_DIRS = ('.git', '__pycache__', '.venv')
# How long the reload watcher waits for changes before it yields an empty batch, in ms.
WATCH_TIMEOUT_MS = 1000


@dataclass
class Hooks:
    """Functions without arguments the master calls (`Granian.on_startup` and the others):
    `startup` once the socket is bound, before the workers start; `reload` before the workers
    are restarted on SIGHUP or a change; `shutdown` after the workers stopped."""

    startup: list[Callable[[], Any]] = field(default_factory=list)
    reload: list[Callable[[], Any]] = field(default_factory=list)
    shutdown: list[Callable[[], Any]] = field(default_factory=list)


def _call_hooks(hooks: Sequence[Callable[[], Any]], when: str) -> None:
    """Call each hook; one that raises is logged and the others still run."""
    for hook in hooks:
        try:
            hook()
        except Exception:
            logger.exception(f'The {when} hook {getattr(hook, "__qualname__", hook)!s} failed')


def serve(opts: Options, *, loader: Callable[[], Any] | None = None, hooks: Hooks | None = None) -> int:
    """Run the master until SIGINT or SIGTERM; the exit code (see the module doc).

    `loader`, when given, builds the application in each worker instead of importing the target.
    """
    hooks = hooks or Hooks()
    try:
        configure_logging(
            opts.log_level,
            enabled=opts.log_enabled,
            config=opts.log_dictconfig,
            json=opts.log_json,
            access_json=opts.log_access_json,
        )
    except LogConfigError as exc:
        return _fatal(str(exc), EXIT_CONFIG)

    if opts.reload and importlib.util.find_spec('watchfiles') is None:
        return _fatal('--reload needs the watchfiles package (pip install granian[reload])', EXIT_CONFIG)
    try:
        loop = resolve_loop(opts.loop)
    except LoopUnavailableError as exc:
        return _fatal(str(exc), EXIT_CONFIG)
    if not hasattr(os, 'fork'):
        return _fatal('granian needs a platform with fork() (Linux, macOS, BSD)', EXIT_CONFIG)
    if threading.current_thread() is not threading.main_thread():
        return _fatal('Granian.serve() must be called from the main thread', EXIT_CONFIG)

    if opts.working_dir is not None:
        try:
            os.chdir(opts.working_dir)
        except OSError as exc:
            return _fatal(f"cannot change to working directory '{opts.working_dir}': {exc.strerror}", EXIT_CONFIG)
    # `module:app` targets resolve from the working directory, as with `python -m`.
    cwd = os.getcwd()
    if not sys.path or sys.path[0] != cwd:
        sys.path.insert(0, cwd)

    # Before any worker exists, so that every application import sees the variables. The
    # variables set before this point win over the files, now and when they are read again.
    environment = frozenset(os.environ)
    try:
        _ops.load_env_files(opts.env_files, keep=environment)
    except (OSError, _ops.EnvFileError) as exc:
        return _fatal(f'env_files: {exc}', EXIT_CONFIG)
    if opts.process_name is not None:
        _ops.set_process_title(opts.process_name)

    logger.info(f'Starting granian (main PID: {os.getpid()})')
    logger.info(_summary(opts, loop, loader is not None))
    if opts.pid_file is not None:
        _check_pid_file(opts.pid_file)
    supervisor = _Supervisor(opts, loader, hooks, environment)
    with supervisor.signals():
        try:
            bound = _bind(opts)
        except OSError as exc:
            return _fatal(f'cannot listen on {_where(opts)}: {exc.strerror or exc}')
        try:
            if opts.pid_file is not None:
                try:
                    _ops.write_pid_file(opts.pid_file)
                except OSError as exc:
                    return _fatal(f"cannot write pid file '{opts.pid_file}': {exc.strerror or exc}")
            logger.info(f'Listening at: {bound.where}')
            if opts.http3:
                if bound.sock.family not in (socket.AF_INET, socket.AF_INET6):
                    return _fatal('http3 needs a TCP socket: UDP is served on its port', EXIT_CONFIG)
                host, port = bound.sock.getsockname()[:2]
                # Imported for HTTP/3 only: it loads ctypes, which a master without it has no use for.
                from . import _quic

                try:
                    supervisor.udp = _quic.UdpSockets(host, port)
                except OSError as exc:
                    return _fatal(f'cannot listen on UDP {_format_host(host)}:{port} for HTTP/3: {exc.strerror or exc}')
                logger.info(f'HTTP/3 at: https://{_format_host(host)}:{port} (UDP)')
            if supervisor.metrics is not None:
                try:
                    where = supervisor.metrics.start(opts.metrics_address, opts.metrics_port)
                except OSError as exc:
                    return _fatal(
                        f'cannot serve metrics on {_format_host(opts.metrics_address)}:{opts.metrics_port}: '
                        f'{exc.strerror or exc}'
                    )
                logger.info(f'Metrics at: {where}')
            # A startup hook that raises stops the server: the exception propagates, as in Granian.
            for hook in hooks.startup:
                hook()
            if opts.workers > 1:
                _worker.preload(str(loop))
            try:
                return supervisor.run(bound.sock)
            finally:
                _call_hooks(hooks.shutdown, 'shutdown')
        finally:
            if supervisor.metrics is not None:
                supervisor.metrics.stop()
            if supervisor.udp is not None:
                supervisor.udp.close()
            bound.close()
            if opts.pid_file is not None:
                _ops.remove_pid_file(opts.pid_file)


_HTTP_MODES = {HTTPModes.auto: 'HTTP/1.1 and HTTP/2', HTTPModes.http1: 'HTTP/1.1', HTTPModes.http2: 'HTTP/2'}


def _summary(opts: Options, loop: Loops, loaded: bool) -> str:
    """The second line of the log: what serves what, and how."""
    from ._version import version

    workers = f'{opts.workers} worker{"s" if opts.workers > 1 else ""}'
    target = f'{opts.target} (from a target loader)' if loaded else opts.target
    http = _HTTP_MODES[opts.http] + (' (TCP), HTTP/3 (UDP)' if opts.http3 else '')
    return f'granian {version()} serving {target}: interface {opts.interface}, {http}, {workers}, event loop {loop}'


def _check_pid_file(path: Path) -> None:
    """Refuse to start (`PidFileError`, exit code 1) when the pid file names a running process
    other than this one, or holds something else than a PID; a stale one is replaced later."""
    try:
        pid = _ops.read_pid_file(path)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else 'it does not hold a PID'
        message = f"pid file '{path}' cannot be used: {reason}; remove it or choose another --pid-file"
        _fatal(message)
        raise PidFileError(message) from None
    if pid is None or pid == os.getpid():
        return
    if _ops.pid_running(pid):
        message = (
            f"pid file '{path}' names PID {pid}, which is running (another granian?): stop it, or remove the "
            f'file if that process is not a server'
        )
        _fatal(message)
        raise PidFileError(message)
    logger.info(f"Replacing the stale pid file '{path}' (PID {pid} is not running)")


def _fatal(message: str, code: int = EXIT_FAILURE) -> int:
    write_fatal(message)
    return code


def _bare_host(address: str) -> str:
    return address[1:-1] if address.startswith('[') and address.endswith(']') else address


def _format_host(address: str) -> str:
    host = _bare_host(address)
    return f'[{host}]' if ':' in host else host


def _where(opts: Options) -> str:
    if opts.uds is not None:
        return f'unix:{opts.uds}'
    if opts.fd is not None:
        return f'file descriptor {opts.fd}'
    return f'{_format_host(opts.address)}:{opts.port}'


def _bind(opts: Options) -> _ops.BoundSocket:
    """The listening socket: a Unix socket (`uds`), an inherited descriptor (`fd`), the one
    systemd passed (socket activation, when neither is given), or a TCP socket bound here."""
    scheme = 'https' if opts.ssl_cert is not None else 'http'
    if opts.uds is not None:
        return _ops.unix_socket(opts.uds, opts.backlog, opts.uds_permissions, scheme)
    fd = opts.fd if opts.fd is not None else _ops.systemd_fd()
    if fd is not None:
        if opts.fd is None:
            logger.info(f'Using the socket passed by systemd (file descriptor {fd})')
        return _ops.socket_from_fd(fd, scheme)
    sock = _listen(opts.address, opts.port, opts.backlog)
    return _ops.BoundSocket(sock, f'{scheme}://{_format_host(opts.address)}:{sock.getsockname()[1]}')


def _listen(address: str, port: int, backlog: int) -> socket.socket:
    """The one listening socket every worker accepts from.

    Workers inherit it across fork rather than each binding their own with SO_REUSEPORT: that
    works the same for port 0, Unix sockets and inherited descriptors, and a connection queued
    for a closing worker is not lost, since the kernel keeps one queue that any worker drains.
    """
    host = _bare_host(address)
    sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        # The workers' async accept loops need a non-blocking socket; the flag is shared by
        # every process holding it.
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class _Role(Enum):
    ACTIVE = 'active'  # its slot's worker, serving or starting
    SUCCESSOR = 'successor'  # started to replace its slot's active worker, not serving yet
    STOPPING = 'stopping'  # sent SIGTERM; killed at its stop deadline


class _Worker:
    __slots__ = (
        'expires_at',
        'id',
        'max_requests',
        'process',
        'replace_reason',
        'role',
        'rss_over',
        'serving',
        'status_fd',
        'stop_deadline',
        'udp_index',
    )

    def __init__(
        self, worker_id: int, process: ForkedProcess, status_fd: int, role: _Role, max_requests: int | None
    ) -> None:
        self.id = worker_id
        self.process = process
        # Read end of the pipe the worker reports on (`_worker.MSG_*`); None once at EOF.
        self.status_fd: int | None = status_fd
        self.role = role
        self.max_requests = max_requests
        self.serving = False
        # When the worker is due for replacement (`workers_lifetime`), once it serves.
        self.expires_at: float | None = None
        # Why it is due for replacement; None while it is not.
        self.replace_reason: str | None = None
        self.stop_deadline: float | None = None
        # Consecutive memory checks that found it over `workers_max_rss`.
        self.rss_over = 0
        # Its HTTP/3 socket in the master's group, with `http3`.
        self.udp_index: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid or 0


def _rss_mib(pid: int) -> float | None:
    """A process's resident set size in MiB, from /proc (None when it cannot be read)."""
    try:
        status = Path(f'/proc/{pid}/status').read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return None


class _Supervisor:
    """The master's loop: spawn the workers, then wait for a signal, a file change, a message or
    an exit from a worker, or the next timer (respawn, lifetime, RSS sample, kill deadline).

    Each worker has a slot (`worker-N`). A worker is replaced without a gap in service: the
    master starts its successor for the same slot, waits for the successor to report on its
    status pipe that it serves, and only then sends the old one SIGTERM (it drains its in-flight
    requests for up to `graceful_timeout` and is killed after `stop_timeout`). The listening
    socket is shared, so connections queued meanwhile are accepted by whichever worker is
    listening. One replacement runs at a time; the others wait their turn. Replacement is asked
    for by SIGHUP (every worker), `workers_lifetime` (plus a random share of
    `workers_lifetime_jitter`, counted from when the worker serves), `workers_max_rss` (the
    master reads each worker's VmRSS from /proc/PID/status every `rss_sample_interval`; a worker
    is replaced once `rss_samples` consecutive readings were over the limit) and
    `max_requests`: a worker counts its requests natively (`server.requests`), checks the count
    a few times a second and writes `_worker.MSG_REPLACE` on its status pipe once it reaches its
    limit (`max_requests` plus a random share of `max_requests_jitter`, drawn by the master); it
    keeps serving until its successor is up.

    A worker that exits on its own makes the master stop the others and exit 1, unless
    `respawn_failed_workers`: its slot is then respawned after `respawn_interval`, or its
    successor takes the slot if one is starting. A worker that could not load the application,
    its event loop or the native server is not respawned (it would fail again), and more than
    `CRASH_LOOP_FAILURES` failures within `CRASH_LOOP_WINDOW` seconds make the master give up
    and exit 1. A successor that exits before serving never stops the master: the old worker
    keeps serving and its replacement is tried again after `respawn_interval`, or abandoned
    (until SIGHUP or a memory check asks again) when the successor could not load the
    application, its loop or the native server, or when failures are that frequent (they count
    towards the crash loop of the workers too).
    """

    def __init__(
        self,
        options: Options,
        loader: Callable[[], Any] | None = None,
        hooks: Hooks | None = None,
        environment: frozenset[str] = frozenset(),
    ) -> None:
        self.options = options
        self.loader = loader
        self.hooks = hooks or Hooks()
        # The variables the environment files never override (see `_before_restart`).
        self._environment = environment
        self.workers: list[_Worker] = []
        # Signal handlers and the reload watcher wake the loop by writing to this pipe, which
        # it waits on along with the workers' sentinels and status pipes.
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._stop_signals = 0
        # The first stop signal: SIGTERM starts the `shutdown_delay`, SIGINT does not.
        self._first_stop_signal: int | None = None
        self._restart_signal = False
        self._changes: list[tuple[str, str]] = []
        self._changes_lock = threading.Lock()
        self._watch_stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._failures: deque[float] = deque()
        self._respawn_at: dict[int, float] = {}
        self._replace_not_before = 0.0
        self._sample_rss = options.workers_max_rss is not None and Path('/proc/self/status').exists()
        self._next_rss_sample = 0.0
        # Mapped before any fork, so that every worker shares it (see `_metrics`).
        self.metrics = None
        if options.metrics_enabled:
            # Imported only when asked for: the exporter's HTTP server is heavy for a master
            # that needs none.
            from . import _metrics

            self.metrics = _metrics.Metrics(options.workers)
        # The UDP sockets of HTTP/3, with `http3` (bound by `serve` once the TCP port is known).
        self.udp: _quic.UdpSockets | None = None

    @contextmanager
    def signals(self) -> Iterator[None]:
        """Install the master's signal handlers for the duration of the block."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _worker.MASTER_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self._restart_signal = True
        else:
            self._stop_signals += 1
            if self._first_stop_signal is None:
                self._first_stop_signal = signum
        self._wake()

    def _wake(self) -> None:
        with suppress(OSError):
            os.write(self._wake_write, b'\0')

    def _drain(self) -> None:
        with suppress(OSError):
            while os.read(self._wake_read, 512):
                pass

    def run(self, sock: socket.socket) -> int:
        try:
            return self._run(sock)
        finally:
            self._stop_watcher()
            # Only reached with workers left if something went wrong in the master itself.
            for wrk in list(self.workers):
                if wrk.process.is_alive():
                    wrk.process.kill()
                self._forget(wrk)

    def _run(self, sock: socket.socket) -> int:
        if self._stop_signals:
            return EXIT_OK
        if self.options.workers_max_rss is not None and not self._sample_rss:
            logger.warning('workers_max_rss needs /proc/PID/status (Linux): worker memory is not checked')
        self._next_rss_sample = time.monotonic() + self.options.rss_sample_interval
        # The watcher first: a change made while the workers start is not missed.
        if self.options.reload:
            self._start_watcher()
        self._spawn_all(sock)
        while True:
            ready = wait(self._waitables(), self._timeout(time.monotonic()))
            self._drain()
            if self._stop_signals:
                self._delay_shutdown()
                logger.info('Shutting down granian')
                self._stop_all(force_after=self._stop_signals)
                return EXIT_OK
            self._read_status(ready)
            now = time.monotonic()
            code = self._reap(now)
            if code is not None:
                self._stop_all()
                return code
            if self._restart_signal:
                self._restart_signal = False
                logger.info('Received SIGHUP, restarting workers')
                self._before_restart()
                for wrk in self.workers:
                    if wrk.role is _Role.ACTIVE and wrk.replace_reason is None:
                        wrk.replace_reason = 'SIGHUP'
            with self._changes_lock:
                changes, self._changes = self._changes, []
            if changes:
                logger.info('Changes detected, reloading workers')
                for change, path in changes:
                    logger.info(f'{change.capitalize()}: {path}')
                self._before_restart()
                self._stop_all()
                if self._stop_signals:
                    logger.info('Shutting down granian')
                    return EXIT_OK
                self._respawn_at.clear()
                self._spawn_all(sock)
                continue
            self._respawn_due(sock, now)
            self._check_lifetimes(now)
            self._check_rss(now)
            self._kill_overdue(now)
            self._start_replacement(sock, now)

    def _delay_shutdown(self) -> None:
        """After SIGTERM with `shutdown_delay`: the workers keep serving for that long while their
        readiness path answers 503, so that load balancers (and Kubernetes endpoints) stop sending
        new requests before the server stops accepting. Another SIGTERM or SIGINT ends the delay;
        the drain and its timeouts then run as without one. Nothing is respawned or replaced
        meanwhile."""
        delay = self.options.shutdown_delay
        if delay <= 0 or self._first_stop_signal != signal.SIGTERM or self._stop_signals > 1:
            return
        logger.info(f'Received SIGTERM: not ready from now on, serving {delay:g}s more before shutting down')
        for wrk in self.workers:
            if wrk.process.is_alive():
                with suppress(OSError):
                    os.kill(wrk.pid, _worker.NOT_READY_SIGNAL)
        deadline = time.monotonic() + delay
        while (remaining := deadline - time.monotonic()) > 0:
            if self._stop_signals > 1:
                logger.info('Shutdown delay cut short by another signal')
                return
            wait([self._wake_read], remaining)
            self._drain()

    def _before_restart(self) -> None:
        """Read the environment files again (their new values reach the new workers) and call
        the reload hooks, before workers are restarted by SIGHUP or a change."""
        if self.options.env_files:
            try:
                _ops.load_env_files(self.options.env_files, keep=self._environment)
            except (OSError, _ops.EnvFileError) as exc:
                logger.error(f'env_files: {exc}; the variables read before are kept')
        _call_hooks(self.hooks.reload, 'reload')

    def _waitables(self) -> list[int]:
        objects = [self._wake_read]
        for wrk in self.workers:
            objects.append(wrk.process.sentinel)
            if wrk.status_fd is not None:
                objects.append(wrk.status_fd)
        return objects

    def _timeout(self, now: float) -> float | None:
        """Seconds until the next timer the loop must act on, or None to wait for events only."""
        deadlines = list(self._respawn_at.values())
        for wrk in self.workers:
            if wrk.role is _Role.STOPPING and wrk.stop_deadline is not None:
                deadlines.append(wrk.stop_deadline)
            elif wrk.role is _Role.ACTIVE and wrk.replace_reason is None and wrk.expires_at is not None:
                deadlines.append(wrk.expires_at)
        if self._sample_rss:
            deadlines.append(self._next_rss_sample)
        if self._due() and not self._replacing():
            deadlines.append(self._replace_not_before)
        return max(0.0, min(deadlines) - now) if deadlines else None

    def _spawn_all(self, sock: socket.socket) -> None:
        for worker_id in range(1, self.options.workers + 1):
            self._spawn(worker_id, sock, _Role.ACTIVE)

    def _spawn(self, worker_id: int, sock: socket.socket, role: _Role) -> _Worker:
        opts = self.options
        max_requests = None
        if opts.max_requests is not None:
            max_requests = opts.max_requests + random.randint(0, opts.max_requests_jitter)
        status_read, status_write = os.pipe()
        os.set_blocking(status_read, False)
        # The child keeps only the write end of its own status pipe.
        inherited = (self._wake_read, self._wake_write, status_read, *self._status_fds())
        metrics = None
        if self.metrics is not None:
            inherited = (*inherited, *self.metrics.fds())
            metrics_slot = self.metrics.assign(worker_id)
            metrics = None if metrics_slot is None else (self.metrics.region, metrics_slot)
        quic = None
        if self.udp is not None:
            udp_index = self.udp.acquire()
            quic = (self.udp.socket(udp_index), udp_index, self.udp.marker)
            # The worker reads its own socket of the group only.
            inherited = (*inherited, *(fd for i, fd in enumerate(self.udp.fds()) if i != udp_index and fd >= 0))
        process = ForkedProcess(
            target=_worker.run,
            args=(worker_id, opts, sock, inherited),
            kwargs={
                'master_pid': os.getpid(),
                'status_fd': status_write,
                'max_requests': max_requests,
                'metrics': metrics,
                'loader': self.loader,
                'quic': quic,
            },
            name=f'granian-worker-{worker_id}',
        )
        # Until the child has replaced the inherited handlers (which would act on the master's
        # copy of this object), the signals wait as pending; `_worker` unblocks them.
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _worker.FORK_BLOCKED)
        try:
            process.start()
        except BaseException:
            os.close(status_read)
            if self.udp is not None and quic is not None:
                self.udp.release(quic[1])
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            # Closed here, the write end is held by the worker alone: its exit shows as EOF.
            os.close(status_write)
        wrk = _Worker(worker_id, process, status_read, role, max_requests)
        if quic is not None:
            wrk.udp_index = quic[1]
        if self.metrics is not None and metrics is not None:
            self.metrics.bind(wrk, metrics[1])
        self.workers.append(wrk)
        logger.info(f'Spawning worker-{worker_id} with PID: {process.pid}')
        self._steer()
        return wrk

    def _steer(self) -> None:
        """Send new HTTP/3 connections to the sockets of the active workers (see `_quic`): not to a
        successor before it serves, nor to a worker stopping or gone."""
        if self.udp is None:
            return
        accepting = [wrk.udp_index for wrk in self.workers if wrk.role is _Role.ACTIVE and wrk.udp_index is not None]
        try:
            self.udp.steer(accepting)
        except OSError as exc:
            self.udp.steering = False
            logger.warning(
                f'HTTP/3: cannot steer datagrams by connection ID ({exc.strerror or exc}): the kernel spreads them '
                'by address, and worker restarts cost HTTP/3 clients their connections'
            )

    def _status_fds(self) -> list[int]:
        return [wrk.status_fd for wrk in self.workers if wrk.status_fd is not None]

    def _forget(self, wrk: _Worker) -> None:
        """Reap a worker that exited and release what the master held for it."""
        wrk.process.join()
        wrk.process.close()
        if self.metrics is not None:
            self.metrics.release(wrk)
        if self.udp is not None and wrk.udp_index is not None:
            self.udp.release(wrk.udp_index)
            wrk.udp_index = None
        if wrk.status_fd is not None:
            os.close(wrk.status_fd)
            wrk.status_fd = None
        if wrk in self.workers:
            self.workers.remove(wrk)

    def _read_status(self, ready: list[Any]) -> None:
        for wrk in list(self.workers):
            fd = wrk.status_fd
            if fd is None or fd not in ready:
                continue
            try:
                data = os.read(fd, 512)
            except BlockingIOError:
                continue
            except OSError:
                data = b''
            if not data:
                os.close(fd)
                wrk.status_fd = None
                continue
            if _worker.MSG_SERVING in data:
                self._on_serving(wrk)
            if _worker.MSG_REPLACE in data and wrk.role is _Role.ACTIVE and wrk.replace_reason is None:
                wrk.replace_reason = f'{wrk.max_requests} requests served'

    def _on_serving(self, wrk: _Worker) -> None:
        now = time.monotonic()
        wrk.serving = True
        lifetime = self.options.workers_lifetime
        if lifetime is not None:
            wrk.expires_at = now + lifetime + random.uniform(0, self.options.workers_lifetime_jitter)
        if wrk.role is not _Role.SUCCESSOR:
            return
        wrk.role = _Role.ACTIVE
        self._steer()
        for old in self.workers:
            if old.id == wrk.id and old.role is _Role.ACTIVE and old is not wrk:
                self._retire(old, now, f'replaced by PID {wrk.pid}')

    def _retire(self, wrk: _Worker, now: float, why: str) -> None:
        wrk.role = _Role.STOPPING
        wrk.stop_deadline = now + self.options.stop_timeout
        # Before it drains: new HTTP/3 connections go to the others from now on.
        self._steer()
        logger.info(f'Stopping worker-{wrk.id} (PID: {wrk.pid}): {why}')
        with suppress(ValueError, OSError):
            wrk.process.terminate()

    def _reap(self, now: float) -> int | None:
        """Handle the workers that exited; an exit code when the master must stop."""
        try:
            return self._reap_exited(now)
        finally:
            self._steer()

    def _reap_exited(self, now: float) -> int | None:
        for wrk in [wrk for wrk in self.workers if not wrk.process.is_alive()]:
            code = wrk.process.exitcode
            role, served = wrk.role, wrk.serving
            pid = wrk.pid
            self._forget(wrk)
            if role is _Role.STOPPING:
                if code not in (0, -signal.SIGTERM, -signal.SIGKILL):
                    logger.warning(f'worker-{wrk.id} exited with code {code} while stopping')
                logger.info(f'Stopped worker-{wrk.id} (PID: {pid})')
                continue
            if role is _Role.SUCCESSOR:
                logger.error(
                    f'worker-{wrk.id} (PID: {pid}) exited before serving (exit code {code}); '
                    f'the worker it was to replace keeps serving'
                )
                # A new worker that cannot start must not take a serving one down with it: the
                # replacement is tried again, or abandoned when that cannot help.
                if self._count_failure(now) or code in _worker.STARTUP_FAILURES:
                    self._abandon_replacement(wrk.id)
                else:
                    self._replace_not_before = now + self.options.respawn_interval
                continue
            logger.error(f'Unexpected exit from worker-{wrk.id} (exit code {code})')
            if self.options.reload and self.options.reload_ignore_worker_failure:
                logger.warning(f'worker-{wrk.id} will start again on the next change')
                continue
            if not self.options.respawn_failed_workers:
                return EXIT_FAILURE
            if not served and code in _worker.STARTUP_FAILURES:
                logger.error(f'worker-{wrk.id} could not start: not respawning it')
                return EXIT_FAILURE
            if self._count_failure(now):
                logger.error(
                    f'Workers failed {len(self._failures)} times within {CRASH_LOOP_WINDOW:g}s: '
                    f'giving up on this crash loop'
                )
                return EXIT_FAILURE
            successor = next((w for w in self.workers if w.id == wrk.id and w.role is _Role.SUCCESSOR), None)
            if successor is not None:
                successor.role = _Role.ACTIVE
            else:
                self._respawn_at[wrk.id] = now + self.options.respawn_interval
        return None

    def _count_failure(self, now: float) -> bool:
        """Count a worker failure; True once there were more than `CRASH_LOOP_FAILURES` lately."""
        self._failures.append(now)
        while self._failures and self._failures[0] <= now - CRASH_LOOP_WINDOW:
            self._failures.popleft()
        return len(self._failures) > CRASH_LOOP_FAILURES

    def _abandon_replacement(self, worker_id: int) -> None:
        """Keep the serving worker of a slot whose replacement keeps failing, until asked again."""
        for wrk in self.workers:
            if wrk.id == worker_id and wrk.role is _Role.ACTIVE and wrk.replace_reason is not None:
                logger.error(f'Giving up replacing worker-{wrk.id} (PID: {wrk.pid}); it keeps serving')
                wrk.replace_reason = None
                # Not due again for its lifetime; memory and SIGHUP can still ask again.
                wrk.expires_at = None

    def _respawn_due(self, sock: socket.socket, now: float) -> None:
        for worker_id, when in sorted(self._respawn_at.items()):
            if when <= now:
                del self._respawn_at[worker_id]
                logger.info(f'Respawning worker-{worker_id}')
                if self.metrics is not None:
                    self.metrics.respawned('err')
                self._spawn(worker_id, sock, _Role.ACTIVE)

    def _check_lifetimes(self, now: float) -> None:
        for wrk in self.workers:
            if (
                wrk.role is _Role.ACTIVE
                and wrk.replace_reason is None
                and wrk.expires_at is not None
                and wrk.expires_at <= now
            ):
                wrk.replace_reason = 'lifetime reached'

    def _check_rss(self, now: float) -> None:
        limit = self.options.workers_max_rss
        if not self._sample_rss or limit is None or now < self._next_rss_sample:
            return
        self._next_rss_sample = now + self.options.rss_sample_interval
        for wrk in self.workers:
            if wrk.role is not _Role.ACTIVE or not wrk.serving or wrk.replace_reason is not None:
                continue
            rss = _rss_mib(wrk.pid)
            if rss is None or rss <= limit:
                if rss is not None:
                    logger.debug(f'worker-{wrk.id} (PID: {wrk.pid}) uses {rss:.0f} MiB (limit {limit} MiB)')
                wrk.rss_over = 0
                continue
            wrk.rss_over += 1
            samples = self.options.rss_samples
            count = f' ({wrk.rss_over} of {samples} readings)' if samples > 1 else ''
            logger.warning(f'worker-{wrk.id} (PID: {wrk.pid}) uses {rss:.0f} MiB, over the {limit} MiB limit{count}')
            if wrk.rss_over >= samples:
                wrk.replace_reason = f'memory over {limit} MiB'

    def _kill_overdue(self, now: float) -> None:
        for wrk in self.workers:
            if wrk.role is _Role.STOPPING and wrk.stop_deadline is not None and wrk.stop_deadline <= now:
                wrk.stop_deadline = None
                logger.warning(f'Killing worker-{wrk.id} after it did not stop within {self.options.stop_timeout:g}s')
                with suppress(ValueError, OSError):
                    wrk.process.kill()

    def _due(self) -> list[_Worker]:
        return [wrk for wrk in self.workers if wrk.role is _Role.ACTIVE and wrk.replace_reason is not None]

    def _replacing(self) -> bool:
        return any(wrk.role is _Role.SUCCESSOR for wrk in self.workers)

    def _start_replacement(self, sock: socket.socket, now: float) -> None:
        if self._replacing() or now < self._replace_not_before:
            return
        due = self._due()
        if due:
            old = due[0]
            logger.info(f'Replacing worker-{old.id} (PID: {old.pid}): {old.replace_reason}')
            if self.metrics is not None and old.replace_reason == 'lifetime reached':
                self.metrics.respawned('lifetime')
            elif self.metrics is not None and (old.replace_reason or '').startswith('memory over'):
                self.metrics.respawned('rss')
            self._spawn(old.id, sock, _Role.SUCCESSOR)

    def _stop_all(self, force_after: int | None = None) -> None:
        """SIGTERM every worker, wait up to the stop timeout, SIGKILL those left.

        With `force_after`, one more stop signal than that many kills the workers at once.
        """
        timeout = self.options.stop_timeout
        deadline = time.monotonic() + timeout
        signalled = [wrk for wrk in self.workers if wrk.process.is_alive()]
        for wrk in signalled:
            wrk.process.terminate()
        alive = list(signalled)
        forced = False
        while alive:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait([self._wake_read, *(wrk.process.sentinel for wrk in alive)], remaining)
            self._drain()
            alive = [wrk for wrk in alive if wrk.process.is_alive()]
            if alive and force_after is not None and self._stop_signals > force_after:
                forced = True
                break
        for wrk in alive:
            reason = 'on a second signal' if forced else f'after it did not stop within {timeout:g}s'
            logger.warning(f'Killing worker-{wrk.id} {reason}')
            wrk.process.kill()
        for wrk in list(self.workers):
            wrk.process.join()
            if wrk in signalled:
                code = wrk.process.exitcode
                if wrk not in alive and code not in (0, -signal.SIGTERM):
                    logger.warning(f'worker-{wrk.id} exited with code {code} while stopping')
                logger.info(f'Stopped worker-{wrk.id} (PID: {wrk.pid})')
            self._forget(wrk)

    def _start_watcher(self) -> None:
        self._watcher = threading.Thread(target=self._watch, name='granian-reload', daemon=True)
        self._watcher.start()

    def _stop_watcher(self) -> None:
        self._watch_stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=2)

    def _watch(self) -> None:
        import watchfiles

        opts = self.options
        paths = opts.reload_paths or (Path.cwd(),)
        watching = False
        try:
            for changes in watchfiles.watch(
                *paths,
                watch_filter=reload_filter(opts),
                step=opts.reload_tick,
                stop_event=self._watch_stop,
                raise_interrupt=False,
                # An empty batch after each second without changes: the first one tells that the
                # watches are in place, so a change from then on is seen.
                rust_timeout=WATCH_TIMEOUT_MS,
                yield_on_timeout=True,
            ):
                if not watching:
                    watching = True
                    logger.info(f'Watching for changes in: {", ".join(str(path) for path in paths)}')
                if not changes:
                    continue
                with self._changes_lock:
                    self._changes.extend(sorted((change.raw_str(), path) for change, path in changes))
                self._wake()
        except Exception:
            logger.exception('The reload watcher stopped')


def reload_filter(opts: Options) -> Callable[[Any, str], bool]:
    """The filter of the reload watcher, as Granian builds it: `reload_filter` (a watchfiles
    filter class) or watchfiles' `DefaultFilter`, with the ignored directories (`.git`,
    `__pycache__`, `.venv` and `reload_ignore_dirs`), name patterns (`reload_ignore_patterns`)
    and paths (`reload_ignore_paths`) added to its own. Every file it lets through counts, not
    only Python files. The class itself is left as it is: the additions go to a subclass.
    """
    import watchfiles

    base = opts.reload_filter or watchfiles.DefaultFilter
    extended = type(
        base.__name__,
        (base,),
        {
            'ignore_dirs': (*getattr(base, 'ignore_dirs', ()), *RELOAD_IGNORED_DIRS, *opts.reload_ignore_dirs),
            'ignore_entity_patterns': (*getattr(base, 'ignore_entity_patterns', ()), *opts.reload_ignore_patterns),
            'ignore_paths': (*getattr(base, 'ignore_paths', ()), *(str(path) for path in opts.reload_ignore_paths)),
        },
    )
    watch_filter: Callable[[Any, str], bool] = extended()
    return watch_filter
