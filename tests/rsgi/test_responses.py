"""RSGI responses: empty, str, bytes, file, file range and stream, their headers, and the
errors for bad arguments or a second response."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._http import RawConnection, app_record, assert_serves, request_bytes
from tests.conftest import Server

SERVER_APP = 'tests.apps.rsgi_app:app'
SERVER_INTERFACE = 'rsgi'


@pytest.fixture(scope='module')
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, bytes]]:
    contents = os.urandom(3 * 1024 * 1024 + 123)
    path = tmp_path_factory.mktemp('files') / 'data.bin'
    path.write_bytes(contents)
    yield path, contents


def test_response_str(client: httpx.Client) -> None:
    response = client.get('/text')
    assert response.status_code == 200
    assert response.content == 'héllo wörld ✓'.encode()
    assert response.headers['content-length'] == str(len(response.content))
    assert response.headers['server'] == 'granian'


@pytest.mark.parametrize('code', [200, 204, 304, 404, 503])
def test_response_empty(server: Server, code: int) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', f'/empty?code={code}', headers=[('Connection', 'close')]))
        response = conn.read_response()
    assert response.status == code
    assert response.body == b''
    assert response.header('x-empty') == 'yes'
    if code not in (204, 304):
        assert response.header('content-length') == '0'


def test_response_bytes_with_repeated_headers(client: httpx.Client) -> None:
    response = client.get('/set-headers')
    assert response.status_code == 201
    assert response.content == b'headers'
    assert response.headers.get_list('x-multi') == ['a', 'b']
    assert response.headers.get_list('set-cookie') == ['a=1', 'b=2']
    # An application's own server header wins.
    assert response.headers.get_list('server') == ['custom']


def test_large_response_bytes(client: httpx.Client) -> None:
    size = 5 * 1024 * 1024 + 17
    response = client.get(f'/big?size={size}')
    assert response.headers['content-length'] == str(size)
    assert response.content == bytes(range(256)) * (size // 256) + bytes(range(size % 256))


def test_response_file(client: httpx.Client, data_file: tuple[Path, bytes]) -> None:
    path, contents = data_file
    response = client.get('/file', params={'path': str(path)})
    assert response.status_code == 200
    assert response.headers['content-length'] == str(len(contents))
    assert response.headers['content-type'] == 'application/octet-stream'
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(contents).digest()


@pytest.mark.parametrize(
    ('start', 'end'), [(0, 1), (5, 100), (1024 * 1024, 2 * 1024 * 1024 + 7), (3 * 1024 * 1024, 10**12)]
)
def test_response_file_range(client: httpx.Client, data_file: tuple[Path, bytes], start: int, end: int) -> None:
    path, contents = data_file
    response = client.get('/file', params={'path': str(path), 'start': start, 'end': end})
    assert response.status_code == 206
    # Start inclusive, end exclusive; a range past the end of the file stops there.
    expected = contents[start:end]
    assert response.headers['content-length'] == str(len(expected))
    assert response.content == expected


@pytest.mark.parametrize('http2', [False, True])
def test_response_file_to_head_sends_the_length_only(
    server: Server, data_file: tuple[Path, bytes], http2: bool
) -> None:
    path, contents = data_file
    with httpx.Client(base_url=server.url, http1=not http2, http2=http2, timeout=10.0) as client:
        whole = client.head('/file', params={'path': str(path)})
        ranged = client.head('/file', params={'path': str(path), 'start': 10, 'end': 110})
    assert whole.status_code == 200
    assert whole.headers['content-length'] == str(len(contents))
    assert whole.content == b''
    assert ranged.status_code == 206
    assert ranged.headers['content-length'] == '100'


def test_empty_file(client: httpx.Client, tmp_path: Path) -> None:
    path = tmp_path / 'empty'
    path.write_bytes(b'')
    response = client.get('/file', params={'path': str(path)})
    assert response.status_code == 200
    assert response.headers['content-length'] == '0'
    assert response.content == b''


def test_missing_file_is_404(server: Server, client: httpx.Client, tmp_path: Path) -> None:
    for missing in (tmp_path / 'nope', tmp_path):
        response = client.get('/file', params={'path': str(missing)})
        assert response.status_code == 404, missing
    assert_serves(server.port)


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads any file')
def test_unreadable_file_is_500_and_logged(server: Server, client: httpx.Client, tmp_path: Path) -> None:
    path = tmp_path / 'secret'
    path.write_bytes(b'secret')
    path.chmod(0)
    mark = server.mark()
    response = client.get('/file', params={'path': str(path)})
    assert response.status_code == 500
    server.wait_for(rf'^\[ERROR\] Cannot read file {re.escape(str(path))}: .*Permission denied', start=mark)


@pytest.mark.parametrize(
    ('path', 'reason'),
    [
        # Opens, but is no file to send (endless, for that matter).
        pytest.param('/dev/zero', 'not a regular file', id='character-device'),
        # A file used as a directory: ENOTDIR, which even root gets.
        pytest.param(__file__ + '/child', 'Not a directory', id='not-a-directory'),
    ],
)
def test_file_the_server_cannot_send_is_500_and_logged(
    server: Server, client: httpx.Client, path: str, reason: str
) -> None:
    mark = server.mark()
    response = client.get('/file', params={'path': path})
    assert response.status_code == 500
    server.wait_for(rf'^\[ERROR\] Cannot read file {re.escape(path)}: .*{reason}', start=mark)
    assert_serves(server.port)


@pytest.mark.parametrize('as_str', ['0', '1'])
def test_response_stream(client: httpx.Client, as_str: str) -> None:
    count, size = 50, 1000
    with client.stream('GET', f'/stream?n={count}&size={size}&str={as_str}') as response:
        assert response.status_code == 200
        assert 'content-length' not in response.headers
        body = b''.join(response.iter_bytes())
    assert body == b''.join(bytes([97 + index % 26]) * size for index in range(count))


def test_stream_is_chunked_and_ends_when_the_app_returns(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/stream?n=2&size=3'))
        head = conn.read_head()
        assert head.header('transfer-encoding') == 'chunked'
        assert conn.read_chunk() == b'aaa'
        assert conn.read_chunk() == b'bbb'
        assert conn.read_chunk() == b''
        # The connection stays usable after a streamed response.
        conn.send(request_bytes('GET', '/', headers=[('Connection', 'close')]))
        assert conn.read_response().body == b'Hello, world!'


def test_sending_after_the_app_returned_is_closed(server: Server) -> None:
    record_id = f'after-return-{uuid.uuid4()}'
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', f'/send-after-return?id={record_id}', headers=[('Connection', 'close')]))
        response = conn.read_response()
    assert response.body == b'first'
    record = app_record(server.port, record_id, until='done')
    assert record['error'] == {'type': 'RSGIProtocolClosed', 'message': 'the response stream is closed'}


@pytest.mark.parametrize('kind', ['str', 'bytes', 'empty', 'file', 'stream'])
def test_a_second_response_is_a_protocol_error(server: Server, client: httpx.Client, kind: str) -> None:
    record_id = f'twice-{kind}-{uuid.uuid4()}'
    response = client.get(f'/twice?id={record_id}&kind={kind}')
    assert response.status_code == 200
    assert response.text == 'first'
    record = app_record(server.port, record_id, until='done')
    assert record['error'] == {'type': 'RSGIProtocolError', 'message': 'a response was already sent for this request'}


@pytest.mark.parametrize(
    ('kind', 'error'),
    [
        ('status', {'type': 'ValueError', 'message': 'invalid HTTP status 42'}),
        ('header', {'type': 'ValueError', 'message': 'invalid response header "bad name"'}),
        ('headers', {'type': 'TypeError', 'message': 'response headers must be a list of (str, str) tuples'}),
        ('range', {'type': 'ValueError', 'message': 'invalid file range: start (10) must be below end (10)'}),
    ],
)
def test_bad_response_arguments_leave_the_response_unsent(client: httpx.Client, kind: str, error: dict) -> None:
    response = client.get(f'/bad-response?kind={kind}')
    assert response.status_code == 200
    assert response.json() == error
