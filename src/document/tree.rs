//! YAML text to a tree of nodes that remember where they were written.
//!
//! Built from the parser's event stream with explicit limits, so hostile input (alias bombs,
//! deep nesting, huge or binary files, duplicate keys) gets a located error instead of a panic,
//! a hang or unbounded memory. Pure.

use super::{Diagnostic, Pos};
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// Bounds on what a document may cost to load.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted file, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted nesting of maps and lists.
    pub max_depth: usize,
    /// Most nodes after alias expansion.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 20,
            max_depth: 64,
            max_nodes: 100_000,
        }
    }
}

/// A YAML node and its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What it holds.
    pub kind: NodeKind,
    /// Nodes in this subtree (itself included), for the expansion budget.
    size: usize,
}

/// The shapes a node can take.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar: its text, and whether it was written plain (unquoted), which decides whether
    /// `null`, `true` or `42` mean null, a boolean or a number.
    Scalar { text: String, plain: bool },
    /// A list.
    Seq(Vec<Node>),
    /// A map with string keys, in document order.
    Map(Vec<Entry>),
}

/// One key of a map.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// Where the key was written.
    pub key_pos: Pos,
    /// The value.
    pub value: Node,
}

impl Node {
    /// The scalar's text when this is a scalar.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// True for an empty plain scalar, `~` or `null`.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// Follows a path of map keys and list indices (as `spec.probes[0].name` segments).
    pub fn find(&self, path: &[PathSeg]) -> Option<(&Node, Pos)> {
        let mut node = self;
        let mut pos = self.pos;
        for seg in path {
            match (seg, &node.kind) {
                (PathSeg::Key(k), NodeKind::Map(entries)) => {
                    let e = entries.iter().find(|e| &e.key == k)?;
                    pos = e.value.pos;
                    node = &e.value;
                }
                (PathSeg::Index(i), NodeKind::Seq(items)) => {
                    node = items.get(*i)?;
                    pos = node.pos;
                }
                _ => return None,
            }
        }
        Some((node, pos))
    }

    /// The position of the key at the end of `path` (better than the value for "unknown field").
    pub fn key_pos(&self, path: &[PathSeg]) -> Option<Pos> {
        let (last, parent) = path.split_last()?;
        let (node, _) = self.find(parent)?;
        match (last, &node.kind) {
            (PathSeg::Key(k), NodeKind::Map(entries)) => {
                entries.iter().find(|e| &e.key == k).map(|e| e.key_pos)
            }
            (PathSeg::Index(i), NodeKind::Seq(items)) => items.get(*i).map(|n| n.pos),
            _ => None,
        }
    }
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    /// A map key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// Renders a path as `spec.probes[0].interval`.
pub fn path_string(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) if out.is_empty() => out.push_str(k),
            PathSeg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            PathSeg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
        size: usize,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        pending_key: Option<(String, Pos)>,
        size: usize,
    },
}

/// Checks the raw bytes before any parsing: size, binary content, encoding.
pub fn precheck<'a>(bytes: &'a [u8], limits: &Limits) -> Result<&'a str, Diagnostic> {
    if bytes.len() > limits.max_bytes {
        return Err(Diagnostic::at(
            Pos::START,
            // Callers may read only `max_bytes + 1` of a huge file, so the length is a lower bound.
            format!("file is larger than the limit of {} bytes", limits.max_bytes),
            "split it into smaller files; a policy is normally a few kilobytes",
        ));
    }
    if let Some(i) = bytes.iter().position(|&b| b == 0) {
        return Err(Diagnostic::at(
            pos_of_offset(bytes, i),
            "file contains a NUL byte: this looks like a binary file, not YAML".into(),
            "check that you passed the right file",
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        Diagnostic::at(
            pos_of_offset(bytes, e.valid_up_to()),
            "file is not valid UTF-8".into(),
            "save the file as UTF-8 text",
        )
    })
}

fn pos_of_offset(bytes: &[u8], offset: usize) -> Pos {
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = offset - before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
    Pos { line, col }
}

/// The tab a tab error is about: the parser may report the end of the token before it (the
/// line above), so point at the first tab in a line's indentation from the reported line on,
/// else the last one before it.
fn indenting_tab(src: &str, reported: Pos) -> Option<Pos> {
    let tabs: Vec<Pos> = src
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let indent = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
            indent.find('\t').map(|col| Pos {
                line: i + 1,
                col: col + 1,
            })
        })
        .collect();
    tabs.iter()
        .find(|p| p.line >= reported.line)
        .or_else(|| tabs.iter().rev().find(|p| p.line < reported.line))
        .copied()
}

/// Parses one YAML document into a node tree.
pub fn parse(src: &str, limits: &Limits) -> Result<Node, Diagnostic> {
    let mut parser = Parser::new_from_str(src);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut total = 0usize;
    let mut documents = 0usize;

    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let m = e.marker();
            let reported = Pos {
                line: m.line(),
                col: m.col() + 1,
            };
            let info = e.info();
            match info
                .contains("tab")
                .then(|| indenting_tab(src, reported))
                .flatten()
            {
                Some(at) => Diagnostic::at(
                    at,
                    format!("YAML syntax error: {info}"),
                    "a tab indents this line; YAML indents with spaces only",
                ),
                None => Diagnostic::at(
                    reported,
                    format!("YAML syntax error: {info}"),
                    "check indentation and quoting near this position",
                ),
            }
        })?;
        let pos = Pos {
            line: span.start.line(),
            col: span.start.col() + 1,
        };
        // Every node costs one; an alias costs the whole subtree it expands to.
        total += match &event {
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..) => 1,
            Event::Alias(id) => anchors.get(id).map_or(1, |n| n.size),
            _ => 0,
        };
        if total > limits.max_nodes {
            return Err(Diagnostic::at(
                pos,
                format!(
                    "document expands to more than {} nodes (an alias bomb?)",
                    limits.max_nodes
                ),
                "reduce the use of `*alias` references, or split the document",
            ));
        }
        let finished = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => None,
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(Diagnostic::at(
                        pos,
                        "file holds more than one YAML document".into(),
                        "put one document per file (remove the extra `---`)",
                    ));
                }
                None
            }
            Event::Scalar(text, style, anchor, _) => {
                let node = Node {
                    pos,
                    kind: NodeKind::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                    size: 1,
                };
                if anchor != 0 {
                    anchors.insert(anchor, node.clone());
                }
                Some(node)
            }
            Event::Alias(id) => {
                let node = anchors.get(&id).cloned().ok_or_else(|| {
                    Diagnostic::at(
                        pos,
                        "alias refers to an unknown anchor".into(),
                        "define the `&anchor` before using `*anchor`",
                    )
                })?;
                Some(Node { pos, ..node })
            }
            Event::SequenceStart(_, anchor, _) => {
                if stack.len() >= limits.max_depth {
                    return Err(too_deep(pos, limits));
                }
                stack.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                    size: 1,
                });
                None
            }
            Event::MappingStart(_, anchor, _) => {
                if stack.len() >= limits.max_depth {
                    return Err(too_deep(pos, limits));
                }
                stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                    size: 1,
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match stack.pop() {
                    Some(Frame::Seq {
                        pos,
                        anchor,
                        items,
                        size,
                    }) => (
                        Node {
                            pos,
                            kind: NodeKind::Seq(items),
                            size,
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        pos,
                        anchor,
                        entries,
                        size,
                        ..
                    }) => (
                        Node {
                            pos,
                            kind: NodeKind::Map(entries),
                            size,
                        },
                        anchor,
                    ),
                    None => continue,
                };
                if anchor != 0 {
                    anchors.insert(anchor, node.clone());
                }
                Some(node)
            }
            _ => None,
        };
        if let Some(node) = finished {
            attach(&mut stack, &mut root, node)?;
        }
    }
    Ok(root.unwrap_or(Node {
        pos: Pos::START,
        kind: NodeKind::Scalar {
            text: String::new(),
            plain: true,
        },
        size: 1,
    }))
}

fn too_deep(pos: Pos, limits: &Limits) -> Diagnostic {
    Diagnostic::at(
        pos,
        format!("nesting is deeper than {} levels", limits.max_depth),
        "flatten the structure; policies never need this depth",
    )
}

fn attach(stack: &mut [Frame], root: &mut Option<Node>, node: Node) -> Result<(), Diagnostic> {
    match stack.last_mut() {
        None => *root = Some(node),
        Some(Frame::Seq { items, size, .. }) => {
            *size += node.size;
            items.push(node);
        }
        Some(Frame::Map {
            entries,
            pending_key,
            size,
            ..
        }) => match pending_key.take() {
            None => {
                let key = node.as_scalar().ok_or_else(|| {
                    Diagnostic::at(
                        node.pos,
                        "map keys must be plain strings".into(),
                        "use a simple `name:` key",
                    )
                })?;
                if let Some(first) = entries.iter().find(|e| e.key == key) {
                    return Err(Diagnostic::at(
                        node.pos,
                        format!(
                            "duplicate key `{key}` (first written at line {})",
                            first.key_pos.line
                        ),
                        "remove one of the two entries; YAML keeps only one and sloop will not guess which",
                    ));
                }
                *pending_key = Some((key.to_owned(), node.pos));
            }
            Some((key, key_pos)) => {
                *size += node.size + 1;
                entries.push(Entry {
                    key,
                    key_pos,
                    value: node,
                });
            }
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests;
