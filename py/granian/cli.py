"""The `granian` command: a click layer over `Granian`.

Every flag maps to one keyword of `Granian` and reads a `GRANIAN_*` environment variable (named
as Granian names them: `GRANIAN_` and the keyword in capitals). Numeric limits come from
`server.BOUNDS`; everything else is validated by `Granian` itself, whose errors become usage
errors (exit code 2).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .constants import HTTPModes, Interfaces, LogLevels, Loops, StrEnum
from .server import BOUNDS, ConfigError, Granian

__all__ = ['Duration', 'EnumChoice', 'cli', 'entrypoint', 'parse_duration']

F = TypeVar('F', bound=Callable[..., Any])

_DURATION = re.compile(
    r'(?:(?P<d>[0-9]+(?:\.[0-9]+)?)d)?(?:(?P<h>[0-9]+(?:\.[0-9]+)?)h)?'
    r'(?:(?P<m>[0-9]+(?:\.[0-9]+)?)m)?(?:(?P<s>[0-9]+(?:\.[0-9]+)?)s)?'
)
_UNIT_SECONDS = {'d': 86400.0, 'h': 3600.0, 'm': 60.0, 's': 1.0}


def parse_duration(text: str) -> float:
    """Seconds in `text`: a plain number (`30`, `2.5`) or units largest first (`1h30m`, `90s`, `1d`).

    Raises `ValueError` for anything else.
    """
    text = text.strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f'{text!r} is not a finite duration')
        return seconds
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(f'{text!r} is not a duration (use seconds, or units such as 1h30m, 90s)')
    return sum(float(amount) * _UNIT_SECONDS[unit] for unit, amount in match.groupdict().items() if amount)


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2
    """A duration in seconds (float), bounded like the `Granian` keyword it feeds."""

    name = 'duration'

    def __init__(self, option: str) -> None:
        self.bound = BOUNDS[option]

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        else:
            try:
                seconds = parse_duration(str(value))
            except ValueError as exc:
                self.fail(str(exc), param, ctx)
        if not self.bound.admits(seconds):
            self.fail(f'{value} is not {self.bound.describe()} seconds', param, ctx)
        return seconds


class EnumChoice(click.Choice):  # type: ignore[type-arg]  # generic from click 8.2
    """A choice among an enum's values (its CLI spellings), converted to the member."""

    def __init__(self, enum: type[StrEnum]) -> None:
        self.enum = enum
        super().__init__([str(member.value) for member in enum], case_sensitive=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, self.enum):
            return value
        return self.enum(super().convert(value, param, ctx))


def _int(option: str) -> click.IntRange:
    bound = BOUNDS[option]
    low = None if bound.min is None else int(bound.min)
    high = None if bound.max is None else int(bound.max)
    return click.IntRange(low, high)


def _option(*decls: str, env: str, **attrs: Any) -> Callable[[F], F]:
    """A flag reading `GRANIAN_<env>`, showing its environment variable and default in `--help`."""
    attrs.setdefault('show_default', True)
    return click.option(*decls, envvar=f'GRANIAN_{env}', show_envvar=True, **attrs)


@click.command(context_settings={'max_content_width': 120})
@click.argument('app', required=True)
@_option('--host', 'address', env='HOST', default='127.0.0.1', help='Host address to bind to.')
@_option('--port', env='PORT', type=_int('port'), default=8000, help='Port to bind to (0 picks a free one).')
@_option(
    '--interface', env='INTERFACE', type=EnumChoice(Interfaces), default='rsgi', help='Application interface type.'
)
@_option('--http', env='HTTP', type=EnumChoice(HTTPModes), default='auto', help='HTTP version.')
@_option('--workers', env='WORKERS', type=_int('workers'), default=1, help='Number of worker processes.')
@_option(
    '--runtime-threads',
    env='RUNTIME_THREADS',
    type=_int('runtime_threads'),
    default=1,
    help='Number of runtime threads (per worker).',
)
@_option(
    '--blocking-threads',
    env='BLOCKING_THREADS',
    type=_int('blocking_threads'),
    default=None,
    show_default='WSGI: 4 per CPU core, at most 32 and at most backpressure; others: 1',
    help='Number of blocking threads (per worker): the Python threads running a WSGI application.',
)
@_option('--loop', env='LOOP', type=EnumChoice(Loops), default='auto', help='Event loop implementation.')
@_option(
    '--backlog',
    env='BACKLOG',
    type=_int('backlog'),
    default=1024,
    help='Maximum number of connections to hold in backlog (globally).',
)
@_option(
    '--backpressure',
    env='BACKPRESSURE',
    type=_int('backpressure'),
    default=None,
    show_default='backlog/workers',
    help='Maximum number of requests to process concurrently (per worker).',
)
@_option(
    '--http1-buffer-size',
    env='HTTP1_BUFFER_SIZE',
    type=_int('http1_buffer_size'),
    default=417792,
    help='Maximum buffer size for HTTP/1 connections, in bytes.',
)
@_option(
    '--http1-header-read-timeout',
    env='HTTP1_HEADER_READ_TIMEOUT',
    type=_int('http1_header_read_timeout'),
    default=30000,
    help='Timeout (in milliseconds) to read request headers.',
)
@_option(
    '--http1-keep-alive/--no-http1-keep-alive',
    env='HTTP1_KEEP_ALIVE',
    default=True,
    show_default='enabled',
    help='Enable or disable HTTP/1 keep-alive.',
)
@_option(
    '--http1-pipeline-flush/--no-http1-pipeline-flush',
    env='HTTP1_PIPELINE_FLUSH',
    default=False,
    show_default='disabled',
    help='Aggregate HTTP/1 flushes to better serve pipelined requests. Streamed responses '
    'then lose backpressure: a slow client makes the server buffer the whole body.',
)
@_option(
    '--http2-adaptive-window/--no-http2-adaptive-window',
    env='HTTP2_ADAPTIVE_WINDOW',
    default=False,
    show_default='disabled',
    help='Size HTTP/2 flow-control windows from the measured bandwidth-delay product.',
)
@_option(
    '--http2-initial-connection-window-size',
    env='HTTP2_INITIAL_CONNECTION_WINDOW_SIZE',
    type=_int('http2_initial_connection_window_size'),
    default=1024 * 1024,
    help='HTTP/2 connection-level flow-control window, in bytes.',
)
@_option(
    '--http2-initial-stream-window-size',
    env='HTTP2_INITIAL_STREAM_WINDOW_SIZE',
    type=_int('http2_initial_stream_window_size'),
    default=1024 * 1024,
    help='HTTP/2 stream-level flow-control window, in bytes.',
)
@_option(
    '--http2-keep-alive-interval',
    env='HTTP2_KEEP_ALIVE_INTERVAL',
    type=_int('http2_keep_alive_interval'),
    default=None,
    show_default='no pings',
    help='Interval (in milliseconds) between HTTP/2 PING frames on a quiet connection.',
)
@_option(
    '--http2-keep-alive-timeout',
    env='HTTP2_KEEP_ALIVE_TIMEOUT',
    type=_int('http2_keep_alive_timeout'),
    default=20,
    help='Timeout (in seconds) for a keep-alive PING to be answered before the connection closes.',
)
@_option(
    '--http2-max-concurrent-streams',
    env='HTTP2_MAX_CONCURRENT_STREAMS',
    type=_int('http2_max_concurrent_streams'),
    default=200,
    help='Streams a client may have open at once on one HTTP/2 connection.',
)
@_option(
    '--http2-max-frame-size',
    env='HTTP2_MAX_FRAME_SIZE',
    type=_int('http2_max_frame_size'),
    default=16384,
    help='Largest HTTP/2 frame payload accepted, in bytes.',
)
@_option(
    '--http2-max-headers-size',
    env='HTTP2_MAX_HEADERS_SIZE',
    type=_int('http2_max_headers_size'),
    default=16 * 1024,
    help='Largest decoded HTTP/2 header list accepted, in bytes (431 beyond).',
)
@_option(
    '--http2-max-send-buffer-size',
    env='HTTP2_MAX_SEND_BUFFER_SIZE',
    type=_int('http2_max_send_buffer_size'),
    default=400 * 1024,
    help='Most bytes buffered per HTTP/2 stream for sending, in bytes.',
)
@_option('--log/--no-log', 'log_enabled', env='LOG_ENABLED', default=True, show_default='enabled', help='Logging.')
@_option('--log-level', env='LOG_LEVEL', type=EnumChoice(LogLevels), default='info', help='Log level.')
@_option(
    '--access-log/--no-access-log',
    'log_access',
    env='LOG_ACCESS_ENABLED',
    default=False,
    show_default='disabled',
    help='Access log, one line per request.',
)
@_option(
    '--factory/--no-factory',
    env='FACTORY',
    default=False,
    show_default='disabled',
    help='Call APP with no arguments to build the application.',
)
@_option(
    '--working-dir',
    env='WORKING_DIR',
    type=click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path),
    default=None,
    show_default='current directory',
    help='Directory to change to before loading APP (it also goes first on sys.path).',
)
@_option(
    '--graceful-timeout',
    env='GRACEFUL_TIMEOUT',
    type=Duration('graceful_timeout'),
    default=30.0,
    help='Time (seconds, or 1m30s) in-flight requests get to finish when a worker stops.',
)
@_option(
    '--workers-kill-timeout',
    env='WORKERS_KILL_TIMEOUT',
    type=Duration('workers_kill_timeout'),
    default=None,
    show_default='graceful timeout + 5s',
    help='Time (seconds, or 1m30s) to wait for a stopping worker before killing it.',
)
@_option(
    '--reload/--no-reload',
    env='RELOAD',
    default=False,
    show_default='disabled',
    help='Restart the workers when Python files change (needs granian[reload]).',
)
@_option(
    '--reload-paths',
    env='RELOAD_PATHS',
    type=click.Path(exists=True, path_type=Path),
    multiple=True,
    show_default='working directory',
    help='Paths to watch for changes (repeatable).',
)
@_option(
    '--reload-ignore-dirs',
    env='RELOAD_IGNORE_DIRS',
    multiple=True,
    show_default='.git, __pycache__, .venv and watchfiles defaults',
    help='Directory names to ignore changes in (repeatable).',
)
@click.version_option(__version__, '--version', prog_name='granian', message='%(prog)s %(version)s')
def cli(app: str, **options: Any) -> None:
    """Serve APP, an application target such as package.module:app."""
    ctx = click.get_current_context()
    try:
        server = Granian(app, **options)
    except ConfigError as exc:
        for param in ctx.command.params:
            if param.name == exc.option:
                raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
        raise click.UsageError(str(exc), ctx=ctx) from None
    server.serve()


def entrypoint() -> None:
    """The `granian` console script."""
    cli(prog_name='granian')
