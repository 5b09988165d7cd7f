"""Logging for the server: one stderr handler shared by the `granian` loggers.

* `granian`: the server itself (master and workers);
* `granian.access`: one line per finished request, when the access log is on;
* `granian.asgi`: the ASGI lifespan protocol.
* `granian.rsgi`: RSGI application errors (exceptions, missing responses, unreadable files).
* `granian.wsgi`: WSGI application errors (with their tracebacks) and the lines written to
  `wsgi.errors`.

Server records are formatted `[LEVEL] message` (or as JSON lines with `json=True`); access lines
are written as they are, one per line. A user's `dictConfig` dictionary is applied on top, and
loggers it leaves out keep these handlers. Workers are forked from the master and inherit this
configuration as it stands when they start. See docs/logging.md.
"""

from __future__ import annotations

import datetime
import json as _json
import logging
import logging.config
import sys
from typing import Any, TextIO

from .constants import LogLevels

__all__ = [
    'DEFAULT_ACCESS_LOG_FORMAT',
    'LOG_FORMAT',
    'JsonFormatter',
    'LogConfigError',
    'LogLevels',
    'access_logger',
    'asgi_logger',
    'configure_logging',
    'logger',
]

LOG_FORMAT = '[%(levelname)s] %(message)s'
# Granian's default access log line; the atoms are listed in docs/logging.md.
DEFAULT_ACCESS_LOG_FORMAT = '[%(time)s] %(addr)s - "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).3f'

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


class JsonFormatter(logging.Formatter):
    """One JSON object per record: `time` (ISO 8601, local, milliseconds), `level`, `logger`,
    `message`, and `exc_info` (the formatted traceback) when the record carries one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            'time': datetime.datetime.fromtimestamp(record.created).astimezone().isoformat(timespec='milliseconds'),
            'level': record.levelname,
            'logger': record.name,
            'message': record.getMessage(),
        }
        if record.exc_info:
            data['exc_info'] = self.formatException(record.exc_info)
        elif record.exc_text:
            data['exc_info'] = record.exc_text
        if record.stack_info:
            data['stack_info'] = self.formatStack(record.stack_info)
        return _json.dumps(data, ensure_ascii=False)


class LogConfigError(ValueError):
    """The logging configuration could not be applied; the message says why."""


_handler: _StderrHandler | None = None
_access_handler: _StderrHandler | None = None


def configure_logging(
    level: LogLevels | str = LogLevels.info,
    *,
    enabled: bool = True,
    config: dict[str, Any] | None = None,
    json: bool = False,
    access_json: bool = False,
) -> None:
    """Attach the stderr handlers to `granian` and `granian.access` (once, however often this is
    called), apply `level`, then the `dictConfig` dictionary `config` if given.

    `json` formats server records as JSON lines. Access lines are written as they are (they are
    JSON already with `access_json`); with `json` alone each becomes the message of a JSON record.
    The access log keeps INFO whatever `level` is: it is asked for on its own, with `--access-log`.
    Raises `LogConfigError` when `config` is refused by `dictConfig`.
    """
    global _handler, _access_handler
    if _handler is None:
        _handler = _StderrHandler()
        logger.addHandler(_handler)
    if _access_handler is None:
        _access_handler = _StderrHandler()
        access_logger.addHandler(_access_handler)
    _handler.setFormatter(JsonFormatter() if json else logging.Formatter(LOG_FORMAT))
    _access_handler.setFormatter(JsonFormatter() if json and not access_json else logging.Formatter('%(message)s'))
    # The records are written here once; an application's root handlers must not print them again.
    logger.propagate = False
    access_logger.propagate = False
    logger.setLevel(_LEVELS[LogLevels(level)])
    access_logger.setLevel(logging.INFO)
    if config is not None:
        _apply_dictconfig(config)
    if not enabled:
        logger.setLevel(_SILENT)
        access_logger.setLevel(_SILENT)


def access_log_fd() -> int | None:
    """The descriptor access lines may be written to as they are, bypassing `logging`: stderr,
    while `granian.access` is as `configure_logging` left it (its one handler, on stderr, writing
    the bare message, no filters). `None` once a configuration changed any of that."""
    handler = _access_handler
    if (
        handler is None
        or access_logger.handlers != [handler]
        or access_logger.propagate
        or access_logger.filters
        or handler.filters
        or handler.level > logging.INFO
        or not access_logger.isEnabledFor(logging.INFO)
    ):
        return None
    formatter = handler.formatter
    if type(formatter) is not logging.Formatter or formatter._fmt != '%(message)s':
        return None
    try:
        sys.stderr.flush()
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _apply_dictconfig(config: dict[str, Any]) -> None:
    # Loggers the configuration does not name keep working: nothing is disabled unless asked.
    config = {'version': 1, 'disable_existing_loggers': False, **config}
    try:
        logging.config.dictConfig(config)
    except (ValueError, TypeError, AttributeError, ImportError) as exc:
        cause = f': {exc.__cause__}' if exc.__cause__ is not None else ''
        raise LogConfigError(f'log config: {exc}{cause}') from None
