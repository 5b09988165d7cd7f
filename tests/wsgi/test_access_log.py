"""`--access-log` with a WSGI application: one line per request, written once its body is sent."""

from __future__ import annotations

import pytest

from tests._http import H2Client
from tests.conftest import Server
from tests.test_access_log import access_line, send

SERVER_APP = 'tests.apps.wsgi_app:app'
SERVER_INTERFACE = 'wsgi'
SERVER_ARGS = ('--access-log',)


@pytest.mark.parametrize(
    ('method', 'target', 'status'),
    [
        ('GET', '/environ?x=1&y=2', 200),
        ('GET', '/', 200),
        ('POST', '/echo', 200),
        ('GET', '/status?status=404%20Not%20Found', 404),
        ('GET', '/raise', 500),
        ('GET', '/stream?n=3&size=10', 200),
    ],
)
def test_one_line_per_request(server: Server, method: str, target: str, status: int) -> None:
    mark = server.mark()
    port, received = send(server, method, target, body=b'data' if method == 'POST' else None)
    assert received == status
    server.wait_for(access_line(port, method, target, r'HTTP/1\.1', status), start=mark)


def test_duration_covers_the_application(server: Server) -> None:
    mark = server.mark()
    port, _ = send(server, 'GET', '/sleep?seconds=0.3')
    match = server.wait_for(access_line(port, 'GET', '/sleep?seconds=0.3', r'HTTP/1\.1', 200), start=mark)[0]
    assert float(match.group(1)) >= 300


def test_http2(server: Server) -> None:
    mark = server.mark()
    with H2Client(server.port) as h2:
        stream_id = h2.request('GET', '/list?n=1')
        assert h2.wait([stream_id])[stream_id].status == 200
        port = h2.sock.getsockname()[1]
    server.wait_for(access_line(port, 'GET', '/list?n=1', r'HTTP/2', 200), start=mark)
