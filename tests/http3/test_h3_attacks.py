"""Bad input over UDP and HTTP/3: garbage datagrams and truncated handshakes are dropped without
an answer, a stream reset mid-body or an oversized header section ends that stream only, a body
over the limit gets 413; after each, the server still serves a fresh connection."""

from __future__ import annotations

import asyncio
import os
import random
import socket
from collections.abc import Iterator

import pytest
from aioquic.quic.connection import QuicConnection

from tests.conftest import Server, run_server
from tests.http3._h3 import HOST, RequestFailed, configuration, connect
from tests.http3.conftest import APP, h3_args
from tests.ops._tls import Certs

BODY_LIMIT = 256 * 1024


@pytest.fixture(scope='module')
def server(certs: Certs) -> Iterator[Server]:
    args = h3_args(certs, '--max-request-body-size', str(BODY_LIMIT), '--max-header-size', '8192')
    with run_server(*args, app=f'{APP}:asgi', interface='asginl') as running:
        yield running
        assert running.stop() == 0


def still_serves(server: Server, certs: Certs) -> None:
    async def main() -> None:
        async with connect(server.port, certs.ca) as client:
            response = await client.request('GET', '/')
            assert (response.status, response.body) == (200, b'hello')

    asyncio.run(main())
    assert server.proc.poll() is None


def unanswered(server: Server, datagrams: list[bytes]) -> None:
    """Send each datagram from one socket; the server must answer none of them."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, (HOST, server.port))
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            reply = sock.recv(65536)
            pytest.fail(f'the server answered {reply[:32]!r}')


def test_random_datagrams_are_dropped(server: Server, certs: Certs) -> None:
    rng = random.Random(9114)
    datagrams = []
    for _ in range(300):
        # Short headers and other non-QUIC bytes, below the size an Initial must have.
        datagrams.append(rng.randbytes(rng.randint(1, 1199)))
    for _ in range(100):
        # Long headers of QUIC version 1 with random connection IDs and undecryptable payloads.
        dcid = rng.randbytes(rng.choice((8, 12, 20)))
        head = bytes([0xC0 | rng.randint(0, 0x3F)]) + b'\x00\x00\x00\x01' + bytes([len(dcid)]) + dcid + b'\x08'
        datagrams.append(head + rng.randbytes(8 + 1300))
    unanswered(server, datagrams)
    still_serves(server, certs)


def test_truncated_initials_are_dropped(server: Server, certs: Certs) -> None:
    quic = QuicConnection(configuration=configuration(certs.ca))
    quic.connect((HOST, server.port), now=0.0)
    initial = quic.datagrams_to_send(now=0.0)[0][0]
    assert len(initial) >= 1200
    unanswered(server, [initial[:cut] for cut in (1, 5, 20, 64, 400, 1199)])
    still_serves(server, certs)


def test_stream_reset_mid_body(server: Server, certs: Certs) -> None:
    async def main() -> None:
        async with connect(server.port, certs.ca) as client:
            length = [(b'content-length', b'200000')]
            stream_id, response = client.start('POST', '/length', length, os.urandom(64 * 1024), end_stream=False)
            client.reset(stream_id)
            # RESET_STREAM ends the request body only (RFC 9000 §3.2): the application's read
            # fails, so it never counts the 200000 bytes declared; the server may still answer or
            # reset the response.
            try:
                answered = await asyncio.wait_for(response, 5.0)
            except RequestFailed as failed:
                assert failed.reason == 'reset', failed
            else:
                assert answered.body != b'200000', answered
            # The connection goes on.
            after = await client.request('GET', '/')
            assert (after.status, after.body) == (200, b'hello')

    asyncio.run(main())
    still_serves(server, certs)


def test_oversized_header_section(server: Server, certs: Certs) -> None:
    async def main() -> None:
        async with connect(server.port, certs.ca) as client:
            big = [(b'x-big', b'a' * 16 * 1024)]
            try:
                response = await client.request('GET', '/', big)
            except RequestFailed as failed:
                # A stream error is a valid answer too (RFC 9114 §4.2.2).
                assert failed.reason == 'reset', failed
            else:
                assert response.status == 431
            after = await client.request('GET', '/')
            assert after.status == 200

    asyncio.run(main())
    still_serves(server, certs)


@pytest.mark.parametrize('declared', [True, False], ids=['content-length', 'unsized'])
def test_body_over_the_limit_is_413(server: Server, certs: Certs, declared: bool) -> None:
    body = os.urandom(BODY_LIMIT + 1)
    headers = [(b'content-length', str(len(body)).encode())] if declared else []

    async def main() -> None:
        async with connect(server.port, certs.ca) as client:
            # The application reads the whole body before answering: the count passes the limit
            # first.
            response = await client.request('POST', '/length', headers, body)
            assert response.status == 413
            within = await client.request('POST', '/length', headers[:0], body[:BODY_LIMIT])
            assert (within.status, within.body) == (200, str(BODY_LIMIT).encode())

    asyncio.run(main())
    still_serves(server, certs)
