//! Pool membership for `OpenStackCloud`: admit a server on its address (IPv6 first) and
//! subnet, set weights, and drain (weight 0, a grace period, then remove) before a delete.

use super::{
    super::{
        errors::{ApiError, ErrorClass},
        nova, octavia,
        session::{Request, Service},
    },
    OpenStackCloud, act,
};
use crate::act::{ActError, Traffic};
use serde_json::Value;

impl OpenStackCloud {
    /// Sets up the pool member of server `id` with `weight`, creating it on the server's address
    /// (IPv6 first) and subnet when it has none.
    pub(super) async fn ensure_member(&mut self, id: &str, weight: u16) -> Result<(), ApiError> {
        let Some(pool) = self.pool_ref().await? else {
            return Ok(());
        };
        let port = self.policy.spec.traffic.as_ref().map_or(80, |t| t.member_port);
        let (timeout, poll) = (self.opts.timeouts.member, self.opts.poll);
        let server = nova::existing_server(&mut self.api, id).await?;
        let addresses = server.addresses_by_family();
        let plain: Vec<String> = addresses.iter().map(|(_, a)| a.clone()).collect();
        let members = octavia::list_members(&mut self.api, &pool, self.opts.page_size).await?;
        let member_id = match octavia::member_of(&members, id, &plain, port) {
            Some(m) if m.weight == weight && m.admin_state_up => return Ok(()),
            Some(m) => {
                octavia::update_member(&mut self.api, &pool, &m.id, weight, true).await?;
                m.id.clone()
            }
            // Draining a server without a member: nothing takes its traffic, nothing to create.
            None if weight == 0 => return Ok(()),
            // Never a member for a server on its way out: it would outlive the server.
            None if server.task_state.as_deref() == Some("deleting") || server.status == "DELETED" => {
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
                .await?
            }
        };
        octavia::wait_member(&mut self.api, &pool, &member_id, false, timeout, poll).await
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

    pub(super) async fn drain_and_remove(&mut self, id: &str) -> Result<(), ApiError> {
        let Some(pool) = self.pool_ref().await? else {
            return Ok(());
        };
        let port = self.policy.spec.traffic.as_ref().map_or(80, |t| t.member_port);
        let (timeout, poll) = (self.opts.timeouts.member, self.opts.poll);
        let plain: Vec<String> = match nova::get_server(&mut self.api, id).await? {
            Some(s) => s.addresses_by_family().into_iter().map(|(_, a)| a).collect(),
            None => Vec::new(),
        };
        let members = octavia::list_members(&mut self.api, &pool, self.opts.page_size).await?;
        let Some(m) = octavia::member_of(&members, id, &plain, port).cloned() else {
            return Ok(());
        };
        if m.weight > 0 {
            octavia::update_member(&mut self.api, &pool, &m.id, 0, m.admin_state_up).await?;
            octavia::wait_member(&mut self.api, &pool, &m.id, false, timeout, poll).await?;
            tracing::info!(server = id, member = %m.id, grace = ?self.opts.drain_grace, "Member drained; removing after the grace period.");
            tokio::time::sleep(self.opts.drain_grace).await;
        }
        octavia::delete_member(&mut self.api, &pool, &m.id).await?;
        octavia::wait_member(&mut self.api, &pool, &m.id, true, timeout, poll).await
    }
}

impl Traffic for OpenStackCloud {
    async fn set_member_weight(&mut self, id: &str, weight: u16) -> Result<(), ActError> {
        self.ensure_member(id, weight).await.map_err(act)
    }

    async fn remove_member(&mut self, id: &str) -> Result<(), ActError> {
        self.drain_and_remove(id).await.map_err(act)
    }
}
