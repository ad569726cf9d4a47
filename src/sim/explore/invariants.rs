//! The invariants `sloop explore` checks on every run, each a pure function of what one
//! rehearsal recorded (ticks, injected faults, ground truth, report) and, for the cost
//! invariants, the oracle's report on the same scenario. Each returns at most one
//! [`Violation`]: the first occurrence, with how often it happened.

use crate::{
    decision::{Action, ActionKind},
    sim::{
        faults::InjectedFault,
        report::{FaultReport, Report, TickRecord, fault_touched},
        truth::Truth,
    },
};
use serde::Serialize;
use std::collections::BTreeMap;

/// The invariants, in the order they are checked and printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invariant {
    /// A healing action on an instance no fault touched.
    FalseHealing,
    /// An action kind retried on the same target before the retry backoff after a failure.
    RetryBackoff,
    /// More attempts (failed ones included, admits excluded) in a rolling hour than
    /// `limits.maxActionsPerHour`.
    AttemptBudget,
    /// A server fault neither mitigated within the bound nor explained by an alert naming why.
    Unmitigated,
    /// More servers (any state, ERROR included) than the policy's cap.
    MaxInstances,
    /// Fewer than `limits.minHealthy` serving while sloop itself held healthy servers out.
    MinHealthy,
    /// More SLO-violation minutes than the oracle's plus the margin.
    ViolationMinutes,
    /// More VM-hours than the factor times the oracle's.
    VmHours,
}

impl Invariant {
    /// Every invariant.
    pub const ALL: [Invariant; 8] = [
        Invariant::FalseHealing,
        Invariant::RetryBackoff,
        Invariant::AttemptBudget,
        Invariant::Unmitigated,
        Invariant::MaxInstances,
        Invariant::MinHealthy,
        Invariant::ViolationMinutes,
        Invariant::VmHours,
    ];

    /// Kebab-case name, as printed and in allow-lists.
    pub fn label(self) -> &'static str {
        match self {
            Invariant::FalseHealing => "false-healing",
            Invariant::RetryBackoff => "retry-backoff",
            Invariant::AttemptBudget => "attempt-budget",
            Invariant::Unmitigated => "unmitigated",
            Invariant::MaxInstances => "max-instances",
            Invariant::MinHealthy => "min-healthy",
            Invariant::ViolationMinutes => "violation-minutes",
            Invariant::VmHours => "vm-hours",
        }
    }

    /// Whether checking it needs the oracle's run.
    pub fn needs_oracle(self) -> bool {
        matches!(self, Invariant::ViolationMinutes | Invariant::VmHours)
    }
}

impl std::str::FromStr for Invariant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Invariant::ALL
            .into_iter()
            .find(|i| i.label() == s)
            .ok_or_else(|| format!("unknown invariant `{s}`"))
    }
}

/// The margins the invariants allow. `sloop explore --help` and docs/explore.md state the
/// defaults; tighten them as the core improves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bounds {
    /// SLO-violation minutes allowed beyond the oracle's.
    pub violation_margin_min: f64,
    /// VM-hours allowed, as a multiple of the oracle's.
    pub vm_hours_factor: f64,
    /// Seconds within which a server fault must be mitigated (or an alert say why not).
    pub mitigate_within_s: f64,
    /// Seconds an action kind must wait before retrying the same target after a failure.
    pub retry_backoff_s: f64,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            violation_margin_min: 5.0,
            vm_hours_factor: 1.5,
            mitigate_within_s: 600.0,
            retry_backoff_s: 30.0,
        }
    }
}

/// One broken invariant in one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// Which.
    pub invariant: Invariant,
    /// Seconds after the scenario start of the first occurrence, when it has one.
    pub at_s: Option<f64>,
    /// What happened, with the figures.
    pub detail: String,
}

/// What one (scenario, policy) produced: sloop's rehearsal and the oracle's report.
pub struct RunView<'a> {
    /// sloop's decision ticks.
    pub ticks: &'a [TickRecord],
    /// The faults that started in sloop's run.
    pub faults: &'a [InjectedFault],
    /// Ground truth of sloop's run.
    pub truth: &'a Truth,
    /// sloop's report.
    pub report: &'a Report,
    /// The oracle's report, when it ran.
    pub oracle: Option<&'a Report>,
    /// Scenario start, Unix seconds.
    pub start: f64,
    /// Instances the world started with (a cap below this is the scenario's, not sloop's).
    pub initial_instances: u32,
    /// The policy's instance cap (size, `maxInstances`, `maxVcpus` together).
    pub cap: u32,
    /// `limits.minHealthy`.
    pub min_healthy: u32,
    /// `limits.maxActionsPerHour`.
    pub max_actions_per_hour: u32,
}

/// Every invariant on one run.
pub fn check(v: &RunView<'_>, b: &Bounds) -> Vec<Violation> {
    let mut out = Vec::new();
    out.extend(false_healing(v));
    out.extend(retry_backoff(v, b.retry_backoff_s));
    out.extend(attempt_budget(v));
    out.extend(unmitigated(v.report, b.mitigate_within_s));
    out.extend(max_instances(v));
    out.extend(min_healthy(v));
    if let Some(oracle) = v.oracle {
        out.extend(cost(v.report, oracle, b));
    }
    out
}

fn first(invariant: Invariant, hits: &[(f64, String)], what: &str) -> Option<Violation> {
    let (at, detail) = hits.first()?;
    let more = match hits.len() {
        1 => String::new(),
        n => format!(" ({n} {what} in all)"),
    };
    Some(Violation {
        invariant,
        at_s: Some(*at),
        detail: format!("{detail}{more}"),
    })
}

fn target(action: &Action) -> String {
    action.instance().cloned().unwrap_or_else(|| "the group".into())
}

/// No healing action on an instance no fault touched.
pub fn false_healing(v: &RunView<'_>) -> Option<Violation> {
    let hits: Vec<(f64, String)> = v
        .ticks
        .iter()
        .flat_map(|t| t.decision.actions.iter().map(move |a| (t.decision.now, a)))
        .filter(|(now, a)| a.action.kind().is_healing() && !fault_touched(v.faults, &a.action, *now))
        .map(|(now, a)| {
            let at = now - v.start;
            let what = format!(
                "{} of {} at {at:.0} s, which no fault touched",
                a.action.kind().label(),
                target(&a.action)
            );
            (at, what)
        })
        .collect();
    first(Invariant::FalseHealing, &hits, "false healing actions")
}

/// No action kind attempted on the same target again sooner than `backoff` after it failed.
pub fn retry_backoff(v: &RunView<'_>, backoff: f64) -> Option<Violation> {
    let mut failed_at: BTreeMap<(ActionKind, String), f64> = BTreeMap::new();
    let mut hits = Vec::new();
    for t in v.ticks {
        let now = t.decision.now;
        for a in &t.decision.actions {
            let key = (a.action.kind(), target(&a.action));
            if let Some(&f) = failed_at.get(&key)
                && now - f < backoff - 1e-6
            {
                hits.push((
                    now - v.start,
                    format!(
                        "{} of {} retried {:.0} s after it failed (backoff {backoff:.0} s)",
                        key.0.label(),
                        key.1,
                        now - f
                    ),
                ));
            }
            if t.failed_ids.contains(&a.id) {
                failed_at.insert(key, now);
            } else {
                failed_at.remove(&key);
            }
        }
    }
    first(Invariant::RetryBackoff, &hits, "early retries")
}

/// Attempts per rolling hour within `limits.maxActionsPerHour`; failed attempts count, admits
/// (which only finish earlier work) do not.
pub fn attempt_budget(v: &RunView<'_>) -> Option<Violation> {
    let times: Vec<f64> = v
        .ticks
        .iter()
        .flat_map(|t| {
            t.decision
                .actions
                .iter()
                .filter(|a| a.action.kind() != ActionKind::Admit)
                .map(move |_| t.decision.now)
        })
        .collect();
    let (mut lo, mut worst, mut first_at) = (0, 0, None);
    for (hi, &t) in times.iter().enumerate() {
        while times[lo] <= t - 3600.0 {
            lo += 1;
        }
        let n = hi - lo + 1;
        if n > v.max_actions_per_hour as usize {
            first_at.get_or_insert(t - v.start);
            worst = worst.max(n);
        }
    }
    first_at.map(|at| Violation {
        invariant: Invariant::AttemptBudget,
        at_s: Some(at),
        detail: format!(
            "{worst} attempts within one hour, budget {} (first exceeded at {at:.0} s)",
            v.max_actions_per_hour
        ),
    })
}

/// Server faults: the ones sloop can mitigate by acting on servers.
fn is_server_fault(kind: &str) -> bool {
    matches!(
        kind,
        "instance-crash" | "instance-hang" | "instance-slow" | "host-degraded" | "host-down"
    )
}

/// Words an alert's name must contain to explain why a fault stays unmitigated: a
/// cap (or a flood held at it), a quota or no valid host, a freeze, a network path, an
/// exhausted action budget or ladder. The name, not the summary: a burn-rate alert's summary
/// speaks of the error budget and explains nothing.
const REASONS: [&str; 8] = [
    "cap",
    "flood",
    "quota",
    "valid-host",
    "freeze",
    "network",
    "budget",
    "ladder",
];

/// Every server fault mitigated within `bound` seconds of its start, or an alert up in that
/// time whose name says why not. Faults that start less than `bound` before the end are not
/// judged.
pub fn unmitigated(report: &Report, bound: f64) -> Option<Violation> {
    let explained = |f: &FaultReport| {
        report.alerts.iter().any(|a| {
            a.at_s + a.lasted_s >= f.at_s
                && a.at_s <= f.at_s + bound
                && REASONS.iter().any(|r| a.name.to_lowercase().contains(r))
        })
    };
    let hits: Vec<(f64, String)> = report
        .faults
        .iter()
        .filter(|f| is_server_fault(&f.kind) && f.target != "-")
        .filter(|f| f.mitigated_after_s.is_none_or(|m| m > bound))
        .filter(|f| f.mitigated_after_s.is_some() || f.at_s + bound <= report.duration_s)
        .filter(|f| !explained(f))
        .map(|f| {
            let when = f
                .mitigated_after_s
                .map_or("never mitigated".into(), |m| format!("mitigated after {m:.0} s"));
            (
                f.at_s,
                format!(
                    "{} on {} at {:.0} s {when} (bound {bound:.0} s), and no alert says why",
                    f.kind, f.target, f.at_s
                ),
            )
        })
        .collect();
    first(Invariant::Unmitigated, &hits, "unmitigated faults")
}

/// Never more servers than the cap, servers in ERROR or being built included.
pub fn max_instances(v: &RunView<'_>) -> Option<Violation> {
    let allowed = v.cap.max(v.initial_instances);
    let over: Vec<(f64, u32)> = v
        .truth
        .minutes
        .iter()
        .filter(|m| m.instances > allowed)
        .map(|m| (m.start - v.start, m.instances))
        .collect();
    let &(at, _) = over.first()?;
    let peak = over.iter().map(|o| o.1).max().unwrap_or(0);
    Some(Violation {
        invariant: Invariant::MaxInstances,
        at_s: Some(at),
        detail: format!(
            "{peak} servers at once against a cap of {} (first over at {at:.0} s, {} minutes over)",
            v.cap,
            over.len()
        ),
    })
}

/// How long a server sloop took out stays counted against it when no later tick shows it back
/// in rotation (it was deleted or replaced).
const GONE_FOR: f64 = 600.0;

/// Never fewer than `minHealthy` serving because of sloop's own actions: a minute counts when
/// ground truth shows fewer serving, sloop held servers no fault touched out of rotation
/// (drained, rebooting, rebuilding, migrating, replaced, scaled in), and those servers would have
/// made up the difference.
pub fn min_healthy(v: &RunView<'_>) -> Option<Violation> {
    let mut held: Vec<(f64, f64, String)> = Vec::new();
    for (i, t) in v.ticks.iter().enumerate() {
        let now = t.decision.now;
        for a in &t.decision.actions {
            let victims: Vec<String> = match &a.action {
                Action::ScaleIn { instances } => instances.clone(),
                Action::ScaleOut { .. } | Action::Admit { .. } => Vec::new(),
                other => other.instance().cloned().into_iter().collect(),
            };
            for id in victims {
                if fault_touched(v.faults, &Action::Drain { instance: id.clone() }, now) {
                    continue;
                }
                let back = v.ticks[i + 1..]
                    .iter()
                    .find(|later| later.in_rotation.contains(&id))
                    .map_or(now + GONE_FOR, |later| later.decision.now.min(now + GONE_FOR));
                held.push((now, back, id));
            }
        }
    }
    let min = f64::from(v.min_healthy);
    let mut hits = Vec::new();
    for m in &v.truth.minutes {
        let end = m.start + 60.0;
        let mut ids: Vec<&str> = held
            .iter()
            .filter(|(from, to, _)| *from < end && *to > m.start)
            .map(|h| h.2.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let out = ids.len() as f64;
        if out > 0.0 && m.serving + 1e-6 < min && m.serving + out >= min - 1e-6 {
            hits.push((
                m.start - v.start,
                format!(
                    "{:.1} serving against minHealthy {} at {:.0} s while sloop held {} out",
                    m.serving,
                    v.min_healthy,
                    m.start - v.start,
                    ids.join(", ")
                ),
            ));
        }
    }
    first(Invariant::MinHealthy, &hits, "minutes")
}

/// SLO-violation minutes and VM-hours against the oracle's.
pub fn cost(report: &Report, oracle: &Report, b: &Bounds) -> Vec<Violation> {
    let mut out = Vec::new();
    let (s, o) = (
        f64::from(report.slo_violation_minutes),
        f64::from(oracle.slo_violation_minutes),
    );
    if s > o + b.violation_margin_min + 1e-9 {
        out.push(Violation {
            invariant: Invariant::ViolationMinutes,
            at_s: None,
            detail: format!(
                "{s:.0} SLO-violation minutes against the oracle's {o:.0} + {:.0}",
                b.violation_margin_min
            ),
        });
    }
    if report.vm_hours > b.vm_hours_factor * oracle.vm_hours + 1e-9 {
        out.push(Violation {
            invariant: Invariant::VmHours,
            at_s: None,
            detail: format!(
                "{:.2} VM-hours against {:.1} × the oracle's {:.2}",
                report.vm_hours, b.vm_hours_factor, oracle.vm_hours
            ),
        });
    }
    out
}
