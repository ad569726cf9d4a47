//! The four plots of the HTML report, built from ground truth and the decision ticks. Pure.

use super::{
    BAD, Ctx, HEALING, MAX_POINTS, PALETTE, SCALE_IN, SCALE_OUT, evidence, family, label,
    plot::{self, Chart, HLine, Marker, Point, Series, Shape, downsample},
    target,
};
use crate::{
    decision::ActionKind,
    policy::{AvailabilityObjective, Indicator},
    snapshot::IpFamily,
};
use std::fmt::Write;

/// Latency is clipped at this multiple of the highest threshold so one outage does not flatten
/// the rest of the plot.
const CLIP_FACTOR: f64 = 3.0;

pub(super) fn load_chart(c: &Ctx) -> Chart {
    let series = vec![
        c.series("served req/s", PALETTE[2], None, |m| Some(m.served)),
        c.series("offered req/s", PALETTE[0], None, |m| Some(m.offered)),
        c.series("capacity Σμ req/s", PALETTE[3], Some("6 3"), |m| {
            Some(m.capacity)
        }),
        c.series("errors req/s", BAD, None, |m| Some(m.errors)),
    ];
    c.chart("Load and capacity", "req/s", series)
}

/// How an action is drawn on the instances plot, if at all (admissions are routine).
fn marker_class(kind: ActionKind) -> Option<(Shape, &'static str)> {
    match kind {
        ActionKind::ScaleOut => Some((Shape::Up, SCALE_OUT)),
        ActionKind::ScaleIn => Some((Shape::Down, SCALE_IN)),
        k if k.is_healing() => Some((Shape::Diamond, HEALING)),
        _ => None,
    }
}

pub(super) fn instances_chart(c: &Ctx) -> Chart {
    let series = vec![
        c.series("instances", PALETTE[7], None, |m| Some(m.instances as f64)),
        c.series("serving", PALETTE[0], None, |m| Some(m.serving)),
    ];
    let mut chart = c.chart("Instances", "instances", series);
    let size = &c.policy.spec.group.size;
    chart.hlines = vec![
        HLine {
            y: size.min as f64,
            label: format!("min {}", size.min),
            colour: "#64748b",
        },
        HLine {
            y: size.max as f64,
            label: format!("max {}", size.max),
            colour: "#64748b",
        },
    ];
    // One marker per kind and ~5 px column; the tooltip lists what happened there.
    let span = (c.x_range.1 - c.x_range.0).max(1.0);
    let first_minute = c.truth.minutes.first().map_or(c.start, |m| m.start);
    // (kind shape, pixel column) → the marker and the tooltip lines.
    let mut groups: Vec<((Shape, i64), Marker, Vec<String>)> = Vec::new();
    for t in c.ticks {
        for a in &t.decision.actions {
            let Some((shape, colour)) = marker_class(a.action.kind()) else {
                continue;
            };
            let x = t.decision.now - c.start;
            let col = (x / span * 200.0).floor() as i64;
            let minute = ((t.decision.now - first_minute) / 60.0).floor().max(0.0) as usize;
            let y = c
                .truth
                .minutes
                .get(minute.min(c.truth.minutes.len().saturating_sub(1)))
                .map_or(0.0, |m| m.instances as f64);
            let line = format!(
                "{} {} {} ({}): {}",
                c.when(x),
                a.action.kind().label(),
                target(&a.action),
                label(&a.cause),
                evidence(&a.evidence)
            );
            match groups.iter_mut().find(|g| g.0 == (shape, col)) {
                Some(g) => {
                    g.1.y = g.1.y.max(y);
                    g.2.push(line)
                }
                None => groups.push((
                    (shape, col),
                    Marker {
                        x,
                        y,
                        shape,
                        colour,
                        title: String::new(),
                    },
                    vec![line],
                )),
            }
        }
    }
    chart.markers = groups
        .into_iter()
        .map(|(_, mut marker, lines)| {
            let n = lines.len();
            marker.title = lines.into_iter().take(6).collect::<Vec<_>>().join("\n");
            if n > 6 {
                let _ = write!(marker.title, "\n… and {} more", n - 6);
            }
            marker
        })
        .collect();
    chart.marker_legend = vec![
        (Shape::Up, SCALE_OUT, "scale-out".into()),
        (Shape::Down, SCALE_IN, "scale-in".into()),
        (Shape::Diamond, HEALING, "healing".into()),
    ];
    chart
}

pub(super) fn latency_chart(c: &Ctx) -> Chart {
    let latency: Vec<(&str, f64, f64)> = c
        .policy
        .spec
        .objectives
        .iter()
        .filter_map(|o| match o.indicator()? {
            Indicator::Latency(l) => Some((o.name.as_str(), l.percentile, l.threshold.secs())),
            Indicator::Availability(_) => None,
        })
        .collect();
    // Plot the percentile the (first) latency objective is about.
    let pct = latency.first().map_or(95.0, |l| l.1);
    let mut series = Vec::new();
    let mut paths: Vec<(String, IpFamily)> = Vec::new();
    for m in &c.truth.minutes {
        for p in &m.paths {
            if !paths.iter().any(|(l, f)| l == &p.location && *f == p.family) {
                paths.push((p.location.clone(), p.family));
            }
        }
    }
    for (loc, fam) in &paths {
        let i = c
            .truth
            .locations
            .iter()
            .position(|l| l == loc)
            .unwrap_or(paths.len());
        let colour = PALETTE[i % PALETTE.len()];
        let dash = (*fam == IpFamily::V4).then_some("5 3");
        series.push(c.series(&format!("{loc} {}", family(*fam)), colour, dash, |m| {
            let p = m.paths.iter().find(|p| &p.location == loc && p.family == *fam)?;
            let v = match pct {
                95.0 => p.p95,
                99.0 => p.p99,
                50.0 => p.p50,
                _ => m.path_quantile(loc, *fam, pct),
            };
            v.map(|s| s * 1000.0)
        }));
    }
    let title = format!("p{} latency per location and family", plot::fmt_num(pct, 0.1));
    let mut chart = c.chart(&title, "ms", series);
    let top = latency.iter().map(|l| l.2 * 1000.0).fold(0.0, f64::max);
    if top > 0.0 {
        chart.y_clip = Some(top * CLIP_FACTOR);
        chart.y_include = vec![top * 1.15];
    }
    chart.hlines = latency
        .iter()
        .map(|(name, p, t)| HLine {
            y: t * 1000.0,
            label: format!(
                "{name}: p{} ≤ {} ms",
                plot::fmt_num(*p, 0.1),
                plot::fmt_num(t * 1000.0, 1.0)
            ),
            colour: BAD,
        })
        .collect();
    chart
}

/// Cumulative share of the period's budget spent at the end of each minute, by the method of
/// `report::build`'s budget arithmetic applied to the minutes so far, so the last point equals the summary.
pub(super) fn budget_curve(c: &Ctx, a: &AvailabilityObjective) -> Vec<Point> {
    let Some(probe) = c.policy.spec.probes.iter().find(|p| p.name == a.probe) else {
        return Vec::new();
    };
    let families = IpFamily::expand(probe.family);
    // Running (bad, total) request sums per (family, location).
    let mut sums = vec![(0.0f64, 0.0f64); families.len() * probe.locations.len()];
    let budget = (1.0 - a.target.fraction()).max(1e-12);
    let period = a.period.secs().max(1.0);
    let k = a.quorum.max(1) as usize - 1;
    let mut out = Vec::with_capacity(c.truth.minutes.len());
    for (i, m) in c.truth.minutes.iter().enumerate() {
        let mut worst: f64 = 0.0;
        for (fi, fam) in families.iter().enumerate() {
            let mut ratios = Vec::with_capacity(probe.locations.len());
            for (li, loc) in probe.locations.iter().enumerate() {
                let s = &mut sums[fi * probe.locations.len() + li];
                if let Some(p) = m.paths.iter().find(|p| &p.location == loc && p.family == *fam) {
                    s.0 += p.error_ratio * m.offered;
                    s.1 += m.offered;
                }
                ratios.push(if s.1 > 0.0 { s.0 / s.1 } else { 0.0 });
            }
            ratios.sort_by(|x, y| y.total_cmp(x));
            if let Some(r) = ratios.get(k) {
                worst = worst.max(*r);
            }
        }
        let elapsed = (i + 1) as f64 * 60.0;
        out.push((
            m.start - c.start + 60.0,
            Some(worst / budget * elapsed / period * 100.0),
        ));
    }
    out
}

pub(super) fn budget_chart(c: &Ctx) -> Option<Chart> {
    let objectives: Vec<(&str, &AvailabilityObjective)> = c
        .policy
        .spec
        .objectives
        .iter()
        .filter_map(|o| Some((o.name.as_str(), o.availability.as_ref()?)))
        .collect();
    if objectives.is_empty() {
        return None;
    }
    let mut series: Vec<Series> = objectives
        .iter()
        .enumerate()
        .map(|(i, (name, a))| Series {
            name: format!("{name}: % of {} budget spent", a.period),
            colour: [BAD, PALETTE[3], PALETTE[5]][i % 3],
            dash: None,
            points: downsample(&budget_curve(c, a), MAX_POINTS),
        })
        .collect();
    let (_, first) = objectives[0];
    let pace: Vec<Point> = [0.0, c.x_range.1]
        .iter()
        .map(|x| (*x, Some(x / first.period.secs().max(1.0) * 100.0)))
        .collect();
    series.push(Series {
        name: format!("sustainable pace ({})", first.period),
        colour: "#64748b",
        dash: Some("2 3"),
        points: pace,
    });
    let mut chart = c.chart("Error budget", "%", series);
    chart.hlines = vec![HLine {
        y: 100.0,
        label: "budget exhausted".into(),
        colour: BAD,
    }];
    Some(chart)
}
