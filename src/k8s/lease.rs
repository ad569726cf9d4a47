//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several replicas exactly one
//! acts while the others keep observing, judging and serving status.
//!
//! The protocol is client-go's: read the Lease; if we hold it, or nobody does, or its holder has
//! not renewed it for `leaseDurationSeconds` *as measured on our own monotonic clock since we
//! saw its last change*, write ourselves in with a `replace` under the `resourceVersion` we read.
//! The API server's optimistic concurrency (409 Conflict) picks one winner of any race; no
//! two clocks are ever compared. A leader renews every `duration / 3` and stops believing it
//! leads `duration - grace` after the *start* of its last successful renewal: that instant is
//! earlier than any other candidate can have seen the renewal, so the old leader has stepped
//! down at least `grace` before anyone else may step up.
//!
//! Written by hand rather than with kube-lease-manager: that crate takes the Lease with
//! server-side apply and strategic-merge patches and relies on field-manager conflicts for
//! mutual exclusion, and it compares the holder's `renewTime` with the local wall clock. A plain
//! get/create/replace loop needs only the documented resourceVersion contract, which a fake API
//! server in the tests can honour exactly, and has no clock-skew exposure.

mod candidate;

use candidate::Candidate;
use kube::{Api, Client};
use std::time::Duration;
use tokio::{
    sync::{oneshot, watch},
    task::JoinHandle,
};

/// Which Lease to compete for and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease (one per sloop deployment).
    pub name: String,
    /// This replica's identity, written as the holder (the pod name is the convention).
    pub identity: String,
    /// How long a Lease stays valid without renewal (whole seconds, as the API stores it).
    pub duration: Duration,
    /// Safety margin: the leader stops acting this long before others may take over.
    pub grace: Duration,
}

impl LeaseConfig {
    /// A configuration with the conventional 15 s duration and 5 s grace.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
            grace: Duration::from_secs(5),
        }
    }

    /// How often the leader renews.
    pub fn renew_period(&self) -> Duration {
        self.duration / 3
    }

    /// How often a follower looks at the Lease; a takeover happens at most this long after
    /// the Lease expired as the follower measures it.
    pub fn retry_period(&self) -> Duration {
        self.duration / 6
    }

    fn validate(&self) -> Result<(), LeaseError> {
        let fail = |why: &str| {
            Err(LeaseError::Config(format!(
                "lease {}/{}: {why}",
                self.namespace, self.name
            )))
        };
        if self.identity.is_empty() {
            return fail("the identity is empty");
        }
        if self.duration < Duration::from_secs(1) || self.duration.subsec_nanos() != 0 {
            return fail("the duration must be a whole number of seconds, at least 1");
        }
        if self.grace >= self.duration - self.renew_period() {
            return fail(
                "the grace must be shorter than two thirds of the duration (else no renewal counts)",
            );
        }
        Ok(())
    }
}

/// Why election could not start or a release failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The configuration cannot work.
    #[error("{0}")]
    Config(String),
    /// The API server refused or failed a request.
    #[error("{op} lease {lease}: {source}")]
    Api {
        /// What we tried.
        op: &'static str,
        /// `namespace/name`.
        lease: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// A request or the release did not finish in time.
    #[error("lease {0}: no answer in time")]
    Timeout(String),
}

/// Whether this replica leads, as the reconcile loop asks it before every action.
#[derive(Debug, Clone)]
pub struct Leadership(Option<watch::Receiver<bool>>);

impl Leadership {
    /// Wraps a receiver (for tests, and for seams that produce their own).
    pub fn from_receiver(rx: watch::Receiver<bool>) -> Self {
        Self(Some(rx))
    }

    /// Always the leader: a single replica without Kubernetes.
    pub fn always() -> Self {
        Self(None)
    }

    /// True while this replica holds the Lease. False once the election task is gone, whatever
    /// it said last: a dead renewer is not a leader.
    pub fn is_leader(&self) -> bool {
        match &self.0 {
            None => true,
            Some(rx) => *rx.borrow() && rx.has_changed().is_ok(),
        }
    }

    /// Waits until leadership changed since this handle last waited (or was made), so a check
    /// of [`Leadership::is_leader`] followed by this call never misses a change. Returns once more when the election task
    /// ends (leadership is then false for good) and never again after that, nor ever for
    /// [`Leadership::always`].
    pub async fn changed(&mut self) {
        match &mut self.0 {
            Some(rx) if rx.has_changed().is_ok() => {
                let _ = rx.changed().await;
            }
            _ => std::future::pending().await,
        }
    }
}

/// The running election. Dropping it aborts the task without touching the Lease (a crash, as
/// far as the other replicas can tell) and leadership reads false at once;
/// [`Elector::release`] is the graceful way out.
pub struct Elector {
    rx: watch::Receiver<bool>,
    /// To read false the moment the elector is dropped (an abort only takes effect later).
    tx: watch::Sender<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), LeaseError>>,
    lease: String,
    grace: Duration,
}

impl Elector {
    /// Whether we lead, as a cheap clonable handle; its [`Leadership::changed`] waits for
    /// changes after this call.
    pub fn leadership(&self) -> Leadership {
        let mut rx = self.rx.clone();
        rx.borrow_and_update();
        Leadership(Some(rx))
    }

    /// The raw receiver: `true` while leading.
    pub fn receiver(&self) -> watch::Receiver<bool> {
        self.rx.clone()
    }

    /// Stops competing: leadership goes false at once, then, if we hold the Lease, its holder is
    /// cleared so a follower takes over at its next look instead of after a full duration.
    pub async fn release(mut self) -> Result<(), LeaseError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let bound = self.grace.max(Duration::from_secs(2));
        match tokio::time::timeout(bound, &mut self.task).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Ok(()), // the task had already ended
            Err(_) => Err(LeaseError::Timeout(self.lease.clone())),
        }
    }
}

impl Drop for Elector {
    fn drop(&mut self) {
        self.task.abort();
        self.tx.send_replace(false);
    }
}

/// Starts competing for the Lease. The returned [`Elector`] reports leadership and owns the task.
pub fn elect(client: Client, config: LeaseConfig) -> Result<Elector, LeaseError> {
    config.validate()?;
    let (tx, rx) = watch::channel(false);
    let (stop_tx, stop_rx) = oneshot::channel();
    let lease = format!("{}/{}", config.namespace, config.name);
    let grace = config.grace;
    let candidate = Candidate {
        api: Api::namespaced(client, &config.namespace),
        config,
        observed: None,
    };
    let task = tokio::spawn(candidate.run(tx.clone(), stop_rx));
    Ok(Elector {
        rx,
        tx,
        stop: Some(stop_tx),
        task,
        lease,
        grace,
    })
}
