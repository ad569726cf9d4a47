//! The published state of the controller: what the HTTP server shows. The reconcile tasks and
//! the supervisor replace parts of it after each pass; readers clone an `Arc` and never block
//! a tick (`tokio::sync::watch` holds its lock only for the swap).

use super::trend::Trend;
use crate::{
    decision::{Decision, SloState},
    policy::{Indicator, Mode, Policy},
    snapshot::{InFlight, Instance, LocationStatus, Time},
};
use serde::Serialize;
use std::{collections::BTreeMap, sync::Arc};
use tokio::sync::watch;

/// Everything the status page and `/api/v1/status` show.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// sloop's version.
    pub version: &'static str,
    /// What the controller drives (`sim: election-night ×60`, a cloud name).
    pub cloud: String,
    /// `--dry-run`: nothing is executed for any policy.
    pub dry_run: bool,
    /// Whether this replica may act.
    pub leader: bool,
    /// Wall-clock start of the process.
    pub started_at: Time,
    /// The simulated scenario, under `--cloud sim`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim: Option<SimInfo>,
    /// Policy sources that have delivered their initial documents.
    pub sources_synced: bool,
    /// Managed policies by name.
    pub policies: BTreeMap<String, Arc<PolicyView>>,
    /// Documents rejected at their last change, by source key; the last good version (if any)
    /// stays in force.
    pub rejected: BTreeMap<String, Rejection>,
    /// Policies that are no longer managed, by name; their VMs are left alone.
    pub unmanaged: BTreeMap<String, Unmanaged>,
    /// Graceful shutdown in progress: no new actions start.
    pub shutting_down: bool,
}

impl Status {
    /// Ready: the policy sources delivered, and every managed policy took a first snapshot.
    pub fn ready(&self) -> bool {
        self.sources_synced && self.policies.values().all(|p| p.ticks > 0)
    }
}

/// The scenario being played.
#[derive(Debug, Clone, Serialize)]
pub struct SimInfo {
    /// Scenario name.
    pub scenario: String,
    /// Simulated seconds per real second.
    pub speed: f64,
    /// Scenario start and end (Unix seconds).
    pub start: Time,
    /// Scenario end.
    pub end: Time,
}

/// A rejected policy document.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    /// Where it came from.
    pub source: String,
    /// Every problem found.
    pub errors: Vec<String>,
    /// The policy still in force from this source (its last good version), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
}

/// A policy that stopped being managed.
#[derive(Debug, Clone, Serialize)]
pub struct Unmanaged {
    /// Why (`policy removed`, `renamed to …`).
    pub reason: String,
    /// The time of its last pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_tick: Option<Time>,
    /// Its servers as last seen, left running and untouched.
    pub instances: Vec<Instance>,
}

/// One objective as the page draws it.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectiveInfo {
    /// Name.
    pub name: String,
    /// `latency` or `availability`.
    pub kind: &'static str,
    /// Latency: the threshold (s); availability: the allowed error ratio (1 − target).
    pub threshold: f64,
    /// A phrase: `p95 ≤ 800 ms over 5m`, `99.9% over 30d`.
    pub text: String,
    /// Locations that must agree before the objective counts as violated.
    pub quorum: u32,
}

impl ObjectiveInfo {
    /// The objectives of `policy`.
    pub fn of(policy: &Policy) -> Vec<ObjectiveInfo> {
        policy
            .spec
            .objectives
            .iter()
            .filter_map(|o| {
                let (kind, threshold, text, quorum) = match o.indicator()? {
                    Indicator::Latency(l) => (
                        "latency",
                        l.threshold.secs(),
                        format!(
                            "p{} ≤ {:.0} ms over {}",
                            l.percentile,
                            l.threshold.secs() * 1000.0,
                            l.window
                        ),
                        l.quorum,
                    ),
                    Indicator::Availability(a) => (
                        "availability",
                        1.0 - a.target.fraction(),
                        format!("{} good over {}", a.target, a.period),
                        a.quorum,
                    ),
                };
                Some(ObjectiveInfo {
                    name: o.name.clone(),
                    kind,
                    threshold,
                    text,
                    quorum,
                })
            })
            .collect()
    }
}

/// One managed policy.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyView {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.description`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where it was loaded from.
    pub source: String,
    /// Enforce or dry-run (after `--dry-run`).
    pub mode: Mode,
    /// The reconcile interval (s).
    pub interval: f64,
    /// Group size bounds.
    pub size: (u32, u32),
    /// Its objectives.
    pub objectives: Vec<ObjectiveInfo>,
    /// Passes made.
    pub ticks: u64,
    /// Time of the last pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_tick: Option<Time>,
    /// Why the last pass failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The scenario ended (simulator): no more passes.
    pub finished: bool,
    /// The last decision: verdicts, diagnoses, actions, refusals, alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Servers of the group.
    pub instances: Vec<Instance>,
    /// Actions the cloud is still carrying out.
    pub in_flight: Vec<InFlight>,
    /// Probe locations and their freshness.
    pub locations: Vec<LocationStatus>,
    /// Actions taken in the last hour (the hourly budget).
    pub actions_last_hour: u32,
    /// Actions an earlier incarnation left in flight (killed mid-action), by how this one
    /// resolved them against the cloud: `done`, `abandoned`, `unknown`; and how many still
    /// wait for the cloud's answer (`pending`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub interrupted: std::collections::BTreeMap<&'static str, u32>,
    /// Offset from UTC (s) to show clock times in: the zone of the policy's schedule.
    pub tz_offset: f64,
    /// The group has a load-balancer pool: a server takes traffic only as a member.
    pub pooled: bool,
    /// Recent history for the charts (not in the JSON).
    #[serde(skip)]
    pub trend: Arc<Trend>,
}

impl PolicyView {
    /// A view before the first pass.
    pub fn new(policy: &Policy, source: &str, interval: f64) -> Self {
        Self {
            name: policy.metadata.name.clone(),
            description: policy.metadata.description.clone(),
            source: source.to_owned(),
            mode: policy.spec.mode,
            interval,
            size: (policy.spec.group.size.min, policy.spec.group.size.max),
            objectives: ObjectiveInfo::of(policy),
            ticks: 0,
            last_tick: None,
            last_error: None,
            finished: false,
            decision: None,
            instances: Vec::new(),
            in_flight: Vec::new(),
            locations: Vec::new(),
            actions_last_hour: 0,
            interrupted: std::collections::BTreeMap::new(),
            tz_offset: crate::sim::report_html::display_offset(policy),
            pooled: policy.spec.traffic.is_some(),
            trend: Arc::new(Trend::default()),
        }
    }

    /// Servers taking traffic now, by the judge's rule (`judge::diagnose::takes_traffic`): what
    /// the page's tile and its server table both count.
    pub fn in_rotation(&self) -> usize {
        self.instances
            .iter()
            .filter(|i| crate::judge::diagnose::takes_traffic(self.pooled, i))
            .count()
    }

    /// The worst state among the objectives (no data counts as at risk for the headline).
    pub fn overall(&self) -> Option<SloState> {
        let d = self.decision.as_ref()?;
        let rank = |s: SloState| match s {
            SloState::Met => 0,
            SloState::NoData => 1,
            SloState::AtRisk => 2,
            SloState::Violated => 3,
        };
        d.verdicts.iter().map(|v| v.state).max_by_key(|s| rank(*s))
    }
}

/// The writer side, shared by the supervisor and the tasks.
#[derive(Clone)]
pub struct StatusBoard(Arc<watch::Sender<Arc<Status>>>);

impl StatusBoard {
    /// A board holding `initial`.
    pub fn new(initial: Status) -> Self {
        Self(Arc::new(watch::channel(Arc::new(initial)).0))
    }

    /// A reader.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Status>> {
        self.0.subscribe()
    }

    /// The current state.
    pub fn get(&self) -> Arc<Status> {
        self.0.borrow().clone()
    }

    /// Changes the state (copy-on-write of the top level; policy views are shared `Arc`s).
    pub fn update(&self, f: impl FnOnce(&mut Status)) {
        self.0.send_modify(|s| f(Arc::make_mut(s)));
    }
}
