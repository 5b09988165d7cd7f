"""wsgi.input: the request body streamed from the connection through read(), read(n), readline(),
readlines() and iteration, without the GIL while waiting for the client."""

from __future__ import annotations

import hashlib
import os
import uuid

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests._http import RawConnection, app_record, assert_serves, chunked, request_bytes
from tests.conftest import Server

SERVER_APP = 'tests.apps.wsgi_app:app'
SERVER_INTERFACE = 'wsgi'

LINES = b'first line\nsecond\n\nlast without newline'


def echo(client: httpx.Client, body: bytes, mode: str, **params: str) -> httpx.Response:
    response = client.post('/echo', params={'mode': mode, **params}, content=body)
    assert response.status_code == 200, response.text
    return response


def test_read_everything(server: Server, client: httpx.Client) -> None:
    response = echo(client, b'hello body', 'read')
    assert response.content == b'hello body'
    assert response.headers['content-length'] == '10'


def test_read_with_a_size_returns_exactly_that_much(server: Server, client: httpx.Client) -> None:
    body = os.urandom(100_003)
    response = echo(client, body, 'read-n', n='4096')
    assert response.content == body
    assert int(response.headers['x-pieces']) == -(-len(body) // 4096)


def test_readline(server: Server, client: httpx.Client) -> None:
    response = echo(client, LINES, 'readline')
    assert response.content == LINES
    assert response.headers['x-pieces'] == '4'


def test_readline_with_a_size_cuts_lines(server: Server, client: httpx.Client) -> None:
    response = echo(client, b'abcdefghij\nxy\n', 'readline-size', n='4')
    assert response.content == b'abcdefghij\nxy\n'
    # 'abcd' 'efgh' 'ij\n' 'xy\n'
    assert response.headers['x-pieces'] == '4'


def test_readlines(server: Server, client: httpx.Client) -> None:
    response = echo(client, LINES, 'readlines')
    assert response.content == LINES
    assert response.headers['x-pieces'] == '4'


def test_readlines_stops_at_the_hint(server: Server, client: httpx.Client) -> None:
    response = echo(client, LINES, 'readlines-hint', n='12')
    # 'first line\n' (11 bytes) is under the hint, so 'second\n' is read too; the rest stays.
    assert response.content == b'first line\nsecond\n|\nlast without newline'


def test_iteration_yields_lines(server: Server, client: httpx.Client) -> None:
    response = echo(client, LINES, 'iter')
    assert response.content == LINES
    assert response.headers['x-pieces'] == '4'


@pytest.mark.parametrize('mode', ['read', 'read-n', 'readline', 'readlines', 'iter'])
def test_empty_body(server: Server, client: httpx.Client, mode: str) -> None:
    assert echo(client, b'', mode).content == b''


def test_no_body_at_all(server: Server, client: httpx.Client) -> None:
    assert client.get('/body-info').json() == {'length': 0, 'sha256': hashlib.sha256(b'').hexdigest()}


def test_large_body(server: Server, client: httpx.Client) -> None:
    payload = os.urandom(8 * 1024 * 1024 + 5)
    info = client.post('/body-info', content=payload).json()
    assert info == {'length': len(payload), 'sha256': hashlib.sha256(payload).hexdigest()}


def test_chunked_upload_reads_to_the_end(server: Server) -> None:
    """wsgi.input_terminated: no Content-Length, and read() still ends at the end of the body."""
    parts = [os.urandom(size) for size in (1, 100, 65536, 3, 200_000)]
    with RawConnection(server.port) as conn:
        conn.send(
            request_bytes(
                'POST', '/echo?mode=read', headers=[('Transfer-Encoding', 'chunked'), ('Connection', 'close')]
            )
            + chunked(parts)
        )
        response = conn.read_response()
    assert response.status == 200
    assert response.body == b''.join(parts)


def test_expect_100_continue(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('POST', '/echo', headers=[('Expect', '100-continue'), ('Content-Length', '5')]))
        interim = conn.read_response()
        assert interim.status == 100
        conn.send(b'hello')
        response = conn.read_response()
    assert response.status == 200
    assert response.body == b'hello'


def test_unread_body_keeps_the_connection_usable(server: Server) -> None:
    """The app ignores the body; the server reads it away so the next request parses."""
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('POST', '/', body=b'x' * 300_000))
        assert conn.read_response().body == b'Hello, world!'
        conn.send(request_bytes('GET', '/', headers=[('Connection', 'close')]))
        assert conn.read_response().body == b'Hello, world!'


def test_client_leaving_mid_body_raises_oserror_in_the_app(server: Server) -> None:
    record_id = f'mid-body-{uuid.uuid4()}'
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('POST', f'/disconnect?id={record_id}', headers=[('Content-Length', '1000000')]))
        # More than the 64 KiB read ahead before the application is called.
        conn.send(b'x' * 70_000)
        assert app_record(server.port, record_id, until='receiving')['state'] == 'receiving'
    record = app_record(server.port, record_id, until='disconnected')
    assert record['state'] == 'disconnected', record
    assert record['error']['is_oserror'] is True
    assert record['body_bytes'] < 1_000_000
    assert_serves(server.port)


@given(body=st.binary(max_size=2048), size=st.integers(1, 300))
def test_any_body_reads_back_in_pieces(server: Server, body: bytes, size: int) -> None:
    with httpx.Client(base_url=server.url, timeout=10.0) as http:
        response = http.post('/echo', params={'mode': 'read-n', 'n': str(size)}, content=body)
    assert response.status_code == 200, response.text
    assert response.content == body
