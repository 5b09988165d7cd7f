"""HTTP/3 against each interface: what applications see, bodies both ways, concurrency on one
connection, HEAD and repeated headers, and the Alt-Svc advertisement on HTTP/1.1 and HTTP/2."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from tests.apps.h3_app import CHUNK, CHUNKS
from tests.conftest import Server, run_server
from tests.http3._h3 import connect
from tests.http3.conftest import APP, h3_args
from tests.ops._tls import Certs

VERSIONS = {'asginl': '3', 'rsgi': '3', 'wsgi': 'HTTP/3'}


@pytest.fixture(scope='module', params=['asgi', 'rsgi', 'wsgi'])
def server(request: pytest.FixtureRequest, certs: Certs) -> Iterator[Server]:
    interface = request.param
    # The ASGI app has no lifespan.
    served = 'asginl' if interface == 'asgi' else interface
    with run_server(*h3_args(certs), app=f'{APP}:{interface}', interface=served) as running:
        yield running
        assert running.stop() == 0


def interface_of(server: Server) -> str:
    return server.option('--interface') or ''


def test_get_reports_http3(server: Server, certs: Certs) -> None:
    async def main() -> None:
        async with connect(server.port, certs.ca) as client:
            response = await client.request('GET', '/info')
            assert response.status == 200
            assert response.header('server') == 'granian'
            info = json.loads(response.body)
            assert info['version'] == VERSIONS[interface_of(server)]
            assert info['scheme'] == 'https'
            assert info['method'] == 'GET'
            # HTTP/3 responses do not advertise HTTP/3.
            assert response.header('alt-svc') is None

    asyncio.run(main())


def test_post_echoes_a_mebibyte(server: Server, certs: Certs) -> None:
    body = bytes(range(256)) * 4096

    async def main() -> None:
        async with connect(server.port, certs.ca) as client:
            response = await client.request('POST', '/echo', [(b'content-length', str(len(body)).encode())], body)
            assert response.status == 200
            assert response.body == body

    asyncio.run(main())


def test_streamed_response(server: Server, certs: Certs) -> None:
    async def main() -> None:
        async with connect(server.port, certs.ca) as client:
            response = await client.request('GET', '/stream')
            assert response.status == 200
            assert response.header('content-length') is None
            assert len(response.body) == CHUNK * CHUNKS
            assert response.body == bytes(i % 251 for i in range(CHUNK * CHUNKS))

    asyncio.run(main())


def test_fifty_concurrent_streams_on_one_connection(server: Server, certs: Certs) -> None:
    async def main() -> None:
        async with connect(server.port, certs.ca) as client:
            responses = await asyncio.gather(
                *(client.request('POST', '/echo', body=f'request {n}'.encode(), timeout=20) for n in range(50))
            )
            assert [response.body for response in responses] == [f'request {n}'.encode() for n in range(50)]
            assert {response.status for response in responses} == {200}

    asyncio.run(main())


def test_head_has_headers_and_no_body(server: Server, certs: Certs) -> None:
    async def main() -> None:
        async with connect(server.port, certs.ca) as client:
            response = await client.request('HEAD', '/')
            assert response.status == 200
            assert response.body == b''
            assert response.header('content-length') == '5'

    asyncio.run(main())


def test_repeated_headers_reach_the_application(server: Server, certs: Certs) -> None:
    headers = [(b'x-repeated', b'one'), (b'x-repeated', b'two'), (b'x-single', b'three')]

    async def main() -> None:
        async with connect(server.port, certs.ca) as client:
            response = await client.request('GET', '/headers', headers)
            assert response.status == 200
            seen = json.loads(response.body)
            if interface_of(server) == 'wsgi':
                # PEP 3333 joins repeated headers into one environ key.
                assert ['HTTP_X_REPEATED', 'one,two'] in seen
                assert ['HTTP_HOST', 'localhost'] in seen
            else:
                assert [value for name, value in seen if name == 'x-repeated'] == ['one', 'two']
                assert ['x-single', 'three'] in seen

    asyncio.run(main())


@pytest.mark.parametrize('http2', [False, True], ids=['http1', 'http2'])
def test_tcp_responses_advertise_http3(server: Server, certs: Certs, http2: bool) -> None:
    with certs.client(server.port, http2=http2) as http:
        response = http.get('/info')
    assert response.status_code == 200
    assert response.http_version == ('HTTP/2' if http2 else 'HTTP/1.1')
    assert response.headers['alt-svc'] == f'h3=":{server.port}"; ma=86400'
