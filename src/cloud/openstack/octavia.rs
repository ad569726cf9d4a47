//! Octavia pool members through the raw session (the `openstack` crate has no load-balancer
//! module). Every change puts the load balancer into `PENDING_UPDATE`; Octavia answers 409
//! ("immutable") until it is `ACTIVE` again, so changes retry conflicts with backoff and then
//! wait for the member to settle.

use super::{
    errors::{ApiError, ErrorClass},
    session::{Api, Request, Service},
};
use crate::observe::load::LbStats;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// A pool member as Octavia reports it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MemberView {
    /// ID.
    pub id: String,
    /// Name (sloop sets it to the server ID).
    #[serde(default)]
    pub name: String,
    /// Address.
    pub address: String,
    /// Port.
    pub protocol_port: u16,
    /// Weight.
    #[serde(default)]
    pub weight: u16,
    /// Admin state.
    #[serde(default = "yes")]
    pub admin_state_up: bool,
    /// `ONLINE`, `OFFLINE`, `DRAINING`, `ERROR`, `NO_MONITOR`.
    #[serde(default)]
    pub operating_status: String,
    /// `ACTIVE`, `PENDING_*`, `ERROR`.
    #[serde(default)]
    pub provisioning_status: String,
}

fn yes() -> bool {
    true
}

impl MemberView {
    /// Not known to be down: `NO_MONITOR` (no health monitor) is not evidence of a fault.
    pub fn online(&self) -> bool {
        !matches!(self.operating_status.as_str(), "OFFLINE" | "ERROR")
    }

    /// Octavia failed to apply the member (`provisioning_status` ERROR): whatever its weight,
    /// the load balancer does not send it traffic until it is updated again.
    pub fn failed(&self) -> bool {
        self.provisioning_status == "ERROR"
    }
}

/// The load balancer and pool a policy's traffic section names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRef {
    /// Load balancer ID.
    pub load_balancer: String,
    /// Pool ID.
    pub pool: String,
}

fn invalid(what: &str, e: impl ToString) -> ApiError {
    ApiError::local(ErrorClass::Invalid, "load-balancer", what, e.to_string())
}

/// Finds one object of `kind` (`loadbalancers`, `pools`) by ID or name.
async fn find(
    api: &mut Api,
    kind: &str,
    key: &str,
    name_or_id: &str,
    extra: &[(&str, &str)],
) -> Result<String, ApiError> {
    let by_id = Request::get(Service::LoadBalancer, &["lbaas", kind, name_or_id]);
    match api.call(&by_id).await {
        Ok(v) => {
            if let Some(id) = v.pointer(&format!("/{key}/id")).and_then(Value::as_str) {
                return Ok(id.to_owned());
            }
        }
        Err(e) if e.class == ErrorClass::NotFound || e.class == ErrorClass::Invalid => {}
        Err(e) => return Err(e),
    }
    let mut req = Request::get(Service::LoadBalancer, &["lbaas", kind]).param("name", name_or_id);
    for (k, v) in extra {
        req = req.param(k, *v);
    }
    let v = api.call(&req).await?;
    let found: Vec<&str> = v
        .get(kind)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|o| o.get("id")?.as_str()).collect())
        .unwrap_or_default();
    match found.as_slice() {
        [id] => Ok((*id).to_owned()),
        [] => Err(ApiError::local(
            ErrorClass::NotFound,
            "load-balancer",
            &req.what(),
            format!("no {key} named `{name_or_id}`"),
        )),
        _ => Err(invalid(
            &req.what(),
            format!("{} {kind} are named `{name_or_id}`; use the ID", found.len()),
        )),
    }
}

/// Resolves the policy's load balancer and pool (names or IDs).
pub async fn resolve(api: &mut Api, load_balancer: &str, pool: &str) -> Result<PoolRef, ApiError> {
    let lb = find(api, "loadbalancers", "loadbalancer", load_balancer, &[]).await?;
    let pool = find(api, "pools", "pool", pool, &[("loadbalancer_id", lb.as_str())]).await?;
    Ok(PoolRef {
        load_balancer: lb,
        pool,
    })
}

/// One page of `pools/{id}/members` (an answer without the list is an empty page).
pub fn parse_members(mut body: Value) -> Result<Vec<MemberView>, String> {
    let list = body
        .get_mut("members")
        .map_or(Value::Array(Vec::new()), Value::take);
    serde_json::from_value(list).map_err(|e| e.to_string())
}

/// The load balancer's statistics (`GET /v2/lbaas/loadbalancers/{id}/stats`): cumulative
/// counters summed over its listeners, as of the amphorae's last heartbeat.
pub async fn load_balancer_stats(api: &mut Api, pool: &PoolRef) -> Result<LbStats, ApiError> {
    let req = Request::get(
        Service::LoadBalancer,
        &["lbaas", "loadbalancers", &pool.load_balancer, "stats"],
    );
    let v = api.call(&req).await?;
    LbStats::parse(&v).map_err(|e| invalid(&req.what(), e))
}

/// All members of the pool, `page` at a time.
pub async fn list_members(api: &mut Api, pool: &PoolRef, page: usize) -> Result<Vec<MemberView>, ApiError> {
    let mut out: Vec<MemberView> = Vec::new();
    loop {
        let mut req = Request::get(Service::LoadBalancer, &["lbaas", "pools", &pool.pool, "members"])
            .param("limit", page.to_string());
        if let Some(last) = out.last() {
            req = req.param("marker", last.id.clone());
        }
        let v = api.call(&req).await?;
        let batch = parse_members(v).map_err(|e| invalid(&req.what(), e))?;
        let n = batch.len();
        out.extend(batch);
        if n < page {
            return Ok(out);
        }
    }
}

/// Adds a member; returns its ID.
pub async fn create_member(
    api: &mut Api,
    pool: &PoolRef,
    server_id: &str,
    address: &str,
    port: u16,
    subnet: Option<&str>,
    weight: u16,
) -> Result<String, ApiError> {
    let mut member =
        json!({ "name": server_id, "address": address, "protocol_port": port, "weight": weight });
    if let Some(s) = subnet {
        member["subnet_id"] = json!(s);
    }
    let req = Request::post(
        Service::LoadBalancer,
        &["lbaas", "pools", &pool.pool, "members"],
        json!({ "member": member }),
    )
    .retry_conflicts();
    let v = api.call(&req).await?;
    v.pointer("/member/id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| invalid(&req.what(), "no member id in the answer"))
}

/// Sets weight and admin state of a member.
pub async fn update_member(
    api: &mut Api,
    pool: &PoolRef,
    member: &str,
    weight: u16,
    admin_up: bool,
) -> Result<(), ApiError> {
    let body = json!({ "member": { "weight": weight, "admin_state_up": admin_up } });
    let req = Request::put(
        Service::LoadBalancer,
        &["lbaas", "pools", &pool.pool, "members", member],
        body,
    )
    .retry_conflicts();
    api.call(&req).await.map(drop)
}

/// Removes a member (absent counts as removed).
pub async fn delete_member(api: &mut Api, pool: &PoolRef, member: &str) -> Result<(), ApiError> {
    let req = Request::delete(
        Service::LoadBalancer,
        &["lbaas", "pools", &pool.pool, "members", member],
    )
    .retry_conflicts();
    match api.call(&req).await {
        Err(e) if e.class != ErrorClass::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Waits until the member is `ACTIVE` (or gone, when `gone` is wanted).
pub async fn wait_member(
    api: &mut Api,
    pool: &PoolRef,
    member: &str,
    gone: bool,
    timeout: Duration,
    poll: Duration,
) -> Result<(), ApiError> {
    let req = Request::get(
        Service::LoadBalancer,
        &["lbaas", "pools", &pool.pool, "members", member],
    );
    let rounds = (timeout.as_secs_f64() / poll.as_secs_f64().max(0.001))
        .ceil()
        .max(1.0) as u64;
    let mut last = String::from("unknown");
    for _ in 0..rounds {
        match api.call(&req).await {
            Err(e) if e.class == ErrorClass::NotFound && gone => return Ok(()),
            Err(e) => return Err(e),
            Ok(v) => {
                let status = v
                    .pointer("/member/provisioning_status")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                match status {
                    "ACTIVE" if !gone => return Ok(()),
                    "ERROR" => return Err(invalid(&req.what(), format!("member {member} went to ERROR"))),
                    _ => last = status.to_owned(),
                }
            }
        }
        tokio::time::sleep(poll).await;
    }
    Err(ApiError::local(
        ErrorClass::Transport,
        "load-balancer",
        &req.what(),
        format!("member {member} did not settle within {timeout:?} (last {last})"),
    ))
}

/// Which member belongs to a server: the one named after it, else the one on one of its
/// addresses and the member port.
pub fn member_of<'a>(
    members: &'a [MemberView],
    server_id: &str,
    addresses: &[String],
    port: u16,
) -> Option<&'a MemberView> {
    members.iter().find(|m| m.name == server_id).or_else(|| {
        members
            .iter()
            .find(|m| m.protocol_port == port && addresses.contains(&m.address))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, name: &str, addr: &str, port: u16) -> MemberView {
        MemberView {
            id: id.into(),
            name: name.into(),
            address: addr.into(),
            protocol_port: port,
            weight: 1,
            admin_state_up: true,
            operating_status: "NO_MONITOR".into(),
            provisioning_status: "ACTIVE".into(),
        }
    }

    #[test]
    fn members_are_matched_by_name_then_by_address_and_port() {
        let ms = [
            m("a", "", "fd00::1", 80),
            m("b", "srv-2", "10.0.0.9", 80),
            m("c", "", "fd00::3", 8080),
        ];
        assert_eq!(member_of(&ms, "srv-2", &[], 80).map(|x| x.id.as_str()), Some("b"));
        assert_eq!(
            member_of(&ms, "srv-1", &["fd00::1".into()], 80).map(|x| x.id.as_str()),
            Some("a")
        );
        assert!(
            member_of(&ms, "srv-3", &["fd00::3".into()], 80).is_none(),
            "other port"
        );
    }

    #[test]
    fn no_monitor_is_not_evidence_of_a_fault() {
        let mut x = m("a", "", "fd00::1", 80);
        assert!(x.online());
        x.operating_status = "OFFLINE".into();
        assert!(!x.online());
    }
}
