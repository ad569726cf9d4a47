//! The controller in-process against the simulator at 600× real time: hot reload (a valid
//! change applied, an invalid one rejected with the old version kept, a removal that stops
//! management and deletes nothing), leadership gating, and global dry-run.
//!
//! Every wait is on the published status (with a generous deadline), never a fixed sleep.

use sloop::{
    act::{ActError, Compute, ServerRequest, Traffic},
    clock::Clock,
    journal::EntryOutcome,
    observe::{Inventory, Listing, LoadSource, ObserveError, ProbeSource, TelemetrySource},
    policy::Policy,
    run::{CloudFactory, Controller, Leadership, LiveCloud, Options, SimFactory, status::Status},
    sim::{SimCloud, load_scenario},
    snapshot::{Hosts, InstanceSeries, ServiceSeries, TelemetryReadings, Time},
};
use std::{
    future::Future,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tokio::sync::watch;

const POLL: Duration = Duration::from_millis(100);
const DEADLINE: Duration = Duration::from_secs(60);

// === A simulated cloud that records every change and when it is dropped ===

#[derive(Clone, Default)]
struct Log {
    calls: Arc<Mutex<Vec<String>>>,
    dropped: Arc<AtomicBool>,
}

impl Log {
    fn push(&self, call: String) {
        self.calls.lock().expect("log").push(call);
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("log").clone()
    }
}

struct Recorded {
    inner: SimCloud,
    log: Log,
}

impl Drop for Recorded {
    fn drop(&mut self) {
        self.log.dropped.store(true, Ordering::SeqCst);
    }
}

impl Inventory for Recorded {
    fn list(&mut self, now: Time) -> impl Future<Output = Result<Listing, ObserveError>> + Send {
        self.inner.list(now)
    }
    fn hosts(&mut self, now: Time) -> impl Future<Output = Hosts> + Send {
        self.inner.hosts(now)
    }
}

impl TelemetrySource for Recorded {
    fn readings(&mut self, listing: &Listing, now: Time) -> impl Future<Output = TelemetryReadings> + Send {
        self.inner.readings(listing, now)
    }
}

impl LoadSource for Recorded {
    fn load(&mut self, now: Time) -> impl Future<Output = Option<sloop::snapshot::LoadSignal>> + Send {
        self.inner.load(now)
    }
}

impl ProbeSource for Recorded {
    fn summaries(&self, l: &[f64], c: &[f64], now: Time) -> (Vec<ServiceSeries>, Vec<InstanceSeries>) {
        self.inner.summaries(l, c, now)
    }
    fn heartbeat(&self, location: &str, now: Time) -> Option<Time> {
        self.inner.heartbeat(location, now)
    }
    fn evidence_since(&self, t: Time) -> bool {
        self.inner.evidence_since(t)
    }
}

impl Compute for Recorded {
    fn create_server(
        &mut self,
        req: &ServerRequest,
    ) -> impl Future<Output = Result<String, ActError>> + Send {
        self.log.push(format!("create {}", req.name));
        self.inner.create_server(req)
    }
    fn delete_server(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.log.push(format!("delete {id}"));
        self.inner.delete_server(id)
    }
    fn reboot_server(&mut self, id: &str, hard: bool) -> impl Future<Output = Result<(), ActError>> + Send {
        self.log.push(format!("reboot {id}"));
        self.inner.reboot_server(id, hard)
    }
    fn rebuild_server(&mut self, id: &str, image: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.log.push(format!("rebuild {id}"));
        self.inner.rebuild_server(id, image)
    }
    fn live_migrate(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.log.push(format!("migrate {id}"));
        self.inner.live_migrate(id)
    }
    fn stamp_server(
        &mut self,
        id: &str,
        metadata: &std::collections::BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), ActError>> + Send {
        self.log.push(format!("stamp {id}"));
        self.inner.stamp_server(id, metadata)
    }
    fn server_actions(
        &mut self,
        id: &str,
        since: Time,
    ) -> impl Future<Output = Result<Vec<sloop::act::ServerAction>, ActError>> + Send {
        self.inner.server_actions(id, since)
    }
}

impl Traffic for Recorded {
    fn set_member_weight(
        &mut self,
        id: &str,
        weight: u16,
    ) -> impl Future<Output = Result<(), ActError>> + Send {
        self.log.push(format!("weight {id} {weight}"));
        self.inner.set_member_weight(id, weight)
    }
    fn remove_member(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.log.push(format!("remove-member {id}"));
        self.inner.remove_member(id)
    }
}

impl LiveCloud for Recorded {
    fn step(&self) -> Option<f64> {
        LiveCloud::step(&self.inner)
    }
    fn now(&self) -> Option<Time> {
        LiveCloud::now(&self.inner)
    }
    fn advance_to(&mut self, t: Time) {
        LiveCloud::advance_to(&mut self.inner, t);
    }
    fn end(&self) -> Option<Time> {
        LiveCloud::end(&self.inner)
    }
}

struct RecordingFactory {
    sim: SimFactory,
    log: Log,
}

impl CloudFactory for RecordingFactory {
    type Cloud = Recorded;
    async fn connect(&self, policy: &Policy) -> Result<Recorded, String> {
        Ok(Recorded {
            inner: self.sim.connect(policy).await?,
            log: self.log.clone(),
        })
    }
    fn clock(&self) -> Arc<dyn Clock> {
        self.sim.clock()
    }
    fn label(&self) -> String {
        self.sim.label()
    }
}

// === Fixtures ===

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sloop-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn minimal() -> String {
    std::fs::read_to_string(repo().join("policies/minimal.yaml")).expect("policies/minimal.yaml")
}

fn start(dir: &Path, leadership: Leadership, dry_run: bool) -> (Controller, Log) {
    let scenario = load_scenario(&repo().join("policies/scenarios/steady-day.yaml")).expect("scenario loads");
    let seed = scenario.seed;
    let log = Log::default();
    let factory = RecordingFactory {
        sim: SimFactory::new(scenario, seed, 600.0, 0.0),
        log: log.clone(),
    };
    let controller = Controller::start(
        Arc::new(factory),
        Options {
            leadership,
            dry_run,
            ..Options::default()
        },
    );
    controller.watch_dir(dir.to_owned(), POLL);
    (controller, log)
}

async fn wait_for(
    rx: &mut watch::Receiver<Arc<Status>>,
    what: &str,
    ok: impl Fn(&Status) -> bool,
) -> Arc<Status> {
    let waited = tokio::time::timeout(DEADLINE, async {
        loop {
            let s = rx.borrow_and_update().clone();
            if ok(&s) {
                return s;
            }
            if rx.changed().await.is_err() {
                panic!("status board closed while waiting for: {what}");
            }
        }
    })
    .await;
    match waited {
        Ok(s) => s,
        Err(_) => panic!(
            "timed out after {DEADLINE:?} waiting for: {what}\nlast status: {}",
            summary(&rx.borrow())
        ),
    }
}

/// The status in a few lines (its Debug form carries whole chart histories).
fn summary(s: &Status) -> String {
    let policies: Vec<String> = s
        .policies
        .values()
        .map(|p| {
            format!(
                "{} size {:?} ticks {} error {:?}",
                p.name, p.size, p.ticks, p.last_error
            )
        })
        .collect();
    format!(
        "leader {} synced {} policies {policies:?} rejected {:?} unmanaged {:?}",
        s.leader,
        s.sources_synced,
        s.rejected,
        s.unmanaged.keys().collect::<Vec<_>>()
    )
}

fn ticks(s: &Status, name: &str) -> u64 {
    s.policies.get(name).map_or(0, |p| p.ticks)
}

// === Hot reload ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_change_is_applied_and_history_is_kept() {
    let dir = temp_dir("valid");
    let file = dir.join("web.yaml");
    std::fs::write(&file, minimal()).expect("write");
    let (c, _log) = start(&dir, Leadership::always(), false);
    let mut rx = c.status();
    let s = wait_for(&mut rx, "minimal-web managed and ticking", |s| {
        ticks(s, "minimal-web") >= 3
    })
    .await;
    assert_eq!(s.policies["minimal-web"].size, (2, 6));
    assert!(
        s.ready(),
        "ready once the directory is loaded and each policy has a snapshot"
    );
    let before = ticks(&s, "minimal-web");

    std::fs::write(&file, minimal().replace("max: 6", "max: 9")).expect("write");
    let s = wait_for(&mut rx, "the new maximum in force", |s| {
        s.policies.get("minimal-web").is_some_and(|p| p.size == (2, 9))
    })
    .await;
    assert!(
        ticks(&s, "minimal-web") >= before,
        "the same task goes on (pass count kept), it was not restarted"
    );
    assert!(s.rejected.is_empty(), "nothing rejected: {:?}", s.rejected);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_change_is_rejected_and_the_last_good_version_stays() {
    let dir = temp_dir("invalid");
    let file = dir.join("web.yaml");
    std::fs::write(&file, minimal()).expect("write");
    let (c, _log) = start(&dir, Leadership::always(), false);
    let state = c.app_state();
    let mut rx = c.status();
    wait_for(&mut rx, "minimal-web managed", |s| ticks(s, "minimal-web") >= 1).await;

    let broken = minimal()
        .replace("max: 6", "max: 9")
        .replace("target: 99.5%", "target: lots");
    std::fs::write(&file, broken).expect("write");
    let s = wait_for(&mut rx, "the change rejected", |s| !s.rejected.is_empty()).await;
    let r = s.rejected.values().next().expect("one rejection");
    assert_eq!(
        r.kept.as_deref(),
        Some("minimal-web"),
        "the old version stays in force"
    );
    let errors = r.errors.join("\n");
    assert!(errors.contains("web.yaml:"), "errors name the file: {errors}");
    assert!(errors.contains("target"), "errors name the field: {errors}");
    let p = &s.policies["minimal-web"];
    assert_eq!(
        p.size,
        (2, 6),
        "the rejected document's other changes are not applied either"
    );
    let metrics = state.metrics.encode();
    assert!(
        metrics.contains("sloop_policy_reload_errors_total{policy=\"minimal-web\"} 1"),
        "the rejection is counted against the policy it concerns:\n{metrics}"
    );
    // Still managed: passes go on under the old version.
    let n = ticks(&s, "minimal-web");
    wait_for(&mut rx, "more passes under the old version", |s| {
        ticks(s, "minimal-web") > n + 2
    })
    .await;

    // Fixing the file clears the rejection and applies it.
    std::fs::write(&file, minimal().replace("max: 6", "max: 9")).expect("write");
    wait_for(&mut rx, "the fixed version in force", |s| {
        s.rejected.is_empty() && s.policies.get("minimal-web").is_some_and(|p| p.size == (2, 9))
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_policy_stops_being_managed_and_nothing_is_deleted() {
    let dir = temp_dir("removed");
    let file = dir.join("web.yaml");
    std::fs::write(&file, minimal()).expect("write");
    let (c, log) = start(&dir, Leadership::always(), false);
    let mut rx = c.status();
    let s = wait_for(&mut rx, "minimal-web with servers", |s| {
        s.policies
            .get("minimal-web")
            .is_some_and(|p| p.ticks >= 3 && !p.instances.is_empty())
    })
    .await;
    let servers: Vec<String> = s.policies["minimal-web"]
        .instances
        .iter()
        .map(|i| i.id.clone())
        .collect();
    let calls_before = log.calls().len();

    std::fs::remove_file(&file).expect("remove");
    let s = wait_for(&mut rx, "minimal-web unmanaged", |s| {
        !s.policies.contains_key("minimal-web") && s.unmanaged.contains_key("minimal-web")
    })
    .await;
    let u = &s.unmanaged["minimal-web"];
    assert_eq!(u.reason, "policy removed");
    let left: Vec<String> = u.instances.iter().map(|i| i.id.clone()).collect();
    assert!(!left.is_empty(), "its servers are reported");
    for id in &servers {
        assert!(
            left.contains(id) || !log.calls().iter().any(|c| c.contains(id.as_str())),
            "{id} unaccounted for"
        );
    }
    // The task ended and dropped its connection: nothing can call the cloud for it any more.
    tokio::time::timeout(DEADLINE, async {
        while !log.dropped.load(Ordering::SeqCst) {
            tokio::time::sleep(POLL).await;
        }
    })
    .await
    .expect("the removed policy's connection is dropped");
    let after: Vec<String> = log.calls().split_off(calls_before);
    assert!(
        !after
            .iter()
            .any(|c| c.starts_with("delete") || c.starts_with("remove-member")),
        "nothing was deleted on removal: {after:?}"
    );
    c.stop().await;
}

// === Leadership and dry-run ===

/// A policy that wants to scale out at once (its minimum is above the scenario's 4 servers).
fn wants_more() -> String {
    minimal().replace("min: 2", "min: 6").replace("max: 6", "max: 8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_judges_but_never_acts_and_acts_once_it_leads() {
    let dir = temp_dir("leader");
    std::fs::write(dir.join("web.yaml"), wants_more()).expect("write");
    let (lead_tx, lead_rx) = watch::channel(false);
    let (c, log) = start(&dir, Leadership::new(lead_rx), false);
    let mut rx = c.status();
    let s = wait_for(&mut rx, "passes as a follower", |s| ticks(s, "minimal-web") >= 5).await;
    assert!(!s.leader);
    let d = s.policies["minimal-web"].decision.clone().expect("a decision");
    assert!(!d.verdicts.is_empty(), "a follower still judges");
    assert!(
        log.calls().is_empty(),
        "a follower never calls the cloud: {:?}",
        log.calls()
    );

    lead_tx.send(true).expect("send");
    tokio::time::timeout(DEADLINE, async {
        while !log.calls().iter().any(|c| c.starts_with("create")) {
            tokio::time::sleep(POLL).await;
        }
    })
    .await
    .expect("the new leader scales out");
    wait_for(&mut rx, "leader shown", |s| s.leader).await;

    // Losing the lease stops actions: after the flip is seen, no new create is started.
    lead_tx.send(false).expect("send");
    let s = wait_for(&mut rx, "follower again", |s| !s.leader).await;
    let n = ticks(&s, "minimal-web");
    let calls = log.calls().len();
    wait_for(&mut rx, "more follower passes", |s| {
        ticks(s, "minimal-web") > n + 5
    })
    .await;
    // One pass may have been deciding while the flag flipped; nothing after that.
    assert!(
        log.calls().len() <= calls + 1,
        "acted after losing leadership: {:?}",
        log.calls()
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_journals_would_be_actions_with_evidence_and_executes_nothing() {
    let dir = temp_dir("dry");
    std::fs::write(dir.join("web.yaml"), wants_more()).expect("write");
    let (c, log) = start(&dir, Leadership::always(), true);
    let state = c.app_state();
    let mut rx = c.status();
    wait_for(&mut rx, "passes in dry-run", |s| ticks(s, "minimal-web") >= 5).await;
    tokio::time::timeout(DEADLINE, async {
        while state.journal.recent(Some("minimal-web"), 10).is_empty() {
            tokio::time::sleep(POLL).await;
        }
    })
    .await
    .expect("a would-be action is journalled");
    let entries = state.journal.recent(Some("minimal-web"), 50);
    let would: Vec<_> = entries
        .iter()
        .filter(|e| e.outcome == EntryOutcome::Would)
        .collect();
    assert!(!would.is_empty(), "would-be actions journalled: {entries:?}");
    assert!(
        would.iter().all(|e| !e.evidence.summary.is_empty()),
        "with their evidence"
    );
    assert!(
        entries.iter().all(|e| e.outcome != EntryOutcome::Done),
        "nothing done in dry-run: {entries:?}"
    );
    assert!(
        log.calls().is_empty(),
        "the cloud was never called: {:?}",
        log.calls()
    );
    c.stop().await;
}

// === Policies from another source (the Kubernetes ConfigMap watcher's events) ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_policy_events_are_managed_like_files() {
    let dir = temp_dir("configmap");
    let (c, log) = {
        let scenario = load_scenario(&repo().join("policies/scenarios/steady-day.yaml")).expect("scenario");
        let seed = scenario.seed;
        let log = Log::default();
        let factory = RecordingFactory {
            sim: SimFactory::new(scenario, seed, 600.0, 0.0),
            log: log.clone(),
        };
        (Controller::start(Arc::new(factory), Options::default()), log)
    };
    let tx = c.events();
    let mut status = c.status();
    tx.send(sloop::k8s::PolicyEvent::Upsert {
        name: "sloop/web/policy.yaml".into(),
        source_label: "configmap/sloop/web:policy.yaml".into(),
        text: minimal(),
    })
    .await
    .expect("send");
    // What the ConfigMap watcher sends after its first complete list.
    tx.send(sloop::k8s::PolicyEvent::Synced {
        source_label: "configmaps sloop/sloop.io/policy=true".into(),
    })
    .await
    .expect("send");
    let s = wait_for(&mut status, "synced and managed", |s| {
        s.sources_synced && ticks(s, "minimal-web") >= 2
    })
    .await;
    assert!(s.ready());
    assert_eq!(
        s.policies["minimal-web"].source,
        "configmap/sloop/web:policy.yaml"
    );
    tx.send(sloop::k8s::PolicyEvent::Remove {
        name: "sloop/web/policy.yaml".into(),
    })
    .await
    .expect("send");
    wait_for(&mut status, "unmanaged after the ConfigMap is gone", |s| {
        s.unmanaged.contains_key("minimal-web")
    })
    .await;
    assert!(
        !log.calls().iter().any(|c| c.starts_with("delete")),
        "{:?}",
        log.calls()
    );
    let _ = std::fs::remove_dir_all(&dir);
    c.stop().await;
}

// === sloop history ===

#[test]
fn sloop_history_prints_the_journal_filtered_by_policy_and_time() {
    use sloop::{
        decision::{Action, ActionKind, Cause, Evidence, RefusalReason},
        journal::{ActionSink, DiskLimits, Journal, JournalEntry},
    };
    let dir = temp_dir("history");
    let journal = Journal::on_disk(&dir, DiskLimits::default(), 10).expect("journal");
    let entry = |at: f64, policy: &str, outcome, reason| JournalEntry {
        at,
        policy: policy.into(),
        id: None,
        kind: ActionKind::ScaleOut,
        action: Action::ScaleOut { count: 3 },
        cause: Cause::Capacity,
        reason,
        outcome,
        detail: None,
        duration_ms: Some(4.0),
        evidence: Evidence {
            summary: format!("evidence at {at}"),
            ..Evidence::default()
        },
    };
    // 2026-09-27T16:00:00Z and 18:00:00Z.
    journal.record(&entry(1790524800.0, "web", EntryOutcome::Done, None));
    journal.record(&entry(
        1790532000.0,
        "web",
        EntryOutcome::Refused,
        Some(RefusalReason::Cooldown),
    ));
    journal.record(&entry(1790532000.0, "other", EntryOutcome::Would, None));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sloop"))
        .args([
            "history",
            "--policy",
            "web",
            "--since",
            "2026-09-27T19:00:00+02:00",
            "--journal",
        ])
        .arg(&dir)
        .output()
        .expect("sloop history runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "only web's entry since 17:00Z: {text}");
    assert!(lines[0].starts_with("2026-09-27T18:00:00Z"), "{text}");
    assert!(
        lines[0].contains("refused") && lines[0].contains("cooldown"),
        "{text}"
    );
    assert!(lines[0].contains("evidence at 1790532000"), "{text}");
    let all = std::process::Command::new(env!("CARGO_BIN_EXE_sloop"))
        .args(["history", "--json", "--journal"])
        .arg(&dir)
        .output()
        .expect("sloop history runs");
    assert_eq!(String::from_utf8_lossy(&all.stdout).lines().count(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

// === A real cloud that cannot be reached ===

#[test]
fn an_unreachable_openstack_cloud_is_reported_and_retried_not_fatal() {
    let dir = temp_dir("openstack");
    std::fs::write(dir.join("web.yaml"), minimal()).expect("write");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sloop"))
        .args(["run", "--cloud", "lab", "--listen", "127.0.0.1:0", "--policies"])
        .arg(&dir)
        .arg("--journal")
        .arg(dir.join("journal"))
        .env("OS_CLIENT_CONFIG_FILE", dir.join("no-such-clouds.yaml"))
        .env_remove("OS_AUTH_URL")
        .env_remove("OS_CLOUD")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sloop run starts");
    let log = child.stderr.take().expect("stderr piped");
    let port = match crate::testkit::listen::FollowedLog::until_listening(log, Duration::from_secs(60)) {
        Ok(log) => log.addr.port(),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sloop run: {e}");
        }
    };
    let mut error = None;
    for _ in 0..150 {
        let body = std::net::TcpStream::connect(("127.0.0.1", port))
            .ok()
            .and_then(|mut s| {
                use std::io::{Read, Write};
                write!(
                    s,
                    "GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                .ok()?;
                let mut out = String::new();
                s.read_to_string(&mut out).ok()?;
                Some(out)
            });
        let json = body
            .and_then(|b| b.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()))
            .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok());
        if let Some(e) = json
            .as_ref()
            .and_then(|j| j["policies"]["minimal-web"]["last_error"].as_str())
        {
            error = Some(e.to_owned());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let alive = child.try_wait().expect("wait").is_none();
    let _ = child.kill();
    let _ = child.wait();
    let error = error.expect("the connection error is on the status page");
    assert!(
        error.contains("cannot connect") && error.contains("lab"),
        "{error}"
    );
    assert!(alive, "an unreachable cloud does not stop the controller");
    let _ = std::fs::remove_dir_all(&dir);
}
