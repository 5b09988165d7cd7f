"""Application failures: a 500 for the client, a logged traceback, and a server that keeps serving."""

from __future__ import annotations

import httpx
import pytest

from tests._http import IncompleteResponse, RawConnection, assert_serves, request_bytes
from tests.conftest import Server

ERROR_LINE = r'^\[ERROR\] '


def test_exception_before_response_is_500_with_traceback(server: Server, client: httpx.Client) -> None:
    mark = server.mark()
    response = client.get('/raise')
    assert response.status_code == 500
    server.wait_for(ERROR_LINE, start=mark)
    server.wait_for(r'Traceback \(most recent call last\)', start=mark)
    server.wait_for(r'RuntimeError: boom from /raise', start=mark)
    assert_serves(server.port)


def test_a_message_of_unknown_type_raises_granians_runtime_error(client: httpx.Client) -> None:
    # Granian's words are the first argument (applications compare them); the second names the
    # message.
    raised = client.get('/wrong-message').json()
    assert raised['type'] == 'RuntimeError'
    assert raised['args'][0] == 'Unsupported ASGI message'
    assert "'wrong.msg'" in raised['args'][1]


def test_returning_without_a_response_is_500(server: Server, client: httpx.Client) -> None:
    mark = server.mark()
    response = client.get('/noresponse')
    assert response.status_code == 500
    server.wait_for(ERROR_LINE, start=mark)
    assert_serves(server.port)


def test_500_keeps_the_connection_usable_or_closes_it_cleanly(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/raise'))
        response = conn.read_response()
        assert response.status == 500
        # A 500 is a complete response: framing is intact, so the next request parses.
        if response.header('connection') != 'close':
            conn.send(request_bytes('GET', '/', headers=[('Connection', 'close')]))
            assert conn.read_response().status == 200


def test_exception_after_response_start_cuts_the_response(server: Server) -> None:
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
    server.wait_for(r'Traceback \(most recent call last\)', start=mark)
    server.wait_for(r'RuntimeError: boom after response start', start=mark)
    assert_serves(server.port)


def test_exception_after_response_start_fails_the_client(server: Server, client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        client.get('/partial')
    assert_serves(server.port)


def test_worker_survives_repeated_errors(server: Server, client: httpx.Client) -> None:
    spawned = len(server.worker_pids())
    for path in ['/raise', '/noresponse', '/raise'] * 5:
        assert client.get(path).status_code == 500
    assert client.get('/').status_code == 200
    # No worker was replaced along the way.
    assert len(server.worker_pids()) == spawned
