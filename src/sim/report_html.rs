//! `rehearse --report out.html`: one self-contained page (inline CSS and inline SVG, no script,
//! no external assets) that shows a rehearsal at a glance: the summary, load against capacity
//! with the minutes users suffered shaded, instances with sloop's actions on them, latency per
//! location and family against the objective, the error budget burning down, and a timeline.
//! Pure: a function of the report, the ground truth, the ticks and the policy.
//!
//! Everything users experienced comes from ground truth ([`Truth`]), never from what the
//! controller saw; the shaded minutes are exactly those [`minute_complies`] counts.

mod charts;
pub mod plot;
#[cfg(test)]
mod tests;

use super::{
    report::{Report, TickRecord, minute_complies},
    truth::{MinuteTruth, Truth},
};
use crate::{
    decision::{Action, ActionKind, Evidence},
    policy::Policy,
    snapshot::{IpFamily, Time},
};
use plot::{Band, Chart, Point, Series, TimeAxis, VLine, downsample, esc};
use std::fmt::Write;

/// Points kept per series. A plot is about 900 px wide; more than two points per pixel column
/// cannot be seen, and min/max buckets keep the spikes.
const MAX_POINTS: usize = 1500;
/// Rows of the timeline table before it is cut.
const MAX_ROWS: usize = 500;

const PALETTE: [&str; 8] = [
    "#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#475569",
];
const OK: &str = "#15803d";
const BAD: &str = "#b91c1c";
const SCALE_OUT: &str = "#16a34a";
const SCALE_IN: &str = "#ea580c";
const HEALING: &str = "#9333ea";
const FAULT: &str = "#334155";
const PEAK: &str = "#0369a1";

const CSS: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f1f5f9;color:#0f172a}\
main{max-width:1180px;margin:0 auto;padding:20px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 8px}\
.sub{color:#475569;margin-bottom:14px}.card{background:#fff;border-radius:10px;padding:14px 16px;margin:0 0 16px;\
box-shadow:0 1px 3px rgba(0,0,0,.08)}\
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:16px}\
.tile{background:#fff;border-radius:10px;padding:10px 14px;min-width:120px;box-shadow:0 1px 3px rgba(0,0,0,.08)}\
.tile b{display:block;font-size:22px}.tile span{color:#475569;font-size:12px}\
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:16px}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #e2e8f0;\
vertical-align:top}th{color:#475569;font-weight:600;font-size:12px}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
.ok{color:#15803d;font-weight:700}.bad{color:#b91c1c;font-weight:700}.muted{color:#64748b}\
.banner{padding:8px 12px;border-radius:8px;font-weight:600;margin-bottom:8px}\
.banner.ok{background:#dcfce7}.banner.bad{background:#fee2e2}\
.plot{width:100%;height:auto;font-size:11px}.plot .grid{stroke:#e2e8f0}.plot .frame{fill:none;stroke:#94a3b8}\
.plot .tick,.plot .unit{fill:#475569}.plot .vlabel{font-size:10px}.plot text{font-family:inherit}\
.note{color:#64748b;font-size:12px;margin:6px 0 0}\
.k{display:inline-block;white-space:nowrap;padding:0 6px;border-radius:4px;font-size:12px;background:#e2e8f0}\
.k.scale-out{background:#dcfce7}.k.scale-in{background:#ffedd5}.k.heal{background:#f3e8ff}.k.alert{background:#fee2e2}\
.k.failed{background:#fecaca}";

/// Renders the HTML report of one rehearsal. `start` is the scenario's start (Unix seconds).
pub fn render(report: &Report, truth: &Truth, ticks: &[TickRecord], policy: &Policy, start: Time) -> String {
    let axis = TimeAxis {
        start,
        offset_s: display_offset(policy),
    };
    let end = report.duration_s.max(truth.minutes.len() as f64 * 60.0).max(60.0);
    let ctx = Ctx {
        report,
        truth,
        ticks,
        policy,
        start,
        axis,
        x_range: (0.0, end),
    };
    let mut h = String::with_capacity(512 * 1024);
    let title = format!("sloop rehearsal: {} × {}", report.scenario, report.policy);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{CSS}</style></head><body><main>",
        esc(&title)
    );
    header(&mut h, &ctx);
    summary(&mut h, &ctx);
    section(
        &mut h,
        "Load and capacity",
        &charts::load_chart(&ctx).render(),
        LOAD_NOTE,
    );
    section(
        &mut h,
        "Instances",
        &charts::instances_chart(&ctx).render(),
        INSTANCES_NOTE,
    );
    let latency = charts::latency_chart(&ctx);
    section(&mut h, &latency.title.clone(), &latency.render(), LATENCY_NOTE);
    match charts::budget_chart(&ctx) {
        Some(c) => section(&mut h, "Error budget", &c.render(), BUDGET_NOTE),
        None => section(
            &mut h,
            "Error budget",
            "<p class=\"muted\">The policy has no availability objective.</p>",
            "",
        ),
    }
    timeline(&mut h, &ctx);
    h.push_str("</main></body></html>\n");
    h
}

const LOAD_NOTE: &str = "Ground truth per minute. Capacity is Σμ of the instances in rotation. Red: minutes in \
which at least one objective was violated (as counted in the summary).";
const INSTANCES_NOTE: &str = "Instances: most servers in any state during the minute; serving: mean number in \
rotation. Markers show sloop's actions; hover for cause and evidence.";
const LATENCY_NOTE: &str = "Ground truth per minute: server-side latency of served requests plus each path's network \
time. Failed requests are not in these curves but do count against the objective. Values above the clip line are \
drawn at it and marked with red ticks on the top edge (hover for the true value).";
const BUDGET_NOTE: &str = "Cumulative share of the SLO period's error budget spent since the start, computed like \
the summary: per family, the error ratio of each location over the minutes so far (weighted by offered load); \
the quorum-th worst location counts; the worse family wins; spent = ratio ÷ (1 − target) × elapsed ÷ period. \
The dotted line is the sustainable pace (the whole budget over the whole period).";

/// Everything the sections share.
struct Ctx<'a> {
    report: &'a Report,
    truth: &'a Truth,
    ticks: &'a [TickRecord],
    policy: &'a Policy,
    start: Time,
    axis: TimeAxis,
    x_range: (f64, f64),
}

impl Ctx<'_> {
    /// The time of an event `x` seconds after the start, with the date when the run spans
    /// midnight (a clock time alone would be ambiguous).
    fn when(&self, x: f64) -> String {
        let day = |x: f64| self.axis.date_time(x).get(..10).map(str::to_owned);
        if day(self.x_range.0) == day(self.x_range.1) {
            self.axis.clock(x, true)
        } else {
            self.axis.day_clock(x)
        }
    }

    /// Seconds since the start of the middle of minute `m`.
    fn mid(&self, m: &MinuteTruth) -> f64 {
        m.start - self.start + 30.0
    }

    fn series(
        &self,
        name: &str,
        colour: &'static str,
        dash: Option<&'static str>,
        f: impl Fn(&MinuteTruth) -> Option<f64>,
    ) -> Series {
        let points: Vec<Point> = self.truth.minutes.iter().map(|m| (self.mid(m), f(m))).collect();
        Series {
            name: name.into(),
            colour,
            dash,
            points: downsample(&points, MAX_POINTS),
        }
    }

    /// Faults and scheduled peaks, drawn on every plot.
    fn vlines(&self) -> Vec<VLine> {
        let mut v: Vec<VLine> = self
            .report
            .faults
            .iter()
            .map(|f| VLine {
                x: f.at_s,
                label: f.kind.clone(),
                colour: FAULT,
            })
            .collect();
        for p in &self.policy.spec.scaling.schedule {
            v.push(VLine {
                x: p.at.unix() - self.start,
                label: p.name.clone(),
                colour: PEAK,
            });
        }
        v
    }

    /// Contiguous runs of minutes in which any objective was violated, with their names.
    fn violation_bands(&self) -> Vec<Band> {
        let mut bands: Vec<Band> = Vec::new();
        let mut open: Option<(f64, f64, Vec<String>)> = None;
        for m in &self.truth.minutes {
            let bad: Vec<String> = self
                .policy
                .spec
                .objectives
                .iter()
                .filter(|o| minute_complies(self.policy, &o.name, m) == Some(false))
                .map(|o| o.name.clone())
                .collect();
            let x = m.start - self.start;
            match (&mut open, bad.is_empty()) {
                (Some(run), false) => {
                    run.1 = x + 60.0;
                    for b in bad {
                        if !run.2.contains(&b) {
                            run.2.push(b);
                        }
                    }
                }
                (None, false) => open = Some((x, x + 60.0, bad)),
                (Some(_), true) => bands.extend(open.take().map(|r| self.band(r))),
                (None, true) => {}
            }
        }
        bands.extend(open.map(|r| self.band(r)));
        bands
    }

    fn band(&self, (x0, x1, names): (f64, f64, Vec<String>)) -> Band {
        let title = format!(
            "{}–{} ({} min): {} violated",
            self.axis.clock(x0, false),
            self.axis.clock(x1, false),
            ((x1 - x0) / 60.0).round(),
            names.join(", ")
        );
        Band { x0, x1, title }
    }

    fn chart(&self, title: &str, y_unit: &str, series: Vec<Series>) -> Chart {
        Chart {
            title: title.into(),
            y_unit: y_unit.into(),
            x_range: self.x_range,
            y_clip: None,
            y_include: Vec::new(),
            series,
            bands: self.violation_bands(),
            band_legend: Some("objective violated".into()),
            vlines: self.vlines(),
            hlines: Vec::new(),
            markers: Vec::new(),
            marker_legend: Vec::new(),
            axis: self.axis,
        }
    }
}

/// The UTC offset to show clock times in: the zone the policy's schedule is written in (an
/// election night is planned in local time), else UTC.
pub fn display_offset(policy: &Policy) -> f64 {
    let Some(peak) = policy.spec.scaling.schedule.first() else {
        return 0.0;
    };
    let text = peak.at.to_string();
    let tail = text.get(text.len().saturating_sub(6)..).unwrap_or_default();
    let sign = match tail.as_bytes().first() {
        Some(b'+') => 1.0,
        Some(b'-') => -1.0,
        _ => return 0.0,
    };
    let hh: f64 = tail.get(1..3).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    let mm: f64 = tail.get(4..6).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    sign * (hh * 3600.0 + mm * 60.0)
}

fn zone_name(offset_s: f64) -> String {
    if offset_s == 0.0 {
        return "UTC".into();
    }
    let m = (offset_s.abs() / 60.0).round() as i64;
    format!(
        "UTC{}{:02}:{:02}",
        if offset_s < 0.0 { '-' } else { '+' },
        m / 60,
        m % 60
    )
}

fn duration(s: f64) -> String {
    let m = (s / 60.0).round() as i64;
    match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

fn secs(s: Option<f64>) -> String {
    match s {
        None => "never".into(),
        Some(s) if s < 120.0 => format!("{s:.0} s"),
        Some(s) => format!("{:.1} min", s / 60.0),
    }
}

fn family(f: IpFamily) -> &'static str {
    match f {
        IpFamily::V6 => "IPv6",
        IpFamily::V4 => "IPv4",
    }
}

/// The kebab-case name serde gives an enum value (`Cause`, `Severity`), so new variants need
/// no change here.
fn label<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn target(a: &Action) -> String {
    match a {
        Action::ScaleOut { count } => format!("+{count} servers"),
        Action::ScaleIn { instances } => format!("−{}: {}", instances.len(), instances.join(", ")),
        Action::Migrate { instance, from_host } => format!("{instance} off {from_host}"),
        other => other.instance().cloned().unwrap_or_default(),
    }
}

fn evidence(e: &Evidence) -> String {
    let mut s = e.summary.clone();
    let metrics: Vec<String> = e
        .metrics
        .iter()
        .take(4)
        .map(|(k, v)| format!("{k}={}", plot::fmt_num(*v, 0.001)))
        .collect();
    if !metrics.is_empty() {
        s = format!("{s} [{}]", metrics.join(", "));
    }
    if !e.locations.is_empty() {
        s = format!("{s} (from {})", e.locations.join(", "));
    }
    s
}

fn section(h: &mut String, title: &str, body: &str, note: &str) {
    let _ = write!(h, "<section class=\"card\"><h2>{}</h2>{body}", esc(title));
    if !note.is_empty() {
        let _ = write!(h, "<p class=\"note\">{}</p>", esc(note));
    }
    h.push_str("</section>");
}

// === Summary ===

fn header(h: &mut String, c: &Ctx) {
    let r = c.report;
    let _ = write!(
        h,
        "<h1>{} <span class=\"muted\">×</span> {}</h1><div class=\"sub\">decider <b>{}</b> · seed <b>{}</b> · \
         {} from {} ({}) · {} decision ticks</div>",
        esc(&r.scenario),
        esc(&r.policy),
        esc(&r.decider),
        r.seed,
        esc(&duration(r.duration_s)),
        esc(&c.axis.date_time(0.0)),
        esc(&zone_name(c.axis.offset_s)),
        r.ticks
    );
    let held = r.expectations.iter().filter(|e| e.ok).count();
    if !r.expectations.is_empty() {
        let all = held == r.expectations.len();
        let _ = write!(
            h,
            "<div class=\"banner {}\">{} {} of {} expectations held</div>",
            if all { "ok" } else { "bad" },
            if all { "✓" } else { "✗" },
            held,
            r.expectations.len()
        );
    }
    let healing_colour = if r.false_healing_actions > 0 {
        BAD
    } else {
        "inherit"
    };
    let tiles = [
        (
            "SLO-violation minutes",
            r.slo_violation_minutes.to_string(),
            if r.slo_violation_minutes > 0 { BAD } else { OK },
        ),
        ("VM-hours", format!("{:.1}", r.vm_hours), "inherit"),
        ("peak instances", r.peak_instances.to_string(), "inherit"),
        ("healing actions", r.healing_actions.to_string(), "inherit"),
        (
            "false healing",
            r.false_healing_actions.to_string(),
            healing_colour,
        ),
        ("VM churn", r.vm_churn.to_string(), "inherit"),
        ("alert episodes", r.alerts.len().to_string(), "inherit"),
    ];
    h.push_str("<div class=\"tiles\">");
    for (name, value, colour) in tiles {
        let _ = write!(
            h,
            "<div class=\"tile\"><b style=\"color:{colour}\">{}</b><span>{}</span></div>",
            esc(&value),
            esc(name)
        );
    }
    h.push_str("</div>");
}

fn summary(h: &mut String, c: &Ctx) {
    let r = c.report;
    h.push_str(
        "<div class=\"grid2\"><section class=\"card\"><h2>Objectives</h2><table><tr><th>objective</th>\
                <th>kind</th><th>compliance</th><th>violated</th><th>budget spent</th></tr>",
    );
    for o in &r.objectives {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n {}\">{:.2} %</td><td class=\"n\">{} min</td><td class=\"n\">{}</td></tr>",
            esc(&o.name),
            esc(&o.kind),
            if o.violation_minutes == 0 { "ok" } else { "bad" },
            o.compliance * 100.0,
            o.violation_minutes,
            o.budget_spent
                .map(|b| format!("{:.2} %", b * 100.0))
                .unwrap_or_else(|| "–".into())
        );
    }
    h.push_str("</table></section><section class=\"card\"><h2>Expectations</h2>");
    if r.expectations.is_empty() {
        h.push_str("<p class=\"muted\">The scenario states no expected ranges.</p>");
    } else {
        h.push_str("<table><tr><th></th><th>metric</th><th>expected</th><th>actual</th></tr>");
        for e in &r.expectations {
            let _ = write!(
                h,
                "<tr><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if e.ok { "ok" } else { "bad" },
                if e.ok { "✓" } else { "✗" },
                esc(&e.name),
                esc(&e.expected),
                esc(&e.actual)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section></div><div class=\"grid2\">");
    counts(h, "Actions by kind", &r.actions, "no actions");
    counts(h, "Refusals by reason", &r.refusals, "no refusals");
    counts(h, "Diagnoses (ticks)", &r.diagnoses, "nothing diagnosed");
    if !r.failed_actions.is_empty() {
        counts(h, "Failed actions", &r.failed_actions, "");
    }
    h.push_str("</div>");
    if !r.faults.is_empty() {
        h.push_str(
            "<section class=\"card\"><h2>Faults</h2><table><tr><th>fault</th><th>at</th><th>target</th>\
                    <th>detected after</th><th>mitigated after</th><th>how</th></tr>",
        );
        for f in &r.faults {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n {}\">{}</td><td class=\"n {}\">{}</td><td>{}</td></tr>",
                esc(&f.kind),
                esc(&c.when(f.at_s)),
                esc(&f.target),
                if f.detected_after_s.is_some() { "ok" } else { "bad" },
                esc(&secs(f.detected_after_s)),
                if f.mitigated_after_s.is_some() {
                    "ok"
                } else {
                    "bad"
                },
                esc(&secs(f.mitigated_after_s)),
                esc(f.mitigation.as_deref().unwrap_or("–"))
            );
        }
        h.push_str("</table></section>");
    }
}

fn counts(h: &mut String, title: &str, map: &std::collections::BTreeMap<String, u32>, empty: &str) {
    let _ = write!(h, "<section class=\"card\"><h2>{}</h2>", esc(title));
    if map.is_empty() {
        let _ = write!(h, "<p class=\"muted\">{}</p>", esc(empty));
    } else {
        let mut rows: Vec<(&String, &u32)> = map.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        h.push_str("<table>");
        for (k, v) in rows {
            let _ = write!(h, "<tr><td>{}</td><td class=\"n\">{v}</td></tr>", esc(k));
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
}

// === Timeline ===

fn timeline(h: &mut String, c: &Ctx) {
    // (seconds since start, order within a tick, kind class, kind, target, cause, evidence)
    let mut rows: Vec<(f64, String, String, String, String, String)> = Vec::new();
    for t in c.ticks {
        let x = t.decision.now - c.start;
        for a in &t.decision.actions {
            let kind = a.action.kind();
            let class = match kind {
                ActionKind::ScaleOut => "scale-out",
                ActionKind::ScaleIn => "scale-in",
                k if k.is_healing() => "heal",
                _ => "",
            };
            rows.push((
                x,
                class.into(),
                kind.label().into(),
                target(&a.action),
                label(&a.cause),
                evidence(&a.evidence),
            ));
        }
        for (kind, err) in &t.failed {
            rows.push((
                x,
                "failed".into(),
                format!("{} failed", kind.label()),
                String::new(),
                String::new(),
                err.clone(),
            ));
        }
    }
    for a in &c.report.alerts {
        rows.push((
            a.at_s,
            "alert".into(),
            format!("alert ({})", label(&a.severity)),
            a.name.clone(),
            format!("up {}", duration(a.lasted_s)),
            a.summary.clone(),
        ));
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = rows.len();
    let _ = write!(
        h,
        "<section class=\"card\"><h2>Timeline</h2><p class=\"note\">Actions ({} ticks with actions), failed API \
         calls and alert episodes, in order.</p><table><tr><th>time</th><th>kind</th><th>target</th><th>cause</th>\
         <th>evidence</th></tr>",
        c.ticks.iter().filter(|t| !t.decision.actions.is_empty()).count()
    );
    for (x, class, kind, target, cause, evidence) in rows.iter().take(MAX_ROWS) {
        let _ = write!(
            h,
            "<tr><td class=\"n\">{}</td><td><span class=\"k {}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.when(*x)),
            esc(class),
            esc(kind),
            esc(target),
            esc(cause),
            esc(evidence)
        );
    }
    h.push_str("</table>");
    if total > MAX_ROWS {
        let _ = write!(
            h,
            "<p class=\"note\">Showing the first {MAX_ROWS} of {total} rows; the JSON report and the \
                           decision log have all of them.</p>"
        );
    }
    if total == 0 {
        h.push_str("<p class=\"muted\">Nothing happened: no actions and no alerts.</p>");
    }
    h.push_str("</section>");
}
