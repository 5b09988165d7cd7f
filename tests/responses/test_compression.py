"""`--response-compression`: responses the client accepts compressed come back gzip, brotli or
zstd encoded and decode to what the application sent; small, binary, already encoded,
`no-transform`, HEAD and 304 responses go out as they are; streamed responses are compressed
chunk by chunk, each chunk arriving before the application sends the next. Off by default."""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Callable, Iterator

import brotli
import pytest
import zstandard

from tests._http import H2Client, RawConnection, get, request_bytes
from tests.conftest import Server, run_server
from tests.responses.apps import ENCODED, EVENTS, PAUSE, PNG, SMALL, TEXT

APPS = {
    'asgi': 'tests.responses.apps:asgi',
    'rsgi': 'tests.responses.apps:rsgi',
    'wsgi': 'tests.responses.apps:wsgi',
}
DECODERS: dict[str, Callable[[bytes], bytes]] = {
    'gzip': gzip.decompress,
    'br': brotli.decompress,
    'zstd': lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
}


@pytest.fixture(scope='module', params=sorted(APPS))
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with run_server('--response-compression', app=APPS[request.param], interface=request.param) as running:
        yield running


@pytest.fixture(scope='module')
def asgi_server() -> Iterator[Server]:
    with run_server('--response-compression', app=APPS['asgi'], interface='asgi') as running:
        yield running


@pytest.fixture(scope='module')
def plain() -> Iterator[Server]:
    with run_server(app=APPS['asgi'], interface='asgi') as running:
        yield running


def accepting(port: int, path: str, accept: str, method: str = 'GET'):
    return get(port, path, headers=[('Accept-Encoding', accept)]) if method == 'GET' else head(port, path, accept)


def head(port: int, path: str, accept: str):
    with RawConnection(port) as conn:
        conn.send(request_bytes('HEAD', path, headers=[('Accept-Encoding', accept), ('Connection', 'close')]))
        return conn.read_response(method='HEAD')


@pytest.mark.parametrize('encoding', sorted(DECODERS))
def test_each_encoding_decodes_to_the_original(server: Server, encoding: str) -> None:
    response = accepting(server.port, '/text', encoding)
    assert response.status == 200
    assert response.header('content-encoding') == encoding
    assert len(response.body) < len(TEXT) // 4
    assert DECODERS[encoding](response.body) == TEXT
    # Compressed in one go: the compressed length is announced.
    assert response.header('content-length') == str(len(response.body))
    assert 'accept-encoding' in response.header_values('vary')
    assert response.header('etag') == 'W/"v1"'
    assert response.header('server') == 'granian'


def test_preference_and_weights(asgi_server: Server) -> None:
    port = asgi_server.port
    assert accepting(port, '/text', 'gzip, deflate, br, zstd').header('content-encoding') == 'br'
    assert accepting(port, '/text', 'gzip, zstd').header('content-encoding') == 'zstd'
    assert accepting(port, '/text', 'br;q=0.5, gzip').header('content-encoding') == 'gzip'
    assert accepting(port, '/text', '*, br;q=0').header('content-encoding') == 'zstd'


@pytest.mark.parametrize('accept', ['identity', 'gzip;q=0', 'br;q=0, gzip;q=0, zstd;q=0', 'deflate'])
def test_refused_or_identity_only_is_not_compressed(asgi_server: Server, accept: str) -> None:
    response = accepting(asgi_server.port, '/text', accept)
    assert response.header('content-encoding') is None
    assert response.body == TEXT
    assert response.header('etag') == '"v1"'
    # The representation still varies by Accept-Encoding, for caches.
    assert 'accept-encoding' in response.header_values('vary')


def test_without_accept_encoding_nothing_changes(asgi_server: Server) -> None:
    response = get(asgi_server.port, '/text')
    assert response.header('content-encoding') is None
    assert response.body == TEXT


@pytest.mark.parametrize(
    ('path', 'body'),
    [('/small', SMALL), ('/png', PNG), ('/no-transform', TEXT), ('/encoded', ENCODED)],
)
def test_left_alone(server: Server, path: str, body: bytes) -> None:
    response = accepting(server.port, path, 'gzip, br, zstd')
    assert response.status == 200
    assert response.body == body
    assert response.header_values('content-encoding') == (['gzip'] if path == '/encoded' else [])
    assert response.header('content-length') == str(len(body))


def test_head_and_not_modified_untouched(server: Server) -> None:
    response = head(server.port, '/text', 'gzip')
    assert response.status == 200
    assert response.header('content-encoding') is None
    assert response.header('etag') == '"v1"'
    response = accepting(server.port, '/not-modified', 'gzip')
    assert response.status == 304
    assert response.header('content-encoding') is None
    assert response.header('vary') is None


@pytest.mark.parametrize('encoding', sorted(DECODERS))
def test_streamed_response_arrives_chunk_by_chunk(asgi_server: Server, encoding: str) -> None:
    decoders = {
        'gzip': zlib.decompressobj(wbits=31).decompress,
        'br': brotli.Decompressor().process,
        'zstd': zstandard.ZstdDecompressor().decompressobj().decompress,
    }
    decode = decoders[encoding]
    with RawConnection(asgi_server.port, timeout=10.0) as conn:
        started = time.monotonic()
        conn.send(request_bytes('GET', '/stream', headers=[('Accept-Encoding', encoding)]))
        head = conn.read_head()
        assert head.status == 200
        assert head.header('content-encoding') == encoding
        assert head.header('content-length') is None
        assert head.header('transfer-encoding') == 'chunked'
        received = b''
        arrivals = []
        while len(arrivals) < len(EVENTS):
            chunk = conn.read_chunk(timeout=PAUSE * 2)
            assert chunk, 'the stream ended early'
            received += decode(chunk)
            while len(arrivals) < len(EVENTS) and received.startswith(b''.join(EVENTS[: len(arrivals) + 1])):
                arrivals.append(time.monotonic() - started)
        assert received == b''.join(EVENTS)
        # Event i is sent after i pauses: each must come out before the next one is even sent.
        for index, arrival in enumerate(arrivals):
            assert arrival < (index + 1) * PAUSE, arrivals
        while chunk := conn.read_chunk(timeout=PAUSE * 2):
            received += decode(chunk)
        assert received == b''.join(EVENTS)


def test_streamed_response_over_rsgi() -> None:
    with run_server('--response-compression', app=APPS['rsgi'], interface='rsgi') as server:
        with RawConnection(server.port, timeout=10.0) as conn:
            conn.send(request_bytes('GET', '/stream', headers=[('Accept-Encoding', 'gzip'), ('Connection', 'close')]))
            response = conn.read_response(timeout=PAUSE * len(EVENTS) + 5)
    assert response.header('content-encoding') == 'gzip'
    assert gzip.decompress(response.body) == b''.join(EVENTS)


def test_http2(server: Server) -> None:
    with H2Client(server.port) as client:
        stream = client.request('GET', '/text', headers=[('accept-encoding', 'gzip, br')])
        response = client.wait([stream])[stream]
    assert response.status == 200
    assert response.header(b'content-encoding') == b'br'
    assert brotli.decompress(response.body) == TEXT
    assert response.header(b'vary') == b'accept-encoding'


def test_off_by_default(plain: Server) -> None:
    response = accepting(plain.port, '/text', 'gzip, br, zstd')
    assert response.header('content-encoding') is None
    assert response.header('vary') is None
    assert response.header('etag') == '"v1"'
    assert response.body == TEXT


def test_bad_flag_values_exit_with_usage_error() -> None:
    for args in (['--response-compression-algorithms', 'deflate'], ['--response-compression-min-size', '-1']):
        with run_server(*args, app=APPS['asgi'], ready=False) as server:
            assert server.wait_exit() == 2
            assert 'Invalid value' in server.log_text
