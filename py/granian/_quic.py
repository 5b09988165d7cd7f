"""The UDP sockets HTTP/3 is served on, and how each datagram reaches the worker that holds its
connection.

QUIC carries connections over datagrams: every datagram of a connection must reach the process
that holds its state. One socket shared by forked workers cannot do that (whichever worker reads
first gets the datagram), so each worker reads a socket of its own, all bound to the same
address and port with `SO_REUSEPORT`. The kernel's default choice among such sockets, a hash of
the addresses modulo the number of sockets, moves flows whenever a socket joins or leaves the
group, which rolling restarts, lifetime and request-count replacements and respawns all do.

Instead, the master binds the sockets, keeps every one open for its whole life (a socket's index
in the group is its position, which only a socket leaving would change) and attaches a classic
BPF program to the group (`SO_ATTACH_REUSEPORT_CBPF`) that picks the socket of each datagram:

* the connection IDs a worker issues start with the server's 16-bit `marker` and the index of
  the worker's socket (see `granian_http3::Steering`), so a datagram whose destination ID starts
  with the marker goes to the socket its next 16 bits name;
* any other datagram, in practice a client's first packets, whose destination ID the client drew
  at random (RFC 9000 §7.2), goes to one of the sockets of the workers taking new connections,
  picked from the first bytes of that ID: the same for every retransmission of the packet.

A worker's socket is given to one worker at a time. A successor gets another socket, and the
program sends new connections to it and no longer to the worker it replaces, whose established
connections keep reaching it while it drains. A socket whose worker exited is given to the next
worker that starts; datagrams still arriving for the old worker's connections are dropped by
the new one.

`SO_ATTACH_REUSEPORT_CBPF` is Linux's (since 4.5); elsewhere, or when the program cannot be
attached, the kernel's hash applies and the log says so. Indices then do not matter, and a socket
is closed once its worker exited: an open socket nobody reads would take its share of the hash.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
import sys
from collections.abc import Iterable, Sequence

__all__ = ['CID_LEN', 'UdpSockets', 'steering_program']

# Length of the connection IDs a steered worker issues (`granian_http3::STEERED_CID_LEN`).
CID_LEN = 12
# <asm-generic/socket.h>; Linux only.
SO_ATTACH_REUSEPORT_CBPF = 51

# Classic BPF opcodes (<linux/filter.h>).
_LD_W_ABS = 0x20
_LD_B_ABS = 0x30
_LD_W_LEN = 0x80
_ALU_RSH_K = 0x74
_ALU_AND_K = 0x54
_ALU_MOD_K = 0x94
_JMP_JA = 0x05
_JMP_JEQ_K = 0x15
_JMP_JGE_K = 0x35
_JMP_JSET_K = 0x45
_RET_K = 0x06
_RET_A = 0x16
_MISC_TAX = 0x07
_MISC_TXA = 0x87

Instruction = tuple[int, int, int, int]


def steering_program(marker: int, sockets: int, accepting: Sequence[int]) -> list[Instruction]:
    """The classic BPF program steering the datagrams of a group of `sockets` UDP sockets: a
    datagram whose destination connection ID starts with `marker` goes to the socket index that
    follows it (when below `sockets`), any other to one of `accepting`, by its ID's first bytes.

    The program runs on the UDP payload. RFC 9000 §17: a long header (first bit set) has the
    destination ID's length at byte 5 and the ID from byte 6; a short header has the ID from
    byte 1. A datagram too short to hold those bytes goes to the first accepting socket (it is
    not QUIC: the worker drops it).
    """
    if not accepting:
        raise ValueError('steering needs at least one socket taking new connections')
    program: list[Instruction] = [
        (_LD_W_LEN, 0, 0, 0),  # 0: A = payload length
        (_JMP_JGE_K, 1, 0, 5),  # 1: long enough for a short header's ID prefix?
        (_RET_K, 0, 0, accepting[0]),  # 2
        (_LD_B_ABS, 0, 0, 0),  # 3: A = first byte
        (_JMP_JSET_K, 2, 0, 0x80),  # 4: long header -> 7
        (_LD_W_ABS, 0, 0, 1),  # 5: A = short header's ID, first four bytes
        (_JMP_JA, 0, 0, 4),  # 6: -> 11
        (_LD_W_LEN, 0, 0, 0),  # 7
        (_JMP_JGE_K, 1, 0, 10),  # 8: long enough for a long header's ID prefix?
        (_RET_K, 0, 0, accepting[0]),  # 9
        (_LD_W_ABS, 0, 0, 6),  # 10: A = long header's ID, first four bytes
        (_MISC_TAX, 0, 0, 0),  # 11: X = the ID's first four bytes
        (_ALU_RSH_K, 0, 0, 16),  # 12: A = its first two: the marker?
        (_JMP_JEQ_K, 0, 4, marker),  # 13: not ours -> 18
        (_MISC_TXA, 0, 0, 0),  # 14
        (_ALU_AND_K, 0, 0, 0xFFFF),  # 15: A = the socket index
        (_JMP_JGE_K, 1, 0, sockets),  # 16: no such socket -> 18
        (_RET_A, 0, 0, 0),  # 17
        (_MISC_TXA, 0, 0, 0),  # 18: a new connection
        (_ALU_MOD_K, 0, 0, len(accepting)),  # 19
    ]
    for position, index in enumerate(accepting[:-1]):
        program.append((_JMP_JEQ_K, 0, 1, position))
        program.append((_RET_K, 0, 0, index))
    program.append((_RET_K, 0, 0, accepting[-1]))
    return program


class _SockFprog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]


def _attach(sock: socket.socket, program: list[Instruction]) -> None:
    code = b''.join(struct.pack('=HBBI', *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = _SockFprog(len(program), ctypes.addressof(buffer))
    # The kernel copies the program during the call; `buffer` outlives it.
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, bytes(fprog))


class UdpSockets:
    """The master's `SO_REUSEPORT` group of UDP sockets on one address and port (see the module
    doc). `acquire` gives a worker a socket no living worker holds, binding a new one when all
    are held; `release` takes it back; `steer` points new connections at the given sockets."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        # The first two bytes of every connection ID the workers issue. From os.urandom, as
        # `secrets` would give them, without loading OpenSSL into the master for two bytes.
        self.marker = int.from_bytes(os.urandom(2), 'big')
        # By index in the group; None for a socket closed (only ever without steering).
        self._sockets: list[socket.socket | None] = []
        self._held: set[int] = set()
        # What the attached program was made for: the accepting sockets and the group's size.
        self._steered: tuple[tuple[int, ...], int] | None = None
        self.steering = sys.platform.startswith('linux')
        self._bind()

    def _bind(self, slot: int | None = None) -> int:
        if slot is None and len(self._sockets) >= 1 << 16:
            raise OSError('no more HTTP/3 sockets: 65536 are open')
        family = socket.AF_INET6 if ':' in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                # Dual-stack where the system allows it, as the TCP listener.
                try:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                except OSError:
                    pass
            sock.bind((self.host, self.port))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        if not self._sockets:
            # Port 0 asked the first socket to pick one; the others join it there.
            self.port = sock.getsockname()[1]
        if slot is not None:
            self._sockets[slot] = sock
            return slot
        self._sockets.append(sock)
        return len(self._sockets) - 1

    @property
    def sockets(self) -> int:
        return len(self._sockets)

    def socket(self, index: int) -> socket.socket:
        sock = self._sockets[index]
        assert sock is not None, index
        return sock

    def fds(self) -> list[int]:
        """The descriptors of the open sockets, by index (-1 for a closed one)."""
        return [-1 if sock is None else sock.fileno() for sock in self._sockets]

    def acquire(self) -> int:
        """A socket no worker holds, now held."""
        index = next((i for i, sock in enumerate(self._sockets) if sock is not None and i not in self._held), None)
        if index is None:
            closed = next((i for i, sock in enumerate(self._sockets) if sock is None), None)
            index = self._bind(closed)
        self._held.add(index)
        return index

    def release(self, index: int) -> None:
        self._held.discard(index)
        sock = self._sockets[index]
        if not self.steering and sock is not None and self._sockets.count(None) < len(self._sockets) - 1:
            # Without steering, indices do not matter, and a socket nobody reads would still
            # get its share of the kernel's hash: new connections hashed to it would go unheard.
            sock.close()
            self._sockets[index] = None

    def steer(self, accepting: Iterable[int]) -> None:
        """Send new connections to the sockets `accepting`; connections already established
        keep reaching their socket. Raises `OSError` when the kernel refuses the program."""
        chosen = tuple(sorted(set(accepting)))
        wanted = (chosen, len(self._sockets))
        if not self.steering or not chosen or wanted == self._steered:
            return
        _attach(self.socket(0), steering_program(self.marker, len(self._sockets), chosen))
        self._steered = wanted

    def close(self) -> None:
        for sock in self._sockets:
            if sock is not None:
                sock.close()
        self._sockets.clear()
        self._held.clear()
