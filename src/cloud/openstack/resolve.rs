//! Turns the policy's server template (names, a user-data file path) into what Nova's create
//! call needs (IDs, base64). Flavors and networks are looked up through the `openstack` crate's
//! typed API on the shared session; images (Glance) and server groups through the raw session.

use super::{
    errors::{ApiError, ErrorClass},
    nova,
    session::{Api, Request, Service, from_osauth},
};
use crate::policy::{AffinityPolicy, ServerTemplate};
use serde_json::{Value, json};
use std::path::Path;

/// Nova's limit on base64 user data.
const USER_DATA_MAX: usize = 65_535;

/// A template with every name resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Image ID.
    pub image: String,
    /// Flavor ID.
    pub flavor: String,
    /// Network IDs, in order.
    pub networks: Vec<String>,
    /// Server group ID.
    pub server_group: Option<String>,
    /// Base64 user data.
    pub user_data: Option<String>,
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// Finds an image by ID or name (exactly one must match).
pub async fn image(api: &mut Api, name_or_id: &str) -> Result<String, ApiError> {
    if looks_like_uuid(name_or_id) {
        return Ok(name_or_id.to_owned());
    }
    let req = Request::get(Service::Image, &["images"]).param("name", name_or_id);
    let v = api.call(&req).await?;
    let ids: Vec<&str> = v
        .get("images")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|i| i.get("id")?.as_str()).collect())
        .unwrap_or_default();
    match ids.as_slice() {
        [id] => Ok((*id).to_owned()),
        [] => Err(ApiError::local(
            ErrorClass::NotFound,
            "image",
            &req.what(),
            format!("no image named `{name_or_id}`"),
        )),
        _ => Err(ApiError::local(
            ErrorClass::Invalid,
            "image",
            &req.what(),
            format!("{} images are named `{name_or_id}`; use the ID", ids.len()),
        )),
    }
}

/// Reads and encodes the user-data file (relative to the policy's directory).
pub fn user_data(dir: &Path, file: &str) -> Result<String, ApiError> {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).map_err(|e| {
        ApiError::local(
            ErrorClass::Invalid,
            "compute",
            "user_data",
            format!("{}: {e}", path.display()),
        )
    })?;
    let encoded = nova::base64(&bytes);
    if encoded.len() > USER_DATA_MAX {
        return Err(ApiError::local(
            ErrorClass::Invalid,
            "compute",
            "user_data",
            format!(
                "{}: {} bytes base64, Nova accepts at most {USER_DATA_MAX}",
                path.display(),
                encoded.len()
            ),
        ));
    }
    Ok(encoded)
}

fn policy_name(p: AffinityPolicy) -> &'static str {
    match p {
        AffinityPolicy::AntiAffinity => "anti-affinity",
        AffinityPolicy::SoftAntiAffinity => "soft-anti-affinity",
        AffinityPolicy::Affinity => "affinity",
        AffinityPolicy::SoftAffinity => "soft-affinity",
    }
}

/// Finds the server group by name, creating it with the policy's rule if it is missing.
pub async fn server_group(api: &mut Api, name: &str, rule: AffinityPolicy) -> Result<String, ApiError> {
    let v = api
        .call(&Request::get(Service::Compute, &["os-server-groups"]))
        .await?;
    if let Some(id) = v
        .get("server_groups")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|g| g.get("name").and_then(Value::as_str) == Some(name))
        })
        .and_then(|g| g.get("id")?.as_str())
    {
        return Ok(id.to_owned());
    }
    let group = if api.compute_microversion() >= (2, 64) {
        json!({ "name": name, "policy": policy_name(rule) })
    } else {
        json!({ "name": name, "policies": [policy_name(rule)] })
    };
    let req = Request::post(
        Service::Compute,
        &["os-server-groups"],
        json!({ "server_group": group }),
    );
    let v = api.call(&req).await?;
    v.pointer("/server_group/id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::local(ErrorClass::Invalid, "compute", &req.what(), "no server group id"))
}

/// Resolves every name in `t`.
pub async fn template(api: &mut Api, t: &ServerTemplate, policy_dir: &Path) -> Result<Resolved, ApiError> {
    let sdk = openstack::Cloud::from(api.session().clone());
    let flavor = sdk
        .get_flavor(&t.flavor)
        .await
        .map_err(|e| from_osauth(e, "compute", &format!("GET flavors/{}", t.flavor)))?
        .id()
        .clone();
    let mut networks = Vec::new();
    for n in &t.networks {
        let net = sdk
            .get_network(&n.network)
            .await
            .map_err(|e| from_osauth(e, "network", &format!("GET networks/{}", n.network)))?;
        networks.push(net.id().clone());
    }
    let image = image(api, &t.image).await?;
    let server_group = match &t.server_group {
        Some(g) => Some(server_group(api, &g.name, g.policy).await?),
        None => None,
    };
    let user_data = t
        .user_data
        .as_deref()
        .map(|f| user_data(policy_dir, f))
        .transpose()?;
    Ok(Resolved {
        image,
        flavor,
        networks,
        server_group,
        user_data,
    })
}
