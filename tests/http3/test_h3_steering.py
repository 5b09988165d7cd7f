"""The master's UDP socket group and its BPF program (`granian._quic`), on real sockets: each
datagram lands on the socket its connection ID names, and new connections only on the sockets
taking them."""

from __future__ import annotations

import os
import select
import socket
import struct
import sys
from collections.abc import Iterator

import pytest
from granian._quic import CID_LEN, UdpSockets, steering_program

pytestmark = pytest.mark.skipif(not sys.platform.startswith('linux'), reason='SO_ATTACH_REUSEPORT_CBPF is Linux')


@pytest.fixture
def group() -> Iterator[UdpSockets]:
    sockets = UdpSockets('127.0.0.1', 0)
    for _ in range(4):
        sockets.acquire()
    assert sockets.sockets == 4
    yield sockets
    sockets.close()


def landed(group: UdpSockets, datagram: bytes) -> int:
    """The index of the socket that received `datagram`."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.sendto(datagram, ('127.0.0.1', group.port))
    members = [group.socket(index) for index in range(group.sockets)]
    ready, _, _ = select.select(members, [], [], 2.0)
    assert len(ready) == 1, ready
    ready[0].recv(65536)
    return members.index(ready[0])


def short(marker: int, index: int) -> bytes:
    return b'\x40' + struct.pack('>HH', marker, index) + os.urandom(CID_LEN - 4) + os.urandom(40)


def long(dcid: bytes) -> bytes:
    return b'\xc0\x00\x00\x00\x01' + bytes([len(dcid)]) + dcid + b'\x08' + os.urandom(8) + os.urandom(1200)


def test_connection_ids_name_their_socket(group: UdpSockets) -> None:
    group.steer([2, 3])
    for index in (0, 1, 2, 3, 1):
        cid = struct.pack('>HH', group.marker, index) + os.urandom(CID_LEN - 4)
        assert landed(group, short(group.marker, index)) == index
        assert landed(group, long(cid)) == index


def test_new_connections_go_to_accepting_sockets_only(group: UdpSockets) -> None:
    group.steer([1, 3])
    seen = set()
    for _ in range(40):
        dcid = os.urandom(8)
        first = landed(group, long(dcid))
        # A retransmitted Initial carries the same ID: the same socket.
        assert landed(group, long(dcid)) == first
        seen.add(first)
    assert seen == {1, 3}
    # Another marker, an index beyond the group, or a datagram too short: an accepting socket.
    assert landed(group, short(group.marker ^ 0xFFFF, 0)) in {1, 3}
    assert landed(group, short(group.marker, 9)) in {1, 3}
    assert landed(group, b'\x40') in {1, 3}


def test_steering_follows_the_accepting_set(group: UdpSockets) -> None:
    group.steer([0])
    assert {landed(group, long(os.urandom(8))) for _ in range(10)} == {0}
    group.steer([2])
    assert {landed(group, long(os.urandom(8))) for _ in range(10)} == {2}
    # Established connections of socket 0 still reach it.
    assert landed(group, short(group.marker, 0)) == 0


def test_released_sockets_are_reused_before_binding_more(group: UdpSockets) -> None:
    group.release(1)
    assert group.acquire() == 1
    assert group.acquire() == 4
    assert group.sockets == 5


def test_program_size_stays_within_bpf_limits() -> None:
    program = steering_program(0x1234, 2000, list(range(1000)))
    # BPF_MAXINSNS; every jump of the program is short.
    assert len(program) <= 4096
    assert all(jt <= 255 and jf <= 255 for _, jt, jf, _ in program)
    with pytest.raises(ValueError):
        steering_program(1, 1, [])


def test_without_steering_released_sockets_close(group: UdpSockets) -> None:
    # Where the program cannot be attached, the kernel's hash picks among the open sockets: one
    # nobody reads would take its share of new connections unheard, so it is closed.
    group.steering = False
    group.release(2)
    assert group.fds()[2] == -1
    assert group.acquire() == 2
    assert group.fds()[2] >= 0
    assert group.sockets == 4
