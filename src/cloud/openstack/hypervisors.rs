//! The cloud's compute hosts from `GET os-hypervisors/detail`, where the credentials may list
//! them (an admin API under Nova's default policy). Paginated with `limit`/`marker` from
//! microversion 2.33; asked at 2.87 at most, because 2.88 removed the load fields (vCPUs,
//! memory, running servers) in favour of Placement. A 403 is an answer, not a fault: the host
//! view becomes `NotPermitted` and nothing is alarmed.

use super::{
    errors::{ApiError, ErrorClass},
    session::{Api, Request, Service},
};
use crate::snapshot::{Host, Hosts};
use serde::Deserialize;
use serde_json::Value;

/// The newest microversion whose hypervisor listing still carries the load fields.
pub const LOAD_FIELDS_UNTIL: (u16, u16) = (2, 87);

/// The first microversion that paginates the hypervisor listing.
pub const PAGINATED_FROM: (u16, u16) = (2, 33);

#[derive(Deserialize)]
struct Page {
    hypervisors: Vec<HypervisorView>,
}

/// One hypervisor as Nova reports it (IDs are integers before 2.53 and UUIDs after).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HypervisorView {
    /// ID (a number or a UUID string).
    pub id: Value,
    /// The node name.
    #[serde(default)]
    pub hypervisor_hostname: String,
    /// `up` or `down`.
    #[serde(default)]
    pub state: String,
    /// `enabled` or `disabled`.
    #[serde(default)]
    pub status: String,
    /// The compute service on it.
    #[serde(default)]
    pub service: Option<ServiceView>,
    /// vCPUs (until 2.87).
    #[serde(default)]
    pub vcpus: Option<u32>,
    /// vCPUs in use (until 2.87).
    #[serde(default)]
    pub vcpus_used: Option<u32>,
    /// Memory, MiB (until 2.87).
    #[serde(default)]
    pub memory_mb: Option<u64>,
    /// Memory in use, MiB (until 2.87).
    #[serde(default)]
    pub memory_mb_used: Option<u64>,
    /// Servers running (until 2.87).
    #[serde(default)]
    pub running_vms: Option<u32>,
}

/// The compute service part of a hypervisor.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServiceView {
    /// Its host name (what servers carry as `OS-EXT-SRV-ATTR:host`).
    #[serde(default)]
    pub host: String,
}

impl HypervisorView {
    /// The marker for the next page: the ID as Nova printed it.
    fn marker(&self) -> String {
        match &self.id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// sloop's view of the host.
    pub fn host(&self) -> Host {
        let name = self
            .service
            .as_ref()
            .map(|s| s.host.clone())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| self.hypervisor_hostname.clone());
        Host {
            name,
            node: self.hypervisor_hostname.clone(),
            up: self.state == "up",
            enabled: self.status == "enabled",
            running_vms: self.running_vms,
            vcpus_used: self.vcpus_used,
            vcpus: self.vcpus,
            memory_used_mb: self.memory_mb_used,
            memory_mb: self.memory_mb,
        }
    }
}

/// One page of `os-hypervisors/detail`.
pub fn parse_page(body: Value) -> Result<Vec<HypervisorView>, String> {
    serde_json::from_value::<Page>(body)
        .map(|p| p.hypervisors)
        .map_err(|e| e.to_string())
}

/// Lists every hypervisor, `page` at a time where the cloud paginates; `NotPermitted` on 403.
pub async fn list(api: &mut Api, page: usize) -> Result<Hosts, ApiError> {
    let paginated = api.compute_microversion() >= PAGINATED_FROM;
    let page = page.max(1);
    let mut out: Vec<HypervisorView> = Vec::new();
    loop {
        let (major, minor) = LOAD_FIELDS_UNTIL;
        let mut req =
            Request::get(Service::Compute, &["os-hypervisors", "detail"]).max_microversion(major, minor);
        if paginated {
            req = req.param("limit", page.to_string());
            if let Some(last) = out.last() {
                req = req.param("marker", last.marker());
            }
        }
        let body = match api.call(&req).await {
            Ok(body) => body,
            Err(e) if e.class == ErrorClass::Forbidden => {
                tracing::debug!(error = %e, "Hypervisor listing not permitted for these credentials.");
                return Ok(Hosts::NotPermitted);
            }
            Err(e) => return Err(e),
        };
        let batch =
            parse_page(body).map_err(|e| ApiError::local(ErrorClass::Invalid, "compute", &req.what(), e))?;
        let n = batch.len();
        out.extend(batch);
        if !paginated || n < page {
            break;
        }
    }
    Ok(Hosts::Listed {
        hosts: out.iter().map(HypervisorView::host).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hypervisors_become_hosts_named_like_their_servers_host() {
        let page = json!({"hypervisors": [
            {"id": 1, "hypervisor_hostname": "compute1.node", "state": "up", "status": "enabled",
             "service": {"host": "compute1", "id": 5}, "vcpus": 8, "vcpus_used": 2,
             "memory_mb": 4096, "memory_mb_used": 640, "running_vms": 2},
            {"id": "b6b4f1f0-0000-4000-8000-000000000002", "hypervisor_hostname": "compute2",
             "state": "down", "status": "disabled"}
        ]});
        let views = parse_page(page).unwrap();
        assert_eq!(views[0].marker(), "1");
        assert_eq!(views[1].marker(), "b6b4f1f0-0000-4000-8000-000000000002");
        let h = views[0].host();
        assert_eq!((h.name.as_str(), h.node.as_str()), ("compute1", "compute1.node"));
        assert!(h.up && h.enabled);
        assert_eq!(h.vcpu_load(), Some(0.25));
        let h2 = views[1].host();
        assert_eq!(h2.name, "compute2", "no service: the node name");
        assert!(!h2.up && !h2.enabled);
        assert_eq!(h2.vcpu_load(), None, "2.88+ has no load: unknown, not zero");
    }

    #[test]
    fn a_page_without_the_list_is_an_error() {
        assert!(parse_page(json!({"servers": []})).is_err());
        assert!(
            parse_page(json!({"hypervisors": [{"state": "up"}]})).is_err(),
            "no id"
        );
    }
}
