"""Huge bodies read whole: RSGI `await protocol()` gathers a body in memory, so it is bounded by
`--max-body-buffer-size` (1 MiB here, 16 MiB by default). A body declared larger is refused
before anything of it is read, one that grows past the limit as it arrives is refused there,
and either way the response is 413 and the worker's memory stays flat. Reading a body as it
comes (`async for`) is not limited."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from tests._http import H2Client, RawConnection, assert_serves, request_bytes
from tests.attacks._attack import Rss, probe
from tests.conftest import Server, module_server, run_server

LIMIT = 2**20
APP = 'tests.apps.rsgi_app:app'
# Eight uploads of 64 MiB each, refused after 1 MiB: memory grows by a few MiB.
UPLOADS = 8
UPLOAD_SIZE = 64 * 2**20
RSS_BOUND = 24 * 2**20


@pytest.fixture(scope='module')
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with module_server(request, '--max-body-buffer-size', str(LIMIT), app=APP, interface='rsgi') as running:
        yield running


def chunked_upload(port: int, total: int, results: list[int | str]) -> None:
    """POST `total` bytes, chunked, to the whole-body reader; records the status (or the error)."""
    chunk = b'x' * 65536
    framed = f'{len(chunk):x}\r\n'.encode() + chunk + b'\r\n'
    with RawConnection(port, timeout=10.0) as conn:
        head = request_bytes('POST', '/body-info', headers=[('Transfer-Encoding', 'chunked')])
        conn.send(head)
        sent = 0
        # The server stops reading once past the limit, answers and closes: a send then fails.
        while sent < total and conn.try_send(framed):
            sent += len(chunk)
        try:
            response = conn.read_response(method='POST', timeout=10.0)
        except Exception as exc:  # reported to the test through `results`
            results.append(f'{type(exc).__name__}: {exc}')
            return
        results.append(response.status)


def test_bodies_growing_past_the_limit_get_413(server: Server) -> None:
    memory = Rss(server, RSS_BOUND)
    results: list[int | str] = []
    uploads = [
        threading.Thread(target=chunked_upload, args=(server.port, UPLOAD_SIZE, results)) for _ in range(UPLOADS)
    ]
    for upload in uploads:
        upload.start()
    while any(upload.is_alive() for upload in uploads):
        probe(server.port)
        memory.sample()
        time.sleep(0.1)
    for upload in uploads:
        upload.join()
    memory.check()
    assert results == [413] * UPLOADS, results
    assert_serves(server.port)


def test_a_declared_length_beyond_the_limit_is_refused_before_reading() -> None:
    # The default limit, 16 MiB: a declared length one byte beyond is refused with only the head sent.
    with run_server(app=APP, interface='rsgi') as server, RawConnection(server.port) as conn:
        conn.send(request_bytes('POST', '/body-info', headers=[('Content-Length', str(16 * 2**20 + 1))]))
        response = conn.read_response(method='POST', timeout=5.0)
        assert response.status == 413, response
        assert response.header('connection') == 'close'
        assert conn.wait_closed(timeout=5.0)


def test_within_the_limit_and_streamed_reads_are_served(server: Server) -> None:
    body = b'y' * LIMIT
    with RawConnection(server.port, timeout=10.0) as conn:
        conn.send(request_bytes('POST', '/body-info', body=body))
        response = conn.read_response(method='POST')
    assert response.status == 200, response
    assert json.loads(response.body)['length'] == LIMIT
    # Iterating over the body is not limited: four times the limit goes through.
    with RawConnection(server.port, timeout=10.0) as conn:
        conn.send(request_bytes('POST', '/body-info?mode=iter', body=body * 4))
        response = conn.read_response(method='POST')
    assert response.status == 200, response
    assert json.loads(response.body)['length'] == 4 * LIMIT


def receive_for(client: H2Client, seconds: float) -> None:
    """Take in what the server sent (window updates, responses) for up to `seconds`."""
    client.sock.settimeout(seconds)
    try:
        data = client.sock.recv(65536)
    except TimeoutError:
        return
    for event in client.conn.receive_data(data):
        client._handle(event)
    outgoing = client.conn.data_to_send()
    if outgoing:
        client.sock.sendall(outgoing)


def test_http2_whole_reads_are_limited_too(server: Server) -> None:
    headers = [(b':method', b'POST'), (b':path', b'/body-info'), (b':scheme', b'http'), (b':authority', b'x')]
    with H2Client(server.port, timeout=10.0) as client:
        # Declared beyond the limit, nothing of the body sent: refused at once.
        declared = client.conn.get_next_available_stream_id()
        client.conn.send_headers(declared, [*headers, (b'content-length', str(LIMIT + 1).encode())])
        client.sock.sendall(client.conn.data_to_send())
        assert client.wait([declared])[declared].status == 413
        # Undeclared: counted as it arrives, past the limit once the window allows it.
        counted = client.conn.get_next_available_stream_id()
        client.conn.send_headers(counted, headers)
        sent = 0
        while sent <= LIMIT and counted not in client.completed:
            if client.conn.local_flow_control_window(counted) < 16384:
                receive_for(client, 0.2)
                continue
            client.conn.send_data(counted, b'z' * 16384)
            client.sock.sendall(client.conn.data_to_send())
            sent += 16384
        response = client.wait([counted])[counted]
        assert response.status == 413, response
        # The connection carries on: a body within the limit, read whole on another stream.
        fine = client.request('POST', '/body-info', body=b'ok' * 1000)
        assert client.wait([fine])[fine].status == 200
    assert_serves(server.port)
