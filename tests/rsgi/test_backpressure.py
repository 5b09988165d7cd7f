"""Large RSGI responses: a 100 MiB file arrives whole, and a client that stops reading costs the
worker a bounded amount of memory, whether the body is a stream or a file."""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._http import RawConnection, app_record, assert_serves, request_bytes
from tests.conftest import Server

SERVER_APP = 'tests.apps.rsgi_app:app'
SERVER_INTERFACE = 'rsgi'

MIB = 1024 * 1024
BIG = 100 * MIB
# What the worker may grow by while a client that stopped reading holds up a 100 MiB body:
# a few bounded chunks plus allocator noise, nowhere near the body itself.
GROWTH_LIMIT = 32 * MIB


@pytest.fixture(scope='module')
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    path = tmp_path_factory.mktemp('big') / 'big.bin'
    digest = hashlib.sha256()
    with path.open('wb') as out:
        for _ in range(BIG // MIB):
            block = os.urandom(MIB)
            digest.update(block)
            out.write(block)
    yield path, digest.hexdigest()
    path.unlink()


def worker_rss(server: Server) -> int:
    """Resident memory of the (single) worker, in bytes."""
    [pid] = server.worker_pids()
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) * 1024
    raise AssertionError(f'no VmRSS for worker {pid}')


def peak_rss_while(server: Server, seconds: float) -> int:
    """The highest worker RSS seen over `seconds` (sampled every 50 ms)."""
    peak = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peak = max(peak, worker_rss(server))
        time.sleep(0.05)
    return peak


def drain(sock: socket.socket, size: int, digest: hashlib._Hash, timeout: float = 60.0) -> None:
    """Read exactly `size` bytes from `sock` into `digest`."""
    deadline = time.monotonic() + timeout
    while size > 0:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        data = sock.recv(min(size, 1024 * 1024))
        assert data, f'connection closed with {size} bytes to go'
        digest.update(data)
        size -= len(data)


def test_100_mib_file_arrives_whole(server: Server, client: httpx.Client, big_file: tuple[Path, str]) -> None:
    path, expected = big_file
    digest = hashlib.sha256()
    length = 0
    with client.stream('GET', '/file', params={'path': str(path)}, timeout=60.0) as response:
        assert response.status_code == 200
        assert response.headers['content-length'] == str(BIG)
        for block in response.iter_bytes(MIB):
            digest.update(block)
            length += len(block)
    assert length == BIG
    assert digest.hexdigest() == expected


def test_slow_reader_of_a_file_keeps_memory_bounded(server: Server, big_file: tuple[Path, str]) -> None:
    path, expected = big_file
    baseline = worker_rss(server)
    with RawConnection(server.port, timeout=60.0, receive_buffer=65536) as conn:
        conn.send(request_bytes('GET', f'/file?path={path}', headers=[('Connection', 'close')]))
        head = conn.read_head()
        assert head.status == 200
        assert head.header('content-length') == str(BIG)
        # The client reads nothing for a while: the server must wait, not read the file ahead.
        growth = peak_rss_while(server, 1.5) - baseline
        assert growth < GROWTH_LIMIT, f'worker grew by {growth / MIB:.1f} MiB for a stalled reader'
        # Reading again resumes the body, intact.
        digest = hashlib.sha256(conn.buffer)
        drain(conn.sock, BIG - len(conn.buffer), digest)
    assert digest.hexdigest() == expected
    assert_serves(server.port)


def test_slow_reader_of_a_stream_blocks_the_app_with_bounded_memory(server: Server) -> None:
    record_id = f'slow-stream-{uuid.uuid4()}'
    count, size = BIG // 65536, 65536
    baseline = worker_rss(server)
    with RawConnection(server.port, receive_buffer=65536) as conn:
        conn.send(request_bytes('GET', f'/stream?n={count}&size={size}&id={record_id}'))
        assert conn.read_head().status == 200
        # Wait (bounded) until the app's progress stops changing: it is blocked in send_bytes().
        previous, steady, sent = -1, 0, 0
        for _ in range(100):
            sent = app_record(server.port, record_id)['sent']
            steady = steady + 1 if sent == previous else 0
            if steady >= 3:
                break
            previous = sent
            time.sleep(0.1)
        assert steady >= 3, f'app kept sending without a reader: {sent} chunks'
        assert 0 < sent * size < GROWTH_LIMIT
        growth = worker_rss(server) - baseline
        assert growth < GROWTH_LIMIT, f'worker grew by {growth / MIB:.1f} MiB for a stalled reader'
        # Reading again resumes the stream.
        conn.read_exactly(8 * size)
        for _ in range(50):
            if app_record(server.port, record_id)['sent'] > sent:
                break
            conn.read_exactly(size)
        assert app_record(server.port, record_id)['sent'] > sent
    # The client left mid-body: the app's pending send fails instead of waiting forever.
    record = app_record(server.port, record_id, until='aborted', timeout=10.0)
    assert record['error'] == {'type': 'RSGIProtocolClosed', 'message': 'client disconnected'}
    assert record['sent'] < count
    assert_serves(server.port)
