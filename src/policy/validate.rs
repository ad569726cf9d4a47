//! Semantic rules a schema cannot express: bounds that must agree, references that must
//! resolve, windows long enough for the statistics. Collects every problem. Pure.

mod actions;
mod objectives;

use super::model::*;
use crate::document::PathSeg;
pub use actions::rung_name;
use actions::{check_healing, check_limits, check_scaling};
use objectives::check_objectives;
use std::collections::HashSet;

/// A semantic problem at a field path.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Where, as field path segments.
    pub path: Vec<PathSeg>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// Samples needed so that the largest of `n` samples is an upper confidence bound for the
/// `p`-th percentile at 95 % confidence: 1 − (p/100)^n ≥ 0.95.
pub fn min_samples_for_percentile(p: f64) -> u64 {
    let q = (p / 100.0).clamp(1e-9, 1.0 - 1e-9);
    ((0.05f64).ln() / q.ln()).ceil() as u64
}

struct Checker {
    problems: Vec<Problem>,
}

fn p(segs: &[&str]) -> Vec<PathSeg> {
    segs.iter()
        .map(|s| match s.parse::<usize>() {
            Ok(i) => PathSeg::Index(i),
            Err(_) => PathSeg::Key((*s).to_owned()),
        })
        .collect()
}

impl Checker {
    fn fail(&mut self, path: Vec<PathSeg>, message: impl Into<String>, hint: impl Into<String>) {
        self.problems.push(Problem {
            path,
            message: message.into(),
            hint: hint.into(),
        });
    }
}

/// Checks a structurally valid policy.
pub fn validate(policy: &Policy) -> Vec<Problem> {
    let mut c = Checker { problems: Vec::new() };
    let s = &policy.spec;
    check_metadata(&mut c, &policy.metadata);
    check_group(&mut c, s);
    check_probes(&mut c, s);
    check_telemetry(&mut c, s);
    check_load(&mut c, s);
    check_objectives(&mut c, s);
    check_scaling(&mut c, s);
    check_healing(&mut c, s);
    check_limits(&mut c, s);
    c.problems
}

fn check_metadata(c: &mut Checker, m: &Metadata) {
    let ok = !m.name.is_empty()
        && m.name.len() <= 63
        && m.name
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        && !m.name.starts_with('-')
        && !m.name.ends_with('-');
    if !ok {
        c.fail(
            p(&["metadata", "name"]),
            format!("`{}` is not a valid policy name", m.name),
            "use 1–63 lowercase letters, digits and `-`, not starting or ending with `-` (e.g. `election-web`)",
        );
    }
}

fn check_group(c: &mut Checker, s: &Spec) {
    let g = &s.group;
    if g.size.min > g.size.max {
        c.fail(
            p(&["spec", "group", "size", "min"]),
            format!(
                "size.min ({}) is greater than size.max ({})",
                g.size.min, g.size.max
            ),
            "make min ≤ max",
        );
    }
    if g.size.max == 0 {
        c.fail(
            p(&["spec", "group", "size", "max"]),
            "size.max is 0",
            "allow at least one instance",
        );
    }
    if g.selector.is_empty() {
        c.fail(
            p(&["spec", "group", "selector"]),
            "the selector is empty, so the group would match every server in the project",
            "add at least one metadata key, e.g. `sloop.group: election-web`",
        );
    }
    if g.template.networks.is_empty() {
        c.fail(
            p(&["spec", "group", "template", "networks"]),
            "no networks: a new VM would not be reachable",
            "list at least one network, e.g. `- network: public-v6` with `family: v6`",
        );
    }
    if g.cloud.trim().is_empty() {
        c.fail(
            p(&["spec", "group", "cloud"]),
            "cloud is empty",
            "name a cloud from clouds.yaml, or `sim`",
        );
    }
    if let Some(t) = &s.traffic {
        for (field, port) in [("listenerPort", t.listener_port), ("memberPort", t.member_port)] {
            if port == 0 {
                c.fail(
                    p(&["spec", "traffic", field]),
                    "port 0 is not a port",
                    "use 1–65535",
                );
            }
        }
        if t.weight == 0 || t.weight > 256 {
            c.fail(
                p(&["spec", "traffic", "weight"]),
                format!("weight {} is outside 1..=256", t.weight),
                "Octavia weights are 0–256 and 0 means drained; use 1–256 for healthy members",
            );
        }
    }
}

fn check_probes(c: &mut Checker, s: &Spec) {
    if s.probes.is_empty() {
        c.fail(
            p(&["spec", "probes"]),
            "no probes: sloop would be blind",
            "add at least one probe",
        );
    }
    let mut names = HashSet::new();
    for (i, probe) in s.probes.iter().enumerate() {
        let at = |f: &str| {
            let mut v = p(&["spec", "probes"]);
            v.push(PathSeg::Index(i));
            if !f.is_empty() {
                v.push(PathSeg::Key(f.into()));
            }
            v
        };
        if !names.insert(probe.name.as_str()) {
            c.fail(
                at("name"),
                format!("probe name `{}` is used twice", probe.name),
                "give each probe a unique name",
            );
        }
        let set = [probe.http.is_some(), probe.tcp.is_some(), probe.icmp.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if set != 1 {
            c.fail(
                at(""),
                format!("probe `{}` sets {set} of `http`, `tcp`, `icmp`", probe.name),
                "set exactly one of them",
            );
        }
        if probe.interval.secs() <= 0.0 {
            c.fail(at("interval"), "interval must be positive", "e.g. `10s`");
        }
        if probe.timeout.secs() <= 0.0 || probe.timeout.secs() > probe.interval.secs() {
            c.fail(
                at("timeout"),
                format!(
                    "timeout {} must be positive and no longer than the interval {}",
                    probe.timeout, probe.interval
                ),
                "a probe that outlives its interval would overlap the next one; shorten the timeout",
            );
        }
        if probe.locations.is_empty() {
            c.fail(
                at("locations"),
                "no locations",
                "use `local` and/or names of remote agents",
            );
        }
        let mut seen = HashSet::new();
        for (j, loc) in probe.locations.iter().enumerate() {
            if !seen.insert(loc.as_str()) {
                let mut path = at("locations");
                path.push(PathSeg::Index(j));
                c.fail(
                    path,
                    format!("location `{loc}` is listed twice"),
                    "list each location once",
                );
            }
        }
        if let Some(h) = &probe.http {
            if !(h.url.starts_with("http://") || h.url.starts_with("https://")) || h.url.len() < 10 {
                let mut path = at("http");
                path.push(PathSeg::Key("url".into()));
                c.fail(
                    path,
                    format!("`{}` is not an http:// or https:// URL", h.url),
                    "e.g. `https://wahlen.example.de/`",
                );
            }
            for (j, code) in h.expect_status.iter().enumerate() {
                if !(100..=599).contains(code) {
                    let mut path = at("http");
                    path.extend([PathSeg::Key("expectStatus".into()), PathSeg::Index(j)]);
                    c.fail(path, format!("{code} is not an HTTP status"), "use codes 100–599");
                }
            }
            if h.expect_status.is_empty() {
                let mut path = at("http");
                path.push(PathSeg::Key("expectStatus".into()));
                c.fail(path, "no expected status", "list at least one, e.g. `[200]`");
            }
        }
    }
}

/// A Prometheus load source needs its expressions and a URL to send them to; expressions
/// without that source would never be read.
fn check_load(c: &mut Checker, s: &Spec) {
    let load = &s.scaling.load;
    let at = |key: &str| p(&["spec", "scaling", "load", key]);
    match (load.source, &load.prometheus) {
        (LoadSourceKind::Prometheus, None) => c.fail(
            at("prometheus"),
            "source is prometheus but no expressions are given",
            "add `prometheus: {requests: 'sum(rate(haproxy_frontend_http_requests_total[1m]))'}`",
        ),
        (LoadSourceKind::Prometheus, Some(prom)) => {
            let telemetry_url = s.telemetry.as_ref().and_then(|t| t.prometheus_url.as_ref());
            if prom.url.is_none() && telemetry_url.is_none() {
                c.fail(
                    at("prometheus"),
                    "source is prometheus but no Prometheus URL is set here or in spec.telemetry.prometheusUrl",
                    "add `url: http://prometheus:9090`",
                );
            }
            if prom.requests.trim().is_empty() {
                c.fail(
                    at("prometheus"),
                    "`requests` is empty",
                    "give the PromQL of the request rate",
                );
            }
        }
        (_, Some(_)) => c.fail(
            at("prometheus"),
            "Prometheus expressions are given but `source` is not prometheus, so they would not be read",
            "set `source: prometheus`, or remove `prometheus`",
        ),
        (_, None) => {}
    }
}

fn check_telemetry(c: &mut Checker, s: &Spec) {
    let Some(t) = &s.telemetry else { return };
    if t.source == TelemetrySource::Prometheus && t.prometheus_url.is_none() {
        c.fail(
            p(&["spec", "telemetry", "prometheusUrl"]),
            "source is prometheus but prometheusUrl is not set",
            "add `prometheusUrl: http://prometheus:9090`",
        );
    }
    let mut seen = HashSet::new();
    for (i, m) in t.metrics.iter().enumerate() {
        let mut path = p(&["spec", "telemetry", "metrics"]);
        path.push(PathSeg::Index(i));
        if !seen.insert((m.name.as_str(), m.scope)) {
            c.fail(
                path.clone(),
                format!("metric `{}` is listed twice for the same scope", m.name),
                "list it once",
            );
        }
        if m.granularity.secs() <= 0.0 {
            path.push(PathSeg::Key("granularity".into()));
            c.fail(
                path,
                "granularity must be positive",
                "use the archive policy's granularity, e.g. `60s`",
            );
        }
    }
}

fn probe_named<'a>(s: &'a Spec, name: &str) -> Option<&'a Probe> {
    s.probes.iter().find(|p| p.name == name)
}

fn probe_names(s: &Spec) -> String {
    s.probes
        .iter()
        .map(|p| format!("`{}`", p.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use crate::policy::{LoadSourceKind, Policy, PolicyError};

    /// The shipped election policy with `load` as its `spec.scaling.load` section.
    fn with_load(load: &str) -> Result<Policy, Vec<PolicyError>> {
        let text = include_str!("../../policies/election-web.yaml");
        let text = text.replacen("  scaling:\n", &format!("  scaling:\n    load:\n{load}"), 1);
        crate::policy::parse("web.yaml", text.as_bytes())
    }

    fn errors(load: &str) -> String {
        format!("{:?}", with_load(load).expect_err("refused"))
    }

    #[test]
    fn a_prometheus_load_source_needs_its_expressions_and_a_url() {
        let ok = with_load(
            "      source: prometheus\n      prometheus:\n        url: http://prom:9090\n        requests: sum(rate(x_total[1m]))\n",
        )
        .expect("valid");
        let prom = ok.spec.scaling.load.prometheus.expect("expressions");
        assert_eq!(ok.spec.scaling.load.source, LoadSourceKind::Prometheus);
        assert_eq!(prom.instance_label, "resource_id", "the default label");
        assert!(errors("      source: prometheus\n").contains("no expressions"));
        assert!(
            errors("      source: prometheus\n      prometheus:\n        requests: x\n")
                .contains("no Prometheus URL"),
            "the election policy reads Gnocchi, so no telemetry URL to fall back on"
        );
        assert!(
            errors("      source: octavia\n      prometheus:\n        url: http://p\n        requests: x\n")
                .contains("would not be read")
        );
        assert!(
            errors("      source: prometheus\n      prometheus:\n        url: http://p\n        requests: x\n        bogus: 1\n")
                .contains("bogus"),
            "unknown fields are errors"
        );
    }
}
