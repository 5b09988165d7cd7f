"""Request bodies through RSGI: `await protocol()` for the whole body, `async for` for chunks as
they arrive, and the errors for reading twice or after the response."""

from __future__ import annotations

import hashlib
import itertools
import os
import uuid

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests._http import RawConnection, app_record, chunked, request_bytes
from tests.conftest import Server

SERVER_APP = 'tests.apps.rsgi_app:app'
SERVER_INTERFACE = 'rsgi'

LARGE = 8 * 1024 * 1024


def body_info(client: httpx.Client, mode: str, content: bytes) -> dict:
    response = client.post(f'/body-info?mode={mode}', content=content)
    assert response.status_code == 200, response.text
    return response.json()


def test_echo(client: httpx.Client) -> None:
    response = client.post('/echo', content=b'hello body')
    assert response.status_code == 200
    assert response.content == b'hello body'
    assert response.headers['content-length'] == '10'


@pytest.mark.parametrize('mode', ['whole', 'iter'])
def test_no_body(client: httpx.Client, mode: str) -> None:
    info = client.get(f'/body-info?mode={mode}').json()
    assert info['length'] == 0
    # An empty body ends the iteration at once: no empty chunk is yielded.
    assert info['chunks'] == []


@pytest.mark.parametrize('mode', ['whole', 'iter'])
def test_large_body(client: httpx.Client, mode: str) -> None:
    payload = os.urandom(LARGE)
    info = body_info(client, mode, payload)
    assert info['length'] == LARGE
    assert info['sha256'] == hashlib.sha256(payload).hexdigest()
    if mode == 'iter':
        assert len(info['chunks']) > 1
        assert all(size > 0 for size in info['chunks'])


@pytest.mark.parametrize('mode', ['whole', 'iter'])
def test_chunked_upload(client: httpx.Client, mode: str) -> None:
    parts = [os.urandom(size) for size in (1, 100, 65536, 3, 200_000)]
    response = client.post(f'/body-info?mode={mode}', content=iter(parts))
    payload = b''.join(parts)
    assert response.json()['length'] == len(payload)
    assert response.json()['sha256'] == hashlib.sha256(payload).hexdigest()


@given(
    payload=st.binary(max_size=200_000),
    cuts=st.lists(st.integers(min_value=0, max_value=200_000), max_size=8),
    use_chunked=st.booleans(),
)
def test_echo_round_trip(server: Server, payload: bytes, cuts: list[int], use_chunked: bool) -> None:
    bounds = sorted({0, len(payload), *(cut % (len(payload) + 1) for cut in cuts)})
    parts = [payload[start:end] for start, end in itertools.pairwise(bounds)]
    if use_chunked:
        wire = request_bytes('POST', '/echo', headers=[('Transfer-Encoding', 'chunked')]) + chunked(parts)
    else:
        wire = request_bytes('POST', '/echo', body=payload)
    with RawConnection(server.port) as conn:
        conn.send(wire[: len(wire) // 2])
        conn.send(wire[len(wire) // 2 :])
        response = conn.read_response()
    assert response.status == 200
    assert response.body == payload


def test_full_duplex_echo(server: Server) -> None:
    """Each request chunk comes back before the next one is sent: both directions stream."""
    head = request_bytes('POST', '/echo-stream', headers=[('Transfer-Encoding', 'chunked'), ('Connection', 'close')])
    with RawConnection(server.port) as conn:
        conn.send(head + chunked([b'first'])[: -len(b'0\r\n\r\n')])
        response = conn.read_head()
        assert response.status == 200
        assert conn.read_chunk() == b'first'
        for word in (b'second', b'third'):
            conn.send(b'%x\r\n%s\r\n' % (len(word), word))
            assert conn.read_chunk() == word
        conn.send(b'0\r\n\r\n')
        assert conn.read_chunk() == b''


@pytest.mark.parametrize('first', ['whole', 'iter'])
def test_reading_the_body_twice_is_a_protocol_error(client: httpx.Client, first: str) -> None:
    response = client.post(f'/read-twice?first={first}', content=b'abc')
    assert response.status_code == 200
    assert response.json() == {'type': 'RSGIProtocolError', 'message': 'the request body was already read'}


@pytest.mark.parametrize('mode', ['whole', 'iter'])
@pytest.mark.parametrize('size', [10, 1_000_000])
def test_reading_after_the_response_is_closed(server: Server, client: httpx.Client, mode: str, size: int) -> None:
    record_id = f'read-after-{uuid.uuid4()}'
    response = client.post(f'/read-after-response?id={record_id}&mode={mode}', content=b'x' * size)
    assert response.status_code == 204
    record = app_record(server.port, record_id, until='done')
    assert record['error'] == {
        'type': 'RSGIProtocolClosed',
        'message': 'the response is complete: the request body can no longer be read',
    }
