//! The Python face of `granian_metrics`: the region the master maps before forking its
//! workers, which the workers' servers count into and the master's exporter renders.

use std::sync::Arc;

use granian_metrics::{Error, Recorder, Region, Respawn};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

fn to_py(err: &Error) -> PyErr {
    match err {
        Error::Map(_) => PyOSError::new_err(err.to_string()),
        _ => PyValueError::new_err(err.to_string()),
    }
}

/// Prometheus counters for `workers` worker numbers, in memory shared with the processes
/// forked after it is created.
#[pyclass(frozen, module = "granian._native")]
pub(crate) struct MetricsRegion {
    region: Arc<Region>,
}

#[pymethods]
impl MetricsRegion {
    #[new]
    fn new(workers: usize) -> PyResult<Self> {
        Ok(Self {
            region: Arc::new(Region::new(workers).map_err(|err| to_py(&err))?),
        })
    }

    /// How many worker numbers the region holds.
    #[getter]
    fn workers(&self) -> usize {
        self.region.workers()
    }

    /// How many worker processes may be alive at once.
    #[getter]
    fn slots(&self) -> usize {
        self.region.slots()
    }

    /// Reserve a zeroed slot for a process about to start as worker number `worker` (from 1).
    fn assign(&self, worker: usize) -> PyResult<usize> {
        self.region.assign(worker).map_err(|err| to_py(&err))
    }

    /// Add the counters of the exited process in `slot` to its worker number, free the slot.
    fn release(&self, slot: usize) -> PyResult<()> {
        self.region.release(slot).map_err(|err| to_py(&err))
    }

    /// Count `count` worker processes started.
    fn count_spawns(&self, count: u64) {
        self.region.count_spawns(count);
    }

    /// Count `count` workers replaced, `reason` being `'err'`, `'lifetime'` or `'rss'`.
    fn count_respawns(&self, reason: &str, count: u64) -> PyResult<()> {
        let reason = match reason {
            "err" => Respawn::Error,
            "lifetime" => Respawn::Lifetime,
            "rss" => Respawn::Memory,
            other => {
                return Err(PyValueError::new_err(format!(
                    "reason must be 'err', 'lifetime' or 'rss', not {other:?}"
                )));
            }
        };
        self.region.count_respawns(reason, count);
        Ok(())
    }

    /// Report the number of threads the process in `slot` runs the application on.
    fn set_blocking_threads(&self, slot: usize, threads: u64) -> PyResult<()> {
        self.region
            .recorder(slot)
            .map_err(|err| to_py(&err))?
            .set_blocking_threads(threads);
        Ok(())
    }

    /// Every metric in the Prometheus text exposition format.
    fn render(&self, py: Python<'_>) -> String {
        py.detach(|| self.region.render())
    }

    fn __repr__(&self) -> String {
        format!("MetricsRegion(workers={})", self.region.workers())
    }
}

impl MetricsRegion {
    /// The recorder of the process in `slot`.
    pub(crate) fn recorder(&self, slot: usize) -> PyResult<Recorder> {
        self.region.recorder(slot).map_err(|err| to_py(&err))
    }
}
