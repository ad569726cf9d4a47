//! The controller's Prometheus metrics, owned (no global registry): built once in `sloop run`,
//! written by the reconcile tasks and the supervisor, encoded by `/metrics`.
//!
//! Labels stay bounded: policy, objective, location and family come from the policies; kind,
//! cause, reason, outcome, state and error class are enums. Never an instance ID.

use crate::{
    decision::{Decision, SloState},
    snapshot::{IpFamily, Snapshot},
};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use std::{
    collections::HashSet,
    hash::Hash,
    sync::{Mutex, atomic::AtomicU64},
};

mod labels;
mod process;

pub use labels::*;
pub use process::{ProcessFigures, read as read_process};

type FGauge = Gauge<f64, AtomicU64>;

/// Every metric `sloop run` exports.
pub struct Metrics {
    registry: Registry,
    reconcile_duration: Family<PolicyLabel, Histogram>,
    passes: Family<PassLabels, Counter>,
    actions: Family<ActionLabels, Counter>,
    refusals: Family<RefusalLabels, Counter>,
    interrupted: Family<InterruptedLabels, Counter>,
    objective_state: Family<StateLabels, FGauge>,
    sli: Family<SeriesLabels, FGauge>,
    sli_latency: Family<SeriesLabels, FGauge>,
    sli_error_ratio: Family<SeriesLabels, FGauge>,
    samples: Family<SeriesLabels, FGauge>,
    burn_rate: Family<BurnLabels, FGauge>,
    budget: Family<ObjectiveLabels, FGauge>,
    instances: Family<StatusLabels, FGauge>,
    diagnoses: Family<PairLabels, FGauge>,
    location_fresh: Family<LocationLabels, FGauge>,
    api_errors: Family<ErrorLabels, Counter>,
    leader: FGauge,
    reload_errors: Family<PolicyLabel, Counter>,
    policies: Family<PolicyStateLabel, FGauge>,
    /// The HTTP server's connections (open, shed), handed to [`super::conn::serve`].
    pub conn: super::conn::ConnMetrics,
    /// 1 while the action journal can be written (set at each scrape).
    pub journal_writable: prometheus_client::metrics::gauge::Gauge,
    /// Gauge label sets written per policy, so a removed policy's series can be dropped.
    written: Mutex<HashSet<Written>>,
}

#[derive(Hash, PartialEq, Eq)]
enum Written {
    State(StateLabels),
    Sli(SeriesLabels),
    Burn(BurnLabels),
    Budget(ObjectiveLabels),
    Instances(StatusLabels),
    Diagnosis(PairLabels),
    Fresh(LocationLabels),
}

impl Written {
    fn policy(&self) -> &str {
        match self {
            Written::State(l) => &l.policy,
            Written::Sli(l) => &l.policy,
            Written::Burn(l) => &l.policy,
            Written::Budget(l) => &l.policy,
            Written::Instances(l) => &l.policy,
            Written::Diagnosis(l) => &l.policy,
            Written::Fresh(l) => &l.policy,
        }
    }
}

const STATES: [SloState; 4] = [
    SloState::Met,
    SloState::AtRisk,
    SloState::Violated,
    SloState::NoData,
];
const DIAGNOSES: [&str; 6] = [
    "instance-fault",
    "host-fault",
    "capacity",
    "network-path",
    "flood",
    "over-provisioned",
];

/// Kebab-case name of an SLO state.
pub fn state_label(s: SloState) -> &'static str {
    match s {
        SloState::Met => "met",
        SloState::AtRisk => "at-risk",
        SloState::Violated => "violated",
        SloState::NoData => "no-data",
    }
}

fn family_label(f: IpFamily) -> &'static str {
    match f {
        IpFamily::V6 => "v6",
        IpFamily::V4 => "v4",
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Self {
        Self::build(|_| ())
    }

    /// Registers every metric, and whatever `extra` registers (the probe metrics of remote
    /// agents), in one registry so that `/metrics` shows them together.
    pub fn build(extra: impl FnOnce(&mut Registry)) -> Self {
        let mut r = Registry::default();
        extra(&mut r);
        let reconcile_duration = Family::<PolicyLabel, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.0005, 2.0, 16))) as fn() -> Histogram,
        );
        r.register(
            "sloop_reconcile_duration_seconds",
            "Time one reconcile pass took (observe, decide, act)",
            reconcile_duration.clone(),
        );
        let m = Self {
            reconcile_duration,
            passes: Family::default(),
            actions: Family::default(),
            refusals: Family::default(),
            interrupted: Family::default(),
            objective_state: Family::default(),
            sli: Family::default(),
            sli_latency: Family::default(),
            sli_error_ratio: Family::default(),
            samples: Family::default(),
            burn_rate: Family::default(),
            budget: Family::default(),
            instances: Family::default(),
            diagnoses: Family::default(),
            location_fresh: Family::default(),
            api_errors: Family::default(),
            leader: FGauge::default(),
            reload_errors: Family::default(),
            policies: Family::default(),
            conn: super::conn::ConnMetrics::default(),
            journal_writable: Default::default(),
            written: Mutex::new(HashSet::new()),
            registry: Registry::default(),
        };
        r.register(
            "sloop_reconcile_passes",
            "Reconcile passes by result",
            m.passes.clone(),
        );
        r.register(
            "sloop_actions",
            "Actions decided, by kind, cause and outcome (done, failed, would, skipped)",
            m.actions.clone(),
        );
        r.register(
            "sloop_refusals",
            "Refusals by kind and reason (counted when a refusal starts, not every pass it persists)",
            m.refusals.clone(),
        );
        r.register(
            "sloop_interrupted_actions",
            "Actions a killed controller left in flight, by how the restarted one resolved them against the cloud (done, abandoned, unknown)",
            m.interrupted.clone(),
        );
        r.register(
            "sloop_objective_state",
            "1 for the current state of each objective, 0 for the others",
            m.objective_state.clone(),
        );
        r.register(
            "sloop_sli_latency_seconds",
            "The judged latency percentile per probe location and family (latency objectives; absent while a series has no finite estimate)",
            m.sli_latency.clone(),
        );
        r.register(
            "sloop_sli_error_ratio",
            "The judged error ratio per probe location and family (availability objectives)",
            m.sli_error_ratio.clone(),
        );
        r.register(
            "sloop_sli_estimate",
            "Deprecated, mixes units: use sloop_sli_latency_seconds or sloop_sli_error_ratio. The judged estimate, finite values only",
            m.sli.clone(),
        );
        r.register(
            "sloop_sli_samples",
            "Probe samples behind each estimate",
            m.samples.clone(),
        );
        r.register(
            "sloop_burn_rate",
            "Error-budget burn rate per alert window (availability objectives)",
            m.burn_rate.clone(),
        );
        r.register(
            "sloop_error_budget_remaining_ratio",
            "Share of the SLO period's error budget left (availability objectives)",
            m.budget.clone(),
        );
        r.register(
            "sloop_instances",
            "Servers of the group by status",
            m.instances.clone(),
        );
        r.register(
            "sloop_diagnosis",
            "1 while the judge diagnoses this kind of problem",
            m.diagnoses.clone(),
        );
        r.register(
            "sloop_probe_location_fresh",
            "1 while a probe location (local or a remote agent) delivers fresh data",
            m.location_fresh.clone(),
        );
        r.register(
            "sloop_api_errors",
            "Failed cloud API calls by operation and error class",
            m.api_errors.clone(),
        );
        r.register("sloop_leader", "1 while this replica may act", m.leader.clone());
        r.register(
            "sloop_policy_reload_errors",
            "Policy documents rejected on load or reload, by policy (its name, or the source key when the document has none that can be read)",
            m.reload_errors.clone(),
        );
        let build: Family<BuildLabels, FGauge> = Family::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").into(),
                log_format: crate::replay::FORMAT.to_string(),
            })
            .set(1.0);
        r.register("sloop_build_info", "sloop's version; always 1", build);
        r.register_collector(Box::new(process::ProcessCollector));
        r.register("sloop_policies", "Policies by state", m.policies.clone());
        r.register(
            "sloop_http_connections",
            "HTTP connections open now (bounded below the open-files limit)",
            m.conn.open.clone(),
        );
        r.register(
            "sloop_http_connections_shed",
            "HTTP connections closed for being idle or slow, or to make room at the connection limit",
            m.conn.shed.clone(),
        );
        r.register(
            "sloop_journal_writable",
            "1 while the action journal can be written; at 0 no action is executed (its intent cannot be made durable)",
            m.journal_writable.clone(),
        );
        Self { registry: r, ..m }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut s = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = encode(&mut s, &self.registry);
        s
    }

    /// The classic Prometheus text format (0.0.4) for scrapers that do not ask for
    /// OpenMetrics: counters are announced under their sample name (`…_total`), and the
    /// OpenMetrics-only `# EOF` and `# UNIT` lines are dropped.
    pub fn encode_prometheus(&self) -> String {
        to_prometheus_text(&self.encode())
    }

    /// Records one reconcile pass: its duration and everything it judged. `latency_objectives`
    /// names the objectives whose estimate is a latency in seconds (the others are error
    /// ratios).
    pub fn pass(
        &self,
        policy: &str,
        seconds: f64,
        snap: &Snapshot,
        decision: &Decision,
        latency_objectives: &[&str],
    ) {
        let p = || policy.to_owned();
        self.reconcile_duration
            .get_or_create(&PolicyLabel { policy: p() })
            .observe(seconds);
        self.passes
            .get_or_create(&PassLabels {
                policy: p(),
                result: "ok".into(),
            })
            .inc();
        let mut new = Vec::new();
        for v in &decision.verdicts {
            for s in STATES {
                let l = StateLabels {
                    policy: p(),
                    objective: v.objective.clone(),
                    state: state_label(s).into(),
                };
                new.push(Written::State(set(
                    &self.objective_state,
                    l,
                    f64::from(u8::from(v.state == s)),
                )));
            }
            for s in &v.per_series {
                let l = SeriesLabels {
                    policy: p(),
                    objective: v.objective.clone(),
                    location: s.location.clone(),
                    family: family_label(s.family).into(),
                };
                self.samples.get_or_create(&l).set(s.samples as f64);
                // A series without samples has no estimate (the judge's placeholder is
                // infinite or NaN): the series is absent rather than `+Inf`.
                let split = if latency_objectives.contains(&v.objective.as_str()) {
                    &self.sli_latency
                } else {
                    &self.sli_error_ratio
                };
                if s.samples > 0 && s.estimate.is_finite() {
                    set(split, l.clone(), s.estimate);
                    set(&self.sli, l.clone(), s.estimate);
                } else {
                    split.remove(&l);
                    self.sli.remove(&l);
                }
                new.push(Written::Sli(l));
            }
            for b in &v.burn_rates {
                for (window, rate) in [(b.long_window, b.long), (b.short_window, b.short)] {
                    let l = BurnLabels {
                        policy: p(),
                        objective: v.objective.clone(),
                        window: format!("{window:.0}s"),
                    };
                    new.push(Written::Burn(set(&self.burn_rate, l, rate)));
                }
            }
            if let Some(left) = v.budget_remaining {
                let l = ObjectiveLabels {
                    policy: p(),
                    objective: v.objective.clone(),
                };
                new.push(Written::Budget(set(&self.budget, l, left)));
            }
        }
        for kind in DIAGNOSES {
            let on = decision.diagnoses.iter().any(|d| d.label() == kind);
            let l = PairLabels {
                policy: p(),
                kind: kind.into(),
            };
            new.push(Written::Diagnosis(set(
                &self.diagnoses,
                l,
                f64::from(u8::from(on)),
            )));
        }
        let mut by_status: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
        for i in &snap.inventory {
            let s = serde_json::to_value(i.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            *by_status.entry(s).or_default() += 1.0;
        }
        for status in [
            "building",
            "active",
            "rebooting",
            "rebuilding",
            "migrating",
            "shutoff",
            "error",
            "deleting",
        ] {
            let l = StatusLabels {
                policy: p(),
                status: status.into(),
            };
            let v = by_status.get(status).copied().unwrap_or(0.0);
            new.push(Written::Instances(set(&self.instances, l, v)));
        }
        for loc in &snap.locations {
            let l = LocationLabels {
                policy: p(),
                location: loc.name.clone(),
            };
            new.push(Written::Fresh(set(
                &self.location_fresh,
                l,
                f64::from(u8::from(loc.fresh)),
            )));
        }
        self.written.lock().unwrap_or_else(|p| p.into_inner()).extend(new);
    }

    /// A pass that failed to observe.
    pub fn pass_failed(&self, policy: &str, class: &str) {
        self.passes
            .get_or_create(&PassLabels {
                policy: policy.into(),
                result: "error".into(),
            })
            .inc();
        self.api_error(policy, "observe", class);
    }

    /// A failed cloud call.
    pub fn api_error(&self, policy: &str, op: &str, class: &str) {
        self.api_errors
            .get_or_create(&ErrorLabels {
                policy: policy.into(),
                op: op.into(),
                class: class.into(),
            })
            .inc();
    }

    /// An action decided (and done, failed, would-be or skipped).
    pub fn action(&self, policy: &str, kind: &str, cause: &str, outcome: &str) {
        self.actions
            .get_or_create(&ActionLabels {
                policy: policy.into(),
                kind: kind.into(),
                cause: cause.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// An interrupted action resolved after a restart.
    pub fn interrupted(&self, policy: &str, kind: &str, resolution: &str) {
        self.interrupted
            .get_or_create(&InterruptedLabels {
                policy: policy.into(),
                kind: kind.into(),
                resolution: resolution.into(),
            })
            .inc();
    }

    /// A refusal that started this pass.
    pub fn refusal(&self, policy: &str, kind: &str, reason: &str) {
        self.refusals
            .get_or_create(&RefusalLabels {
                policy: policy.into(),
                kind: kind.into(),
                reason: reason.into(),
            })
            .inc();
    }

    /// Leadership changed.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(f64::from(u8::from(leader)));
    }

    /// A policy document was rejected: `policy` is its name, or its source key when no name
    /// can be read from it.
    pub fn reload_error(&self, policy: &str) {
        self.reload_errors
            .get_or_create(&PolicyLabel {
                policy: policy.into(),
            })
            .inc();
    }

    /// How many policies are managed, rejected and unmanaged.
    pub fn set_policies(&self, managed: usize, rejected: usize, unmanaged: usize) {
        for (state, n) in [
            ("managed", managed),
            ("rejected", rejected),
            ("unmanaged", unmanaged),
        ] {
            self.policies
                .get_or_create(&PolicyStateLabel { state: state.into() })
                .set(n as f64);
        }
    }

    /// Drops the gauges of a policy that is no longer managed (its counters stay, as counters do).
    pub fn forget(&self, policy: &str) {
        let mut w = self.written.lock().unwrap_or_else(|p| p.into_inner());
        w.retain(|item| {
            if item.policy() != policy {
                return true;
            }
            match item {
                Written::State(l) => self.objective_state.remove(l),
                Written::Sli(l) => {
                    self.sli.remove(l)
                        | self.sli_latency.remove(l)
                        | self.sli_error_ratio.remove(l)
                        | self.samples.remove(l)
                }
                Written::Burn(l) => self.burn_rate.remove(l),
                Written::Budget(l) => self.budget.remove(l),
                Written::Instances(l) => self.instances.remove(l),
                Written::Diagnosis(l) => self.diagnoses.remove(l),
                Written::Fresh(l) => self.location_fresh.remove(l),
            };
            false
        });
    }
}

/// Sets a gauge and hands its labels back for [`Metrics::forget`].
fn set<L: Clone + Hash + Eq + EncodeLabelSet + Send + Sync + std::fmt::Debug + 'static>(
    family: &Family<L, FGauge>,
    labels: L,
    value: f64,
) -> L {
    family.get_or_create(&labels).set(tidy(value));
    labels
}

/// `value` to 12 significant digits: a sum of floats such as `1000.0000000001102` is shown as
/// the `1000` it means. Far below any figure's own precision; non-finite values pass through.
pub fn tidy(value: f64) -> f64 {
    if !value.is_finite() || value == 0.0 {
        return value;
    }
    format!("{value:.11e}").parse().unwrap_or(value)
}

/// Rewrites OpenMetrics text into the Prometheus text format.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 256);
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (*p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let name = if counters.contains(name) {
                    format!("{name}_total")
                } else {
                    name.to_owned()
                };
                out.push_str(prefix);
                out.push_str(&name);
                if !tail.is_empty() {
                    out.push(' ');
                    out.push_str(tail);
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
