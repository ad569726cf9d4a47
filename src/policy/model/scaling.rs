//! How the group grows and shrinks.

use super::ForecastSpec;
use crate::policy::units::{Duration, Percent, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the group grows and shrinks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scaling {
    /// Keep mean CPU utilisation of serving instances near this (needs `cpu` telemetry or the simulator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_utilization: Option<Percent>,
    /// Latency objective that drives sizing: when it is at risk, sloop sizes the group from
    /// load and queueing, not one VM at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_objective: Option<String>,
    /// Scale-out rules.
    #[serde(default = "ScaleDirection::default_out")]
    pub out: ScaleDirection,
    /// Scale-in rules.
    #[serde(default = "ScaleDirection::default_in", rename = "in")]
    pub scale_in: ScaleDirection,
    /// Which instances go first on scale-in (unhealthy ones always go first).
    #[serde(default)]
    pub victims: VictimOrder,
    /// Known peaks: hold at least `floor` instances and do not scale in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule: Vec<ScheduledPeak>,
    /// Where the request rate that sizes the group comes from. Without one, the group is sized
    /// from utilisation (`targetUtilization`) and from probe latency (`latencyObjective`).
    #[serde(default, skip_serializing_if = "LoadSpec::is_default")]
    pub load: LoadSpec,
    /// Size scale-out for the load one boot time ahead: the trend of a surge and the learned
    /// daily and weekly profile. On by default.
    #[serde(default, skip_serializing_if = "ForecastSpec::is_default")]
    pub forecast: ForecastSpec,
}

impl Default for Scaling {
    fn default() -> Self {
        Self {
            target_utilization: None,
            latency_objective: None,
            out: ScaleDirection::default_out(),
            scale_in: ScaleDirection::default_in(),
            victims: VictimOrder::default(),
            schedule: Vec::new(),
            load: LoadSpec::default(),
            forecast: ForecastSpec::default(),
        }
    }
}

/// Rate limits for one direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScaleDirection {
    /// At most this many instances per step.
    pub max_step: u32,
    /// Or at most this share of the current size per step, whichever allows more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_step_percent: Option<Percent>,
    /// A recommendation must hold this long before it is acted on (scale-in uses the highest
    /// recommendation over the window, scale-out the lowest).
    pub stabilization: Duration,
    /// Wait this long after a step in this direction before the next one.
    pub cooldown: Duration,
}

impl ScaleDirection {
    fn default_out() -> Self {
        Self {
            max_step: 10,
            max_step_percent: Some(Percent::from_fraction(1.0)),
            stabilization: Duration::from_secs(0.0),
            cooldown: Duration::from_secs(60.0),
        }
    }
    fn default_in() -> Self {
        Self {
            max_step: 1,
            max_step_percent: None,
            stabilization: Duration::from_secs(900.0),
            cooldown: Duration::from_secs(300.0),
        }
    }
}

/// Scale-in victim order among healthy instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VictimOrder {
    /// Remove the newest first (keeps warmed-up caches).
    #[default]
    Newest,
    /// Remove the oldest first (refreshes long-running VMs).
    Oldest,
}

/// A known peak such as election night.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduledPeak {
    /// Name shown in reports.
    pub name: String,
    /// Start of the peak window.
    pub at: Timestamp,
    /// End of the peak window.
    pub until: Timestamp,
    /// Keep at least this many serving instances during the window.
    pub floor: u32,
    /// Start booting this much earlier so the floor is serving at `at`.
    #[serde(default = "default_prewarm")]
    pub prewarm: Duration,
    /// Allow scale-in during the window (default: no).
    #[serde(default)]
    pub allow_scale_in: bool,
}

fn default_prewarm() -> Duration {
    Duration::from_secs(900.0)
}

/// The request-rate source and how fresh its figure must be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadSpec {
    /// `auto` (default): Octavia when `traffic` names a load balancer, none otherwise.
    #[serde(default)]
    pub source: LoadSourceKind,
    /// How often the source's counters move: Octavia's amphorae report statistics every
    /// heartbeat (`[health_manager] heartbeat_interval`, 10 s by default), so two polls inside
    /// one period read the same value. An unchanged counter reads as idle only after three of
    /// these; a gap of ten (at least 10 min) restarts the rate.
    #[serde(default = "default_report_interval")]
    pub report_interval: Duration,
    /// A rate whose span ended longer ago than this counts as missing.
    #[serde(default = "default_load_max_age")]
    pub max_age: Duration,
    /// The PromQL expressions read when `source: prometheus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusLoad>,
}

/// A request rate (and, optionally, per-server utilisation) from Prometheus: each expression is
/// one instant query per pass, evaluated by Prometheus at the time of the query over whatever
/// its scrapes hold. The sample's own timestamp is the figure's age: a query whose newest
/// sample is older than `maxAge` counts as missing, never as zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrometheusLoad {
    /// Prometheus base URL; `spec.telemetry.prometheusUrl` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// PromQL for the requests per second at the service entry; the values of every series it
    /// returns are summed. For example `sum(rate(haproxy_frontend_http_requests_total{proxy="web"}[1m]))`.
    pub requests: String,
    /// PromQL for the requests per second that failed (summed as `requests`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<String>,
    /// PromQL for each server's CPU utilisation as a fraction of its vCPUs (0–1), one series
    /// per server carrying the server's ID in the label `instanceLabel`. It fills the `cpu`
    /// utilisation of servers that `spec.telemetry` does not, for sizing by utilisation. For
    /// example `sum by (uuid) (rate(libvirt_domain_info_cpu_time_seconds_total[1m])) / 1e9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization: Option<String>,
    /// The label of the `utilization` series that holds the server ID.
    #[serde(default = "default_instance_label")]
    pub instance_label: String,
}

fn default_instance_label() -> String {
    "resource_id".into()
}

impl Default for LoadSpec {
    fn default() -> Self {
        Self {
            source: LoadSourceKind::default(),
            report_interval: default_report_interval(),
            max_age: default_load_max_age(),
            prometheus: None,
        }
    }
}

impl LoadSpec {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

fn default_report_interval() -> Duration {
    Duration::from_secs(10.0)
}

fn default_load_max_age() -> Duration {
    Duration::from_secs(60.0)
}

/// Request-rate sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LoadSourceKind {
    /// Octavia when the policy has a `traffic` section, none otherwise.
    #[default]
    Auto,
    /// The load balancer's statistics (`GET /v2/lbaas/loadbalancers/{id}/stats`: cumulative
    /// `total_connections`, `request_errors`, `bytes_in`, `bytes_out` summed over its
    /// listeners), read every pass and turned into rates between the polls at which they moved.
    /// Lags by up to one heartbeat; zero on providers whose driver reports no statistics.
    Octavia,
    /// A PromQL expression for the request rate (`prometheus.requests`), read every pass; its
    /// age is the newest sample's, so it lags by up to one scrape interval plus the expression's
    /// own rate window.
    Prometheus,
    /// No request rate: size from utilisation and probe latency only.
    None,
}
