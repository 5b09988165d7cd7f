"""The ASGI HTTP connection scope, as the application sees it (ASGI 3, spec 2.4)."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests._http import RawConnection, request_bytes
from tests.conftest import Server, module_server


@pytest.fixture(scope='module', params=['asgi', 'asginl'])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with module_server(request, interface=request.param) as running:
        yield running


def raw_scope(server: Server, target: str, *, method: str = 'GET', headers=(), body=None) -> tuple[dict, int]:
    """The scope of one request sent byte for byte; also returns the client's local port."""
    with RawConnection(server.port) as conn:
        conn.send(request_bytes(method, target, headers=[*headers, ('Connection', 'close')], body=body))
        response = conn.read_response(method=method)
        assert response.status == 200, response
        return json.loads(response.body), conn.local_port


def test_fixed_keys(server: Server, client: httpx.Client) -> None:
    scope = client.get('/scope').json()
    assert scope['type'] == 'http'
    assert scope['asgi'] == {'version': '3.0', 'spec_version': '2.4'}
    assert scope['http_version'] == '1.1'
    assert scope['method'] == 'GET'
    assert scope['scheme'] == 'http'
    assert scope['root_path'] == ''
    assert scope['path'] == '/scope'


def test_value_types(server: Server, client: httpx.Client) -> None:
    types = client.get('/scope?a=1').json()['__types__']
    assert types['scope']['path'] == 'str'
    assert types['scope']['raw_path'] == 'bytes'
    assert types['scope']['query_string'] == 'bytes'
    assert types['scope']['headers'] in ('list', 'tuple')
    assert types['scope']['method'] == 'str'
    assert types['scope']['http_version'] == 'str'
    # Each header is a two-item iterable of bytes.
    assert set(types['header_items']) <= {'list[bytes,bytes]', 'tuple[bytes,bytes]'}
    assert types['header_items']
    assert types['client'] == ['str', 'int']
    assert types['server'] == ['str', 'int']


def test_client_and_server_addresses(server: Server) -> None:
    scope, local_port = raw_scope(server, '/scope')
    assert scope['client'] == ['127.0.0.1', local_port]
    assert scope['server'] == ['127.0.0.1', server.port]


def values_by_name(headers: list[tuple[str, str]] | list[list[str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name, []).append(value)
    return grouped


def test_headers_lowercased_with_duplicates_in_order(server: Server) -> None:
    headers = [('X-First', 'one'), ('x-SECOND', 'Two Words'), ('X-First', 'three'), ('Accept', '*/*')]
    scope, _ = raw_scope(server, '/scope', headers=headers)
    received = values_by_name(scope['headers'])
    # ASGI: the order of values must be preserved, the order of distinct names need not be.
    assert received['x-first'] == ['one', 'three']
    assert received['x-second'] == ['Two Words']
    assert received['accept'] == ['*/*']
    assert received['host'] == ['127.0.0.1']
    assert all(name == name.lower() for name in received)


def test_header_values_are_raw_bytes(server: Server) -> None:
    # obs-text (RFC 9110 §5.5) is opaque: it reaches the app as the same bytes.
    scope, _ = raw_scope(server, '/scope', headers=[('X-Latin', 'caf\xe9')])
    assert ['x-latin', 'caf\xe9'] in scope['headers']


def test_path_is_decoded_and_raw_path_is_not(server: Server) -> None:
    scope, _ = raw_scope(server, '/scope/caf%C3%A9%20x/a%2Fb?q=%20a&b')
    assert scope['path'] == '/scope/café x/a/b'
    assert scope['raw_path'] == '/scope/caf%C3%A9%20x/a%2Fb'
    assert scope['query_string'] == 'q=%20a&b'


def test_empty_query_string(server: Server) -> None:
    scope, _ = raw_scope(server, '/scope')
    assert scope['query_string'] == ''
    assert scope['raw_path'] == '/scope'


@pytest.mark.parametrize('method', ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PURGE'])
def test_method(server: Server, method: str) -> None:
    body = b'x' if method in ('POST', 'PUT', 'PATCH') else None
    scope, _ = raw_scope(server, '/scope', method=method, body=body)
    assert scope['method'] == method


def test_state_only_with_lifespan(server: Server, client: httpx.Client) -> None:
    scope = client.get('/scope').json()
    if server.option('--interface') == 'asginl':
        assert 'state' not in scope
    else:
        assert scope['state']['started'] is True


_segment = st.text(st.characters(exclude_categories=['Cs'], exclude_characters='\x00'), min_size=1, max_size=12).filter(
    lambda segment: segment not in ('.', '..')
)
_query_text = st.text(st.characters(exclude_categories=['Cs']), max_size=40)


@given(segments=st.lists(_segment, min_size=1, max_size=4), query=_query_text)
def test_path_and_query_round_trip(server: Server, segments: list[str], query: str) -> None:
    raw_path = '/scope/' + '/'.join(quote(segment, safe='') for segment in segments)
    query_string = quote(query, safe='=&/:,')
    target = f'{raw_path}?{query_string}' if query_string else raw_path
    scope, _ = raw_scope(server, target)
    assert scope['path'] == '/scope/' + '/'.join(segments)
    assert scope['raw_path'] == raw_path
    assert scope['query_string'] == query_string


_token = st.text(string.ascii_letters + string.digits + '-', min_size=1, max_size=20)
_value = st.text(string.ascii_letters + string.digits + ' !#$%&()*+,-./:;<=>?@[]^_`{|}~', max_size=40).map(str.strip)


@given(headers=st.lists(st.tuples(_token, _value), min_size=1, max_size=8))
def test_headers_round_trip(server: Server, headers: list[tuple[str, str]]) -> None:
    sent = [(f'x-{name}', value) for name, value in headers]
    scope, _ = raw_scope(server, '/scope', headers=sent)
    received = [item for item in scope['headers'] if item[0].startswith('x-')]
    assert values_by_name(received) == values_by_name([(name.lower(), value) for name, value in sent])
    assert len(received) == len(sent)


def test_no_unexpected_keys(server: Server, client: httpx.Client) -> None:
    keys = set(client.get('/scope').json()) - {'__types__'}
    required = {
        'type',
        'asgi',
        'http_version',
        'method',
        'scheme',
        'path',
        'raw_path',
        'query_string',
        'root_path',
        'headers',
        'client',
        'server',
    }
    assert required <= keys
    # Keys beyond the required ones are limited to those ASGI defines.
    assert keys - required <= {'state', 'extensions'}
