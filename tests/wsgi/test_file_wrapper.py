"""wsgi.file_wrapper: a regular file is sent by the server from its descriptor, without the bytes
passing through Python; anything else is iterated with read(blksize)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests._http import H2Client, RawConnection, app_record, assert_serves, request_bytes
from tests.conftest import Server

SERVER_APP = 'tests.apps.wsgi_app:app'
SERVER_INTERFACE = 'wsgi'

SIZE = 32 * 1024 * 1024 + 123


@pytest.fixture(scope='module')
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    path = tmp_path_factory.mktemp('files') / 'big.bin'
    digest = hashlib.sha256()
    with path.open('wb') as out:
        left = SIZE
        while left:
            block = os.urandom(min(left, 1024 * 1024))
            digest.update(block)
            out.write(block)
            left -= len(block)
    yield path, digest.hexdigest()


def file_target(path: Path, record_id: str, **params: int) -> str:
    extra = ''.join(f'&{key}={value}' for key, value in params.items())
    return f'/file?path={quote(str(path))}&id={record_id}{extra}'


def test_large_file_arrives_whole(server: Server, big_file: tuple[Path, str]) -> None:
    path, digest = big_file
    record_id = f'file-{uuid.uuid4()}'
    with (
        httpx.Client(base_url=server.url, timeout=30.0) as http,
        http.stream('GET', file_target(path, record_id)) as response,
    ):
        assert response.status_code == 200
        assert response.headers['content-length'] == str(SIZE)
        assert 'transfer-encoding' not in response.headers
        received = hashlib.sha256()
        length = 0
        for chunk in response.iter_bytes():
            received.update(chunk)
            length += len(chunk)
    assert length == SIZE
    assert received.hexdigest() == digest
    # close() reaches the file once the transfer is over.
    assert app_record(server.port, record_id, until='closed')['closed'] is True


def test_file_from_its_current_position(server: Server, big_file: tuple[Path, str]) -> None:
    path, _ = big_file
    offset = SIZE - 1000
    response = httpx.get(server.url + file_target(path, f'offset-{uuid.uuid4()}', offset=offset), timeout=10.0)
    assert response.headers['content-length'] == '1000'
    assert response.content == path.read_bytes()[offset:]


def test_declared_content_length_limits_the_file(server: Server, big_file: tuple[Path, str]) -> None:
    path, _ = big_file
    response = httpx.get(server.url + file_target(path, f'limited-{uuid.uuid4()}', length=4096), timeout=10.0)
    assert response.headers['content-length'] == '4096'
    with path.open('rb') as handle:
        assert response.content == handle.read(4096)


def test_empty_file(server: Server, tmp_path: Path) -> None:
    path = tmp_path / 'empty.bin'
    path.write_bytes(b'')
    response = httpx.get(server.url + file_target(path, f'empty-{uuid.uuid4()}'), timeout=10.0)
    assert response.status_code == 200
    assert response.headers['content-length'] == '0'
    assert response.content == b''


def test_file_over_http2(server: Server, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    path = tmp_path / 'h2.bin'
    path.write_bytes(data)
    with H2Client(server.port) as h2:
        stream_id = h2.request('GET', file_target(path, f'h2-{uuid.uuid4()}'))
        response = h2.wait([stream_id], timeout=20.0)[stream_id]
    assert response.status == 200
    assert response.header(b'content-length') == str(len(data)).encode()
    assert response.body == data


def test_client_leaving_mid_file_still_closes_it(server: Server, big_file: tuple[Path, str]) -> None:
    path, _ = big_file
    record_id = f'file-left-{uuid.uuid4()}'
    with RawConnection(server.port, receive_buffer=65536) as conn:
        conn.send(request_bytes('GET', file_target(path, record_id)))
        assert conn.read_head().status == 200
        conn.read_exactly(100_000)
    assert app_record(server.port, record_id, until='closed', timeout=10.0)['closed'] is True
    assert_serves(server.port)


def test_object_without_a_descriptor_is_iterated(server: Server, client: httpx.Client) -> None:
    size = 100_000
    response = client.get(f'/filelike?size={size}')
    assert response.status_code == 200
    assert response.content == bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    # Iterated: the length was not known up front.
    assert response.headers.get('transfer-encoding') == 'chunked'
