"""Application failures: a 500 and a log line naming what went wrong (with the traceback when the
application raised), a cut-off body once the head went out, and a worker that keeps serving."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from tests._http import RawConnection, assert_serves, parse_responses, request_bytes
from tests.conftest import Server

SERVER_APP = 'tests.apps.wsgi_app:app'
SERVER_INTERFACE = 'wsgi'

ERROR_LINE = r'^\[ERROR\] '


def test_exception_is_500_with_a_traceback(server: Server, client: httpx.Client) -> None:
    mark = server.mark()
    response = client.get('/raise')
    assert response.status_code == 500
    server.wait_for(r'^\[ERROR\] Application exception', start=mark)
    server.wait_for(r'Traceback \(most recent call last\)', start=mark)
    server.wait_for(r'RuntimeError: boom from /raise', start=mark)
    assert_serves(server.port)


def assert_cut_off(data: bytes, chunks: list[bytes]) -> None:
    """`data`, read until the server closed, is the 200 head and every chunk the application
    yielded before it raised, in chunked encoding, and no last chunk: a response that never
    completes."""
    assert parse_responses(data) == [], data[:200]
    head, separator, body = data.partition(b'\r\n\r\n')
    assert separator and head.startswith(b'HTTP/1.1 200 OK\r\n'), data[:200]
    assert b'transfer-encoding: chunked' in head.lower(), head
    received = []
    while body:
        size, crlf, rest = body.partition(b'\r\n')
        assert crlf and int(size, 16) > 0, body[:40]
        chunk, end = rest[: int(size, 16)], rest[int(size, 16) : int(size, 16) + 2]
        assert len(chunk) == int(size, 16) and end == b'\r\n', f'chunk {len(received)} cut short'
        received.append(chunk)
        body = rest[int(size, 16) + 2 :]
    assert b''.join(received) == b''.join(chunks), (len(b''.join(received)), len(b''.join(chunks)))


def test_exception_after_the_head_cuts_the_body(server: Server) -> None:
    mark = server.mark()
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/raise-late'))
        data = conn.read_until_close(timeout=10.0)
    assert_cut_off(data, [b'partial'])
    server.wait_for(r'RuntimeError: boom after the headers went out', start=mark)
    assert_serves(server.port)


def test_exception_with_the_stream_full_cuts_the_body(server: Server) -> None:
    """The error comes while the body channel is full (the client reads slowly): the queued
    chunks still go out, those the HTTP/1.1 layer buffered too, then the response is cut off."""
    mark = server.mark()
    count, size = 256, 65536
    with RawConnection(server.port, receive_buffer=65536, timeout=20.0) as conn:
        conn.send(request_bytes('GET', f'/raise-late?n={count}&size={size}'))
        data = conn.read_until_close(timeout=20.0)
    assert_cut_off(data, [b'partial', *(bytes([97 + index % 26]) * size for index in range(count))])
    server.wait_for(r'RuntimeError: boom after the headers went out', start=mark)
    assert not server.saw(r'panicked', 0.5, start=mark)
    assert_serves(server.port)


@pytest.mark.parametrize(
    ('status', 'reason'),
    [
        pytest.param('2OO OK', 'the code is not three digits', id='letters'),
        pytest.param('200OK', 'no space between the code and the reason', id='no-space'),
        pytest.param('99 Low', 'the code is not three digits', id='two-digits'),
        pytest.param('1000 High', 'no space between the code and the reason', id='four-digits'),
        pytest.param('099 Low', 'the code is outside 100..=999', id='below-100'),
        pytest.param('OK', 'too short', id='no-code'),
        pytest.param('200 O\nK', 'the reason contains a control character', id='newline'),
        pytest.param('200 \u20ac', 'the reason is not ISO-8859-1', id='not-latin1'),
    ],
)
def test_bad_status_line_is_500_naming_it(server: Server, client: httpx.Client, status: str, reason: str) -> None:
    mark = server.mark()
    response = client.get('/bad-status', params={'status': status})
    assert response.status_code == 500
    server.wait_for(rf'ValueError: invalid status .*: {reason}', start=mark)


@pytest.mark.parametrize(
    ('kind', 'message'),
    [
        pytest.param('name', r'ValueError: invalid response header "Bad Name": not a valid header name', id='name'),
        pytest.param(
            'value',
            r'ValueError: invalid response header "X-Split": the value contains a control character',
            id='crlf-in-value',
        ),
        pytest.param(
            'not-latin1', r'ValueError: invalid response header "X-Euro": the value is not ISO-8859-1', id='latin1'
        ),
        pytest.param('not-str', r'TypeError: a header value must be str, not bytes', id='bytes-value'),
        pytest.param('not-pair', r'TypeError: a response header must be a \(name, value\) tuple, not tuple', id='pair'),
        pytest.param(
            'not-list', r'TypeError: response headers must be a list of \(name, value\) tuples, not str', id='list'
        ),
    ],
)
def test_bad_headers_are_500_naming_them(server: Server, client: httpx.Client, kind: str, message: str) -> None:
    mark = server.mark()
    response = client.get('/bad-header', params={'kind': kind})
    assert response.status_code == 500
    assert 'injected' not in response.headers
    server.wait_for(message, start=mark)


def test_body_items_must_be_bytes(server: Server, client: httpx.Client) -> None:
    mark = server.mark()
    assert client.get('/not-bytes').status_code == 500
    server.wait_for(r'WSGI application error: response body items must be bytes, not str', start=mark)


@pytest.mark.parametrize('body', ['', '1'])
def test_no_start_response_is_500(server: Server, client: httpx.Client, body: str) -> None:
    mark = server.mark()
    assert client.get('/no-start', params={'body': body}).status_code == 500
    server.wait_for(r'WSGI application error: start_response was not called before', start=mark)


def test_500_leaves_the_connection_usable(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/raise'))
        response = conn.read_response()
        assert response.status == 500
        conn.send(request_bytes('GET', '/', headers=[('Connection', 'close')]))
        assert conn.read_response().status == 200


def test_wsgi_errors_lines_are_logged(server: Server, client: httpx.Client) -> None:
    mark = server.mark()
    assert client.get('/errors').content == b'logged'
    server.wait_for(r'^\[ERROR\] wsgi\.errors first line$', start=mark)
    server.wait_for(r'^\[ERROR\] wsgi\.errors second line$', start=mark)
    # flush() emits a partial line.
    server.wait_for(r'^\[ERROR\] wsgi\.errors unterminated$', start=mark)


def test_worker_survives_repeated_errors(server: Server, client: httpx.Client) -> None:
    spawned = len(server.worker_pids())
    for target in ['/raise', '/no-start', '/not-bytes', '/bad-status?status=' + quote('x')] * 5:
        assert client.get(target).status_code == 500
    assert client.get('/').status_code == 200
    assert len(server.worker_pids()) == spawned
