//! The policy document as admins write it: `apiVersion: sloop/v1`, `kind: ServicePolicy`.
//!
//! These types are the contract. The JSON Schema in `policies/sloop-policy.schema.json` is
//! generated from them (doc comments become descriptions), the loader checks files against that
//! schema, and `validate` adds the semantic rules a schema cannot express. Pure data.

use super::units::{ByteSize, Duration, Percent, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A sloop service policy: which VMs sloop owns, how it measures them, what it promises, and
/// how it may act.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "sloop ServicePolicy")]
pub struct Policy {
    /// Always `sloop/v1`.
    pub api_version: ApiVersion,
    /// Always `ServicePolicy`.
    pub kind: Kind,
    /// Name and labels of this policy.
    pub metadata: Metadata,
    /// What sloop manages and how.
    pub spec: Spec,
}

/// The only supported API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ApiVersion {
    /// Version 1 of the policy language.
    #[serde(rename = "sloop/v1")]
    V1,
}

/// The only supported document kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Kind {
    /// A policy for one service (one group of VMs behind one load-balancer pool).
    ServicePolicy,
}

/// Identity of a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// Unique name of the policy: lowercase letters, digits and `-`, at most 63 characters.
    pub name: String,
    /// Free-form labels, copied to metrics and events.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// A sentence for humans: what this service is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The body of a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// `enforce` acts on the cloud; `dry-run` does everything else and records what it would do.
    #[serde(default)]
    pub mode: Mode,
    /// The group of VMs this policy owns.
    pub group: Group,
    /// The Octavia pool that fronts the group. Without it, sloop cannot drain or reroute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
    /// Active probes that measure the service the way users reach it.
    pub probes: Vec<Probe>,
    /// Ceilometer metrics read from Gnocchi or Prometheus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<Telemetry>,
    /// The service-level objectives this policy keeps.
    pub objectives: Vec<Objective>,
    /// How the group grows and shrinks.
    #[serde(default)]
    pub scaling: Scaling,
    /// How unhealthy instances are repaired.
    #[serde(default)]
    pub healing: Healing,
    /// Guard rails no decision may cross.
    #[serde(default)]
    pub limits: Limits,
}

/// Whether sloop acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Act on the cloud.
    #[default]
    Enforce,
    /// Observe, judge and plan, but only record what would be done.
    DryRun,
}

// === Group ===

/// The VMs a policy owns, and the template for new ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Group {
    /// Cloud name from clouds.yaml (or `sim` for the built-in simulator).
    pub cloud: String,
    /// Region within the cloud; the cloud's default when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Server metadata that marks a VM as a member of this group. Every VM sloop creates carries it.
    pub selector: BTreeMap<String, String>,
    /// How new VMs are built.
    pub template: ServerTemplate,
    /// Size bounds of the group.
    pub size: SizeBounds,
}

/// A Nova server template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerTemplate {
    /// Glance image name or ID.
    pub image: String,
    /// Nova flavor name or ID.
    pub flavor: String,
    /// vCPUs of the flavor, used by the resource-exhaustion guard before the cloud is asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpus: Option<u32>,
    /// RAM of the flavor, used by the resource-exhaustion guard and migration time estimates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram: Option<ByteSize>,
    /// Networks to attach, in order. IPv6-only networks are fine.
    pub networks: Vec<NetworkAttachment>,
    /// Availability zones to spread new VMs across, round-robin. Empty means the cloud's default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability_zones: Vec<String>,
    /// Security group names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Nova key pair name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pair: Option<String>,
    /// Boot script (cloud-init user data), a file path relative to the policy file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// Server group for (anti-)affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_group: Option<ServerGroup>,
    /// Extra metadata for new servers (sloop adds its own `sloop.*` keys).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// One network attachment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkAttachment {
    /// Neutron network name or ID.
    pub network: String,
    /// Which address families this network gives the VM. `v6` marks an IPv6-only network.
    #[serde(default)]
    pub family: Family,
}

/// A Nova server group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerGroup {
    /// Name of the server group (created if missing).
    pub name: String,
    /// Placement policy.
    #[serde(default)]
    pub policy: AffinityPolicy,
}

/// Nova server-group policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AffinityPolicy {
    /// Never two members on one hypervisor (scheduling fails when impossible).
    AntiAffinity,
    /// Prefer different hypervisors.
    #[default]
    SoftAntiAffinity,
    /// All members on one hypervisor.
    Affinity,
    /// Prefer one hypervisor.
    SoftAffinity,
}

/// Bounds on the number of instances.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SizeBounds {
    /// Never fewer instances than this.
    pub min: u32,
    /// Never more instances than this.
    pub max: u32,
}

// === Traffic ===

/// The Octavia pool in front of the group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Traffic {
    /// Octavia load balancer name or ID.
    pub load_balancer: String,
    /// Pool name or ID whose members are this group's VMs.
    pub pool: String,
    /// Listener port clients connect to.
    pub listener_port: u16,
    /// Port the members serve on.
    pub member_port: u16,
    /// Weight of a healthy member (Octavia: 0–256).
    #[serde(default = "default_weight")]
    pub weight: u16,
}

fn default_weight() -> u16 {
    1
}

// === Probes ===

/// IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv6 only.
    V6,
    /// IPv4 only.
    V4,
    /// Each family separately; results are labelled and judged per family.
    #[default]
    Both,
}

/// An active probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probe {
    /// Name referenced by objectives and healing.
    pub name: String,
    /// An HTTP(S) request. Set exactly one of `http`, `tcp`, `icmp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCheck>,
    /// A TCP connect. Set exactly one of `http`, `tcp`, `icmp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpCheck>,
    /// An ICMP echo (needs CAP_NET_RAW or the ping_group_range sysctl). Set exactly one of `http`, `tcp`, `icmp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<IcmpCheck>,
    /// Time between probes from each location.
    #[serde(default = "default_probe_interval")]
    pub interval: Duration,
    /// A probe slower than this counts as failed.
    #[serde(default = "default_probe_timeout")]
    pub timeout: Duration,
    /// Which IP families to probe.
    #[serde(default)]
    pub family: Family,
    /// Where to probe from: `local` (the controller) and names of remote agents.
    #[serde(default = "default_locations")]
    pub locations: Vec<String>,
    /// Also probe every instance directly on its own address (with the service's Host header).
    #[serde(default)]
    pub per_instance: bool,
}

fn default_probe_interval() -> Duration {
    Duration::from_secs(10.0)
}
fn default_probe_timeout() -> Duration {
    Duration::from_secs(2.0)
}
fn default_locations() -> Vec<String> {
    vec!["local".into()]
}

/// The probe's protocol, as a borrowed view (validation guarantees exactly one is set).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProbeCheck<'a> {
    /// An HTTP or HTTPS request.
    Http(&'a HttpCheck),
    /// A TCP connect.
    Tcp(&'a TcpCheck),
    /// An ICMP echo.
    Icmp(&'a IcmpCheck),
}

impl Probe {
    /// The protocol this probe speaks; `None` only for a policy that failed validation.
    pub fn check(&self) -> Option<ProbeCheck<'_>> {
        match (&self.http, &self.tcp, &self.icmp) {
            (Some(h), None, None) => Some(ProbeCheck::Http(h)),
            (None, Some(t), None) => Some(ProbeCheck::Tcp(t)),
            (None, None, Some(i)) => Some(ProbeCheck::Icmp(i)),
            _ => None,
        }
    }
}

/// An HTTP(S) probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCheck {
    /// The service URL (through the load balancer), e.g. `https://wahlen.example.de/`.
    pub url: String,
    /// HTTP method.
    #[serde(default)]
    pub method: HttpMethod,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Status codes that count as success.
    #[serde(default = "default_expect_status")]
    pub expect_status: Vec<u16>,
    /// A regular expression the body must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "regex"))]
    pub body_regex: Option<String>,
    /// Verify the TLS certificate chain and name.
    #[serde(default = "yes")]
    pub tls_verify: bool,
    /// Fail when the certificate expires within this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expiry_warning: Option<Duration>,
    /// Read at most this much of the body.
    #[serde(default = "default_max_body")]
    pub max_body: ByteSize,
    /// Follow redirects (up to 5) or treat a redirect as the response.
    #[serde(default)]
    pub follow_redirects: bool,
}

fn default_expect_status() -> Vec<u16> {
    vec![200]
}
fn default_max_body() -> ByteSize {
    ByteSize::from_bytes(1 << 20)
}
fn yes() -> bool {
    true
}

/// HTTP methods a probe may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET.
    #[default]
    Get,
    /// HEAD.
    Head,
    /// POST (with an empty body).
    Post,
    /// OPTIONS.
    Options,
}

/// A TCP connect probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpCheck {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// An ICMP echo probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IcmpCheck {
    /// Host name or address.
    pub host: String,
    /// Port for the TCP fallback when ICMP is not permitted; no fallback when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_fallback_port: Option<u16>,
}

// === Telemetry ===

/// Where Ceilometer metrics come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Telemetry {
    /// The metrics backend.
    pub source: TelemetrySource,
    /// Prometheus base URL (required when `source: prometheus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_url: Option<String>,
    /// Metrics to read.
    pub metrics: Vec<MetricSpec>,
    /// Data older than this counts as missing.
    #[serde(default = "default_staleness")]
    pub max_staleness: Duration,
}

fn default_staleness() -> Duration {
    Duration::from_secs(600.0)
}

/// Telemetry backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TelemetrySource {
    /// Gnocchi (`/v1/aggregates`).
    Gnocchi,
    /// Prometheus (`ceilometer_*` series).
    Prometheus,
}

/// One Ceilometer metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricSpec {
    /// Ceilometer meter name: `cpu`, `memory.usage`, `network.incoming.bytes`, `disk.device.read.bytes`, …
    pub name: String,
    /// How to aggregate samples. `rate:mean` turns cumulative counters (cpu ns) into rates.
    #[serde(default)]
    pub aggregation: Aggregation,
    /// Granularity to read; must exist in the archive policy.
    #[serde(default = "default_granularity")]
    pub granularity: Duration,
    /// Per instance or per hypervisor.
    #[serde(default)]
    pub scope: MetricScope,
}

fn default_granularity() -> Duration {
    Duration::from_secs(60.0)
}

/// Gnocchi aggregation methods sloop uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum Aggregation {
    /// Mean over the granularity.
    #[default]
    #[serde(rename = "mean")]
    Mean,
    /// Maximum.
    #[serde(rename = "max")]
    Max,
    /// Rate of change of the mean (for cumulative counters such as `cpu`).
    #[serde(rename = "rate:mean")]
    RateMean,
    /// Rate of change of the maximum.
    #[serde(rename = "rate:max")]
    RateMax,
}

/// What a metric describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricScope {
    /// One series per VM.
    #[default]
    Instance,
    /// One series per hypervisor.
    Hypervisor,
}

// === Objectives ===

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
fn one() -> u32 {
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

// === Scaling ===

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

// === Healing ===

/// Repair of unhealthy instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Healing {
    /// Turn healing off (scaling still works).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The per-instance probe that decides health (must have `perInstance: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    /// When an instance counts as unhealthy.
    #[serde(default)]
    pub unhealthy_after: UnhealthyAfter,
    /// No healing until an instance has been serving this long.
    #[serde(default = "default_grace")]
    pub grace_period: Duration,
    /// Remedies in order; each rung is verified by probes before the next.
    #[serde(default = "default_ladder")]
    pub ladder: Vec<Rung>,
    /// How long a rung gets to make the instance healthy before the next one is tried.
    #[serde(default = "default_rung_timeout")]
    pub rung_timeout: Duration,
    /// Live-migrate instances off a hypervisor when its metrics say so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub migrate_when: Vec<MigrateRule>,
}

impl Default for Healing {
    fn default() -> Self {
        Self {
            enabled: true,
            probe: None,
            unhealthy_after: UnhealthyAfter::default(),
            grace_period: default_grace(),
            ladder: default_ladder(),
            rung_timeout: default_rung_timeout(),
            migrate_when: Vec::new(),
        }
    }
}

fn default_grace() -> Duration {
    Duration::from_secs(120.0)
}
fn default_rung_timeout() -> Duration {
    Duration::from_secs(180.0)
}
fn default_ladder() -> Vec<Rung> {
    vec![
        Rung::Drain,
        Rung::RebootSoft,
        Rung::RebootHard,
        Rung::Rebuild,
        Rung::Replace,
    ]
}

/// k consecutive failures seen from at least q locations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnhealthyAfter {
    /// Consecutive failed probes per location.
    pub failures: u32,
    /// Locations that must agree.
    pub locations: u32,
}

impl Default for UnhealthyAfter {
    fn default() -> Self {
        Self {
            failures: 3,
            locations: 1,
        }
    }
}

/// One remedy on the escalation ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Rung {
    /// Set the LB member weight to 0 so no new traffic reaches it.
    Drain,
    /// Soft reboot (ACPI).
    RebootSoft,
    /// Hard reboot (power cycle).
    RebootHard,
    /// Rebuild from the template image.
    Rebuild,
    /// Create a new VM, then delete the old one.
    Replace,
}

/// Migrate off a hypervisor when a host metric crosses a threshold for a while.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MigrateRule {
    /// A hypervisor-scope metric from `telemetry.metrics` (or `cpu.steal` in the simulator).
    pub metric: String,
    /// Threshold (in the metric's unit; utilisations as fractions 0..1).
    pub above: f64,
    /// How long the metric must stay above the threshold.
    #[serde(rename = "for")]
    pub sustained: Duration,
}

// === Limits ===

/// Guard rails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Budget of mutating actions per rolling hour.
    #[serde(default = "default_actions_per_hour")]
    pub max_actions_per_hour: u32,
    /// Mutating actions in flight at once.
    #[serde(default = "default_concurrent")]
    pub max_concurrent_actions: u32,
    /// Never take an action that could leave fewer serving, healthy instances.
    #[serde(default = "one")]
    pub min_healthy: u32,
    /// Resource-exhaustion guard: hard cap on instances (also bounded by `group.size.max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<u32>,
    /// Resource-exhaustion guard: total vCPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vcpus: Option<u32>,
    /// Resource-exhaustion guard: total RAM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ram: Option<ByteSize>,
    /// Freeze healing when more than this share of the group looks unhealthy at once (a probe
    /// or network fault is likelier than a mass failure).
    #[serde(default = "default_freeze_share")]
    pub freeze_when_unhealthy_above: Percent,
    /// Freeze healing and scale-in while required telemetry is missing.
    #[serde(default = "yes")]
    pub freeze_when_telemetry_missing: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_actions_per_hour: default_actions_per_hour(),
            max_concurrent_actions: default_concurrent(),
            min_healthy: 1,
            max_instances: None,
            max_vcpus: None,
            max_ram: None,
            freeze_when_unhealthy_above: default_freeze_share(),
            freeze_when_telemetry_missing: true,
        }
    }
}

fn default_actions_per_hour() -> u32 {
    30
}
fn default_concurrent() -> u32 {
    5
}
fn default_freeze_share() -> Percent {
    Percent::from_fraction(0.5)
}
