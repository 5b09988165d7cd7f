use std::future::Future;
use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::parse::{Parsed, parse};
use crate::{Error, ProxyHeader};

/// A connection whose received bytes can be looked at before they are taken off it (`MSG_PEEK`
/// on a socket), so that [`take`] reads the PROXY header and not one byte more.
pub trait Peek: AsyncRead + Unpin {
    /// Wait until some bytes are received (or the peer closed), then copy those received so far
    /// into `buf` without taking them off the connection; 0 once the peer closed. A later read
    /// returns the same bytes.
    fn peek(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send;
}

/// What one peek looks at: a version 2 header with the usual TLVs fits, a longer one takes more
/// rounds.
const WINDOW: usize = 512;

/// The longest header [`take`] accepts, TLVs included (as nginx: its `NGX_PROXY_PROTOCOL_MAX_HEADER`).
/// Version 2 allows 65,551 bytes; balancers send a few hundred at most.
pub const MAX_HEADER: usize = 4096;

/// Take the PROXY header off the start of `io`, leaving the bytes that follow it (the relayed
/// connection's first bytes) unread, so the protocol layers read the connection as if the header
/// had never been there. Bounded by the caller's timeout; a peer that closes inside the header
/// gets [`Error::Truncated`], one longer than [`MAX_HEADER`] [`Error::TooLarge`].
pub async fn take<I: Peek>(io: &mut I) -> Result<ProxyHeader, Error> {
    let mut header = Vec::with_capacity(WINDOW);
    let mut window = [0u8; WINDOW];
    loop {
        let peeked = io.peek(&mut window).await.map_err(|err| Error::Io(err.to_string()))?;
        if peeked == 0 {
            return Err(Error::Truncated);
        }
        let known = header.len();
        header.extend_from_slice(&window[..peeked]);
        // Every byte read here was peeked first, so it is there: the reads never wait.
        match parse(&header)? {
            Parsed::Complete(parsed, used) => {
                io.read_exact(&mut window[..used - known])
                    .await
                    .map_err(|err| Error::Io(err.to_string()))?;
                return Ok(parsed);
            }
            Parsed::Incomplete if header.len() >= MAX_HEADER => {
                return Err(Error::TooLarge { limit: MAX_HEADER });
            }
            Parsed::Incomplete => {
                // All of it belongs to the header. Taking it off also makes the next peek wait
                // for new bytes instead of seeing these again at once.
                io.read_exact(&mut window[..peeked])
                    .await
                    .map_err(|err| Error::Io(err.to_string()))?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Addresses, Command, TlsTlv, encode_v1, encode_v2};
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::ReadBuf;

    /// A connection whose bytes arrive in the chunks given, one chunk per peek at most, and
    /// which counts how often it was peeked at.
    struct Chunks {
        arrived: Vec<u8>,
        pending: VecDeque<Vec<u8>>,
        peeks: usize,
    }

    impl Chunks {
        fn new(chunks: &[&[u8]]) -> Self {
            Self {
                arrived: Vec::new(),
                pending: chunks.iter().map(|chunk| chunk.to_vec()).collect(),
                peeks: 0,
            }
        }
    }

    impl AsyncRead for Chunks {
        fn poll_read(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            let n = self.arrived.len().min(buf.remaining());
            let taken: Vec<u8> = self.arrived.drain(..n).collect();
            buf.put_slice(&taken);
            Poll::Ready(Ok(()))
        }
    }

    impl Peek for Chunks {
        async fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.peeks += 1;
            // Bytes already there are seen again; new ones only arrive when all were taken,
            // as a socket that was drained waits for the next segment.
            if self.arrived.is_empty()
                && let Some(chunk) = self.pending.pop_front()
            {
                self.arrived = chunk;
            }
            let n = self.arrived.len().min(buf.len());
            buf[..n].copy_from_slice(&self.arrived[..n]);
            Ok(n)
        }
    }

    fn proxied() -> ProxyHeader {
        ProxyHeader {
            command: Command::Proxy,
            addresses: Addresses::Inet {
                source: "192.0.2.7:40000".parse().unwrap(),
                destination: "10.0.0.1:8000".parse().unwrap(),
            },
            tls: Some(TlsTlv {
                client: TlsTlv::CLIENT_SSL,
                verify: 0,
                version: Some("TLSv1.3".into()),
            }),
            authority: None,
            alpn: None,
        }
    }

    #[tokio::test]
    async fn leaves_what_follows_unread() {
        let wire = [encode_v2(&proxied()), b"GET / HTTP/1.1\r\n\r\n".to_vec()].concat();
        let mut io = Chunks::new(&[&wire]);
        assert_eq!(take(&mut io).await.unwrap(), proxied());
        let mut rest = Vec::new();
        io.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"GET / HTTP/1.1\r\n\r\n");
    }

    #[tokio::test]
    async fn byte_by_byte_takes_one_peek_per_byte() {
        let mut header = proxied();
        header.tls = None;
        let wire = [encode_v1(&header), b"PRI".to_vec()].concat();
        let chunks: Vec<&[u8]> = wire.chunks(1).collect();
        let mut io = Chunks::new(&chunks);
        let taken = take(&mut io).await.unwrap();
        assert_eq!(taken.client(), Some("192.0.2.7:40000".parse().unwrap()));
        // Never a peek that sees only bytes already seen: no spinning on a slow peer.
        assert_eq!(io.peeks, encode_v1(&header).len());
        assert_eq!(io.pending.len(), 3, "the relayed bytes are left on the connection");
    }

    #[tokio::test]
    async fn refusals() {
        let mut io = Chunks::new(&[b"PROXY TCP4 1.2.3.4", b" 5.6"]);
        assert_eq!(take(&mut io).await, Err(Error::Truncated));
        let mut io = Chunks::new(&[b"GET / HTTP/1.1\r\n\r\n"]);
        assert_eq!(take(&mut io).await, Err(Error::Missing));
        // Nothing of a refused connection is read past the header it claimed to start with.
        assert_eq!(io.arrived, b"GET / HTTP/1.1\r\n\r\n");
        let mut io = Chunks::new(&[b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\nGET"]);
        assert!(matches!(take(&mut io).await, Err(Error::MalformedV1(_))));
    }

    #[tokio::test]
    async fn long_v2_headers_take_several_windows() {
        let mut header = proxied();
        header.authority = Some("a".repeat(1500));
        let wire = [encode_v2(&header), b"rest".to_vec()].concat();
        let mut io = Chunks::new(&[&wire]);
        assert_eq!(take(&mut io).await.unwrap(), header);
        let mut rest = Vec::new();
        io.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"rest");
        header.authority = Some("a".repeat(MAX_HEADER));
        let mut io = Chunks::new(&[&encode_v2(&header)]);
        assert_eq!(take(&mut io).await, Err(Error::TooLarge { limit: MAX_HEADER }));
    }
}
