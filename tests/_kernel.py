"""What the kernel reports about sockets, read without external tools.

`listeners` asks sock_diag over netlink for the IPv4 TCP sockets listening on a port, with the
address each is bound to and its backlog (what `ss -ltn` shows as Local Address and Send-Q);
`listener_inodes` gives their inode numbers, which `/proc/PID/fd` links name (`socket:[N]`).
`data_segments_in` reads `TCP_INFO` on a client socket for the number of segments that carried
data, which tells how many writes the server's bytes arrived in.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

# linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
TCP_LISTEN = 10

_NLMSG = struct.Struct('=IHHII')
# inet_diag_req_v2: family, protocol, ext, pad, states, then a zeroed 48-byte inet_diag_sockid.
_REQUEST = struct.Struct('=BBBxI48x')
# inet_diag_msg: family, state, timer, retrans (4 bytes), then inet_diag_sockid, which opens with
# the source port in network order, then the destination port and the source address (16 bytes,
# the first 4 for IPv4); after the 48-byte sockid come expires, rqueue and wqueue (for a listening
# socket: its accept queue length and limit).
_SPORT = struct.Struct('!H')
_SPORT_OFFSET = 4
_SRC_OFFSET = 4 + 4
_WQUEUE = struct.Struct('=I')
_WQUEUE_OFFSET = 4 + 48 + 8
# ... then the owner's uid and the socket's inode.
_INODE_OFFSET = 4 + 48 + 16

# struct tcp_info (linux/tcp.h): tcpi_data_segs_in is the u32 at this offset (Linux 4.6+).
_TCPI_DATA_SEGS_IN = 152
_TCP_INFO_SIZE = 232


@dataclass(frozen=True)
class Listener:
    address: str
    backlog: int


def listeners(port: int) -> list[Listener]:
    """The IPv4 TCP sockets listening on `port`: their address and backlog (accept queue limit)."""
    return [Listener(address, backlog) for address, backlog, _ in _listening(port)]


def listener_inodes(port: int) -> list[int]:
    """The inode numbers of the IPv4 TCP sockets listening on `port`."""
    return [inode for _, _, inode in _listening(port)]


def _listening(port: int) -> list[tuple[str, int, int]]:
    """(address, backlog, inode) of each IPv4 TCP socket listening on `port`."""
    request = _REQUEST.pack(socket.AF_INET, socket.IPPROTO_TCP, 0, 1 << TCP_LISTEN)
    header = _NLMSG.pack(_NLMSG.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
    found: list[tuple[str, int, int]] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as sock:
        sock.settimeout(5.0)
        sock.sendall(header + request)
        while True:
            data = sock.recv(65536)
            offset = 0
            while offset + _NLMSG.size <= len(data):
                length, kind, _, _, _ = _NLMSG.unpack_from(data, offset)
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    raise OSError('sock_diag refused the request')
                body = offset + _NLMSG.size
                if _SPORT.unpack_from(data, body + _SPORT_OFFSET)[0] == port:
                    address = socket.inet_ntoa(data[body + _SRC_OFFSET : body + _SRC_OFFSET + 4])
                    backlog = _WQUEUE.unpack_from(data, body + _WQUEUE_OFFSET)[0]
                    found.append((address, backlog, _WQUEUE.unpack_from(data, body + _INODE_OFFSET)[0]))
                offset += (length + 3) & ~3


def data_segments_in(sock: socket.socket) -> int:
    """How many TCP segments carrying data `sock` has received."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    return struct.unpack_from('=I', info, _TCPI_DATA_SEGS_IN)[0]
