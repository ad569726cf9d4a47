//! Scaling, healing and limits: bounds that must agree (min ≤ max, steps within the group),
//! ladders that can finish within their grace, guards that can be enforced.

use super::{Checker, p, probe_named, probe_names};
use crate::document::PathSeg;
use crate::policy::model::*;
use std::collections::HashSet;

pub(super) fn check_scaling(c: &mut Checker, s: &Spec) {
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

pub(super) fn check_healing(c: &mut Checker, s: &Spec) {
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

pub(super) fn check_limits(c: &mut Checker, s: &Spec) {
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
