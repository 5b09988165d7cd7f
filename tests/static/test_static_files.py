"""Static files served before the application (crates/staticfiles): content and headers,
methods, validators and conditional requests, ranges, precompressed siblings, directories,
several mounts, and paths that try to leave a mount. One RSGI server over HTTP/1.1; the other
interfaces and HTTP/2 are in test_static_interfaces.py."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._http import RawConnection, Response, get, request_bytes
from tests.conftest import Server, module_server
from tests.static import _tree

APP = 'tests.static._apps:rsgi'


@pytest.fixture(scope='module')
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _tree.build(tmp_path_factory.mktemp('static'))


@pytest.fixture(scope='module')
def server(request: pytest.FixtureRequest, tree: tuple[Path, Path]) -> Iterator[Server]:
    mount, other = tree
    args = ['--static-path-route', '/static', '--static-path-mount', str(mount)]
    args += ['--static-path-route', '/assets/', '--static-path-mount', str(other)]
    args += ['--static-path-dir-to-file', 'index.html']
    with module_server(request, *args, app=APP, interface='rsgi') as running:
        yield running


def test_file_content_and_headers(client: httpx.Client, tree: tuple[Path, Path]) -> None:
    before = time.time()
    response = client.get('/static/hello.txt')
    assert response.status_code == 200
    assert response.content == _tree.HELLO
    assert response.headers['content-length'] == str(len(_tree.HELLO))
    assert response.headers['content-type'] == 'text/plain'
    assert response.headers['accept-ranges'] == 'bytes'
    assert response.headers['etag'].startswith('"')
    mtime = (tree[0] / 'hello.txt').stat().st_mtime
    assert response.headers['last-modified'] == email.utils.formatdate(int(mtime), usegmt=True)
    assert response.headers['cache-control'] == 'max-age=86400'
    expires = email.utils.parsedate_to_datetime(response.headers['expires']).timestamp()
    assert before + 86400 - 2 <= expires <= time.time() + 86400 + 1
    assert 'content-encoding' not in response.headers


def test_content_type_follows_the_extension(client: httpx.Client) -> None:
    assert client.get('/static/style.css').headers['content-type'] == 'text/css'
    assert client.get('/static/sub/index.html').headers['content-type'] == 'text/html'
    assert client.get('/static/10k.bin').headers['content-type'] == 'application/octet-stream'


def test_head_has_the_headers_without_the_body(server: Server) -> None:
    full = get(server.port, '/static/10k.bin')
    head = _raw(server, 'HEAD', '/static/10k.bin')
    assert head.status == 200
    assert head.body == b''
    assert head.header('content-length') == str(len(_tree.TEN_K))
    for name in ('etag', 'last-modified', 'content-type', 'cache-control'):
        assert head.header(name) == full.header(name)


@pytest.mark.parametrize('method', ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])
@pytest.mark.parametrize('path', ['/static/hello.txt', '/static/missing.txt'])
def test_other_methods_are_not_allowed(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path, content=b'x' if method in ('POST', 'PUT', 'PATCH') else None)
    assert response.status_code == 405
    assert response.headers['allow'] == 'GET, HEAD'


def test_if_none_match(client: httpx.Client) -> None:
    etag = client.get('/static/hello.txt').headers['etag']
    for tag in (etag, f'"other", {etag}', f'W/{etag}', '*'):
        response = client.get('/static/hello.txt', headers={'if-none-match': tag})
        assert response.status_code == 304, tag
        assert response.content == b''
        assert response.headers['etag'] == etag
        assert response.headers['cache-control'] == 'max-age=86400'
    response = client.get('/static/hello.txt', headers={'if-none-match': '"stale"'})
    assert response.status_code == 200
    assert response.content == _tree.HELLO
    head = client.head('/static/hello.txt', headers={'if-none-match': etag})
    assert head.status_code == 304


def test_etag_changes_with_the_file(client: httpx.Client, tree: tuple[Path, Path]) -> None:
    path = tree[0] / 'changing.txt'
    path.write_bytes(b'one')
    first = client.get('/static/changing.txt').headers['etag']
    path.write_bytes(b'three')
    second = client.get('/static/changing.txt')
    assert second.content == b'three'
    assert second.headers['etag'] != first
    assert client.get('/static/changing.txt', headers={'if-none-match': first}).status_code == 200


def test_if_modified_since(client: httpx.Client) -> None:
    modified = client.get('/static/hello.txt').headers['last-modified']
    response = client.get('/static/hello.txt', headers={'if-modified-since': modified})
    assert response.status_code == 304
    assert response.content == b''
    later = email.utils.formatdate(time.time() + 3600, usegmt=True)
    assert client.get('/static/hello.txt', headers={'if-modified-since': later}).status_code == 304
    earlier = 'Thu, 01 Jan 2015 00:00:00 GMT'
    assert client.get('/static/hello.txt', headers={'if-modified-since': earlier}).status_code == 200
    assert client.get('/static/hello.txt', headers={'if-modified-since': 'garbage'}).status_code == 200
    # If-None-Match decides alone when present (RFC 9110 §13.1.3).
    both = {'if-none-match': '"stale"', 'if-modified-since': later}
    assert client.get('/static/hello.txt', headers=both).status_code == 200


@pytest.mark.parametrize(
    ('spec', 'start', 'end'),
    [('0-9', 0, 9), ('10000-', 10000, 10239), ('-100', 10140, 10239), ('5-5', 5, 5), ('10200-99999', 10200, 10239)],
)
def test_single_range(client: httpx.Client, spec: str, start: int, end: int) -> None:
    response = client.get('/static/10k.bin', headers={'range': f'bytes={spec}'})
    assert response.status_code == 206
    assert response.headers['content-range'] == f'bytes {start}-{end}/10240'
    assert response.headers['content-length'] == str(end - start + 1)
    assert response.content == _tree.TEN_K[start : end + 1]


def test_unsatisfiable_range(client: httpx.Client) -> None:
    for spec in ('10240-', '20000-30000', '-0'):
        response = client.get('/static/10k.bin', headers={'range': f'bytes={spec}'})
        assert response.status_code == 416, spec
        assert response.headers['content-range'] == 'bytes */10240'
    response = client.get('/static/empty.txt', headers={'range': 'bytes=0-'})
    assert response.status_code == 416
    assert response.headers['content-range'] == 'bytes */0'


def test_ignored_ranges_serve_the_whole_file(client: httpx.Client) -> None:
    etag = client.get('/static/10k.bin').headers['etag']
    for headers in (
        {'range': 'bytes=0-1,5-6'},
        {'range': 'bytes=9-1'},
        {'range': 'lines=1-2'},
        {'range': 'bytes=0-9', 'if-range': '"stale"'},
    ):
        response = client.get('/static/10k.bin', headers=headers)
        assert response.status_code == 200, headers
        assert response.content == _tree.TEN_K
        assert 'content-range' not in response.headers
    response = client.get('/static/10k.bin', headers={'range': 'bytes=0-9', 'if-range': etag})
    assert response.status_code == 206


@pytest.mark.parametrize(
    ('path', 'accept', 'body', 'encoding'),
    [
        ('/static/style.css', 'gzip, deflate, br', _tree.CSS_BR, 'br'),
        ('/static/style.css', 'br;q=0, gzip', _tree.CSS_GZ, 'gzip'),
        ('/static/style.css', 'gzip', _tree.CSS_GZ, 'gzip'),
        ('/static/style.css', 'identity', _tree.CSS, None),
        ('/static/style.css', None, _tree.CSS, None),
        ('/static/app.js', 'br', _tree.JS, None),
        ('/static/app.js', 'br, gzip', _tree.JS_GZ, 'gzip'),
    ],
)
def test_precompressed_siblings(
    server: Server, path: str, accept: str | None, body: bytes, encoding: str | None
) -> None:
    # Raw sockets: httpx would decode the body.
    response = get(server.port, path, headers=[('Accept-Encoding', accept)] if accept else [])
    assert response.status == 200
    assert response.body == body
    assert response.header('content-encoding') == encoding
    assert response.header('content-length') == str(len(body))
    if encoding is None:
        assert response.header('vary') is None
    else:
        assert response.header('vary') == 'accept-encoding'
        assert response.header('content-type') == ('text/css' if path.endswith('.css') else 'text/javascript')


def test_directory_serves_its_index(client: httpx.Client) -> None:
    for path in ('/static/sub', '/static/sub/'):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.content == _tree.INDEX
        assert response.headers['content-type'] == 'text/html'
    for path in ('/static', '/static/'):
        assert client.get(path).content == _tree.ROOT_INDEX
    assert client.get('/static/nodir/').status_code == 404


def test_missing_files_are_not_found_not_passed_on(client: httpx.Client) -> None:
    for path in ('/static/missing.txt', '/static/sub/missing', '/assets/hello.txt', '/static/hello.txt/x'):
        response = client.get(path)
        assert response.status_code == 404, path
        assert not response.text.startswith('app '), path


def test_several_mounts(client: httpx.Client) -> None:
    response = client.get('/assets/other.txt')
    assert response.status_code == 200
    assert response.content == _tree.OTHER
    assert client.get('/static/hello.txt').content == _tree.HELLO


@pytest.mark.parametrize('path', ['/', '/staticx', '/static-files/hello.txt', '/assetsy/other.txt', '/app/static/x'])
def test_other_paths_reach_the_application(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.text == f'app {path}'


def test_percent_encoded_names(client: httpx.Client) -> None:
    response = client.get('/static/a%20b.txt')
    assert response.status_code == 200
    assert response.content == _tree.HELLO
    assert client.get('/static/hello%2etxt').content == _tree.HELLO


@pytest.mark.parametrize(
    'target',
    [
        '/static/../outside/secret.txt',
        '/static/sub/../../outside/secret.txt',
        '/static/%2e%2e/outside/secret.txt',
        '/static/%2E%2E/outside/secret.txt',
        '/static/%2e%2e%2foutside%2fsecret.txt',
        '/static/sub/..%2f..%2foutside%2fsecret.txt',
        '/static/hello.txt%00.png',
        '/static/%00',
        '/static/..%5c..%5coutside%5csecret.txt',
        '/static/sub%5cindex.html',
        '/static/%252e%252e/outside/secret.txt',
        '/static//etc/passwd',
        '/static/escape',
        '/static/escape-dir/secret.txt',
    ],
)
def test_paths_leaving_the_mount_are_not_found(server: Server, target: str) -> None:
    response = get(server.port, target)
    assert response.status == 404, target
    assert _tree.SECRET not in response.body
    assert not response.body.startswith(b'app ')


def test_raw_backslash_is_refused(server: Server) -> None:
    response = get(server.port, '/static/sub\\..\\..\\outside\\secret.txt')
    # The request target grammar has no backslash: the HTTP layer may refuse it first.
    assert response.status in (400, 404)
    assert _tree.SECRET not in response.body


def test_symlink_inside_the_mount_is_served(client: httpx.Client) -> None:
    response = client.get('/static/inside')
    assert response.status_code == 200
    assert response.content == _tree.HELLO


def test_large_file_is_streamed_whole(client: httpx.Client) -> None:
    with client.stream('GET', '/static/big.bin') as response:
        assert response.status_code == 200
        assert response.headers['content-length'] == str(len(_tree.BIG))
        assert 'transfer-encoding' not in response.headers
        body = b''.join(response.iter_bytes())
    assert body == _tree.BIG
    start, end = 100_000, 1_300_000
    ranged = client.get('/static/big.bin', headers={'range': f'bytes={start}-{end}'})
    assert ranged.status_code == 206
    assert ranged.content == _tree.BIG[start : end + 1]


def test_large_file_head(server: Server) -> None:
    head = _raw(server, 'HEAD', '/static/big.bin')
    assert head.status == 200
    assert head.header('content-length') == str(len(_tree.BIG))
    assert head.body == b''


def test_empty_file(client: httpx.Client) -> None:
    response = client.get('/static/empty.txt')
    assert response.status_code == 200
    assert response.content == b''
    assert response.headers['content-length'] == '0'


def test_server_survives_a_client_leaving_mid_file(server: Server, client: httpx.Client) -> None:
    for _ in range(3):
        with client.stream('GET', '/static/big.bin') as response:
            next(response.iter_raw(65536))
    assert client.get('/static/hello.txt').content == _tree.HELLO


def _raw(server: Server, method: str, target: str) -> Response:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes(method, target, headers=[('Connection', 'close')]))
        return conn.read_response(method=method)
