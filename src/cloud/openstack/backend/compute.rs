//! Server actions for `OpenStackCloud`: each is issued to Nova and returns once Nova accepted
//! it, never waiting for the server to get there. Nova marks the server at once (BUILD, a task
//! state such as `rebooting` or `deleting`), so the next observation shows the work in flight
//! (`inventory::in_flight_of`) and the one after it the result: ACTIVE, or ERROR, which the
//! decision core judges like any other server state. The reconcile loop is never held up by
//! a boot, a reboot or a migration, and a `kill -9` in between loses nothing the cloud does
//! not show.

use super::{
    super::{
        errors::{ApiError, ErrorClass},
        nova, resolve,
    },
    OpenStackCloud, act,
};
use crate::{
    act::{ActError, Compute, ServerAction, ServerRequest},
    snapshot::Time,
};
use std::{collections::BTreeMap, time::Duration};

impl OpenStackCloud {
    async fn wait_settled(
        &mut self,
        id: &str,
        what: &str,
        timeout: Duration,
    ) -> Result<nova::ServerView, ApiError> {
        let poll = self.opts.poll;
        let s = nova::wait_for(&mut self.api, id, what, timeout, poll, |s| {
            s.is_none_or(|s| s.is_idle() && s.status == "ACTIVE")
        })
        .await?;
        s.ok_or_else(|| {
            ApiError::local(
                ErrorClass::NotFound,
                "compute",
                what,
                format!("server {id} vanished"),
            )
        })
    }

    /// Live-migrates `id` to `host`, or to a host the scheduler picks when `None`, and waits;
    /// an error when the server ends up where it was. For tools and tests: the reconcile loop
    /// issues migrations without waiting ([`Compute::live_migrate`]).
    pub async fn live_migrate_to(&mut self, id: &str, host: Option<&str>) -> Result<(), ApiError> {
        let before = nova::existing_server(&mut self.api, id).await?;
        nova::action(&mut self.api, id, nova::live_migrate_body(host)).await?;
        let after = self
            .wait_settled(id, "os-migrateLive", self.opts.migrate_timeout)
            .await?;
        match (&before.host, &after.host) {
            (Some(a), Some(b)) if a == b => Err(ApiError::local(
                ErrorClass::Conflict,
                "compute",
                "os-migrateLive",
                format!(
                    "server {id} is still on {a} after the migration (no other host fits, or it failed: see os-migrations)"
                ),
            )),
            _ => Ok(()),
        }
    }
}

impl Compute for OpenStackCloud {
    async fn create_server(&mut self, req: &ServerRequest) -> Result<String, ActError> {
        let r = self.resolved().await.map_err(act)?;
        let t = &req.template;
        // A replacement keeps off the replaced server's host where the scheduler can be told so;
        // where it cannot, the decision core checks where Nova put it (`plan/replace.rs`).
        let different_host: Vec<String> = req
            .metadata
            .get(crate::act::stamp::REPLACES_KEY)
            .cloned()
            .into_iter()
            .collect();
        let body = nova::CreateServer {
            name: &req.name,
            image: &r.image,
            flavor: &r.flavor,
            networks: &r.networks,
            availability_zone: req.availability_zone.as_deref(),
            security_groups: &t.security_groups,
            key_name: t.key_pair.as_deref(),
            user_data: r.user_data.as_deref(),
            server_group: r.server_group.as_deref(),
            different_host: &different_host,
            metadata: &req.metadata,
        };
        let id = nova::create_server(&mut self.api, &body).await.map_err(act)?;
        tracing::info!(server = %id, name = %req.name, "Server requested; its build is followed by the next observations.");
        Ok(id)
    }

    /// Deletes at once, unless the server's pool member is still within its drain grace: then
    /// the server is marked for retirement (`sloop.retire`, read back as being deleted) and
    /// [`crate::act::Traffic::finish_drains`] deletes it on a later pass.
    async fn delete_server(&mut self, id: &str) -> Result<(), ActError> {
        if self.defer_delete(id).await.map_err(act)? {
            return Ok(());
        }
        nova::delete_server(&mut self.api, id).await.map_err(act)?;
        self.forget_drain(id);
        Ok(())
    }

    async fn reboot_server(&mut self, id: &str, hard: bool) -> Result<(), ActError> {
        let kind = if hard { "HARD" } else { "SOFT" };
        let body = serde_json::json!({ "reboot": { "type": kind } });
        nova::action(&mut self.api, id, body).await.map_err(act)
    }

    async fn rebuild_server(&mut self, id: &str, image: &str) -> Result<(), ActError> {
        let image = resolve::image(&mut self.api, image).await.map_err(act)?;
        let body = serde_json::json!({ "rebuild": { "imageRef": image } });
        nova::action(&mut self.api, id, body).await.map_err(act)
    }

    /// Issues the migration; whether the server moved shows in later observations (its host),
    /// and a server the scheduler could not move stays where the host-fault diagnosis finds it.
    async fn live_migrate(&mut self, id: &str) -> Result<(), ActError> {
        nova::action(&mut self.api, id, nova::live_migrate_body(None))
            .await
            .map_err(act)
    }

    async fn stamp_server(&mut self, id: &str, metadata: &BTreeMap<String, String>) -> Result<(), ActError> {
        nova::update_metadata(&mut self.api, id, metadata)
            .await
            .map_err(act)
    }

    async fn server_actions(&mut self, id: &str, since: Time) -> Result<Vec<ServerAction>, ActError> {
        let all = nova::instance_actions(&mut self.api, id).await.map_err(act)?;
        Ok(all
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.started >= since)
            .collect())
    }
}
