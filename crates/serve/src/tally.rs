use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// A body that hands the length of every data frame it yields to `tally`: how the layers that
/// count bytes (metrics, the access log) see a body go by without buffering it. `tally` is
/// dropped with the body, which is when such a layer learns the body is done.
#[derive(Debug)]
pub struct Tallied<B, F> {
    body: B,
    tally: F,
}

impl<B, F> Tallied<B, F> {
    /// Report the data frames of `body` to `tally`.
    #[must_use]
    pub fn new(body: B, tally: F) -> Self {
        Self { body, tally }
    }
}

impl<B, F> Body for Tallied<B, F>
where
    B: Body<Data = Bytes> + Unpin,
    F: FnMut(u64) + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            (this.tally)(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResponseBody;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn every_data_frame_is_tallied() {
        let (sender, body) = ResponseBody::channel(4);
        sender.try_send(Bytes::from_static(b"abc")).unwrap();
        sender.try_send(Bytes::from_static(b"de")).unwrap();
        drop(sender);
        let mut total = 0;
        let mut frames = 0;
        let collected = Tallied::new(body, |len| {
            total += len;
            frames += 1;
        })
        .collect()
        .await
        .unwrap()
        .to_bytes();
        assert_eq!(collected, Bytes::from_static(b"abcde"));
        assert_eq!((total, frames), (5, 2));
    }
}
