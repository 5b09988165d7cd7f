"""`--access-log`: one `[INFO] client - "METHOD target PROTOCOL" status duration` line per request."""

from __future__ import annotations

import re

import pytest

from tests._http import H2Client, RawConnection, request_bytes
from tests.conftest import Server, run_server

SERVER_ARGS = ('--access-log',)

DURATION = r'(\d+(?:\.\d+)?)'


def access_line(port: int, method: str, target: str, protocol: str, status: int) -> str:
    """A pattern for the access line of one request from the client at 127.0.0.1:`port`."""
    return rf'^\[INFO\] 127\.0\.0\.1:{port} - "{method} {re.escape(target)} {protocol}" {status} {DURATION}$'


def send(server: Server, method: str, target: str, body: bytes | None = None) -> tuple[int, int]:
    """One request on a new connection; (client port, status)."""
    with RawConnection(server.port) as conn:
        conn.send(request_bytes(method, target, body=body, headers=[('Connection', 'close')]))
        return conn.local_port, conn.read_response(method=method).status


def test_get_with_query(server: Server) -> None:
    mark = server.mark()
    port, status = send(server, 'GET', '/scope?x=1&y=2')
    assert status == 200
    server.wait_for(access_line(port, 'GET', '/scope?x=1&y=2', r'HTTP/1\.1', 200), start=mark)


def test_get_without_query_has_no_question_mark(server: Server) -> None:
    mark = server.mark()
    port, _ = send(server, 'GET', '/')
    server.wait_for(access_line(port, 'GET', '/', r'HTTP/1\.1', 200), start=mark)


@pytest.mark.parametrize(
    ('method', 'target', 'status'),
    [('POST', '/echo', 200), ('GET', '/status?code=404', 404), ('GET', '/raise', 500), ('DELETE', '/nowhere', 404)],
)
def test_method_and_status(server: Server, method: str, target: str, status: int) -> None:
    mark = server.mark()
    port, received = send(server, method, target, body=b'data' if method == 'POST' else None)
    assert received == status
    server.wait_for(access_line(port, method, target, r'HTTP/1\.1', status), start=mark)


def test_duration_covers_the_request(server: Server) -> None:
    mark = server.mark()
    port, _ = send(server, 'GET', '/slow?s=0.3')
    match = server.wait_for(access_line(port, 'GET', '/slow?s=0.3', r'HTTP/1\.1', 200), start=mark)[0]
    # 0.3 s, whether the unit is seconds or milliseconds.
    assert float(match.group(1)) >= 0.3


def test_one_line_per_request_on_a_kept_alive_connection(server: Server) -> None:
    mark = server.mark()
    with RawConnection(server.port) as conn:
        for index in range(3):
            conn.send(request_bytes('GET', f'/?n={index}'))
            assert conn.read_response().status == 200
        port = conn.local_port
    for index in range(3):
        server.wait_for(access_line(port, 'GET', f'/?n={index}', r'HTTP/1\.1', 200), start=mark)
    lines = [line for line in server.lines(mark) if f'127.0.0.1:{port} ' in line]
    assert len(lines) == 3, lines


def test_http2_request(server: Server) -> None:
    mark = server.mark()
    with H2Client(server.port) as client:
        stream = client.request('GET', '/scope?h2=1')
        assert client.wait([stream])[stream].status == 200
        port = client.sock.getsockname()[1]
    server.wait_for(access_line(port, 'GET', '/scope?h2=1', r'HTTP/2(?:\.0)?', 200), start=mark)


def test_no_access_log_without_the_flag() -> None:
    with run_server() as quiet:
        port, status = send(quiet, 'GET', '/scope?quiet=1')
        assert status == 200
        # Absence can only be observed for a while; a line would be written right away.
        assert not quiet.saw(r'"GET /scope\?quiet=1 ', timeout=1.0)
        assert not any(f'127.0.0.1:{port}' in line for line in quiet.log)
