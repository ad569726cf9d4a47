//! The IO seam through which sloop changes the world. Real (OpenStack), simulated and dry-run
//! implementations sit behind the same small traits, so the decision core and the reconcile
//! loop never know which one they drive.

pub mod executor;
pub mod journaled;
pub mod stamp;

use crate::{
    policy::ServerTemplate,
    snapshot::{InstanceId, Time},
};
use std::{collections::BTreeMap, future::Future};

/// Why a call to the cloud failed, classified for retry decisions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActError {
    /// Worth retrying later (5xx, timeouts, 429).
    #[error("transient: {0}")]
    Transient(String),
    /// The resource is busy or immutable right now (Octavia 409, Nova task state).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Quota exceeded: more of the same will not help.
    #[error("quota exceeded: {0}")]
    Quota(String),
    /// The resource is gone.
    #[error("not found: {0}")]
    NotFound(String),
    /// Anything else: a bug or a misconfiguration that needs a human.
    #[error("fatal: {0}")]
    Fatal(String),
}

impl ActError {
    /// A low-cardinality label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            ActError::Transient(_) => "transient",
            ActError::Conflict(_) => "conflict",
            ActError::Quota(_) => "quota",
            ActError::NotFound(_) => "not-found",
            ActError::Fatal(_) => "fatal",
        }
    }
}

/// Everything needed to create one server of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerRequest {
    /// Server name.
    pub name: String,
    /// The policy's template.
    pub template: ServerTemplate,
    /// Availability zone chosen for this server (round-robin over the template's zones).
    pub availability_zone: Option<String>,
    /// Metadata: the group selector plus `sloop.policy` and `sloop.action` (idempotency key).
    pub metadata: BTreeMap<String, String>,
}

/// One action the cloud recorded on a server (Nova's `os-instance-actions`): what reached the
/// API, whatever the caller heard back. Read after a restart to tell whether an interrupted
/// call was sent (`crate::resolve`).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerAction {
    /// Nova's name: `create`, `delete`, `reboot`, `rebuild`, `live-migration`, …
    pub action: String,
    /// When the cloud started it (its clock), seconds since the Unix epoch.
    pub started: Time,
    /// The API request that started it (`req-…`), for the audit line; not a secret.
    pub request_id: Option<String>,
}

/// Nova's action name for a reboot (soft or hard alike).
pub const NOVA_REBOOT: &str = "reboot";
/// Nova's action name for a rebuild.
pub const NOVA_REBUILD: &str = "rebuild";
/// Nova's action name for a live migration.
pub const NOVA_LIVE_MIGRATION: &str = "live-migration";

/// Server lifecycle operations (Nova).
pub trait Compute {
    /// Starts creating a server; returns its ID once the API accepted the request.
    fn create_server(
        &mut self,
        req: &ServerRequest,
    ) -> impl Future<Output = Result<InstanceId, ActError>> + Send;
    /// Starts deleting a server.
    fn delete_server(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send;
    /// Starts a soft or hard reboot.
    fn reboot_server(&mut self, id: &str, hard: bool) -> impl Future<Output = Result<(), ActError>> + Send;
    /// Starts a rebuild from `image`.
    fn rebuild_server(&mut self, id: &str, image: &str) -> impl Future<Output = Result<(), ActError>> + Send;
    /// Starts a live migration to a host the scheduler picks (never the current one).
    fn live_migrate(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send;
    /// Merges `metadata` into the server's metadata, leaving other keys alone (the repair
    /// stamps of [`stamp`]). A mutating call: dry-run never makes it.
    fn stamp_server(
        &mut self,
        id: &str,
        metadata: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), ActError>> + Send;
    /// The actions the cloud recorded on server `id` that started at or after `since`, oldest
    /// first; empty when the server is gone. Read-only (dry-run makes it too): a restarted
    /// controller asks it whether the call of an interrupted repair reached the cloud.
    fn server_actions(
        &mut self,
        id: &str,
        since: Time,
    ) -> impl Future<Output = Result<Vec<ServerAction>, ActError>> + Send {
        let _ = (id, since);
        std::future::ready(Err(ActError::Fatal(
            "this cloud does not report server actions".into(),
        )))
    }
}

/// Load-balancer pool membership (Octavia).
pub trait Traffic {
    /// Sets the member weight of the instance, creating the member if it has none.
    fn set_member_weight(
        &mut self,
        id: &str,
        weight: u16,
    ) -> impl Future<Output = Result<(), ActError>> + Send;
    /// Removes the instance's member from the pool (no-op when absent). A cloud that honours
    /// the policy's drain grace first sets the member to weight 0 and leaves the removal (and
    /// the server's delete that follows) to [`Traffic::finish_drains`] on a later pass.
    fn remove_member(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send;
    /// Finishes the removals whose drain grace has passed by `now`: each retiring server's
    /// member leaves the pool and the server is deleted. Returns the servers deleted. Called
    /// once per pass before the pass's actions; a cloud that removes at once (the simulator)
    /// has nothing to finish.
    fn finish_drains(&mut self, now: Time) -> impl Future<Output = Result<Vec<InstanceId>, ActError>> + Send {
        let _ = now;
        std::future::ready(Ok(Vec::new()))
    }
}
