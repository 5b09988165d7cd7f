//! The send timeout of HTTP/2 streams: a response the client's flow-control window holds at
//! zero (the stream's or the connection's) for longer than the timeout is reset.
//!
//! hyper polls a response body only when the stream has window to send it, so a stalled stream
//! is one whose body is not polled at all: nothing inside the body can notice. The stream's task
//! can, and its executor is ours: [`StreamExecutor`] spawns each stream's task inside a watchdog
//! that shares a [`SendWatch`] with the stream's response body ([`Outgoing`], which finds the
//! watch in a task-local on its service's first poll). The body marks the watch when it hands
//! out data (then hyper waits for window before polling it again) and clears it when polled; the
//! watchdog, polled with the task, arms a [`Stall`] timer only while the watch is marked and
//! drops the task when it expires. Dropping the task drops the stream's send half, which makes
//! h2 reset the stream, and the response body, which tells the application its client is gone.
//!
//! A body yields at most [`PIECE`] bytes at a time, so that hyper never hands h2 more than that
//! beyond the window: a response larger than the window stays in its task, where the timeout
//! reaches it, rather than buffered whole in the connection after the task has ended.
//!
//! A stream that becomes a tunnel (a websocket over extended CONNECT) hands its data to a task of
//! its own, which hyper spawns from the stream's task: the executor finds the stream's watch
//! there and records the tunnel task in the stream's [`TunnelSlot`]. The tunnel's user bounds its
//! own writes (the websocket driver does); once it lets go of the stream (its [`TunnelLease`]
//! drops), the tunnel task gets one more send timeout to pass on what is left, then is dropped,
//! which resets the stream: a tunnel whose peer stopped reading does not outlive its user.
//!
//! Cost on the hot path: two allocations per stream (the watch, and the box that keeps the stream's
//! task from being copied on its way into the runtime), a reference count taken and given back on
//! the first poll of the stream's task (to lend the watch; a tunnel's stream lends it on every
//! poll), two relaxed atomic stores per body frame and two loads per poll; the timer is armed
//! only while a stream is held by flow control.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use granian_serve::{Stall, TunnelLease};
use http_body::{Body, Frame, SizeHint};
use tokio::task::AbortHandle;

/// The most bytes a response body hands hyper at once.
pub(crate) const PIECE: usize = 64 * 1024;

tokio::task_local! {
    /// The watch of the stream whose task is being polled for the first time.
    static STREAM: Arc<SendWatch>;
}

/// Whether a stream's response waits on the client's window.
#[derive(Debug, Default)]
pub(crate) struct SendWatch {
    /// Data frames the body has handed out: each is progress.
    yielded: AtomicU32,
    /// The body handed out data (or its head went out) and has not been polled since.
    holding: AtomicBool,
    /// Where the stream's tunnel task goes, when the stream is a tunnel.
    tunnel: OnceLock<Arc<TunnelSlot>>,
}

impl SendWatch {
    /// This stream is a tunnel: its tunnel task goes to `slot`.
    pub(crate) fn tunnel_into(&self, slot: Arc<TunnelSlot>) {
        let _ = self.tunnel.set(slot);
    }
}

/// The watch of the stream this task serves, when a send timeout is set.
pub(crate) fn current_stream() -> Option<Arc<SendWatch>> {
    STREAM.try_with(Arc::clone).ok()
}

/// Where a tunnel's task and the release of its [`TunnelLease`] meet, in either order: once both
/// happened, the task gets `limit` more before it is aborted (a no-op if it ended).
#[derive(Debug)]
pub(crate) struct TunnelSlot {
    state: Mutex<(Option<AbortHandle>, bool)>,
    limit: Duration,
    runtime: tokio::runtime::Handle,
}

impl TunnelSlot {
    /// A slot, and the lease that releases it, for a tunnel whose task gets `limit` to finish
    /// once its user let go. Call on the runtime.
    pub(crate) fn lease(limit: Duration) -> (Arc<Self>, TunnelLease) {
        let slot = Arc::new(Self {
            state: Mutex::new((None, false)),
            limit,
            runtime: tokio::runtime::Handle::current(),
        });
        let released = Arc::clone(&slot);
        (slot, TunnelLease::new(move || released.released()))
    }

    fn lock(&self) -> MutexGuard<'_, (Option<AbortHandle>, bool)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn spawned(&self, task: AbortHandle) {
        let mut state = self.lock();
        if state.1 {
            drop(state);
            self.expire(task);
        } else {
            state.0 = Some(task);
        }
    }

    fn released(&self) {
        let mut state = self.lock();
        state.1 = true;
        if let Some(task) = state.0.take() {
            drop(state);
            self.expire(task);
        }
    }

    fn expire(&self, task: AbortHandle) {
        let limit = self.limit;
        self.runtime.spawn(async move {
            tokio::time::sleep(limit).await;
            task.abort();
        });
    }
}

/// Spawns the tasks of a connection's streams on the runtime, each bounded by the send timeout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamExecutor {
    send_timeout: Option<Duration>,
}

impl StreamExecutor {
    pub(crate) fn new(send_timeout: Option<Duration>) -> Self {
        Self { send_timeout }
    }
}

impl<F> hyper::rt::Executor<F> for StreamExecutor
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, task: F) {
        let Some(limit) = self.send_timeout else {
            drop(tokio::spawn(task));
            return;
        };
        // Spawned from a stream's task: the stream's tunnel.
        match STREAM.try_with(|watch| watch.tunnel.get().cloned()) {
            Ok(Some(slot)) => slot.spawned(tokio::spawn(task).abort_handle()),
            Ok(None) => drop(tokio::spawn(task)),
            Err(_) => drop(tokio::spawn(watched(task, limit))),
        }
    }
}

/// Run a stream's `task` until it ends, or until its response has waited on the client's window
/// for `limit` at a stretch.
fn watched<F: Future<Output = ()>>(task: F, limit: Duration) -> Watched<F> {
    Watched {
        task: Box::pin(task),
        watch: Arc::new(SendWatch::default()),
        stall: Stall::new(limit),
        seen: 0,
        polled: false,
    }
}

/// The future of [`watched`]. The stream's task is boxed once, here: the watchdog and the task
/// that runs it then move a pointer, where the task itself (about a kilobyte) would be copied
/// at each step of the way into the runtime.
struct Watched<F> {
    task: Pin<Box<F>>,
    watch: Arc<SendWatch>,
    stall: Stall,
    // The watch's `yielded` when last seen.
    seen: u32,
    // Whether the task was polled: the watch is lent to its first poll, and to later ones only
    // when the stream became a tunnel.
    polled: bool,
}

impl<F: Future<Output = ()>> Future for Watched<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Every field is `Unpin`: the task is pinned in its box.
        let this = self.get_mut();
        // Lent to the first poll, where the stream's response takes it, and to every poll of a
        // tunnel's stream, since the poll that sends a tunnel's answer spawns the tunnel's task.
        let task = this.task.as_mut();
        let ended = if !this.polled || this.watch.tunnel.get().is_some() {
            this.polled = true;
            STREAM.sync_scope(Arc::clone(&this.watch), || task.poll(cx))
        } else {
            task.poll(cx)
        };
        if ended.is_ready() {
            return Poll::Ready(());
        }
        if !this.watch.holding.load(Ordering::Relaxed) {
            this.stall.progress();
            return Poll::Pending;
        }
        let yielded = this.watch.yielded.load(Ordering::Relaxed);
        if yielded != this.seen {
            this.seen = yielded;
            this.stall.progress();
        }
        // Expired: returning drops the task, which resets the stream.
        if this.stall.poll_expired(cx) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// A stream's response body on its way to hyper: at most [`PIECE`] bytes per frame, each
/// reported to the stream's [`SendWatch`].
#[derive(Debug)]
pub(crate) struct Outgoing<B> {
    body: B,
    rest: Option<Bytes>,
    watch: Option<Arc<SendWatch>>,
}

impl<B> Outgoing<B> {
    pub(crate) fn new(body: B, watch: Option<Arc<SendWatch>>) -> Self {
        if let Some(watch) = &watch {
            // The head goes out now; until the body is polled, the stream waits on the client.
            watch.holding.store(true, Ordering::Relaxed);
        }
        Self {
            body,
            rest: None,
            watch,
        }
    }
}

impl<B> Body for Outgoing<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        if let Some(watch) = &this.watch {
            watch.holding.store(false, Ordering::Relaxed);
        }
        let mut data = match this.rest.take() {
            Some(rest) => rest,
            None => match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return other,
            },
        };
        if data.len() > PIECE {
            this.rest = Some(data.split_off(PIECE));
        }
        if let Some(watch) = &this.watch {
            watch.yielded.fetch_add(1, Ordering::Relaxed);
            watch.holding.store(true, Ordering::Relaxed);
        }
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_none() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.body.size_hint();
        if let Some(rest) = &self.rest {
            let rest = rest.len() as u64;
            hint.set_lower(hint.lower() + rest);
            if let Some(upper) = hint.upper() {
                hint.set_upper(upper + rest);
            }
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use granian_serve::ResponseBody;
    use http_body_util::BodyExt;
    use hyper::rt::Executor;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn large_frames_go_out_in_pieces() {
        let body = Outgoing::new(ResponseBody::full(Bytes::from(vec![7u8; 2 * PIECE + 10])), None);
        assert_eq!(body.size_hint().exact(), Some(2 * PIECE as u64 + 10));
        let mut body = body;
        let mut sizes = Vec::new();
        while let Some(frame) = body.frame().await {
            sizes.push(frame.unwrap().into_data().unwrap().len());
            if body.is_end_stream() {
                break;
            }
        }
        assert_eq!(sizes, [PIECE, PIECE, 10]);
    }

    /// A stream task whose response body hands out one frame and is then never polled again, as
    /// hyper leaves a body whose stream has no window: dropping the task drops `dropped`.
    async fn held_stream(dropped: oneshot::Sender<()>) {
        let watch = current_stream();
        let mut body = Outgoing::new(ResponseBody::full(Bytes::from_static(b"x")), watch);
        let _ = body.frame().await;
        let _guard = dropped;
        std::future::pending::<()>().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_held_by_flow_control_is_dropped_after_the_timeout() {
        let (dropped, gone) = oneshot::channel();
        let started = tokio::time::Instant::now();
        StreamExecutor::new(Some(Duration::from_secs(30))).execute(held_stream(dropped));
        assert!(gone.await.is_err());
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_tunnel_spawned_after_the_first_poll_reaches_its_slot() {
        let executor = StreamExecutor::new(Some(Duration::from_secs(30)));
        let (slot, lease) = TunnelSlot::lease(Duration::from_secs(5));
        let (go, answered) = oneshot::channel::<()>();
        let (dropped, gone) = oneshot::channel::<()>();
        executor.execute(async move {
            if let Some(watch) = current_stream() {
                watch.tunnel_into(slot);
            }
            // A later poll of the stream's task sends the answer and spawns the tunnel's task.
            let _ = answered.await;
            executor.execute(async move {
                let _guard = dropped;
                std::future::pending::<()>().await;
            });
            std::future::pending::<()>().await;
        });
        tokio::task::yield_now().await;
        go.send(()).unwrap();
        tokio::task::yield_now().await;
        let released = tokio::time::Instant::now();
        drop(lease);
        let ended = tokio::time::timeout(Duration::from_hours(1), gone).await;
        assert!(matches!(ended, Ok(Err(_))), "the tunnel's task was not aborted");
        assert_eq!(released.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_waiting_on_its_application_is_not_dropped() {
        let (dropped, gone) = oneshot::channel::<()>();
        // The response never comes: the application is slow, not the client.
        StreamExecutor::new(Some(Duration::from_secs(30))).execute(async move {
            let _watch = current_stream();
            let _guard = dropped;
            std::future::pending::<()>().await;
        });
        let waited = tokio::time::timeout(Duration::from_hours(1), gone).await;
        assert!(waited.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_making_progress_is_not_dropped() {
        let (tx, rx) = tokio::sync::mpsc::channel::<()>(1);
        let (done, finished) = oneshot::channel();
        StreamExecutor::new(Some(Duration::from_secs(30))).execute(async move {
            let watch = current_stream();
            let mut body = Outgoing::new(ResponseBody::full(Bytes::from(vec![1u8; 10 * PIECE])), watch);
            let mut rx = rx;
            // Window for one piece every 20 s: slow, but never held for 30 s.
            while body.frame().await.is_some() && !body.is_end_stream() {
                rx.recv().await;
            }
            let _ = done.send(());
        });
        let feeder = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(20)).await;
                if tx.send(()).await.is_err() {
                    return;
                }
            }
        });
        assert!(finished.await.is_ok());
        feeder.abort();
    }
}
