//! OpenSLO `SLO`/`SLI` maps to sloop objectives: every field checked, every assumption noted.

use super::render::{number_text, one_line, pct, slug};
use super::*;

mod objective;
use crate::policy::validate::min_samples_for_percentile;

/// One sloop objective, with the comments that explain where it came from.
pub(super) struct Imported {
    pub(super) notes: Vec<String>,
    pub(super) name: String,
    pub(super) indicator: Indicator,
}

pub(super) enum Indicator {
    Availability {
        probe: String,
        target_percent: f64,
        period: Option<String>,
    },
    Latency {
        probe: String,
        percentile: f64,
        threshold: String,
        window: String,
    },
}

pub(super) struct Importer<'a> {
    pub(super) errors: Vec<Diagnostic>,
    pub(super) slis: BTreeMap<String, (Vec<PathSeg>, &'a Node)>,
    pub(super) names: BTreeSet<String>,
    /// The unit of thresholdMetric values in SLOs without the unit annotation.
    pub(super) default_unit: Option<ThresholdUnit>,
}

impl<'a> Importer<'a> {
    /// Records an error at `rel` (dotted, indices as numbers) inside `doc`, whose own path in
    /// the file is `base`; a field that is absent is located at its nearest written parent.
    pub(super) fn fail(
        &mut self,
        doc: &Node,
        base: &[PathSeg],
        rel: &str,
        message: String,
        hint: impl Into<String>,
    ) {
        let rel_segs: Vec<&str> = rel.split('.').filter(|s| !s.is_empty()).collect();
        let mut d = document::locate(doc, "", &join(&[], &rel_segs), message, hint);
        d.path = path_string(&join(base, &rel_segs));
        self.errors.push(d);
    }

    pub(super) fn slo(&mut self, base: &[PathSeg], doc: &'a Node) -> Vec<Imported> {
        let before = self.errors.len();
        match doc.field("apiVersion").and_then(text) {
            Some("openslo/v1") => {}
            Some(other) => self.fail(
                doc,
                base,
                "apiVersion",
                format!("`{other}` is not supported; sloop imports OpenSLO v1"),
                "convert the document to `apiVersion: openslo/v1` (v1alpha and v2alpha differ in shape)",
            ),
            None => self.fail(
                doc,
                base,
                "apiVersion",
                "missing `apiVersion`".into(),
                "add `apiVersion: openslo/v1`",
            ),
        }
        let Some(name) = doc.field("metadata").and_then(|m| m.field("name")).and_then(text) else {
            self.fail(
                doc,
                base,
                "metadata.name",
                "the SLO has no `metadata.name`".into(),
                "name the SLO; the sloop objective takes its name",
            );
            return Vec::new();
        };
        let Some(spec) = doc.field("spec").filter(|s| matches!(s.kind, NodeKind::Map(_))) else {
            self.fail(
                doc,
                base,
                "spec",
                format!("SLO `{name}` has no `spec` map"),
                "add the SLO's spec",
            );
            return Vec::new();
        };
        if spec.field("composite").is_some() {
            self.fail(
                doc,
                base,
                "spec.composite",
                format!("SLO `{name}` is a composite SLO"),
                "sloop keeps each objective on its own; import the component SLOs instead",
            );
        }
        let budgeting = spec
            .field("budgetingMethod")
            .and_then(text)
            .unwrap_or("Occurrences");
        if budgeting != "Occurrences" {
            self.fail(
                doc,
                base,
                "spec.budgetingMethod",
                format!("budgetingMethod `{budgeting}` cannot be mapped: sloop budgets count probe results (Occurrences), not good time slices"),
                "use `budgetingMethod: Occurrences` if counting individual probe results is acceptable",
            );
        }
        // A composite SLO weights other SLOs' objectives; its parts carry their own indicators.
        let objective_items = match spec.field("objectives").map(|o| &o.kind) {
            Some(NodeKind::Seq(items)) => items.as_slice(),
            _ => &[],
        };
        let mut composite = false;
        for (i, o) in objective_items.iter().enumerate() {
            if let Some(key) = ["compositeWeight", "indicatorRef", "indicator"]
                .into_iter()
                .find(|k| o.field(k).is_some())
            {
                composite = true;
                self.fail(
                    doc,
                    base,
                    &format!("spec.objectives.{i}.{key}"),
                    format!(
                        "objective {} of `{name}` is part of a composite SLO (`{key}`)",
                        i + 1
                    ),
                    "sloop keeps each objective on its own; import the component SLOs instead",
                );
            }
        }
        if composite {
            return Vec::new();
        }
        let indicator = self.indicator(base, doc, spec, name);
        let (period, mut window_notes) = self.time_window(base, doc, spec);
        let probe = spec.field("service").and_then(text).unwrap_or(name).to_owned();
        let unit = self.threshold_unit(base, doc);
        let objectives = match spec.field("objectives").map(|o| &o.kind) {
            Some(NodeKind::Seq(items)) if !items.is_empty() => items,
            _ => {
                self.fail(
                    doc,
                    base,
                    "spec.objectives",
                    format!("SLO `{name}` has no objectives"),
                    "add at least one objective with a `target`",
                );
                return Vec::new();
            }
        };
        if matches!(indicator, Some(Metric::Threshold)) && objectives.len() > 1 {
            // Several thresholds on one metric are several latency objectives; keep them apart.
            window_notes.push(
                "OpenSLO allows one objective per thresholdMetric; each became its own sloop objective."
                    .into(),
            );
        }
        let mut out = Vec::new();
        for (i, o) in objectives.iter().enumerate() {
            let at = |f: &str| format!("spec.objectives.{i}{}{f}", if f.is_empty() { "" } else { "." });
            let Some(target) = self.target(base, doc, o, &at, name, i) else {
                continue;
            };
            let display = o.field("displayName").and_then(text);
            let obj_name = self.unique_name(name, display, i, objectives.len());
            let mut notes = vec![match display {
                Some(d) => format!(
                    "From OpenSLO SLO `{name}` (line {}), objective \"{}\".",
                    doc.pos.line,
                    one_line(d)
                ),
                None => format!(
                    "From OpenSLO SLO `{name}` (line {}), objective {}.",
                    doc.pos.line,
                    i + 1
                ),
            }];
            notes.push(format!(
                "Needs a probe named `{probe}` under spec.probes (the OpenSLO query does not carry over: sloop measures with its own probes)."
            ));
            let indicator = match indicator {
                Some(Metric::Ratio(how)) => {
                    notes.push(format!(
                        "Availability from a ratioMetric ({how}): good probes / all probes."
                    ));
                    notes.extend(window_notes.iter().cloned());
                    Indicator::Availability {
                        probe: probe.clone(),
                        target_percent: target * 100.0,
                        period: period.clone(),
                    }
                }
                Some(Metric::Threshold) => {
                    let Some(threshold) = self.threshold(base, doc, o, &at, name, i, unit.as_ref()) else {
                        continue;
                    };
                    let percentile = target * 100.0;
                    let need = min_samples_for_percentile(percentile).max(10);
                    let window_mins = (need * ASSUMED_PROBE_INTERVAL_SECS).div_ceil(60).max(1);
                    notes.push(format!(
                        "Latency from a thresholdMetric: {} of values {} {} becomes p{} under {}.",
                        pct(target),
                        o.field("op").and_then(text).unwrap_or("lte"),
                        o.field("value").and_then(text).unwrap_or("?"),
                        number_text(percentile),
                        threshold
                    ));
                    if let Some(unit) = &unit {
                        notes.push(unit.note.clone());
                    }
                    if let Some(p) = &period {
                        notes.push(format!(
                            "OpenSLO judges this over {p}; sloop judges the percentile over a sliding window instead."
                        ));
                    }
                    notes.push(format!(
                        "The window is sized so one probe every {ASSUMED_PROBE_INTERVAL_SECS}s from one location gives the {need} samples a p{} bound needs; shorten it if the probe runs more often or a quorum pools locations.",
                        number_text(percentile)
                    ));
                    Indicator::Latency {
                        probe: probe.clone(),
                        percentile,
                        threshold,
                        window: format!("{window_mins}m"),
                    }
                }
                None => continue,
            };
            out.push(Imported {
                notes,
                name: obj_name,
                indicator,
            });
        }
        if self.errors.len() > before {
            Vec::new()
        } else {
            out
        }
    }

    pub(super) fn indicator(
        &mut self,
        base: &[PathSeg],
        doc: &Node,
        spec: &Node,
        name: &str,
    ) -> Option<Metric> {
        let (sli_spec, sli_doc, sli_base, at) = if let Some(inline) = spec.field("indicator") {
            // v1 nests the SLI as {metadata, spec}; some writers put the metric right here.
            match inline.field("spec") {
                Some(nested) => (Some(nested), doc, base.to_vec(), "spec.indicator.spec"),
                None if inline.field("ratioMetric").is_some()
                    || inline.field("thresholdMetric").is_some() =>
                {
                    (Some(inline), doc, base.to_vec(), "spec.indicator")
                }
                None => (None, doc, base.to_vec(), "spec.indicator"),
            }
        } else if let Some(reference) = spec.field("indicatorRef").and_then(text) {
            match self.slis.get(reference) {
                Some((path, sli)) => (sli.field("spec"), *sli, path.clone(), "spec"),
                None => {
                    let known: Vec<String> = self.slis.keys().map(|k| format!("`{k}`")).collect();
                    self.fail(
                        doc,
                        base,
                        "spec.indicatorRef",
                        format!("no `kind: SLI` named `{reference}` in this file"),
                        if known.is_empty() {
                            "put the SLI document in the same file (separated by `---`), or inline it as spec.indicator".to_owned()
                        } else {
                            format!("use one of: {}", known.join(", "))
                        },
                    );
                    return None;
                }
            }
        } else {
            self.fail(
                doc,
                base,
                "spec.indicator",
                format!("SLO `{name}` has no indicator"),
                "add spec.indicator with a ratioMetric or thresholdMetric, or spec.indicatorRef naming an SLI in this file",
            );
            return None;
        };
        let Some(sli_spec) = sli_spec else {
            self.fail(
                sli_doc,
                &sli_base,
                at,
                "the indicator has no `spec`".into(),
                "give the indicator a spec with a ratioMetric or thresholdMetric",
            );
            return None;
        };
        if let Some(ratio) = sli_spec.field("ratioMetric") {
            let has = |k: &str| ratio.field(k).is_some();
            let how = match (has("good"), has("bad"), has("total"), has("raw")) {
                (true, false, true, _) => "good/total",
                (false, true, true, _) => "1 − bad/total",
                (false, false, false, true) => "a raw ratio",
                _ => {
                    self.fail(
                        sli_doc,
                        &sli_base,
                        &format!("{at}.ratioMetric"),
                        "a ratioMetric needs `total` with exactly one of `good` or `bad` (or a `raw` ratio)"
                            .into(),
                        "write good/total or bad/total",
                    );
                    return None;
                }
            };
            return Some(Metric::Ratio(how));
        }
        if sli_spec.field("thresholdMetric").is_some() {
            return Some(Metric::Threshold);
        }
        self.fail(
            sli_doc,
            &sli_base,
            at,
            "the indicator has neither `ratioMetric` nor `thresholdMetric`".into(),
            "sloop maps ratioMetric to availability and thresholdMetric (lt/lte) to latency",
        );
        None
    }

    /// The SLO period as a sloop duration, and notes about how the window was mapped.
    pub(super) fn time_window(
        &mut self,
        base: &[PathSeg],
        doc: &Node,
        spec: &Node,
    ) -> (Option<String>, Vec<String>) {
        let windows = match spec.field("timeWindow").map(|w| &w.kind) {
            None => {
                return (
                    None,
                    vec!["No timeWindow: sloop's default period of 30 days applies.".into()],
                );
            }
            Some(NodeKind::Seq(items)) => items.as_slice(),
            Some(_) => {
                self.fail(
                    doc,
                    base,
                    "spec.timeWindow",
                    "timeWindow must be a list with one window".into(),
                    "write `timeWindow: [{duration: 28d, isRolling: true}]`",
                );
                return (None, Vec::new());
            }
        };
        let [window] = windows else {
            self.fail(
                doc,
                base,
                "spec.timeWindow",
                format!("{} time windows; OpenSLO v1 allows exactly one", windows.len()),
                "keep one window",
            );
            return (None, Vec::new());
        };
        let Some(raw) = window.field("duration").and_then(text) else {
            self.fail(
                doc,
                base,
                "spec.timeWindow.0.duration",
                "the time window has no `duration`".into(),
                "write a shorthand such as `28d` or `1M`",
            );
            return (None, Vec::new());
        };
        let Some(period) = shorthand(raw) else {
            self.fail(
                doc,
                base,
                "spec.timeWindow.0.duration",
                format!("`{raw}` is not an OpenSLO duration shorthand"),
                "write a whole number and one of m, h, d, w, M, Q, Y (e.g. `28d`, `1M`)",
            );
            return (None, Vec::new());
        };
        let rolling = window.field("isRolling").and_then(text) == Some("true");
        let mut notes = Vec::new();
        if let Some(cal) = window.field("calendar").filter(|_| !rolling) {
            let start = cal.field("startTime").and_then(text).unwrap_or("?");
            let zone = cal.field("timeZone").and_then(text).unwrap_or("?");
            notes.push(format!(
                "OpenSLO calendar window `{raw}` (from {start} {zone}) becomes a rolling {period}: sloop budgets are rolling, so the budget never resets at a calendar boundary."
            ));
        } else if !rolling {
            notes.push(format!("OpenSLO window `{raw}` (isRolling: false) becomes a rolling {period}: sloop budgets are rolling."));
        }
        if raw != period {
            notes.push(format!(
                "`{raw}` is written as `{period}` (OpenSLO counts M as 30, Q as 90 and Y as 365 days)."
            ));
        }
        (Some(period), notes)
    }

    pub(super) fn unique_name(&mut self, slo: &str, display: Option<&str>, i: usize, count: usize) -> String {
        let base = if count == 1 {
            slo.to_owned()
        } else {
            match display.map(slug).filter(|s| !s.is_empty()) {
                Some(s) => format!("{slo}-{s}"),
                None => format!("{slo}-{}", i + 1),
            }
        };
        let mut name = base.clone();
        let mut n = 2;
        while !self.names.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        name
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Metric {
    Ratio(&'static str),
    Threshold,
}

pub(super) struct Unit {
    pub(super) micros: f64,
    pub(super) note: String,
}

/// An OpenSLO duration shorthand (`28d`, `1M`) as a sloop duration; M, Q and Y become days
/// because sloop's `M` would mean a calendar-average month.
pub(super) fn shorthand(raw: &str) -> Option<String> {
    let t = raw.trim();
    let unit = t.chars().last()?;
    let n: u64 = t[..t.len() - unit.len_utf8()].parse().ok().filter(|n| *n > 0)?;
    Some(match unit {
        'm' | 'h' | 'd' | 'w' => format!("{n}{unit}"),
        'M' => format!("{}d", n.checked_mul(30)?),
        'Q' => format!("{}d", n.checked_mul(90)?),
        'Y' => format!("{}d", n.checked_mul(365)?),
        _ => return None,
    })
}
