"""Every interface over HTTP/2, in both modes that speak it, with prior knowledge and through the
HTTP/1.1 upgrade: multiplexed streams, large bodies both ways under flow control, streamed
responses, and the HTTP version each interface reports."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator

import pytest

from tests._http import H2Client
from tests.conftest import Server, run_server

APPS = {
    'asgi': 'tests.apps.asgi_app:app',
    'rsgi': 'tests.apps.rsgi_app:app',
    'wsgi': 'tests.apps.wsgi_app:app',
}


@pytest.fixture(scope='module', params=[(i, m) for i in APPS for m in ('auto', '2')], ids=lambda p: f'{p[0]}-{p[1]}')
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    interface, mode = request.param
    with run_server('--http', mode, app=APPS[interface], interface=interface) as running:
        yield running
        assert running.stop() == 0


def interface_of(server: Server) -> str:
    return server.option('--interface')


def reported_version(server: Server, client: H2Client, stream: int) -> str:
    body = json.loads(client.wait([stream])[stream].body)
    return body['SERVER_PROTOCOL'] if interface_of(server) == 'wsgi' else body['http_version']


def version_path(server: Server) -> str:
    return '/environ' if interface_of(server) == 'wsgi' else '/scope'


def expected_stream(count: int, size: int) -> bytes:
    return b''.join(bytes([97 + index % 26]) * size for index in range(count))


def test_version_reported(server: Server) -> None:
    expected = 'HTTP/2' if interface_of(server) == 'wsgi' else '2'
    with H2Client(server.port) as client:
        assert reported_version(server, client, client.request('GET', version_path(server))) == expected
    with H2Client(server.port, upgrade=('GET', version_path(server), b'')) as client:
        assert client.upgrade_head.startswith(b'HTTP/1.1 101 ')
        assert reported_version(server, client, 1) == expected


def test_concurrent_streams_get_their_own_bodies(server: Server) -> None:
    payloads = [os.urandom(1000 + 137 * index) for index in range(12)]
    with H2Client(server.port) as client:
        streams = {client.request('POST', '/echo', body=payload): payload for payload in payloads}
        streams[client.request('GET', '/')] = b'Hello, world!'
        responses = client.wait(streams, timeout=20.0)
    for stream, payload in streams.items():
        assert responses[stream].status == 200
        assert responses[stream].body == payload


def test_large_bodies_both_ways(server: Server) -> None:
    """4 MiB up and back: far beyond the 64 KiB initial windows, so flow control must work."""
    payload = os.urandom(4 * 1024 * 1024)
    with server.client(http1=False, http2=True) as http:
        response = http.post('/echo', content=payload)
    assert response.http_version == 'HTTP/2'
    assert response.status_code == 200
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(payload).digest()


def test_streamed_response(server: Server) -> None:
    with server.client(http1=False, http2=True) as http, http.stream('GET', '/stream?n=40&size=50000') as response:
        assert response.http_version == 'HTTP/2'
        body = b''.join(response.iter_bytes())
    assert body == expected_stream(40, 50000)


def test_upgrade_with_a_body(server: Server) -> None:
    payload = os.urandom(300_000)
    with H2Client(server.port, upgrade=('POST', '/echo', payload)) as client:
        assert client.upgrade_head.startswith(b'HTTP/1.1 101 ')
        response = client.wait([1], timeout=20.0)[1]
        # The connection then serves ordinary streams too.
        stream = client.request('GET', '/')
        assert client.wait([stream])[stream].body == b'Hello, world!'
    assert response.status == 200
    assert response.body == payload
