"""Real frameworks (Flask, Django) served end to end over WSGI, on HTTP/1.1 and HTTP/2."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, module_server

SERVER_INTERFACE = 'wsgi'
APPS = {
    'flask': 'tests.apps.flask_app:app',
    'django': 'tests.apps.django_wsgi:application',
}


@pytest.fixture(scope='module', params=sorted(APPS))
def framework(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope='module')
def server(request: pytest.FixtureRequest, framework: str) -> Iterator[Server]:
    with module_server(request, app=APPS[framework]) as running:
        yield running


@pytest.fixture(params=['1.1', '2'])
def http_version(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def client(server: Server, http_version: str) -> Iterator[httpx.Client]:
    options = {'http1': False, 'http2': True} if http_version == '2' else {}
    with server.client(**options) as http:
        yield http


def test_json_route(client: httpx.Client, framework: str, http_version: str) -> None:
    response = client.get('/')
    assert response.status_code == 200
    assert response.http_version == f'HTTP/{http_version}'
    assert response.headers['content-type'] == 'application/json'
    assert response.json() == {'framework': framework, 'protocol': f'HTTP/{http_version}'}


def test_path_and_query_parameters(client: httpx.Client) -> None:
    response = client.get('/items/42', params={'q': 'a b/c'})
    assert response.status_code == 200
    assert response.json() == {'item_id': 42, 'q': 'a b/c'}


def test_non_ascii_path_parameter(client: httpx.Client) -> None:
    response = client.get('/hello/café ünïcode')
    assert response.status_code == 200
    assert response.json() == {'name': 'café ünïcode'}


def test_unknown_route_is_the_frameworks_404(client: httpx.Client) -> None:
    assert client.get('/no/such/route').status_code == 404


def test_json_body(client: httpx.Client) -> None:
    payload = {'name': 'granian', 'tags': ['a', 'b'], 'nested': {'n': 1}}
    response = client.post('/echo', json=payload)
    assert response.status_code == 200
    assert response.json() == {'received': payload}


def test_multipart_upload(client: httpx.Client) -> None:
    data = os.urandom(300_000)
    response = client.post('/upload', data={'field': 'value'}, files={'file': ('blob.bin', data)})
    assert response.status_code == 200, response.text
    assert response.json() == {
        'field': 'value',
        'filename': 'blob.bin',
        'size': len(data),
        'sha256': hashlib.sha256(data).hexdigest(),
    }


def test_streaming_response(client: httpx.Client) -> None:
    with client.stream('GET', '/stream', params={'n': '5'}) as response:
        assert response.status_code == 200
        body = b''.join(response.iter_bytes())
    assert body == b''.join(f'chunk {index};'.encode() for index in range(5))


def test_file_response(client: httpx.Client, tmp_path: Path) -> None:
    data = os.urandom(2 * 1024 * 1024 + 3)
    path = tmp_path / 'download.bin'
    path.write_bytes(data)
    response = client.get('/file', params={'path': str(path)})
    assert response.status_code == 200
    assert response.headers['content-length'] == str(len(data))
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(data).digest()


def test_cookies(client: httpx.Client) -> None:
    first = client.get('/cookie')
    assert first.json() == {'seen': None}
    assert 'flavour=oatmeal' in first.headers['set-cookie']
    assert client.get('/cookie').json() == {'seen': 'oatmeal'}


def test_view_exception_is_the_frameworks_500(server: Server, client: httpx.Client, framework: str) -> None:
    mark = server.mark()
    assert client.get('/error').status_code == 500
    server.wait_for(f'RuntimeError: boom from {framework}', start=mark)
    assert client.get('/').status_code == 200
