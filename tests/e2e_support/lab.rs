//! Helpers for the e2e tests against the loopback OpenStack lab (`tests/lab/up.sh`): where the
//! lab is, the load balancer the policy's traffic section names, cleanup of everything a test
//! run creates, and starting/stopping single lab services for fault injection. Every call to
//! the cloud goes through sloop's own session (`Api`).

#![allow(dead_code)]

use serde_json::{Value, json};
use sloop::{
    clock::{Clock, SystemClock},
    cloud::openstack::{
        CloudOptions, OpenStackCloud, config,
        session::{Api, ApiOptions, Request, Service},
    },
    policy::{self, Policy},
};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::Duration,
};

/// Tests that only read the cloud, or change only what is theirs (their own group, pool and
/// Gnocchi resources), take it shared; the fault test, which stops nova-api and sets the demo
/// project's quota to 0, takes it alone.
pub static LAB: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The lab directory (`$LAB_DIR`, default /tmp/sloop-lab).
pub fn lab_dir() -> PathBuf {
    PathBuf::from(std::env::var("LAB_DIR").unwrap_or_else(|_| "/tmp/sloop-lab".into()))
}

/// The lab's clouds.yaml.
pub fn clouds_yaml() -> PathBuf {
    lab_dir().join("clouds.yaml")
}

/// `OSLAB_*` values from `$LAB_DIR/env.sh`.
pub fn lab_env() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(lab_dir().join("env.sh"))
        .expect("the lab is not up: run tests/lab/up.sh (env.sh missing)");
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The e2e policy (`tests/data/e2e/lab-web.yaml`).
pub fn policy_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/e2e/lab-web.yaml")
}

/// The e2e policy, loaded and validated.
pub fn policy() -> Policy {
    policy::load_file(&policy_path())
        .expect("e2e policy is valid")
        .policy
}

/// Fast polling and short timeouts: the fake hypervisor finishes transitions in 1–3 s.
pub fn options() -> CloudOptions {
    let s = Duration::from_secs;
    let mut api = ApiOptions::default();
    api.breaker.open_for = s(3);
    CloudOptions {
        api,
        page_size: 2,
        poll: Duration::from_millis(250),
        migrate_timeout: s(90),
        policy_dir: policy_path().parent().expect("policy dir").to_owned(),
    }
}

/// The real clock.
pub fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// A backend for `policy` on lab cloud `cloud`.
pub async fn cloud(cloud: &str, policy: Policy) -> OpenStackCloud {
    cloud_with(cloud, policy, options()).await
}

/// A backend for `policy` on lab cloud `cloud` with `opts`.
pub async fn cloud_with(cloud: &str, policy: Policy, opts: CloudOptions) -> OpenStackCloud {
    let cfg = config::load(Some(cloud), Some(&clouds_yaml())).expect("lab clouds.yaml");
    OpenStackCloud::connect(cfg, policy, opts, clock())
        .await
        .unwrap_or_else(|e| panic!("connect to {cloud}: {e}"))
}

/// A bare API client on lab cloud `cloud`.
pub async fn api(cloud: &str) -> Api {
    let cfg = config::load(Some(cloud), Some(&clouds_yaml())).expect("lab clouds.yaml");
    Api::connect(cfg, ApiOptions::default(), clock())
        .await
        .unwrap_or_else(|e| panic!("connect to {cloud}: {e}"))
}

async fn wait_lb_active(api: &mut Api, lb: &str) {
    for _ in 0..120 {
        let v = api
            .call(&Request::get(
                Service::LoadBalancer,
                &["lbaas", "loadbalancers", lb],
            ))
            .await
            .expect("GET load balancer");
        match v
            .pointer("/loadbalancer/provisioning_status")
            .and_then(Value::as_str)
        {
            Some("ACTIVE") => return,
            Some("ERROR") => panic!("load balancer {lb} went to ERROR"),
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    panic!("load balancer {lb} did not become ACTIVE in 30 s");
}

fn first_id(v: &Value, kind: &str) -> Option<String> {
    v.get(kind)?
        .as_array()?
        .first()?
        .get("id")?
        .as_str()
        .map(str::to_owned)
}

/// Finds or creates the load balancer, HTTP listener and pool the e2e policy names; returns
/// (load balancer, pool) IDs.
pub async fn ensure_pool(api: &mut Api, p: &Policy) -> (String, String) {
    let t = p.spec.traffic.as_ref().expect("policy has traffic");
    let net = lab_env()
        .remove("OSLAB_NETWORK_ID")
        .expect("OSLAB_NETWORK_ID in env.sh");
    let list = Request::get(Service::LoadBalancer, &["lbaas", "loadbalancers"])
        .param("name", t.load_balancer.as_str());
    let lb = match first_id(&api.call(&list).await.expect("list LBs"), "loadbalancers") {
        Some(id) => id,
        None => {
            let body = json!({"loadbalancer": {"name": t.load_balancer, "vip_network_id": net, "provider": "amphora"}});
            let v = api
                .call(&Request::post(
                    Service::LoadBalancer,
                    &["lbaas", "loadbalancers"],
                    body,
                ))
                .await
                .expect("create LB");
            v.pointer("/loadbalancer/id")
                .and_then(Value::as_str)
                .expect("LB id")
                .to_owned()
        }
    };
    wait_lb_active(api, &lb).await;
    let list = Request::get(Service::LoadBalancer, &["lbaas", "pools"]).param("name", t.pool.as_str());
    let pool = match first_id(&api.call(&list).await.expect("list pools"), "pools") {
        Some(id) => id,
        None => {
            let body = json!({"listener": {"name": format!("{}-l", t.pool), "loadbalancer_id": lb,
                "protocol": "HTTP", "protocol_port": t.listener_port}});
            let v = api
                .call(&Request::post(Service::LoadBalancer, &["lbaas", "listeners"], body).retry_conflicts())
                .await
                .expect("create listener");
            let listener = v
                .pointer("/listener/id")
                .and_then(Value::as_str)
                .expect("listener id")
                .to_owned();
            wait_lb_active(api, &lb).await;
            let body = json!({"pool": {"name": t.pool, "listener_id": listener, "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN"}});
            let v = api
                .call(&Request::post(Service::LoadBalancer, &["lbaas", "pools"], body).retry_conflicts())
                .await
                .expect("create pool");
            v.pointer("/pool/id")
                .and_then(Value::as_str)
                .expect("pool id")
                .to_owned()
        }
    };
    wait_lb_active(api, &lb).await;
    (lb, pool)
}

/// The servers carrying the e2e group's selector: (id, status, host, updated).
pub async fn group_servers(api: &mut Api, p: &Policy) -> Vec<Value> {
    let v = api
        .call(&Request::get(Service::Compute, &["servers", "detail"]))
        .await
        .expect("list servers");
    let sel = &p.spec.group.selector;
    v["servers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| sel.iter().all(|(k, val)| s["metadata"][k].as_str() == Some(val)))
        .collect()
}

/// The pool's members.
pub async fn members(api: &mut Api, pool: &str) -> Vec<Value> {
    let v = api
        .call(&Request::get(
            Service::LoadBalancer,
            &["lbaas", "pools", pool, "members"],
        ))
        .await
        .expect("list members");
    v["members"].as_array().cloned().unwrap_or_default()
}

/// Deletes every server of the e2e group, its Gnocchi resources and every pool member, and
/// waits until they are gone: each test starts and ends with a clean slate.
pub async fn clean(api: &mut Api, p: &Policy, pool: Option<&str>) {
    if let Some(pool) = pool {
        for m in members(api, pool).await {
            let id = m["id"].as_str().expect("member id");
            let _ = api
                .call(
                    &Request::delete(Service::LoadBalancer, &["lbaas", "pools", pool, "members", id])
                        .retry_conflicts(),
                )
                .await;
        }
    }
    let servers = group_servers(api, p).await;
    for s in &servers {
        let id = s["id"].as_str().expect("server id");
        let _ = api
            .call(&Request::delete(Service::Compute, &["servers", id]))
            .await;
        let _ = api
            .call(&Request::delete(Service::Metric, &["resource", "instance", id]))
            .await;
    }
    for _ in 0..120 {
        let left = group_servers(api, p).await.len()
            + match pool {
                Some(pool) => members(api, pool).await.len(),
                None => 0,
            };
        if left == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("e2e servers or members still present after 60 s");
}

/// A host-level meter of Ceilometer's (SNMP host pollster, percent).
pub const HOST_METRIC: &str = "hardware.cpu.util";

/// The Gnocchi `host` resource the e2e tests post for hypervisor `host`.
pub fn host_resource(host: &str) -> String {
    format!("sloop-e2e-host-{host}")
}

/// Deletes the e2e tests' Gnocchi host resources (both fake computes).
pub async fn cool_hosts(api: &mut Api) {
    for h in ["compute1", "compute2"] {
        let _ = api
            .call(&Request::delete(
                Service::Metric,
                &["resource", "host", &host_resource(h)],
            ))
            .await;
    }
}

/// Posts `HOST_METRIC` for hypervisor `host`, one value a minute ending with the last whole
/// minute (as Ceilometer's host pollsters would).
pub async fn post_host_util(api: &mut Api, host: &str, values: &[f64]) {
    let id = host_resource(host);
    let resource = json!({"id": id, "host_name": host,
        "metrics": {HOST_METRIC: {"archive_policy_name": "ceilometer-high"}}});
    let r = api
        .call(&Request::post(Service::Metric, &["resource", "host"], resource))
        .await;
    assert!(
        r.is_ok() || r.as_ref().is_err_and(|e| e.status == Some(409)),
        "create gnocchi host resource: {r:?}"
    );
    let now = clock().now();
    let start = (now / 60.0).floor() * 60.0 - 60.0 * values.len() as f64;
    let measures: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"timestamp": start + 60.0 * i as f64, "value": v}))
        .collect();
    api.call(&Request::post(
        Service::Metric,
        &["resource", "host", &id, "metric", HOST_METRIC, "measures"],
        Value::Array(measures),
    ))
    .await
    .expect("post host measures");
}

/// Runs a lab script (`up.sh PHASE…` or `down.sh NAME…`) and checks it succeeded.
pub fn lab_script(script: &str, args: &[&str]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lab")
        .join(script);
    let out = Command::new("bash")
        .arg(&path)
        .args(args)
        .env("LAB_DIR", lab_dir())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        out.status.success(),
        "{script} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Posts cumulative `cpu` nanoseconds for `server` (as Ceilometer would): 30 s of CPU per
/// minute, i.e. 50 % of one vCPU.
pub async fn post_cpu(api: &mut Api, server: &str, now: f64) {
    let resource = json!({"id": server, "flavor_id": "1", "host": "compute1", "display_name": "e2e",
        "flavor_name": "m1.tiny", "metrics": {"cpu": {"archive_policy_name": "ceilometer-high-rate"}}});
    let r = api
        .call(&Request::post(
            Service::Metric,
            &["resource", "instance"],
            resource,
        ))
        .await;
    assert!(
        r.is_ok() || r.as_ref().is_err_and(|e| e.status == Some(409)),
        "create gnocchi resource: {r:?}"
    );
    let start = (now / 60.0).floor() * 60.0 - 360.0;
    let measures: Vec<Value> = (0..6)
        .map(|i| json!({"timestamp": start + 60.0 * f64::from(i), "value": f64::from(i) * 30e9}))
        .collect();
    api.call(&Request::post(
        Service::Metric,
        &["resource", "instance", server, "metric", "cpu", "measures"],
        Value::Array(measures),
    ))
    .await
    .expect("post measures");
}

/// Waits until server `id` is ACTIVE (the fake driver takes a few seconds).
pub async fn wait_active(api: &mut Api, id: &str) {
    for _ in 0..120 {
        let v = api
            .call(&Request::get(Service::Compute, &["servers", id]))
            .await
            .expect("GET server");
        match v.pointer("/server/status").and_then(Value::as_str) {
            Some("ACTIVE") => return,
            Some("ERROR") => panic!("server {id} went to ERROR"),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    panic!("server {id} not ACTIVE after 60 s");
}

/// Deletes load balancer `lb` with its listeners and pools.
pub async fn delete_load_balancer(api: &mut Api, lb: &str) {
    let req = Request::delete(Service::LoadBalancer, &["lbaas", "loadbalancers", lb])
        .param("cascade", "true")
        .retry_conflicts();
    if let Err(e) = api.call(&req).await {
        assert!(e.status == Some(404), "delete load balancer {lb}: {e}");
    }
}
