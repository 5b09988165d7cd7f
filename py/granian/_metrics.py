"""The Prometheus exporter of the master process.

The master maps a `MetricsRegion` (counters in memory shared across fork) before it forks any
worker, gives each worker process a slot of it, and frees the slot once the process exited
(its counters then add up under its worker number, so none go back). Workers count their own
traffic natively in their slot; no message crosses a process boundary. The master serves the
region, rendered in the Prometheus text format, on `metrics_address:metrics_port` from a thread
of its own: `GET /metrics` answers 200, any other path 404, any other method 405.

The exporter runs in the master, which must stay responsive whatever its clients do: it serves
`THREADS` connections at once from a fixed pool, queues up to `QUEUED` more and closes any
beyond; each request (its wait included, on a kept-alive connection) must arrive within
`REQUEST_DEADLINE` seconds, however slowly its bytes trickle in.

Values are read live at each scrape. `metrics_scrape_interval` is accepted for compatibility
with Granian, whose workers push their counters to the master at that interval; here a scrape
always sees the current counters, so it changes nothing.
"""

from __future__ import annotations

import io
import queue
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any

from .log import logger

if TYPE_CHECKING:
    from ._native import MetricsRegion

__all__ = ['CONTENT_TYPE', 'PATH', 'QUEUED', 'REQUEST_DEADLINE', 'THREADS', 'Metrics']

PATH = '/metrics'
CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
# Connections served at once, each by a thread of a fixed pool.
THREADS = 4
# Connections accepted and waiting for a thread; more are closed at once.
QUEUED = 32
# Seconds a connection gets to send a request, counted from when it could start one.
REQUEST_DEADLINE = 10.0


class _DeadlineReader(io.RawIOBase):
    """A socket's input that fails (`TimeoutError`) once `deadline` (a `time.monotonic()`
    value) has passed, however the bytes trickle in: each receive waits at most until then."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.deadline = time.monotonic() + REQUEST_DEADLINE

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError('request deadline passed')
        self.sock.settimeout(remaining)
        return self.sock.recv_into(buffer)


class _Handler(BaseHTTPRequestHandler):
    server: _Exporter
    protocol_version = 'HTTP/1.1'
    server_version = 'granian-metrics'
    # Bounds each send; the reads are bounded by the request deadline.
    timeout = REQUEST_DEADLINE

    def setup(self) -> None:
        super().setup()
        self._input = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._input)

    def handle_one_request(self) -> None:
        self._input.deadline = time.monotonic() + REQUEST_DEADLINE
        super().handle_one_request()

    def do_GET(self) -> None:
        if self.path.split('?', 1)[0] != PATH:
            self._reply(404, b'Not Found\n', 'text/plain; charset=utf-8')
            return
        self._reply(200, self.server.region.render().encode(), CONTENT_TYPE)

    def do_HEAD(self) -> None:
        self.do_GET()

    def _not_allowed(self) -> None:
        self._reply(405, b'Method Not Allowed\n', 'text/plain; charset=utf-8', allow='GET, HEAD')

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def _reply(self, status: int, body: bytes, content_type: str, allow: str | None = None) -> None:
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        if allow is not None:
            self.send_header('Allow', allow)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(f'metrics: {self.address_string()} {format % args}')


class _Exporter(HTTPServer):
    """An HTTP server whose connections are served by a fixed pool of `THREADS` threads."""

    # The master binds once at startup; a port still in TIME_WAIT from a previous run is fine.
    allow_reuse_address = True
    # The listen queue: connections not yet accepted wait there.
    request_queue_size = QUEUED

    def __init__(self, address: str, port: int, region: MetricsRegion) -> None:
        host = address[1:-1] if address.startswith('[') and address.endswith(']') else address
        self.address_family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.region = region
        self._waiting: queue.Queue[tuple[socket.socket, Any] | None] = queue.Queue(QUEUED)
        # Empty until bound: a failed bind closes the server before any thread exists.
        self._pool: list[threading.Thread] = []
        super().__init__((host, port), _Handler)
        self._pool = [
            threading.Thread(target=self._serve_connections, name=f'granian-metrics-{index}', daemon=True)
            for index in range(THREADS)
        ]
        for thread in self._pool:
            thread.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            self._waiting.put_nowait((request, client_address))
        except queue.Full:
            # Every thread busy and the queue full: the client retries at its next scrape.
            self.shutdown_request(request)

    def _serve_connections(self) -> None:
        while (item := self._waiting.get()) is not None:
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        # Connections still waiting are closed; each thread then takes its stop marker.
        while True:
            try:
                item = self._waiting.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self.shutdown_request(item[0])
        # Daemon threads: one still serving a slow client is not waited for.
        for _ in self._pool:
            self._waiting.put(None)

    def server_bind(self) -> None:
        # HTTPServer's own looks the host name up (getfqdn), which can stall on a host without
        # working DNS; the name is only used in CGI environments.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])


class Metrics:
    """The master's side of the metrics: the shared region, the slot of each worker process and
    the exporter."""

    def __init__(self, workers: int) -> None:
        from . import _native

        self.region = _native.MetricsRegion(workers)
        self._slots: dict[object, int] = {}
        self._exporter: _Exporter | None = None
        self._thread: threading.Thread | None = None

    def start(self, address: str, port: int) -> str:
        """Listen on `address:port` and serve from a thread; returns the URL. Raises `OSError`
        when the address cannot be bound."""
        self._exporter = _Exporter(address, port, self.region)
        self._thread = threading.Thread(target=self._exporter.serve_forever, name='granian-metrics', daemon=True)
        self._thread.start()
        host, bound_port = self._exporter.server_address[:2]
        where = f'[{host}]' if ':' in str(host) else str(host)
        return f'http://{where}:{bound_port}{PATH}'

    def stop(self) -> None:
        if self._exporter is not None:
            self._exporter.shutdown()
            self._exporter.server_close()
            self._exporter = None
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def fds(self) -> list[int]:
        """The exporter's listening socket, for forked workers to close."""
        return [] if self._exporter is None else [self._exporter.fileno()]

    def assign(self, worker_id: int) -> int | None:
        """Count a worker process about to start as `worker_id` and reserve it a slot; None (the
        process is not counted) when every slot is held by a live process."""
        self.region.count_spawns(1)
        try:
            return self.region.assign(worker_id)
        except ValueError as exc:
            logger.warning(f'metrics: worker-{worker_id} is not counted: {exc}')
            return None

    def bind(self, worker: object, slot: int | None) -> None:
        """Remember that the process of `worker` holds `slot`."""
        if slot is not None:
            self._slots[worker] = slot

    def release(self, worker: object) -> None:
        """Free the slot of `worker`, whose process exited."""
        slot = self._slots.pop(worker, None)
        if slot is not None:
            self.region.release(slot)

    def respawned(self, reason: str) -> None:
        """Count a worker replaced for `reason`: 'err', 'lifetime' or 'rss'."""
        self.region.count_respawns(reason, 1)
