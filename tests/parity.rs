//! Parity: the simulator fills exactly the snapshot fields a real cloud fills. One snapshot comes
//! from `SimCloud`, one from the OpenStack backend talking to a loopback stand-in that answers
//! with responses recorded from the lab (`tests/data/parity/lab-recording.json`: Keystone, Nova
//! servers and hypervisors, Octavia members and statistics, Gnocchi `cpu` measures). Both are
//! serialised to JSON and the sets of present keys are compared recursively (IDs that key a
//! map count as one key). A field only the simulator fills would be a signal no real backend
//! supplies, and fails the test.
//!
//! Re-record with the lab up: `SLOOP_UPDATE_FIXTURES=1 cargo test --features e2e --test decisions parity::`
//! (without the variable, the e2e test compares the live lab's snapshot the same way).

#[path = "parity_support/fake_cloud.rs"]
mod fake_cloud;
#[cfg(feature = "e2e")]
#[path = "e2e_support/lab.rs"]
mod lab;

use fake_cloud::{FakeCloud, Recording};
use serde_json::Value;
use sloop::{
    act::{Compute, ServerRequest, Traffic},
    clock::SystemClock,
    cloud::openstack::{CloudOptions, OpenStackCloud, config},
    observe::{Collector, Probes},
    policy::{self, Policy},
    sim::{SimCloud, scenario::parse_scenario},
    snapshot::{Phases, Sample, Snapshot, Time},
};
use std::{
    collections::BTreeSet,
    future::Future,
    path::{Path, PathBuf},
    pin::pin,
    sync::Arc,
    task::{Context, Poll, Waker},
};

const RECORDING: &str = "tests/data/parity/lab-recording.json";

/// The recording and when it was made (the backend judges freshness against that time).
#[derive(serde::Serialize, serde::Deserialize)]
struct Fixture {
    at: Time,
    recording: Recording,
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn policy() -> Policy {
    policy::load_file(&repo("tests/data/parity/parity-web.yaml"))
        .unwrap_or_else(|e| panic!("{e:?}"))
        .policy
}

/// The sim's futures are ready at once; poll them once.
fn ready<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the simulator never waits"),
    }
}

/// What the executor asks of a cloud for one new server of `policy`'s group.
fn server_request(policy: &Policy, key: &str) -> ServerRequest {
    let mut metadata = policy.spec.group.selector.clone();
    metadata.insert("sloop.policy".into(), policy.metadata.name.clone());
    metadata.insert("sloop.action".into(), key.into());
    ServerRequest {
        name: format!("{}-parity", policy.metadata.name),
        template: policy.spec.group.template.clone(),
        availability_zone: None,
        metadata,
    }
}

/// The simulator's snapshot after the same steps as on the lab: a server created and admitted,
/// then two observations 40 s apart (a load rate needs two polls of the counters).
fn sim_snapshot(policy: &Policy) -> Snapshot {
    let scenario = parse_scenario(
        "parity.yaml",
        b"name: parity
start: 2026-09-27T12:00:00Z
duration: 1h
world: {initialInstances: 1}
locations:
  - name: local
    v4: {rtt: 1ms}
    v6: {rtt: 1ms}
load:
  base: {constant: 50}
",
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let mut sim = SimCloud::new(&scenario, policy, 7);
    let start = sim.world().start();
    let id = ready(sim.create_server(&server_request(policy, "parity-1"))).expect("create");
    sim.snapshot(start + 600.0);
    ready(sim.set_member_weight(&id, 1)).expect("admit");
    sim.snapshot(start + 860.0);
    sim.snapshot(start + 900.0)
}

/// The OpenStack backend's snapshot through `fake`, observed at `at` and 40 s later, with the
/// probe engine's store holding samples for the series the simulator's probes have.
async fn cloud_snapshot(
    fake: &FakeCloud,
    cfg: config::CloudConfig,
    policy: &Policy,
    at: Time,
    series: &Snapshot,
) -> Snapshot {
    let mut cfg = cfg;
    cfg.auth_url = fake.auth_url();
    let probes = Probes::start(policy, None, None);
    for s in &series.service {
        for k in 0..10 {
            let sample = Sample {
                // Ten samples up to the second observation, as a probe running every 10 s left.
                at: at - 60.0 + 10.0 * f64::from(k),
                latency: 0.02,
                ok: true,
                // What the local probe engine measures for an HTTP probe.
                phases: Some(Phases {
                    dns: 0.0,
                    connect: 0.004,
                    tls: 0.0,
                    ttfb: 0.015,
                    transfer: 0.001,
                }),
            };
            let id = sloop::observe::store::SeriesId::Service(s.key.clone());
            probes.store().lock().expect("probe store").record(&id, sample);
        }
    }
    let opts = CloudOptions {
        page_size: 100,
        ..CloudOptions::default()
    };
    let mut cloud = OpenStackCloud::connect(cfg, policy.clone(), opts, Arc::new(SystemClock))
        .await
        .unwrap_or_else(|e| panic!("connect through the stand-in: {e}"));
    // The run loop's probes, as `sloop run --cloud` wires them (the cloud owns none).
    let collector = Collector::new(policy);
    collector.collect(&mut cloud, &probes, at).await.expect("observe");
    collector
        .collect(&mut cloud, &probes, at + 40.0)
        .await
        .expect("observe")
}

/// Every key path present in `v` (`.inventory[].member.weight`); the IDs keying telemetry maps
/// become `*`.
fn keys(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            let by_id = path.ends_with(".telemetry.instances") || path.ends_with(".telemetry.hypervisors");
            for (k, x) in m {
                let p = format!("{path}.{}", if by_id { "*" } else { k });
                out.insert(p.clone());
                keys(x, &p, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                keys(x, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

fn fields(s: &Snapshot) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    keys(&serde_json::to_value(s).expect("serialise"), "", &mut out);
    out
}

/// Fails naming every field one side fills and the other does not.
fn assert_same_fields(sim: &Snapshot, cloud: &Snapshot) {
    let (a, b) = (fields(sim), fields(cloud));
    let sim_only: Vec<_> = a.difference(&b).collect();
    let cloud_only: Vec<_> = b.difference(&a).collect();
    assert!(
        sim_only.is_empty() && cloud_only.is_empty(),
        "only the simulator fills {sim_only:?}; only the cloud fills {cloud_only:?}"
    );
    for must in [
        ".load.requests",
        ".load.source",
        ".telemetry.instances.*.cpu.value",
        ".hosts.hosts[].vcpus",
    ] {
        assert!(a.contains(must), "neither side fills {must}: {a:?}");
    }
}

/// A stand-in cloud config with a credential the stand-in does not check.
fn stand_in_config() -> config::CloudConfig {
    config::CloudConfig {
        name: "parity".into(),
        auth_url: String::new(),
        auth: config::Auth::ApplicationCredential {
            id: Some("parity-credential".into()),
            name: None,
            user_id: None,
            secret: config::Secret::new("not-a-secret"),
        },
        region: Some("RegionOne".into()),
        interface: None,
        cacert: None,
        verify: true,
        source: "tests/parity.rs".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_fills_exactly_the_snapshot_fields_the_openstack_backend_fills() {
    let text = std::fs::read_to_string(repo(RECORDING)).expect("the recorded lab responses");
    let fixture: Fixture = serde_json::from_str(&text).expect("recording parses");
    let policy = policy();
    let sim = sim_snapshot(&policy);
    let fake = FakeCloud::replay(fixture.recording).await;
    let cloud = cloud_snapshot(&fake, stand_in_config(), &policy, fixture.at, &sim).await;
    assert!(
        fake.unknown().is_empty(),
        "requests not in the recording: {:?}",
        fake.unknown()
    );
    let load = cloud.load.expect("the balancer's statistics became a rate");
    assert_eq!(load.covers, 40.0, "{load:?}");
    assert_same_fields(&sim, &cloud);
}

#[test]
fn a_field_only_the_simulator_fills_fails_the_comparison() {
    let policy = policy();
    let sim = sim_snapshot(&policy);
    let mut cloud = sim.clone();
    cloud.load = None;
    let outcome = std::panic::catch_unwind(|| assert_same_fields(&sim, &cloud));
    let message = *outcome
        .expect_err("a missing load must fail")
        .downcast::<String>()
        .unwrap();
    assert!(message.contains(".load.requests"), "{message}");
}

/// Records the lab's answers to one observation of a fresh group (one server, admitted, with
/// Ceilometer-style `cpu` measures), checks the live snapshot against the simulator's, and
/// rewrites the fixture when `SLOOP_UPDATE_FIXTURES` is set.
#[cfg(feature = "e2e")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_fills_the_same_fields_as_the_simulator_and_its_answers_are_recorded() {
    let _lab = lab::LAB.read().await;
    let policy = policy();
    let mut admin = lab::api("oslab-admin-appcred").await;
    let (lb, pool) = lab::ensure_pool(&mut admin, &policy).await;
    lab::clean(&mut admin, &policy, Some(&pool)).await;
    let mut direct = lab::cloud("oslab-admin-appcred", policy.clone()).await;
    let id = direct
        .create_server(&server_request(&policy, "parity-1"))
        .await
        .expect("create");
    lab::wait_active(&mut admin, &id).await;
    direct.set_member_weight(&id, 1).await.expect("admit");
    let at = lab::clock().now();
    lab::post_cpu(&mut admin, &id, at).await;
    // metricd processes new measures within about 2 s in the lab.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;

    let sim = sim_snapshot(&policy);
    let fake = FakeCloud::record().await;
    let cfg = config::load(Some("oslab-admin-appcred"), Some(&lab::clouds_yaml())).expect("lab clouds.yaml");
    let at = lab::clock().now();
    let cloud = cloud_snapshot(&fake, cfg, &policy, at, &sim).await;
    lab::clean(&mut admin, &policy, Some(&pool)).await;
    lab::delete_load_balancer(&mut admin, &lb).await;

    let load = cloud
        .load
        .expect("Octavia's statistics were read twice and became a rate");
    assert_eq!(load.source, sloop::snapshot::LoadSource::Octavia);
    let cpu = cloud.telemetry.instances[&id]["cpu"];
    assert!(
        cpu.value.is_some(),
        "the cpu measures posted as Ceilometer would are read: {cpu:?}"
    );
    assert_same_fields(&sim, &cloud);
    if std::env::var_os("SLOOP_UPDATE_FIXTURES").is_some() {
        let fixture = Fixture {
            at,
            recording: fake.recording(),
        };
        std::fs::write(
            repo(RECORDING),
            serde_json::to_string_pretty(&fixture).unwrap() + "\n",
        )
        .unwrap();
    }
}
