//! Scenario files: what the simulated world looks like, how load moves over time, which faults
//! strike when, and the ranges the rehearsal outcome must fall in. `policies/scenarios/README.md`
//! documents every field.
//!
//! [`parse_scenario`] is pure (bytes in, a [`Scenario`] or every located problem out);
//! [`load_scenario`] adds the file reads (the scenario and its optional CSV load trace).

use crate::{
    document::{self, Diagnostic, Limits, PathSeg, Pos},
    policy::units::{ByteSize, Duration, Percent, Timestamp},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

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

// === Faults ===

/// A fault injected at `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    /// When it starts, as time since the scenario start.
    pub at: Duration,
    /// How long it lasts; until a remedy clears it (instance faults) or the end of the scenario
    /// (everything else) when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    /// What happens.
    pub fault: Fault,
}

/// The kinds of fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "kind",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Fault {
    /// The service on one instance dies.
    InstanceCrash {
        /// Which instance.
        instance: InstancePick,
        /// `process`: ACTIVE but refusing; `shutoff` or `error`: the VM goes to that state.
        #[serde(default)]
        mode: CrashMode,
        /// Survives reboots (only a rebuild or replacement clears it).
        #[serde(default)]
        persistent: bool,
    },
    /// One instance stops answering (ACTIVE, requests time out).
    InstanceHang {
        /// Which instance.
        instance: InstancePick,
        /// Survives reboots.
        #[serde(default)]
        persistent: bool,
    },
    /// One instance serves slower: μ × `factor`.
    InstanceSlow {
        /// Which instance.
        instance: InstancePick,
        /// Throughput multiplier, 0..1.
        factor: f64,
        /// Survives reboots.
        #[serde(default)]
        persistent: bool,
    },
    /// A noisy neighbour: every VM on the host gets μ × `factor` and the host reports CPU steal.
    HostDegraded {
        /// Which hypervisor.
        host: HostPick,
        /// Throughput multiplier of its VMs, 0..1.
        factor: f64,
        /// CPU steal the host reports meanwhile, in percent.
        steal: f64,
    },
    /// A hypervisor dies: its VMs go to ERROR and nothing is placed there.
    HostDown {
        /// Which hypervisor.
        host: HostPick,
    },
    /// One location's path degrades (both families unless `family` is set).
    NetworkDegraded {
        /// The location.
        location: String,
        /// `v6` or `v4` for one family only; `both` (the default) for both.
        #[serde(default)]
        family: crate::policy::Family,
        /// Added round-trip time.
        #[serde(default = "zero_duration")]
        delay: Duration,
        /// Added loss per round trip (`100%` breaks the path).
        #[serde(default = "zero_percent")]
        loss: Percent,
    },
    /// A probe agent stops reporting.
    AgentSilent {
        /// The location.
        location: String,
    },
    /// A share of Nova API calls fail with a transient error, and every call is slower.
    ApiBrownout {
        /// Share of calls that fail.
        error_rate: Percent,
        /// Added latency per call.
        #[serde(default = "zero_duration")]
        latency: Duration,
    },
    /// Creates fail with a quota error.
    QuotaExhausted,
    /// Telemetry readings are missing.
    TelemetryBlackout,
}

impl Fault {
    /// Kebab-case kind, as in scenario files and reports.
    pub fn label(&self) -> &'static str {
        match self {
            Fault::InstanceCrash { .. } => "instance-crash",
            Fault::InstanceHang { .. } => "instance-hang",
            Fault::InstanceSlow { .. } => "instance-slow",
            Fault::HostDegraded { .. } => "host-degraded",
            Fault::HostDown { .. } => "host-down",
            Fault::NetworkDegraded { .. } => "network-degraded",
            Fault::AgentSilent { .. } => "agent-silent",
            Fault::ApiBrownout { .. } => "api-brownout",
            Fault::QuotaExhausted => "quota-exhausted",
            Fault::TelemetryBlackout => "telemetry-blackout",
        }
    }
}

/// How an instance crash shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CrashMode {
    /// The process dies: ACTIVE, connections refused.
    #[default]
    Process,
    /// The VM powers off (SHUTOFF); a soft reboot is refused, a hard one starts it.
    Shutoff,
    /// The VM goes to ERROR.
    Error,
}

/// Which instance a fault hits, resolved when the fault starts among the instances that serve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum InstancePick {
    /// The n-th serving instance in creation order, from 0 (wraps around).
    Index(u32),
    /// By rule.
    Rule(PickRule),
}

/// Which hypervisor a fault hits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum HostPick {
    /// The n-th hypervisor (`hv-01` is 0; wraps around).
    Index(u32),
    /// By rule.
    Rule(PickRule),
}

/// Rule-based picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PickRule {
    /// The one carrying the most load (hosts: the most serving instances of the group).
    Busiest,
    /// Uniformly at random, from the scenario seed.
    Random,
}

// === Expectations ===

/// A closed range `[min, max]`.
pub type Range = [f64; 2];

/// Ranges the rehearsal report must fall in; each is optional. Names match the report's JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expect {
    /// Healing actions taken (drain, reboots, rebuild, replace, migrate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healing_actions: Option<Range>,
    /// Servers created plus servers deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_churn: Option<Range>,
    /// Scale-out actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_outs: Option<Range>,
    /// Scale-in actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_ins: Option<Range>,
    /// Drain actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drains: Option<Range>,
    /// Soft and hard reboots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reboots: Option<Range>,
    /// Rebuilds and replacements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacements: Option<Range>,
    /// Live migrations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrations: Option<Range>,
    /// Alerts raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Range>,
    /// Share of minutes in which the latency objective held (ground truth), 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_compliance: Option<Range>,
    /// Share of minutes in which the availability objective held (ground truth), 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_compliance: Option<Range>,
    /// Minutes in which any objective was violated (ground truth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_violation_minutes: Option<Range>,
    /// Most instances at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_instances: Option<Range>,
    /// VM-hours used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_hours: Option<Range>,
    /// Every injected fault is diagnosed within this time of its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_within: Option<Duration>,
    /// Every injected fault is mitigated within this time of its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigate_within: Option<Duration>,
    /// Diagnosis labels that must appear at least once (e.g. `network-path`, `flood`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<String>,
    /// Diagnosis labels that must never appear.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub never_diagnoses: Vec<String>,
    /// Refusal reasons that must appear at least once (e.g. `resource-cap`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<String>,
}

// === Loading ===

/// Parses a scenario. Pure: a CSV trace is not read here (see [`load_scenario`]).
pub fn parse_scenario(file: &str, bytes: &[u8]) -> Result<Scenario, Vec<Diagnostic>> {
    let loaded = document::load::<Scenario>(file, bytes, &Limits::default())?;
    let errors = validate(&loaded.value);
    if errors.is_empty() {
        return Ok(loaded.value);
    }
    Err(errors
        .into_iter()
        .map(|(path, msg, hint)| document::locate(&loaded.tree, file, &path, msg, hint))
        .collect())
}

/// Reads a scenario file and, when its load is a CSV trace, the trace next to it.
pub fn load_scenario(path: &Path) -> Result<Scenario, Vec<Diagnostic>> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| vec![io_error(&name, &e)])?;
    let mut scenario = parse_scenario(&name, &bytes)?;
    if let BaseLoad::Csv(csv) = &scenario.load.base {
        let csv_path = path.parent().unwrap_or(Path::new(".")).join(&csv.file);
        let csv_name = csv_path.display().to_string();
        let text = std::fs::read_to_string(&csv_path).map_err(|e| vec![io_error(&csv_name, &e)])?;
        let mut trace = parse_trace(&csv_name, &text, scenario.start_unix())?;
        trace.iter_mut().for_each(|p| p.1 *= csv.scale);
        scenario.trace = trace;
    }
    Ok(scenario)
}

/// Parses a CSV load trace into (seconds since `start`, rps), sorted by time. Pure.
pub fn parse_trace(file: &str, text: &str, start: f64) -> Result<Vec<(f64, f64)>, Vec<Diagnostic>> {
    let mut points = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.split(',').map(str::trim);
        let (t, r) = (cols.next().unwrap_or(""), cols.next().unwrap_or(""));
        let time = t
            .parse::<f64>()
            .ok()
            .or_else(|| t.parse::<Timestamp>().ok().map(|ts| ts.unix() - start));
        match (time, r.parse::<f64>()) {
            (Some(t), Ok(r)) if t.is_finite() && r.is_finite() && r >= 0.0 => points.push((t, r)),
            _ if points.is_empty()
                && errors.is_empty()
                && t.parse::<f64>().is_err()
                && r.parse::<f64>().is_err() =>
            {
                // A header row.
            }
            _ => {
                let mut d = Diagnostic::at(
                    Pos { line: i + 1, col: 1 },
                    format!("`{line}` is not a `time,rps` row"),
                    "write seconds since the start (or an RFC 3339 timestamp), a comma, and requests/s ≥ 0",
                );
                d.file = file.to_owned();
                errors.push(d);
            }
        }
    }
    if points.is_empty() && errors.is_empty() {
        let mut d = Diagnostic::at(Pos::START, "the trace has no rows".into(), "add `time,rps` rows");
        d.file = file.to_owned();
        errors.push(d);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(points)
}

type Problem = (Vec<PathSeg>, String, String);

/// Semantic rules the schema cannot express.
fn validate(s: &Scenario) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    let key = |k: &str| PathSeg::Key(k.into());
    let mut bad = |path: Vec<PathSeg>, msg: String, hint: &str| out.push((path, msg, hint.into()));
    if s.duration.secs() <= 0.0 {
        bad(
            vec![key("duration")],
            "the duration must be positive".into(),
            "write e.g. `24h`",
        );
    }
    let res = s.resolution.secs();
    if !(0.01..=60.0).contains(&res) {
        bad(
            vec![key("resolution")],
            format!("resolution {res}s is outside 10ms..60s"),
            "`1s` suits most scenarios",
        );
    }
    if s.world.hypervisors.count == 0 {
        bad(
            vec![key("world"), key("hypervisors"), key("count")],
            "at least one hypervisor is needed".into(),
            "",
        );
    }
    if s.world.throughput <= 0.0 {
        bad(
            vec![key("world"), key("throughput")],
            "throughput must be positive".into(),
            "requests/s at full load",
        );
    }
    if s.locations.is_empty() {
        bad(
            vec![key("locations")],
            "at least one location is needed".into(),
            "add `local` at least",
        );
    }
    for (i, l) in s.locations.iter().enumerate() {
        if s.locations[..i].iter().any(|o| o.name == l.name) {
            bad(
                vec![key("locations"), PathSeg::Index(i), key("name")],
                format!("location `{}` twice", l.name),
                "",
            );
        }
    }
    let names: Vec<&str> = s.locations.iter().map(|l| l.name.as_str()).collect();
    for (i, f) in s.faults.iter().enumerate() {
        let at = |k: &str| vec![key("faults"), PathSeg::Index(i), key("fault"), key(k)];
        match &f.fault {
            Fault::NetworkDegraded { location, .. } | Fault::AgentSilent { location }
                if !names.contains(&location.as_str()) =>
            {
                bad(
                    at("location"),
                    format!("unknown location `{location}`"),
                    "use a name from `locations`",
                );
            }
            Fault::InstanceSlow { factor, .. } | Fault::HostDegraded { factor, .. }
                if !(0.0..=1.0).contains(factor) =>
            {
                bad(
                    at("factor"),
                    format!("factor {factor} is outside 0..1"),
                    "0.5 halves the throughput",
                );
            }
            _ => {}
        }
        if f.at.secs() > s.duration.secs() {
            let path = vec![key("faults"), PathSeg::Index(i), key("at")];
            bad(
                path,
                format!("the fault starts after the scenario ends ({})", s.duration),
                "",
            );
        }
    }
    match &s.load.base {
        BaseLoad::Diurnal(d) if !(0.0..=1.0).contains(&d.amplitude) => {
            let path = vec![key("load"), key("base"), key("diurnal"), key("amplitude")];
            bad(
                path,
                format!("amplitude {} is outside 0..1", d.amplitude),
                "0.5 swings between ×0.5 and ×1.5",
            );
        }
        BaseLoad::Points(p) if p.is_empty() => {
            bad(
                vec![key("load"), key("base"), key("points")],
                "no points".into(),
                "add `{at: 0s, rps: 200}`",
            );
        }
        _ => {}
    }
    out
}

fn io_error(file: &str, e: &std::io::Error) -> Diagnostic {
    let mut d = Diagnostic::at(
        Pos::START,
        format!("cannot read: {e}"),
        "check the path and permissions",
    );
    d.file = file.to_owned();
    d
}

/// The JSON Schema of scenario files, as checked in at
/// `policies/scenarios/sloop-scenario.schema.json` (editors validate against it).
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(Scenario).to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            "https://sloop.dev/schemas/sloop-scenario.schema.json".into(),
        );
    }
    schema
}
