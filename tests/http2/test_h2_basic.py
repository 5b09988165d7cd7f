"""HTTP/2 with prior knowledge (h2c): `--http auto` and `--http 2` speak it, `--http 1` does not."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator

import httpx
import pytest

from tests._http import H2_PREFACE, H2Client, RawConnection, request_bytes
from tests.conftest import Server, module_server, run_server


@pytest.fixture(scope='module', params=['auto', '2'])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with module_server(request, '--http', request.param) as running:
        yield running


@pytest.fixture
def h2_client(server: Server) -> Iterator[httpx.Client]:
    with server.client(http1=False, http2=True) as http:
        yield http


def test_get(h2_client: httpx.Client) -> None:
    response = h2_client.get('/')
    assert response.http_version == 'HTTP/2'
    assert response.status_code == 200
    assert response.text == 'Hello, world!'


def test_scope_over_h2(h2_client: httpx.Client, server: Server) -> None:
    scope = h2_client.get('/scope/a%20b?x=1').json()
    assert scope['http_version'] == '2'
    assert scope['method'] == 'GET'
    assert scope['scheme'] == 'http'
    assert scope['path'] == '/scope/a b'
    assert scope['raw_path'] == '/scope/a%20b'
    assert scope['query_string'] == 'x=1'
    assert scope['server'] == ['127.0.0.1', server.port]
    names = [name for name, _ in scope['headers']]
    assert all(name == name.lower() for name in names)
    # Pseudo-headers are framing, not request headers.
    assert not any(name.startswith(':') for name in names)


def test_post_echo(h2_client: httpx.Client) -> None:
    response = h2_client.post('/echo', content=b'over h2')
    assert response.http_version == 'HTTP/2'
    assert response.status_code == 200
    assert response.content == b'over h2'


def test_large_bodies_both_ways_respect_flow_control(h2_client: httpx.Client) -> None:
    # Several times the default 64 KiB window in each direction.
    payload = os.urandom(1024 * 1024)
    response = h2_client.post('/echo', content=payload)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(payload).digest()


def test_streamed_request_body(h2_client: httpx.Client) -> None:
    parts = [os.urandom(size) for size in (10, 70000, 1, 30000)]
    info = h2_client.post('/body-info', content=iter(parts)).json()
    payload = b''.join(parts)
    assert info['length'] == len(payload)
    assert info['sha256'] == hashlib.sha256(payload).hexdigest()
    assert info['more_body'][-1] is False


def test_streamed_response(h2_client: httpx.Client) -> None:
    with h2_client.stream('GET', '/stream?n=20&size=10000') as response:
        assert response.http_version == 'HTTP/2'
        body = b''.join(response.iter_bytes())
    assert body == b''.join(bytes([97 + index % 26]) * 10000 for index in range(20))


def test_concurrent_streams_are_multiplexed(server: Server) -> None:
    with H2Client(server.port) as client:
        slow = client.request('GET', '/slow?s=0.5')
        fast = client.request('GET', '/')
        posted = client.request('POST', '/echo', body=b'third stream')
        responses = client.wait([slow, fast, posted], timeout=10.0)
    assert responses[slow].status == 200
    assert responses[slow].body == b'slept 0.5'
    assert responses[fast].body == b'Hello, world!'
    assert responses[posted].body == b'third stream'
    # The slow stream did not hold the others back on the shared connection.
    assert client.completed.index(fast) < client.completed.index(slow)
    assert client.completed.index(posted) < client.completed.index(slow)


def test_response_headers(server: Server) -> None:
    with H2Client(server.port) as client:
        stream = client.request('GET', '/set-headers')
        response = client.wait([stream])[stream]
    assert response.status == 200
    assert response.header(b'server') == b'granian'
    assert response.header(b'date') is not None
    assert [value for name, value in response.headers if name == b'set-cookie'] == [b'a=1', b'b=2']
    # RFC 9113 §8.2.2: connection-specific headers are forbidden in HTTP/2.
    assert response.header(b'connection') is None
    assert response.header(b'transfer-encoding') is None


def test_app_error_is_500_on_its_stream_only(server: Server) -> None:
    with H2Client(server.port) as client:
        failing = client.request('GET', '/raise')
        healthy = client.request('GET', '/scope')
        responses = client.wait([failing, healthy])
    assert responses[failing].status == 500
    assert responses[healthy].status == 200
    assert json.loads(responses[healthy].body)['http_version'] == '2'


def test_http1_on_the_same_port_depends_on_the_mode(server: Server) -> None:
    mode = server.option('--http')
    with RawConnection(server.port) as conn:
        conn.try_send(request_bytes('GET', '/', headers=[('Connection', 'close')]))
        data = conn.read_until_close()
    if mode == 'auto':
        assert data.startswith(b'HTTP/1.1 200'), data
    else:
        # An HTTP/2-only server answers HTTP/1.1 with nothing it would parse as success.
        assert not data.startswith(b'HTTP/1.1 2'), data


def test_http1_mode_does_not_speak_h2() -> None:
    with run_server('--http', '1') as server:
        with RawConnection(server.port) as conn:
            conn.try_send(H2_PREFACE + b'\x00\x00\x00\x04\x00\x00\x00\x00\x00')
            data = conn.read_until_close()
        # Never a SETTINGS frame (the first frame of any HTTP/2 server): empty or HTTP/1.x.
        assert data == b'' or data.startswith(b'HTTP/1.'), data
        with server.client(http1=False, http2=True) as h2_client, pytest.raises(httpx.HTTPError):
            h2_client.get('/')
        # HTTP/1.1 still works there.
        with server.client() as http:
            assert http.get('/').status_code == 200
