use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes};
use granian_serve::BodyError;
use h3::server::RequestStream;
use http::StatusCode;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;
use tokio::time::Sleep;

/// The receiving half of a request stream.
pub(crate) type RecvHalf = RequestStream<h3_quinn::RecvStream, Bytes>;

/// A request body read from its stream only as the interface asks for it: QUIC flow control then
/// holds the client back (it may send `initial_stream_window_size` bytes ahead), so a slow
/// application never makes the server buffer a body.
///
/// It enforces what h3 leaves to its user: the declared `content-length` (RFC 9114 §4.1.2: a body
/// of another length is malformed), the server's `max_body_size`, whose overflow it reports so
/// the request is answered 413, and the body read timeout, reported as 408.
pub(crate) struct RequestBody {
    /// Dropped as soon as the body ends or fails: a stream dropped before its end asks the client
    /// to stop sending (quinn's `STOP_SENDING`, code 0). h3-quinn would panic if asked to stop a
    /// stream explicitly while a read is outstanding, which h3 leaves after most of its reads.
    stream: Option<RecvHalf>,
    state: State,
    received: u64,
    declared: Option<u64>,
    limit: Option<u64>,
    /// Learns the status the request is to be refused with when the body fails on the server's
    /// account: 413 past `limit`, 408 past `read_timeout`.
    refusal: Option<oneshot::Sender<StatusCode>>,
    read_timeout: Option<Duration>,
    /// Armed while a read waits for the client; disarmed by each frame.
    waiting: Option<Pin<Box<Sleep>>>,
}

/// What [`RequestBody`] is bounded by besides its declared length.
#[derive(Debug, Default)]
pub(crate) struct BodyBounds {
    /// The most bytes read; `None` when the declared length already bounds it.
    pub(crate) limit: Option<u64>,
    /// The longest one read waits for the client.
    pub(crate) read_timeout: Option<Duration>,
    /// Where the refusal status goes.
    pub(crate) refusal: Option<oneshot::Sender<StatusCode>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Trailers,
    Done,
}

impl RequestBody {
    /// Read `stream`, which declared `declared` bytes, within `bounds`.
    pub(crate) fn new(stream: RecvHalf, declared: Option<u64>, bounds: BodyBounds) -> Self {
        Self {
            stream: Some(stream),
            state: State::Data,
            received: 0,
            declared,
            limit: bounds.limit,
            refusal: bounds.refusal,
            read_timeout: bounds.read_timeout,
            waiting: None,
        }
    }

    /// Report why the request is to be refused, if no one did yet.
    fn refuse(&mut self, status: StatusCode) {
        if let Some(refusal) = self.refusal.take() {
            let _ = refusal.send(status);
        }
    }

    /// After a read returned `Pending`: whether the client has kept it waiting past the read
    /// timeout (the timer starts with the first wait and is disarmed by each frame).
    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(limit) = self.read_timeout else {
            return false;
        };
        let timer = self.waiting.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        timer.as_mut().poll(cx).is_ready()
    }

    /// Stop reading and end the body with `error`.
    fn fail(&mut self, error: BodyError) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.state = State::Done;
        self.stream = None;
        Poll::Ready(Some(Err(error)))
    }

    /// Count `len` more bytes against the declared length and the limit.
    fn count(&mut self, len: usize) -> Result<(), BodyError> {
        self.received = self.received.saturating_add(len as u64);
        if self.declared.is_some_and(|declared| self.received > declared) {
            return Err(stream_error());
        }
        if let Some(limit) = self.limit
            && self.received > limit
        {
            self.refuse(StatusCode::PAYLOAD_TOO_LARGE);
            return Err(BodyError::TooLarge { limit });
        }
        Ok(())
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            let Some(stream) = this.stream.as_mut() else {
                return Poll::Ready(None);
            };
            match this.state {
                State::Data => {
                    let polled = stream.poll_recv_data(cx);
                    let Poll::Ready(polled) = polled else {
                        if this.timed_out(cx) {
                            this.refuse(StatusCode::REQUEST_TIMEOUT);
                            return this.fail(stream_error());
                        }
                        return Poll::Pending;
                    };
                    this.waiting = None;
                    match polled {
                        Ok(Some(mut data)) => {
                            let data = data.copy_to_bytes(data.remaining());
                            if let Err(error) = this.count(data.len()) {
                                return this.fail(error);
                            }
                            if !data.is_empty() {
                                return Poll::Ready(Some(Ok(Frame::data(data))));
                            }
                        }
                        Ok(None) => {
                            if this.declared.is_some_and(|declared| this.received != declared) {
                                return this.fail(stream_error());
                            }
                            this.state = State::Trailers;
                        }
                        // A reset (the client gave up on the request), a malformed frame or a
                        // lost connection; h3 has already acted on the stream.
                        Err(_) => return this.fail(stream_error()),
                    }
                }
                State::Trailers => {
                    let Poll::Ready(trailers) = stream.poll_recv_trailers(cx) else {
                        if this.timed_out(cx) {
                            this.refuse(StatusCode::REQUEST_TIMEOUT);
                            return this.fail(stream_error());
                        }
                        return Poll::Pending;
                    };
                    this.waiting = None;
                    this.state = State::Done;
                    this.stream = None;
                    return match trailers {
                        Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
                        Ok(None) => Poll::Ready(None),
                        Err(_) => Poll::Ready(Some(Err(stream_error()))),
                    };
                }
                State::Done => return Poll::Ready(None),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.state == State::Done || (self.state == State::Data && self.declared == Some(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.declared {
            Some(declared) if self.state == State::Data => SizeHint::with_exact(declared.saturating_sub(self.received)),
            _ => SizeHint::default(),
        }
    }
}

/// The error a request body ends with when its stream broke.
///
/// [`BodyError`] has one variant for transport failures, and it holds a hyper error: no value of
/// it can be made for an h3 stream. Until `granian_serve` grows a variant for other transports,
/// the stream error is reported as the one hyper error that can be made outside hyper (a
/// request without an upgrade). Interfaces act on the variant alone (a client gone mid-body);
/// only its text is off.
fn stream_error() -> BodyError {
    let mut no_upgrade = hyper::upgrade::on(http::Request::new(()));
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(&mut no_upgrade).poll(&mut cx) {
        Poll::Ready(Err(err)) => BodyError::Transport(err),
        // hyper resolves a request without an upgrade at once, with an error.
        Poll::Ready(Ok(_)) | Poll::Pending => BodyError::TooLarge { limit: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_errors_are_transport_errors() {
        assert!(matches!(stream_error(), BodyError::Transport(_)));
    }
}
