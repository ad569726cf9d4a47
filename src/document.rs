//! Files that humans write (policies, scenarios): YAML in, a typed value or *all* the problems
//! out, each with file, line, column, field path and a hint.
//!
//! ```text
//!  bytes ─► precheck ─► tree::parse ─► schema_check (JSON Schema of T) ─► serde ─► T
//!           (size,       (positions,    (unknown fields + did-you-mean,
//!            binary)      limits)        types, formats; collects all)
//! ```
//!
//! The JSON Schema generated from the Rust types is the single contract: editors validate
//! against the same schema that `sloop check` walks. Pure.

pub mod schema_check;
mod shown;
pub mod tree;

use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};
use std::fmt;
pub use tree::{Limits, Node, PathSeg, path_string};

/// A position in a file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

impl Pos {
    /// The start of a file.
    pub const START: Pos = Pos { line: 1, col: 1 };
}

/// One problem in a document, located and explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file, as given on the command line.
    pub file: String,
    /// Where the problem is.
    #[serde(flatten)]
    pub pos: Pos,
    /// The field path, such as `spec.probes[0].interval` (empty for the whole file).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// The value at `pos` may be a secret (a field of the wrong type, an unknown field): an
    /// excerpt of the source line must not show it.
    #[serde(skip)]
    pub withhold_value: bool,
    /// The file is not shaped like the document at all (a symlink to `/etc/shadow`): no
    /// excerpt of it may be shown.
    #[serde(skip)]
    pub withhold_line: bool,
}

/// Longest key or value quoted in a message; longer ones are cut.
pub const MAX_QUOTED: usize = 64;

impl Diagnostic {
    /// A problem at a position, not yet tied to a file or path.
    pub fn at(pos: Pos, message: String, hint: impl Into<String>) -> Self {
        Self {
            file: String::new(),
            pos,
            path: String::new(),
            message,
            hint: hint.into(),
            withhold_value: false,
            withhold_line: false,
        }
    }

    /// Marks the value at `pos` as not to be shown (see `withhold_value`).
    pub fn withholding_value(mut self) -> Self {
        self.withhold_value = true;
        self
    }

    /// Sets the field path.
    pub fn with_path(mut self, path: &[PathSeg]) -> Self {
        self.path = path_string(path);
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = if self.file.is_empty() {
            "<input>"
        } else {
            &self.file
        };
        write!(f, "{file}:{}:{}: ", self.pos.line, self.pos.col)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint)?;
        }
        Ok(())
    }
}

/// A successfully loaded document: the typed value and the tree it came from, which later
/// validation uses to locate semantic errors by field path.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    /// The typed value.
    pub value: T,
    /// The positioned tree.
    pub tree: Node,
}

/// Loads `bytes` as a `T`, reporting every structural problem at once.
pub fn load<T: DeserializeOwned + JsonSchema>(
    file: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Loaded<T>, Vec<Diagnostic>> {
    let named = |mut d: Diagnostic| {
        d.file = file.to_owned();
        d
    };
    let src = tree::precheck(bytes, limits).map_err(|d| vec![named(d)])?;
    let tree = tree::parse(src, limits).map_err(|d| vec![named(d)])?;
    if tree.is_null() {
        return Err(vec![named(Diagnostic::at(
            tree.pos,
            "the file is empty: it holds no document".into(),
            "write the document's fields; policies/ holds examples to start from",
        ))]);
    }
    let schema = schemars::schema_for!(T);
    if let Some(d) = foreign(&tree, schema.as_value()) {
        return Err(vec![named(d)]);
    }
    let value = schema_check::check(&tree, schema.as_value())
        .map_err(|ds| ds.into_iter().map(named).collect::<Vec<_>>())?;
    match serde_json::from_value::<T>(value) {
        Ok(value) => Ok(Loaded { value, tree }),
        Err(e) => Err(vec![named(Diagnostic::at(
            tree.pos,
            format!("invalid document: {}", unquoted(&e.to_string())),
            "compare the file with the reference example",
        ))]),
    }
}

/// One diagnostic for a file that does not have the document's shape at all: a map with none
/// of the schema's top-level fields. Checking it field by field would quote every
/// line of it (a policy symlinked to `/etc/shadow`), so nothing from it is quoted.
fn foreign(tree: &Node, schema: &serde_json::Value) -> Option<Diagnostic> {
    let fields: Vec<&str> = schema
        .get("properties")?
        .as_object()?
        .keys()
        .map(String::as_str)
        .collect();
    // A scalar or a list already gets one error that describes it without quoting it.
    let tree::NodeKind::Map(entries) = &tree.kind else {
        return None;
    };
    if entries.iter().any(|e| fields.contains(&e.key.as_str())) {
        return None;
    }
    let listed = fields
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut d = Diagnostic::at(
        Pos::START,
        format!("this file is not YAML-shaped like this document (none of {listed} at the top level); nothing from it is quoted"),
        "check that the path names the file you meant (a symlink may point elsewhere)",
    )
    .withholding_value();
    d.withhold_line = true;
    Some(d)
}

/// Locates a semantic error by its field path in the tree (falling back to the nearest parent).
pub fn locate(
    tree: &Node,
    file: &str,
    path: &[PathSeg],
    message: String,
    hint: impl Into<String>,
) -> Diagnostic {
    let mut prefix = path;
    let pos = loop {
        if let Some((_, pos)) = tree.find(prefix) {
            // A field left at its default is not in the file: point at the parent's key
            // (`healing:`) rather than at whatever happens to be its first child.
            let partial = prefix.len() < path.len();
            break if partial {
                tree.key_pos(prefix).unwrap_or(pos)
            } else {
                pos
            };
        }
        match prefix.split_last() {
            Some((_, parent)) => prefix = parent,
            None => break tree.pos,
        }
    };
    let mut d = Diagnostic::at(pos, message, hint).with_path(path);
    d.file = file.to_owned();
    d
}

/// `message` with every double-quoted part replaced by `"…"`: serde's messages quote the value
/// they choke on (`invalid type: string "…"`), which may be a secret.
fn unquoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if inside {
                out.push('…');
            }
            inside = !inside;
            out.push('"');
        } else if !inside {
            out.push(c);
        }
    }
    out
}
