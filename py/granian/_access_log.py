"""The worker's access log thread: writes the lines the native server formatted.

The native access log layer renders one line per request on the runtime threads and queues it
(dropping, and counting, lines when the queue is full rather than slowing requests down). This
thread drains that queue in batches, waiting without the GIL, and emits each line as an INFO
record of the `granian.access` logger, so whatever handlers the logging configuration gives that
logger apply. While that logger is as granian sets it up (its stdout handler writing the bare
line), the thread skips `logging` and writes each batch to stdout in one call, which keeps the
log's cost per request down to formatting the line in Rust.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from .log import access_log_fd, access_logger, logger

__all__ = ['AccessLogWriter']

# How long one wait for lines lasts, in seconds; it bounds how late a dropped-lines warning is.
_WAIT = 0.5
# The pause after each batch, in seconds: lines gather meanwhile, so a busy worker writes them
# in a few large batches rather than waking this thread for every request.
_PAUSE = 0.01


class _Queue(Protocol):
    def drain(self, timeout: float) -> list[str] | None: ...
    def drain_to(self, fd: int, timeout: float) -> int | None: ...
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
        fd = access_log_fd()
        if fd is not None:
            self._run_direct(fd)
        else:
            self._run_logging()
        self._report_dropped()

    def _run_direct(self, fd: int) -> None:
        while True:
            try:
                written = self._queue.drain_to(fd, _WAIT)
            except OSError:
                logger.exception('Access log failed')
                continue
            if written is None:
                break
            self._report_dropped()
            if written:
                time.sleep(_PAUSE)

    def _run_logging(self) -> None:
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
            if lines:
                time.sleep(_PAUSE)

    def _report_dropped(self) -> None:
        dropped = self._queue.dropped
        if dropped != self._dropped:
            logger.warning(f'access log: {dropped - self._dropped} lines dropped (the log could not keep up)')
            self._dropped = dropped
