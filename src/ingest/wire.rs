//! The JSON spoken between `sloop agent` and the controller's ingest endpoints. Pure data.
//!
//! ```text
//! agent ── GET  /api/v1/agent/assignments ──► controller   (Assignments: what to probe)
//! agent ── POST /api/v1/agent/results (Batch) ─► controller (BatchReply: accepted, offset)
//! ```
//!
//! Both requests carry `Authorization: Bearer <token>` and `X-Sloop-Agent: <name>`.

use crate::{
    observe::probe::Failure,
    policy::Probe,
    snapshot::{InstanceId, IpFamily, Phases, Sample, Time},
};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Assignments path.
pub const ASSIGNMENTS_PATH: &str = "/api/v1/agent/assignments";
/// Results path.
pub const RESULTS_PATH: &str = "/api/v1/agent/results";
/// Agent status path (freshness of every agent; no secrets).
pub const AGENTS_PATH: &str = "/api/v1/agents";
/// The header that names the agent whose token is presented.
pub const AGENT_HEADER: &str = "x-sloop-agent";

/// What one agent must probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignments {
    /// The agent's location name (its token's name).
    pub location: String,
    /// Changes whenever `jobs` change; batch replies carry the current one, so an agent
    /// re-fetches only when something changed.
    pub version: String,
    /// How often the agent should send a batch (also its heartbeat), in seconds.
    pub batch_interval_s: f64,
    /// Most samples the controller accepts in one batch.
    pub max_batch_samples: usize,
    /// The probes.
    pub jobs: Vec<AssignedJob>,
}

/// One series to probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignedJob {
    /// The policy the probe belongs to.
    pub policy: String,
    /// The probe exactly as the policy defines it.
    pub probe: Probe,
    /// The family to probe over.
    pub family: IpFamily,
    /// For a per-instance job: the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceId>,
    /// For a per-instance job: the instance's address; otherwise every address of the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
}

/// Results sent by an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// The agent's wall clock when it sent the batch; with the receipt time it gives the
    /// clock offset the controller re-times samples by.
    pub sent_at: Time,
    /// Samples the agent dropped since it started because its buffer was full.
    pub dropped_total: u64,
    /// Samples, grouped by series.
    pub series: Vec<BatchSeries>,
}

/// The samples of one series in a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSeries {
    /// Policy name.
    pub policy: String,
    /// Probe name.
    pub probe: String,
    /// Family probed.
    pub family: IpFamily,
    /// The instance, for per-instance series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceId>,
    /// The results, oldest first, stamped with the agent's clock.
    pub samples: Vec<BatchSample>,
}

/// One result (a [`Sample`] plus its failure class).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSample {
    /// When the probe started, by the agent's clock.
    pub at: Time,
    /// Total time in seconds.
    pub latency: f64,
    /// Whether the probe met every expectation.
    pub ok: bool,
    /// Phase timings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<Phases>,
    /// Why the probe failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

impl BatchSample {
    /// The wire form of a sample and its failure class.
    pub fn new(sample: Sample, failure: Option<Failure>) -> Self {
        Self {
            at: sample.at,
            latency: sample.latency,
            ok: sample.ok,
            phases: sample.phases,
            failure,
        }
    }

    /// The sample, stamped at `at`.
    pub fn sample_at(&self, at: Time) -> Sample {
        Sample {
            at,
            latency: self.latency,
            ok: self.ok,
            phases: self.phases,
        }
    }
}

/// The controller's answer to a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchReply {
    /// Samples stored.
    pub accepted: u64,
    /// Samples of series the controller does not (or no longer) assign to this agent, and
    /// samples denser than the probe's interval allows (`IngestLimits::samples_per_interval`).
    pub rejected: u64,
    /// Controller receipt time minus the agent's `sent_at`, in seconds.
    pub offset_s: f64,
    /// The current assignments version; re-fetch when it differs from yours.
    pub assignments: String,
}

/// An error answer (4xx/5xx) from the ingest endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What was wrong, for the agent's log.
    pub error: String,
}
