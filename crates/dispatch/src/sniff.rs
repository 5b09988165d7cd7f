use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use granian_http2::PREFACE;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// Which protocol a connection speaks, told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// Anything that is not the HTTP/2 preface.
    Http1,
    /// The HTTP/2 connection preface.
    Http2,
}

/// Classify the first bytes of a connection; `None` while they are still a strict prefix of
/// the preface and more are needed to tell.
#[must_use]
pub fn classify(prefix: &[u8]) -> Option<Sniffed> {
    let n = prefix.len().min(PREFACE.len());
    if prefix[..n] != PREFACE[..n] {
        Some(Sniffed::Http1)
    } else if n == PREFACE.len() {
        Some(Sniffed::Http2)
    } else {
        None
    }
}

/// Read just enough of `io` to classify it, and hand back a reader that replays those bytes
/// first. A peer that closes early is classified as HTTP/1.1, whose layer closes cleanly.
pub async fn sniff<I>(mut io: I) -> io::Result<(Sniffed, Prefixed<I>)>
where
    I: AsyncRead + Unpin,
{
    let mut buffer = Vec::with_capacity(PREFACE.len());
    loop {
        if let Some(sniffed) = classify(&buffer) {
            return Ok((sniffed, Prefixed::new(buffer, io)));
        }
        let mut chunk = [0u8; PREFACE.len()];
        let wanted = PREFACE.len() - buffer.len();
        let read = io.read(&mut chunk[..wanted]).await?;
        if read == 0 {
            return Ok((Sniffed::Http1, Prefixed::new(buffer, io)));
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// An I/O object whose first reads come from bytes already taken off it.
#[derive(Debug)]
pub struct Prefixed<I> {
    prefix: Vec<u8>,
    offset: usize,
    inner: I,
}

impl<I> Prefixed<I> {
    fn new(prefix: Vec<u8>, inner: I) -> Self {
        Self {
            prefix,
            offset: 0,
            inner,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.offset < this.prefix.len() {
            let rest = &this.prefix[this.offset..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.offset += n;
            if this.offset == this.prefix.len() {
                this.prefix = Vec::new();
                this.offset = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

granian_serve::write_through!(Prefixed);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_prefixes() {
        assert_eq!(classify(b""), None);
        assert_eq!(classify(b"PRI * HTTP/2.0"), None);
        assert_eq!(classify(b"GET / HTTP/1.1\r\n"), Some(Sniffed::Http1));
        assert_eq!(classify(b"PUT"), Some(Sniffed::Http1));
        assert_eq!(classify(PREFACE), Some(Sniffed::Http2));
    }

    #[tokio::test]
    async fn replays_sniffed_bytes() {
        let input: &[u8] = b"GET / HTTP/1.1\r\n\r\n";
        let (sniffed, mut io) = sniff(input).await.unwrap();
        assert_eq!(sniffed, Sniffed::Http1);
        let mut all = Vec::new();
        io.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, input);
    }

    #[tokio::test]
    async fn early_close_is_http1() {
        let (sniffed, _) = sniff(&b"PRI"[..]).await.unwrap();
        assert_eq!(sniffed, Sniffed::Http1);
    }
}
