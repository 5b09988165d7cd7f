use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use granian_serve::{ConnInfo, Handler, IncomingBody, ResponseBody};
use http::{Request, Response};

thread_local! {
    /// The [`Stage`]s the request being handed down the layers reached, one bit each.
    ///
    /// Layers hand a request to the next one synchronously, in `Handler::handle`, before any
    /// of their futures run; so while [`Metered`](crate::Metered) calls the layers below it,
    /// every marker they pass runs on this thread, and the bits describe that one request.
    static REACHED: Cell<u8> = const { Cell::new(0) };
}

/// A point on a request's way in that [`Metered`](crate::Metered) tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The static files layer: a request that reaches it but not the application was
    /// answered by it.
    StaticFiles,
    /// The application's interface.
    Application,
}

impl Stage {
    fn bit(self) -> u8 {
        match self {
            Self::StaticFiles => 1,
            Self::Application => 2,
        }
    }
}

/// Forget the stages reached so far, before handing a request down.
pub(crate) fn reset() {
    REACHED.with(|reached| reached.set(0));
}

/// Whether the request handed down since [`reset`] was answered by the static files layer.
pub(crate) fn answered_by_static_files() -> bool {
    let reached = REACHED.with(Cell::get);
    reached & Stage::StaticFiles.bit() != 0 && reached & Stage::Application.bit() == 0
}

/// A [`Handler`] marking the requests that reach `stage` for the [`Metered`](crate::Metered)
/// layer above it; switched off, it only passes them on.
#[derive(Debug, Clone)]
pub struct Reached<H> {
    handler: H,
    bit: u8,
}

impl<H> Reached<H> {
    /// Mark the requests that reach `handler` as at `stage`, when `enabled` (metrics are on).
    #[must_use]
    pub fn new(handler: H, stage: Stage, enabled: bool) -> Self {
        Self {
            handler,
            bit: if enabled { stage.bit() } else { 0 },
        }
    }
}

impl<H: Handler> Handler for Reached<H> {
    fn handle(
        &self,
        request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<H> {
        if self.bit != 0 {
            REACHED.with(|reached| reached.set(reached.get() | self.bit));
        }
        self.handler.handle(request, conn)
    }
}
