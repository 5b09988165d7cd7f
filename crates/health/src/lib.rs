//! Health and readiness probes answered by the server itself: a [`Handler`](granian_serve::Handler)
//! layer ([`Health`]) that answers `GET`/`HEAD` on a health path and a readiness path without
//! reaching the application, and passes every other request on untouched. Health says the
//! process serves (200, also while it drains); readiness says whether a load balancer should
//! send it new requests: 503 once the server drains or is about to ([`Readiness::drain`]), or
//! when an application-level check ([`ReadyCheck`]) fails, times out or is still pending.
//! Check results are reused for a while, and one check runs at a time, so a storm of probes
//! costs the application one call per period. Knows nothing about Python: the check is a trait.

mod layer;
mod readiness;

pub use layer::{Health, HealthPaths};
pub use readiness::{Readiness, ReadyCheck};
