//! The rehearsal report: what users experienced (from the world's ground truth, never from the
//! controller's own view), what sloop did and refused, how fast it found and fixed each fault,
//! and what it cost. Also checks a scenario's expected ranges. Pure.
//!
//! The JSON form is a stable document (`format: 1`); fields are only ever added.

use super::{
    faults::InjectedFault,
    scenario::{Expect, Scenario},
    truth::{MinuteTruth, Truth},
};
use crate::{
    decision::{ActionKind, Decision, Diagnosis, RefusalReason},
    policy::{Indicator, Policy, Severity},
    snapshot::{IpFamily, Snapshot, Time},
};
use serde::Serialize;
use std::collections::BTreeMap;

mod build;
mod expect;

pub use build::{build, fault_touched, minute_complies};
pub use expect::check_expectations;

/// One tick as the report needs it: the decision plus which instances were in rotation.
#[derive(Debug, Clone)]
pub struct TickRecord {
    /// The decision.
    pub decision: Decision,
    /// Instances taking traffic at the time of the snapshot.
    pub in_rotation: Vec<String>,
    /// Locations that were stale.
    pub stale_locations: Vec<String>,
    /// Action outcomes that failed (action kind, error).
    pub failed: Vec<(ActionKind, String)>,
    /// IDs of the actions whose outcome failed.
    pub failed_ids: Vec<String>,
    /// Servers created by this tick's actions.
    pub created: u32,
}

impl TickRecord {
    /// Extracts what the report needs from a tick.
    pub fn new(
        snapshot: &Snapshot,
        decision: Decision,
        outcomes: &[crate::act::executor::Outcome],
        policy: &Policy,
    ) -> Self {
        let in_rotation = snapshot
            .inventory
            .iter()
            .filter(|i| crate::judge::diagnose::in_rotation(policy, i))
            .map(|i| i.id.clone())
            .collect();
        let stale_locations = snapshot
            .locations
            .iter()
            .filter(|l| !l.fresh)
            .map(|l| l.name.clone())
            .collect();
        let failed = outcomes
            .iter()
            .filter_map(|o| {
                let kind = decision.actions.iter().find(|a| a.id == o.id)?.action.kind();
                o.result.clone().err().map(|e| (kind, e))
            })
            .collect();
        let failed_ids = outcomes
            .iter()
            .filter(|o| o.result.is_err())
            .map(|o| o.id.clone())
            .collect();
        let created = outcomes.iter().map(|o| o.created.len() as u32).sum();
        Self {
            decision,
            in_rotation,
            stale_locations,
            failed,
            failed_ids,
            created,
        }
    }
}

/// The report of one rehearsal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// JSON format version.
    pub format: u32,
    /// Scenario name.
    pub scenario: String,
    /// Policy name.
    pub policy: String,
    /// Which decider ran (`sloop`).
    pub decider: String,
    /// Random seed.
    pub seed: u64,
    /// Simulated seconds.
    pub duration_s: f64,
    /// Per objective, from ground truth.
    pub objectives: Vec<ObjectiveReport>,
    /// Minutes in which any objective was violated.
    pub slo_violation_minutes: u32,
    /// Per injected fault.
    pub faults: Vec<FaultReport>,
    /// Actions taken, by kind.
    pub actions: BTreeMap<String, u32>,
    /// Actions taken, by kind and then by cause (why sloop took them).
    pub action_causes: BTreeMap<String, BTreeMap<String, u32>>,
    /// Healing actions taken (drain, reboots, rebuild, replace, migrate).
    pub healing_actions: u32,
    /// Healing actions on instances no fault had touched.
    pub false_healing_actions: u32,
    /// Actions whose API calls failed, by kind.
    pub failed_actions: BTreeMap<String, u32>,
    /// Refusals by reason (counted once per tick and action kind).
    pub refusals: BTreeMap<String, u32>,
    /// Alert episodes (an alert that stays up counts once).
    pub alerts: Vec<AlertReport>,
    /// Ticks on which each diagnosis was made.
    pub diagnoses: BTreeMap<String, u32>,
    /// Servers created plus servers deleted.
    pub vm_churn: u32,
    /// Server-hours used.
    pub vm_hours: f64,
    /// Most servers at once.
    pub peak_instances: u32,
    /// Decision ticks.
    pub ticks: u32,
    /// Expected ranges from the scenario and whether they held.
    pub expectations: Vec<ExpectationResult>,
    /// Scaling actions a load forecast shaped, with its evidence.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forecasts: Vec<ForecastAction>,
}

/// A scaling action whose size the load forecast shaped (a forecast above the present load).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastAction {
    /// Seconds after the start.
    pub at_s: f64,
    /// The action (`scale-out`).
    pub kind: String,
    /// Servers added.
    pub count: u32,
    /// Why (`forecast`, or `capacity` when the present load was short too).
    pub cause: String,
    /// The forecast with its evidence.
    pub forecast: crate::judge::forecast::Forecast,
    /// The forecast in one sentence.
    pub summary: String,
}

/// One objective over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectiveReport {
    /// Name.
    pub name: String,
    /// `latency` or `availability`.
    pub kind: String,
    /// Share of minutes it held.
    pub compliance: f64,
    /// Minutes it was violated.
    pub violation_minutes: u32,
    /// Share of the period's error budget spent during the run (availability only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_spent: Option<f64>,
}

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultReport {
    /// Kind.
    pub kind: String,
    /// Seconds after the scenario start.
    pub at_s: f64,
    /// What it hit.
    pub target: String,
    /// Seconds from its start to the first diagnosis that names it.
    pub detected_after_s: Option<f64>,
    /// Seconds from its start until it stopped hurting users (taken out of rotation, repaired,
    /// moved), `None` if never.
    pub mitigated_after_s: Option<f64>,
    /// How it was mitigated.
    pub mitigation: Option<String>,
}

/// One alert episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertReport {
    /// Alert name.
    pub name: String,
    /// Page or ticket.
    pub severity: Severity,
    /// Seconds after the start when it was first raised.
    pub at_s: f64,
    /// How long it stayed up, seconds.
    pub lasted_s: f64,
    /// Its first summary.
    pub summary: String,
}

/// An expected range and what happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectationResult {
    /// Metric name, as in the scenario's `expect`.
    pub name: String,
    /// What was expected, as text (`[1, 60]`, `≤ 5m`, `never`).
    pub expected: String,
    /// What happened, as text (`15`, `13s`, `0 ticks`).
    pub actual: String,
    /// Whether it held.
    pub ok: bool,
    /// The expected range's lower end, as a number (`seen`: 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The expected range's upper end, as a number (seconds for `…Within`; `never`: 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// What happened, as a number (seconds for `…Within`, ticks for diagnoses and refusals);
    /// `null` when it never happened (a fault never detected).
    pub value: Option<f64>,
}
