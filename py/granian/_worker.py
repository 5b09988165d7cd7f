"""The worker process: serves the application on the listening socket it inherited from the master.

Each worker is forked by the master (see `granian.server`) and runs `run()`: it picks an event
loop, imports the application, runs the ASGI lifespan startup, hands the socket to the native
server and serves until SIGTERM or SIGINT, then drains in-flight requests for up to
`graceful_timeout` seconds, runs the lifespan shutdown and exits. A WSGI application runs on the
native server's blocking threads instead; the loop then only waits for the stop signal.

Worker exit codes (the master reports any of them, when unexpected, as
`Unexpected exit from worker-N (exit code C)` and exits 1, or respawns the worker with
`respawn_failed_workers`, except after 3, 5 and 6, which a new worker would repeat):

====  =======================================================================================
0     stopped on request (SIGTERM/SIGINT), or asked to stop before it started serving
1     an unexpected Python exception in the worker (its traceback is on stderr)
3     the application target could not be loaded: `Error: ...` on stderr names the module or
      attribute (with the traceback first when the application's own code raised)
4     the ASGI lifespan startup or the RSGI `__rsgi_init__` failed: the application's message or
      traceback is logged as an error
5     the requested event loop is not installed
6     the native server could not be loaded or started (logged as an error; a TLS certificate
      or key that cannot be loaded is one `Error: TLS: ...` line instead)
====  =======================================================================================

A SIGKILL from the master (a worker that outlived its stop timeout) shows as exit code -9.

A worker dies with its master: the kernel sends it SIGTERM when the master exits, however it
exits (`PR_SET_PDEATHSIG`, Linux), and it then drains as on any SIGTERM; a worker whose master
died before it could ask for that stops before serving. Once serving, a worker keeps no copy of
the listening socket of its own (the native server holds one until the drain starts), so when
the master is gone and the workers drain, nothing listens on the port and a new server can bind
it at once.

The master tells a worker that the server is about to stop with `NOT_READY_SIGNAL` (SIGUSR1, during
`shutdown_delay`): the worker keeps serving, and its readiness path answers 503 from then on. A
worker that drains (SIGTERM) answers 503 there too, for the connections it still serves.

A worker reports to the master on a pipe of its own (`status_fd`), one byte per message:
`MSG_SERVING` once it serves (when it logs `Started worker-N`), which is what the master waits
for before stopping the worker this one replaces, and `MSG_REPLACE` once its native server
counted `max_requests` requests (checked every `REQUESTS_POLL` seconds, so no Python runs per
request), asking to be replaced; it keeps serving until the master stops it.

The master imports this module for its constants and forks `run`: asyncio, and the lifespan and
readiness helpers that need it, are imported by the functions that use them, so that a master
forking one worker never loads them (see `granian._loops`). A master forking more than one calls
`preload` first: the workers then share one copy of those modules' memory.
"""

from __future__ import annotations

import importlib
import inspect
import os
import signal
import socket
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterable
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from ._access_log import AccessLogWriter
from ._imports import TargetError, load_target
from ._loops import LoopUnavailableError, loops, new_event_loop
from ._ops import die_with_parent, set_process_title
from .constants import Interfaces
from .log import logger, write_fatal

if TYPE_CHECKING:
    import asyncio

    from ._lifespan import Lifespan
    from ._options import Options

__all__ = [
    'EXIT_EXCEPTION',
    'EXIT_LIFESPAN',
    'EXIT_LOOP',
    'EXIT_OK',
    'EXIT_SERVER',
    'EXIT_TARGET',
    'MSG_REPLACE',
    'MSG_SERVING',
    'NOT_READY_SIGNAL',
    'STARTUP_FAILURES',
    'STOP_SIGNALS',
    'WORKER_MODULES',
    'preload',
    'run',
]

EXIT_OK = 0
EXIT_EXCEPTION = 1
EXIT_TARGET = 3
EXIT_LIFESPAN = 4
EXIT_LOOP = 5
EXIT_SERVER = 6
# Exits that a new worker would repeat: the master does not respawn after these.
STARTUP_FAILURES = frozenset({EXIT_TARGET, EXIT_LOOP, EXIT_SERVER})

MSG_SERVING = b'S'
MSG_REPLACE = b'R'
# How often a worker with `max_requests` compares its native request count with it, in seconds.
REQUESTS_POLL = 0.1

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Signals the master handles itself and blocks around fork (see `server._Supervisor._spawn`).
MASTER_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
# From the master: the server stops soon, readiness fails from now on (see `shutdown_delay`).
NOT_READY_SIGNAL = signal.SIGUSR1
# Blocked by the master around fork, unblocked by the worker once its handlers are in place:
# until then the default actions (termination) or the master's handlers would run.
FORK_BLOCKED = MASTER_SIGNALS | {NOT_READY_SIGNAL}

T = TypeVar('T')

# What every worker imports before serving, besides its event loop's packages and the application.
WORKER_MODULES = ('asyncio', 'ctypes', 'granian._lifespan', 'granian._ready', 'granian._native')

_stop_requested = False
_not_ready_requested = False
# Write end of this worker's status pipe to the master, if it has one.
_status_fd: int | None = None
_max_requests: int | None = None
# The master's metrics region and this process's slot in it, when metrics are on.
_metrics: tuple[Any, int] | None = None
# This worker's HTTP/3 socket, its index in the master's group and the group's marker.
_quic: tuple[socket.socket, int, int] | None = None


def preload(loop: str) -> None:
    """Import in the master what every worker imports before serving (`WORKER_MODULES` and the
    packages of the `loop` builder), so that the workers it forks share those pages instead of
    each importing its own copy (~6 MiB less PSS per worker, see docs/benchmarks.md). The
    application is never imported here. Worth it with two workers or more; with one, the master
    would only hold a second copy. A module that fails to import is left to the workers, which
    import it again and report why it fails."""
    for name in (*WORKER_MODULES, *loops.packages(loop)):
        try:
            importlib.import_module(name)
        except Exception as exc:
            logger.debug(f'{name} not imported before forking: {exc}')


def _early_stop(signum: int, frame: FrameType | None) -> None:
    # Until the event loop owns the signals: remember the request, act on it once possible.
    global _stop_requested
    _stop_requested = True


def _early_not_ready(signum: int, frame: FrameType | None) -> None:
    # Until the server exists: remember it, the server starts not ready then.
    global _not_ready_requested
    _not_ready_requested = True


def _install_signals() -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, _early_stop)
    signal.signal(NOT_READY_SIGNAL, _early_not_ready)
    # SIGHUP asks the master to restart the workers, which it does with SIGTERM; a worker that
    # receives it too (a closing terminal signals the whole group) keeps serving until then.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # The master blocked these around fork so that none could reach its own handlers, inherited
    # by this process until the lines above replaced them. Pending ones are delivered now.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORK_BLOCKED)


def _tell_master(message: bytes) -> None:
    if _status_fd is None:
        return
    try:
        os.write(_status_fd, message)
    except OSError:
        # The master is gone; SIGTERM or the end of the process follows.
        pass


async def _watch_requests(worker_id: int, server: Any, limit: int) -> None:
    """Ask the master for a replacement once the native server counted `limit` requests."""
    import asyncio

    while server.requests < limit:
        await asyncio.sleep(REQUESTS_POLL)
    logger.info(f'worker-{worker_id} served {server.requests} requests (max {limit}): asking to be replaced')
    _tell_master(MSG_REPLACE)


def _error(message: str, details: str | None = None) -> None:
    write_fatal(message, details)


def _follow_master(master_pid: int) -> None:
    """Stop when the master dies: SIGTERM from the kernel once it exits (even by SIGKILL), so
    that no worker goes on serving old code on the socket unsupervised. The master may have died
    between the fork and the request: the parent is then another process already, and the
    worker stops as if signalled."""
    die_with_parent(signal.SIGTERM)
    if os.getppid() != master_pid:
        os.kill(os.getpid(), signal.SIGTERM)


def run(
    worker_id: int,
    options: Options,
    sock: socket.socket,
    master_fds: Iterable[int] = (),
    *,
    master_pid: int | None = None,
    status_fd: int | None = None,
    max_requests: int | None = None,
    metrics: tuple[Any, int] | None = None,
    loader: Callable[[], Any] | None = None,
    quic: tuple[socket.socket, int, int] | None = None,
) -> None:
    """Entry point of a forked worker process; exits with one of the codes in this module's docstring.

    `master_fds` are the master's descriptors to close; `master_pid` the master, whose death stops
    this worker; `status_fd` the write end of this worker's status pipe; `max_requests` the request count after which it asks to be replaced; `metrics`
    the master's metrics region and the slot this process counts in; `loader` builds the
    application instead of importing the target (`Granian.serve(target_loader=...)`); `quic`, with
    HTTP/3, this worker's UDP socket, its index in the master's group and the group's marker (see
    `granian._quic`).
    """
    global _status_fd, _max_requests, _metrics, _quic
    _install_signals()
    if master_pid is not None:
        _follow_master(master_pid)
    _status_fd, _max_requests, _metrics, _quic = status_fd, max_requests, metrics, quic
    if options.process_name is not None:
        set_process_title(f'{options.process_name} [worker-{worker_id}]')
    for fd in master_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    code = _run(worker_id, options, sock, loader)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


def _load(options: Options, loader: Callable[[], Any] | None) -> Any:
    """The application: built by `loader` when given, else imported from the target."""
    if loader is None:
        return load_target(options.target, factory=options.factory)
    try:
        app = loader()
    except Exception as exc:
        raise TargetError(
            f'the target loader raised {type(exc).__name__}: {exc}', ''.join(traceback.format_exception(exc))
        ) from None
    if not callable(app):
        raise TargetError(f'the target loader returned {type(app).__name__}, which is not callable')
    return app


def _run(worker_id: int, options: Options, sock: socket.socket, loader: Callable[[], Any] | None = None) -> int:
    import asyncio

    try:
        loop = new_event_loop(options.loop)
    except LoopUnavailableError as exc:
        _error(str(exc))
        return EXIT_LOOP
    asyncio.set_event_loop(loop)
    try:
        try:
            app = _load(options, loader)
            ready_check = _load_ready_check(options)
        except TargetError as exc:
            _error(str(exc), exc.details)
            return EXIT_TARGET
        if _stop_requested:
            return EXIT_OK
        if options.interface is Interfaces.RSGI and worker_id == 1:
            _warn_if_not_rsgi(app, options.target)
        try:
            from . import _native
        except ImportError as exc:
            _error(f'the native module could not be loaded: {exc}')
            return EXIT_SERVER
        if options.interface is Interfaces.RSGI:
            return _run_rsgi(worker_id, options, sock, app, _native, loop, ready_check)
        return loop.run_until_complete(_serve(worker_id, options, sock, app, _native, ready_check))
    finally:
        _close_loop(loop)


def _load_ready_check(options: Options) -> Callable[[], Any] | None:
    """The application's readiness check (`ready_check`), imported as the application is."""
    check = options.ready_check
    if check is None or callable(check):
        return check
    try:
        return load_target(check)
    except TargetError as exc:
        raise TargetError(f'ready_check: {exc}', exc.details) from None


def _positional_parameters(app: Any) -> int | None:
    """How many positional arguments calling `app` takes, or None when it cannot be told."""
    try:
        signature = inspect.signature(app)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(param.kind is inspect.Parameter.VAR_POSITIONAL for param in signature.parameters.values()):
        return None
    return sum(1 for param in signature.parameters.values() if param.kind in kinds)


def _warn_if_not_rsgi(app: Any, target: str) -> None:
    """Warn when the application served as RSGI (the default) looks like ASGI or WSGI: each
    request would fail. Only the shape of the callable is read; nothing of the app runs."""
    if hasattr(app, '__rsgi__') or inspect.isclass(app):
        return
    call = app if inspect.isroutine(app) else type(app).__call__
    coroutine = inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(app)
    count = _positional_parameters(app)
    if coroutine and count == 3:
        logger.warning(
            f"'{target}' looks like an ASGI application (async, called with scope, receive, send) but is served "
            'with the RSGI interface, the default: add --interface asgi'
        )
    elif not coroutine and count == 2 and (inspect.isfunction(call) or inspect.ismethod(call)):
        logger.warning(
            f"'{target}' looks like a WSGI application (called with environ, start_response) but is served "
            'with the RSGI interface, the default: add --interface wsgi'
        )


def _run_rsgi(
    worker_id: int,
    options: Options,
    sock: socket.socket,
    app: Any,
    native: ModuleType,
    loop: asyncio.AbstractEventLoop,
    ready_check: Callable[[], Any] | None,
) -> int:
    """Serve an RSGI application: RSGI spec 1.6 calls `__rsgi_init__(loop)` once before serving and
    `__rsgi_del__(loop)` once after, both while the loop is not running, and sends requests to
    `__rsgi__` rather than `__call__` when the application has one."""
    init = getattr(app, '__rsgi_init__', None)
    if init is not None:
        try:
            init(loop)
        except Exception:
            logger.exception(f'worker-{worker_id}: the application failed in __rsgi_init__')
            return EXIT_LIFESPAN
    try:
        serving = _serve(worker_id, options, sock, getattr(app, '__rsgi__', app), native, ready_check)
        return loop.run_until_complete(serving)
    finally:
        cleanup = getattr(app, '__rsgi_del__', None)
        if cleanup is not None:
            try:
                cleanup(loop)
            except Exception:
                logger.exception(f'worker-{worker_id}: the application failed in __rsgi_del__')


async def _until_stopped(awaitable: Awaitable[T], stop: asyncio.Event) -> tuple[bool, T | None]:
    """Await `awaitable` unless `stop` is set first: (True, result) or (False, None), cancelling it."""
    import asyncio

    task = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done():
        return True, task.result()
    task.cancel()
    return False, None


async def _serve(
    worker_id: int,
    options: Options,
    sock: socket.socket,
    app: Any,
    native: ModuleType,
    ready_check: Callable[[], Any] | None = None,
) -> int:
    import asyncio

    from ._lifespan import Lifespan
    from ._ready import ReadyCheck

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    if _stop_requested:
        stop.set()

    lifespan: Lifespan | None = None
    state: dict[str, Any] | None = None
    if options.interface is Interfaces.ASGI:
        lifespan = Lifespan(app)
        finished, started = await _until_stopped(lifespan.startup(), stop)
        if not finished:
            lifespan.cancel()
            return EXIT_OK
        if not started:
            return EXIT_LIFESPAN
        state = lifespan.state
    if stop.is_set():
        if lifespan is not None:
            await lifespan.shutdown()
        return EXIT_OK

    try:
        config = native.ServerConfig(
            options,
            metrics=None if _metrics is None else _metrics[0],
            metrics_slot=0 if _metrics is None else _metrics[1],
            ready_check=None if ready_check is None else ReadyCheck(ready_check, loop, options.ready_check_timeout),
        )

        def not_ready() -> None:
            if config.draining:
                return
            config.not_ready()
            if options.ready_path is not None:
                logger.info(f'worker-{worker_id}: {options.ready_path} answers 503 from now on, the server stops soon')

        # A notice that came while the worker started applies from the first request on.
        loop.add_signal_handler(NOT_READY_SIGNAL, not_ready)
        if _not_ready_requested:
            not_ready()
        udp: dict[str, Any] = {}
        if _quic is not None:
            udp_sock, udp_index, marker = _quic
            udp = {'udp_fd': udp_sock.fileno(), 'steering': (marker, udp_index)}
        if options.interface is Interfaces.RSGI:
            server = native.RsgiServer(sock.fileno(), config, app, loop, **udp)
        elif options.interface is Interfaces.WSGI:
            server = native.WsgiServer(
                sock.fileno(),
                config,
                app,
                blocking_threads=options.blocking_threads,
                multiprocess=options.workers > 1,
                **udp,
            )
        else:
            server = native.AsgiServer(sock.fileno(), config, app, loop, state=state, **udp)
        access_log = None if config.access_log_queue is None else AccessLogWriter(config.access_log_queue)
        if access_log is not None:
            access_log.start()
        server.start()
        # The native server took a descriptor of its own, closed when it stops accepting: with
        # this one closed too, a draining worker no longer holds the port.
        sock.close()
    except native.TlsError as exc:
        # A configuration error, not a crash: one line says what to fix.
        _error(f'TLS: {exc}')
        if lifespan is not None:
            await lifespan.shutdown()
        return EXIT_SERVER
    except Exception:
        logger.exception(f'worker-{worker_id} could not start the server')
        if lifespan is not None:
            await lifespan.shutdown()
        return EXIT_SERVER
    if _metrics is not None:
        _metrics[0].set_blocking_threads(_metrics[1], options.blocking_threads)
    logger.info(f'Started worker-{worker_id}')
    _tell_master(MSG_SERVING)
    watcher = (
        None if _max_requests is None else asyncio.ensure_future(_watch_requests(worker_id, server, _max_requests))
    )

    await stop.wait()
    if watcher is not None:
        watcher.cancel()
    logger.debug(f'Stopping worker-{worker_id}')
    try:
        if options.interface is Interfaces.WSGI:
            # Blocks, without the GIL, while the blocking threads finish the requests in flight.
            server.shutdown(options.graceful_timeout)
        else:
            await server.shutdown(options.graceful_timeout)
    except Exception:
        logger.exception(f'worker-{worker_id} server shutdown failed')
    if access_log is not None:
        # The lines of the requests drained above.
        access_log.stop()
    if lifespan is not None:
        await lifespan.shutdown()
    return EXIT_OK


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on the loop and close it, as `asyncio.run` does on the way out."""
    import asyncio

    try:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
