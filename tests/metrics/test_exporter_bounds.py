"""The metrics exporter holds a bounded share of the main process whatever its clients do: a
fixed pool of threads, a bounded queue of connections waiting for one (any beyond are closed),
and a deadline for each request however slowly it trickles in."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from granian import _metrics

from tests.conftest import run_server


def threads_of(pid: int) -> int:
    with open(f'/proc/{pid}/status') as status:
        return next(int(line.split()[1]) for line in status if line.startswith('Threads:'))


def test_many_slow_scrapers_keep_the_master_threads_bounded() -> None:
    with run_server('--metrics', '--metrics-port', '0') as server:
        port = int(server.wait_for(r'Metrics at: http://127\.0\.0\.1:(\d+)/metrics')[0].group(1))
        assert httpx.get(f'http://127.0.0.1:{port}/metrics', timeout=5.0).status_code == 200
        before = threads_of(server.proc.pid)
        slow: list[socket.socket] = []
        try:
            # Many connections, each with an unfinished request head, and scrapers on top.
            for _ in range(100):
                sock = socket.create_connection(('127.0.0.1', port), timeout=5.0)
                sock.sendall(b'GET /metrics HTTP/1.1\r\nHost: x\r\n')
                slow.append(sock)
            scrapers = [
                threading.Thread(target=lambda: _try_get(f'http://127.0.0.1:{port}/metrics')) for _ in range(20)
            ]
            for scraper in scrapers:
                scraper.start()
            time.sleep(1.0)
            most = threads_of(server.proc.pid)
            for scraper in scrapers:
                scraper.join(15.0)
        finally:
            for sock in slow:
                sock.close()
        # No thread per connection: the pool was there before the first scrape.
        assert most <= before, f'{most} threads with 120 clients, {before} before'
        response = httpx.get(f'http://127.0.0.1:{port}/metrics', timeout=15.0)
        assert response.status_code == 200
        assert server.stop() == 0


def _try_get(url: str) -> None:
    try:
        httpx.get(url, timeout=12.0)
    except httpx.HTTPError:
        pass


class StubRegion:
    def render(self) -> str:
        return '# TYPE stub counter\nstub 1\n'


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[_metrics._Exporter]:
    monkeypatch.setattr(_metrics, 'REQUEST_DEADLINE', 0.5)
    server = _metrics._Exporter('127.0.0.1', 0, StubRegion())  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5.0)


def test_a_trickling_request_is_dropped_at_its_deadline(exporter: _metrics._Exporter) -> None:
    port = exporter.server_address[1]
    pool = [thread for thread in threading.enumerate() if re.fullmatch(r'granian-metrics-\d+', thread.name)]
    assert len(pool) >= _metrics.THREADS
    with socket.create_connection(('127.0.0.1', port), timeout=5.0) as sock:
        start = time.monotonic()
        closed = False
        # A byte every 100 ms: each read is quick, the request never completes.
        for byte in b'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ' + b'a' * 40:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(0.1)
            sock.setblocking(False)
            try:
                if sock.recv(1024) == b'':
                    closed = True
                    break
            except BlockingIOError:
                pass
            except OSError:
                closed = True
                break
            finally:
                sock.setblocking(True)
        elapsed = time.monotonic() - start
    assert closed, 'a trickling request was kept past its deadline'
    assert elapsed < 0.5 + 1.0, elapsed
    # The thread it held serves again.
    assert httpx.get(f'http://127.0.0.1:{port}/metrics', timeout=5.0).text.startswith('# TYPE stub')


def test_connections_beyond_the_queue_are_closed(exporter: _metrics._Exporter) -> None:
    port = exporter.server_address[1]
    held = []
    try:
        # Every thread busy and the queue full: more connections are accepted and closed at once.
        for _ in range(_metrics.THREADS + _metrics.QUEUED + 10):
            held.append(socket.create_connection(('127.0.0.1', port), timeout=5.0))
        last = held[-1]
        # Closed at once; the bound only covers a loaded machine.
        last.settimeout(10.0)
        assert last.recv(1024) == b''
    finally:
        for sock in held:
            sock.close()
