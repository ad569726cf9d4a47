//! How the service is measured: probes and telemetry.

use crate::policy::units::{ByteSize, Duration};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
pub(super) fn yes() -> bool {
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
