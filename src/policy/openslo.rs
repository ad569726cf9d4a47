//! `sloop import openslo`: OpenSLO v1 `SLO` documents to a YAML fragment of sloop objectives.
//!
//! OpenSLO describes *what* to promise over metrics some other system stores; sloop measures
//! with its own probes. So the import keeps the promise (target, percentile, threshold, period)
//! and says in comments what the admin has to wire up (which probe name the objective expects,
//! which assumptions were made). What has no sloop equivalent is a located error naming the
//! field, never a silent approximation. Pure.
//!
//! ```text
//!  bytes ─► precheck ─► split on `---` ─► tree::parse per document ─► SLO/SLI maps ─► objectives
//! ```

use super::validate::min_samples_for_percentile;
use crate::document::{
    self, Diagnostic, Limits, PathSeg, Pos, path_string,
    tree::{self, Node, NodeKind},
};
use std::collections::{BTreeMap, BTreeSet};

/// The probe interval sloop assumes when sizing a latency window (the model's default).
const ASSUMED_PROBE_INTERVAL_SECS: u64 = 10;
/// The annotation that says what unit a thresholdMetric `value` is in.
pub const THRESHOLD_UNIT_ANNOTATION: &str = "sloop.dev/threshold-unit";

/// Converts OpenSLO documents to a YAML fragment holding a sloop `objectives:` list, with
/// comments that say what to wire up. Every problem is reported, located in `file`.
pub fn import(file: &str, bytes: &[u8]) -> Result<String, Vec<Diagnostic>> {
    let limits = Limits::default();
    let located = |mut d: Diagnostic| {
        d.file = file.to_owned();
        d
    };
    let src = tree::precheck(bytes, &limits).map_err(|d| vec![located(d)])?;
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for (first_line, chunk) in split_documents(src) {
        match tree::parse(chunk, &limits) {
            Ok(mut node) => {
                shift(&mut node, first_line - 1);
                match node.kind {
                    // The OpenSLO Go examples keep several objects in one top-level list.
                    NodeKind::Seq(items) => docs.extend(
                        items
                            .into_iter()
                            .enumerate()
                            .map(|(i, n)| (vec![PathSeg::Index(i)], n)),
                    ),
                    _ if node.is_null() => {}
                    _ => docs.push((Vec::new(), node)),
                }
            }
            Err(mut d) => {
                d.pos.line += first_line - 1;
                errors.push(located(d));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut importer = Importer {
        errors: Vec::new(),
        slis: BTreeMap::new(),
        names: BTreeSet::new(),
    };
    // SLIs first, so an SLO may refer to an SLI written after it.
    for (path, doc) in &docs {
        if kind_of(doc) == Some("SLI")
            && let Some(name) = doc.field("metadata").and_then(|m| m.field("name")).and_then(text)
        {
            importer.slis.insert(name.to_owned(), (path.clone(), doc));
        }
    }
    let mut objectives = Vec::new();
    let mut skipped = Vec::new();
    for (path, doc) in &docs {
        match kind_of(doc) {
            Some("SLO") => objectives.extend(importer.slo(path, doc)),
            Some("SLI") => {}
            Some(other) => skipped.push(format!("{other} at line {}", doc.pos.line)),
            None => importer.fail(
                doc,
                path,
                "kind",
                "document has no `kind`".into(),
                "OpenSLO documents start with `apiVersion: openslo/v1` and `kind: SLO`",
            ),
        }
    }
    if objectives.is_empty() && importer.errors.is_empty() {
        importer.errors.push(Diagnostic::at(
            Pos::START,
            "no OpenSLO `kind: SLO` document found".into(),
            "sloop imports SLO documents (with their SLIs); Service, DataSource and alerting objects have no sloop equivalent",
        ));
    }
    if !importer.errors.is_empty() {
        importer.errors.sort_by_key(|d| d.pos);
        return Err(importer.errors.into_iter().map(located).collect());
    }
    Ok(render(file, &objectives, &skipped))
}

// === Splitting ===

/// Splits a multi-document stream at `---` lines, keeping each chunk's first line number so
/// positions stay those of the file. The marker line stays in its chunk (one document each).
fn split_documents(src: &str) -> Vec<(usize, &str)> {
    let mut chunks = Vec::new();
    let (mut start, mut start_line) = (0, 1);
    let mut offset = 0;
    for (i, line) in src.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_marker = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        if is_marker && offset > start {
            chunks.push((start_line, &src[start..offset]));
            start = offset;
            start_line = i + 1;
        }
        offset += line.len();
    }
    chunks.push((start_line, &src[start..]));
    chunks
}

fn shift(node: &mut Node, lines: usize) {
    node.pos.line += lines;
    match &mut node.kind {
        NodeKind::Scalar { .. } => {}
        NodeKind::Seq(items) => items.iter_mut().for_each(|n| shift(n, lines)),
        NodeKind::Map(entries) => {
            for e in entries {
                e.key_pos.line += lines;
                shift(&mut e.value, lines);
            }
        }
    }
}

// === Reading the tree ===

trait Fields {
    fn field(&self, key: &str) -> Option<&Node>;
}

impl Fields for Node {
    fn field(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|e| e.key == key).map(|e| &e.value),
            _ => None,
        }
    }
}

fn text(node: &Node) -> Option<&str> {
    node.as_scalar().filter(|_| !node.is_null())
}

fn number(node: &Node) -> Option<f64> {
    match &node.kind {
        NodeKind::Scalar { text, plain: true } => text.parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn kind_of(doc: &Node) -> Option<&str> {
    doc.field("kind").and_then(text)
}

fn join(base: &[PathSeg], rest: &[&str]) -> Vec<PathSeg> {
    let mut p = base.to_vec();
    for seg in rest {
        p.push(match seg.parse::<usize>() {
            Ok(i) => PathSeg::Index(i),
            Err(_) => PathSeg::Key((*seg).to_owned()),
        });
    }
    p
}

// === Conversion ===

/// One sloop objective, with the comments that explain where it came from.
struct Imported {
    notes: Vec<String>,
    name: String,
    indicator: Indicator,
}

enum Indicator {
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

struct Importer<'a> {
    errors: Vec<Diagnostic>,
    slis: BTreeMap<String, (Vec<PathSeg>, &'a Node)>,
    names: BTreeSet<String>,
}

impl<'a> Importer<'a> {
    /// Records an error at `rel` (dotted, indices as numbers) inside `doc`, whose own path in
    /// the file is `base`; a field that is absent is located at its nearest written parent.
    fn fail(&mut self, doc: &Node, base: &[PathSeg], rel: &str, message: String, hint: impl Into<String>) {
        let rel_segs: Vec<&str> = rel.split('.').filter(|s| !s.is_empty()).collect();
        let mut d = document::locate(doc, "", &join(&[], &rel_segs), message, hint);
        d.path = path_string(&join(base, &rel_segs));
        self.errors.push(d);
    }

    fn slo(&mut self, base: &[PathSeg], doc: &'a Node) -> Vec<Imported> {
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
                    let Some(threshold) = self.threshold(base, doc, o, &at, name, i, &unit) else {
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
                    notes.push(unit.note.clone());
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

    fn indicator(&mut self, base: &[PathSeg], doc: &Node, spec: &Node, name: &str) -> Option<Metric> {
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
    fn time_window(&mut self, base: &[PathSeg], doc: &Node, spec: &Node) -> (Option<String>, Vec<String>) {
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

    fn target(
        &mut self,
        base: &[PathSeg],
        doc: &Node,
        o: &Node,
        at: &dyn Fn(&str) -> String,
        name: &str,
        i: usize,
    ) -> Option<f64> {
        let (field, target) = match (o.field("target"), o.field("targetPercent")) {
            (Some(t), None) => ("target", number(t)),
            (None, Some(t)) => ("targetPercent", number(t).map(|p| p / 100.0)),
            (Some(_), Some(_)) => {
                self.fail(
                    doc,
                    base,
                    &at("targetPercent"),
                    "both `target` and `targetPercent` are set".into(),
                    "keep one",
                );
                return None;
            }
            (None, None) => {
                self.fail(
                    doc,
                    base,
                    &at(""),
                    format!("objective {} of `{name}` has no `target`", i + 1),
                    "add `target: 0.999` (a fraction) or `targetPercent: 99.9`",
                );
                return None;
            }
        };
        match target {
            Some(t) if t > 0.0 && t < 1.0 => Some(t),
            _ => {
                self.fail(
                    doc,
                    base,
                    &at(field),
                    format!(
                        "`{field}` must be a number strictly between 0 and {}",
                        if field == "target" { "1" } else { "100" }
                    ),
                    "a target of 100 % leaves no error budget; e.g. `target: 0.999`",
                );
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn threshold(
        &mut self,
        base: &[PathSeg],
        doc: &Node,
        o: &Node,
        at: &dyn Fn(&str) -> String,
        name: &str,
        i: usize,
        unit: &Unit,
    ) -> Option<String> {
        match o.field("op").and_then(text) {
            Some("lt" | "lte") => {}
            Some(op @ ("gt" | "gte")) => {
                self.fail(
                    doc,
                    base,
                    &at("op"),
                    format!("`op: {op}` cannot be mapped: sloop latency objectives keep a percentile *under* a threshold"),
                    "only thresholdMetrics with `op: lt` or `op: lte` (latency-like: lower is better) can be imported",
                );
                return None;
            }
            Some(other) => {
                self.fail(
                    doc,
                    base,
                    &at("op"),
                    format!("`{other}` is not an OpenSLO operator"),
                    "use one of lt, lte, gt, gte",
                );
                return None;
            }
            None => {
                self.fail(
                    doc,
                    base,
                    &at("op"),
                    format!("objective {} of `{name}` has no `op`", i + 1),
                    "a thresholdMetric objective needs `op: lte` and a `value`",
                );
                return None;
            }
        }
        match o.field("value").and_then(number) {
            Some(v) if v > 0.0 => {
                let micros = (v * unit.micros).round() as u64;
                Some(if micros.is_multiple_of(1000) {
                    format!("{}ms", micros / 1000)
                } else {
                    format!("{micros}us")
                })
            }
            _ => {
                self.fail(
                    doc,
                    base,
                    &at("value"),
                    format!("objective {} of `{name}` needs a positive numeric `value`", i + 1),
                    "the threshold, e.g. `value: 800` (milliseconds)",
                );
                None
            }
        }
    }

    fn threshold_unit(&mut self, base: &[PathSeg], doc: &Node) -> Unit {
        let default = Unit {
            micros: 1000.0,
            note: format!(
                "OpenSLO values are unitless; the value was read as milliseconds. Annotate the SLO with `{THRESHOLD_UNIT_ANNOTATION}: s` (or us) if it is not."
            ),
        };
        let Some(raw) = doc
            .field("metadata")
            .and_then(|m| m.field("annotations"))
            .and_then(|a| a.field(THRESHOLD_UNIT_ANNOTATION))
        else {
            return default;
        };
        let micros = match text(raw) {
            Some("s") => 1_000_000.0,
            Some("ms") => 1000.0,
            Some("us") => 1.0,
            other => {
                self.fail(
                    doc,
                    base,
                    &format!("metadata.annotations.{THRESHOLD_UNIT_ANNOTATION}"),
                    format!("`{}` is not a unit sloop knows", other.unwrap_or("")),
                    "use s, ms or us",
                );
                return default;
            }
        };
        let unit = text(raw).unwrap_or("ms");
        Unit {
            micros,
            note: format!("The value is in {unit}, as annotation `{THRESHOLD_UNIT_ANNOTATION}` says."),
        }
    }

    fn unique_name(&mut self, slo: &str, display: Option<&str>, i: usize, count: usize) -> String {
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
enum Metric {
    Ratio(&'static str),
    Threshold,
}

struct Unit {
    micros: f64,
    note: String,
}

/// An OpenSLO duration shorthand (`28d`, `1M`) as a sloop duration; M, Q and Y become days
/// because sloop's `M` would mean a calendar-average month.
fn shorthand(raw: &str) -> Option<String> {
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

// === Output ===

fn render(file: &str, objectives: &[Imported], skipped: &[String]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# sloop objectives imported from {} by `sloop import openslo`.\n",
        one_line(file)
    ));
    out.push_str("# Paste the list under `spec:` of a sloop policy and define the probes it names;\n");
    out.push_str("# then run `sloop check` and `sloop explain` on the policy.\n");
    if !skipped.is_empty() {
        out.push_str(&format!(
            "# Skipped (no sloop equivalent): {}.\n",
            skipped.join(", ")
        ));
    }
    out.push_str("objectives:\n");
    for o in objectives {
        for note in &o.notes {
            wrap_comment(&mut out, note);
        }
        out.push_str(&format!("  - name: {}\n", scalar(&o.name)));
        match &o.indicator {
            Indicator::Availability {
                probe,
                target_percent,
                period,
            } => {
                out.push_str("    availability:\n");
                out.push_str(&format!("      probe: {}\n", scalar(probe)));
                out.push_str(&format!("      target: {}%\n", number_text(*target_percent)));
                if let Some(p) = period {
                    out.push_str(&format!("      period: {p}\n"));
                }
            }
            Indicator::Latency {
                probe,
                percentile,
                threshold,
                window,
            } => {
                out.push_str("    latency:\n");
                out.push_str(&format!("      probe: {}\n", scalar(probe)));
                out.push_str(&format!("      percentile: {}\n", number_text(*percentile)));
                out.push_str(&format!("      threshold: {threshold}\n"));
                out.push_str(&format!("      window: {window}\n"));
            }
        }
    }
    out
}

/// A YAML scalar: plain when it is safe, double-quoted (JSON escaping is valid YAML) otherwise.
fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && !matches!(
            s,
            "true" | "false" | "null" | "True" | "False" | "Null" | "TRUE" | "FALSE" | "NULL"
        );
    if plain {
        s.to_owned()
    } else {
        serde_json::Value::from(s).to_string()
    }
}

/// Writes `text` as `  # ` comment lines of at most about 100 columns.
fn wrap_comment(out: &mut String, text: &str) {
    let mut line = String::from("  #");
    for word in text.split_whitespace() {
        if line.len() > 4 && line.len() + 1 + word.len() > 100 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("  #  ");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn slug(s: &str) -> String {
    let lowered: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    lowered
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

fn number_text(x: f64) -> String {
    let text = format!("{x:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn pct(fraction: f64) -> String {
    format!("{} %", number_text(fraction * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_at_markers_and_keep_their_line_numbers() {
        let src = "a: 1\n---\nb: 2\n--- # third\nc: 3\n";
        let chunks = split_documents(src);
        assert_eq!(
            chunks,
            vec![(1, "a: 1\n"), (2, "---\nb: 2\n"), (4, "--- # third\nc: 3\n")]
        );
        // A leading marker does not produce an empty first chunk.
        assert_eq!(split_documents("---\na: 1\n"), vec![(1, "---\na: 1\n")]);
        // `----` and indented `---` are content, not markers.
        assert_eq!(split_documents("a: |\n  ---\n----\n").len(), 1);
    }

    #[test]
    fn shorthand_durations_become_sloop_durations() {
        assert_eq!(shorthand("28d").as_deref(), Some("28d"));
        assert_eq!(shorthand("1w").as_deref(), Some("1w"));
        assert_eq!(shorthand("1M").as_deref(), Some("30d"));
        assert_eq!(shorthand("1Q").as_deref(), Some("90d"));
        assert_eq!(shorthand("1Y").as_deref(), Some("365d"));
        assert_eq!(shorthand("5m").as_deref(), Some("5m"));
        assert_eq!(shorthand("28 days"), None);
        assert_eq!(shorthand("0d"), None);
        assert_eq!(shorthand("d"), None);
        assert_eq!(shorthand("99999999999999999999Y"), None);
    }

    #[test]
    fn unsafe_names_are_quoted() {
        assert_eq!(scalar("web"), "web");
        assert_eq!(scalar("my service: prod"), "\"my service: prod\"");
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(scalar("1web"), "\"1web\"");
    }
}
