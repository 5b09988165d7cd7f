use tokio::io::{AsyncRead, AsyncReadExt};

use crate::parse::{MAX_V1_LEN, Parsed, parse};
use crate::{Error, ProxyHeader};

/// Read the PROXY header at the start of `io`: the header, and the bytes read past it (the
/// first bytes of the relayed connection, to be replayed to the protocol). Bounded by the
/// caller's timeout; a peer that closes inside the header gets [`Error::Truncated`].
pub async fn read<I: AsyncRead + Unpin>(io: &mut I) -> Result<(ProxyHeader, Vec<u8>), Error> {
    let mut buffer = Vec::with_capacity(MAX_V1_LEN);
    let mut chunk = [0u8; 512];
    loop {
        match parse(&buffer)? {
            Parsed::Complete(header, used) => return Ok((header, buffer.split_off(used))),
            Parsed::Incomplete => {}
        }
        // A version 2 header says its length after 16 bytes; until then, and for version 1,
        // small reads keep what is read past the header to a few hundred bytes.
        let read = io.read(&mut chunk).await.map_err(|err| Error::Io(err.to_string()))?;
        if read == 0 {
            return Err(Error::Truncated);
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hands_back_what_follows() {
        let mut input: &[u8] = b"PROXY TCP4 1.2.3.4 5.6.7.8 10 20\r\nGET / HTTP/1.1\r\n\r\n";
        let (header, rest) = read(&mut input).await.unwrap();
        assert_eq!(header.client(), Some("1.2.3.4:10".parse().unwrap()));
        assert_eq!(rest, b"GET / HTTP/1.1\r\n\r\n");
    }

    #[tokio::test]
    async fn truncated_and_missing() {
        let mut input: &[u8] = b"PROXY TCP4 1.2.3.4";
        assert_eq!(read(&mut input).await, Err(Error::Truncated));
        let mut input: &[u8] = b"GET / HTTP/1.1\r\n\r\n";
        assert_eq!(read(&mut input).await, Err(Error::Missing));
    }
}
