use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The file a request path names below its mount, as a relative path, or `None` when the path
/// is refused: bad percent-encoding, a NUL byte or a backslash anywhere, or a `..` segment.
///
/// Decodes exactly once, so `%252e` stays the literal name `%2e`; empty and `.` segments
/// are skipped. A refused path is answered as not found, never passed on.
pub(crate) fn relative_path(rest: &str) -> Option<PathBuf> {
    let decoded = percent_decode(rest.as_bytes())?;
    if decoded.iter().any(|&byte| byte == 0 || byte == b'\\') {
        return None;
    }
    let mut path = PathBuf::new();
    for segment in decoded.split(|&byte| byte == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => return None,
            name => path.push(OsStr::from_bytes(name)),
        }
    }
    Some(path)
}

/// Whether a relative path names a hidden file or goes through a hidden directory: a segment
/// starting with `.` (`.env`, `.git/config`). `.well-known` is not hidden: RFC 8615 reserves
/// it for metadata meant to be fetched (`security.txt`, ACME challenges).
pub(crate) fn is_hidden(path: &Path) -> bool {
    path.iter()
        .any(|segment| segment.as_bytes().starts_with(b".") && segment != ".well-known")
}

fn percent_decode(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&byte) = bytes.next() {
        if byte == b'%' {
            let high = hex(*bytes.next()?)?;
            let low = hex(*bytes.next()?)?;
            out.push(high << 4 | low);
        } else {
            out.push(byte);
        }
    }
    Some(out)
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// An open file and what `fstat` said about it.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) file: File,
    pub(crate) metadata: Metadata,
}

/// A mounted directory files are opened below, never outside.
#[derive(Debug)]
pub(crate) struct Root {
    /// Canonical: symlinks resolved, so a resolved file path can be compared with it.
    path: PathBuf,
    /// The directory opened once (`O_PATH`), for `openat2` lookups relative to it.
    #[cfg(target_os = "linux")]
    fd: Option<std::os::fd::OwnedFd>,
}

impl Root {
    /// Resolve `dir` and keep it open.
    pub(crate) fn new(dir: &Path) -> io::Result<Self> {
        let path = std::fs::canonicalize(dir)?;
        Ok(Self {
            #[cfg(target_os = "linux")]
            fd: OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
                .open(&path)
                .ok()
                .map(std::os::fd::OwnedFd::from),
            path,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Open `relative` if it resolves (symlinks followed) to somewhere below the root.
    /// Anything resolving outside is `PermissionDenied`, as if it were not there.
    pub(crate) fn open(&self, relative: &Path) -> io::Result<Opened> {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd
            && OPENAT2.load(Ordering::Relaxed)
        {
            match openat2_beneath(fd, relative) {
                Ok(file) => {
                    let metadata = file.metadata()?;
                    return Ok(Opened { file, metadata });
                }
                // The kernel (before 5.6) or a seccomp filter does not allow openat2: resolve
                // in user space from now on.
                Err(err) if matches!(err.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
                    OPENAT2.store(false, Ordering::Relaxed);
                }
                // A step out of the root, which includes any absolute symlink, even one that
                // points back inside: let the user-space check below decide.
                Err(err) if err.raw_os_error() == Some(libc::EXDEV) => {}
                Err(err) => return Err(err),
            }
        }
        self.open_resolved(relative)
    }

    /// The portable check: resolve the whole path, compare it with the root, open the result.
    /// Costs one system call per path component.
    fn open_resolved(&self, relative: &Path) -> io::Result<Opened> {
        let real = std::fs::canonicalize(self.path.join(relative))?;
        if !real.starts_with(&self.path) {
            return Err(io::ErrorKind::PermissionDenied.into());
        }
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&real)?;
        let metadata = file.metadata()?;
        Ok(Opened { file, metadata })
    }
}

/// Whether `openat2` is worth trying: cleared the first time the system refuses the call.
#[cfg(target_os = "linux")]
static OPENAT2: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

#[cfg(target_os = "linux")]
use std::sync::atomic::Ordering;

/// One `openat2(2)` below `dir` with `RESOLVE_BENEATH`: the kernel refuses (`EXDEV`) any step
/// outside, `..` or symlink, atomically with the open; no magic links (`/proc/self/fd/N`).
/// `O_NONBLOCK` so that a FIFO placed in the mount cannot block the opening thread; regular
/// files ignore it.
#[cfg(target_os = "linux")]
fn openat2_beneath(dir: &std::os::fd::OwnedFd, relative: &Path) -> io::Result<File> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    let relative = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    let name = std::ffi::CString::new(relative.as_os_str().as_bytes())?;
    // SAFETY: an all-zero `open_how` is valid (no flags, no mode, no resolve flags).
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `name` is a NUL-terminated string and `how` an initialised `open_how`, both alive
    // for the call, whose size is passed along; the descriptor returned is ours to own.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            name.as_ptr(),
            &raw const how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    // SAFETY: a fresh descriptor from the kernel, owned by nothing else.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_resolve() {
        assert_eq!(relative_path("/a/b.css"), Some(PathBuf::from("a/b.css")));
        assert_eq!(relative_path(""), Some(PathBuf::new()));
        assert_eq!(relative_path("//a/./b/"), Some(PathBuf::from("a/b")));
        assert_eq!(relative_path("/a%20b.txt"), Some(PathBuf::from("a b.txt")));
        assert_eq!(relative_path("/%252e%252e"), Some(PathBuf::from("%2e%2e")));
    }

    #[test]
    fn dot_segments_are_hidden() {
        for path in [
            ".env",
            ".git/config",
            "a/.hidden/b.txt",
            "a/.htaccess",
            ".well-known/../.env",
        ] {
            assert!(is_hidden(Path::new(path)), "{path}");
        }
        for path in ["a.txt", "a/b.c/d", ".well-known/security.txt", "a/b..c", ""] {
            assert!(!is_hidden(Path::new(path)), "{path}");
        }
        // As requests reach it: decoded once, `.` segments dropped.
        assert!(is_hidden(&relative_path("/%2eenv").unwrap()));
        assert!(!is_hidden(&relative_path("/./a.txt").unwrap()));
    }

    #[test]
    fn escapes_are_refused() {
        for path in [
            "/../x",
            "/a/../../x",
            "/%2e%2e/x",
            "/%2E%2E%2Fx",
            "/a/..",
            "/a%2f..%2fx",
            "/x%00.txt",
            "/a\\b",
            "/a%5c..%5cx",
            "/bad%zz",
            "/bad%2",
        ] {
            assert_eq!(relative_path(path), None, "{path}");
        }
    }

    #[test]
    fn opens_only_below_the_root() {
        let base = std::env::temp_dir().join(format!("granian-sf-path-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let mount = base.join("mount");
        std::fs::create_dir_all(mount.join("sub")).unwrap();
        std::fs::write(base.join("secret"), b"s").unwrap();
        std::fs::write(mount.join("sub/f"), b"f").unwrap();
        std::os::unix::fs::symlink(base.join("secret"), mount.join("out")).unwrap();
        std::os::unix::fs::symlink("../secret", mount.join("out-relative")).unwrap();
        std::os::unix::fs::symlink(mount.join("sub/f"), mount.join("in")).unwrap();
        std::os::unix::fs::symlink("sub/f", mount.join("in-relative")).unwrap();
        let root = Root::new(&mount).unwrap();

        for opened in [root.open(Path::new("sub/f")), root.open_resolved(Path::new("sub/f"))] {
            assert_eq!(opened.unwrap().metadata.len(), 1);
        }
        for name in ["in", "in-relative"] {
            assert!(root.open(Path::new(name)).is_ok(), "{name}");
            assert!(root.open_resolved(Path::new(name)).is_ok(), "{name}");
        }
        for name in ["out", "out-relative"] {
            let escaped = root.open(Path::new(name)).unwrap_err();
            assert_eq!(escaped.kind(), io::ErrorKind::PermissionDenied, "{name}");
            assert!(root.open_resolved(Path::new(name)).is_err(), "{name}");
        }
        assert!(root.open(Path::new("missing")).is_err());
        #[cfg(target_os = "linux")]
        {
            // Where the kernel has openat2, the fast path itself refuses the escapes.
            let fd = root.fd.as_ref().unwrap();
            match openat2_beneath(fd, Path::new("sub/f")) {
                Ok(_) => {
                    for name in ["out", "out-relative", "in"] {
                        let err = openat2_beneath(fd, Path::new(name)).unwrap_err();
                        assert_eq!(err.raw_os_error(), Some(libc::EXDEV), "{name}");
                    }
                    assert!(openat2_beneath(fd, Path::new("in-relative")).is_ok());
                }
                Err(err) => assert!(matches!(err.raw_os_error(), Some(libc::ENOSYS | libc::EPERM))),
            }
        }
        assert!(root.open(Path::new("")).unwrap().metadata.is_dir());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
