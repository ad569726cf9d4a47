//! Semantic rules a schema cannot express: bounds that must agree, references that must
//! resolve, windows long enough for the statistics. Collects every problem. Pure.

use super::model::*;
use crate::document::PathSeg;
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

fn check_objectives(c: &mut Checker, s: &Spec) {
    if s.objectives.is_empty() {
        c.fail(
            p(&["spec", "objectives"]),
            "no objectives: nothing to keep",
            "add a latency or availability objective",
        );
    }
    let mut names = HashSet::new();
    for (i, o) in s.objectives.iter().enumerate() {
        let at = |f: &[&str]| {
            let mut v = p(&["spec", "objectives"]);
            v.push(PathSeg::Index(i));
            v.extend(p(f));
            v
        };
        if !names.insert(o.name.as_str()) {
            c.fail(
                at(&["name"]),
                format!("objective name `{}` is used twice", o.name),
                "give each objective a unique name",
            );
        }
        let Some(indicator) = o.indicator() else {
            c.fail(
                at(&[]),
                format!(
                    "objective `{}` must set exactly one of `latency`, `availability`",
                    o.name
                ),
                "keep one",
            );
            continue;
        };
        let (kind, probe_ref, quorum) = match indicator {
            Indicator::Latency(l) => ("latency", &l.probe, l.quorum),
            Indicator::Availability(a) => ("availability", &a.probe, a.quorum),
        };
        let Some(probe) = probe_named(s, probe_ref) else {
            c.fail(
                at(&[kind, "probe"]),
                format!("no probe named `{probe_ref}`"),
                format!("use one of: {}", probe_names(s)),
            );
            continue;
        };
        let locations = probe.locations.len() as u32;
        if quorum == 0 || quorum > locations {
            c.fail(
                at(&[kind, "quorum"]),
                format!(
                    "quorum {quorum} is not within 1..={locations} (probe `{}` has {locations} locations)",
                    probe.name
                ),
                "a quorum counts locations that must agree; it cannot exceed the probe's locations",
            );
        }
        match indicator {
            Indicator::Latency(l) => {
                if !(l.percentile > 0.0 && l.percentile < 100.0) {
                    c.fail(
                        at(&[kind, "percentile"]),
                        format!("percentile {} is not in (0, 100)", l.percentile),
                        "e.g. 95 or 99.9",
                    );
                    continue;
                }
                if l.threshold.secs() <= 0.0 {
                    c.fail(
                        at(&[kind, "threshold"]),
                        "threshold must be positive",
                        "e.g. `800ms`",
                    );
                }
                let per_location = (l.window.secs() / probe.interval.secs().max(1e-9)).floor() as u64;
                let pooled = per_location * quorum.max(1) as u64;
                let need = min_samples_for_percentile(l.percentile);
                if per_location < 10 || pooled < need {
                    c.fail(
                        at(&[kind, "window"]),
                        format!(
                            "window {} at probe interval {} gives {per_location} samples per location ({pooled} across the quorum of {}); a p{} bound at 95 % confidence needs at least {need}",
                            l.window, probe.interval, quorum.max(1), l.percentile
                        ),
                        "lengthen the window, shorten the probe interval, raise the quorum, or use a lower percentile",
                    );
                }
            }
            Indicator::Availability(a) => {
                let t = a.target.fraction();
                if !(t > 0.0 && t < 1.0) {
                    c.fail(
                        at(&[kind, "target"]),
                        format!("target {} leaves no error budget", a.target),
                        "use a target below 100%, e.g. `99.9%`",
                    );
                }
                for (j, row) in a.burn_rate_alerts.iter().enumerate() {
                    let mut path = at(&[kind, "burnRateAlerts"]);
                    path.push(PathSeg::Index(j));
                    if row.short.secs() >= row.long.secs() {
                        c.fail(
                            path.clone(),
                            format!(
                                "short window {} is not shorter than long window {}",
                                row.short, row.long
                            ),
                            "the workbook uses short = long / 12",
                        );
                    }
                    if row.long.secs() > a.period.secs() {
                        c.fail(
                            path.clone(),
                            format!("long window {} exceeds the SLO period {}", row.long, a.period),
                            "shorten the window or lengthen the period",
                        );
                    }
                    if row.short.secs() < 2.0 * probe.interval.secs() {
                        c.fail(
                            path.clone(),
                            format!(
                                "short window {} holds fewer than two probe intervals ({})",
                                row.short, probe.interval
                            ),
                            "lengthen the short window",
                        );
                    }
                    if row.burn_rate.is_nan() || row.burn_rate <= 0.0 {
                        path.push(PathSeg::Key("burnRate".into()));
                        c.fail(path, "burn rate must be positive", "e.g. 14.4");
                    }
                }
            }
        }
    }
}

fn check_scaling(c: &mut Checker, s: &Spec) {
    let sc = &s.scaling;
    if let Some(name) = &sc.latency_objective {
        let found = s.objectives.iter().find(|o| &o.name == name);
        if found.is_none_or(|o| o.latency.is_none()) {
            let latency: Vec<String> = s
                .objectives
                .iter()
                .filter(|o| o.latency.is_some())
                .map(|o| format!("`{}`", o.name))
                .collect();
            c.fail(
                p(&["spec", "scaling", "latencyObjective"]),
                format!("no latency objective named `{name}`"),
                if latency.is_empty() {
                    "define a latency objective first".into()
                } else {
                    format!("use one of: {}", latency.join(", "))
                },
            );
        }
    }
    if let Some(u) = sc.target_utilization
        && !(u.fraction() > 0.0 && u.fraction() <= 1.0)
    {
        c.fail(
            p(&["spec", "scaling", "targetUtilization"]),
            format!("{u} is not in (0%, 100%]"),
            "e.g. `60%`",
        );
    }
    for (dir, d) in [("out", &sc.out), ("in", &sc.scale_in)] {
        if d.max_step == 0 {
            c.fail(
                p(&["spec", "scaling", dir, "maxStep"]),
                "maxStep 0 would never scale",
                "use at least 1",
            );
        }
    }
    if sc.scale_in.stabilization.secs() < sc.out.cooldown.secs() {
        c.fail(
            p(&["spec", "scaling", "in", "stabilization"]),
            format!(
                "scale-in stabilisation {} is shorter than the scale-out cooldown {}: sloop could remove capacity before the last scale-out took effect",
                sc.scale_in.stabilization, sc.out.cooldown
            ),
            "make in.stabilization at least as long as out.cooldown",
        );
    }
    let mut names = HashSet::new();
    for (i, peak) in sc.schedule.iter().enumerate() {
        let at = |f: &str| {
            let mut v = p(&["spec", "scaling", "schedule"]);
            v.push(PathSeg::Index(i));
            v.push(PathSeg::Key(f.into()));
            v
        };
        if !names.insert(peak.name.as_str()) {
            c.fail(
                at("name"),
                format!("schedule name `{}` is used twice", peak.name),
                "give each peak a unique name",
            );
        }
        if peak.until.unix() <= peak.at.unix() {
            c.fail(
                at("until"),
                format!("`until` ({}) is not after `at` ({})", peak.until, peak.at),
                "end the window after it starts",
            );
        }
        if peak.floor > s.group.size.max {
            c.fail(
                at("floor"),
                format!("floor {} exceeds group.size.max {}", peak.floor, s.group.size.max),
                "lower the floor or raise size.max",
            );
        }
        if peak.prewarm.secs() > 86_400.0 {
            c.fail(
                at("prewarm"),
                format!("prewarm {} is longer than a day", peak.prewarm),
                "boot a few minutes to an hour ahead",
            );
        }
    }
}

fn check_healing(c: &mut Checker, s: &Spec) {
    let h = &s.healing;
    if let Some(name) = &h.probe {
        match probe_named(s, name) {
            None => c.fail(
                p(&["spec", "healing", "probe"]),
                format!("no probe named `{name}`"),
                format!("use one of: {}", probe_names(s)),
            ),
            Some(probe) => {
                if !probe.per_instance {
                    c.fail(
                        p(&["spec", "healing", "probe"]),
                        format!("probe `{name}` does not set `perInstance: true`, so it cannot tell which instance is unhealthy"),
                        format!("set `perInstance: true` on probe `{name}`"),
                    );
                }
                if h.unhealthy_after.locations as usize > probe.locations.len() {
                    c.fail(
                        p(&["spec", "healing", "unhealthyAfter", "locations"]),
                        format!(
                            "{} locations required but probe `{name}` has {}",
                            h.unhealthy_after.locations,
                            probe.locations.len()
                        ),
                        "require at most as many locations as the probe uses",
                    );
                }
            }
        }
    } else if h.enabled && !h.ladder.is_empty() && !s.probes.iter().any(|p| p.per_instance) {
        c.fail(
            p(&["spec", "healing"]),
            "healing is enabled but no probe has `perInstance: true`, so no instance can be judged on its own",
            "set `perInstance: true` on a probe and name it in healing.probe, or set `healing.enabled: false`",
        );
    }
    if h.unhealthy_after.failures == 0 || h.unhealthy_after.locations == 0 {
        c.fail(
            p(&["spec", "healing", "unhealthyAfter"]),
            "failures and locations must both be at least 1",
            "single samples never trigger action; e.g. failures: 3, locations: 2",
        );
    }
    let mut seen = HashSet::new();
    for (i, rung) in h.ladder.iter().enumerate() {
        let mut path = p(&["spec", "healing", "ladder"]);
        path.push(PathSeg::Index(i));
        if !seen.insert(*rung) {
            c.fail(
                path.clone(),
                format!("`{}` appears twice on the ladder", rung_name(*rung)),
                "list each remedy once",
            );
        }
        // A disabled ladder never drains, so it needs no load balancer.
        if *rung == Rung::Drain && s.traffic.is_none() && h.enabled {
            c.fail(
                path,
                "`drain` needs `spec.traffic` (an Octavia pool) to set member weights",
                "add spec.traffic or remove `drain`",
            );
        }
    }
    let hyper: Vec<&str> = s
        .telemetry
        .iter()
        .flat_map(|t| &t.metrics)
        .filter(|m| m.scope == MetricScope::Hypervisor)
        .map(|m| m.name.as_str())
        .collect();
    for (i, rule) in h.migrate_when.iter().enumerate() {
        let mut path = p(&["spec", "healing", "migrateWhen"]);
        path.push(PathSeg::Index(i));
        path.push(PathSeg::Key("metric".into()));
        if !hyper.contains(&rule.metric.as_str()) {
            c.fail(
                path,
                format!(
                    "`{}` is not a hypervisor-scope metric in spec.telemetry.metrics",
                    rule.metric
                ),
                "add it under telemetry.metrics with `scope: hypervisor`",
            );
        }
    }
}

fn check_limits(c: &mut Checker, s: &Spec) {
    let l = &s.limits;
    if l.max_actions_per_hour == 0 {
        c.fail(
            p(&["spec", "limits", "maxActionsPerHour"]),
            "a budget of 0 forbids every action",
            "use mode: dry-run to observe only, or allow at least 1",
        );
    }
    if l.max_concurrent_actions == 0 {
        c.fail(
            p(&["spec", "limits", "maxConcurrentActions"]),
            "0 concurrent actions forbids every action",
            "allow at least 1",
        );
    }
    if l.min_healthy > s.group.size.min.max(1) && l.min_healthy > s.group.size.max {
        c.fail(
            p(&["spec", "limits", "minHealthy"]),
            format!(
                "minHealthy {} exceeds group.size.max {}",
                l.min_healthy, s.group.size.max
            ),
            "minHealthy must be reachable: at most size.max",
        );
    }
    if let Some(m) = l.max_instances
        && m < s.group.size.min
    {
        c.fail(
            p(&["spec", "limits", "maxInstances"]),
            format!("maxInstances {m} is below group.size.min {}", s.group.size.min),
            "the guard must allow the minimum size",
        );
    }
    let share = l.freeze_when_unhealthy_above.fraction();
    if !(share > 0.0 && share <= 1.0) {
        c.fail(
            p(&["spec", "limits", "freezeWhenUnhealthyAbove"]),
            "must be above 0%",
            "e.g. `50%`",
        );
    }
    if (l.max_vcpus.is_some() && s.group.template.vcpus.is_none())
        || (l.max_ram.is_some() && s.group.template.ram.is_none())
    {
        c.fail(
            p(&["spec", "limits"]),
            "maxVcpus/maxRam need the flavor size in group.template (vcpus, ram) to be enforced before the cloud is asked",
            "add `vcpus:` and `ram:` to spec.group.template",
        );
    }
}

/// The YAML spelling of a rung.
pub fn rung_name(r: Rung) -> &'static str {
    match r {
        Rung::Drain => "drain",
        Rung::RebootSoft => "reboot-soft",
        Rung::RebootHard => "reboot-hard",
        Rung::Rebuild => "rebuild",
        Rung::Replace => "replace",
    }
}
