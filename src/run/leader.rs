//! Leadership: whether this replica may act. Every replica observes, judges and serves its
//! status page; only the leader changes the cloud. The reconcile loop reads the handle at the
//! start of each pass and again right before each action, so losing leadership stops actions
//! within one tick.
//!
//! The default is [`Leadership::always`] (a single replica). A lease-based elector (Kubernetes)
//! builds one with [`Leadership::new`] from the `watch::Receiver<bool>` its lease task drives,
//! and a release hook that gives the lease up on graceful shutdown.

use std::{future::Future, pin::Pin, sync::Mutex};
use tokio::sync::watch;

type Release = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A handle on "am I the leader?".
pub struct Leadership {
    rx: watch::Receiver<bool>,
    /// A single replica: leader for good.
    fixed: bool,
    release: Mutex<Option<Release>>,
}

impl Leadership {
    /// Always the leader: a single replica without an elector.
    pub fn always() -> Self {
        let (_tx, rx) = watch::channel(true);
        Self {
            fixed: true,
            ..Self::new(rx)
        }
    }

    /// Follows an elector: `true` while this replica holds the lease.
    pub fn new(rx: watch::Receiver<bool>) -> Self {
        Self {
            rx,
            fixed: false,
            release: Mutex::new(None),
        }
    }

    /// Adds what to do on graceful shutdown, after the last action finished (give the lease up
    /// so another replica takes over at once instead of waiting for it to expire).
    pub fn with_release<F, Fut>(self, release: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        *self.release.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(move || Box::pin(release())));
        self
    }

    /// Whether this replica may act now. False once the elector is gone, whatever it said
    /// last: a dead renewer is not a leader.
    pub fn is_leader(&self) -> bool {
        self.fixed || (*self.rx.borrow() && self.rx.has_changed().is_ok())
    }

    /// A receiver that sees every change (for metrics and the status page).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.rx.clone()
    }

    /// Runs the release hook, once.
    pub async fn release(&self) {
        let hook = self.release.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(hook) = hook {
            hook().await;
        }
    }
}

impl Clone for Leadership {
    /// A clone follows the same elector; the release hook stays with the original.
    fn clone(&self) -> Self {
        Self {
            fixed: self.fixed,
            ..Self::new(self.rx.clone())
        }
    }
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("leader", &self.is_leader())
            .finish()
    }
}
