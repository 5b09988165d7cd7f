"""Logging for the server: one stderr handler shared by the `granian` loggers.

* `granian`: the server itself (master and workers);
* `granian.access`: one line per finished request, when the access log is on;
* `granian.asgi`: the ASGI lifespan protocol.
* `granian.rsgi`: RSGI application errors (exceptions, missing responses, unreadable files).
* `granian.wsgi`: WSGI application errors (with their tracebacks) and the lines written to
  `wsgi.errors`.

Records are formatted `[LEVEL] message`. Workers are forked from the master and inherit this
configuration as it stands when they start.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TextIO

from .constants import LogLevels

__all__ = [
    'LOG_FORMAT',
    'LogLevels',
    'access_logger',
    'asgi_logger',
    'build_access_log',
    'configure_logging',
    'logger',
]

LOG_FORMAT = '[%(levelname)s] %(message)s'

logger = logging.getLogger('granian')
access_logger = logging.getLogger('granian.access')
asgi_logger = logging.getLogger('granian.asgi')

_LEVELS: dict[LogLevels, int] = {
    LogLevels.critical: logging.CRITICAL,
    LogLevels.error: logging.ERROR,
    LogLevels.warning: logging.WARNING,
    LogLevels.warn: logging.WARNING,
    LogLevels.info: logging.INFO,
    LogLevels.debug: logging.DEBUG,
    LogLevels.notset: logging.NOTSET,
}

# Above CRITICAL: nothing passes.
_SILENT = logging.CRITICAL + 1


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record is emitted, not when the handler was made,
    so a replaced stderr (a test runner's capture, a daemonised process) still gets the lines."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


_handler: _StderrHandler | None = None


def configure_logging(level: LogLevels | str = LogLevels.info, *, enabled: bool = True) -> None:
    """Attach the stderr handler to `granian` (once, however often this is called) and apply `level`.

    The access log keeps INFO whatever `level` is: it is asked for on its own, with `--access-log`.
    """
    global _handler
    if _handler is None:
        _handler = _StderrHandler()
        _handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(_handler)
    # The records are written here once; an application's root handlers must not print them again.
    logger.propagate = False
    if enabled:
        logger.setLevel(_LEVELS[LogLevels(level)])
        access_logger.setLevel(logging.INFO)
    else:
        logger.setLevel(_SILENT)
        access_logger.setLevel(_SILENT)


AccessLog = Callable[[str, str, str, str, str, int, float], None]


def build_access_log() -> AccessLog:
    """The callable the native server calls once per finished request.

    Writes `CLIENT - "METHOD PATH[?QUERY] PROTOCOL" STATUS DURATION_MS` on `granian.access`.
    """
    info = access_logger.info

    def access_log(
        client: str, method: str, path: str, query_string: str, protocol: str, status: int, duration_ms: float
    ) -> None:
        target = f'{path}?{query_string}' if query_string else path
        info('%s - "%s %s %s" %d %.3f', client, method, target, protocol, status, duration_ms)

    return access_log
