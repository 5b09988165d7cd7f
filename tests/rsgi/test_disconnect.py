"""`client_disconnect()` and body reads when the client goes away, under RSGI."""

from __future__ import annotations

import uuid

from tests._http import RawConnection, app_record, assert_serves, request_bytes
from tests.conftest import Server

SERVER_APP = 'tests.apps.rsgi_app:app'
SERVER_INTERFACE = 'rsgi'


def new_id(name: str) -> str:
    return f'{name}-{uuid.uuid4()}'


def test_client_closing_before_the_response(server: Server) -> None:
    record_id = new_id('disconnect')
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('POST', f'/disconnect?id={record_id}', body=b'12345'))
        # The app read the whole body and now waits on client_disconnect().
        assert app_record(server.port, record_id, until='waiting')['state'] == 'waiting'
    record = app_record(server.port, record_id, until='disconnected')
    assert record['state'] == 'disconnected', record
    assert record['body_bytes'] == 5
    assert record['messages'] == ['body end']
    assert_serves(server.port)


def test_disconnect_without_reading_the_body(server: Server) -> None:
    record_id = new_id('watch')
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', f'/watch-disconnect?id={record_id}'))
        assert app_record(server.port, record_id, until='watching')['state'] == 'watching'
    assert app_record(server.port, record_id, until='disconnected')['state'] == 'disconnected'
    assert_serves(server.port)


def test_client_closing_mid_body_closes_the_iteration(server: Server) -> None:
    # Large enough to be streamed to the app rather than read whole before it starts.
    declared = 1_000_000
    record_id = new_id('mid-body')
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('POST', f'/disconnect?id={record_id}', headers=[('Content-Length', str(declared))]))
        conn.send(b'x' * 10)
        assert app_record(server.port, record_id, until='receiving')['state'] == 'receiving'
    record = app_record(server.port, record_id, until='disconnected')
    assert record['messages'] == ['closed']
    assert record['error'] == {'type': 'RSGIProtocolClosed', 'message': 'client disconnected'}
    assert record['body_bytes'] < declared
    assert_serves(server.port)


def test_client_closing_mid_whole_body_read(server: Server) -> None:
    """`await protocol()` raises RSGIProtocolClosed; the app's echo gives up and the server survives."""
    record_id = new_id('whole-body')
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('POST', f'/echo?id={record_id}', headers=[('Content-Length', '1000000')]))
        conn.send(b'x' * 100_000)
        assert app_record(server.port, record_id, until='reading')['state'] == 'reading'
    record = app_record(server.port, record_id, until='closed')
    assert record['state'] == 'closed', record
    assert record['error'] == {'type': 'RSGIProtocolClosed', 'message': 'client disconnected'}
    assert_serves(server.port)
