//! End to end against a real OpenStack (Keystone, Nova with two fake computes, Neutron,
//! Glance, Octavia, Gnocchi) on loopback, started by `tests/lab/up.sh`. Everything goes through
//! sloop's own code: the reconcile loop, the executor, `sloop plan`, the OpenStack backend.
//!
//! Run: `tests/lab/up.sh && cargo test --features e2e --test e2e e2e_openstack::`.

// Suites of their own, kept in e2e_support/ (their names select them: `e2e_openstack::hosts::`).
#[path = "e2e_support/hosts.rs"]
mod hosts;
#[path = "e2e_support/identity.rs"]
mod identity;

use crate::{lab, skew};
use serde_json::{Value, json};
use sloop::{
    act::{
        ActError, Compute,
        executor::{self, ACTION_KEY, POLICY_KEY},
        journaled,
    },
    clock::Stopwatch,
    cloud::openstack::{
        OpenStackCloud, config,
        config::{Auth, Secret},
        errors::ErrorClass,
        nova,
        session::{Api, Request, Service},
    },
    decision::{Action, Cause, Evidence, PlannedAction},
    observe::NoProbes,
    policy::{Aggregation, MetricScope, MetricSpec, Policy, Rung},
    reconcile::Reconciler,
    snapshot::{InstanceStatus, IpFamily, Snapshot},
};
use std::{path::Path, process::Command};

const ADMIN: &str = "oslab-admin-appcred";

/// Prints how long the phase since `mark` took (figures for the README; nothing is asserted).
fn lap(mark: &mut Stopwatch, phase: &str) {
    println!("  {phase}: {:.1}s", mark.elapsed().as_secs_f64());
    *mark = Stopwatch::start();
}

fn planned(id: &str, action: Action) -> PlannedAction {
    PlannedAction {
        id: id.into(),
        action,
        cause: Cause::InstanceFault,
        evidence: Evidence::default(),
    }
}

/// Runs `sloop plan` (the real binary) against the lab; returns (exit code, stdout, stderr).
fn sloop_plan(clouds_yaml: &Path, cloud: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sloop"));
    cmd.arg("plan")
        .arg("--policy")
        .arg(lab::policy_path())
        .arg("--clouds-yaml")
        .arg(clouds_yaml);
    if let Some(c) = cloud {
        cmd.args(["--cloud", c]);
    }
    let out = cmd.output().expect("run sloop plan");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Everything `sloop plan` could have changed: the group's servers (state, task, host, last
/// update, metadata) and the pool's members (weight, admin state, provisioning state).
async fn fingerprint(api: &mut Api, p: &Policy, pool: &str) -> Vec<String> {
    let mut out: Vec<String> = lab::group_servers(api, p)
        .await
        .iter()
        .map(|s| {
            format!(
                "server {} {} {} {} {} {}",
                s["id"],
                s["status"],
                s["OS-EXT-STS:task_state"],
                s["OS-EXT-SRV-ATTR:host"],
                s["updated"],
                s["metadata"]
            )
        })
        .collect();
    out.extend(lab::members(api, pool).await.iter().map(|m| {
        format!(
            "member {} {} {} {}",
            m["id"], m["weight"], m["admin_state_up"], m["provisioning_status"]
        )
    }));
    out.sort();
    out
}

/// Server `id` once Nova has finished with it (ACTIVE, no task running): actions are issued,
/// not waited for, so the test waits where it needs the result. Panics after 90 s, or at an
/// ERROR with no task running.
async fn settled(api: &mut Api, id: &str) -> Value {
    for _ in 0..360 {
        let v = api
            .call(&Request::get(Service::Compute, &["servers", id]))
            .await
            .expect("GET server");
        let s = &v["server"];
        if s["status"] == "ACTIVE" && s["OS-EXT-STS:task_state"].is_null() {
            return v;
        }
        // ERROR with a task running is a repair under way (a hard reboot of an ERROR server).
        let failed = s["status"] == "ERROR" && s["OS-EXT-STS:task_state"].is_null();
        assert!(!failed, "server {id} went to ERROR: {s}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("server {id} did not settle within 90 s");
}

async fn observe(cloud: &mut OpenStackCloud) -> Snapshot {
    let now = lab::clock().now();
    cloud.observe(now).await.expect("observe")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_created_admitted_healed_planned_and_shrunk_on_the_real_cloud() {
    let _lab = lab::LAB.read().await;
    let total = Stopwatch::start();
    let mut mark = Stopwatch::start();
    let policy = lab::policy();
    let mut admin = lab::api(ADMIN).await;
    let (_lb, pool) = lab::ensure_pool(&mut admin, &policy).await;
    lab::clean(&mut admin, &policy, Some(&pool)).await;

    lap(&mut mark, "setup");
    // `sloop plan` on an empty group: two servers to create, nothing changed.
    let before = fingerprint(&mut admin, &policy, &pool).await;
    let (code, out, err) = sloop_plan(&lab::clouds_yaml(), None);
    assert_eq!(code, 0, "sloop plan failed: {err}");
    assert!(
        out.contains("+ create 2 server(s)") && out.contains("because below-minimum"),
        "{out}"
    );
    assert!(out.contains("(0 API writes)"), "{out}");
    assert_eq!(
        fingerprint(&mut admin, &policy, &pool).await,
        before,
        "plan changed the cloud"
    );

    lap(&mut mark, "plan on the empty group");
    // The reconcile loop scales out to the minimum; each server carries the group, the policy,
    // the action's key and the boot script.
    let mut cloud = lab::cloud(ADMIN, policy.clone()).await;
    let mut rec = Reconciler::new(policy.clone());
    let report = rec.tick(&mut cloud, lab::clock().now()).await.expect("tick 1");
    let scale_out = report
        .decision
        .actions
        .iter()
        .find(|a| a.action == Action::ScaleOut { count: 2 })
        .unwrap_or_else(|| panic!("no scale-out to 2 in {:?}", report.decision.actions))
        .clone();
    let outcome = report
        .outcomes
        .iter()
        .find(|o| o.id == scale_out.id)
        .expect("outcome");
    assert_eq!(outcome.result, Ok(()), "scale-out failed");
    assert_eq!(outcome.created.len(), 2);
    let boot = std::fs::read(lab::policy_path().with_file_name("boot.sh")).expect("boot.sh");
    // Issued, not waited for: the tick returned while the servers were still building.
    for (i, id) in outcome.created.iter().enumerate() {
        let v = settled(&mut admin, id).await;
        let s = &v["server"];
        assert_eq!(s["status"], "ACTIVE");
        assert_eq!(s["metadata"]["sloop.group"], "e2e-web");
        assert_eq!(s["metadata"][POLICY_KEY], "e2e-web");
        assert_eq!(s["metadata"]["owner"], "sloop-e2e");
        assert_eq!(s["metadata"][ACTION_KEY], format!("{}/{i}", scale_out.id));
        assert_eq!(
            s["OS-EXT-SRV-ATTR:user_data"],
            nova::base64(&boot),
            "user_data as sent"
        );
    }

    lap(&mut mark, "scale-out to 2");
    // A restarted controller finds both servers by their metadata and creates nothing twice,
    // even when handed the very same action again.
    let mut cloud = lab::cloud(ADMIN, policy.clone()).await;
    let snap = observe(&mut cloud).await;
    assert_eq!(snap.inventory.len(), 2);
    for inst in &snap.inventory {
        assert_eq!(inst.status, InstanceStatus::Active);
        assert!(
            inst.host.as_deref().is_some_and(|h| h.starts_with("compute")),
            "host visible to admin"
        );
        let fams: Vec<IpFamily> = inst.addresses.iter().map(|(f, _)| *f).collect();
        assert_eq!(fams, vec![IpFamily::V6, IpFamily::V4], "addresses by family");
        assert!(inst.member.is_none());
    }
    let again = executor::execute(&policy, &snap, std::slice::from_ref(&scale_out), &mut cloud).await;
    assert_eq!((again[0].result.clone(), again[0].created.len()), (Ok(()), 0));
    assert_eq!(
        lab::group_servers(&mut admin, &policy).await.len(),
        2,
        "no second server for one action"
    );

    lap(&mut mark, "restart check");
    // `sloop plan` now wants both servers in the pool, and still changes nothing.
    let before = fingerprint(&mut admin, &policy, &pool).await;
    let (code, out, err) = sloop_plan(&lab::clouds_yaml(), Some(ADMIN));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("~ admit ").count(), 2, "{out}");
    assert!(!out.contains("+ create"), "{out}");
    assert_eq!(
        fingerprint(&mut admin, &policy, &pool).await,
        before,
        "plan changed the cloud"
    );

    lap(&mut mark, "plan with 2 servers");
    // The new controller's first tick admits both into the Octavia pool.
    let mut rec = Reconciler::new(policy.clone());
    let report = rec.tick(&mut cloud, lab::clock().now()).await.expect("tick 2");
    let admits: Vec<_> = report
        .decision
        .actions
        .iter()
        .filter(|a| matches!(a.action, Action::Admit { .. }))
        .collect();
    assert_eq!(admits.len(), 2, "{:?}", report.decision.actions);
    assert!(
        report.outcomes.iter().all(|o| o.result.is_ok()),
        "{:?}",
        report.outcomes
    );
    let members = lab::members(&mut admin, &pool).await;
    assert_eq!(members.len(), 2);
    let snap = observe(&mut cloud).await;
    for inst in &snap.inventory {
        let m = members
            .iter()
            .find(|m| m["name"] == inst.id.as_str())
            .expect("member named after the server");
        assert_eq!(m["weight"], 1);
        assert_eq!(m["protocol_port"], 8080);
        assert!(
            inst.addresses
                .iter()
                .any(|(f, a)| *f == IpFamily::V6 && m["address"] == a.as_str()),
            "IPv6 member"
        );
        assert_eq!(inst.member.map(|m| (m.weight, m.admin_up)), Some((1, true)));
    }

    lap(&mut mark, "admit 2 members");
    // A Gnocchi measure posted now shows up in the snapshot as utilisation; the other server
    // has none, and reads as missing rather than zero.
    let (a, b) = (snap.inventory[0].id.clone(), snap.inventory[1].id.clone());
    lab::post_cpu(&mut admin, &a, lab::clock().now()).await;
    let mut cpu = None;
    for _ in 0..120 {
        let snap = observe(&mut cloud).await;
        if let Some(v) = snap.telemetry.instances.get(&a).and_then(|m| m.get("cpu")?.value) {
            cpu = Some((v, snap));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let cpu = cpu.expect("the gnocchi measure reached the snapshot within 30 s");
    assert!((cpu.0 - 0.5).abs() < 1e-6, "cpu utilisation {}", cpu.0);
    assert_eq!(
        cpu.1.telemetry.instances[&b]["cpu"].value, None,
        "missing, never zero"
    );
    assert_eq!(cpu.1.telemetry.source_error, None);

    lap(&mut mark, "gnocchi");
    // Host-level metrics: a measure on the Gnocchi `host` resource of server a's hypervisor (as
    // Ceilometer's host pollsters post them) reaches the snapshot under that host's name; the
    // other server's host, without measures, reads as missing.
    let host_of = |id: &str| {
        snap.inventory
            .iter()
            .find(|i| i.id == id)
            .and_then(|i| i.host.clone())
            .expect("host visible to admin")
    };
    let (host_a, host_b) = (host_of(&a), host_of(&b));
    lab::cool_hosts(&mut admin).await;
    lab::post_host_util(&mut admin, &host_a, &[40.0, 60.0]).await;
    let mut with_hosts = policy.clone();
    if let Some(t) = with_hosts.spec.telemetry.as_mut() {
        t.metrics.push(MetricSpec {
            name: lab::HOST_METRIC.into(),
            aggregation: Aggregation::Mean,
            granularity: sloop::policy::units::Duration::from_secs(60.0),
            scope: MetricScope::Hypervisor,
        });
    }
    let mut host_cloud = lab::cloud(ADMIN, with_hosts).await;
    let mut util = None;
    for _ in 0..120 {
        let snap = observe(&mut host_cloud).await;
        let seen = snap
            .telemetry
            .hypervisors
            .get(&host_a)
            .and_then(|m| m.get(lab::HOST_METRIC)?.value);
        if let Some(v) = seen {
            util = Some((v, snap));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let util = util.expect("the host measure reached the snapshot within 30 s");
    assert_eq!(util.0, 60.0, "the latest minute's mean");
    if host_b != host_a {
        assert_eq!(
            util.1.telemetry.hypervisors[&host_b][lab::HOST_METRIC].value,
            None,
            "a host without measures is missing, never zero"
        );
    }

    lap(&mut mark, "gnocchi host metric");
    // Reboot (soft, hard), rebuild and live migration through the executor.
    let host_before = snap
        .inventory
        .iter()
        .find(|i| i.id == a)
        .and_then(|i| i.host.clone())
        .expect("host");
    let heal = [
        planned(
            "e2e-reboot-soft",
            Action::Reboot {
                instance: a.clone(),
                hard: false,
            },
        ),
        planned(
            "e2e-reboot-hard",
            Action::Reboot {
                instance: a.clone(),
                hard: true,
            },
        ),
        planned("e2e-rebuild", Action::Rebuild { instance: a.clone() }),
        planned(
            "e2e-migrate",
            Action::Migrate {
                instance: a.clone(),
                from_host: host_before.clone(),
            },
        ),
    ];
    // Each is issued and returns at once; the server is busy (a task state) until Nova is done,
    // as the next observation shows, so the next one goes out once it has settled.
    for h in &heal {
        let o = executor::execute(&policy, &snap, std::slice::from_ref(h), &mut cloud).await;
        assert_eq!(o[0].result, Ok(()), "{}", o[0].id);
        settled(&mut admin, &a).await;
    }
    let snap = observe(&mut cloud).await;
    let moved = snap.inventory.iter().find(|i| i.id == a).expect("still there");
    assert_eq!(moved.status, InstanceStatus::Active);
    assert_ne!(
        moved.host.as_deref(),
        Some(host_before.as_str()),
        "live migration changed the host"
    );

    lap(&mut mark, "reboot x2, rebuild, migrate");
    // Live migration needs the admin role: the member credential gets a clear refusal.
    let mut demo = lab::cloud("oslab-demo-appcred", policy.clone()).await;
    match demo.live_migrate(&a).await {
        Err(ActError::Fatal(m)) => assert!(m.contains("refused") && m.contains("403"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    lap(&mut mark, "refused migrate");
    // Scale-in (the group's maximum drops to 1): drained (weight 0) and stamped as retiring,
    // which the inventory reads as being deleted; the first pass after the drain grace
    // (`drainGrace: 1s`) removes the member and deletes the server. No pass waits for it.
    let mut small = policy.clone();
    small.spec.group.size.min = 1;
    small.spec.group.size.max = 1;
    let mut cloud = lab::cloud(ADMIN, small.clone()).await;
    let mut rec = Reconciler::new(small);
    let report = rec.tick(&mut cloud, lab::clock().now()).await.expect("tick 3");
    let victims = report
        .decision
        .actions
        .iter()
        .find_map(|a| match &a.action {
            Action::ScaleIn { instances } => Some(instances.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no scale-in in {:?}", report.decision.actions));
    assert_eq!(victims.len(), 1);
    assert!(
        report.outcomes.iter().all(|o| o.result.is_ok()),
        "{:?}",
        report.outcomes
    );
    let retiring = observe(&mut cloud).await;
    let victim = retiring
        .inventory
        .iter()
        .find(|i| i.id == victims[0])
        .expect("the victim waits out its grace");
    assert_eq!(
        victim.status,
        InstanceStatus::Deleting,
        "retiring reads as deleting"
    );
    assert_eq!(victim.member.map(|m| m.weight), Some(0), "drained");
    assert!(
        !cloud
            .api()
            .stats()
            .recent_writes
            .iter()
            .any(|w| w.starts_with("DELETE ")),
        "nothing removed within the grace"
    );
    // The stamp is in whole seconds, rounded up: never early. Then one pass removes the
    // member, and the first pass that finds it gone deletes the server.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let mut passes = 0;
    while lab::group_servers(&mut admin, &policy)
        .await
        .iter()
        .any(|v| v["id"] == victims[0].as_str() && v["OS-EXT-STS:task_state"].is_null())
    {
        passes += 1;
        assert!(passes <= 40, "the retiring server was not deleted in 40 passes");
        let report = rec.tick(&mut cloud, lab::clock().now()).await.expect("tick");
        assert!(
            report.outcomes.iter().all(|o| o.result.is_ok()),
            "{:?}",
            report.outcomes
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let writes: Vec<&String> = cloud.api().stats().recent_writes.iter().collect();
    let drain = writes
        .iter()
        .position(|w| w.starts_with("PUT lbaas/pools/") && w.contains("/members/"));
    let stamp = writes.iter().position(|w| w.starts_with("POST servers/"));
    let remove = writes.iter().position(|w| w.starts_with("DELETE lbaas/pools/"));
    let delete = writes.iter().position(|w| w.starts_with("DELETE servers/"));
    assert!(
        drain < stamp && stamp < remove && remove < delete && drain.is_some(),
        "drain, retire stamp, remove, delete: {writes:?}"
    );
    for _ in 0..240 {
        if lab::group_servers(&mut admin, &policy).await.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let left = lab::group_servers(&mut admin, &policy).await;
    assert_eq!(left.len(), 1);
    assert_ne!(left[0]["id"], victims[0].as_str());
    assert_eq!(lab::members(&mut admin, &pool).await.len(), 1);

    lap(&mut mark, "scale-in");
    lab::clean(&mut admin, &policy, Some(&pool)).await;
    println!("lifecycle e2e took {:.1}s", total.elapsed().as_secs_f64());
}

/// Restarts nova-api when dropped, so a failing fault test never leaves the lab broken.
struct NovaApiBack(bool);

impl Drop for NovaApiBack {
    fn drop(&mut self) {
        if self.0 {
            lab::lab_script("up.sh", &["nova-api"]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_the_real_apis_get_the_designed_behaviour() {
    let _lab = lab::LAB.write().await;
    let mut policy = lab::policy();
    policy.spec.traffic = None;
    policy.spec.telemetry = None;

    // A wrong password: a clear authentication error that never shows the password, from the
    // library and from `sloop plan`.
    let wrong = "not-the-password-x9";
    let mut cfg = config::load(Some("oslab-demo"), Some(&lab::clouds_yaml())).expect("clouds.yaml");
    if let Auth::Password { password, .. } = &mut cfg.auth {
        *password = Secret::new(wrong);
    }
    let err = OpenStackCloud::connect(cfg, policy.clone(), lab::options(), lab::clock())
        .await
        .expect_err("a wrong password must not authenticate");
    assert_eq!(err.class, ErrorClass::Unauthorized, "{err}");
    assert!(!err.to_string().contains(wrong) && !format!("{err:?}").contains(wrong));
    let dir = std::env::temp_dir().join(format!("sloop-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let bad_yaml = dir.join("clouds.yaml");
    let text = std::fs::read_to_string(lab::clouds_yaml()).expect("clouds.yaml");
    let original = config::parse(&text, "oslab-demo", "lab").expect("oslab-demo");
    let Auth::Password { password, .. } = &original.auth else {
        panic!("oslab-demo uses a password")
    };
    std::fs::write(
        &bad_yaml,
        text.replace(
            &format!("password: {}", password.expose()),
            &format!("password: {wrong}"),
        ),
    )
    .expect("write clouds.yaml");
    let (code, out, err) = sloop_plan(&bad_yaml, Some("oslab-demo"));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("unauthorized") && err.contains("identity"), "{err}");
    assert!(!err.contains(wrong) && !out.contains(wrong));

    // A revoked token (Keystone answers 401, as for an expired one): one re-authentication,
    // then the call succeeds; the caller never sees it.
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = sloop::cloud::openstack::metrics::register(&mut registry);
    let mut cloud = lab::cloud("oslab-demo", policy.clone())
        .await
        .with_metrics(metrics);
    observe(&mut cloud).await;
    let token = cloud.api().current_token().await.expect("token");
    let revoke = reqwest::Client::new()
        .delete("http://127.0.0.1:5000/v3/auth/tokens")
        .header("X-Auth-Token", token.expose())
        .header("X-Subject-Token", token.expose())
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoke.status().as_u16(), 204, "token revoked");
    // Nova's API workers keep a validated token for 5 s (`token_cache_time` in the lab): past
    // that, every worker asks Keystone again and refuses the revoked token.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    observe(&mut cloud).await;
    let stats = cloud.api().stats();
    assert_eq!(stats.reauthentications, 1);
    assert_eq!(stats.calls.get(&("compute", "unauthorized")), Some(&1));
    assert_ne!(
        cloud.api().current_token().await.expect("token").expose(),
        token.expose()
    );

    // nova-api stopped: bounded retries, then the breaker opens and stops calling; once nova-api
    // is back, one trial call closes it again.
    let mut guard = NovaApiBack(true);
    lab::lab_script("down.sh", &["nova-api"]);
    let sw = Stopwatch::start();
    let mut errors = Vec::new();
    for _ in 0..3 {
        errors.push(
            cloud
                .observe(lab::clock().now())
                .await
                .expect_err("nova-api is down")
                .to_string(),
        );
    }
    println!(
        "3 failed observations with nova-api down took {:.1}s",
        sw.elapsed().as_secs_f64()
    );
    assert!(
        errors
            .iter()
            .all(|e| e.contains("compute") && e.contains("transport")),
        "{errors:?}"
    );
    assert_eq!(cloud.api().breaker_label(Service::Compute), "open");
    let calls_before: u64 = cloud.api().stats().calls.values().sum();
    let e = cloud
        .observe(lab::clock().now())
        .await
        .expect_err("breaker open")
        .to_string();
    assert!(e.contains("circuit open"), "{e}");
    assert_eq!(cloud.api().stats().short_circuited, 1);
    assert_eq!(
        cloud.api().stats().calls.values().sum::<u64>(),
        calls_before,
        "no request sent while open"
    );
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
    for line in [
        r#"sloop_openstack_api_breaker_open{cloud="oslab-demo",api="compute"} 1"#,
        r#"sloop_openstack_api_short_circuited_total{cloud="oslab-demo",api="compute"} 1"#,
        r#"sloop_openstack_reauthentications_total{cloud="oslab-demo"} 1"#,
    ] {
        assert!(text.contains(line), "metrics lack {line}:\n{text}");
    }
    lab::lab_script("up.sh", &["nova-api"]);
    guard.0 = false;
    let mut back = None;
    for _ in 0..240 {
        if let Ok(snap) = cloud.observe(lab::clock().now()).await {
            back = Some(snap);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let snap = back.expect("observe works again within 60 s of nova-api's return");
    assert!(snap.inventory.is_empty());
    assert_eq!(cloud.api().breaker_label(Service::Compute), "closed");

    // Quota exhausted: a clear refusal, and the scale-out stops at the first refusal.
    let env = lab::lab_env();
    let project = env.get("OSLAB_DEMO_PROJECT_ID").expect("OSLAB_DEMO_PROJECT_ID");
    let mut admin = lab::api(ADMIN).await;
    let quota = admin
        .call(&Request::get(Service::Compute, &["os-quota-sets", project]))
        .await
        .expect("quota");
    let instances = quota["quota_set"]["instances"].clone();
    let set = |n: Value| {
        Request::put(
            Service::Compute,
            &["os-quota-sets", project],
            json!({"quota_set": {"instances": n}}),
        )
    };
    admin.call(&set(json!(0))).await.expect("set quota 0");
    let mut cloud = lab::cloud(ADMIN, policy.clone()).await;
    let snap = observe(&mut cloud).await;
    let out = executor::execute(
        &policy,
        &snap,
        &[planned("e2e-quota", Action::ScaleOut { count: 2 })],
        &mut cloud,
    )
    .await;
    admin.call(&set(instances)).await.expect("restore quota");
    let result = out[0].result.clone().expect_err("quota must refuse");
    assert!(
        result.starts_with("quota exceeded") && result.contains("403"),
        "{result}"
    );
    let creates = cloud
        .api()
        .stats()
        .recent_writes
        .iter()
        .filter(|w| *w == "POST servers")
        .count();
    assert_eq!(creates, 1, "stops at the first refusal");
    lab::clean(&mut admin, &policy, None).await;
}

/// A group of its own holding one server sloop created (no pool, no telemetry), for the tests
/// that act on a single server.
struct LoneServer {
    policy: Policy,
    admin: Api,
    cloud: OpenStackCloud,
    id: String,
    /// The idempotency key it was created with.
    key: String,
    /// Lab time just before the server was created.
    created_at: f64,
}

async fn lone_server(group: &str) -> LoneServer {
    let mut policy = lab::policy();
    policy.metadata.name = group.into();
    policy.spec.group.selector = [("sloop.group".to_owned(), group.to_owned())].into();
    policy.spec.traffic = None;
    policy.spec.telemetry = None;
    let mut admin = lab::api(ADMIN).await;
    lab::clean(&mut admin, &policy, None).await;
    let mut cloud = lab::cloud(ADMIN, policy.clone()).await;
    let created_at = lab::clock().now();
    let key = format!("{group}-{}-1", created_at.floor() as i64);
    let created = executor::execute(
        &policy,
        &observe(&mut cloud).await,
        &[planned(&key, Action::ScaleOut { count: 1 })],
        &mut cloud,
    )
    .await;
    assert_eq!(created[0].result, Ok(()), "create");
    let id = created[0].created[0].clone();
    settled(&mut admin, &id).await;
    LoneServer {
        policy,
        admin,
        cloud,
        id,
        key,
        created_at,
    }
}

/// Repair stamps on the real Nova: the executor merges `sloop.heal` into the server's metadata
/// before a soft reboot (leaving the group's keys alone), the inventory reads it back, and a
/// fresh history (no journal) adopts the rung from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repair_stamp_reaches_the_server_and_comes_back_through_the_inventory() {
    let _lab = lab::LAB.read().await;
    let LoneServer {
        policy,
        mut admin,
        mut cloud,
        id,
        key,
        created_at: now,
    } = lone_server("e2e-stamp").await;
    let snap = observe(&mut cloud).await;
    assert_eq!(snap.inventory.len(), 1);
    assert_eq!(snap.inventory[0].stamps, None, "a new server carries no stamp");

    let reboot = format!("e2e-stamp-{}-2", now.floor() as i64);
    let soft = Action::Reboot {
        instance: id.clone(),
        hard: false,
    };
    let out = executor::execute(&policy, &snap, &[planned(&reboot, soft)], &mut cloud).await;
    assert_eq!(out[0].result, Ok(()), "stamp and soft reboot");
    let writes: Vec<&String> = cloud.api().stats().recent_writes.iter().collect();
    let stamp = writes
        .iter()
        .position(|w| *w == &format!("POST servers/{id}/metadata"));
    let action = writes
        .iter()
        .position(|w| *w == &format!("POST servers/{id}/action"));
    assert!(
        stamp.is_some() && stamp < action,
        "stamp before the reboot: {writes:?}"
    );
    settled(&mut admin, &id).await;

    let v = admin
        .call(&Request::get(Service::Compute, &["servers", &id]))
        .await
        .expect("GET server");
    let meta = &v["server"]["metadata"];
    assert_eq!(meta["sloop.heal"], format!("reboot-soft@{}", now.floor() as i64));
    assert_eq!(meta["sloop.group"], "e2e-stamp", "a merge, not a replacement");
    assert_eq!(meta[ACTION_KEY], format!("{key}/0"));
    let snap = observe(&mut cloud).await;
    let stamps = snap.inventory[0]
        .stamps
        .expect("the inventory reads the stamp back");
    assert_eq!(stamps.rung, Some((Rung::RebootSoft, now.floor())));
    let mut history = sloop::history::History::default();
    history.adopt_stamps(&policy.spec.healing.ladder, &snap.inventory, lab::clock().now());
    let rung = policy
        .spec
        .healing
        .ladder
        .iter()
        .position(|r| *r == Rung::RebootSoft);
    assert_eq!(
        history.ladders.get(&id).map(|s| s.rung),
        rung,
        "adopted without a journal"
    );

    // Nova refuses metadata on a server in ERROR (409): the hard reboot it needs still goes
    // out, unstamped, and the old stamp stays.
    admin
        .call(&Request::post(
            Service::Compute,
            &["servers", &id, "action"],
            json!({"os-resetState": {"state": "error"}}),
        ))
        .await
        .expect("reset to ERROR");
    let snap = observe(&mut cloud).await;
    assert_eq!(snap.inventory[0].status, InstanceStatus::Error);
    let hard = Action::Reboot {
        instance: id.clone(),
        hard: true,
    };
    let key = format!("e2e-stamp-{}-3", now.floor() as i64 + 1);
    let out = executor::execute(&policy, &snap, &[planned(&key, hard)], &mut cloud).await;
    assert_eq!(out[0].result, Ok(()), "an ERROR server is repaired unstamped");
    settled(&mut admin, &id).await;
    let snap = observe(&mut cloud).await;
    assert_eq!(snap.inventory[0].status, InstanceStatus::Active);
    let stamps = snap.inventory[0].stamps.expect("the old stamp");
    assert_eq!(stamps.rung, Some((Rung::RebootSoft, now.floor())), "not stamped");
    lab::clean(&mut admin, &policy, None).await;
}

/// What a restarted controller asks Nova about an interrupted repair
/// (`GET /servers/{id}/os-instance-actions`, `sloop::resolve`): before a soft reboot the
/// server shows no reboot newer than the call's time; after it, a `reboot` that started at or
/// after it. The reconcile loop then resolves two open intents against the real cloud: the
/// reboot that was sent (done) and a rebuild that never was (abandoned).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_actions_query_tells_a_sent_reboot_from_one_never_sent() {
    use sloop::{
        journal::EntryOutcome,
        resolve::{Resolution, SKEW},
    };
    let _lab = lab::LAB.read().await;
    let LoneServer {
        policy,
        mut admin,
        mut cloud,
        id,
        ..
    } = lone_server("e2e-actions").await;

    let call = lab::clock().now();
    let before = cloud
        .server_actions(&id, call)
        .await
        .expect("os-instance-actions");
    println!("  before the reboot (since {call:.3}): {before:?}");
    assert!(
        !before.iter().any(|a| a.action == "reboot"),
        "no reboot yet: {before:?}"
    );
    let all = cloud.server_actions(&id, 0.0).await.expect("os-instance-actions");
    assert!(
        all.iter().any(|a| a.action == "create"),
        "Nova lists the create: {all:?}"
    );

    cloud.reboot_server(&id, false).await.expect("soft reboot");
    let after = cloud
        .server_actions(&id, call - SKEW)
        .await
        .expect("os-instance-actions");
    println!("  after the reboot: {after:?}");
    let reboot = after
        .iter()
        .find(|a| a.action == "reboot")
        .expect("Nova recorded the reboot");
    // Same machine, same clock (Nova keeps microseconds): the reboot starts after the call.
    println!(
        "  call at {call:.3}, Nova's reboot started at {:.3}",
        reboot.started
    );
    assert!(
        reboot.started >= call,
        "the reboot started at {:.3}, before the call at {call:.3}",
        reboot.started
    );
    assert!(
        reboot
            .request_id
            .as_deref()
            .is_some_and(|r| r.starts_with("req-")),
        "{reboot:?}"
    );

    let intent = |n: u32, at: f64, action: Action| {
        let id = format!("e2e-actions-{}-{n}", at.floor() as i64);
        journaled::entry(
            &policy.metadata.name,
            at,
            &planned(&id, action),
            EntryOutcome::Started,
            None,
            None,
        )
    };
    let sent = intent(
        2,
        call,
        Action::Reboot {
            instance: id.clone(),
            hard: false,
        },
    );
    // Dated after the reboot by more than the allowed skew, so the reboot cannot count for it.
    let later = lab::clock().now().max(call + 3.0 * SKEW);
    let never = intent(3, later, Action::Rebuild { instance: id.clone() });
    let mut rec = Reconciler::new(policy.clone()).with_open_intents(vec![sent, never]);
    rec.decide(&mut cloud, &NoProbes, lab::clock().now(), false)
        .await
        .expect("observe");
    let resolved: Vec<(String, Resolution, Option<String>)> = rec
        .take_resolved()
        .into_iter()
        .map(|r| (r.entry.kind.label().to_owned(), r.resolution, r.entry.detail))
        .collect();
    println!("  resolved: {resolved:?}");
    assert_eq!(resolved.len(), 2, "{resolved:?}");
    assert_eq!(
        (resolved[0].0.as_str(), resolved[0].1),
        ("reboot-soft", Resolution::Done)
    );
    assert_eq!(
        (resolved[1].0.as_str(), resolved[1].1),
        ("rebuild", Resolution::Abandoned)
    );
    assert_eq!(rec.unresolved(), 0);
    lab::clean(&mut admin, &policy, None).await;
}
