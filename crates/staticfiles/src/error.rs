use std::path::PathBuf;

/// Why static file settings cannot be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A route that is not an absolute URL path.
    #[error("static route {route:?} must start with '/'")]
    InvalidRoute {
        /// The route as given.
        route: String,
    },
    /// A mount directory that cannot be resolved (missing, unreadable).
    #[error("static mount {}: {source}", path.display())]
    Mount {
        /// The directory as given.
        path: PathBuf,
        /// What resolving it failed with.
        source: std::io::Error,
    },
    /// A mount that exists but is not a directory.
    #[error("static mount {} is not a directory", path.display())]
    NotADirectory {
        /// The path as given.
        path: PathBuf,
    },
    /// A directory index file name that could leave its directory.
    #[error("static index file {name:?} must be a relative path without '..'")]
    InvalidIndex {
        /// The name as given.
        name: String,
    },
}
