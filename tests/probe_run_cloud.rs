//! The local probe engine beside a real-cloud connection (`sloop run --cloud NAME` runs it in
//! the reconcile task's `observe::Probes`, and the observe stage reads it with the cloud's
//! inventory): a loopback HTTP server is probed, the results reach the snapshot, and the job
//! set follows the inventory and the policy (new instances get per-instance jobs, unchanged
//! jobs are not restarted, dropping the probes stops every job).

use sloop::{
    clock::SystemClock,
    observe::{
        Collector, Inventory, Listing, LoadSource, ObserveError, ProbeSource, Probes, TelemetrySource,
        probe::{engine::ProbeEngine, schedule::Counters},
        store::ProbeStore,
    },
    policy::Policy,
    snapshot::{Hosts, Instance, InstanceStatus, IpFamily, Snapshot, TelemetryReadings, Time},
};
use std::{
    future::{Future, ready},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback HTTP server answering 200; counts requests.
async fn http_server() -> (u16, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let mut seen = Vec::new();
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                counter.fetch_add(1, Ordering::Relaxed);
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n")
                    .await;
            });
        }
    });
    (port, hits)
}

fn policy(port: u16, interval: &str) -> Policy {
    let yaml = format!(
        r#"
apiVersion: sloop/v1
kind: ServicePolicy
metadata:
  name: probed
spec:
  group:
    cloud: lab
    selector:
      sloop.group: probed
    template:
      image: debian-12-nginx
      flavor: m1.small
      networks:
        - network: public
          family: v4
    size:
      min: 1
      max: 3
  probes:
    - name: site
      http:
        url: "http://127.0.0.1:{port}/"
      interval: {interval}
      timeout: 150ms
      family: v4
      locations: [local]
    - name: instance
      http:
        url: "http://127.0.0.1:{port}/health"
      interval: 200ms
      timeout: 150ms
      family: v4
      locations: [local]
      perInstance: true
  objectives:
    - name: availability
      availability:
        probe: site
        target: 99.5%
  scaling:
    targetUtilization: 60%
  healing:
    enabled: false
"#
    );
    sloop::policy::parse("probed.yaml", yaml.as_bytes()).unwrap_or_else(|e| panic!("test policy: {e:?}"))
}

/// A cloud whose inventory the test sets. Like a real cloud it runs no probes of its own.
struct FakeCloud {
    inventory: Arc<Mutex<Vec<Instance>>>,
}

impl Inventory for FakeCloud {
    fn list(&mut self, now: Time) -> impl Future<Output = Result<Listing, ObserveError>> + Send {
        ready(Ok(Listing {
            at: now,
            instances: self.inventory.lock().unwrap().clone(),
            ..Listing::default()
        }))
    }
    fn hosts(&mut self, _: Time) -> impl Future<Output = Hosts> + Send {
        ready(Hosts::default())
    }
}

impl TelemetrySource for FakeCloud {
    fn readings(&mut self, _: &Listing, _: Time) -> impl Future<Output = TelemetryReadings> + Send {
        ready(TelemetryReadings::default())
    }
}

impl LoadSource for FakeCloud {
    fn load(&mut self, _: Time) -> impl Future<Output = Option<sloop::snapshot::LoadSignal>> + Send {
        ready(None)
    }
}

impl ProbeSource for FakeCloud {}

/// What a reconcile task holds for one policy: the connection, the run loop's probes, and the
/// observe stage; each observation is followed by the probes (as `run::task` does).
struct Connection {
    cloud: FakeCloud,
    probes: Probes,
    collector: Collector,
}

impl Connection {
    async fn observe(&mut self, now: Time) -> Result<Snapshot, ObserveError> {
        let snap = self.collector.collect(&mut self.cloud, &self.probes, now).await?;
        self.probes.saw(&snap.inventory);
        Ok(snap)
    }

    fn engine(&self) -> &ProbeEngine {
        self.probes.engine().expect("the local engine runs")
    }

    fn policy_changed(&mut self, policy: &Policy) {
        self.collector = Collector::new(policy);
        self.probes.policy_changed(policy);
    }
}

fn instance(id: &str) -> Instance {
    Instance {
        id: id.into(),
        name: id.into(),
        status: InstanceStatus::Active,
        host: None,
        addresses: vec![(IpFamily::V4, "127.0.0.1".into())],
        created_at: 0.0,
        active_since: Some(0.0),
        member: None,
        created_by: None,
        stamps: None,
        fault: None,
        replaces: None,
    }
}

fn now() -> Time {
    use sloop::clock::Clock;
    SystemClock.now()
}

/// Observes every 100 ms until `done` holds for the snapshot (at most `secs`).
async fn observe_until(cloud: &mut Connection, secs: u64, what: &str, done: impl Fn(&Snapshot) -> bool) {
    let watch = sloop::clock::Stopwatch::start();
    loop {
        let snap = cloud.observe(now()).await.unwrap();
        if done(&snap) {
            return;
        }
        assert!(
            watch.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}: {snap:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_probes_reach_the_snapshot_and_follow_inventory_and_policy() {
    let (port, hits) = http_server().await;
    let first = policy(port, "200ms");
    let inventory = Arc::new(Mutex::new(Vec::new()));
    let mut cloud = Connection {
        cloud: FakeCloud {
            inventory: inventory.clone(),
        },
        probes: Probes::start(&first, Some(Arc::new(SystemClock)), None),
        collector: Collector::new(&first),
    };
    // Both probes run through the service address before any inventory is seen.
    assert_eq!(cloud.engine().len(), 2);

    observe_until(&mut cloud, 20, "service samples", |s| {
        s.service
            .iter()
            .any(|x| &*x.key.probe == "site" && x.recent.iter().filter(|r| r.ok).count() >= 3)
    })
    .await;

    // Two instances appear: one per-instance job each, the service job keeps running.
    let started_before = Counters::get(&cloud.engine().counters().started);
    inventory
        .lock()
        .unwrap()
        .extend([instance("vm-1"), instance("vm-2")]);
    observe_until(&mut cloud, 20, "per-instance samples", |s| {
        ["vm-1", "vm-2"].iter().all(|id| {
            s.instances_probed
                .iter()
                .any(|x| x.instance == *id && x.recent.iter().any(|r| r.ok))
        })
    })
    .await;
    assert_eq!(cloud.engine().len(), 4);
    assert!(Counters::get(&cloud.engine().counters().started) > started_before);

    // One instance goes: its job stops and its series leaves the store.
    inventory.lock().unwrap().retain(|i| i.id != "vm-2");
    cloud.observe(now()).await.unwrap();
    assert_eq!(cloud.engine().len(), 3);
    let snap = cloud.observe(now()).await.unwrap();
    assert!(
        snap.instances_probed.iter().all(|x| x.instance != "vm-2"),
        "{snap:?}"
    );

    // A policy change that touches only the service probe restarts only that job.
    cloud.policy_changed(&policy(port, "300ms"));
    assert_eq!(cloud.engine().len(), 3);

    // Dropping the probes with the connection (policy removed, shutdown) stops every probe.
    drop(cloud);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after_drop = hits.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        hits.load(Ordering::Relaxed),
        after_drop,
        "no probe after the engine is dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_report_keeps_unchanged_jobs_and_restarts_changed_ones() {
    let (port, _) = http_server().await;
    let policy_a = policy(port, "200ms");
    let store = Arc::new(Mutex::new(ProbeStore::for_policy(&policy_a)));
    let mut engine = sloop::observe::probe::engine::ProbeEngine::new(
        store,
        Arc::new(sloop::observe::probe::LocalProber::new()),
        Arc::new(SystemClock),
    );
    let vms = [instance("vm-1")];
    let r = engine.sync(&policy_a, &vms).unwrap();
    assert_eq!((r.started, r.stopped, r.kept), (3, 0, 0));
    let r = engine.sync(&policy_a, &vms).unwrap();
    assert_eq!(
        (r.started, r.stopped, r.kept),
        (0, 0, 3),
        "nothing changed, nothing restarted"
    );
    let r = engine.sync(&policy(port, "300ms"), &vms).unwrap();
    assert_eq!(
        (r.started, r.stopped, r.kept),
        (1, 1, 2),
        "only the changed probe restarts"
    );
    let r = engine.sync(&policy(port, "300ms"), &[]).unwrap();
    assert_eq!(
        (r.started, r.stopped, r.kept),
        (0, 1, 2),
        "a gone instance's job stops"
    );
}
