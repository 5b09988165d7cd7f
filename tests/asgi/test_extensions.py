"""ASGI extensions: `scope['extensions']` on every http scope, `http.response.pathsend` (a file
sent by the server, as Starlette's `FileResponse` uses it), `http.response.trailers` and
`http.response.early_hint` (103 Early Hints), over HTTP/1.1 and HTTP/2."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests._http import H2Client, RawConnection, request_bytes
from tests.conftest import REPO_ROOT, Server, run_server
from tests.ops._tls import Certs, make_certs

APP = 'tests.asgi._extensions_app:app'
STARLETTE = 'tests.asgi._extensions_app:starlette'
ALWAYS = ['http.response.pathsend', 'http.response.trailers']
HINTS = [b'</style.css>; rel=preload; as=style', b'</app.js>; rel=preload; as=script']


@pytest.fixture(scope='module')
def server() -> Iterator[Server]:
    with run_server(app=APP) as running:
        yield running


@pytest.fixture(scope='module')
def starlette() -> Iterator[Server]:
    with run_server(app=STARLETTE) as running:
        yield running


@pytest.fixture(scope='module')
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp('pathsend')
    small = root / 'small.txt'
    small.write_bytes(b'hello from a file\n')
    large = root / 'large.bin'
    # Several times the 128 KiB read chunk and the socket buffers, not a multiple of either.
    large.write_bytes(os.urandom(5 * 1024 * 1024 + 12345))
    empty = root / 'empty.txt'
    empty.write_bytes(b'')
    return {'small': small, 'large': large, 'empty': empty, 'dir': root, 'missing': root / 'missing.txt'}


def h1(server: Server, target: str, *, method: str = 'GET', headers=()) -> RawConnection:
    conn = RawConnection(server.port)
    conn.send(request_bytes(method, target, headers=[*headers, ('Connection', 'close')]))
    return conn


def h1_get(server: Server, target: str, **options: object):
    with h1(server, target, **options) as conn:  # type: ignore[arg-type]
        return conn.read_response(method=str(options.get('method', 'GET')))


def h2_get(server: Server, target: str, *, headers=(), method: str = 'GET'):
    with H2Client(server.port) as client:
        stream = client.request(method, target, headers=headers)
        return client.wait([stream])[stream]


# -- scope['extensions'] ---------------------------------------------------------------------------


def test_every_http1_scope_has_extensions(server: Server) -> None:
    response = h1_get(server, '/extensions')
    assert response.status == 200, response
    # Early hints need an informational response, which HTTP/1.1 carries.
    assert json.loads(response.body)['keys'] == sorted([*ALWAYS, 'http.response.early_hint'])


def test_http10_scopes_have_no_early_hints(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/extensions', version='HTTP/1.0'))
        response = conn.read_response()
    # RFC 9110 §15.2: no 1xx response to an HTTP/1.0 client.
    assert json.loads(response.body)['keys'] == ALWAYS


def test_http2_scopes_have_extensions_without_early_hints(server: Server) -> None:
    response = h2_get(server, '/extensions')
    assert response.status == 200
    # hyper's HTTP/2 server cannot send an informational response: not offered.
    assert json.loads(response.body)['keys'] == ALWAYS


@pytest.fixture(scope='module')
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp('certs'))


@pytest.mark.parametrize('http2', [False, True])
def test_tls_scopes_add_the_tls_extension(certs: Certs, http2: bool) -> None:
    args = ['--ssl-certificate', str(certs.cert), '--ssl-keyfile', str(certs.key)]
    with run_server(*args, app=APP) as server, certs.client(server.port, http2=http2) as client:
        response = client.get('/extensions')
    assert response.http_version == ('HTTP/2' if http2 else 'HTTP/1.1')
    keys = response.json()['keys']
    expected = [*ALWAYS, 'tls'] if http2 else [*ALWAYS, 'http.response.early_hint', 'tls']
    assert keys == sorted(expected)
    assert 'client_cert_chain' in response.json()['values']['tls']


# -- http.response.pathsend ------------------------------------------------------------------------


def pathsend_target(path: Path | str, content_type: str = 'text/plain') -> str:
    return f'/pathsend?file={quote(str(path))}&type={quote(content_type)}'


def test_pathsend_sends_the_file_with_its_length(server: Server, files: dict[str, Path]) -> None:
    response = h1_get(server, pathsend_target(files['small']))
    assert response.status == 200, response
    assert response.body == b'hello from a file\n'
    assert response.header('content-length') == '18'
    assert response.header('content-type') == 'text/plain'
    assert not response.chunked


@pytest.mark.parametrize('protocol', ['h1', 'h2'])
def test_pathsend_streams_a_large_file(server: Server, files: dict[str, Path], protocol: str) -> None:
    data = files['large'].read_bytes()
    if protocol == 'h1':
        with httpx.Client(base_url=server.url, timeout=30) as client:
            response = client.get(pathsend_target(files['large'], 'application/octet-stream'))
        assert response.status_code == 200
        assert response.headers['content-length'] == str(len(data))
        body = response.content
    else:
        with httpx.Client(base_url=server.url, timeout=30, http1=False, http2=True) as client:
            response = client.get(pathsend_target(files['large'], 'application/octet-stream'))
        assert response.http_version == 'HTTP/2'
        body = response.content
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize('protocol', ['h1', 'h2'])
def test_pathsend_answers_head_with_the_length_only(server: Server, files: dict[str, Path], protocol: str) -> None:
    size = str(files['large'].stat().st_size)
    if protocol == 'h1':
        with h1(server, pathsend_target(files['large']), method='HEAD') as conn:
            response = conn.read_response(method='HEAD')
            assert response.header('content-length') == size
            # Nothing follows the head: the connection closes with no body bytes.
            assert conn.read_until_close() == b''
    else:
        response = h2_get(server, pathsend_target(files['large']), method='HEAD')
        assert response.header(b'content-length') == size.encode()
        assert response.body == b''


def test_pathsend_of_an_empty_file(server: Server, files: dict[str, Path]) -> None:
    response = h1_get(server, pathsend_target(files['empty']))
    assert response.status == 200
    assert response.header('content-length') == '0'
    assert response.body == b''


def test_pathsend_resolves_a_relative_path_from_the_working_directory(server: Server) -> None:
    # The test servers run in the repository root.
    response = h1_get(server, pathsend_target('pyproject.toml'))
    assert response.status == 200
    assert response.body == (REPO_ROOT / 'pyproject.toml').read_bytes()


@pytest.mark.parametrize('which', ['missing', 'dir'])
def test_pathsend_of_no_file_is_404(server: Server, files: dict[str, Path], which: str) -> None:
    assert h1_get(server, pathsend_target(files[which])).status == 404


@pytest.mark.parametrize(
    ('case', 'error'),
    [
        ('pathsend-before-start', 'RuntimeError'),
        ('pathsend-bytes', 'TypeError'),
        ('pathsend-with-trailers', 'RuntimeError'),
        ('hint-str-link', 'TypeError'),
        ('hint-bad-link', 'ValueError'),
    ],
)
def test_pathsend_and_hint_misuse_raises(server: Server, case: str, error: str) -> None:
    response = h1_get(server, f'/misuse?case={case}')
    assert json.loads(response.body)['error'] == error, response


@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_starlette_file_response_uses_pathsend(starlette: Server, files: dict[str, Path], method: str) -> None:
    data = files['large'].read_bytes()
    with httpx.Client(base_url=starlette.url, timeout=30) as client:
        response = client.request(method, '/file', params={'file': str(files['large'])})
        sent = client.get('/sent').json()['sent']
    assert response.status_code == 200
    assert response.headers['content-length'] == str(len(data))
    if method == 'GET':
        assert response.content == data
        # The file went out from the server: Starlette sent no body of its own.
        assert sent == ['http.response.start', 'http.response.pathsend']
    else:
        assert response.content == b''
        assert sent == ['http.response.start', 'http.response.body']


# -- http.response.trailers ------------------------------------------------------------------------


def trailer_section(raw: bytes) -> dict[str, str]:
    """The trailer fields of the chunked response that ends `raw`."""
    assert raw.endswith(b'\r\n\r\n'), raw[-200:]
    body_and_trailers = raw.split(b'\r\n\r\n', 1)[1]
    last_chunk = body_and_trailers.rindex(b'0\r\n')
    fields = body_and_trailers[last_chunk + 3 : -2].decode().split('\r\n')
    return dict(field.split(': ', 1) for field in fields if field)


def test_http1_trailers_reach_a_client_that_accepts_them(server: Server) -> None:
    with h1(server, '/trailers', headers=[('TE', 'trailers')]) as conn:
        raw = conn.read_until_close()
    head = raw.split(b'\r\n\r\n', 1)[0].decode().lower()
    assert 'transfer-encoding: chunked' in head
    assert 'trailer: x-checksum, x-count' in head
    assert b'6\r\nhello \r\n5\r\nworld\r\n' in raw
    assert trailer_section(raw) == {'x-checksum': 'abc', 'x-count': '2'}


def test_http1_trailers_are_dropped_without_te(server: Server) -> None:
    with h1(server, '/trailers') as conn:
        raw = conn.read_until_close()
    # The body ends cleanly, with an empty trailer section.
    assert raw.endswith(b'5\r\nworld\r\n0\r\n\r\n')


def test_http2_trailers(server: Server) -> None:
    response = h2_get(server, '/trailers', headers=[('te', 'trailers')])
    assert response.status == 200
    assert response.body == b'hello world'
    assert response.ended
    assert sorted(response.trailers) == [(b'x-checksum', b'abc'), (b'x-count', b'2')]


def test_http2_trailers_need_te_too(server: Server) -> None:
    response = h2_get(server, '/trailers')
    assert response.body == b'hello world'
    assert response.ended
    assert response.trailers == []


@pytest.mark.parametrize('protocol', ['h1', 'h2'])
def test_a_response_whose_trailers_never_come_is_cut_off(server: Server, protocol: str) -> None:
    if protocol == 'h1':
        with h1(server, '/trailers-unfinished', headers=[('TE', 'trailers')]) as conn:
            raw = conn.read_until_close()
        # The body's chunk went out, but not the last chunk that would end the message.
        assert raw.endswith(b'\r\n\r\nD\r\ncomplete body\r\n'), raw
        assert not raw.endswith(b'0\r\n\r\n'), raw
    else:
        response = h2_get(server, '/trailers-unfinished', headers=[('te', 'trailers')])
        assert response.body == b'complete body'
        assert response.reset is not None and not response.ended
    assert server.saw('returned without completing its response', timeout=5)


@pytest.mark.parametrize('case', ['trailers-unannounced', 'trailers-early'])
def test_trailers_out_of_order_raise(server: Server, case: str) -> None:
    with h1(server, f'/misuse?case={case}') as conn:
        raw = conn.read_until_close()
    assert b'"error": "RuntimeError"' in raw, raw


# -- http.response.early_hint ----------------------------------------------------------------------


def test_early_hints_precede_the_final_response(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/hints?wait=1', headers=[('Connection', 'close')]))
        # Both hints arrive while the application still holds its final response back.
        first = conn.read_response()
        second = conn.read_response()
        assert (first.status, first.reason) == (103, 'Early Hints')
        assert first.header_values('link') == [HINTS[0].decode()]
        assert second.status == 103
        assert second.header_values('link') == [HINTS[1].decode()]
        assert h1_get(server, '/release').status == 200
        final = conn.read_response()
        assert final.status == 200
        assert final.body == b'final'
        # The hint sent after the head went out was ignored: nothing else came.
        assert conn.read_until_close() == b''


def test_http2_ignores_early_hints(server: Server) -> None:
    response = h2_get(server, '/hints')
    assert response.status == 200
    assert response.body == b'final'
    assert response.informational == []
