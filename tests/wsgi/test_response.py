"""Responses through start_response, write() and the body iterable (PEP 3333): when the head goes
out, how the body is framed, exc_info, and close() on the iterable however the response ends."""

from __future__ import annotations

import time
import uuid

import httpx

from tests._http import (
    H2Client,
    RawConnection,
    Response,
    app_record,
    assert_serves,
    request_bytes,
)
from tests.conftest import Server
from tests.wsgi.test_errors import assert_cut_off

SERVER_APP = 'tests.apps.wsgi_app:app'
SERVER_INTERFACE = 'wsgi'
SERVER_ARGS = ('--blocking-threads', '8')


def new_id(name: str) -> str:
    return f'{name}-{uuid.uuid4()}'


def raw_get(server: Server, target: str, *, method: str = 'GET') -> Response:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes(method, target, headers=[('Connection', 'close')]))
        return conn.read_response(method=method)


def test_list_body_gets_a_content_length(server: Server) -> None:
    response = raw_get(server, '/list?n=3&size=5')
    assert response.status == 200
    assert response.header('content-length') == '15'
    assert response.header('transfer-encoding') is None
    assert response.body == b'aaaaabbbbbccccc'


def test_tuple_body_gets_a_content_length(server: Server) -> None:
    response = raw_get(server, '/list?n=2&size=4&type=tuple')
    assert response.header('content-length') == '8'
    assert response.body == b'aaaabbbb'


def test_large_list_body_is_sent_whole_with_its_length(server: Server) -> None:
    count, size = 40, 100_000
    response = raw_get(server, f'/list?n={count}&size={size}')
    assert response.header('content-length') == str(count * size)
    assert response.body == b''.join(bytes([97 + i % 26]) * size for i in range(count))


def test_empty_list_body(server: Server) -> None:
    response = raw_get(server, '/list?n=0')
    assert response.status == 200
    assert response.header('content-length') == '0'
    assert response.body == b''


def test_generator_body_streams_chunked(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/stream?n=3&size=4'))
        head = conn.read_head()
        assert head.status == 200
        assert head.header('transfer-encoding') == 'chunked'
        assert head.header('content-length') is None
        chunks = []
        while chunk := conn.read_chunk():
            chunks.append(chunk)
    assert b''.join(chunks) == b'aaaabbbbcccc'


def test_chunks_arrive_as_the_app_yields_them(server: Server) -> None:
    """With a pause between chunks, the first is on the wire long before the body ends."""
    record_id = new_id('paced')
    with RawConnection(server.port) as conn:
        started = time.monotonic()
        conn.send(request_bytes('GET', f'/stream?n=3&size=10&delay=0.8&id={record_id}'))
        conn.read_head()
        assert conn.read_chunk() == b'a' * 10
        first = time.monotonic() - started
        assert conn.read_chunk() == b'b' * 10
        assert conn.read_chunk() == b'c' * 10
        assert conn.read_chunk() == b''
        total = time.monotonic() - started
    assert first < 0.8 < 1.6 <= total


def test_streaming_response_applies_backpressure(server: Server) -> None:
    """A client that stops reading stops the generator: chunks go one at a time through a bounded
    channel instead of piling up in the server."""
    record_id = new_id('backpressure')
    count, size = 2048, 65536  # 128 MiB, far beyond what the socket buffers hold
    with RawConnection(server.port, receive_buffer=65536) as conn:
        conn.send(request_bytes('GET', f'/stream?n={count}&size={size}&id={record_id}'))
        assert conn.read_head().status == 200
        previous, steady = -1, 0
        for _ in range(100):
            sent = app_record(server.port, record_id)['sent']
            steady = steady + 1 if sent == previous else 0
            if steady >= 3:
                break
            previous = sent
            time.sleep(0.1)
        assert steady >= 3, f'the app kept producing without a reader: {sent} chunks'
        assert 0 < sent * size < 32 * 1024 * 1024
        # Reading again resumes the generator.
        for _ in range(50):
            conn.read_exactly(size)
            if app_record(server.port, record_id)['sent'] > sent:
                break
        assert app_record(server.port, record_id)['sent'] > sent
    # The client left mid-body: the iterable is closed all the same.
    record = app_record(server.port, record_id, until='closed')
    assert record['closed'] is True
    assert record['closed_after'] < count


def test_close_is_called_after_a_complete_response(server: Server) -> None:
    record_id = new_id('close-normal')
    response = raw_get(server, f'/stream?n=3&size=2&id={record_id}')
    assert response.body == b'aabbcc'
    record = app_record(server.port, record_id, until='closed')
    assert record['closed'] is True
    assert record['sent'] == 3
    assert record['closed_after'] == 3


def test_close_is_called_when_the_client_leaves_mid_body(server: Server) -> None:
    record_id = new_id('close-early')
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', f'/stream?n=1000&size=100&delay=0.05&id={record_id}'))
        conn.read_head()
        conn.read_chunk()
    record = app_record(server.port, record_id, until='closed', timeout=10.0)
    assert record['closed'] is True, record
    assert record['closed_after'] < 1000
    assert_serves(server.port)


def test_write_then_returned_iterable(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/write', headers=[('Connection', 'close')]))
        response = conn.read_response()
    assert response.status == 200
    assert response.body == b'written then returned list'
    assert response.header('content-type') == 'text/plain'


def test_write_alone(server: Server, client: httpx.Client) -> None:
    response = client.get('/write?mode=only')
    assert response.status_code == 200
    assert response.content == b'written then '


def test_start_response_during_the_first_iteration(server: Server, client: httpx.Client) -> None:
    response = client.get('/late-start')
    assert response.status_code == 200
    assert response.headers['x-late'] == 'yes'
    assert response.content == b'started late'


def test_exc_info_before_the_body_replaces_the_head(server: Server, client: httpx.Client) -> None:
    response = client.get('/exc-info?when=before')
    assert response.status_code == 503
    assert response.content == b'replaced by exc_info'
    # Nothing of the first head survives.
    assert 'x-first' not in response.headers


def test_exc_info_after_the_head_went_out_reraises(server: Server) -> None:
    record_id = new_id('exc-info-after')
    mark = server.mark()
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', f'/exc-info?when=after&id={record_id}'))
        data = conn.read_until_close(timeout=10.0)
    # The re-raised error ends the response: cut off, never completed (nor turned into a 500).
    assert_cut_off(data, [b'first chunk'])
    record = app_record(server.port, record_id, until='reraised')
    assert record['state'] == 'reraised'
    assert record['error'] == 'boom after the headers went out'
    server.wait_for(r'ValueError: boom after the headers went out', start=mark)
    assert_serves(server.port)


def test_second_start_response_without_exc_info_is_an_error(server: Server, client: httpx.Client) -> None:
    response = client.get('/second-start')
    assert response.status_code == 200
    assert response.content == b'RuntimeError: start_response called a second time without exc_info'


def test_custom_reason_phrase(server: Server) -> None:
    response = raw_get(server, '/status?status=299%20Fine%20Enough')
    assert response.status == 299
    assert response.reason == 'Fine Enough'
    response = raw_get(server, '/status?status=404%20Not%20Found')
    assert (response.status, response.reason) == (404, 'Not Found')


def test_bare_status_code(server: Server) -> None:
    response = raw_get(server, '/status?status=201')
    assert (response.status, response.reason) == (201, 'Created')


def test_no_content_has_no_length_or_body(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/status?status=204%20No%20Content'))
        response = conn.read_response()
        assert response.status == 204
        assert response.header('content-length') is None
        # The connection stays in sync for the next request.
        conn.send(request_bytes('GET', '/', headers=[('Connection', 'close')]))
        assert conn.read_response().body == b'Hello, world!'


def test_repeated_response_headers(server: Server) -> None:
    response = raw_get(server, '/set-headers')
    assert response.header_values('x-multi') == ['a', 'b']
    assert response.header_values('set-cookie') == ['a=1', 'b=2']
    assert response.header('server') == 'granian'


def test_head_request_has_no_body(server: Server) -> None:
    response = raw_get(server, '/list?n=2&size=3', method='HEAD')
    assert response.status == 200
    assert response.header('content-length') == '6'
    assert response.body == b''


def test_keep_alive_across_response_kinds(server: Server) -> None:
    with RawConnection(server.port) as conn:
        for target, body in [
            ('/list?n=2&size=2', b'aabb'),
            ('/stream?n=2&size=2', b'aabb'),
            ('/write?mode=only', b'written then '),
            ('/', b'Hello, world!'),
        ]:
            conn.send(request_bytes('GET', target))
            assert conn.read_response().body == body


def test_http2_responses(server: Server) -> None:
    with H2Client(server.port) as h2:
        ids = {
            h2.request('GET', '/list?n=3&size=5'): b'aaaaabbbbbccccc',
            h2.request('GET', '/stream?n=3&size=4'): b'aaaabbbbcccc',
            h2.request('GET', '/write'): b'written then returned list',
        }
        responses = h2.wait(ids)
    for stream_id, body in ids.items():
        assert responses[stream_id].status == 200
        assert responses[stream_id].body == body


def test_many_http2_streams_share_the_threads(server: Server) -> None:
    """More concurrent streams than blocking threads: they queue for a thread and all complete."""
    with H2Client(server.port) as h2:
        ids = [h2.request('GET', f'/list?n=2&size={index + 1}') for index in range(40)]
        responses = h2.wait(ids, timeout=20.0)
    for index, stream_id in enumerate(ids):
        assert responses[stream_id].status == 200
        assert responses[stream_id].body == b'a' * (index + 1) + b'b' * (index + 1)
