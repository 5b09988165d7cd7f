"""`Granian`: validates the options, then runs the master process that supervises the workers.

The master binds one listening socket and forks the workers, which inherit it (see
`granian._worker` for what a worker does and its exit codes). It never imports the application
nor the native module: a worker restarted after a code change imports everything afresh.

Each worker also gets the write end of a pipe of its own, on which it tells the master that it
serves and, with `max_requests`, that it counted that many requests and wants replacing (the
count is an atomic in the native server, polled by the worker a few times a second). The master
replaces workers (SIGHUP, `workers_lifetime`, `workers_max_rss`, `max_requests`) by starting the
new one first and stopping the old one once the new one serves; see `_Supervisor`.

Master exit codes:

====  =======================================================================================
0     stopped by SIGINT or SIGTERM (after stopping the workers)
1     a worker exited on its own (it failed to start or crashed) without
      `respawn_failed_workers`, a crash loop with it, or the socket could not be bound; the
      cause is on stderr
2     a configuration the server cannot run with: an invalid option (the CLI reports these as
      usage errors), `--reload` without watchfiles, a missing uvloop
====  =======================================================================================

What the master logs on `granian` (stderr, `[LEVEL] message`):

* `Starting granian (main PID: N)`, then `Listening at: http://HOST:PORT` (the bound port,
  also when 0 was asked for; `https://` with TLS, `unix:PATH` on a Unix socket), then `Spawning worker-N with PID: P` for each worker;
* `Shutting down granian` on SIGINT/SIGTERM, `Stopped worker-N (PID: P)` for each worker, and
  `Killing worker-N ...` for one that outlives its stop timeout (or on a second signal);
* `Unexpected exit from worker-N (exit code C)` when a worker exits while not asked to; the
  master then stops the others and exits 1, or with `respawn_failed_workers` logs
  `Respawning worker-N` after `respawn_interval` (and `Workers failed N times within 60s:
  giving up on this crash loop` before exiting 1 when they keep failing);
* `Replacing worker-N (PID: P): REASON` when a worker is replaced (`SIGHUP`, `lifetime
  reached`, `memory over M MiB` after a `worker-N (PID: P) uses R MiB, over the M MiB limit`
  warning, `N requests served`), then `Stopping worker-N (PID: P): replaced by PID Q` once the
  new worker serves (see `_Supervisor`);
* `Received SIGHUP, restarting workers`: a rolling restart, every worker replaced in turn;
* `Changes detected, reloading workers` (with `reload`): the workers are stopped and spawned
  again.

Fatal errors before serving are one `Error: ...` line on stderr.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import math
import multiprocessing
import os
import random
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import Enum
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple, TypeVar

from . import _ops, _worker
from ._loops import LoopUnavailableError, resolve_loop
from .constants import HTTPModes, Interfaces, LogLevels, Loops, SSLProtocols
from .log import DEFAULT_ACCESS_LOG_FORMAT, LogConfigError, configure_logging, logger

__all__ = [
    'BOUNDS',
    'CRASH_LOOP_FAILURES',
    'CRASH_LOOP_WINDOW',
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

# Crash-loop detection: more unexpected worker exits than this within the window (seconds) make
# the master give up and exit 1 rather than respawn again.
CRASH_LOOP_FAILURES = 5
CRASH_LOOP_WINDOW = 60.0

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
    'http1_keep_alive_timeout': Bound(0, 3_600_000),
    'max_request_body_size': Bound(1, 2**63 - 1),
    'max_header_size': Bound(1024, 2**32 - 1),
    'uds_permissions': Bound(0, 0o777),
    'fd': Bound(0),
    'http2_keep_alive_interval': Bound(1),
    'http2_keep_alive_timeout': Bound(1),
    'ws_max_message_size': Bound(1, 2**32 - 1),
    # 0 sends no pings.
    'ws_ping_interval': Bound(0),
    'ws_ping_timeout': Bound(0, min_open=True),
    # 0 sends no cache headers.
    'static_path_expires': Bound(0),
    'graceful_timeout': Bound(0),
    'workers_kill_timeout': Bound(0, min_open=True),
    'respawn_interval': Bound(0),
    'workers_lifetime': Bound(0, min_open=True),
    'workers_lifetime_jitter': Bound(0),
    'workers_max_rss': Bound(1),
    'rss_sample_interval': Bound(0, min_open=True),
    'max_requests': Bound(1),
    'max_requests_jitter': Bound(0),
    'response_compression_min_size': Bound(0, 2**63 - 1),
    'metrics_scrape_interval': Bound(1, 60),
    'metrics_port': Bound(0, 65535),
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
    http1_keep_alive_timeout: int
    max_request_body_size: int | None
    max_header_size: int | None
    ssl_cert: Path | None
    ssl_key: Path | None
    ssl_key_password: str | None
    ssl_protocol_min: SSLProtocols
    ssl_ca: Path | None
    ssl_client_verify: bool
    proxy_headers: bool
    forwarded_allow_ips: str
    url_path_prefix: str | None
    uds: Path | None
    uds_permissions: int | None
    fd: int | None
    pid_file: Path | None
    process_name: str | None
    env_files: tuple[Path, ...]
    websockets: bool
    ws_max_message_size: int
    ws_ping_interval: float
    ws_ping_timeout: float
    ws_deflate: bool
    server_header: str | None
    response_compression: bool
    response_compression_min_size: int
    response_compression_algorithms: tuple[str, ...]
    static_path_route: tuple[str, ...]
    static_path_mount: tuple[Path, ...]
    static_path_dir_to_file: str | None
    static_path_expires: float
    log_enabled: bool
    log_level: LogLevels
    log_access: bool
    log_access_format: str
    log_access_json: bool
    log_dictconfig: dict[str, Any] | None
    log_json: bool
    factory: bool
    working_dir: Path | None
    graceful_timeout: float
    workers_kill_timeout: float | None
    respawn_failed_workers: bool
    respawn_interval: float
    workers_lifetime: float | None
    workers_lifetime_jitter: float
    workers_max_rss: int | None
    rss_sample_interval: float
    max_requests: int | None
    max_requests_jitter: int
    reload: bool
    reload_paths: tuple[Path, ...]
    reload_ignore_dirs: tuple[str, ...]
    metrics_enabled: bool
    metrics_scrape_interval: float
    metrics_address: str
    metrics_port: int

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


# The response compression algorithms, in the default order of preference.
COMPRESSION_ALGORITHMS = ('br', 'zstd', 'gzip')


def _check_server_header(value: object) -> str | None:
    if value is None or value is False:
        return None
    if not isinstance(value, str):
        raise ConfigError('server_header', f'server_header must be a string, None or False (got {value!r})')
    text = value.strip()
    if any(not (' ' <= char <= '~') for char in text):
        raise ConfigError('server_header', f'server_header must be printable ASCII (got {value!r})')
    return text or None


def _check_algorithms(value: Iterable[str] | str | None) -> tuple[str, ...]:
    name = 'response_compression_algorithms'
    if value is None:
        return COMPRESSION_ALGORITHMS
    items = value.replace(',', ' ').split() if isinstance(value, str) else list(value)
    algorithms: list[str] = []
    for item in items:
        algorithm = item.strip().lower() if isinstance(item, str) else item
        if algorithm not in COMPRESSION_ALGORITHMS:
            raise ConfigError(name, f'{name}: {item!r} is not one of {", ".join(COMPRESSION_ALGORITHMS)}')
        if algorithm in algorithms:
            raise ConfigError(name, f'{name}: {item!r} given twice')
        algorithms.append(algorithm)
    if not algorithms:
        raise ConfigError(name, f'{name} must name at least one of {", ".join(COMPRESSION_ALGORITHMS)}')
    return tuple(algorithms)


def _check_strings(name: str, value: Iterable[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise ConfigError(name, f'{name} must hold non-empty strings (got {item!r})')
    return items


def _check_address(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(name, f'{name} must be a non-empty string (got {value!r})')
    return value.strip()


def _check_file(name: str, value: str | os.PathLike[str] | None) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise ConfigError(name, f'{name} must be a path (got {value!r})')
    path = Path(value).resolve()
    if not path.is_file():
        raise ConfigError(name, f"{name}: '{value}' is not a file")
    return path


def _check_forwarded_allow_ips(value: object) -> str:
    """The trusted list as one comma-separated string: IP addresses, networks written
    `address/length` without host bits, and `*`."""
    if isinstance(value, str):
        items = value.split(',')
    elif isinstance(value, Iterable):
        items = [item for entry in value for item in str(entry).split(',')]
    else:
        raise ConfigError('forwarded_allow_ips', f'forwarded_allow_ips must be a string or a list (got {value!r})')
    entries = []
    for entry in (item.strip() for item in items):
        if not entry:
            continue
        if entry != '*':
            address, _, length = entry.partition('/')
            try:
                if '%' in address or (length and not length.isdigit()):
                    raise ValueError('use address/length')
                if length:
                    ipaddress.ip_network(entry, strict=True)
                else:
                    ipaddress.ip_address(entry)
            except ValueError as exc:
                raise ConfigError(
                    'forwarded_allow_ips',
                    f"forwarded_allow_ips: {entry!r} is not an IP address, a network (such as 10.0.0.0/8) or '*' "
                    f'({exc})',
                ) from None
        entries.append(entry)
    return ','.join(entries)


def _check_url_path_prefix(value: object) -> str | None:
    """`None` for no prefix (`None`, '' or '/'); else the prefix without trailing slashes."""
    if value is None or value == '':
        return None
    if not isinstance(value, str) or not value.startswith('/') or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError(
            'url_path_prefix', f"url_path_prefix must start with '/' and hold no control characters (got {value!r})"
        )
    return value.rstrip('/') or None


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


def _check_static_paths(
    routes: Sequence[str] | str | None, mounts: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] | None
) -> tuple[tuple[str, ...], tuple[Path, ...]]:
    """Routes and the directories they serve, paired in order; one mount alone goes on `/static`."""
    paths = _check_paths('static_path_mount', mounts)
    for path in paths:
        if not path.is_dir():
            raise ConfigError('static_path_mount', f"static_path_mount: '{path}' is not a directory")
    names = _check_strings('static_path_route', routes)
    if len(paths) == 1 and not names:
        names = ('/static',)
    if len(names) != len(paths):
        raise ConfigError(
            'static_path_route',
            f'static_path_route and static_path_mount pair up in order: got {len(names)} routes for '
            f'{len(paths)} mounts',
        )
    for name in names:
        if not name.startswith('/'):
            raise ConfigError('static_path_route', f"static_path_route must start with '/' (got {name!r})")
    return names, paths


def _check_access_log_format(value: object, *, enabled: bool) -> str:
    if value is None:
        return DEFAULT_ACCESS_LOG_FORMAT
    if not isinstance(value, str):
        raise ConfigError('log_access_format', f'log_access_format must be a string (got {value!r})')
    if not enabled:
        # Compiled only when used: the master does not load the native module otherwise.
        return value
    try:
        from ._native import AccessLogQueue
    except ImportError:
        # The workers report the missing native module; they also compile the format again.
        return value
    try:
        AccessLogQueue.check(value)
    except ValueError as exc:
        raise ConfigError('log_access_format', f'log_access_format: {exc}') from None
    return value


def _check_dictconfig(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError('log_dictconfig', f'log_dictconfig must be a dictConfig dictionary (got {value!r})')
    return value


def _is_plain_relative(name: object) -> bool:
    if not isinstance(name, str) or not name or '\\' in name or '\0' in name:
        return False
    return not name.startswith('/') and all(part not in ('', '.', '..') for part in name.split('/'))


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
        http1_keep_alive_timeout: int = 30000,
        max_request_body_size: int | None = None,
        max_header_size: int | None = None,
        ssl_cert: str | os.PathLike[str] | None = None,
        ssl_key: str | os.PathLike[str] | None = None,
        ssl_key_password: str | None = None,
        ssl_protocol_min: SSLProtocols | str = SSLProtocols.tls12,
        ssl_ca: str | os.PathLike[str] | None = None,
        ssl_client_verify: bool = False,
        proxy_headers: bool = False,
        forwarded_allow_ips: str | Sequence[str] = '127.0.0.1,::1',
        url_path_prefix: str | None = None,
        uds: str | os.PathLike[str] | None = None,
        uds_permissions: int | None = None,
        fd: int | None = None,
        pid_file: str | os.PathLike[str] | None = None,
        process_name: str | None = None,
        env_files: Sequence[str | os.PathLike[str]] | None = None,
        websockets: bool = True,
        ws_max_message_size: int = 16 * 1024 * 1024,
        ws_ping_interval: float = 20.0,
        ws_ping_timeout: float = 20.0,
        ws_deflate: bool = True,
        server_header: str | bool | None = 'granian',
        response_compression: bool = False,
        response_compression_min_size: int = 1024,
        response_compression_algorithms: Sequence[str] | str | None = None,
        static_path_route: Sequence[str] | None = None,
        static_path_mount: Sequence[str | os.PathLike[str]] | None = None,
        static_path_dir_to_file: str | None = None,
        static_path_expires: float = 86400,
        log_enabled: bool = True,
        log_level: LogLevels | str = LogLevels.info,
        log_access: bool = False,
        log_access_format: str | None = None,
        log_access_json: bool = False,
        log_dictconfig: dict[str, Any] | None = None,
        log_json: bool = False,
        factory: bool = False,
        working_dir: str | os.PathLike[str] | None = None,
        graceful_timeout: float = 30.0,
        workers_kill_timeout: float | None = None,
        respawn_failed_workers: bool = False,
        respawn_interval: float = 3.5,
        workers_lifetime: float | None = None,
        workers_lifetime_jitter: float = 0.0,
        workers_max_rss: int | None = None,
        rss_sample_interval: float = 30.0,
        max_requests: int | None = None,
        max_requests_jitter: int = 0,
        reload: bool = False,
        reload_paths: Sequence[str | os.PathLike[str]] | None = None,
        reload_ignore_dirs: Sequence[str] | None = None,
        metrics_enabled: bool = False,
        metrics_scrape_interval: float = 15,
        metrics_address: str = '127.0.0.1',
        metrics_port: int = 9090,
    ) -> None:
        """Validate every option; raises `ConfigError` (a `ValueError`) naming the first invalid one.

        Durations: `http1_header_read_timeout` and `http2_keep_alive_interval` in milliseconds,
        `http2_keep_alive_timeout`, `ws_ping_interval` (0: no pings) and `ws_ping_timeout` in seconds, `graceful_timeout`, `workers_kill_timeout`,
        `respawn_interval`, `workers_lifetime`, `workers_lifetime_jitter` and `rss_sample_interval`
        in seconds; `workers_max_rss` in MiB. `None` turns `workers_lifetime`, `workers_max_rss`
        and `max_requests` off (see `_Supervisor` for what they do). `backpressure` defaults to `backlog // workers`;
        `blocking_threads` to `default_blocking_threads()` with WSGI (at most `backpressure`), and
        must be 1 with the other interfaces.

        `http1_keep_alive_timeout` is in milliseconds (0: no idle limit); `max_request_body_size`
        and `max_header_size` in bytes (`None`: no body limit; the per-protocol header limits).
        TLS needs `ssl_cert` and `ssl_key` together; `ssl_ca` and `ssl_client_verify` add client
        certificates. `uds` (with `uds_permissions`, e.g. `0o660`) or `fd` replace `address` and
        `port`; without either, a socket passed by systemd (`LISTEN_FDS`) is used when present.

        `ws_deflate` accepts permessage-deflate (RFC 7692) when a websocket client offers it;
        `ws_max_message_size` then bounds messages after decompression. See docs/websockets.md.

        `proxy_headers` takes the client address, scheme, host and path prefix from the
        `Forwarded` (or `X-Forwarded-*`) headers of peers in `forwarded_allow_ips` (a
        comma-separated string or a list of IP addresses, networks such as `10.0.0.0/8`, and `*`;
        Unix socket peers are always trusted). `url_path_prefix` is the path the application is
        mounted on: ASGI `root_path`, WSGI `SCRIPT_NAME` (removed from `PATH_INFO`); RSGI ignores
        it. See docs/proxy-headers.md.

        `static_path_mount` directories are served as static files before the application, each on
        the `static_path_route` at the same position (one mount alone defaults to `/static`);
        `static_path_dir_to_file` is the file served for a directory, `static_path_expires` the
        seconds clients may cache them (0: no cache headers). See docs/static-files.md.

        `log_access` writes one line per request on the `granian.access` logger, formatted by
        `log_access_format` (Granian's `%(atom)s` atoms; default `DEFAULT_ACCESS_LOG_FORMAT`) or,
        with `log_access_json`, as one JSON object. `log_dictconfig` is a `logging.config.dictConfig`
        dictionary applied in the master before the workers start; `log_json` writes the server's
        own records as JSON lines. See docs/logging.md.

        `server_header` is the `Server` header added to responses that set none (`None`, `False` or
        an empty string: none; an application's own `Server` header is always kept).
        `response_compression` compresses responses the client accepts compressed (brotli, zstd,
        gzip) when their type is text-like and their size unknown or at least
        `response_compression_min_size` bytes; `response_compression_algorithms` restricts and
        orders the algorithms offered (default `COMPRESSION_ALGORITHMS`). See docs/responses.md.

        `metrics_enabled` serves Prometheus metrics from the master on `metrics_address` and
        `metrics_port` (`GET /metrics`); `metrics_scrape_interval` (1 to 60 seconds) is accepted
        for compatibility and changes nothing, as every scrape reads live counters. See
        docs/metrics.md.
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
        tls_cert = _check_file('ssl_cert', ssl_cert)
        tls_key = _check_file('ssl_key', ssl_key)
        tls_ca = _check_file('ssl_ca', ssl_ca)
        if (tls_cert is None) != (tls_key is None):
            given = 'ssl_cert' if tls_cert is not None else 'ssl_key'
            raise ConfigError(given, 'ssl_cert and ssl_key go together: give both or neither')
        if ssl_key_password is not None and (not isinstance(ssl_key_password, str) or tls_key is None):
            raise ConfigError('ssl_key_password', 'ssl_key_password must be a string, given with ssl_key')
        if tls_ca is not None and tls_cert is None:
            raise ConfigError('ssl_ca', 'ssl_ca needs ssl_cert and ssl_key')
        client_verify = _check_bool('ssl_client_verify', ssl_client_verify)
        if client_verify and tls_ca is None:
            raise ConfigError(
                'ssl_client_verify', 'ssl_client_verify needs ssl_ca (the CA client certificates are checked against)'
            )
        uds_path = None if uds is None else Path(uds).absolute()
        n_fd = None if fd is None else _check_int('fd', fd)
        if uds_path is not None and n_fd is not None:
            raise ConfigError('fd', 'fd and uds exclude each other: serve on one socket')
        if uds_permissions is not None and uds_path is None:
            raise ConfigError('uds_permissions', 'uds_permissions needs uds')
        pid_path = None if pid_file is None else Path(pid_file).absolute()
        if pid_path is not None and not pid_path.parent.is_dir():
            raise ConfigError('pid_file', f"pid_file: '{pid_path.parent}' is not a directory")
        if process_name is not None and (not isinstance(process_name, str) or not process_name.strip()):
            raise ConfigError('process_name', f'process_name must be a non-empty string (got {process_name!r})')

        static_routes, static_mounts = _check_static_paths(static_path_route, static_path_mount)
        if static_path_dir_to_file is not None and not _is_plain_relative(static_path_dir_to_file):
            raise ConfigError(
                'static_path_dir_to_file',
                f'static_path_dir_to_file must be a relative file name without ".." (got {static_path_dir_to_file!r})',
            )

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
            http1_keep_alive_timeout=_check_int('http1_keep_alive_timeout', http1_keep_alive_timeout),
            max_request_body_size=(
                None if max_request_body_size is None else _check_int('max_request_body_size', max_request_body_size)
            ),
            max_header_size=None if max_header_size is None else _check_int('max_header_size', max_header_size),
            ssl_cert=tls_cert,
            ssl_key=tls_key,
            ssl_key_password=ssl_key_password,
            ssl_protocol_min=_check_choice('ssl_protocol_min', SSLProtocols, ssl_protocol_min),
            ssl_ca=tls_ca,
            ssl_client_verify=client_verify,
            proxy_headers=_check_bool('proxy_headers', proxy_headers),
            forwarded_allow_ips=_check_forwarded_allow_ips(forwarded_allow_ips),
            url_path_prefix=_check_url_path_prefix(url_path_prefix),
            uds=uds_path,
            uds_permissions=None if uds_permissions is None else _check_int('uds_permissions', uds_permissions),
            fd=n_fd,
            pid_file=pid_path,
            process_name=None if process_name is None else process_name.strip(),
            env_files=_check_paths('env_files', env_files),
            websockets=_check_bool('websockets', websockets),
            ws_max_message_size=_check_int('ws_max_message_size', ws_max_message_size),
            ws_ping_interval=_check_seconds('ws_ping_interval', ws_ping_interval),
            ws_ping_timeout=_check_seconds('ws_ping_timeout', ws_ping_timeout),
            ws_deflate=_check_bool('ws_deflate', ws_deflate),
            server_header=_check_server_header(server_header),
            response_compression=_check_bool('response_compression', response_compression),
            response_compression_min_size=_check_int('response_compression_min_size', response_compression_min_size),
            response_compression_algorithms=_check_algorithms(response_compression_algorithms),
            static_path_route=static_routes,
            static_path_mount=static_mounts,
            static_path_dir_to_file=static_path_dir_to_file,
            static_path_expires=_check_seconds('static_path_expires', static_path_expires),
            log_enabled=_check_bool('log_enabled', log_enabled),
            log_level=_check_choice('log_level', LogLevels, log_level),
            log_access=_check_bool('log_access', log_access),
            log_access_format=_check_access_log_format(
                log_access_format, enabled=bool(log_access) and bool(log_enabled)
            ),
            log_access_json=_check_bool('log_access_json', log_access_json),
            log_dictconfig=_check_dictconfig(log_dictconfig),
            log_json=_check_bool('log_json', log_json),
            factory=_check_bool('factory', factory),
            working_dir=wd,
            graceful_timeout=_check_seconds('graceful_timeout', graceful_timeout),
            workers_kill_timeout=(
                None if workers_kill_timeout is None else _check_seconds('workers_kill_timeout', workers_kill_timeout)
            ),
            respawn_failed_workers=_check_bool('respawn_failed_workers', respawn_failed_workers),
            respawn_interval=_check_seconds('respawn_interval', respawn_interval),
            workers_lifetime=(
                None if workers_lifetime is None else _check_seconds('workers_lifetime', workers_lifetime)
            ),
            workers_lifetime_jitter=_check_seconds('workers_lifetime_jitter', workers_lifetime_jitter),
            workers_max_rss=None if workers_max_rss is None else _check_int('workers_max_rss', workers_max_rss),
            rss_sample_interval=_check_seconds('rss_sample_interval', rss_sample_interval),
            max_requests=None if max_requests is None else _check_int('max_requests', max_requests),
            max_requests_jitter=_check_int('max_requests_jitter', max_requests_jitter),
            reload=_check_bool('reload', reload),
            reload_paths=_check_paths('reload_paths', reload_paths),
            reload_ignore_dirs=_check_strings('reload_ignore_dirs', reload_ignore_dirs),
            metrics_enabled=_check_bool('metrics_enabled', metrics_enabled),
            metrics_scrape_interval=_check_seconds('metrics_scrape_interval', metrics_scrape_interval),
            metrics_address=_check_address('metrics_address', metrics_address),
            metrics_port=_check_int('metrics_port', metrics_port),
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

        # Before any worker exists, so that every application import sees the variables.
        try:
            _ops.load_env_files(opts.env_files)
        except (OSError, _ops.EnvFileError) as exc:
            return _fatal(f'env_files: {exc}', EXIT_CONFIG)
        if opts.process_name is not None:
            _ops.set_process_title(opts.process_name)

        logger.info(f'Starting granian (main PID: {os.getpid()})')
        supervisor = _Supervisor(opts)
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
                if supervisor.metrics is not None:
                    try:
                        where = supervisor.metrics.start(opts.metrics_address, opts.metrics_port)
                    except OSError as exc:
                        return _fatal(
                            f'cannot serve metrics on {_format_host(opts.metrics_address)}:{opts.metrics_port}: '
                            f'{exc.strerror or exc}'
                        )
                    logger.info(f'Metrics at: {where}')
                return supervisor.run(bound.sock)
            finally:
                if supervisor.metrics is not None:
                    supervisor.metrics.stop()
                bound.close()
                if opts.pid_file is not None:
                    _ops.remove_pid_file(opts.pid_file)


def _fatal(message: str, code: int = EXIT_FAILURE) -> int:
    sys.stderr.write(f'Error: {message}\n')
    sys.stderr.flush()
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
        'serving',
        'status_fd',
        'stop_deadline',
    )

    def __init__(
        self, worker_id: int, process: BaseProcess, status_fd: int, role: _Role, max_requests: int | None
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
    master reads each worker's VmRSS from /proc/PID/status every `rss_sample_interval`) and
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

    def __init__(self, options: Options) -> None:
        self.options = options
        self.workers: list[_Worker] = []
        self._context = multiprocessing.get_context('fork')
        # Signal handlers and the reload watcher wake the loop by writing to this pipe, which
        # it waits on along with the workers' sentinels and status pipes.
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._stop_signals = 0
        self._restart_signal = False
        self._changes: list[str] = []
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
        self._spawn_all(sock)
        if self.options.reload:
            self._start_watcher()
        while True:
            ready = wait(self._waitables(), self._timeout(time.monotonic()))
            self._drain()
            if self._stop_signals:
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
                for wrk in self.workers:
                    if wrk.role is _Role.ACTIVE and wrk.replace_reason is None:
                        wrk.replace_reason = 'SIGHUP'
            with self._changes_lock:
                changes, self._changes = self._changes, []
            if changes:
                logger.info('Changes detected, reloading workers')
                for path in changes:
                    logger.debug(f'Changed: {path}')
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
        process = self._context.Process(
            target=_worker.run,
            args=(worker_id, opts, sock, inherited),
            kwargs={
                'status_fd': status_write,
                'max_requests': max_requests,
                'metrics': metrics,
            },
            name=f'granian-worker-{worker_id}',
        )
        # Until the child has replaced the inherited handlers (which would act on the master's
        # copy of this object), the signals wait as pending; `_worker` unblocks them.
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _worker.MASTER_SIGNALS)
        try:
            process.start()
        except BaseException:
            os.close(status_read)
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            # Closed here, the write end is held by the worker alone: its exit shows as EOF.
            os.close(status_write)
        wrk = _Worker(worker_id, process, status_read, role, max_requests)
        if self.metrics is not None and metrics is not None:
            self.metrics.bind(wrk, metrics[1])
        self.workers.append(wrk)
        logger.info(f'Spawning worker-{worker_id} with PID: {process.pid}')
        return wrk

    def _status_fds(self) -> list[int]:
        return [wrk.status_fd for wrk in self.workers if wrk.status_fd is not None]

    def _forget(self, wrk: _Worker) -> None:
        """Reap a worker that exited and release what the master held for it."""
        wrk.process.join()
        wrk.process.close()
        if self.metrics is not None:
            self.metrics.release(wrk)
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
        for old in self.workers:
            if old.id == wrk.id and old.role is _Role.ACTIVE and old is not wrk:
                self._retire(old, now, f'replaced by PID {wrk.pid}')

    def _retire(self, wrk: _Worker, now: float, why: str) -> None:
        wrk.role = _Role.STOPPING
        wrk.stop_deadline = now + self.options.stop_timeout
        logger.info(f'Stopping worker-{wrk.id} (PID: {wrk.pid}): {why}')
        with suppress(ValueError, OSError):
            wrk.process.terminate()

    def _reap(self, now: float) -> int | None:
        """Handle the workers that exited; an exit code when the master must stop."""
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
            if rss is not None and rss > limit:
                logger.warning(f'worker-{wrk.id} (PID: {wrk.pid}) uses {rss:.0f} MiB, over the {limit} MiB limit')
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
