//! Objectives: windows long enough for their percentile, quorums the probes can meet, burn
//! rates that fit the window.

use super::{Checker, min_samples_for_percentile, p, probe_named, probe_names};
use crate::document::PathSeg;
use crate::policy::model::*;
use std::collections::HashSet;

pub(super) fn check_objectives(c: &mut Checker, s: &Spec) {
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
