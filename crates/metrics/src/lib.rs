//! Prometheus metrics for a pre-forked server. The master maps one [`Region`] of atomic
//! counters shared with every worker it forks; each worker process writes its own slot through
//! a [`Recorder`] (a few relaxed atomic additions per request, no IPC), and the master
//! [`Region::render`]s all slots in the Prometheus text exposition format. [`Metered`] is the
//! request layer that fills a slot; [`Reached`] marks how far down the layers a request went, so
//! that it can tell the requests answered by the static files layer. Knows nothing about Python.

mod error;
mod layer;
mod reached;
mod region;
mod render;

pub use error::Error;
pub use layer::Metered;
pub use reached::{Reached, Stage};
pub use region::{ConnectionGuard, LATENCY_BUCKETS, Recorder, Region, Respawn};
