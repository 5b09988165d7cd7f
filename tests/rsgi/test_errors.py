"""RSGI application failures: a 500 (or a cut-off stream) for the client, a logged traceback on
`granian.rsgi`, and a worker that keeps serving."""

from __future__ import annotations

import httpx
import pytest

from tests._http import IncompleteResponse, RawConnection, assert_serves, request_bytes
from tests.conftest import Server

SERVER_APP = 'tests.apps.rsgi_app:app'
SERVER_INTERFACE = 'rsgi'

ERROR_LINE = r'^\[ERROR\] '


def test_exception_before_response_is_500_with_traceback(server: Server, client: httpx.Client) -> None:
    mark = server.mark()
    response = client.get('/raise')
    assert response.status_code == 500
    server.wait_for(r'^\[ERROR\] Application exception$', start=mark)
    server.wait_for(r'Traceback \(most recent call last\)', start=mark)
    server.wait_for(r'RuntimeError: boom from /raise', start=mark)
    assert_serves(server.port)


def test_returning_without_a_response_is_500_with_a_log_line(server: Server, client: httpx.Client) -> None:
    mark = server.mark()
    response = client.get('/noresponse')
    assert response.status_code == 500
    server.wait_for(r'^\[ERROR\] RSGI application returned without sending a response$', start=mark)
    assert_serves(server.port)


def test_500_keeps_the_connection_usable(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/raise'))
        assert conn.read_response().status == 500
        conn.send(request_bytes('GET', '/', headers=[('Connection', 'close')]))
        assert conn.read_response().status == 200


def test_exception_mid_stream_cuts_the_response(server: Server) -> None:
    mark = server.mark()
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/partial'))
        head = conn.read_head()
        # Headers were already sent, so the status stays; the body is left unterminated.
        assert head.status == 200
        assert head.header('transfer-encoding') == 'chunked'
        assert conn.read_chunk() == b'partial'
        with pytest.raises(IncompleteResponse):
            conn.read_chunk(timeout=10.0)
        assert conn.closed
    server.wait_for(r'RuntimeError: boom after response start', start=mark)
    assert_serves(server.port)


def test_exception_mid_stream_fails_the_client(server: Server, client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        client.get('/partial')
    assert_serves(server.port)


def test_worker_survives_repeated_errors(server: Server, client: httpx.Client) -> None:
    spawned = len(server.worker_pids())
    for path in ['/raise', '/noresponse', '/raise'] * 5:
        assert client.get(path).status_code == 500
    assert client.get('/').status_code == 200
    assert len(server.worker_pids()) == spawned
