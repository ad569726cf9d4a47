//! Scenario files: what the simulated world looks like, how load moves over time, which faults
//! strike when, and the ranges the rehearsal outcome must fall in. `policies/scenarios/README.md`
//! documents every field.
//!
//! [`parse_scenario`] is pure (bytes in, a [`Scenario`] or every located problem out);
//! [`load_scenario`] adds the file reads (the scenario and its optional CSV load trace).

mod expect;
mod faults;
mod parse;
mod signals;

pub use expect::{Expect, Range};
pub use faults::{CrashMode, Fault, FaultSpec, HostPick, InstancePick, PickRule};
pub use parse::{json_schema, load_scenario, parse_scenario, parse_trace};
pub use signals::Signals;

use crate::policy::units::{ByteSize, Duration, Percent, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A rehearsal scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "sloop Scenario")]
pub struct Scenario {
    /// Short name, shown in reports.
    pub name: String,
    /// What the scenario exercises, for humans.
    #[serde(default)]
    pub description: String,
    /// Simulated wall-clock time at the start; its UTC offset is the scenario's local time.
    pub start: Timestamp,
    /// How long the scenario runs.
    pub duration: Duration,
    /// Length of one world step.
    #[serde(default = "default_resolution")]
    pub resolution: Duration,
    /// Seed of every random draw; `rehearse --seed` overrides it.
    #[serde(default)]
    pub seed: u64,
    /// The simulated cloud.
    #[serde(default)]
    pub world: WorldSpec,
    /// Probe locations and their network paths to the service.
    pub locations: Vec<LocationSpec>,
    /// Offered load over time.
    pub load: LoadSpec,
    /// Faults injected at given times.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Ranges the rehearsal outcome must fall in (checked by the test suite).
    #[serde(default)]
    pub expect: Expect,
    /// The CSV load trace, once [`load_scenario`] has read it: (seconds since start, requests/s).
    #[serde(skip)]
    #[schemars(skip)]
    pub trace: Vec<(f64, f64)>,
}

fn default_resolution() -> Duration {
    Duration::from_secs(1.0)
}

impl Scenario {
    /// Start time, seconds since the Unix epoch.
    pub fn start_unix(&self) -> f64 {
        self.start.unix()
    }

    /// End time, seconds since the Unix epoch.
    pub fn end_unix(&self) -> f64 {
        self.start.unix() + self.duration.secs()
    }

    /// The UTC offset of `start` in seconds (the scenario's local time, used by `diurnal`).
    pub fn utc_offset_secs(&self) -> f64 {
        // `Timestamp` keeps its offset private but prints it; `Z` or `±hh:mm` ends the text.
        let text = self.start.to_string();
        if text.ends_with('Z') || text.len() < 6 {
            return 0.0;
        }
        let tail = &text[text.len() - 6..];
        let sign = if tail.starts_with('-') { -1.0 } else { 1.0 };
        let hh: f64 = tail[1..3].parse().unwrap_or(0.0);
        let mm: f64 = tail[4..6].parse().unwrap_or(0.0);
        sign * (hh * 3600.0 + mm * 60.0)
    }
}

// === World ===

/// The simulated cloud.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorldSpec {
    /// Hypervisors, named `hv-01`, `hv-02`, ….
    #[serde(default)]
    pub hypervisors: HypervisorSpec,
    /// Instances serving (and in the pool) when the scenario starts.
    #[serde(default = "default_initial")]
    pub initial_instances: u32,
    /// Requests per second one instance serves at full utilisation (the service rate μ).
    #[serde(default = "default_throughput")]
    pub throughput: f64,
    /// Relative spread of μ between instances (standard deviation of a normal factor around 1).
    #[serde(default = "default_spread")]
    pub throughput_spread: f64,
    /// Server time of a request on an idle instance.
    #[serde(default = "default_service_floor")]
    pub service_floor: Duration,
    /// Longest queue an instance keeps, as the time to drain it; requests beyond it get 503.
    #[serde(default = "default_queue_limit")]
    pub queue_limit: Duration,
    /// Users give up after this long; slower requests count as errors in the ground truth.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: Duration,
    /// Round trips of one request on a fresh HTTPS connection (connect, TLS, request).
    #[serde(default = "default_round_trips")]
    pub round_trips: u32,
    /// Lifecycle timings.
    #[serde(default)]
    pub timings: Timings,
    /// Probability that an accepted action ends badly.
    #[serde(default)]
    pub failures: FailureRates,
    /// Extra latency of every Nova API call.
    #[serde(default = "default_api_latency")]
    pub api_latency: Duration,
    /// Report intervals and processing delays of the load and telemetry signals.
    #[serde(default)]
    pub signals: Signals,
}

impl Default for WorldSpec {
    fn default() -> Self {
        Self {
            hypervisors: HypervisorSpec::default(),
            initial_instances: default_initial(),
            throughput: default_throughput(),
            throughput_spread: default_spread(),
            service_floor: default_service_floor(),
            queue_limit: default_queue_limit(),
            request_timeout: default_request_timeout(),
            round_trips: default_round_trips(),
            timings: Timings::default(),
            failures: FailureRates::default(),
            api_latency: default_api_latency(),
            signals: Signals::default(),
        }
    }
}

fn default_initial() -> u32 {
    4
}
fn default_throughput() -> f64 {
    100.0
}
fn default_spread() -> f64 {
    0.05
}
fn default_service_floor() -> Duration {
    Duration::from_secs(0.03)
}
fn default_queue_limit() -> Duration {
    Duration::from_secs(2.0)
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(10.0)
}
fn default_round_trips() -> u32 {
    3
}
fn default_api_latency() -> Duration {
    Duration::from_secs(0.3)
}

/// Hypervisor pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HypervisorSpec {
    /// How many.
    pub count: u32,
    /// Allocatable vCPUs of each.
    pub vcpus: u32,
    /// Allocatable RAM of each.
    pub ram: ByteSize,
    /// CPU steal each reports when healthy, in percent.
    #[serde(default = "default_base_steal")]
    pub base_steal: f64,
}

impl Default for HypervisorSpec {
    fn default() -> Self {
        Self {
            count: 8,
            vcpus: 32,
            ram: ByteSize::from_bytes(128 << 30),
            base_steal: default_base_steal(),
        }
    }
}

fn default_base_steal() -> f64 {
    1.0
}

/// Lifecycle durations. Boot phases are lognormal (median and `sigma` of the log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timings {
    /// Median time from the create call to ACTIVE.
    #[serde(default = "d6")]
    pub build: Duration,
    /// Median time from ACTIVE (or the end of a reboot or rebuild) until the service answers.
    #[serde(default = "d40")]
    pub boot_to_serve: Duration,
    /// Spread of the lognormal phases.
    #[serde(default = "default_sigma")]
    pub sigma: f64,
    /// Median soft reboot, until ACTIVE again.
    #[serde(default = "d20")]
    pub reboot_soft: Duration,
    /// Median hard reboot, until ACTIVE again.
    #[serde(default = "d40")]
    pub reboot_hard: Duration,
    /// Median rebuild, until ACTIVE again.
    #[serde(default = "d60")]
    pub rebuild: Duration,
    /// Fixed part of a live migration.
    #[serde(default = "d5")]
    pub migrate_base: Duration,
    /// Added live-migration time per GiB of RAM.
    #[serde(default = "d06")]
    pub migrate_per_gib: Duration,
    /// The pause at the end of a live migration, when the instance answers nothing.
    #[serde(default = "d05")]
    pub migrate_pause: Duration,
    /// Time from the delete call until the server is gone.
    #[serde(default = "d3")]
    pub delete: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            build: d6(),
            boot_to_serve: d40(),
            sigma: default_sigma(),
            reboot_soft: d20(),
            reboot_hard: d40(),
            rebuild: d60(),
            migrate_base: d5(),
            migrate_per_gib: d06(),
            migrate_pause: d05(),
            delete: d3(),
        }
    }
}

fn default_sigma() -> f64 {
    0.25
}
macro_rules! secs_fn {
    ($($name:ident = $v:expr),*) => { $(fn $name() -> Duration { Duration::from_secs($v) })* };
}
secs_fn!(
    d3 = 3.0,
    d5 = 5.0,
    d6 = 6.0,
    d20 = 20.0,
    d40 = 40.0,
    d60 = 60.0,
    d06 = 0.6,
    d05 = 0.5
);

/// Probability that an accepted action ends in ERROR (create, reboot, rebuild) or that a live
/// migration aborts (the instance stays where it was).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailureRates {
    /// A new server ends in ERROR.
    #[serde(default)]
    pub create: f64,
    /// A reboot ends in ERROR.
    #[serde(default)]
    pub reboot: f64,
    /// A rebuild ends in ERROR.
    #[serde(default)]
    pub rebuild: f64,
    /// A live migration aborts.
    #[serde(default)]
    pub migrate: f64,
}

// === Locations ===

/// A probe location and its path to the service, per IP family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocationSpec {
    /// `local` or a remote agent's name, as in the policy's probes.
    pub name: String,
    /// The IPv6 path.
    pub v6: PathSpec,
    /// The IPv4 path; the IPv6 one when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v4: Option<PathSpec>,
}

/// One network path.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PathSpec {
    /// Median round-trip time.
    pub rtt: Duration,
    /// Standard deviation of the round-trip time.
    #[serde(default = "zero_duration")]
    pub jitter: Duration,
    /// Packet loss per round trip.
    #[serde(default = "zero_percent")]
    pub loss: Percent,
}

fn zero_duration() -> Duration {
    Duration::from_secs(0.0)
}
fn zero_percent() -> Percent {
    Percent::from_fraction(0.0)
}

// === Load ===

/// Offered load: a base curve times noise times surges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadSpec {
    /// The base curve in requests/s.
    pub base: BaseLoad,
    /// Random multiplicative noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<Noise>,
    /// Surges multiplied onto the base.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub surges: Vec<Surge>,
}

/// Base load curves. Write exactly one key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum BaseLoad {
    /// The same requests/s all the time.
    Constant(f64),
    /// A daily sine.
    Diurnal(Diurnal),
    /// Piecewise-linear points; flat before the first and after the last.
    Points(Vec<LoadPoint>),
    /// A CSV trace of `time,rps` rows, relative to the scenario file.
    Csv(CsvTrace),
}

/// A daily sine: `mean × (1 + amplitude × cos(2π (hour − peakHour) / 24))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Diurnal {
    /// Daily mean requests/s.
    pub mean: f64,
    /// Relative swing, 0..1 (0.5: between half and one and a half times the mean).
    pub amplitude: f64,
    /// Hour of the daily peak in the local time of `start` (0–24, fractions allowed).
    pub peak_hour: f64,
}

/// One point of a piecewise-linear curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadPoint {
    /// Time since the scenario start.
    pub at: Duration,
    /// Requests/s at that time.
    pub rps: f64,
}

/// A CSV load trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CsvTrace {
    /// Path relative to the scenario file. Rows: `time,rps`, where time is seconds since the
    /// start or an RFC 3339 timestamp; a header row and `#` comments are skipped.
    pub file: String,
    /// Multiplies every rps value.
    #[serde(default = "one_f64")]
    pub scale: f64,
}

fn one_f64() -> f64 {
    1.0
}

/// Multiplicative lognormal noise, autocorrelated so load wanders instead of flickering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Noise {
    /// Standard deviation of the log of the multiplier (0.1 ≈ ±10 %).
    pub sigma: f64,
    /// Correlation time: how long a deviation lingers.
    #[serde(default = "d60")]
    pub correlation: Duration,
}

/// A surge: ramp from ×1 to ×`factor`, hold, then decay back to ×1 (all linear).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Surge {
    /// When the ramp starts, as time since the scenario start.
    pub at: Duration,
    /// Length of the ramp up.
    pub ramp: Duration,
    /// Multiplier at the plateau.
    pub factor: f64,
    /// Length of the plateau.
    pub hold: Duration,
    /// Length of the ramp down.
    pub decay: Duration,
}
