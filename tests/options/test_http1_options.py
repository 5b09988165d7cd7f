"""HTTP/1 connection options on the wire: `--http1-keep-alive` and `--http1-pipeline-flush`."""

from __future__ import annotations

import json

import pytest

from tests._http import RawConnection, parse_responses, request_bytes
from tests._kernel import data_segments_in
from tests.conftest import run_server

PIPELINED = 8


def test_keep_alive_serves_requests_one_after_another_on_one_connection() -> None:
    with run_server('--http1-keep-alive') as server, RawConnection(server.port) as conn:
        for index in range(3):
            conn.send(request_bytes('GET', f'/scope/{index}'))
            response = conn.read_response()
            assert response.status == 200, response
            assert response.header('connection') != 'close'
            assert json.loads(response.body)['path'] == f'/scope/{index}'


@pytest.mark.parametrize('version', ['HTTP/1.1', 'HTTP/1.0'])
def test_no_keep_alive_closes_after_one_response(version: str) -> None:
    keep_alive = [('Connection', 'keep-alive')] if version == 'HTTP/1.0' else []
    with run_server('--no-http1-keep-alive') as server, RawConnection(server.port) as conn:
        # Two requests in one write: only the first is answered, then the server closes.
        requests = [request_bytes('GET', f'/scope/{index}', headers=keep_alive, version=version) for index in range(2)]
        conn.send(b''.join(requests))
        responses = parse_responses(conn.read_until_close())
    [response] = responses
    assert response.status == 200
    if version == 'HTTP/1.1':
        assert response.header('connection') == 'close'
    else:
        # Closing is HTTP/1.0's default: not confirming the keep-alive asked for says it.
        assert response.header('connection') != 'keep-alive'
    assert json.loads(response.body)['path'] == '/scope/0'


def pipelined_exchange(flag: str) -> tuple[list[str], int]:
    """Send `PIPELINED` requests in one write; the paths the responses echo, in order, and the
    number of TCP segments with data they arrived in (TCP_INFO on the client socket), which
    counts the server's writes on loopback."""
    with run_server(flag) as server, RawConnection(server.port) as conn:
        conn.send(b''.join(request_bytes('GET', f'/scope/{index}') for index in range(PIPELINED)))
        responses = [conn.read_response() for _ in range(PIPELINED)]
        segments = data_segments_in(conn.sock)
    assert all(response.status == 200 for response in responses), responses
    return [json.loads(response.body)['path'] for response in responses], segments


def test_pipeline_flush_gathers_pipelined_responses_into_fewer_writes() -> None:
    """Without the flag each response is written as soon as it is ready: one segment each. With
    it, hyper holds responses back while more requests wait in its read buffer: the first
    `PIPELINED - 1` go out in one write once the last request has been read, and the last
    response, ready only after that, in a second."""
    in_order = [f'/scope/{index}' for index in range(PIPELINED)]
    paths, segments = pipelined_exchange('--no-http1-pipeline-flush')
    assert paths == in_order
    assert segments == PIPELINED
    paths, segments = pipelined_exchange('--http1-pipeline-flush')
    assert paths == in_order
    assert segments <= 2
