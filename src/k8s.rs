//! Running sloop inside Kubernetes: the deployment concerns that `rehearse` and `plan` never need.
//!
//! ```text
//!  lease    ── Lease get/create/replace ──► watch::Receiver<bool>   (only the leader acts)
//!  policies ── ConfigMap list/watch ──────► mpsc<PolicyEvent>       (an alternative to files)
//!  events   ◄── ActionEvent (bounded queue) ── the reconcile loop   (actions as k8s Events)
//! ```
//!
//! IO only; nothing here decides anything. Each part is a task with a channel at its edge, so
//! the daemon plugs them in without knowing about the kube crate, and tests drive them against
//! a fake API server on loopback (`tests/support/fake_k8s.rs`).

pub mod events;
pub mod lease;
pub mod policies;

pub use events::{ActionEvent, EventSink, EventSinkConfig, EventStats};
pub use lease::{Elector, Leadership, LeaseConfig, LeaseError, elect};
pub use policies::{ConfigMapSource, PolicyEvent, watch_configmaps};

/// Builds a client from the in-cluster service account or the local kubeconfig (the kube
/// crate's usual inference order), naming the failure when neither is usable.
pub async fn client() -> Result<kube::Client, kube::Error> {
    kube::Client::try_default().await
}
