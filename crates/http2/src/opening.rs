//! The client's half of the connection preface (RFC 9113 §3.4): the 24 octets of [`PREFACE`]
//! and a SETTINGS frame. hyper tells nobody when they have arrived, so [`Opening`] counts the
//! bytes read through it and says so once the first frame after the preface is complete;
//! [`serve_connection`](crate::serve_connection) drops a connection whose opening does not
//! arrive in time. It only counts: hyper checks the preface and that the frame is SETTINGS.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::oneshot;

use crate::PREFACE;

/// The preface and a frame header.
const HEAD: usize = PREFACE.len() + 9;

/// A connection's input, watched until the client's opening has passed through.
#[derive(Debug)]
pub(crate) struct Opening<I> {
    inner: I,
    /// Bytes read so far, until the opening is complete.
    seen: usize,
    /// The first frame's header, as it arrives.
    header: [u8; 9],
    /// Told once the opening is complete; `None` after.
    done: Option<oneshot::Sender<()>>,
}

impl<I> Opening<I> {
    /// Watch `inner`; the receiver completes once the preface and the first frame were read.
    pub(crate) fn new(inner: I) -> (Self, oneshot::Receiver<()>) {
        let (done, opened) = oneshot::channel();
        let opening = Self {
            inner,
            seen: 0,
            header: [0; 9],
            done: Some(done),
        };
        (opening, opened)
    }

    /// Count `data`, just read.
    fn absorb(&mut self, data: &[u8]) {
        let start = self.seen;
        self.seen += data.len();
        // The part of `data` that falls within the frame header.
        let from = start.max(PREFACE.len());
        let to = self.seen.min(HEAD);
        if from < to {
            self.header[from - PREFACE.len()..to - PREFACE.len()].copy_from_slice(&data[from - start..to - start]);
        }
        if self.seen < HEAD {
            return;
        }
        let length = usize::from(self.header[0]) << 16 | usize::from(self.header[1]) << 8 | usize::from(self.header[2]);
        if self.seen >= HEAD + length
            && let Some(done) = self.done.take()
        {
            let _ = done.send(());
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Opening<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.done.is_none() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.absorb(&buf.filled()[before..]);
        }
        polled
    }
}

granian_serve::write_through!(Opening);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The preface, a SETTINGS frame with `payload` bytes, and a PING after it.
    fn opening(payload: usize) -> Vec<u8> {
        let mut bytes = PREFACE.to_vec();
        let length = u32::try_from(payload).unwrap().to_be_bytes();
        bytes.extend_from_slice(&[length[1], length[2], length[3], 4, 0, 0, 0, 0, 0]);
        bytes.extend(std::iter::repeat_n(0u8, payload));
        bytes.extend_from_slice(&[0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        bytes
    }

    /// Feed `bytes` in pieces of `sizes` (cycled); how many bytes it took to be told.
    fn told_after(bytes: &[u8], sizes: &[usize]) -> Option<usize> {
        let (mut watched, mut opened) = Opening::new(());
        let mut fed = 0;
        for size in sizes.iter().cycle() {
            if fed >= bytes.len() {
                return None;
            }
            let end = (fed + size).min(bytes.len());
            watched.absorb(&bytes[fed..end]);
            fed = end;
            if opened.try_recv().is_ok() {
                return Some(fed);
            }
        }
        None
    }

    #[test]
    fn told_once_the_settings_frame_is_complete() {
        for payload in [0, 6, 36] {
            let bytes = opening(payload);
            let whole = HEAD + payload;
            assert_eq!(told_after(&bytes[..whole - 1], &[1]), None, "{payload}");
            assert_eq!(told_after(&bytes, &[1]), Some(whole), "{payload}");
            assert_eq!(told_after(&bytes, &[bytes.len()]), Some(bytes.len()), "{payload}");
        }
    }

    proptest! {
        #[test]
        fn any_split_tells_at_the_end_of_the_frame(payload in 0usize..64, sizes in prop::collection::vec(1usize..40, 1..8)) {
            let bytes = opening(payload);
            let told = told_after(&bytes, &sizes).expect("told");
            prop_assert!(told >= HEAD + payload);
            // Told in the read that completed the frame: no read ended past it without telling.
            prop_assert!(told - HEAD - payload < *sizes.iter().max().unwrap());
        }
    }
}
