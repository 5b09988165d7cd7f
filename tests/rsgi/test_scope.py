"""The RSGI HTTP scope (spec 1.6) as the application sees it, over HTTP/1.0, 1.1 and 2."""

from __future__ import annotations

import json
import string
from urllib.parse import quote

import httpx
from hypothesis import given
from hypothesis import strategies as st

from tests._http import H2Client, RawConnection, request_bytes
from tests.conftest import Server

SERVER_APP = 'tests.apps.rsgi_app:app'
SERVER_INTERFACE = 'rsgi'


def raw_json(
    server: Server, target: str, *, method: str = 'GET', headers=(), version: str = 'HTTP/1.1'
) -> tuple[dict, int]:
    """The JSON answer to one request sent byte for byte; also returns the client's local port."""
    with RawConnection(server.port) as conn:
        conn.send(request_bytes(method, target, headers=[*headers, ('Connection', 'close')], version=version))
        response = conn.read_response(method=method)
        assert response.status == 200, response
        return json.loads(response.body), conn.local_port


def test_fixed_attributes(client: httpx.Client) -> None:
    scope = client.get('/scope').json()
    assert scope['proto'] == 'http'
    assert scope['rsgi_version'] == '1.6'
    assert scope['http_version'] == '1.1'
    assert scope['scheme'] == 'http'
    assert scope['method'] == 'GET'
    assert scope['path'] == '/scope'
    assert scope['query_string'] == ''
    assert scope['authority'] is None
    assert set(scope['types'].values()) == {'str'}


def test_client_and_server_are_address_port_strings(server: Server) -> None:
    scope, local_port = raw_json(server, '/scope')
    assert scope['client'] == f'127.0.0.1:{local_port}'
    assert scope['server'] == f'127.0.0.1:{server.port}'


def test_http_1_0(server: Server) -> None:
    scope, _ = raw_json(server, '/scope', version='HTTP/1.0')
    assert scope['http_version'] == '1'


def test_http2_scope_has_the_authority(server: Server) -> None:
    with H2Client(server.port) as h2:
        stream_id = h2.request('GET', '/scope/x%2Fy?q=%20')
        response = h2.wait([stream_id])[stream_id]
    assert response.status == 200
    scope = json.loads(response.body)
    assert scope['http_version'] == '2'
    assert scope['authority'] == f'127.0.0.1:{server.port}'
    assert scope['path'] == '/scope/x/y'
    assert scope['query_string'] == 'q=%20'
    # The :authority pseudo-header shows up as `host`, where applications look for it.
    assert dict(scope['headers'])['host'] == f'127.0.0.1:{server.port}'
    assert not any(name.startswith(':') for name in scope['keys'])


def test_methods_are_passed_through(server: Server) -> None:
    for method in ('POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PURGE'):
        scope, _ = raw_json(server, '/scope', method=method)
        assert scope['method'] == method


def test_path_is_percent_decoded_and_query_string_is_not(server: Server) -> None:
    scope, _ = raw_json(server, '/scope/caf%C3%A9/a%20b/100%25?name=caf%C3%A9&x=%2F')
    assert scope['path'] == '/scope/café/a b/100%'
    assert scope['query_string'] == 'name=caf%C3%A9&x=%2F'


def test_malformed_escapes_are_kept(server: Server) -> None:
    scope, _ = raw_json(server, '/scope/100%/%zz')
    assert scope['path'] == '/scope/100%/%zz'


@given(segment=st.text(alphabet=st.characters(codec='utf-8', exclude_categories=['Cs']), min_size=1, max_size=40))
def test_any_encoded_segment_decodes_to_itself(server: Server, segment: str) -> None:
    scope, _ = raw_json(server, '/scope/' + quote(segment, safe=''))
    assert scope['path'] == '/scope/' + segment


def test_headers_mapping(server: Server) -> None:
    headers = [('X-First', 'one'), ('x-SECOND', 'Two Words'), ('X-First', 'three'), ('Accept', '*/*')]
    scope, _ = raw_json(server, '/scope', headers=headers)
    names = scope['keys']
    assert names == list(dict.fromkeys(names)), 'keys() repeats a name'
    assert all(name == name.lower() for name in names)
    assert {'x-first', 'x-second', 'accept', 'host'} <= set(names)
    assert scope['iter'] == names
    assert scope['len'] == len(names)
    pairs = [tuple(pair) for pair in scope['headers']]
    assert [value for name, value in pairs if name == 'x-first'] == ['one', 'three']
    assert ('x-second', 'Two Words') in pairs
    assert scope['values'] == [value for _, value in pairs]


def test_header_lookups(server: Server) -> None:
    headers = [('X-Multi', 'a'), ('x-multi', 'b')]
    found, _ = raw_json(server, '/header?name=X-MULTI', headers=headers)
    assert found == {'get': 'a', 'get_default': 'a', 'get_all': ['a', 'b'], 'contains': True, 'item': 'a'}
    missing, _ = raw_json(server, '/header?name=x-missing', headers=headers)
    assert missing == {'get': None, 'get_default': 'fallback', 'get_all': [], 'contains': False, 'item': None}


def test_non_ascii_header_bytes_arrive_as_latin1(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b'GET /header?name=x-raw HTTP/1.1\r\nHost: x\r\nX-Raw: caf\xc3\xa9\xff\r\nConnection: close\r\n\r\n')
        response = conn.read_response()
    assert response.status == 200
    value = json.loads(response.body)['get']
    assert value.encode('latin-1') == b'caf\xc3\xa9\xff'


@given(
    values=st.lists(
        st.text(alphabet=string.ascii_letters + string.digits + ' -_.;=', min_size=1, max_size=20)
        .map(str.strip)
        .filter(bool),
        min_size=1,
        max_size=5,
    )
)
def test_repeated_header_values_keep_their_order(server: Server, values: list[str]) -> None:
    found, _ = raw_json(server, '/header?name=x-repeat', headers=[('X-Repeat', value) for value in values])
    assert found['get_all'] == values
    assert found['get'] == values[0]
