"""Request limits: the body size (413, up front by Content-Length and counted for chunked and
HTTP/2 bodies), the header size (431), and the HTTP/1.1 idle keep-alive timeout, separate from
the header read timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests._http import H2Client, RawConnection, chunked, request_bytes
from tests.conftest import Server, run_server

APPS = {'asgi': 'tests.apps.ops_app:asgi', 'rsgi': 'tests.apps.ops_app:rsgi', 'wsgi': 'tests.apps.ops_app:wsgi'}
LIMIT = 1000
KEEP_ALIVE_MS = 1000
HEADER_READ_MS = 4000


@pytest.fixture(scope='module', params=sorted(APPS))
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    interface = request.param
    args = [
        '--max-request-body-size',
        str(LIMIT),
        '--max-header-size',
        '4096',
        '--http1-keep-alive-timeout',
        str(KEEP_ALIVE_MS),
        '--http1-header-read-timeout',
        str(HEADER_READ_MS),
    ]
    with run_server(*args, app=APPS[interface], interface=interface) as running:
        yield running


def post(port: int, body: bytes) -> int:
    with RawConnection(port) as conn:
        conn.send(request_bytes('POST', '/', body=body, headers=[('Connection', 'close')]))
        return conn.read_response().status


def test_body_within_the_limit_is_served(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('POST', '/', body=b'x' * LIMIT))
        response = conn.read_response()
        assert response.status == 200
        assert b'"body_length": 1000' in response.body
        conn.send(request_bytes('POST', '/', headers=[('Transfer-Encoding', 'chunked')]) + chunked([b'y' * LIMIT]))
        assert conn.read_response().status == 200


def test_content_length_beyond_the_limit_gets_413_before_the_body(server: Server) -> None:
    with RawConnection(server.port) as conn:
        # Only the head: the answer must not wait for a body it will not read.
        conn.send(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n')
        response = conn.read_response()
        assert response.status == 413
        assert response.header('connection') == 'close'
        assert conn.wait_closed()
    assert post(server.port, b'ok') == 200


def test_chunked_body_beyond_the_limit_gets_413_and_a_close(server: Server) -> None:
    with RawConnection(server.port) as conn:
        head = request_bytes('POST', '/', headers=[('Transfer-Encoding', 'chunked')])
        conn.send(head + chunked([b'a' * 600, b'b' * 600]))
        response = conn.read_response()
        assert response.status == 413
        assert conn.wait_closed()
    # The next connection is served normally.
    assert post(server.port, b'ok') == 200


def test_http2_body_without_length_is_counted(server: Server) -> None:
    with H2Client(server.port) as client:
        stream_id = client.conn.get_next_available_stream_id()
        headers = [(b':method', b'POST'), (b':path', b'/'), (b':scheme', b'http'), (b':authority', b'127.0.0.1')]
        client.conn.send_headers(stream_id, headers)
        client.conn.send_data(stream_id, b'z' * 1500, end_stream=True)
        client.sock.sendall(client.conn.data_to_send())
        response = client.wait([stream_id])[stream_id]
        assert response.status == 413
        # The connection carries on: another stream within the limit is served.
        second = client.request('POST', '/', body=b'fine')
        assert client.wait([second])[second].status == 200


def test_http2_content_length_beyond_the_limit(server: Server) -> None:
    with H2Client(server.port) as client:
        stream_id = client.request('POST', '/', body=b'q' * 1500)
        assert client.wait([stream_id])[stream_id].status == 413


def test_head_beyond_max_header_size_gets_431(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/', headers=[('X-Big', 'v' * 5000)]))
        assert conn.read_response().status == 431
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/', headers=[('X-Fits', 'v' * 3000), ('Connection', 'close')]))
        assert conn.read_response().status == 200


def test_http2_header_list_beyond_max_header_size_is_refused(server: Server) -> None:
    with H2Client(server.port) as client:
        stream_id = client.request('GET', '/', headers=[('x-big', 'v' * 5000)])
        response = client.wait([stream_id])[stream_id]
        assert response.status == 431 or response.reset is not None
        fine = client.request('GET', '/')
        assert client.wait([fine])[fine].status == 200


def test_idle_keep_alive_connection_is_closed(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/'))
        assert conn.read_response().status == 200
        started = time.monotonic()
        assert conn.wait_closed(timeout=KEEP_ALIVE_MS / 1000 + 3)
        idle = time.monotonic() - started
    assert KEEP_ALIVE_MS / 1000 - 0.2 <= idle < HEADER_READ_MS / 1000


def test_slow_head_is_bounded_by_the_header_timeout_not_the_idle_one(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/'))
        assert conn.read_response().status == 200
        # Start the next request within the idle timeout, then take longer than the idle
        # timeout (but less than the header read timeout) to finish its head.
        time.sleep(KEEP_ALIVE_MS / 1000 / 2)
        conn.send(b'GET / HTTP/1.1\r\n')
        time.sleep(KEEP_ALIVE_MS / 1000 * 1.5)
        conn.send(b'Host: x\r\n\r\n')
        assert conn.read_response().status == 200


def test_stalled_head_is_cut_at_the_header_timeout(server: Server) -> None:
    with RawConnection(server.port) as conn:
        started = time.monotonic()
        conn.send(b'GET / HTTP/1.1\r\nHost: x\r\n')
        assert conn.wait_closed(timeout=HEADER_READ_MS / 1000 + 3)
        assert time.monotonic() - started >= HEADER_READ_MS / 1000 - 0.2
