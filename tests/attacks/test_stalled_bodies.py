"""Requests that announce a body and never send it: they must hold no request slot and no WSGI
thread, and the server must end each of them itself once the body read timeout has passed."""

from __future__ import annotations

import time

from tests.attacks._support import (
    MARGIN,
    REFUSED_STREAM,
    RSS_GROWTH_LIMIT,
    TIMEOUT,
    RawH2,
    answered,
    interface_of,
    open_connection,
    probe,
    read_until_closed,
    stats,
    wait_stats,
    worker_rss,
)
from tests.conftest import Server

# HTTP/1.1: one stalled request per connection, half declaring their length, half chunked.
CONNECTIONS = 200
DECLARED = b'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n' + b'x' * 10
CHUNKED = b'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'

# HTTP/2: 2,000 streams over 10 connections, as many as each connection may open (the default
# --http2-max-concurrent-streams), half with `content-length: 10`, half without.
H2_CONNECTIONS = 10
H2_STREAMS = 200
# The default --http2-max-receiving-streams: the streams of one connection taken at once.
RECEIVING = 64


def test_stalled_bodies_over_http1(server: Server) -> None:
    seen = stats(server.port)['upload_failed']
    before = worker_rss(server)
    attacked = time.monotonic()
    socks = [open_connection(server.port, CHUNKED if index % 2 else DECLARED) for index in range(CONNECTIONS)]
    try:
        probe(server.port)
        # Nothing is answered before the read timeout (on a loaded machine the probe itself may
        # take that long).
        early = answered(socks)
        assert not early or time.monotonic() - attacked >= TIMEOUT, 'a stalled body was answered early'
        peak = worker_rss(server)
        started = time.monotonic()
        deadline = started + TIMEOUT + MARGIN
        for sock in socks:
            answer, _ = read_until_closed(sock, deadline)
            assert answer.startswith(b'HTTP/1.1 408 '), answer[:200]
            assert b'\r\nconnection: close\r\n' in answer.lower(), answer[:200]
        peak = max(peak, worker_rss(server))
    finally:
        for sock in socks:
            sock.close()
    assert peak - before < RSS_GROWTH_LIMIT, (before, peak)
    # A declared body this small is read before the request takes a slot: the application never
    # sees those. A chunked one reaches ASGI and RSGI applications, which see a disconnect; a
    # WSGI application never sees it (a thread takes a request once its first 64 KiB arrived).
    reached = 0 if interface_of(server) == 'wsgi' else CONNECTIONS // 2
    assert wait_stats(server.port, 'upload_failed', seen + reached) == seen + reached
    probe(server.port)


def test_stalled_bodies_over_http2(server: Server) -> None:
    seen = stats(server.port)['upload_failed']
    before = worker_rss(server)
    attacked = time.monotonic()
    conns = [RawH2(server.port) for _ in range(H2_CONNECTIONS)]
    try:
        for conn in conns:
            frames = b''.join(
                conn.request(
                    1 + 2 * index,
                    'POST',
                    '/upload',
                    [('content-length', '10')] if index % 2 == 0 else [],
                    end=False,
                )
                for index in range(H2_STREAMS)
            )
            conn.sock.sendall(frames)
        probe(server.port)
        for conn in conns:
            conn.read(time.monotonic() + 0.05, until=lambda conn: bool(conn.statuses))
            early = bool(conn.statuses)
            assert not early or time.monotonic() - attacked >= TIMEOUT, 'a stalled body was answered early'
        peak = worker_rss(server)
        deadline = time.monotonic() + TIMEOUT + MARGIN
        for conn in conns:
            conn.read(deadline, until=lambda conn: len(set(conn.statuses) | set(conn.resets)) == H2_STREAMS)
            refused = sorted(stream for stream, code in conn.resets.items() if code == REFUSED_STREAM)
            timed_out = sorted(stream for stream, status in conn.statuses.items() if status == 408)
            # Beyond the first RECEIVING streams, each was refused at once (the client may retry
            # it); those taken got 408 once the read timeout passed.
            assert refused == [1 + 2 * index for index in range(RECEIVING, H2_STREAMS)], conn.resets
            assert timed_out == [1 + 2 * index for index in range(RECEIVING)], conn.statuses
        peak = max(peak, worker_rss(server))
    finally:
        for conn in conns:
            conn.close()
    assert peak - before < RSS_GROWTH_LIMIT, (before, peak)
    # Those without a length reached ASGI and RSGI applications, which saw a disconnect; none
    # reached a WSGI thread.
    reached = 0 if interface_of(server) == 'wsgi' else H2_CONNECTIONS * RECEIVING // 2
    assert wait_stats(server.port, 'upload_failed', seen + reached) == seen + reached
    probe(server.port)
