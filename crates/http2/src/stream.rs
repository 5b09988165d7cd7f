//! The future hyper's stream task polls for a stream's response: the interface's answer (or the
//! server's own), with the `Server` header, counted in flight until its body is done, and its
//! body reporting to the stream's send watch.
//!
//! A struct rather than an `async` block: a block that awaits a future it captured keeps room
//! for it twice, and the stream's task, which holds this future, is copied whole when spawned.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use granian_serve::{InFlightGuard, ResponseBody, TrackedBody, add_default_headers};
use http::{HeaderValue, Response};

use crate::send::{Outgoing, SendWatch, TunnelSlot, current_stream};

/// The headers every response gets unless it has its own (see [`add_default_headers`]).
#[derive(Debug, Clone)]
pub(crate) struct DefaultHeaders {
    pub(crate) server: Option<HeaderValue>,
    pub(crate) alt_svc: Option<HeaderValue>,
}

/// What a stream answers with.
pub(crate) type StreamBody = Outgoing<TrackedBody<ResponseBody>>;

pin_project_lite::pin_project! {
    pub(crate) struct StreamResponse<F> {
        // The interface's answer; `None` when the server answers itself (`early`).
        #[pin]
        response: Option<F>,
        early: Option<Result<Response<ResponseBody>, h2::Error>>,
        // Taken on the first poll, on the stream's own task.
        watch: Option<Option<Arc<SendWatch>>>,
        tunnel: Option<Arc<TunnelSlot>>,
        guard: Option<InFlightGuard>,
        headers: DefaultHeaders,
    }
}

impl<F> StreamResponse<F> {
    /// The interface's `response` to a stream counted by `guard`; `tunnel` when the stream becomes
    /// one.
    pub(crate) fn new(
        response: F,
        guard: InFlightGuard,
        tunnel: Option<Arc<TunnelSlot>>,
        headers: DefaultHeaders,
    ) -> Self {
        Self {
            response: Some(response),
            early: None,
            watch: None,
            tunnel,
            guard: Some(guard),
            headers,
        }
    }

    /// The server's own answer (or a refusal of the stream) instead of the interface's.
    pub(crate) fn early(
        early: Result<Response<ResponseBody>, h2::Error>,
        guard: InFlightGuard,
        headers: DefaultHeaders,
    ) -> Self {
        Self {
            response: None,
            early: Some(early),
            watch: None,
            tunnel: None,
            guard: Some(guard),
            headers,
        }
    }
}

impl<F> Future for StreamResponse<F>
where
    F: Future<Output = Response<ResponseBody>>,
{
    type Output = Result<Response<StreamBody>, h2::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if this.watch.is_none() {
            // First thing on the stream's task: the watch its response reports to.
            let watch = current_stream();
            if let (Some(watch), Some(slot)) = (&watch, this.tunnel.take()) {
                watch.tunnel_into(slot);
            }
            *this.watch = Some(watch);
        }
        let mut response = match this.response.as_mut().as_pin_mut() {
            Some(response) => ready!(response.poll(cx)),
            None => match this.early.take() {
                Some(early) => early?,
                None => return Poll::Pending,
            },
        };
        this.response.set(None);
        add_default_headers(
            response.headers_mut(),
            this.headers.server.as_ref(),
            this.headers.alt_svc.as_ref(),
        );
        let watch = this.watch.take().flatten();
        let Some(guard) = this.guard.take() else {
            return Poll::Pending;
        };
        Poll::Ready(Ok(
            response.map(|body| Outgoing::new(TrackedBody::new(body, guard), watch))
        ))
    }
}
