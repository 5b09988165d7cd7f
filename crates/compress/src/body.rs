use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use granian_serve::{BodyAborted, ResponseBody};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

use crate::encoder::Encoder;

/// Compressed output handed on without waiting for a pause, so a fast producer's response goes
/// out in frames of about this size.
const EMIT_AT: usize = 32 * 1024;
/// Input compressed in one poll before yielding to the runtime, so a large body that compresses
/// to almost nothing does not hold a worker thread.
const YIELD_AFTER: usize = 1024 * 1024;

/// A body compressed on its way out: what the inner body yields goes through the encoder, and
/// whenever the inner body has nothing ready the encoder is flushed, so a streamed response
/// (server-sent events, a slow generator) reaches the client chunk by chunk. Nothing is held
/// beyond the encoder's own window and one frame of output. A trailer section goes out after the
/// end of the compressed stream, untouched.
pub(crate) struct CompressedBody {
    inner: ResponseBody,
    /// `None` once the stream is finished.
    encoder: Option<Encoder>,
    /// Input went in since the last flush.
    unflushed: bool,
    /// The inner body's trailer section, held until the compressed stream has ended.
    trailers: Option<HeaderMap>,
}

impl CompressedBody {
    pub(crate) fn new(inner: ResponseBody, encoder: Encoder) -> Self {
        Self {
            inner,
            encoder: Some(encoder),
            unflushed: false,
            trailers: None,
        }
    }
}

fn data(bytes: Bytes) -> Poll<Option<Result<Frame<Bytes>, BodyAborted>>> {
    Poll::Ready(Some(Ok(Frame::data(bytes))))
}

fn aborted() -> Poll<Option<Result<Frame<Bytes>, BodyAborted>>> {
    Poll::Ready(Some(Err(BodyAborted)))
}

impl Body for CompressedBody {
    type Data = Bytes;
    type Error = BodyAborted;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyAborted>>> {
        let this = self.get_mut();
        let mut consumed = 0;
        loop {
            let Some(encoder) = this.encoder.as_mut() else {
                return Poll::Ready(this.trailers.take().map(|trailers| Ok(Frame::trailers(trailers))));
            };
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let chunk = match frame.into_data() {
                        Ok(chunk) => chunk,
                        // The trailer section ends the inner body; it follows the compressed
                        // stream's own end.
                        Err(frame) => {
                            this.trailers = frame.into_trailers().ok();
                            continue;
                        }
                    };
                    if encoder.write(&chunk).is_err() {
                        this.encoder = None;
                        return aborted();
                    }
                    this.unflushed |= !chunk.is_empty();
                    consumed += chunk.len();
                    if encoder.buffered() >= EMIT_AT {
                        return data(encoder.take());
                    }
                    if consumed >= YIELD_AFTER {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
                Poll::Ready(Some(Err(err))) => {
                    this.encoder = None;
                    return Poll::Ready(Some(Err(err)));
                }
                Poll::Ready(None) => {
                    let Some(encoder) = this.encoder.take() else {
                        return Poll::Ready(None);
                    };
                    return match encoder.finish() {
                        Ok(rest) if rest.is_empty() => {
                            Poll::Ready(this.trailers.take().map(|trailers| Ok(Frame::trailers(trailers))))
                        }
                        Ok(rest) => data(rest),
                        Err(_) => aborted(),
                    };
                }
                Poll::Pending => {
                    if !this.unflushed {
                        return Poll::Pending;
                    }
                    this.unflushed = false;
                    if encoder.flush().is_err() {
                        this.encoder = None;
                        return aborted();
                    }
                    let output = encoder.take();
                    // The inner body has registered for a wake-up; output or not, the caller
                    // polls again when it has more.
                    return if output.is_empty() { Poll::Pending } else { data(output) };
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.encoder.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.encoder.is_none() {
            SizeHint::with_exact(0)
        } else {
            SizeHint::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http_body_util::BodyExt;

    use super::*;
    use crate::Encoding;
    use crate::encoder::tests::decode;

    #[tokio::test]
    async fn streamed_body_round_trips() {
        for encoding in Encoding::ALL {
            let (tx, inner) = ResponseBody::channel(4);
            let body = CompressedBody::new(inner, Encoder::new(encoding).unwrap());
            let producer = tokio::spawn(async move {
                for index in 0..50 {
                    assert!(tx.send(Bytes::from(format!("line {index}\n").repeat(20))).await);
                }
            });
            let compressed = body.collect().await.unwrap().to_bytes();
            producer.await.unwrap();
            let expected: String = (0..50).map(|index| format!("line {index}\n").repeat(20)).collect();
            assert_eq!(decode(encoding, &compressed), expected.as_bytes(), "{encoding:?}");
        }
    }

    #[tokio::test]
    async fn each_chunk_goes_out_before_the_next_arrives() {
        for encoding in Encoding::ALL {
            let (tx, inner) = ResponseBody::channel(1);
            let mut body = CompressedBody::new(inner, Encoder::new(encoding).unwrap());
            assert!(tx.send(Bytes::from_static(b"event: one\n\n")).await);
            // The producer pauses: the first chunk must come out on its own, decodable.
            let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
                .await
                .expect("first chunk held back")
                .unwrap()
                .unwrap()
                .into_data()
                .unwrap();
            let mut stream = first.to_vec();
            assert!(tx.send(Bytes::from_static(b"event: two\n\n")).await);
            drop(tx);
            while let Some(frame) = body.frame().await {
                stream.extend_from_slice(&frame.unwrap().into_data().unwrap());
            }
            assert_eq!(
                decode(encoding, &stream),
                b"event: one\n\nevent: two\n\n",
                "{encoding:?}"
            );
            assert!(body.is_end_stream());
        }
    }

    #[tokio::test]
    async fn trailers_follow_the_compressed_stream() {
        for encoding in Encoding::ALL {
            let (tx, inner) = ResponseBody::channel(4);
            let body = CompressedBody::new(inner, Encoder::new(encoding).unwrap());
            assert!(tx.send(Bytes::from_static(b"payload ").repeat(64).into()).await);
            let mut trailers = HeaderMap::new();
            trailers.insert("x-digest", http::HeaderValue::from_static("sha-256=abc"));
            tx.finish(trailers);
            drop(tx);
            let collected = body.collect().await.unwrap();
            assert_eq!(collected.trailers().unwrap()["x-digest"], "sha-256=abc", "{encoding:?}");
            assert_eq!(
                decode(encoding, &collected.to_bytes()),
                b"payload ".repeat(64),
                "{encoding:?}"
            );
        }
    }

    #[tokio::test]
    async fn abort_passes_through() {
        let (tx, inner) = ResponseBody::channel(2);
        let body = CompressedBody::new(inner, Encoder::new(Encoding::Gzip).unwrap());
        assert!(tx.send(Bytes::from_static(b"partial")).await);
        tx.abort();
        drop(tx);
        assert!(body.collect().await.is_err());
    }

    #[tokio::test]
    async fn large_full_body_comes_out_in_frames() {
        let text = Bytes::from(b"0123456789abcdef".repeat(256 * 1024));
        let mut body = CompressedBody::new(ResponseBody::full(text.clone()), Encoder::new(Encoding::Zstd).unwrap());
        let mut stream = Vec::new();
        let mut frames = 0;
        while let Some(frame) = body.frame().await {
            stream.extend_from_slice(&frame.unwrap().into_data().unwrap());
            frames += 1;
        }
        assert!(frames >= 1);
        assert_eq!(decode(Encoding::Zstd, &stream), text);
    }
}
