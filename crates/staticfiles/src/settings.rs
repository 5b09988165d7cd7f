use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use http::HeaderValue;

use crate::Error;
use crate::path::Root;

/// One route and the directory it serves.
#[derive(Debug)]
pub(crate) struct Mount {
    /// The URL path prefix, without a trailing `/` (empty for the root route).
    pub(crate) route: Box<str>,
    /// The directory: every file served resolves below it.
    pub(crate) root: Root,
}

/// What static files to serve: directories mounted on routes, the file that stands for a
/// directory, and how long clients may cache what they get.
#[derive(Debug)]
pub struct StaticSettings {
    /// Longest route first, so a nested route wins over the one containing it.
    mounts: Vec<Mount>,
    index: Option<Box<str>>,
    expires: Option<Duration>,
    /// Serve names starting with a dot (see [`crate::StaticFiles`]).
    dotfiles: bool,
    /// `max-age=<expires>`, formatted once.
    cache_control: HeaderValue,
}

impl StaticSettings {
    /// Mount each directory on its route (`/static`). `index` is the file served for a
    /// directory (`index.html`); without it directories are not found. `expires` sets
    /// `Cache-Control: max-age` and `Expires` (whole seconds; `None` or zero sends neither).
    /// `dotfiles` serves paths with a segment starting with `.` (other than `.well-known`),
    /// which are otherwise not found.
    ///
    /// Directories are resolved now (symlinks followed), so files are checked against where
    /// they really are.
    pub fn new(
        mounts: impl IntoIterator<Item = (String, PathBuf)>,
        index: Option<String>,
        expires: Option<Duration>,
        dotfiles: bool,
    ) -> Result<Self, Error> {
        let mut resolved = Vec::new();
        for (route, path) in mounts {
            if !route.starts_with('/') {
                return Err(Error::InvalidRoute { route });
            }
            let root = Root::new(&path).map_err(|source| Error::Mount {
                path: path.clone(),
                source,
            })?;
            if !root.path().is_dir() {
                return Err(Error::NotADirectory { path });
            }
            let route = route.trim_end_matches('/').into();
            resolved.push(Mount { route, root });
        }
        resolved.sort_by_key(|mount| std::cmp::Reverse(mount.route.len()));
        if let Some(name) = &index {
            let path = Path::new(name);
            let plain = !name.is_empty() && path.components().all(|part| matches!(part, Component::Normal(_)));
            if !plain {
                return Err(Error::InvalidIndex { name: name.clone() });
            }
        }
        let expires = expires
            .map(|expires| Duration::from_secs(expires.as_secs()))
            .filter(|expires| !expires.is_zero());
        let cache_control = HeaderValue::try_from(format!("max-age={}", expires.unwrap_or_default().as_secs()))
            .unwrap_or(HeaderValue::from_static("no-cache"));
        Ok(Self {
            mounts: resolved,
            index: index.map(Into::into),
            expires,
            dotfiles,
            cache_control,
        })
    }

    /// The mount whose route `path` falls under (the route itself, or below it after a `/`),
    /// and the rest of the path. Compares bytes only: no allocation for paths served elsewhere.
    pub(crate) fn find<'p>(&self, path: &'p str) -> Option<(&Mount, &'p str)> {
        self.mounts.iter().find_map(|mount| {
            let rest = path.strip_prefix(&*mount.route)?;
            (rest.is_empty() || rest.starts_with('/')).then_some((mount, rest))
        })
    }

    /// Each route (`/` for the root route, others without a trailing `/`) and the directory
    /// it serves (resolved), longest route first.
    pub fn mounts(&self) -> impl Iterator<Item = (&str, &Path)> {
        self.mounts.iter().map(|mount| {
            let route = if mount.route.is_empty() { "/" } else { &*mount.route };
            (route, mount.root.path())
        })
    }

    /// The file served for a directory, if any.
    #[must_use]
    pub fn index(&self) -> Option<&str> {
        self.index.as_deref()
    }

    /// How long clients may cache what they get (whole seconds); `None` sends no cache headers.
    #[must_use]
    pub fn expires(&self) -> Option<Duration> {
        self.expires
    }

    /// Whether names starting with a dot are served.
    #[must_use]
    pub fn dotfiles(&self) -> bool {
        self.dotfiles
    }

    /// The `Cache-Control` value for `expires`; meaningful only when that is set.
    pub(crate) fn cache_control(&self) -> &HeaderValue {
        &self.cache_control
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(routes: &[&str]) -> StaticSettings {
        let dir = std::env::temp_dir();
        StaticSettings::new(
            routes.iter().map(|route| ((*route).to_owned(), dir.clone())),
            None,
            None,
            false,
        )
        .unwrap()
    }

    #[test]
    fn routes_match_whole_segments() {
        let settings = settings(&["/static/"]);
        assert_eq!(settings.find("/static").map(|(_, rest)| rest), Some(""));
        assert_eq!(settings.find("/static/a.css").map(|(_, rest)| rest), Some("/a.css"));
        assert!(settings.find("/staticx").is_none());
        assert!(settings.find("/").is_none());
        assert!(settings.find("/other/static/a").is_none());
    }

    #[test]
    fn longest_route_wins() {
        let settings = settings(&["/s", "/s/img"]);
        assert_eq!(&*settings.find("/s/img/a.png").unwrap().0.route, "/s/img");
        assert_eq!(&*settings.find("/s/a.png").unwrap().0.route, "/s");
    }

    #[test]
    fn mounts_read_back_longest_first() {
        let dir = std::fs::canonicalize(std::env::temp_dir()).unwrap();
        let settings = settings(&["/", "/s/img/", "/s"]);
        let mounts: Vec<_> = settings.mounts().collect();
        assert_eq!(
            mounts,
            [("/s/img", dir.as_path()), ("/s", dir.as_path()), ("/", dir.as_path())]
        );
    }

    #[test]
    fn root_route_matches_everything() {
        let settings = settings(&["/"]);
        assert_eq!(settings.find("/a/b").map(|(_, rest)| rest), Some("/a/b"));
    }

    #[test]
    fn bad_settings_are_refused() {
        let dir = std::env::temp_dir();
        let relative = StaticSettings::new([("static".to_owned(), dir.clone())], None, None, false);
        assert!(matches!(relative, Err(Error::InvalidRoute { .. })));
        let missing = StaticSettings::new([("/s".to_owned(), dir.join("no/such/dir"))], None, None, false);
        assert!(matches!(missing, Err(Error::Mount { .. })));
        for index in ["", "../x", "/etc/passwd", "a/../b"] {
            let bad = StaticSettings::new([("/s".to_owned(), dir.clone())], Some(index.to_owned()), None, false);
            assert!(matches!(bad, Err(Error::InvalidIndex { .. })), "{index}");
        }
    }

    #[test]
    fn zero_expiry_is_off() {
        let dir = std::env::temp_dir();
        let settings = StaticSettings::new([("/s".to_owned(), dir)], None, Some(Duration::ZERO), false).unwrap();
        assert_eq!(settings.expires(), None);
    }
}
