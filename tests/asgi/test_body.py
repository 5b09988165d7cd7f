"""Request and response bodies through ASGI: streaming both ways, chunked, large, 100-continue."""

from __future__ import annotations

import hashlib
import itertools
import os
import time
import uuid
from collections.abc import Iterator

import httpx
from hypothesis import given
from hypothesis import strategies as st

from tests._http import RawConnection, app_record, chunked, request_bytes
from tests.conftest import Server

LARGE = 8 * 1024 * 1024


def body_info(client: httpx.Client, content: bytes | Iterator[bytes], **kwargs: object) -> dict:
    response = client.post('/body-info', content=content, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return response.json()


def test_echo(server: Server, client: httpx.Client) -> None:
    response = client.post('/echo', content=b'hello body')
    assert response.status_code == 200
    assert response.content == b'hello body'
    assert response.headers['content-length'] == '10'


def test_request_without_body_yields_one_empty_message(server: Server, client: httpx.Client) -> None:
    info = client.get('/body-info').json()
    assert info['length'] == 0
    assert info['types'] == ['http.request']
    assert info['more_body'] == [False]


def test_empty_post_body(server: Server, client: httpx.Client) -> None:
    response = client.post('/echo', content=b'')
    assert response.status_code == 200
    assert response.content == b''


def test_large_body_is_streamed_in_several_messages(server: Server, client: httpx.Client) -> None:
    payload = os.urandom(LARGE)
    info = body_info(client, payload)
    assert info['length'] == LARGE
    assert info['sha256'] == hashlib.sha256(payload).hexdigest()
    assert info['chunks'] > 1
    assert set(info['types']) == {'http.request'}
    # more_body is True on every message but the last.
    assert info['more_body'] == [True] * (info['chunks'] - 1) + [False]


def test_chunked_upload(server: Server, client: httpx.Client) -> None:
    parts = [os.urandom(size) for size in (1, 100, 65536, 3, 200_000)]
    info = body_info(client, iter(parts))
    payload = b''.join(parts)
    assert info['length'] == len(payload)
    assert info['sha256'] == hashlib.sha256(payload).hexdigest()
    assert info['more_body'][-1] is False


def test_chunked_with_extensions_and_trailers(server: Server) -> None:
    body = b'5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n'
    head = request_bytes('POST', '/echo', headers=[('Transfer-Encoding', 'chunked'), ('Connection', 'close')])
    with RawConnection(server.port) as conn:
        conn.send(head + body)
        response = conn.read_response()
    assert response.status == 200
    assert response.body == b'hello world'


@given(
    payload=st.binary(max_size=200_000),
    cuts=st.lists(st.integers(min_value=0, max_value=200_000), max_size=8),
    use_chunked=st.booleans(),
)
def test_echo_round_trip(server: Server, payload: bytes, cuts: list[int], use_chunked: bool) -> None:
    bounds = sorted({0, len(payload), *(cut % (len(payload) + 1) for cut in cuts)})
    parts = [payload[start:end] for start, end in itertools.pairwise(bounds)]
    if use_chunked:
        head = request_bytes('POST', '/echo', headers=[('Transfer-Encoding', 'chunked')])
        wire = head + chunked(parts)
    else:
        wire = request_bytes('POST', '/echo', body=payload)
    with RawConnection(server.port) as conn:
        # Write the pieces separately so the server sees the body arrive in parts.
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
        assert response.header('transfer-encoding') == 'chunked'
        assert conn.read_chunk() == b'first'
        for word in (b'second', b'third'):
            conn.send(b'%x\r\n%s\r\n' % (len(word), word))
            assert conn.read_chunk() == word
        conn.send(b'0\r\n\r\n')
        assert conn.read_chunk() == b''


def test_streamed_response(server: Server, client: httpx.Client) -> None:
    count, size = 50, 1000
    with client.stream('GET', f'/stream?n={count}&size={size}') as response:
        assert response.status_code == 200
        assert 'content-length' not in response.headers
        body = b''.join(response.iter_bytes())
    assert body == b''.join(bytes([97 + index % 26]) * size for index in range(count))


def test_response_chunks_are_sent_as_the_app_sends_them(server: Server) -> None:
    """The first chunk reaches the client while the app is still blocked before the second."""
    gate, stream = f'gate-{uuid.uuid4()}', f'stream-{uuid.uuid4()}'
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', f'/stream?n=3&size=100&gate={gate}&id={stream}'))
        response = conn.read_head()
        assert response.status == 200
        assert conn.read_chunk() == b'a' * 100
        assert app_record(server.port, stream)['sent'] == 1
        app_record(server.port, gate, set='open')
        assert conn.read_chunk() == b'b' * 100
        assert conn.read_chunk() == b'c' * 100
        assert conn.read_chunk() == b''
    assert app_record(server.port, stream, until='done')['state'] == 'done'


def test_streaming_response_applies_backpressure(server: Server) -> None:
    """A client that stops reading stops the app: sends block instead of buffering everything."""
    record_id = f'backpressure-{uuid.uuid4()}'
    count, size = 2048, 65536  # 128 MiB, far beyond the client's fixed receive buffer
    with RawConnection(server.port, receive_buffer=65536) as conn:
        conn.send(request_bytes('GET', f'/stream?n={count}&size={size}&id={record_id}'))
        assert conn.read_head().status == 200
        # Wait (bounded) until the app's progress stops changing: it is blocked in send().
        previous, steady = -1, 0
        for _ in range(100):
            sent = app_record(server.port, record_id)['sent']
            steady = steady + 1 if sent == previous else 0
            if steady >= 3:
                break
            previous = sent
            time.sleep(0.1)
        assert steady >= 3, f'app kept sending without a reader: {sent} chunks'
        assert 0 < sent * size < 32 * 1024 * 1024
        # Reading again resumes the stream.
        conn.read_exactly(4 * size)
        for _ in range(50):
            if app_record(server.port, record_id)['sent'] > sent:
                break
            conn.read_exactly(size)
        assert app_record(server.port, record_id)['sent'] > sent


def test_large_response(server: Server, client: httpx.Client) -> None:
    size = 5 * 1024 * 1024 + 17
    response = client.get(f'/big?size={size}')
    assert response.status_code == 200
    assert response.headers['content-length'] == str(size)
    assert response.content == bytes(range(256)) * (size // 256) + bytes(range(size % 256))


def test_expect_100_continue(server: Server) -> None:
    body = b'x' * 1000
    head = request_bytes(
        'POST',
        '/echo',
        headers=[('Expect', '100-continue'), ('Content-Length', str(len(body))), ('Connection', 'close')],
    )
    with RawConnection(server.port) as conn:
        conn.send(head)
        # The client holds the body back until the interim response arrives.
        interim = conn.read_response()
        assert interim.status == 100
        conn.send(body)
        final = conn.read_response()
    assert final.status == 200
    assert final.body == body
