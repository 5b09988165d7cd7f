"""Hostile and broken HTTP/1.1 input over raw sockets.

Each case checks the server's answer (400, 431, a timeout close) and then that a normal request
on a new connection still gets 200: no input may take a worker down or wedge it.
"""

from __future__ import annotations

import time
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests._http import RawConnection, app_record, assert_serves, exchange, parse_responses, request_bytes
from tests.conftest import Server

BUFFER_SIZE = 16384
HEADER_TIMEOUT_MS = 500
SERVER_ARGS = (
    '--http',
    '1',
    '--http1-buffer-size',
    str(BUFFER_SIZE),
    '--http1-header-read-timeout',
    str(HEADER_TIMEOUT_MS),
)


def rejected(data: bytes) -> list[int]:
    """The statuses the server sent back for a request that should be refused."""
    return [response.status for response in parse_responses(data)]


@pytest.mark.parametrize(
    'head',
    [
        pytest.param(b'GARBAGE\r\n\r\n', id='garbage-line'),
        pytest.param(b'GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n', id='extra-token'),
        pytest.param(b'GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n', id='header-without-colon'),
        pytest.param(b'GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n', id='space-in-header-name'),
        pytest.param(b'GET / HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n', id='nul-in-header-value'),
        pytest.param(b'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', id='space-in-target'),
        pytest.param(b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', id='tls-client-hello'),
    ],
)
def test_malformed_head_is_400_then_close(server: Server, head: bytes) -> None:
    data = exchange(server.port, head)
    assert rejected(data) == [400], data
    assert_serves(server.port)


def test_unsupported_version_is_refused(server: Server) -> None:
    data = exchange(server.port, b'GET / HTTP/9.9\r\nHost: x\r\n\r\n')
    statuses = rejected(data)
    assert statuses in ([400], [505]), data
    assert_serves(server.port)


def test_oversized_head_is_431_then_close(server: Server) -> None:
    head = request_bytes('GET', '/', headers=[('X-Big', 'a' * (2 * BUFFER_SIZE))])
    with RawConnection(server.port) as conn:
        conn.try_send(head)
        data = conn.read_until_close()
    assert rejected(data) == [431], data
    assert_serves(server.port)


def test_head_within_the_buffer_is_served(server: Server) -> None:
    head = request_bytes('GET', '/', headers=[('X-Big', 'a' * (BUFFER_SIZE // 2)), ('Connection', 'close')])
    assert rejected(exchange(server.port, head)) == [200]


@pytest.mark.parametrize(
    'headers',
    [
        pytest.param([('Content-Length', 'abc')], id='not-a-number'),
        pytest.param([('Content-Length', '-1')], id='negative'),
        pytest.param([('Content-Length', '5'), ('Content-Length', '6')], id='conflicting'),
        pytest.param([('Content-Length', '5, 6')], id='list'),
        pytest.param([('Content-Length', '99999999999999999999999')], id='overflow'),
    ],
)
def test_bad_content_length_is_400(server: Server, headers: list[tuple[str, str]]) -> None:
    data = exchange(server.port, request_bytes('POST', '/echo', headers=headers) + b'hello')
    assert rejected(data) == [400], data
    assert_serves(server.port)


def test_content_length_with_transfer_encoding_cannot_smuggle(server: Server) -> None:
    """RFC 9112 §6.1: with both headers, chunked framing wins and the connection must close;
    a request hidden in the body must never be answered as a second request."""
    smuggled = b'GET /scope?smuggled=1 HTTP/1.1\r\nHost: x\r\n\r\n'
    wire = (
        b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n'
        b'5\r\nhello\r\n0\r\n\r\n' + smuggled
    )
    data = exchange(server.port, wire)
    responses = parse_responses(data)
    assert len(responses) == 1, data
    assert responses[0].status in (200, 400), data
    if responses[0].status == 200:
        assert responses[0].body == b'hello'
    assert b'smuggled' not in data
    assert_serves(server.port)


@pytest.mark.parametrize(
    'body',
    [
        pytest.param(b'zz\r\nhello\r\n0\r\n\r\n', id='not-hex'),
        pytest.param(b'5\r\nhelloXX0\r\n\r\n', id='missing-crlf-after-data'),
        pytest.param(b'fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n', id='size-overflow'),
        pytest.param(b'-5\r\nhello\r\n0\r\n\r\n', id='negative'),
    ],
)
def test_bad_chunk_is_never_a_success(server: Server, body: bytes) -> None:
    head = request_bytes('POST', '/echo', headers=[('Transfer-Encoding', 'chunked')])
    data = exchange(server.port, head + body)
    # The app may already hold the request, so the server can no longer always answer 400,
    # but the corrupt body must not be echoed as a success and the connection must end.
    statuses = rejected(data)
    assert all(not 200 <= status < 300 for status in statuses), data
    assert_serves(server.port)


def test_unknown_transfer_encoding_is_refused(server: Server) -> None:
    head = request_bytes('POST', '/echo', headers=[('Transfer-Encoding', 'gzip')])
    data = exchange(server.port, head + b'hello')
    statuses = rejected(data)
    assert statuses and all(400 <= status < 600 for status in statuses), data
    assert_serves(server.port)


def test_client_dropping_mid_body(server: Server) -> None:
    record_id = f'drop-{uuid.uuid4()}'
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('POST', f'/disconnect?id={record_id}', headers=[('Content-Length', '100000')]))
        # More than the 64 KiB a WSGI request's body is read ahead before the application runs.
        conn.send(b'x' * 70_000)
        app_record(server.port, record_id, until='receiving')
    record = app_record(server.port, record_id, until='disconnected')
    assert record['state'] == 'disconnected', record
    assert record['body_bytes'] < 100000
    assert_serves(server.port)


def test_stalled_head_is_cut_after_the_header_read_timeout(server: Server) -> None:
    with RawConnection(server.port, timeout=10.0) as conn:
        started = time.monotonic()
        conn.send(b'GET / HTTP/1.1\r\nHost: x\r\n')
        closed = conn.wait_closed(timeout=10.0)
        elapsed = time.monotonic() - started
        data = conn.buffer
    assert closed, 'server kept a stalled connection open'
    assert HEADER_TIMEOUT_MS / 1000 * 0.5 <= elapsed < 5.0
    # Either a bare close or a 408.
    assert rejected(data) in ([], [408]), data
    assert_serves(server.port)


def test_slow_but_steady_head_within_the_timeout_is_served(server: Server) -> None:
    head = request_bytes('GET', '/', headers=[('Connection', 'close')])
    with RawConnection(server.port) as conn:
        # Three pieces well inside the header timeout in total.
        third = len(head) // 3
        for piece in (head[:third], head[third : 2 * third], head[2 * third :]):
            conn.send(piece)
            time.sleep(HEADER_TIMEOUT_MS / 1000 / 10)
        assert conn.read_response().status == 200


def test_many_half_open_connections_do_not_block_others(server: Server) -> None:
    conns = [RawConnection(server.port) for _ in range(20)]
    try:
        for conn in conns:
            conn.send(b'GET / HTTP/1.1\r\nHost: x\r\n')
        assert_serves(server.port)
    finally:
        for conn in conns:
            conn.close()


_garbage = st.one_of(
    st.binary(min_size=1, max_size=512),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=200).map(str.encode),
)


@given(garbage=_garbage)
def test_arbitrary_bytes_never_get_a_5xx_or_hang(server: Server, garbage: bytes) -> None:
    with RawConnection(server.port, timeout=5.0) as conn:
        conn.try_send(garbage + b'\r\n\r\n')
        closed = conn.wait_closed(timeout=5.0)
        data = conn.buffer
    if not closed:
        # Still open: only acceptable if what came back was a complete, successful exchange
        # (the bytes happened to form a valid request on a kept-alive connection).
        statuses = rejected(data)
        assert statuses and all(status < 500 for status in statuses), data
    else:
        assert all(status < 500 for status in rejected(data)), data
    assert_serves(server.port)
