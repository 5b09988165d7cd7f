use std::sync::{Arc, Mutex, PoisonError};

/// Travels with a request whose stream becomes a tunnel (an HTTP/2 extended CONNECT carrying a
/// websocket): whoever serves the tunnel keeps it as long as it uses the stream, and dropping the
/// last clone tells the protocol layer so, which may then end the stream once what is left of it
/// has had its chance to go out.
#[derive(Clone)]
pub struct TunnelLease(#[expect(dead_code, reason = "held for its drop")] Arc<Release>);

struct Release(Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl Drop for Release {
    fn drop(&mut self) {
        let release = self.0.get_mut().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(release) = release {
            release();
        }
    }
}

impl std::fmt::Debug for TunnelLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TunnelLease")
    }
}

impl TunnelLease {
    /// A lease that runs `on_release` once every clone of it is dropped.
    pub fn new(on_release: impl FnOnce() + Send + 'static) -> Self {
        Self(Arc::new(Release(Mutex::new(Some(Box::new(on_release))))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn released_once_when_the_last_clone_drops() {
        let released = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&released);
        let lease = TunnelLease::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        let clone = lease.clone();
        drop(lease);
        assert_eq!(released.load(Ordering::Relaxed), 0);
        drop(clone);
        assert_eq!(released.load(Ordering::Relaxed), 1);
    }
}
