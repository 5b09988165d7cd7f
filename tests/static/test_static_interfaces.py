"""Static files in front of every interface and over HTTP/2, the settings without an index
file or cache headers, and the CLI's checks of the static flags."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, module_server, run_cli, run_server
from tests.static import _tree

APPS = {
    'asgi': 'tests.static._apps:asgi',
    'asginl': 'tests.static._apps:asgi',
    'rsgi': 'tests.static._apps:rsgi',
    'wsgi': 'tests.static._apps:wsgi',
}


@pytest.fixture(scope='module')
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _tree.build(tmp_path_factory.mktemp('static'))


@pytest.fixture(scope='module', params=sorted(APPS))
def server(request: pytest.FixtureRequest, tree: tuple[Path, Path]) -> Iterator[Server]:
    # One mount and no route: served on /static, as Granian does.
    args = ['--static-path-mount', str(tree[0]), '--http', 'auto']
    with module_server(request, *args, app=APPS[request.param], interface=request.param) as running:
        yield running


def test_every_interface_serves_files_and_passes_the_rest(client: httpx.Client) -> None:
    response = client.get('/static/10k.bin')
    assert response.status_code == 200
    assert response.content == _tree.TEN_K
    assert response.headers['content-type'] == 'application/octet-stream'
    assert client.get('/static/missing').status_code == 404
    assert client.post('/static/10k.bin').status_code == 405
    app = client.get('/elsewhere')
    assert app.status_code == 200
    assert app.text == 'app /elsewhere'


def test_http2(server: Server) -> None:
    with server.client(http1=False, http2=True) as h2:
        response = h2.get('/static/hello.txt')
        assert response.http_version == 'HTTP/2'
        assert response.status_code == 200
        assert response.content == _tree.HELLO
        assert response.headers['content-length'] == str(len(_tree.HELLO))
        head = h2.head('/static/10k.bin')
        assert head.status_code == 200
        assert head.headers['content-length'] == str(len(_tree.TEN_K))
        assert head.content == b''
        ranged = h2.get('/static/10k.bin', headers={'range': 'bytes=10-19'})
        assert ranged.status_code == 206
        assert ranged.content == _tree.TEN_K[10:20]
        etag = response.headers['etag']
        assert h2.get('/static/hello.txt', headers={'if-none-match': etag}).status_code == 304
        big = h2.get('/static/big.bin')
        assert big.status_code == 200
        assert big.content == _tree.BIG
        assert h2.get('/elsewhere').text == 'app /elsewhere'


def test_no_index_and_no_cache_headers(tree: tuple[Path, Path]) -> None:
    args = ('--static-path-route', '/files', '--static-path-mount', str(tree[0]), '--static-path-expires', '0')
    with run_server(*args, app=APPS['rsgi'], interface='rsgi') as running, running.client() as client:
        response = client.get('/files/hello.txt')
        assert response.status_code == 200
        assert 'cache-control' not in response.headers
        assert 'expires' not in response.headers
        # Without --static-path-dir-to-file a directory is not found, even with an index.html.
        for path in ('/files/sub', '/files/sub/', '/files', '/files/'):
            assert client.get(path).status_code == 404, path
        assert client.get('/static/hello.txt').text == 'app /static/hello.txt'


@pytest.mark.parametrize('interface', sorted(APPS))
def test_dotfiles_are_served_only_when_asked(tree: tuple[Path, Path], interface: str) -> None:
    hidden = {'/static/.env': _tree.DOTENV, '/static/.git/config': _tree.GIT_CONFIG}
    with run_server('--static-path-mount', str(tree[0]), app=APPS[interface], interface=interface) as running:
        with running.client() as client:
            for path in (*hidden, '/static/%2eenv', '/static/sub/../.env', '/static/.git/'):
                response = client.get(path)
                assert response.status_code == 404, path
                assert response.content not in hidden.values(), path
            # RFC 8615: .well-known is meant to be fetched.
            response = client.get('/static/.well-known/security.txt')
            assert (response.status_code, response.content) == (200, _tree.SECURITY_TXT)
    args = ('--static-path-mount', str(tree[0]), '--static-path-dotfiles')
    with run_server(*args, app=APPS[interface], interface=interface) as running, running.client() as client:
        for path, content in hidden.items():
            response = client.get(path)
            assert (response.status_code, response.content) == (200, content), path


def test_settings_from_the_environment(tree: tuple[Path, Path]) -> None:
    env = {
        'GRANIAN_STATIC_PATH_ROUTE': '/env',
        'GRANIAN_STATIC_PATH_MOUNT': str(tree[1]),
        'GRANIAN_STATIC_PATH_EXPIRES': '1h30m',
    }
    with run_server(app=APPS['rsgi'], interface='rsgi', env=env) as running, running.client() as client:
        response = client.get('/env/other.txt')
        assert response.status_code == 200
        assert response.content == _tree.OTHER
        assert response.headers['cache-control'] == 'max-age=5400'


def test_routes_and_mounts_must_pair_up(tree: tuple[Path, Path]) -> None:
    mount, other = (str(path) for path in tree)
    for args in (
        ('--static-path-route', '/a', '--static-path-route', '/b', '--static-path-mount', mount),
        ('--static-path-mount', mount, '--static-path-mount', other),
        ('--static-path-route', '/a'),
    ):
        code, output = run_cli('--interface', 'rsgi', *args, APPS['rsgi'])
        assert code == 2, output
        assert 'static_path_route and static_path_mount pair up in order' in output


def test_bad_static_settings_are_refused(tree: tuple[Path, Path]) -> None:
    mount = str(tree[0])
    missing = str(tree[0] / 'no-such-dir')
    cases = [
        (('--static-path-mount', missing), 'does not exist'),
        (('--static-path-mount', str(tree[0] / 'hello.txt')), 'is a file'),
        (('--static-path-route', 'static', '--static-path-mount', mount), "must start with '/'"),
        (('--static-path-mount', mount, '--static-path-dir-to-file', '../x'), 'static_path_dir_to_file'),
        (('--static-path-mount', mount, '--static-path-expires', '-1'), 'static-path-expires'),
        (('--static-path-mount', mount, '--static-path-expires', 'soon'), 'static-path-expires'),
    ]
    for args, message in cases:
        code, output = run_cli('--interface', 'rsgi', *args, APPS['rsgi'])
        assert code == 2, (args, output)
        assert message in output, (args, output)
