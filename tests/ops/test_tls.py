"""TLS: certificates from tests/ops/conftest.py (generated per run), ALPN choosing HTTP/2 or
HTTP/1.1, the https scheme in every interface, the ASGI `tls` extension, mutual TLS with
certificate revocation lists, the oldest protocol version, and a wrong key password."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Server, run_cli, run_server
from tests.ops._tls import KEY_PASSWORD, Certs

APPS = {'asgi': 'tests.apps.ops_app:asgi', 'rsgi': 'tests.apps.ops_app:rsgi', 'wsgi': 'tests.apps.ops_app:wsgi'}


def tls_args(certs: Certs, *extra: str) -> list[str]:
    return [
        '--ssl-certificate',
        str(certs.cert),
        '--ssl-keyfile',
        str(certs.encrypted_key),
        '--ssl-keyfile-password',
        KEY_PASSWORD,
        *extra,
    ]


@pytest.fixture(scope='module', params=sorted(APPS))
def tls_server(request: pytest.FixtureRequest, certs: Certs) -> Iterator[Server]:
    interface = request.param
    with run_server(*tls_args(certs), app=APPS[interface], interface=interface) as server:
        yield server


def test_logs_an_https_address(tls_server: Server) -> None:
    assert f'Listening at: https://127.0.0.1:{tls_server.port}' in tls_server.log_text


@pytest.mark.parametrize(('http2', 'version'), [(True, 'HTTP/2'), (False, 'HTTP/1.1')])
def test_alpn_picks_the_protocol_and_scheme_is_https(
    tls_server: Server, certs: Certs, http2: bool, version: str
) -> None:
    with certs.client(tls_server.port, http2=http2) as client:
        response = client.post('/', content=b'x' * 1000)
    assert response.status_code == 200
    assert response.http_version == version
    data = response.json()
    assert data['scheme'] == 'https'
    assert data['body_length'] == 1000
    assert data['http_version'] in (('2', 'HTTP/2') if http2 else ('1.1', 'HTTP/1.1'))


def test_alpn_negotiation_on_the_wire(tls_server: Server, certs: Certs) -> None:
    for offered, agreed in ((['h2', 'http/1.1'], 'h2'), (['http/1.1'], 'http/1.1'), (['h2'], 'h2')):
        context = certs.context()
        context.set_alpn_protocols(offered)
        with socket.create_connection(('127.0.0.1', tls_server.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname='127.0.0.1') as tls:
                assert tls.selected_alpn_protocol() == agreed


def test_plain_http_is_not_served(tls_server: Server) -> None:
    with socket.create_connection(('127.0.0.1', tls_server.port), timeout=5) as raw:
        raw.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        try:
            reply = raw.recv(1024)
        except ConnectionResetError:
            reply = b''
    assert not reply.startswith(b'HTTP/')
    # The server is unharmed.
    assert 'Traceback' not in tls_server.log_text


def test_asgi_tls_extension_without_client_certificate(certs: Certs) -> None:
    with run_server(*tls_args(certs), app=APPS['asgi'], interface='asgi') as server:
        with certs.client(server.port) as client:
            tls = client.get('/').json()['tls']
    assert tls['client_cert_chain'] == []
    assert tls['client_cert_name'] is None
    assert tls['client_cert_error'] is None
    assert tls['tls_version'] == 0x0304
    assert isinstance(tls['cipher_suite'], int)
    assert tls['server_cert'].startswith('-----BEGIN CERTIFICATE-----')


@pytest.fixture(scope='module')
def mtls_server(certs: Certs) -> Iterator[Server]:
    args = tls_args(certs, '--ssl-ca', str(certs.ca), '--ssl-client-verify')
    with run_server(*args, app=APPS['asgi'], interface='asgi') as server:
        yield server


@pytest.mark.parametrize('http2', [True, False])
def test_mtls_accepts_a_client_certificate_from_the_ca(mtls_server: Server, certs: Certs, http2: bool) -> None:
    with certs.client(mtls_server.port, http2=http2, client=True) as client:
        response = client.get('/')
    assert response.status_code == 200
    tls = response.json()['tls']
    # The client's own certificate first (OpenSSL clients may send the CA after it).
    assert tls['client_cert_chain'][0] == certs.client_cert.read_text()
    assert 'CN=granian test client' in tls['client_cert_name']


@pytest.mark.parametrize('other_client', [False, True], ids=['no-certificate', 'foreign-ca'])
def test_mtls_rejects_other_clients(mtls_server: Server, certs: Certs, other_client: bool) -> None:
    with certs.client(mtls_server.port, other_client=other_client) as client, pytest.raises(httpx.TransportError):
        client.get('/')
    # Refused clients do not harm the server: a good one is still served.
    with certs.client(mtls_server.port, client=True) as client:
        assert client.get('/').status_code == 200


def test_optional_client_certificate_with_ca_alone(certs: Certs) -> None:
    args = tls_args(certs, '--ssl-ca', str(certs.ca))
    with run_server(*args, app=APPS['asgi'], interface='asgi') as server:
        with certs.client(server.port) as client:
            assert client.get('/').json()['tls']['client_cert_chain'] == []
        with certs.client(server.port, client=True) as client:
            chain = client.get('/').json()['tls']['client_cert_chain']
            assert chain[0] == certs.client_cert.read_text()


@pytest.mark.parametrize('verify', [True, False], ids=['required', 'optional'])
def test_a_revoked_client_certificate_fails_the_handshake(certs: Certs, verify: bool) -> None:
    # Two lists of the CA, the revoking one second: the newest decides, whatever the order.
    crls = ['--ssl-crl', str(certs.empty_crl), '--ssl-crl', str(certs.crl)]
    args = tls_args(certs, '--ssl-ca', str(certs.ca), *crls, *(['--ssl-client-verify'] if verify else []))
    with run_server(*args, app=APPS['asgi'], interface='asgi') as server:
        for http2 in (False, True):
            with certs.client(server.port, http2=http2, revoked_client=True) as client:
                with pytest.raises(httpx.TransportError):
                    client.get('/')
            with certs.client(server.port, http2=http2, client=True) as client:
                response = client.get('/')
            assert response.status_code == 200
            assert 'CN=granian test client' in response.json()['tls']['client_cert_name']
        if not verify:
            # A certificate stays optional: a client without one is served.
            with certs.client(server.port) as client:
                assert client.get('/').json()['tls']['client_cert_chain'] == []


def test_a_revocation_list_that_revokes_nothing_serves_every_client(certs: Certs) -> None:
    args = tls_args(certs, '--ssl-ca', str(certs.ca), '--ssl-crl', str(certs.empty_crl), '--ssl-client-verify')
    with run_server(*args, app=APPS['asgi'], interface='asgi') as server:
        for context in ({'client': True}, {'revoked_client': True}):
            with certs.client(server.port, **context) as client:
                assert client.get('/').status_code == 200


def test_a_crl_file_without_a_list_is_a_clear_error(certs: Certs) -> None:
    args = tls_args(certs, '--ssl-ca', str(certs.ca), '--ssl-crl', str(certs.ca))
    code, output = run_cli('--interface', 'asgi', '--port', '0', *args, APPS['asgi'])
    assert code != 0
    assert f"Error: TLS: CRL '{certs.ca}': no X509 CRL section found" in output, output
    assert 'Traceback' not in output


def test_protocol_min_tls13_refuses_tls12(certs: Certs) -> None:
    with run_server(*tls_args(certs, '--ssl-protocol-min', 'tls1.3'), app=APPS['asgi']) as server:
        old = certs.context()
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with httpx.Client(verify=old, timeout=5.0) as client, pytest.raises(httpx.TransportError):
            client.get(f'https://127.0.0.1:{server.port}/')
        with certs.client(server.port) as client:
            assert client.get('/').json()['tls']['tls_version'] == 0x0304


def test_tls12_is_accepted_by_default(certs: Certs) -> None:
    with run_server(*tls_args(certs), app=APPS['asgi']) as server:
        old = certs.context()
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with httpx.Client(verify=old, timeout=5.0) as client:
            assert client.get(f'https://127.0.0.1:{server.port}/').json()['tls']['tls_version'] == 0x0303


@pytest.mark.parametrize(('mode', 'version'), [('1', 'HTTP/1.1'), ('2', 'HTTP/2')])
def test_alpn_follows_http_mode(certs: Certs, mode: str, version: str) -> None:
    with run_server(*tls_args(certs, '--http', mode), app=APPS['asgi']) as server:
        with certs.client(server.port, http2=True) as client:
            assert client.get('/').http_version == version


def test_plain_key_needs_no_password(certs: Certs) -> None:
    args = ['--ssl-certificate', str(certs.cert), '--ssl-keyfile', str(certs.key)]
    with run_server(*args, app=APPS['wsgi'], interface='wsgi') as server:
        with certs.client(server.port) as client:
            assert client.get('/').json()['scheme'] == 'https'


@pytest.mark.parametrize(
    ('password', 'message'),
    [('wrong', 'cannot decrypt key'), (None, 'is encrypted: give its password (--ssl-keyfile-password)')],
)
def test_bad_key_password_is_a_clear_error(certs: Certs, password: str | None, message: str) -> None:
    args = ['--ssl-certificate', str(certs.cert), '--ssl-keyfile', str(certs.encrypted_key)]
    if password is not None:
        args += ['--ssl-keyfile-password', password]
    code, output = run_cli('--interface', 'asgi', '--port', '0', *args, APPS['asgi'])
    assert code != 0
    assert 'Error: TLS: ' in output, output
    assert message in output, output
    assert 'Traceback' not in output
