//! Pool membership for `OpenStackCloud`: admit a server on its address (IPv6 first) and
//! subnet, set weights, and drain before a delete. Every call is issued and not waited for:
//! Octavia's member state shows in the next observation, and a load balancer still applying the
//! previous change (409, `PENDING_*`) is retried by the session with backoff.
//!
//! Draining is never a sleep. A server that leaves the group has its member set to weight 0;
//! its deletion waits for the policy's `traffic.drainGrace`, counted from that moment: the
//! server is stamped `sloop.retire` (read back as being deleted), and
//! [`Traffic::finish_drains`] removes the member on the first pass after the grace and deletes
//! the server on the first pass that finds the member gone, so no member ever points at a
//! server being deleted. A restarted controller finds the stamp on the server and finishes.

use super::{
    super::{
        errors::{ApiError, ErrorClass},
        nova, octavia,
        session::{Request, Service},
    },
    OpenStackCloud, act,
};
use crate::{
    act::{ActError, Traffic, stamp},
    snapshot::{InstanceId, Time},
};
use serde_json::Value;

impl OpenStackCloud {
    /// The policy's drain grace, in seconds (0 without a pool).
    fn drain_grace(&self) -> f64 {
        self.policy
            .spec
            .traffic
            .as_ref()
            .map_or(0.0, |t| t.drain_grace.secs().max(0.0))
    }

    /// The pool member of server `id`, if it has one.
    async fn member_of_server(
        &mut self,
        id: &str,
    ) -> Result<Option<(octavia::PoolRef, octavia::MemberView)>, ApiError> {
        Ok(self.server_and_member(id).await?.1)
    }

    /// Server `id` as Nova reports it (`None` when gone) and its pool member, if it has one.
    async fn server_and_member(
        &mut self,
        id: &str,
    ) -> Result<
        (
            Option<nova::ServerView>,
            Option<(octavia::PoolRef, octavia::MemberView)>,
        ),
        ApiError,
    > {
        let server = nova::get_server(&mut self.api, id).await?;
        let Some(pool) = self.pool_ref().await? else {
            return Ok((server, None));
        };
        let port = self.policy.spec.traffic.as_ref().map_or(80, |t| t.member_port);
        let plain: Vec<String> = match &server {
            Some(s) => s.addresses_by_family().into_iter().map(|(_, a)| a).collect(),
            None => Vec::new(),
        };
        let members = octavia::list_members(&mut self.api, &pool, self.opts.page_size).await?;
        let member = octavia::member_of(&members, id, &plain, port)
            .cloned()
            .map(|m| (pool, m));
        Ok((server, member))
    }

    /// Sets up the pool member of server `id` with `weight`, creating it on the server's address
    /// (IPv6 first) and subnet when it has none.
    pub(super) async fn ensure_member(&mut self, id: &str, weight: u16) -> Result<(), ApiError> {
        let Some(pool) = self.pool_ref().await? else {
            return Ok(());
        };
        let port = self.policy.spec.traffic.as_ref().map_or(80, |t| t.member_port);
        let server = nova::existing_server(&mut self.api, id).await?;
        let addresses = server.addresses_by_family();
        let plain: Vec<String> = addresses.iter().map(|(_, a)| a.clone()).collect();
        let members = octavia::list_members(&mut self.api, &pool, self.opts.page_size).await?;
        match octavia::member_of(&members, id, &plain, port) {
            // A member Octavia failed to apply is updated again even at the right weight: the
            // update makes Octavia apply it anew.
            Some(m) if m.weight == weight && m.admin_state_up && !m.failed() => {}
            Some(m) => {
                octavia::update_member(&mut self.api, &pool, &m.id, weight, true).await?;
                if weight == 0 && m.weight > 0 {
                    self.drained_at.insert(id.to_owned(), self.api.now());
                }
            }
            // Draining a server without a member: nothing takes its traffic, nothing to create.
            None if weight == 0 => return Ok(()),
            // Never a member for a server on its way out: it would outlive the server.
            None if being_deleted(&server) => {
                return Err(ApiError::local(
                    ErrorClass::Conflict,
                    "compute",
                    "GET servers",
                    format!("server {id} is being deleted; no pool member is created for it"),
                ));
            }
            None => {
                let Some((_, address)) = addresses.first().cloned() else {
                    return Err(ApiError::local(
                        ErrorClass::Invalid,
                        "compute",
                        "GET servers",
                        format!("server {id} has no address to put into the pool"),
                    ));
                };
                let subnet = self.subnet_of(id, &address).await?;
                octavia::create_member(
                    &mut self.api,
                    &pool,
                    id,
                    &address,
                    port,
                    subnet.as_deref(),
                    weight,
                )
                .await?;
            }
        }
        if weight > 0 {
            self.drained_at.remove(id);
        }
        Ok(())
    }

    /// The Neutron subnet of one of the server's addresses, so Octavia routes to it.
    async fn subnet_of(&mut self, server: &str, address: &str) -> Result<Option<String>, ApiError> {
        let req = Request::get(Service::Network, &["ports"]).param("device_id", server);
        let v = self.api.call(&req).await?;
        let found = v
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find_map(|p| {
                p.get("fixed_ips")?.as_array()?.iter().find_map(|ip| {
                    (ip.get("ip_address")?.as_str()? == address)
                        .then(|| ip.get("subnet_id")?.as_str().map(str::to_owned))?
                })
            });
        Ok(found)
    }

    /// Drains the member of server `id` (weight 0) if it still takes traffic, and removes it
    /// once the drain grace has passed; until then it is left at weight 0 and
    /// [`Self::drain_due`] says when it may go. A member drained before this process started
    /// has an unknown drain time and counts as drained long enough.
    pub(super) async fn drain_and_remove(&mut self, id: &str) -> Result<(), ApiError> {
        let (server, member) = self.server_and_member(id).await?;
        let Some((pool, m)) = member else {
            self.drained_at.remove(id);
            return Ok(());
        };
        // Nothing answers behind the member of a server that is gone or being deleted: there is
        // nothing to drain, and every request it gets fails. It goes at once.
        if server.as_ref().is_none_or(being_deleted) {
            if m.provisioning_status != "PENDING_DELETE" {
                octavia::delete_member(&mut self.api, &pool, &m.id).await?;
                tracing::info!(server = id, member = %m.id, "Member of a server that is gone or being deleted removed.");
            }
            self.drained_at.remove(id);
            return Ok(());
        }
        let (grace, now) = (self.drain_grace(), self.api.now());
        if m.weight > 0 && grace > 0.0 {
            octavia::update_member(&mut self.api, &pool, &m.id, 0, m.admin_state_up).await?;
            self.drained_at.insert(id.to_owned(), now);
            tracing::info!(server = id, member = %m.id, grace, "Member drained; it leaves the pool once the grace has passed.");
            return Ok(());
        }
        if self.drain_due(id).is_some_and(|due| due > now) {
            return Ok(());
        }
        octavia::delete_member(&mut self.api, &pool, &m.id).await?;
        self.drained_at.remove(id);
        Ok(())
    }

    /// When the drain of server `id`'s member, started by this process, has lasted the grace.
    pub(super) fn drain_due(&self, id: &str) -> Option<Time> {
        self.drained_at.get(id).map(|at| at + self.drain_grace())
    }

    /// Forgets a server this process no longer drains or retires.
    pub(super) fn forget_drain(&mut self, id: &str) {
        self.drained_at.remove(id);
        self.retiring.remove(id);
    }

    /// Whether the delete of server `id` must wait: for its member's drain grace, or for its
    /// member to leave the pool (a server is never deleted under a member). If so, stamps the
    /// server `sloop.retire` so every observation (and a restarted controller) sees it leaving,
    /// and [`Self::finish_retiring`] deletes it later. Nova refuses metadata on a server in
    /// ERROR (409): such a server serves nothing to drain; it is remembered here only.
    pub(super) async fn defer_delete(&mut self, id: &str) -> Result<bool, ApiError> {
        let now = self.api.now();
        let due = match self.drain_due(id).filter(|due| *due > now) {
            Some(due) => due,
            None => match self.server_and_member(id).await? {
                // Gone already (an orphan member's server): the delete finds nothing.
                (None, _) => return Ok(false),
                (Some(_), Some(_)) => now,
                (Some(_), None) => return Ok(false),
            },
        };
        match nova::update_metadata(&mut self.api, id, &stamp::retire(due)).await {
            Ok(()) => tracing::info!(
                server = id,
                due,
                "Server retiring: deleted once its member has drained and left the pool."
            ),
            Err(e) if e.class == ErrorClass::Conflict => {
                tracing::info!(
                    server = id,
                    "Nova refused the retire stamp in this server state; deleting it once its member has left."
                );
            }
            Err(e) => return Err(e),
        }
        self.retiring.insert(id.to_owned(), due);
        Ok(true)
    }

    /// Moves each retiring server whose grace has passed by `now` one step out: while it has a
    /// member, the member is removed; once it has none, the server is deleted. Returns the
    /// servers deleted. Every server is tried; the first error is returned after all were
    /// tried, and a server that failed stays retiring for the next pass.
    pub(super) async fn finish_retiring(&mut self, now: Time) -> Result<Vec<InstanceId>, ApiError> {
        let due: Vec<InstanceId> = self
            .retiring
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        let (mut done, mut first_error) = (Vec::new(), None);
        for id in due {
            // The grace is over: the member goes whatever this process remembers of its drain.
            self.drained_at.remove(&id);
            let r = match self.member_of_server(&id).await {
                Ok(Some((pool, m))) if m.provisioning_status != "PENDING_DELETE" => {
                    octavia::delete_member(&mut self.api, &pool, &m.id)
                        .await
                        .map(|()| false)
                }
                Ok(Some(_)) => Ok(false),
                Ok(None) => nova::delete_server(&mut self.api, &id).await.map(|()| true),
                Err(e) => Err(e),
            };
            match r {
                Ok(true) => {
                    self.retiring.remove(&id);
                    done.push(id);
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(server = %id, error = %e, "Retiring server not removed yet; trying again next pass.");
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(done), Err)
    }
}

/// Whether Nova is deleting the server (or has: soft-deleted servers linger).
fn being_deleted(server: &nova::ServerView) -> bool {
    server.task_state.as_deref() == Some("deleting")
        || matches!(server.status.as_str(), "DELETED" | "SOFT_DELETED")
}

impl Traffic for OpenStackCloud {
    async fn set_member_weight(&mut self, id: &str, weight: u16) -> Result<(), ActError> {
        self.ensure_member(id, weight).await.map_err(act)
    }

    async fn remove_member(&mut self, id: &str) -> Result<(), ActError> {
        self.drain_and_remove(id).await.map_err(act)
    }

    async fn finish_drains(&mut self, now: Time) -> Result<Vec<InstanceId>, ActError> {
        self.finish_retiring(now).await.map_err(act)
    }
}
