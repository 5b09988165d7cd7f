"""The worker's access log thread: writes the lines the native server formatted.

The native access log layer renders one line per request on the runtime threads and queues it
(dropping, and counting, lines when the queue is full rather than slowing requests down). This
thread drains that queue in batches, waiting without the GIL, and emits each line as an INFO
record of the `granian.access` logger, so whatever handlers the logging configuration gives that
logger apply.
"""

from __future__ import annotations

import threading
from typing import Protocol

from .log import access_logger, logger

__all__ = ['AccessLogWriter']

# How long one wait for lines lasts, in seconds; it bounds how late a dropped-lines warning is.
_WAIT = 0.5


class _Queue(Protocol):
    def drain(self, timeout: float) -> list[str] | None: ...
    def close(self) -> None: ...
    @property
    def dropped(self) -> int: ...


class AccessLogWriter:
    """A daemon thread writing the lines of `queue` (a native `AccessLogQueue`) until it is stopped."""

    def __init__(self, queue: _Queue) -> None:
        self._queue = queue
        self._dropped = 0
        self._thread = threading.Thread(target=self._run, name='granian-access-log', daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Write what is still queued (for up to `timeout` seconds), then end the thread."""
        self._queue.close()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        emit = access_logger.info
        while True:
            lines = self._queue.drain(_WAIT)
            if lines is None:
                break
            for line in lines:
                try:
                    # The line is the message itself: no arguments, so no %-formatting of it.
                    emit(line)
                except Exception:
                    logger.exception('Access log failed')
            self._report_dropped()
        self._report_dropped()

    def _report_dropped(self) -> None:
        dropped = self._queue.dropped
        if dropped != self._dropped:
            logger.warning(f'access log: {dropped - self._dropped} lines dropped (the log could not keep up)')
            self._dropped = dropped
