"""Real frameworks (Starlette, FastAPI) served end to end, both over HTTP/1.1 and HTTP/2."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Server, module_server

APPS = {
    'starlette': 'tests.apps.starlette_app:app',
    'fastapi': 'tests.apps.fastapi_app:app',
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
    # HTTP/2 with prior knowledge (h2c), which the default `--http auto` accepts.
    options = {'http1': False, 'http2': True} if http_version == '2' else {}
    with server.client(**options) as http:
        yield http


def test_json_route(client: httpx.Client, framework: str, http_version: str) -> None:
    response = client.get('/')
    assert response.status_code == 200
    assert response.http_version == f'HTTP/{http_version}'
    assert response.headers['content-type'] == 'application/json'
    assert response.json() == {'framework': framework, 'http_version': http_version}


def test_path_and_query_parameters(client: httpx.Client) -> None:
    response = client.get('/items/42', params={'q': 'a b/c'})
    assert response.status_code == 200
    assert response.json() == {'item_id': 42, 'q': 'a b/c'}


def test_path_parameter_mismatch_is_the_frameworks_404_or_422(client: httpx.Client) -> None:
    assert client.get('/items/not-a-number').status_code in (404, 422)


def test_json_body(client: httpx.Client) -> None:
    payload = {'name': 'granian', 'count': 3}
    response = client.post('/echo-json', json=payload)
    assert response.status_code == 200
    assert response.json() == {'received': payload}


def test_streamed_request_body(client: httpx.Client) -> None:
    parts = [os.urandom(4096) for _ in range(64)]
    response = client.post('/upload', content=iter(parts))
    assert response.status_code == 200
    assert response.text == str(4096 * 64)


def test_streaming_response(client: httpx.Client) -> None:
    with client.stream('GET', '/stream', params={'n': 100}) as response:
        assert response.status_code == 200
        lines = list(response.iter_lines())
    assert lines == [f'line {index}' for index in range(100)]


def test_lifespan_state_reaches_requests(client: httpx.Client, framework: str) -> None:
    response = client.get('/state')
    assert response.status_code == 200
    assert response.json() == {'greeting': 'hello from lifespan', 'framework': framework}


def test_unknown_route_is_404(client: httpx.Client) -> None:
    assert client.get('/does-not-exist').status_code == 404
