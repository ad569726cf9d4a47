//! How fast `sloop run --cloud` turns a signal into a serving server on the OpenStack lab, now
//! that the reconcile loop never waits for the cloud (issue 16, part 5): creates, deletes and
//! drains are issued, their progress read from later observations, and a new server joins the
//! pool on the pass on which its probes first pass.
//!
//! The controller is the real binary with the policy `lab-surge.yaml`; two remote probe
//! agents (`fra`, `nyc`) are played by the test over the real ingest endpoint
//! (fake_agents.rs), since nothing in the lab answers on a server's address. Two cases, each
//! timed from the signal:
//! - **grow**: the group's floor (`size.min`) is raised in the policy file, which the running
//!   controller reloads; the scale-out on real load signals is the capacity path's (issue 16
//!   part 1) and ends in the same action, so what is timed here is the loop from its decision
//!   on;
//! - **replace** (ladder `[drain, replace]`): one server starts failing its probes from both
//!   locations; it is drained, a replacement is created and admitted, and the failing server is
//!   deleted once the drain grace (`drainGrace: 5s`) has passed.
//!
//! Each prints signal → decision (the journal's decision time) → ACTIVE (Nova, polled every
//! 200 ms) → in the pool (an Octavia member with weight > 0), against the goals:
//! ACTIVE ≤ 14 s and in the pool ≤ 20 s after the signal.
//!
//! Run: `tests/lab/up.sh && cargo test --features e2e --test e2e e2e_pool_timing:: -- --nocapture`.

use crate::{agents, controller, lab};
use controller::{Controller, Staged};
use serde_json::Value;
use sloop::{
    clock::Stopwatch,
    cloud::openstack::session::Api,
    decision::ActionKind,
    journal,
    policy::{self, Policy},
};
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    time::Duration,
};

const POLICY: &str = "lab-surge.yaml";
const ADMIN: &str = "oslab-admin-appcred";
/// The goals, seconds after the signal.
const ACTIVE_GOAL: f64 = 14.0;
const POOL_GOAL: f64 = 20.0;
/// How long any one step may take before the test gives up (a loaded machine slows the lab's
/// APIs down by an order of magnitude; the figures say how long it really took).
const STEP_LIMIT: Duration = Duration::from_secs(240);

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

fn now() -> f64 {
    lab::clock().now()
}

/// One timed case.
struct Timing {
    case: String,
    decision: f64,
    active: f64,
    pool: f64,
}

impl Timing {
    fn line(&self) -> String {
        format!(
            "{:<22} decision +{:>5.1}s   ACTIVE +{:>5.1}s   in pool +{:>5.1}s",
            self.case, self.decision, self.active, self.pool
        )
    }
}

/// The running controller with its agents, policy file and lab connection.
struct Run {
    ctl: Controller,
    agents: agents::Agents,
    admin: Api,
    policy: Policy,
    policy_file: PathBuf,
    pool: String,
}

impl Run {
    /// The group's servers and the pool's members, as the lab reports them now.
    async fn state(&mut self) -> (Vec<Value>, Vec<Value>) {
        let servers = lab::group_servers(&mut self.admin, &self.policy).await;
        let members = lab::members(&mut self.admin, &self.pool).await;
        (servers, members)
    }

    /// Server IDs in the pool with weight > 0 (members are named after their server).
    fn pooled(members: &[Value]) -> BTreeSet<String> {
        members
            .iter()
            .filter(|m| m["weight"].as_u64().unwrap_or(0) > 0)
            .map(|m| s(m, "name").to_owned())
            .collect()
    }

    /// Waits until `n` servers are ACTIVE and in the pool (setup and between cases).
    async fn serving(&mut self, n: usize) {
        let sw = Stopwatch::start();
        loop {
            let (servers, members) = self.state().await;
            let pooled = Self::pooled(&members);
            let ready = servers
                .iter()
                .filter(|v| s(v, "status") == "ACTIVE" && pooled.contains(s(v, "id")))
                .count();
            if ready == n && servers.len() == n {
                return;
            }
            assert!(
                sw.elapsed() < STEP_LIMIT,
                "not {n} servers serving after {STEP_LIMIT:?}: {} servers, pooled {pooled:?} (log: {})",
                servers.len(),
                self.ctl.dir.join("sloop.log").display()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Times a new server from `signal`: the first journalled action of `kind` decided at or
    /// after it, the first server not in `before` going ACTIVE, then its member getting
    /// weight > 0.
    async fn time_new_server(
        &mut self,
        case: &str,
        signal: f64,
        kind: ActionKind,
        before: &BTreeSet<String>,
    ) -> Timing {
        let (mut decision, mut active, mut fresh) = (None, None, None::<String>);
        let sw = Stopwatch::start();
        loop {
            if decision.is_none() {
                decision = decided(&self.ctl.journal(), kind, signal);
            }
            let (servers, members) = self.state().await;
            let t = now();
            if fresh.is_none() {
                fresh = servers
                    .iter()
                    .map(|v| s(v, "id").to_owned())
                    .find(|id| !before.contains(id));
            }
            if let Some(id) = &fresh {
                let server = servers.iter().find(|v| s(v, "id") == id);
                if active.is_none() && server.is_some_and(|v| s(v, "status") == "ACTIVE") {
                    active = Some(t);
                }
                if let (Some(d), Some(a)) = (decision, active)
                    && Self::pooled(&members).contains(id)
                {
                    return Timing {
                        case: case.to_owned(),
                        decision: d - signal,
                        active: a - signal,
                        pool: t - signal,
                    };
                }
                assert!(
                    server.is_none_or(|v| s(v, "status") != "ERROR"),
                    "{case}: the new server went to ERROR"
                );
            }
            assert!(
                sw.elapsed() < STEP_LIMIT,
                "{case}: no new server in the pool after {STEP_LIMIT:?} (decision {decision:?}, server {fresh:?}, ACTIVE {active:?}; log: {})",
                self.ctl.dir.join("sloop.log").display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Raises the group's floor to `min` in the policy file the controller watches.
    fn set_min(&self, min: u32) {
        let text = std::fs::read_to_string(&self.policy_file).expect("policy file");
        let from = format!("      min: {}\n", self.current_min(&text));
        assert!(text.contains(&from), "policy file has {from:?}");
        let text = text.replacen(&from, &format!("      min: {min}\n"), 1);
        // Written whole to a temporary name and renamed, so the watcher never reads half a file.
        let tmp = self.policy_file.with_extension("yaml.tmp");
        std::fs::write(&tmp, text).expect("write policy");
        std::fs::rename(&tmp, &self.policy_file).expect("replace policy");
    }

    fn current_min(&self, text: &str) -> u32 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix("min: ")?.parse().ok())
            .expect("size.min in the policy")
    }
}

/// The decision time of the first journalled action of `kind` decided at or after `since`.
fn decided(dir: &Path, kind: ActionKind, since: f64) -> Option<f64> {
    let (entries, _) = journal::read_dir(dir).ok()?;
    entries
        .iter()
        .filter(|e| e.kind == kind && e.at >= since.floor())
        .map(|e| e.at)
        .next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_becomes_a_serving_server_within_the_goals() {
    let _lab = lab::LAB.read().await;
    let total = Stopwatch::start();
    let (staged, tokens) = Staged::new("sloop-surge", POLICY, agents::write_tokens);
    let policy = policy::load_file(&staged.policy_file)
        .expect("surge policy is valid")
        .policy;

    let mut admin = lab::api(ADMIN).await;
    let (_lb, pool) = lab::ensure_pool(&mut admin, &policy).await;
    lab::clean(&mut admin, &policy, Some(&pool)).await;
    let mut run = Run {
        ctl: staged.controller(),
        agents: agents::Agents::start(format!("http://{}", staged.listen), tokens),
        admin,
        policy,
        policy_file: staged.policy_file.clone(),
        pool,
    };
    run.ctl.start();
    run.serving(1).await;
    println!(
        "  setup: 1 server serving after {:.1}s",
        total.elapsed().as_secs_f64()
    );

    let mut timings = Vec::new();
    for min in [2, 3] {
        let (servers, _) = run.state().await;
        let before: BTreeSet<String> = servers.iter().map(|v| s(v, "id").to_owned()).collect();
        let signal = now();
        run.set_min(min);
        let t = run
            .time_new_server(&format!("grow to {min}"), signal, ActionKind::ScaleOut, &before)
            .await;
        println!("  {}", t.line());
        timings.push(t);
        run.serving(min as usize).await;
    }

    // [drain, replace]: the oldest server fails from both locations.
    let (servers, _) = run.state().await;
    let before: BTreeSet<String> = servers.iter().map(|v| s(v, "id").to_owned()).collect();
    let victim = servers
        .iter()
        .min_by(|a, b| s(a, "created").cmp(s(b, "created")))
        .map(|v| s(v, "id").to_owned())
        .expect("a server");
    let signal = now();
    run.agents.fail(std::slice::from_ref(&victim));
    let t = run
        .time_new_server("replace (drain, replace)", signal, ActionKind::Replace, &before)
        .await;
    println!("  {}", t.line());
    let drained = decided(&run.ctl.journal(), ActionKind::Drain, signal).map(|d| d - signal);
    println!(
        "  replace: drained +{}",
        drained.map_or("never".to_owned(), |d| format!("{d:.1}s"))
    );
    timings.push(t);
    // The failing server leaves once its drain grace has passed: never waited for by a pass.
    let sw = Stopwatch::start();
    loop {
        let (servers, members) = run.state().await;
        let gone = !servers.iter().any(|v| s(v, "id") == victim);
        let unpooled = !members.iter().any(|m| s(m, "name") == victim);
        if gone && unpooled {
            println!("  replace: failing server deleted +{:.1}s", now() - signal);
            break;
        }
        assert!(
            sw.elapsed() < STEP_LIMIT,
            "the replaced server {victim} is still there (log: {})",
            run.ctl.dir.join("sloop.log").display()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    run.agents.heal(&victim);
    run.ctl.kill9();

    println!("  goals: ACTIVE <= {ACTIVE_GOAL}s, in pool <= {POOL_GOAL}s after the signal");
    let missed: Vec<String> = timings
        .iter()
        .filter(|t| t.active > ACTIVE_GOAL || t.pool > POOL_GOAL)
        .map(Timing::line)
        .collect();
    lab::clean(&mut run.admin, &run.policy, Some(&run.pool)).await;
    println!("surge e2e took {:.1}s", total.elapsed().as_secs_f64());
    assert!(
        drained.is_some_and(|d| d <= POOL_GOAL),
        "the failing server was drained at {drained:?}"
    );
    assert!(missed.is_empty(), "goals missed: {missed:#?}");
    let _ = std::fs::remove_dir_all(&staged.dir);
}
