//! The status page's charts, drawn with the rehearsal report's SVG plotter: each objective's
//! estimate per location and family against its threshold, the same per family as the judge
//! counts it (the quorum-th worst location), the error budget left, and the group's size with
//! sloop's actions on it. Pure.

use crate::{
    journal::{EntryOutcome, JournalEntry},
    run::{
        status::{ObjectiveInfo, PolicyView},
        trend::{Line, Trend},
    },
    sim::report_html::plot::{Chart, HLine, Marker, Point, Series, Shape, TimeAxis, downsample},
    snapshot::{IpFamily, Time},
};
use std::collections::BTreeMap;

const PALETTE: [&str; 8] = [
    "#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#475569",
];
const THRESHOLD: &str = "#dc2626";
const MAX_POINTS: usize = 900;
/// The charts show at least this much time, so the first minutes do not fill the width.
const MIN_SPAN: f64 = 15.0 * 60.0;

/// Time frame shared by a policy's charts.
pub struct Frame {
    start: Time,
    end: Time,
    axis: TimeAxis,
}

impl Frame {
    /// The last `window` seconds of `view`'s trend, times shown `offset` seconds east of UTC;
    /// `None` before there is any data.
    pub fn of(view: &PolicyView, offset: f64, window: f64) -> Option<Frame> {
        let end = view.trend.end()?;
        let start = view.trend.start()?.max(end - window);
        Some(Frame {
            start,
            end: end.max(start + MIN_SPAN.min(window)),
            axis: TimeAxis {
                start,
                offset_s: offset,
            },
        })
    }

    fn points(&self, line: &Line, scale: f64) -> Vec<Point> {
        let pts: Vec<Point> = line
            .iter()
            .filter(|(t, _)| *t >= self.start)
            .map(|(t, v)| (t - self.start, Some(v * scale)))
            .collect();
        downsample(&pts, MAX_POINTS)
    }

    fn chart(&self, title: String, unit: &str, series: Vec<Series>) -> Chart {
        Chart {
            title,
            y_unit: unit.into(),
            x_range: (0.0, self.end - self.start),
            y_clip: None,
            y_include: Vec::new(),
            series,
            bands: Vec::new(),
            band_legend: None,
            vlines: Vec::new(),
            hlines: Vec::new(),
            markers: Vec::new(),
            marker_legend: Vec::new(),
            axis: self.axis,
        }
    }
}

fn fam(f: IpFamily) -> &'static str {
    match f {
        IpFamily::V6 => "IPv6",
        IpFamily::V4 => "IPv4",
    }
}

/// How an objective's estimate is drawn: unit, scale and the threshold line.
fn scale(o: &ObjectiveInfo) -> (&'static str, f64, String) {
    if o.kind == "latency" {
        ("ms", 1000.0, format!("objective {:.0} ms", o.threshold * 1000.0))
    } else {
        (
            "error %",
            100.0,
            format!("budget line {:.3} %", o.threshold * 100.0),
        )
    }
}

fn threshold(o: &ObjectiveInfo, k: f64, label: String) -> HLine {
    HLine {
        y: o.threshold * k,
        label,
        colour: THRESHOLD,
    }
}

/// Estimate per (location, family): one colour per location, IPv4 dashed.
pub fn by_location(f: &Frame, trend: &Trend, o: &ObjectiveInfo) -> Option<Chart> {
    let lines = trend.series.get(&o.name)?;
    let (unit, k, label) = scale(o);
    let mut colours: Vec<&str> = Vec::new();
    let series = lines
        .iter()
        .map(|((loc, family), line)| {
            let i = match colours.iter().position(|l| *l == loc.as_str()) {
                Some(i) => i,
                None => {
                    colours.push(loc.as_str());
                    colours.len() - 1
                }
            };
            Series {
                name: format!("{loc} {}", fam(*family)),
                colour: PALETTE[i % PALETTE.len()],
                dash: (*family == IpFamily::V4).then_some("5 3"),
                points: f.points(line, k),
            }
        })
        .collect();
    let mut c = f.chart(format!("{} by location", o.name), unit, series);
    c.y_include = vec![o.threshold * k];
    c.y_clip = (o.kind == "latency").then_some(o.threshold * k * 3.0);
    c.hlines = vec![threshold(o, k, label)];
    Some(c)
}

/// Per family, the quorum-th worst location at each pass: the value the judge weighs.
pub fn by_family(f: &Frame, trend: &Trend, o: &ObjectiveInfo) -> Option<Chart> {
    let lines = trend.series.get(&o.name)?;
    let (unit, k, label) = scale(o);
    let mut per_family: BTreeMap<IpFamily, BTreeMap<u64, Vec<f64>>> = BTreeMap::new();
    for ((_, family), line) in lines {
        let by_t = per_family.entry(*family).or_default();
        for (t, v) in line {
            by_t.entry(t.to_bits()).or_default().push(*v);
        }
    }
    let q = o.quorum.max(1) as usize;
    let series = per_family
        .into_iter()
        .enumerate()
        .map(|(i, (family, by_t))| {
            let mut pts: Vec<(Time, f64)> = by_t
                .into_iter()
                .filter_map(|(t, mut vs)| {
                    vs.sort_by(|a, b| b.total_cmp(a));
                    let v = vs.get(q.min(vs.len()) - 1).copied()?;
                    Some((f64::from_bits(t), v))
                })
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let line: Line = pts.into_iter().collect();
            Series {
                name: format!("{} ({} worst location)", fam(family), ordinal(q)),
                colour: [PALETTE[0], PALETTE[1]][i % 2],
                dash: None,
                points: f.points(&line, k),
            }
        })
        .collect();
    let mut c = f.chart(format!("{} by family", o.name), unit, series);
    c.y_include = vec![o.threshold * k];
    c.y_clip = (o.kind == "latency").then_some(o.threshold * k * 3.0);
    c.hlines = vec![threshold(o, k, label)];
    Some(c)
}

/// Share of the error budget left.
pub fn budget(f: &Frame, trend: &Trend, o: &ObjectiveInfo) -> Option<Chart> {
    let line = trend.budget.get(&o.name)?;
    let series = vec![Series {
        name: "error budget left".into(),
        colour: PALETTE[2],
        dash: None,
        points: f.points(line, 100.0),
    }];
    let mut c = f.chart(format!("{}: error budget left", o.name), "%", series);
    c.y_include = vec![0.0, 100.0];
    Some(c)
}

/// Requests per second arriving against what the servers in rotation can take (as the
/// rehearsal report draws it), and errors per second; `None` without a load source.
pub fn load(f: &Frame, trend: &Trend) -> Option<Chart> {
    if trend.load.is_empty() {
        return None;
    }
    let mut series = vec![Series {
        name: "offered req/s".into(),
        colour: PALETTE[0],
        dash: None,
        points: f.points(&trend.load, 1.0),
    }];
    if !trend.capacity.is_empty() {
        series.push(Series {
            name: "capacity in rotation req/s".into(),
            colour: PALETTE[3],
            dash: Some("6 3"),
            points: f.points(&trend.capacity, 1.0),
        });
    }
    if !trend.errors.is_empty() {
        series.push(Series {
            name: "errors req/s".into(),
            colour: THRESHOLD,
            dash: None,
            points: f.points(&trend.errors, 1.0),
        });
    }
    let mut c = f.chart("Load and capacity".into(), "req/s", series);
    c.y_include = vec![0.0];
    Some(c)
}

/// Servers and servers in rotation, with sloop's actions as markers.
pub fn instances(f: &Frame, view: &PolicyView, journal: &[std::sync::Arc<JournalEntry>]) -> Chart {
    let mut series = vec![
        Series {
            name: "servers".into(),
            colour: PALETTE[7],
            dash: None,
            points: f.points(&view.trend.instances, 1.0),
        },
        Series {
            name: "in rotation".into(),
            colour: PALETTE[0],
            dash: None,
            points: f.points(&view.trend.serving, 1.0),
        },
    ];
    if !view.trend.needed.is_empty() {
        series.push(Series {
            name: "needed by the load".into(),
            colour: PALETTE[3],
            dash: Some("4 3"),
            points: f.points(&view.trend.needed, 1.0),
        });
    }
    let mut c = f.chart("Servers".into(), "servers", series);
    let (min, max) = view.size;
    c.hlines = vec![
        HLine {
            y: f64::from(min),
            label: format!("min {min}"),
            colour: "#64748b",
        },
        HLine {
            y: f64::from(max),
            label: format!("max {max}"),
            colour: "#64748b",
        },
    ];
    let level = |t: Time| {
        view.trend
            .instances
            .iter()
            .rev()
            .find(|(x, _)| *x <= t)
            .map_or(0.0, |p| p.1)
    };
    for e in journal.iter().filter(|e| e.at >= f.start) {
        if !matches!(
            e.outcome,
            EntryOutcome::Done | EntryOutcome::Would | EntryOutcome::Failed
        ) {
            continue;
        }
        let (shape, colour) = match e.kind {
            crate::decision::ActionKind::ScaleOut => (Shape::Up, "#16a34a"),
            crate::decision::ActionKind::ScaleIn => (Shape::Down, "#ea580c"),
            crate::decision::ActionKind::Admit => continue,
            _ => (Shape::Diamond, "#9333ea"),
        };
        c.markers.push(Marker {
            x: e.at - f.start,
            y: level(e.at),
            shape,
            colour,
            title: format!(
                "{} {} ({}): {}",
                e.kind.label(),
                e.target(),
                e.outcome.label(),
                e.evidence.summary
            ),
        });
    }
    c.marker_legend = vec![
        (Shape::Up, "#16a34a", "scale-out".into()),
        (Shape::Down, "#ea580c", "scale-in".into()),
        (Shape::Diamond, "#9333ea", "healing".into()),
    ];
    c.y_include = vec![f64::from(min)];
    c
}

/// `1st`, `2nd`, `3rd`, `4th` … (the quorum-th worst location).
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
