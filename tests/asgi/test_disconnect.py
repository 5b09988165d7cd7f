"""http.disconnect: when receive() reports it, and what send() does once the client is gone."""

from __future__ import annotations

import uuid

from tests._http import RawConnection, app_record, assert_serves, request_bytes
from tests.conftest import Server


def new_id(name: str) -> str:
    return f'{name}-{uuid.uuid4()}'


def test_client_closing_before_the_response(server: Server) -> None:
    record_id = new_id('disconnect')
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('POST', f'/disconnect?id={record_id}', body=b'12345'))
        # The app has the whole body and now waits in receive().
        record = app_record(server.port, record_id, until='waiting')
        assert record['state'] == 'waiting', record
    record = app_record(server.port, record_id, until='disconnected')
    assert record['state'] == 'disconnected', record
    assert record['body_bytes'] == 5
    assert record['messages'][-1] == 'http.disconnect'
    assert set(record['messages'][:-1]) == {'http.request'}
    assert_serves(server.port)


def test_client_closing_mid_body(server: Server) -> None:
    # Large enough to be streamed to receive() rather than read whole before the app starts.
    declared = 1_000_000
    record_id = new_id('mid-body')
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('POST', f'/disconnect?id={record_id}', headers=[('Content-Length', str(declared))]))
        conn.send(b'x' * 10)
        assert app_record(server.port, record_id, until='receiving')['state'] == 'receiving'
    record = app_record(server.port, record_id, until='disconnected')
    assert record['state'] == 'disconnected', record
    assert record['messages'][-1] == 'http.disconnect'
    assert record['body_bytes'] < declared
    assert_serves(server.port)


def test_client_closing_mid_small_body_never_starts_the_app(server: Server) -> None:
    """A small declared body is read whole first; a client leaving half-way costs the app nothing."""
    record_id = new_id('mid-small-body')
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('POST', f'/disconnect?id={record_id}', headers=[('Content-Length', '1000')]))
        conn.send(b'x' * 10)
        assert_serves(server.port)
    assert_serves(server.port)
    assert app_record(server.port, record_id)['state'] == 'new'


def test_disconnect_after_the_response_completes(server: Server) -> None:
    """receive() after a complete response yields http.disconnect even on a kept-alive connection."""
    record_id = new_id('after-response')
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', f'/after-response?id={record_id}'))
        response = conn.read_response()
        assert response.status == 200
        assert response.body == b'done'
        # The connection stays open while the app's receive() resolves.
        record = app_record(server.port, record_id, until='received')
        assert record['state'] == 'received', record
        assert record['messages'] == ['http.disconnect']
        # And the connection is still usable for the next request.
        conn.send(request_bytes('GET', '/', headers=[('Connection', 'close')]))
        assert conn.read_response().body == b'Hello, world!'


def test_send_after_disconnect_raises_oserror(server: Server) -> None:
    record_id = new_id('send-after')
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', f'/send-after-disconnect?id={record_id}'))
        app_record(server.port, record_id, until='waiting')
    record = app_record(server.port, record_id, until='done')
    assert record['state'] == 'done', record
    assert record['error'] is not None, 'send() after the client left did not raise'
    assert record['error']['is_oserror'] is True, record['error']
    assert_serves(server.port)


def test_aborted_stream_raises_oserror_in_send(server: Server) -> None:
    record_id = new_id('aborted-stream')
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', f'/stream?n=100000&size=65536&id={record_id}'))
        assert conn.read_head().status == 200
        conn.read_exactly(65536)
    record = app_record(server.port, record_id, until='aborted', timeout=10.0)
    assert record['state'] == 'aborted', record
    assert record['error']['is_oserror'] is True, record['error']
    assert record['sent'] < 100000
    assert_serves(server.port)
