"""HTTP/1.1 on the wire: keep-alive, pipelining, HEAD, standard headers, HTTP/1.0 clients."""

from __future__ import annotations

import datetime
import email.utils
import json
from collections.abc import Iterator

import httpx
import pytest

from tests._http import RawConnection, exchange, parse_responses, request_bytes
from tests.conftest import Server, module_server


@pytest.fixture(scope='module', params=['auto', '1'])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with module_server(request, '--http', request.param) as running:
        yield running


def test_keep_alive_serves_several_requests_on_one_connection(server: Server) -> None:
    with RawConnection(server.port) as conn:
        ports = set()
        for index in range(5):
            conn.send(request_bytes('GET', f'/scope?i={index}'))
            response = conn.read_response()
            assert response.status == 200
            scope = json.loads(response.body)
            assert scope['query_string'] == f'i={index}'
            ports.add(scope['client'][1])
            assert response.header('connection') != 'close'
    # One TCP connection carried them all.
    assert len(ports) == 1


def test_pipelined_requests_are_answered_in_order(server: Server) -> None:
    # The first request is slower than the second; responses must still come back in order.
    requests = (
        request_bytes('GET', '/slow?s=0.3') + request_bytes('GET', '/') + request_bytes('POST', '/echo', body=b'3rd')
    )
    with RawConnection(server.port) as conn:
        conn.send(requests)
        bodies = [conn.read_response().body for _ in range(3)]
    assert bodies == [b'slept 0.3', b'Hello, world!', b'3rd']


def test_head_has_headers_but_no_body(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('HEAD', '/'))
        head = conn.read_response(method='HEAD')
        assert head.status == 200
        assert head.body == b''
        # A body after the HEAD response would corrupt the next response on this connection.
        conn.send(request_bytes('GET', '/', headers=[('Connection', 'close')]))
        data = conn.read_until_close()
    responses = parse_responses(data)
    assert len(responses) == 1
    assert responses[0].body == b'Hello, world!'
    if head.header('content-length') is not None:
        assert head.header('content-length') == str(len(b'Hello, world!'))


def test_date_and_server_headers(server: Server, client: httpx.Client) -> None:
    response = client.get('/')
    assert response.headers['server'] == 'granian'
    date = email.utils.parsedate_to_datetime(response.headers['date'])
    assert date.tzinfo is not None
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - date).total_seconds()) < 60


def test_headers_set_by_the_app_are_kept_with_duplicates(server: Server, client: httpx.Client) -> None:
    response = client.get('/set-headers')
    assert response.headers.get_list('x-multi') == ['a', 'b']
    assert response.headers.get_list('set-cookie') == ['a=1', 'b=2']


@pytest.mark.parametrize('code', [204, 304])
def test_bodyless_statuses(server: Server, code: int) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', f'/status?code={code}'))
        response = conn.read_response()
        assert response.status == code
        assert response.header('transfer-encoding') is None
        # No stray body bytes: the next response on the connection parses cleanly.
        conn.send(request_bytes('GET', '/', headers=[('Connection', 'close')]))
        assert conn.read_response().body == b'Hello, world!'


def test_chunked_response_framing(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/stream?n=3&size=5'))
        response = conn.read_response()
    assert response.chunked
    assert response.header('content-length') is None
    assert response.body == b'aaaaabbbbbccccc'


def test_connection_close_is_honoured(server: Server) -> None:
    data = exchange(server.port, request_bytes('GET', '/', headers=[('Connection', 'close')]))
    responses = parse_responses(data)
    assert [response.status for response in responses] == [200]
    assert responses[0].body == b'Hello, world!'


def test_http10_request_gets_a_response_and_a_close(server: Server) -> None:
    data = exchange(server.port, b'GET / HTTP/1.0\r\n\r\n')
    responses = parse_responses(data)
    assert len(responses) == 1
    assert responses[0].version.startswith('HTTP/1.')
    assert responses[0].status == 200
    assert responses[0].body == b'Hello, world!'


def test_http10_keep_alive_request(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
        first = conn.read_response()
        assert first.status == 200
        assert first.body == b'Hello, world!'
        if first.header('connection') == 'keep-alive':
            conn.send(b'GET / HTTP/1.0\r\n\r\n')
            assert conn.read_response().body == b'Hello, world!'
        assert conn.wait_closed()


def test_many_sequential_connections(server: Server) -> None:
    for _ in range(50):
        data = exchange(server.port, request_bytes('GET', '/', headers=[('Connection', 'close')]))
        assert parse_responses(data)[0].status == 200
