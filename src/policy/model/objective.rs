//! The service-level objectives.

use crate::policy::units::{Duration, Percent};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A service-level objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Objective {
    /// Name referenced by scaling and shown in reports.
    pub name: String,
    /// A latency objective. Set exactly one of `latency`, `availability`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyObjective>,
    /// An availability objective. Set exactly one of `latency`, `availability`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<AvailabilityObjective>,
}

/// What an objective measures, as a borrowed view (validation guarantees exactly one is set).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Indicator<'a> {
    /// A latency percentile must stay under a threshold.
    Latency(&'a LatencyObjective),
    /// The ratio of good probes must meet a target over a period.
    Availability(&'a AvailabilityObjective),
}

impl Objective {
    /// What this objective measures; `None` only for a policy that failed validation.
    pub fn indicator(&self) -> Option<Indicator<'_>> {
        match (&self.latency, &self.availability) {
            (Some(l), None) => Some(Indicator::Latency(l)),
            (None, Some(a)) => Some(Indicator::Availability(a)),
            _ => None,
        }
    }

    /// The probe this objective reads.
    pub fn probe(&self) -> Option<&str> {
        match self.indicator()? {
            Indicator::Latency(l) => Some(&l.probe),
            Indicator::Availability(a) => Some(&a.probe),
        }
    }
}

/// `p`-th percentile latency under `threshold` over `window`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LatencyObjective {
    /// The probe whose samples count.
    pub probe: String,
    /// Percentile, strictly between 0 and 100 (e.g. 95 or 99.9).
    pub percentile: f64,
    /// The latency the percentile must stay under.
    pub threshold: Duration,
    /// Sliding window the percentile is computed over.
    #[serde(default = "default_latency_window")]
    pub window: Duration,
    /// How many locations must agree before the objective counts as violated.
    #[serde(default = "one")]
    pub quorum: u32,
}

fn default_latency_window() -> Duration {
    Duration::from_secs(300.0)
}
pub(super) fn one() -> u32 {
    1
}

/// Availability: good probes / all probes ≥ target over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AvailabilityObjective {
    /// The probe whose results count.
    pub probe: String,
    /// Target ratio of good probes, e.g. `99.9%`.
    pub target: Percent,
    /// SLO period the error budget covers.
    #[serde(default = "default_slo_period")]
    pub period: Duration,
    /// How many locations must agree before burn counts.
    #[serde(default = "one")]
    pub quorum: u32,
    /// Multi-window, multi-burn-rate alerts. Default: the SRE workbook table.
    #[serde(default = "default_burn_rate_alerts")]
    pub burn_rate_alerts: Vec<BurnRateAlert>,
}

fn default_slo_period() -> Duration {
    Duration::from_secs(30.0 * 86_400.0)
}

/// One row of the burn-rate alert table: fires when both windows burn faster than `burnRate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BurnRateAlert {
    /// Long window.
    pub long: Duration,
    /// Short window (the workbook uses 1/12 of the long one).
    pub short: Duration,
    /// Burn-rate threshold: error ratio / (1 − target).
    pub burn_rate: f64,
    /// Page a human or open a ticket.
    pub severity: Severity,
}

/// Alert severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Wake someone up.
    Page,
    /// Handle in working hours.
    Ticket,
}

/// The SRE workbook's table (1h/5m ×14.4, 6h/30m ×6, 1d/2h ×3, 3d/6h ×1).
pub fn default_burn_rate_alerts() -> Vec<BurnRateAlert> {
    let row = |long: f64, short: f64, burn_rate: f64, severity| BurnRateAlert {
        long: Duration::from_secs(long),
        short: Duration::from_secs(short),
        burn_rate,
        severity,
    };
    vec![
        row(3600.0, 300.0, 14.4, Severity::Page),
        row(6.0 * 3600.0, 1800.0, 6.0, Severity::Page),
        row(86_400.0, 7200.0, 3.0, Severity::Ticket),
        row(3.0 * 86_400.0, 6.0 * 3600.0, 1.0, Severity::Ticket),
    ]
}
