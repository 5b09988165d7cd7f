/// Why a metrics region or slot could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The shared memory could not be mapped.
    #[error("cannot map shared memory for metrics: {0}")]
    Map(#[source] std::io::Error),
    /// A region needs at least one worker, and not so many that its size overflows.
    #[error("a metrics region holds 1 to {max} workers, not {workers}")]
    Workers {
        /// The number asked for.
        workers: usize,
        /// The largest number allowed.
        max: usize,
    },
    /// A worker number outside `1..=workers`.
    #[error("worker {worker} is not between 1 and {workers}")]
    UnknownWorker {
        /// The worker number asked for.
        worker: usize,
        /// How many workers the region holds.
        workers: usize,
    },
    /// A slot index outside the region.
    #[error("slot {slot} is not below {slots}")]
    UnknownSlot {
        /// The slot asked for.
        slot: usize,
        /// How many slots the region holds.
        slots: usize,
    },
    /// Every process slot is taken by a live worker process.
    #[error("no free metrics slot: {slots} worker processes are alive")]
    Full {
        /// How many slots the region holds.
        slots: usize,
    },
}
