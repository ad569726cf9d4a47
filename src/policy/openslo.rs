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

mod convert;
mod render;

use crate::document::{
    self, Diagnostic, Limits, PathSeg, Pos, path_string,
    tree::{self, Node, NodeKind},
};
use convert::Importer;
use render::render;
use std::collections::{BTreeMap, BTreeSet};

/// The probe interval sloop assumes when sizing a latency window (the model's default).
const ASSUMED_PROBE_INTERVAL_SECS: u64 = 10;
/// The annotation that says what unit a thresholdMetric `value` is in.
pub const THRESHOLD_UNIT_ANNOTATION: &str = "sloop.dev/threshold-unit";

/// The unit of an OpenSLO thresholdMetric `value` (OpenSLO itself has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ThresholdUnit {
    /// Seconds.
    S,
    /// Milliseconds.
    Ms,
    /// Microseconds.
    Us,
}

impl ThresholdUnit {
    /// The unit named by its symbol (`s`, `ms`, `us`).
    pub fn from_symbol(symbol: &str) -> Option<Self> {
        match symbol {
            "s" => Some(Self::S),
            "ms" => Some(Self::Ms),
            "us" => Some(Self::Us),
            _ => None,
        }
    }
    /// Its symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::S => "s",
            Self::Ms => "ms",
            Self::Us => "us",
        }
    }
    fn micros(self) -> f64 {
        match self {
            Self::S => 1_000_000.0,
            Self::Ms => 1_000.0,
            Self::Us => 1.0,
        }
    }
}

/// Converts OpenSLO documents to a YAML fragment holding a sloop `objectives:` list, with
/// comments that say what to wire up. Every problem is reported, located in `file`. A
/// thresholdMetric value needs its unit in the SLO's `sloop.dev/threshold-unit` annotation.
pub fn import(file: &str, bytes: &[u8]) -> Result<String, Vec<Diagnostic>> {
    import_with_unit(file, bytes, None)
}

/// [`import`], with `default_unit` for the thresholdMetric values of SLOs that carry no unit
/// annotation (`sloop import openslo --threshold-unit`); an annotation still wins.
pub fn import_with_unit(
    file: &str,
    bytes: &[u8],
    default_unit: Option<ThresholdUnit>,
) -> Result<String, Vec<Diagnostic>> {
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
        default_unit,
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

#[cfg(test)]
mod tests;
