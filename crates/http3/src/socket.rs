use std::io;
use std::net::{SocketAddr, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

/// Bind a UDP socket for one worker's HTTP/3 endpoint.
///
/// With `reuse_port`, `SO_REUSEPORT` is set before binding so that every worker binds its own
/// socket to the same address; the kernel then hands each datagram to one of them by a hash of
/// its source and destination addresses, which keeps a client's datagrams on one worker as long
/// as its address does not change (see the crate's front page for what breaks that). An IPv6
/// address is bound dual-stack where the system allows it, as the TCP listeners are.
pub fn bind_udp(addr: SocketAddr, reuse_port: bool) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        // Some systems refuse dual-stack sockets; an IPv6-only one still serves.
        let _ = socket.set_only_v6(false);
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_port_lets_two_sockets_share_an_address() {
        let first = bind_udp("127.0.0.1:0".parse().unwrap(), true).unwrap();
        let addr = first.local_addr().unwrap();
        let second = bind_udp(addr, true).unwrap();
        assert_eq!(second.local_addr().unwrap(), addr);
    }

    #[test]
    fn without_reuse_port_the_address_is_taken() {
        let first = bind_udp("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let addr = first.local_addr().unwrap();
        assert!(bind_udp(addr, false).is_err());
    }
}
