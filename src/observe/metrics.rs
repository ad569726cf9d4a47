//! Prometheus metrics of the probe engine: results by class and phase-timed durations, per
//! probe, location, family and target kind (service or instance). IO-free; registered into a
//! registry the caller owns (the daemon's `/metrics`).
//!
//! ```text
//! Scheduler ─► Sink::record ─┐
//! ingest (agent batches) ────┴► ProbeMetrics::observe ─► sloop_probe_results_total{…,result}
//!                                                       └► sloop_probe_duration_seconds{…,phase}
//! ```
//!
//! Label cardinality is bounded: instances are never a label (per-instance probes are folded
//! into `target="instance"`), results and phases are closed sets, and at most
//! [`MAX_SERIES`] (probe, location) pairs are admitted; later ones are counted in
//! `sloop_probe_series_overflow_total` and not exported.

mod phase_histogram;

use super::{
    probe::{Failure, Outcome, schedule::Sink},
    store::SeriesId,
};
use crate::snapshot::{IpFamily, Sample, SeriesKey};
use phase_histogram::PhaseHistogram;
use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder},
    metrics::{counter::Counter, family::Family},
    registry::{Registry, Unit},
};
use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

/// Most (probe, location) pairs exported; a policy with more is misconfigured or hostile.
pub const MAX_SERIES: usize = 1024;

/// Labels of the result counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// Probe name from the policy (shared with the series key, not copied per label set).
    pub probe: Arc<str>,
    /// `local` or the agent's name.
    pub location: Arc<str>,
    /// `v6` or `v4`.
    pub family: &'static str,
    /// `service` (through the load balancer) or `instance` (straight to one instance).
    pub target: &'static str,
    /// `success` or the failure class.
    pub result: &'static str,
}

/// Labels of the duration histogram. One label set per (probe, location, family, target kind,
/// phase) is a hash-map key, so its size is the engine's memory: the closed-set labels are
/// one byte each ([`Word`]) rather than a 16-byte `&str`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    /// Probe name from the policy (shared with the series key, not copied per label set).
    pub probe: Arc<str>,
    /// `local` or the agent's name.
    pub location: Arc<str>,
    /// `v6` or `v4`.
    pub family: Word,
    /// `service` or `instance`.
    pub target: Word,
    /// `dns`, `connect`, `tls`, `ttfb`, `transfer` or `total`.
    pub phase: Word,
}

/// A label value from the closed set of [`Word::TEXT`], stored as its index.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct Word(u8);

impl Word {
    const TEXT: [&'static str; 10] = [
        "v6", "v4", "service", "instance", "dns", "connect", "tls", "ttfb", "transfer", "total",
    ];
    const V6: Word = Word(0);
    const V4: Word = Word(1);
    const SERVICE: Word = Word(2);
    const INSTANCE: Word = Word(3);
    const DNS: Word = Word(4);
    const CONNECT: Word = Word(5);
    const TLS: Word = Word(6);
    const TTFB: Word = Word(7);
    const TRANSFER: Word = Word(8);
    const TOTAL: Word = Word(9);

    /// The label value as exported.
    pub fn as_str(self) -> &'static str {
        Self::TEXT[usize::from(self.0)]
    }
}

impl EncodeLabelValue for Word {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

/// A (probe, location) pair admitted to the labels.
type Pair = (Arc<str>, Arc<str>);

type Durations = Family<PhaseLabels, PhaseHistogram>;

/// The probe engine's metrics; cheap to clone (shared handles).
#[derive(Debug, Clone)]
pub struct ProbeMetrics {
    results: Family<ResultLabels, Counter>,
    durations: Durations,
    overflow: Counter,
    refusals: Family<RefusalLabels, Counter>,
    admitted: Arc<Mutex<HashSet<Pair>>>,
}

/// Labels of the refused agent requests counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// Why (`crate::ingest::refusals::Refusal::label`).
    pub reason: &'static str,
}

/// Registers the probe metrics into `registry` and returns the handle that records them.
pub fn register(registry: &mut Registry) -> ProbeMetrics {
    let m = ProbeMetrics::unregistered();
    registry.register(
        "sloop_probe_results",
        "Probe results by probe, location, family, target kind and result (success or failure class)",
        m.results.clone(),
    );
    registry.register_with_unit(
        "sloop_probe_duration",
        "Probe duration by phase (dns, connect, tls, ttfb, transfer) and in total",
        Unit::Seconds,
        m.durations.clone(),
    );
    registry.register(
        "sloop_probe_series_overflow",
        "Probe results not exported because the (probe, location) label limit was reached",
        m.overflow.clone(),
    );
    registry.register(
        "sloop_agent_refusals",
        "Requests on the agent routes refused, by reason (the log has a summary every 10 s)",
        m.refusals.clone(),
    );
    m
}

fn family_label(f: IpFamily) -> Word {
    match f {
        IpFamily::V6 => Word::V6,
        IpFamily::V4 => Word::V4,
    }
}

impl ProbeMetrics {
    /// Metrics that record but are exported nowhere (when no registry is configured).
    pub fn unregistered() -> Self {
        Self {
            results: Family::default(),
            durations: Family::default(),
            overflow: Counter::default(),
            refusals: Family::default(),
            admitted: Arc::default(),
        }
    }

    fn admit(&self, key: &SeriesKey) -> bool {
        let mut admitted = self.admitted.lock().unwrap_or_else(|e| e.into_inner());
        let pair = (key.probe.clone(), key.location.clone());
        if admitted.contains(&pair) {
            return true;
        }
        if admitted.len() >= MAX_SERIES {
            return false;
        }
        admitted.insert(pair);
        true
    }

    /// Counts one refused agent request.
    pub fn refused(&self, reason: &'static str) {
        self.refusals.get_or_create(&RefusalLabels { reason }).inc();
    }

    /// Records one probe result of the series `key` (`instance`: a per-instance series).
    pub fn observe(&self, key: &SeriesKey, instance: bool, sample: &Sample, failure: Option<Failure>) {
        if !self.admit(key) {
            self.overflow.inc();
            return;
        }
        let target = if instance { Word::INSTANCE } else { Word::SERVICE };
        let family = family_label(key.family);
        let result = match (sample.ok, failure) {
            (true, _) => "success",
            (false, Some(f)) => f.metric_label(),
            (false, None) => "failed",
        };
        self.results
            .get_or_create(&ResultLabels {
                probe: key.probe.clone(),
                location: key.location.clone(),
                family: family.as_str(),
                target: target.as_str(),
                result,
            })
            .inc();
        let phase = |phase: Word, secs: f64| {
            self.durations
                .get_or_create(&PhaseLabels {
                    probe: key.probe.clone(),
                    location: key.location.clone(),
                    family,
                    target,
                    phase,
                })
                .observe(secs);
        };
        phase(Word::TOTAL, sample.latency);
        if let Some(p) = sample.phases {
            for (name, secs) in [
                (Word::DNS, p.dns),
                (Word::CONNECT, p.connect),
                (Word::TLS, p.tls),
                (Word::TTFB, p.ttfb),
                (Word::TRANSFER, p.transfer),
            ] {
                if secs > 0.0 {
                    phase(name, secs);
                }
            }
        }
    }
}

impl Sink for ProbeMetrics {
    fn record(&self, series: &SeriesId, outcomes: &[Outcome]) {
        let (key, instance) = match series {
            SeriesId::Service(k) => (k, false),
            SeriesId::Instance(_, k) => (k, true),
        };
        for o in outcomes {
            self.observe(key, instance, &o.sample, o.failure.as_ref().map(|f| f.kind));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Phases;
    use prometheus_client::encoding::text::encode;

    fn key(probe: &str, location: &str) -> SeriesKey {
        SeriesKey {
            probe: probe.into(),
            location: location.into(),
            family: IpFamily::V6,
        }
    }

    fn sample(ok: bool) -> Sample {
        Sample {
            at: 0.0,
            latency: 0.003,
            ok,
            phases: Some(Phases {
                dns: 0.0,
                connect: 0.001,
                tls: 0.0,
                ttfb: 0.0015,
                transfer: 0.0005,
            }),
        }
    }

    #[test]
    fn encoded_text_has_results_by_class_and_durations_by_phase() {
        let mut registry = Registry::default();
        let m = register(&mut registry);
        m.observe(&key("web", "local"), false, &sample(true), None);
        m.observe(&key("web", "local"), false, &sample(true), None);
        m.observe(&key("web", "fra"), true, &sample(false), Some(Failure::Timeout));
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(
                r#"sloop_probe_results_total{probe="web",location="local",family="v6",target="service",result="success"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"sloop_probe_results_total{probe="web",location="fra",family="v6",target="instance",result="timeout"} 1"#
        ));
        assert!(text.contains("# TYPE sloop_probe_duration_seconds histogram"));
        assert!(text.contains(
            r#"sloop_probe_duration_seconds_count{probe="web",location="local",family="v6",target="service",phase="connect"} 2"#
        ));
        assert!(text.contains(
            r#"sloop_probe_duration_seconds_bucket{le="0.004",probe="web",location="local",family="v6",target="service",phase="total"} 2"#
        ), "{text}");
        // Phases that took no time (no DNS for a literal, no TLS over http) are not observed.
        assert!(!text.contains(r#"phase="tls""#));
    }

    #[test]
    fn label_sets_are_bounded() {
        let mut registry = Registry::default();
        let m = register(&mut registry);
        for i in 0..MAX_SERIES + 10 {
            m.observe(&key(&format!("p{i}"), "local"), false, &sample(true), None);
        }
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert_eq!(text.matches("result=\"success\"").count(), MAX_SERIES);
        assert!(text.contains("sloop_probe_series_overflow_total 10"));
    }
}
