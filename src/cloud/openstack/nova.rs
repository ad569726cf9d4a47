//! Nova through the raw session (the `openstack` crate's `Server` has no host, task state or
//! power state, cannot send `networks: none`, update metadata or live-migrate): servers listed
//! page by page, created from the policy template, rebooted, rebuilt, live-migrated, deleted,
//! and waited for with a per-action timeout.

use super::{
    errors::{ApiError, ErrorClass},
    session::{Api, Request, Service},
};
use crate::{
    act::ServerAction,
    snapshot::{IpFamily, Time},
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::{collections::BTreeMap, time::Duration};

/// A server as Nova reports it, with the fields sloop reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServerView {
    /// ID.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// `BUILD`, `ACTIVE`, `REBOOT`, `HARD_REBOOT`, `REBUILD`, `MIGRATING`, `SHUTOFF`, `ERROR`, …
    pub status: String,
    /// `OS-EXT-STS:task_state` (null when idle).
    #[serde(default, rename = "OS-EXT-STS:task_state")]
    pub task_state: Option<String>,
    /// `OS-EXT-STS:power_state` (1 running, 4 shutdown, 0 no state).
    #[serde(default, rename = "OS-EXT-STS:power_state")]
    pub power_state: Option<i64>,
    /// Hypervisor (visible to admins only).
    #[serde(default, rename = "OS-EXT-SRV-ATTR:host")]
    pub host: Option<String>,
    /// Addresses by network.
    #[serde(default)]
    pub addresses: BTreeMap<String, Vec<AddressView>>,
    /// Flavor (embedded since 2.47).
    #[serde(default)]
    pub flavor: FlavorView,
    /// Creation time.
    pub created: NovaTime,
    /// Last change.
    pub updated: NovaTime,
    /// Metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Why it is in ERROR.
    #[serde(default)]
    pub fault: Option<FaultView>,
}

/// One address of a server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AddressView {
    /// The address.
    pub addr: String,
    /// 4 or 6.
    pub version: u8,
}

/// The flavor part of a server.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct FlavorView {
    /// ID (before 2.47).
    #[serde(default)]
    pub id: Option<String>,
    /// Name (2.47+).
    #[serde(default)]
    pub original_name: Option<String>,
    /// vCPUs (2.47+).
    #[serde(default)]
    pub vcpus: Option<u32>,
}

/// Nova's account of a failure.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FaultView {
    /// The message.
    #[serde(default)]
    pub message: String,
}

impl ServerView {
    /// Addresses by family, IPv6 first.
    pub fn addresses_by_family(&self) -> Vec<(IpFamily, String)> {
        let mut out: Vec<(IpFamily, String)> = self
            .addresses
            .values()
            .flatten()
            .map(|a| {
                (
                    if a.version == 6 {
                        IpFamily::V6
                    } else {
                        IpFamily::V4
                    },
                    a.addr.clone(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// Settled: no task under way and not building.
    pub fn is_idle(&self) -> bool {
        self.task_state.is_none() && self.status != "BUILD"
    }

    /// Why the server is failed: in ERROR with no task running. A server in ERROR with a task
    /// (a hard reboot, rebuild or delete sent to repair or remove it) is still being worked on.
    fn failure(&self) -> Option<String> {
        (self.status == "ERROR" && self.task_state.is_none()).then(|| {
            let why = self
                .fault
                .as_ref()
                .map_or("no fault recorded", |f| f.message.as_str());
            format!("server {} is in ERROR: {why}", self.id)
        })
    }
}

/// An RFC 3339 time as Nova and Gnocchi send it, to seconds since the epoch: with an offset
/// (`Z`, `+00:00`), or without one, as Nova's instance actions write it (UTC).
pub fn parse_time(s: &str) -> Result<Time, String> {
    let t = s.trim();
    let at = match t.parse::<jiff::Timestamp>() {
        Ok(at) => Ok(at),
        Err(_) => t
            .parse::<jiff::civil::DateTime>()
            .and_then(|local| jiff::tz::Offset::UTC.to_timestamp(local)),
    };
    at.map(|at| at.as_second() as f64 + f64::from(at.subsec_nanosecond()) / 1e9)
        .map_err(|e| format!("`{t}` is not an RFC 3339 time: {e}"))
}

/// A time in a server's record: the text Nova sent (action ids carry it verbatim) and the
/// instant it names. A server whose time cannot be read is refused with the rest of its page.
#[derive(Debug, Clone, PartialEq)]
pub struct NovaTime {
    text: String,
    unix: Time,
}

impl NovaTime {
    /// Seconds since the epoch.
    pub fn unix(&self) -> Time {
        self.unix
    }
}

impl std::fmt::Display for NovaTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for NovaTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let unix = parse_time(&text).map_err(serde::de::Error::custom)?;
        Ok(Self { text, unix })
    }
}

#[derive(Deserialize)]
struct ServersPage {
    servers: Vec<ServerView>,
}

/// One page of `servers/detail`.
pub fn parse_servers(body: Value) -> Result<Vec<ServerView>, String> {
    serde_json::from_value::<ServersPage>(body)
        .map(|p| p.servers)
        .map_err(|e| e.to_string())
}

/// The answer of `GET servers/{id}`.
pub fn parse_server(mut body: Value) -> Result<ServerView, String> {
    let server = body.get_mut("server").map_or(Value::Null, Value::take);
    serde_json::from_value(server).map_err(|e| e.to_string())
}

/// All servers of the project, `page` at a time (Nova cannot filter by metadata).
pub async fn list_servers(api: &mut Api, page: usize) -> Result<Vec<ServerView>, ApiError> {
    let mut out: Vec<ServerView> = Vec::new();
    loop {
        let mut req = Request::get(Service::Compute, &["servers", "detail"]).param("limit", page.to_string());
        if let Some(last) = out.last() {
            req = req.param("marker", last.id.clone());
        }
        let body = api.call(&req).await?;
        let batch = parse_servers(body)
            .map_err(|e| ApiError::local(ErrorClass::Invalid, "compute", &req.what(), e))?;
        let n = batch.len();
        out.extend(batch);
        if n < page {
            return Ok(out);
        }
    }
}

/// One server; `None` when it is gone.
pub async fn get_server(api: &mut Api, id: &str) -> Result<Option<ServerView>, ApiError> {
    let req = Request::get(Service::Compute, &["servers", id]);
    match api.call(&req).await {
        Ok(body) => parse_server(body)
            .map(Some)
            .map_err(|e| ApiError::local(ErrorClass::Invalid, "compute", &req.what(), e)),
        Err(e) if e.class == ErrorClass::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// One server that must exist: a `NotFound` error when it is gone.
pub async fn existing_server(api: &mut Api, id: &str) -> Result<ServerView, ApiError> {
    get_server(api, id).await?.ok_or_else(|| {
        ApiError::local(
            ErrorClass::NotFound,
            "compute",
            "GET servers",
            format!("server {id} is gone"),
        )
    })
}

/// The request body of a server create. `networks` empty means `"none"`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateServer<'a> {
    /// Name.
    pub name: &'a str,
    /// Image ID.
    pub image: &'a str,
    /// Flavor ID.
    pub flavor: &'a str,
    /// Network IDs.
    pub networks: &'a [String],
    /// Availability zone.
    pub availability_zone: Option<&'a str>,
    /// Security group names.
    pub security_groups: &'a [String],
    /// Key pair name.
    pub key_name: Option<&'a str>,
    /// Base64 user data.
    pub user_data: Option<&'a str>,
    /// Server group ID (scheduler hint).
    pub server_group: Option<&'a str>,
    /// Servers the new one must not share a host with (scheduler hint `different_host`; Nova
    /// honours it where `DifferentHostFilter` is enabled and ignores it elsewhere).
    pub different_host: &'a [String],
    /// Metadata.
    pub metadata: &'a BTreeMap<String, String>,
}

/// The JSON Nova expects for `c`.
pub fn create_body(c: &CreateServer<'_>) -> Value {
    let networks = if c.networks.is_empty() {
        json!("none")
    } else {
        Value::Array(c.networks.iter().map(|n| json!({ "uuid": n })).collect())
    };
    let mut server = json!({
        "name": c.name,
        "imageRef": c.image,
        "flavorRef": c.flavor,
        "networks": networks,
        "metadata": c.metadata,
    });
    let s = server.as_object_mut().expect("literal object");
    if let Some(az) = c.availability_zone {
        s.insert("availability_zone".into(), json!(az));
    }
    if !c.security_groups.is_empty() {
        let groups: Vec<Value> = c.security_groups.iter().map(|g| json!({ "name": g })).collect();
        s.insert("security_groups".into(), Value::Array(groups));
    }
    if let Some(k) = c.key_name {
        s.insert("key_name".into(), json!(k));
    }
    if let Some(u) = c.user_data {
        s.insert("user_data".into(), json!(u));
    }
    let mut body = json!({ "server": server });
    let mut hints = serde_json::Map::new();
    if let Some(g) = c.server_group {
        hints.insert("group".into(), json!(g));
    }
    if !c.different_host.is_empty() {
        hints.insert("different_host".into(), json!(c.different_host));
    }
    if !hints.is_empty() {
        body["os:scheduler_hints"] = Value::Object(hints);
    }
    body
}

/// Starts a server create; returns its ID.
pub async fn create_server(api: &mut Api, c: &CreateServer<'_>) -> Result<String, ApiError> {
    let req = Request::post(Service::Compute, &["servers"], create_body(c));
    let body = api.call(&req).await?;
    body.pointer("/server/id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::local(
                ErrorClass::Invalid,
                "compute",
                &req.what(),
                "no server id in the answer",
            )
        })
}

/// Starts a server action (`reboot`, `rebuild`, `os-migrateLive`, …).
pub async fn action(api: &mut Api, id: &str, body: Value) -> Result<(), ApiError> {
    api.call(&Request::post(Service::Compute, &["servers", id, "action"], body))
        .await
        .map(drop)
}

/// The body of a metadata merge: the given keys are set, every other key is left alone.
pub fn metadata_body(metadata: &BTreeMap<String, String>) -> Value {
    json!({ "metadata": metadata })
}

/// Merges `metadata` into server `id`'s metadata (`POST /servers/{id}/metadata`; a `PUT`
/// would replace all of it, selector and action key included).
pub async fn update_metadata(
    api: &mut Api,
    id: &str,
    metadata: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    api.call(&metadata_request(id, metadata)).await.map(drop)
}

/// The metadata merge request: a POST, but safe to repeat after an ambiguous failure (setting
/// the same keys to the same values twice is one update), so the session may retry it.
pub fn metadata_request(id: &str, metadata: &BTreeMap<String, String>) -> Request {
    let mut req = Request::post(
        Service::Compute,
        &["servers", id, "metadata"],
        metadata_body(metadata),
    );
    req.idempotent = true;
    req
}

/// Starts a delete; a server that is already gone counts as deleted.
pub async fn delete_server(api: &mut Api, id: &str) -> Result<(), ApiError> {
    match api
        .call(&Request::delete(Service::Compute, &["servers", id]))
        .await
    {
        Err(e) if e.class != ErrorClass::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Server `id`'s recorded actions (`GET /servers/{id}/os-instance-actions`, all of them: the
/// `changes-since` filter needs microversion 2.58), oldest first; `None` when the server is
/// gone.
pub async fn instance_actions(api: &mut Api, id: &str) -> Result<Option<Vec<ServerAction>>, ApiError> {
    let req = Request::get(Service::Compute, &["servers", id, "os-instance-actions"]);
    match api.call(&req).await {
        Ok(body) => parse_instance_actions(body)
            .map(Some)
            .map_err(|e| ApiError::local(ErrorClass::Invalid, "compute", &req.what(), e)),
        Err(e) if e.class == ErrorClass::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The answer of `os-instance-actions`, oldest first (Nova lists newest first). An entry
/// without an action name or a readable start time is skipped: it cannot match anything.
pub fn parse_instance_actions(body: Value) -> Result<Vec<ServerAction>, String> {
    let list = body
        .get("instanceActions")
        .and_then(Value::as_array)
        .ok_or("no instanceActions list in the answer")?;
    let mut out: Vec<ServerAction> = list
        .iter()
        .filter_map(|a| {
            Some(ServerAction {
                action: a.get("action")?.as_str()?.to_owned(),
                started: parse_time(a.get("start_time")?.as_str()?).ok()?,
                request_id: a.get("request_id").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect();
    out.sort_by(|a, b| a.started.total_cmp(&b.started));
    Ok(out)
}

/// The body of a live migration: the scheduler picks the host (`host: null`), or `host` names one.
pub fn live_migrate_body(host: Option<&str>) -> Value {
    json!({ "os-migrateLive": { "host": host, "block_migration": "auto" } })
}

/// Polls server `id` every `poll` until `done` says so, it fails (ERROR) or `timeout` passes.
/// `done` sees `None` once the server is gone.
pub async fn wait_for(
    api: &mut Api,
    id: &str,
    what: &str,
    timeout: Duration,
    poll: Duration,
    mut done: impl FnMut(Option<&ServerView>) -> bool,
) -> Result<Option<ServerView>, ApiError> {
    let rounds = (timeout.as_secs_f64() / poll.as_secs_f64().max(0.001))
        .ceil()
        .max(1.0) as u64;
    let mut last = None;
    for _ in 0..rounds {
        let server = get_server(api, id).await?;
        if let Some(fail) = server.as_ref().and_then(ServerView::failure) {
            return Err(ApiError::local(ErrorClass::Invalid, "compute", what, fail));
        }
        if done(server.as_ref()) {
            return Ok(server);
        }
        last = server;
        tokio::time::sleep(poll).await;
    }
    let state = last.map_or("gone".to_owned(), |s| {
        format!("{}/{}", s.status, s.task_state.as_deref().unwrap_or("-"))
    });
    Err(ApiError::local(
        ErrorClass::Transport,
        "compute",
        what,
        format!("server {id} did not finish within {timeout:?} (last seen {state})"),
    ))
}

/// Standard base64 (RFC 4648 with padding), as Nova wants `user_data`.
pub fn base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
mod tests {

    #[test]
    fn instance_actions_parse_oldest_first_and_skip_unreadable_entries() {
        let body = json!({"instanceActions": [
            {"action": "reboot", "start_time": "2026-11-27T04:30:05.000000", "request_id": "req-2"},
            {"action": "create", "start_time": "2026-11-27T04:00:00.000000", "request_id": "req-1"},
            {"action": "rebuild", "start_time": "soon"},
            {"start_time": "2026-11-27T04:31:00.000000"}
        ]});
        let a = parse_instance_actions(body).expect("parses");
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].action, "create");
        assert_eq!(a[1].action, "reboot");
        assert_eq!(a[1].request_id.as_deref(), Some("req-2"));
        assert_eq!(a[1].started - a[0].started, 30.0 * 60.0 + 5.0);
        assert!(parse_instance_actions(json!({"servers": []})).is_err());
    }
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, want) in cases {
            assert_eq!(base64(plain.as_bytes()), want);
        }
    }

    #[test]
    fn a_template_without_networks_asks_for_none_and_hints_the_group() {
        let meta = BTreeMap::from([("sloop.action".to_string(), "a/0".to_string())]);
        let c = CreateServer {
            name: "web-1",
            image: "img",
            flavor: "1",
            networks: &[],
            availability_zone: Some("nova"),
            security_groups: &["web".into()],
            key_name: Some("ops"),
            user_data: Some("IyE="),
            server_group: Some("sg-1"),
            different_host: &[],
            metadata: &meta,
        };
        let b = create_body(&c);
        assert_eq!(b["server"]["networks"], "none");
        assert_eq!(b["server"]["security_groups"][0]["name"], "web");
        assert_eq!(b["server"]["metadata"]["sloop.action"], "a/0");
        assert_eq!(b["os:scheduler_hints"], json!({"group": "sg-1"}));
        let away = ["old-1".to_owned()];
        let b = create_body(&CreateServer {
            server_group: None,
            different_host: &away,
            ..c
        });
        assert_eq!(
            b["os:scheduler_hints"],
            json!({"different_host": ["old-1"]}),
            "a replacement asks to keep off the replaced server's host"
        );
    }

    #[test]
    fn an_error_server_under_repair_is_not_yet_failed() {
        let view = |task: Option<&str>| {
            parse_server(
                json!({"server": {"id": "s1", "status": "ERROR", "OS-EXT-STS:task_state": task,
                "created": "2026-11-26T15:00:00Z", "updated": "2026-11-26T15:01:00Z"}}),
            )
            .expect("parses")
        };
        assert!(
            view(Some("rebooting_hard")).failure().is_none(),
            "hard reboot under way"
        );
        assert!(view(Some("deleting")).failure().is_none(), "delete under way");
        assert!(view(None).failure().is_some(), "settled in ERROR");
    }

    #[test]
    fn a_stamp_is_a_metadata_merge_of_its_keys_only() {
        let stamp = BTreeMap::from([("sloop.heal".to_owned(), "reboot-soft@1764205200".to_owned())]);
        assert_eq!(
            metadata_body(&stamp),
            json!({ "metadata": { "sloop.heal": "reboot-soft@1764205200" } })
        );
        let req = metadata_request("s1", &stamp);
        assert_eq!(req.what(), "POST servers/s1/metadata");
        assert!(req.idempotent && !req.read_only, "a retryable write");
    }

    #[test]
    fn server_fields_parse_from_nova_json() {
        let v = json!({
            "id": "s1", "name": "web", "status": "MIGRATING", "OS-EXT-STS:task_state": "migrating",
            "OS-EXT-STS:power_state": 1, "OS-EXT-SRV-ATTR:host": "compute1",
            "addresses": {"lab-net": [{"addr": "10.0.0.5", "version": 4}, {"addr": "fd00::5", "version": 6}]},
            "flavor": {"original_name": "m1.tiny", "vcpus": 2}, "created": "2026-11-26T15:00:00Z",
            "updated": "2026-11-26T15:01:00Z", "metadata": {"sloop.group": "web"}
        });
        let s: ServerView = serde_json::from_value(v).unwrap();
        assert_eq!(s.host.as_deref(), Some("compute1"));
        assert!(!s.is_idle());
        assert_eq!(s.addresses_by_family()[0], (IpFamily::V6, "fd00::5".into()));
        assert_eq!(s.flavor.vcpus, Some(2));
        assert_eq!(s.created.unix(), 1_795_705_200.0);
        assert_eq!(s.created.to_string(), "2026-11-26T15:00:00Z");
        assert_eq!(parse_time("2026-11-26T15:00:00+00:00"), Ok(1_795_705_200.0));
        assert_eq!(parse_time("2026-11-26T16:00:00.5+01:00"), Ok(1_795_705_200.5));
        assert_eq!(
            parse_time("2026-11-26T15:00:00.000000"),
            Ok(1_795_705_200.0),
            "no offset: UTC"
        );
        assert!(parse_time("").is_err() && parse_time("soon").is_err());
    }

    #[test]
    fn a_server_whose_times_cannot_be_read_is_refused_not_dated_1970() {
        let page = |created: &str| {
            json!({"servers": [{"id": "s1", "name": "web", "status": "ACTIVE",
                "created": created, "updated": "2026-11-26T15:01:00Z"}]})
        };
        assert!(parse_servers(page("2026-11-26T15:00:00Z")).is_ok());
        let err = parse_servers(page("yesterday")).expect_err("unreadable");
        assert!(err.contains("yesterday"), "{err}");
        let missing = json!({"servers": [{"id": "s1", "name": "web", "status": "ACTIVE"}]});
        let err = parse_servers(missing).expect_err("no times");
        assert!(err.contains("created"), "{err}");
    }
}
