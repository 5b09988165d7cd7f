"""Every option the native server reads reaches it: for each row of the option table marked
`native`, a value other than the default goes through `Granian`'s validation into
`_native.ServerConfig`, whose `describe()` reports it back from the settings the crates use
(converted, not as given). The rows not marked `native` must not be read by it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from granian import _native
from granian._options import OPTIONS, validate

from tests.ops._tls import KEY_PASSWORD, Certs, make_certs

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope='module')
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp('certs'))


@pytest.fixture(scope='module')
def crl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A CA certificate and an empty CRL it signed (nothing revoked)."""
    import datetime

    import trustme
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    root = tmp_path_factory.mktemp('crl')
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(root / 'ca.pem'))
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    now = datetime.datetime.now(datetime.timezone.utc)
    revocations = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        .next_update(now + datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    (root / 'crl.pem').write_bytes(revocations.public_bytes(serialization.Encoding.PEM))
    return root / 'ca.pem', root / 'crl.pem'


def cases(certs: Certs, crl: tuple[Path, Path]) -> dict[str, tuple[dict[str, Any], Any]]:
    """Option -> (keywords that set it, with the options it needs, and what describe() says)."""
    tls = {'ssl_cert': certs.cert, 'ssl_key': certs.key}
    mount = {'static_path_mount': [HERE]}
    h3 = {**tls, 'http3': True}
    return {
        'http': ({'http': '1'}, '1'),
        'runtime_threads': ({'runtime_threads': 3}, 3),
        'runtime_mode': ({'runtime_mode': 'st'}, 'st'),
        'runtime_blocking_threads': ({'runtime_blocking_threads': 7}, 7),
        'blocking_threads_idle_timeout': ({'blocking_threads_idle_timeout': 45}, 45.0),
        'backpressure': ({'backpressure': 17}, 17),
        'http1_buffer_size': ({'http1_buffer_size': 65536}, 65536),
        'http1_header_read_timeout': ({'http1_header_read_timeout': 1500}, 1500),
        'http1_keep_alive': ({'http1_keep_alive': False}, False),
        'http1_keep_alive_timeout': ({'http1_keep_alive_timeout': 2500}, 2500),
        'http1_pipeline_flush': ({'http1_pipeline_flush': True}, True),
        'http2_adaptive_window': ({'http2_adaptive_window': True}, True),
        'http2_initial_connection_window_size': ({'http2_initial_connection_window_size': 70000}, 70000),
        'http2_initial_stream_window_size': ({'http2_initial_stream_window_size': 80000}, 80000),
        'http2_keep_alive_interval': ({'http2_keep_alive_interval': 1500}, 1500),
        'http2_keep_alive_timeout': ({'http2_keep_alive_timeout': 7.5}, 7.5),
        'http2_max_concurrent_streams': ({'http2_max_concurrent_streams': 33}, 33),
        'http2_max_frame_size': ({'http2_max_frame_size': 32768}, 32768),
        'http2_max_headers_size': ({'http2_max_headers_size': 9000}, 9000),
        'http2_max_send_buffer_size': ({'http2_max_send_buffer_size': 12345}, 12345),
        'http2_idle_timeout': ({'http2_idle_timeout': 12.5}, 12.5),
        'http2_max_receiving_streams': ({'http2_max_receiving_streams': 16}, 16),
        'http_body_read_timeout': ({'http_body_read_timeout': 12.5}, 12.5),
        'http_send_timeout': ({'http_send_timeout': 45.0}, 45.0),
        'h2c_upgrade': ({'h2c_upgrade': False}, False),
        'max_body_buffer_size': ({'max_body_buffer_size': 65536}, 65536),
        'max_connections': ({'max_connections': 123}, 123),
        'ssl_cert': (tls, certs.cert),
        'ssl_key': (tls, certs.key),
        'ssl_key_password': (
            {'ssl_cert': certs.cert, 'ssl_key': certs.encrypted_key, 'ssl_key_password': KEY_PASSWORD},
            KEY_PASSWORD,
        ),
        'ssl_protocol_min': ({**tls, 'ssl_protocol_min': 'tls1.3'}, 'tls1.3'),
        'ssl_ca': ({**tls, 'ssl_ca': certs.ca}, certs.ca),
        'ssl_client_verify': ({**tls, 'ssl_ca': certs.ca, 'ssl_client_verify': True}, True),
        'ssl_crl': ({**tls, 'ssl_ca': crl[0], 'ssl_crl': [crl[1]]}, (crl[1],)),
        'http3': (h3, True),
        'alt_svc': ({**h3, 'alt_svc': False}, False),
        'http3_max_concurrent_streams': ({**h3, 'http3_max_concurrent_streams': 64}, 64),
        'http3_idle_timeout': ({**h3, 'http3_idle_timeout': 12.5}, 12.5),
        'http3_keep_alive_interval': ({**h3, 'http3_keep_alive_interval': 4.0}, 4.0),
        'http3_max_udp_payload_size': ({**h3, 'http3_max_udp_payload_size': 1350}, 1350),
        'http3_initial_stream_window_size': ({**h3, 'http3_initial_stream_window_size': 1 << 18}, 1 << 18),
        'http3_initial_connection_window_size': ({**h3, 'http3_initial_connection_window_size': 1 << 21}, 1 << 21),
        'http3_max_headers_size': ({**h3, 'http3_max_headers_size': 12000}, 12000),
        'http3_max_connections': ({**h3, 'http3_max_connections': 900}, 900),
        'http3_retry': ({**h3, 'http3_retry': True}, True),
        'websockets': ({'websockets': False}, False),
        'ws_max_message_size': ({'ws_max_message_size': 4096}, 4096),
        'ws_ping_interval': ({'ws_ping_interval': 2.5}, 2.5),
        'ws_ping_timeout': ({'ws_ping_timeout': 3.5}, 3.5),
        'ws_deflate': ({'ws_deflate': False}, False),
        'max_request_body_size': ({'max_request_body_size': 5000}, 5000),
        'max_header_size': ({'max_header_size': 4096}, 4096),
        'server_header': ({'server_header': 'edge/1'}, 'edge/1'),
        'response_compression': ({'response_compression': True}, True),
        'response_compression_min_size': (
            {'response_compression': True, 'response_compression_min_size': 77},
            77,
        ),
        'response_compression_algorithms': (
            {'response_compression': True, 'response_compression_algorithms': ['gzip', 'br']},
            ('gzip', 'br'),
        ),
        'static_path_route': ({**mount, 'static_path_route': ['/assets']}, ('/assets',)),
        'static_path_mount': (mount, (HERE,)),
        'static_path_dir_to_file': ({**mount, 'static_path_dir_to_file': 'index.html'}, 'index.html'),
        'static_path_expires': ({**mount, 'static_path_expires': 120}, 120.0),
        'static_path_dotfiles': ({**mount, 'static_path_dotfiles': True}, True),
        'proxy_headers': ({'proxy_headers': True}, True),
        'forwarded_allow_ips': ({'proxy_headers': True, 'forwarded_allow_ips': '10.0.0.0/8'}, '10.0.0.0/8'),
        'forwarded_headers': (
            {'proxy_headers': True, 'forwarded_headers': ['forwarded', 'x-forwarded-host']},
            ('forwarded', 'x-forwarded-host'),
        ),
        'proxy_protocol': ({'proxy_protocol': True}, True),
        'health_path': ({'health_path': '/healthz'}, '/healthz'),
        'ready_path': ({'ready_path': '/readyz'}, '/readyz'),
        'health_access_log': ({'health_path': '/healthz', 'health_access_log': True}, True),
        'ready_check_timeout': ({'ready_path': '/readyz', 'ready_check_timeout': 0.75}, 0.75),
        'ready_check_ttl': ({'ready_path': '/readyz', 'ready_check_ttl': 4.5}, 4.5),
        'url_path_prefix': ({'url_path_prefix': '/app'}, '/app'),
        'log_enabled': ({'log_access': True, 'log_enabled': False}, None),
        'log_access': ({'log_access': True}, True),
        'log_access_format': ({'log_access': True, 'log_access_format': '%(status)d'}, '%(status)d'),
        'log_access_json': ({'log_access': True, 'log_access_json': True}, True),
    }


NATIVE = [row for row in OPTIONS if row.spec.native]


def describe(**keywords: Any) -> dict[str, Any]:
    return _native.ServerConfig(validate('app:main', keywords)).describe()


@pytest.mark.parametrize('row', NATIVE, ids=lambda row: row.name)
def test_every_native_option_reaches_the_native_config(row: Any, certs: Certs, crl: tuple[Path, Path]) -> None:
    table = cases(certs, crl)
    assert row.name in table, f'{row.name} is native: give it a round-trip case here'
    keywords, expected = table[row.name]
    described = describe(**keywords)
    if row.name == 'log_enabled':
        # With logging off the access log is off whatever --access-log says.
        assert described['log_access'] is False
        return
    assert row.name in described, f'describe() does not report {row.name}'
    got = described[row.name]
    assert got == expected, (row.name, got)
    assert got != describe().get(row.name, object()), f'{row.name}: the test value is the default'


def test_native_config_reads_no_other_option() -> None:
    described = describe()
    native = {row.name for row in NATIVE}
    assert set(described) <= native, set(described) - native
