"""`Granian`: validates the options, then runs the master process that supervises the workers.

The master binds one listening socket and forks the workers, which inherit it (see
`granian._worker` for what a worker does and its exit codes). It never imports the application
nor the native module: a worker restarted after a code change imports everything afresh.

Master exit codes:

====  =======================================================================================
0     stopped by SIGINT or SIGTERM (after stopping the workers)
1     a worker exited on its own (it failed to start or crashed), or the socket could not be
      bound; the cause is on stderr
2     a configuration the server cannot run with: an invalid option (the CLI reports these as
      usage errors), `--reload` without watchfiles, a missing uvloop
====  =======================================================================================

What the master logs on `granian` (stderr, `[LEVEL] message`):

* `Starting granian (main PID: N)`, then `Listening at: http://HOST:PORT` (the bound port,
  also when 0 was asked for), then `Spawning worker-N with PID: P` for each worker;
* `Shutting down granian` on SIGINT/SIGTERM, `Stopped worker-N` for each worker, and
  `Killing worker-N ...` for one that outlives its stop timeout (or on a second signal);
* `Unexpected exit from worker-N (exit code C)` when a worker exits while not asked to; the
  master then stops the others and exits 1;
* `Changes detected, reloading workers` (with `reload`) and `Received SIGHUP, restarting
  workers`: the workers are stopped and spawned again.

Fatal errors before serving are one `Error: ...` line on stderr.
"""

from __future__ import annotations

import importlib.util
import math
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import Enum
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple, TypeVar

from . import _worker
from ._loops import LoopUnavailableError, resolve_loop
from .constants import HTTPModes, Interfaces, LogLevels, Loops
from .log import configure_logging, logger

__all__ = [
    'BOUNDS',
    'EXIT_CONFIG',
    'EXIT_FAILURE',
    'EXIT_OK',
    'SHUTDOWN_MARGIN',
    'Bound',
    'ConfigError',
    'Granian',
    'Options',
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

# Added to `graceful_timeout` when waiting for stopping workers: after draining requests they
# still run the lifespan shutdown and close their loop.
SHUTDOWN_MARGIN = 5.0

# Directories never watched for reload, on top of watchfiles' defaults.
RELOAD_IGNORED_DIRS = ('.git', '__pycache__', '.venv')


class Bound(NamedTuple):
    """Inclusive limits of a numeric option (`min_open`: the minimum itself is excluded)."""

    min: float | None
    max: float | None = None
    min_open: bool = False

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f'between {_num(self.min)} and {_num(self.max)}'
        if self.min is not None:
            return f'{">" if self.min_open else ">="} {_num(self.min)}'
        return f'<= {_num(self.max)}'

    def admits(self, value: float) -> bool:
        if self.min is not None and (value <= self.min if self.min_open else value < self.min):
            return False
        return self.max is None or value <= self.max


def _num(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)


# The one table of numeric limits: `Granian` enforces it and the CLI builds its click types from it.
BOUNDS: dict[str, Bound] = {
    'port': Bound(0, 65535),
    'workers': Bound(1),
    'runtime_threads': Bound(1),
    'blocking_threads': Bound(1),
    'backlog': Bound(1),
    'backpressure': Bound(1),
    'http1_buffer_size': Bound(8192),
    'http1_header_read_timeout': Bound(1, 60_000),
    'http2_max_concurrent_streams': Bound(1, 2**32 - 1),
    # RFC 9113 §6.5.2 and §6.9.1: window sizes up to 2^31-1, frame sizes 2^14 to 2^24-1.
    'http2_initial_connection_window_size': Bound(1, 2**31 - 1),
    'http2_initial_stream_window_size': Bound(1, 2**31 - 1),
    'http2_max_frame_size': Bound(16384, 2**24 - 1),
    'http2_max_headers_size': Bound(1, 2**32 - 1),
    'http2_max_send_buffer_size': Bound(1, 2**32 - 1),
    'http2_keep_alive_interval': Bound(1),
    'http2_keep_alive_timeout': Bound(1),
    'graceful_timeout': Bound(0),
    'workers_kill_timeout': Bound(0, min_open=True),
}


def default_blocking_threads() -> int:
    """WSGI threads per worker when `blocking_threads` is not given: 4 per CPU core this process
    may run on, at most 32 (and never more than `backpressure`).

    WSGI applications spend most of a request waiting (database, network) with the GIL released,
    so a few threads per core keep the cores busy; beyond a few dozen, threads only add GIL
    contention and memory.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return min(32, 4 * max(1, cores))


class ConfigError(ValueError):
    """An invalid option; `option` is the keyword of `Granian` it concerns."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class Options:
    """Every option of a `Granian` server, validated, with defaults resolved.

    Field names are `Granian`'s keywords. `reload_paths` is empty when the working directory is
    to be watched; paths are absolute.
    """

    target: str
    address: str
    port: int
    interface: Interfaces
    workers: int
    runtime_threads: int
    blocking_threads: int
    http: HTTPModes
    loop: Loops
    backlog: int
    backpressure: int
    http1_buffer_size: int
    http1_header_read_timeout: int
    http1_keep_alive: bool
    http1_pipeline_flush: bool
    http2_adaptive_window: bool
    http2_initial_connection_window_size: int
    http2_initial_stream_window_size: int
    http2_keep_alive_interval: int | None
    http2_keep_alive_timeout: int
    http2_max_concurrent_streams: int
    http2_max_frame_size: int
    http2_max_headers_size: int
    http2_max_send_buffer_size: int
    log_enabled: bool
    log_level: LogLevels
    log_access: bool
    factory: bool
    working_dir: Path | None
    graceful_timeout: float
    workers_kill_timeout: float | None
    reload: bool
    reload_paths: tuple[Path, ...]
    reload_ignore_dirs: tuple[str, ...]

    @property
    def stop_timeout(self) -> float:
        """How long the master waits for a stopping worker before killing it."""
        if self.workers_kill_timeout is not None:
            return self.workers_kill_timeout
        return self.graceful_timeout + SHUTDOWN_MARGIN


E = TypeVar('E', bound=Enum)


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f'{name} must be an integer (got {value!r})')
    bound = BOUNDS[name]
    if not bound.admits(value):
        raise ConfigError(name, f'{name} must be {bound.describe()} (got {value})')
    return value


def _check_seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(name, f'{name} must be a number of seconds (got {value!r})')
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ConfigError(name, f'{name} must be a finite number of seconds (got {value!r})')
    bound = BOUNDS[name]
    if not bound.admits(seconds):
        raise ConfigError(name, f'{name} must be {bound.describe()} seconds (got {value})')
    return seconds


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(name, f'{name} must be True or False (got {value!r})')
    return value


def _check_choice(name: str, enum: type[E], value: object) -> E:
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        for member in enum:
            if member.value == value.lower():
                return member
    choices = ', '.join(str(member.value) for member in enum)
    raise ConfigError(name, f'{name} must be one of {choices} (got {value!r})')


def _check_strings(name: str, value: Iterable[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise ConfigError(name, f'{name} must hold non-empty strings (got {item!r})')
    return items


def _check_paths(
    name: str, value: Iterable[str | os.PathLike[str]] | str | os.PathLike[str] | None
) -> tuple[Path, ...]:
    if value is None:
        return ()
    items = (value,) if isinstance(value, str | os.PathLike) else tuple(value)
    paths = []
    for item in items:
        path = Path(item).resolve()
        if not path.exists():
            raise ConfigError(name, f"{name}: '{item}' does not exist")
        paths.append(path)
    return tuple(paths)


class Granian:
    """An HTTP server for a Python application.

    `target` names the application (`package.module:app`). `serve()` runs the server in this
    process (the master) and its workers, and returns once it stopped.
    """

    def __init__(
        self,
        target: str,
        *,
        address: str = '127.0.0.1',
        port: int = 8000,
        interface: Interfaces | str = Interfaces.RSGI,
        workers: int = 1,
        runtime_threads: int = 1,
        blocking_threads: int | None = None,
        http: HTTPModes | str = HTTPModes.auto,
        loop: Loops | str = Loops.auto,
        backlog: int = 1024,
        backpressure: int | None = None,
        http1_buffer_size: int = 417792,
        http1_header_read_timeout: int = 30000,
        http1_keep_alive: bool = True,
        http1_pipeline_flush: bool = False,
        http2_adaptive_window: bool = False,
        http2_initial_connection_window_size: int = 1024 * 1024,
        http2_initial_stream_window_size: int = 1024 * 1024,
        http2_keep_alive_interval: int | None = None,
        http2_keep_alive_timeout: int = 20,
        http2_max_concurrent_streams: int = 200,
        http2_max_frame_size: int = 16384,
        http2_max_headers_size: int = 16 * 1024,
        http2_max_send_buffer_size: int = 400 * 1024,
        log_enabled: bool = True,
        log_level: LogLevels | str = LogLevels.info,
        log_access: bool = False,
        factory: bool = False,
        working_dir: str | os.PathLike[str] | None = None,
        graceful_timeout: float = 30.0,
        workers_kill_timeout: float | None = None,
        reload: bool = False,
        reload_paths: Sequence[str | os.PathLike[str]] | None = None,
        reload_ignore_dirs: Sequence[str] | None = None,
    ) -> None:
        """Validate every option; raises `ConfigError` (a `ValueError`) naming the first invalid one.

        Durations: `http1_header_read_timeout` and `http2_keep_alive_interval` in milliseconds,
        `http2_keep_alive_timeout` in seconds, `graceful_timeout` and
        `workers_kill_timeout` in seconds. `backpressure` defaults to `backlog // workers`;
        `blocking_threads` to `default_blocking_threads()` with WSGI (at most `backpressure`), and
        must be 1 with the other interfaces.
        """
        if not isinstance(target, str) or not target.strip():
            raise ConfigError('target', f'target must be a non-empty string such as "module:app" (got {target!r})')
        if not isinstance(address, str) or not address.strip():
            raise ConfigError('address', f'address must be a non-empty string (got {address!r})')
        iface = _check_choice('interface', Interfaces, interface)
        n_workers = _check_int('workers', workers)
        n_backlog = _check_int('backlog', backlog)
        n_backpressure = (
            max(1, n_backlog // n_workers) if backpressure is None else _check_int('backpressure', backpressure)
        )
        if blocking_threads is None:
            n_blocking = min(n_backpressure, default_blocking_threads()) if iface is Interfaces.WSGI else 1
        else:
            n_blocking = _check_int('blocking_threads', blocking_threads)
            if n_blocking > 1 and iface is not Interfaces.WSGI:
                raise ConfigError(
                    'blocking_threads', f'blocking_threads must be 1 with the {iface} interface (got {n_blocking})'
                )
        wd: Path | None = None
        if working_dir is not None:
            wd = Path(working_dir).resolve()
            if not wd.is_dir():
                raise ConfigError('working_dir', f"working_dir: '{working_dir}' is not a directory")

        self.options = Options(
            target=target.strip(),
            address=address.strip(),
            port=_check_int('port', port),
            interface=iface,
            workers=n_workers,
            runtime_threads=_check_int('runtime_threads', runtime_threads),
            blocking_threads=n_blocking,
            http=_check_choice('http', HTTPModes, http),
            loop=_check_choice('loop', Loops, loop),
            backlog=n_backlog,
            backpressure=n_backpressure,
            http1_buffer_size=_check_int('http1_buffer_size', http1_buffer_size),
            http1_header_read_timeout=_check_int('http1_header_read_timeout', http1_header_read_timeout),
            http1_keep_alive=_check_bool('http1_keep_alive', http1_keep_alive),
            http1_pipeline_flush=_check_bool('http1_pipeline_flush', http1_pipeline_flush),
            http2_adaptive_window=_check_bool('http2_adaptive_window', http2_adaptive_window),
            http2_initial_connection_window_size=_check_int(
                'http2_initial_connection_window_size', http2_initial_connection_window_size
            ),
            http2_initial_stream_window_size=_check_int(
                'http2_initial_stream_window_size', http2_initial_stream_window_size
            ),
            http2_keep_alive_interval=(
                None
                if http2_keep_alive_interval is None
                else _check_int('http2_keep_alive_interval', http2_keep_alive_interval)
            ),
            http2_keep_alive_timeout=_check_int('http2_keep_alive_timeout', http2_keep_alive_timeout),
            http2_max_concurrent_streams=_check_int('http2_max_concurrent_streams', http2_max_concurrent_streams),
            http2_max_frame_size=_check_int('http2_max_frame_size', http2_max_frame_size),
            http2_max_headers_size=_check_int('http2_max_headers_size', http2_max_headers_size),
            http2_max_send_buffer_size=_check_int('http2_max_send_buffer_size', http2_max_send_buffer_size),
            log_enabled=_check_bool('log_enabled', log_enabled),
            log_level=_check_choice('log_level', LogLevels, log_level),
            log_access=_check_bool('log_access', log_access),
            factory=_check_bool('factory', factory),
            working_dir=wd,
            graceful_timeout=_check_seconds('graceful_timeout', graceful_timeout),
            workers_kill_timeout=(
                None if workers_kill_timeout is None else _check_seconds('workers_kill_timeout', workers_kill_timeout)
            ),
            reload=_check_bool('reload', reload),
            reload_paths=_check_paths('reload_paths', reload_paths),
            reload_ignore_dirs=_check_strings('reload_ignore_dirs', reload_ignore_dirs),
        )

    def __repr__(self) -> str:
        return f'Granian({self.options.target!r}, interface={self.options.interface.value!r})'

    def serve(self) -> None:
        """Run the server until SIGINT or SIGTERM; raise `SystemExit` with a non-zero code on failure.

        Must be called from the main thread, which handles the signals. With `working_dir`, this
        process changes to that directory for good.
        """
        code = self._serve()
        if code != EXIT_OK:
            raise SystemExit(code)

    def _serve(self) -> int:
        opts = self.options
        configure_logging(opts.log_level, enabled=opts.log_enabled)

        if opts.reload and importlib.util.find_spec('watchfiles') is None:
            return _fatal('--reload needs the watchfiles package (pip install granian[reload])', EXIT_CONFIG)
        try:
            resolve_loop(opts.loop)
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

        logger.info(f'Starting granian (main PID: {os.getpid()})')
        supervisor = _Supervisor(opts)
        with supervisor.signals():
            try:
                sock = _listen(opts.address, opts.port, opts.backlog)
            except OSError as exc:
                return _fatal(f'cannot listen on {_format_host(opts.address)}:{opts.port}: {exc.strerror or exc}')
            try:
                logger.info(f'Listening at: http://{_format_host(opts.address)}:{sock.getsockname()[1]}')
                return supervisor.run(sock)
            finally:
                sock.close()


def _fatal(message: str, code: int = EXIT_FAILURE) -> int:
    sys.stderr.write(f'Error: {message}\n')
    sys.stderr.flush()
    return code


def _bare_host(address: str) -> str:
    return address[1:-1] if address.startswith('[') and address.endswith(']') else address


def _format_host(address: str) -> str:
    host = _bare_host(address)
    return f'[{host}]' if ':' in host else host


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


class _Worker:
    __slots__ = ('id', 'process')

    def __init__(self, worker_id: int, process: BaseProcess) -> None:
        self.id = worker_id
        self.process = process


class _Supervisor:
    """The master's loop: spawn the workers, wait for a signal, a file change or a worker exit."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.workers: list[_Worker] = []
        self._context = multiprocessing.get_context('fork')
        # Signal handlers and the reload watcher wake the loop by writing to this pipe, which
        # it waits on along with the workers' sentinels.
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._stop_signals = 0
        self._restart_signal = False
        self._changes: list[str] = []
        self._changes_lock = threading.Lock()
        self._watch_stop = threading.Event()
        self._watcher: threading.Thread | None = None

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
            for wrk in self.workers:
                if wrk.process.is_alive():
                    wrk.process.kill()
                wrk.process.join()

    def _run(self, sock: socket.socket) -> int:
        if self._stop_signals:
            return EXIT_OK
        self._spawn_all(sock)
        if self.options.reload:
            self._start_watcher()
        while True:
            wait([self._wake_read, *(wrk.process.sentinel for wrk in self.workers)])
            self._drain()
            if self._stop_signals:
                logger.info('Shutting down granian')
                self._stop_all(force_after=self._stop_signals)
                return EXIT_OK
            exited = [wrk for wrk in self.workers if not wrk.process.is_alive()]
            if exited:
                for wrk in exited:
                    logger.error(f'Unexpected exit from worker-{wrk.id} (exit code {wrk.process.exitcode})')
                self._stop_all()
                return EXIT_FAILURE
            restart = False
            if self._restart_signal:
                self._restart_signal = False
                logger.info('Received SIGHUP, restarting workers')
                restart = True
            with self._changes_lock:
                changes, self._changes = self._changes, []
            if changes:
                logger.info('Changes detected, reloading workers')
                for path in changes:
                    logger.debug(f'Changed: {path}')
                restart = True
            if restart:
                self._stop_all()
                if self._stop_signals:
                    logger.info('Shutting down granian')
                    return EXIT_OK
                self._spawn_all(sock)

    def _spawn_all(self, sock: socket.socket) -> None:
        for worker_id in range(1, self.options.workers + 1):
            self._spawn(worker_id, sock)

    def _spawn(self, worker_id: int, sock: socket.socket) -> None:
        process = self._context.Process(
            target=_worker.run,
            args=(worker_id, self.options, sock, (self._wake_read, self._wake_write)),
            name=f'granian-worker-{worker_id}',
        )
        # Until the child has replaced the inherited handlers (which would act on the master's
        # copy of this object), the signals wait as pending; `_worker` unblocks them.
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _worker.MASTER_SIGNALS)
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        self.workers.append(_Worker(worker_id, process))
        logger.info(f'Spawning worker-{worker_id} with PID: {process.pid}')

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
        for wrk in self.workers:
            wrk.process.join()
            if wrk in signalled:
                code = wrk.process.exitcode
                if wrk not in alive and code not in (0, -signal.SIGTERM):
                    logger.warning(f'worker-{wrk.id} exited with code {code} while stopping')
                logger.info(f'Stopped worker-{wrk.id}')
            wrk.process.close()
        self.workers.clear()

    def _start_watcher(self) -> None:
        paths = self.options.reload_paths or (Path.cwd(),)
        self._watcher = threading.Thread(
            target=self._watch, args=(paths, self.options.reload_ignore_dirs), name='granian-reload', daemon=True
        )
        self._watcher.start()

    def _stop_watcher(self) -> None:
        self._watch_stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=2)

    def _watch(self, paths: Sequence[Path], ignore_dirs: Sequence[str]) -> None:
        import watchfiles

        python_files = _python_files_filter(watchfiles, ignore_dirs)
        try:
            for changes in watchfiles.watch(
                *paths, watch_filter=python_files, stop_event=self._watch_stop, raise_interrupt=False
            ):
                with self._changes_lock:
                    self._changes.extend(sorted(path for _, path in changes))
                self._wake()
        except Exception:
            logger.exception('The reload watcher stopped')


def _python_files_filter(watchfiles: Any, ignore_dirs: Sequence[str]) -> Callable[[Any, str], bool]:
    """watchfiles' default filter, with more directories ignored, passing only `.py` files."""
    default = watchfiles.DefaultFilter
    base = default(ignore_dirs=(*default.ignore_dirs, *RELOAD_IGNORED_DIRS, *ignore_dirs))

    def python_files(change: Any, path: str) -> bool:
        return path.endswith('.py') and bool(base(change, path))

    return python_files
