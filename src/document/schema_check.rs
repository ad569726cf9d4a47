//! Checks a positioned YAML tree against a JSON Schema and converts it to JSON, collecting every
//! problem: unknown fields (with "did you mean"), missing fields, wrong types, bad enum values
//! and bad formats (durations, percentages, sizes, timestamps, regexes).
//!
//! Scalars are typed by what the schema expects, so `flavor: 2` is the string "2" and
//! `port: "80"` is rejected only where a number is required. Pure.

use super::{
    Diagnostic, PathSeg,
    shown::{boolean_like, described, format_name, numeric_like},
    tree::Node,
    tree::NodeKind,
};
use crate::policy::units::check_format;
use serde_json::Value;
use wording::{did_you_mean, expected, format_hint, quoted};

mod object;
mod wording;

/// Walks `tree` against `schema` (a root schema with `$defs`).
pub fn check(tree: &Node, schema: &Value) -> Result<Value, Vec<Diagnostic>> {
    let mut walker = Walker {
        root: schema,
        errors: Vec::new(),
        path: Vec::new(),
    };
    let value = walker.node(tree, schema);
    match value {
        Some(v) if walker.errors.is_empty() => Ok(v),
        _ => {
            walker.errors.sort_by_key(|d| d.pos);
            Err(walker.errors)
        }
    }
}

struct Walker<'s> {
    root: &'s Value,
    errors: Vec<Diagnostic>,
    path: Vec<PathSeg>,
}

pub(super) fn type_name(node: &Node) -> &'static str {
    match &node.kind {
        NodeKind::Scalar { .. } if node.is_null() => "nothing (null)",
        NodeKind::Scalar { .. } => "a value",
        NodeKind::Seq(_) => "a list",
        NodeKind::Map(_) => "a map",
    }
}

impl<'s> Walker<'s> {
    fn error(&mut self, node: &Node, message: String, hint: impl Into<String>) -> Option<Value> {
        self.errors
            .push(Diagnostic::at(node.pos, message, hint).with_path(&self.path));
        None
    }

    /// An error about a value that is described, not quoted: the source excerpt hides it too.
    fn withheld(&mut self, node: &Node, message: String, hint: impl Into<String>) -> Option<Value> {
        self.errors.push(
            Diagnostic::at(node.pos, message, hint)
                .with_path(&self.path)
                .withholding_value(),
        );
        None
    }

    /// `error` when `text` is quoted in the message because `shape` holds, else `withheld`.
    fn shaped(
        &mut self,
        node: &Node,
        text: &str,
        shape: fn(&str) -> bool,
        message: impl Fn(&str) -> String,
        hint: &str,
    ) -> Option<Value> {
        if shape(text) {
            self.error(node, message(&format!("`{text}`")), hint)
        } else {
            self.withheld(node, message(&described(node)), hint)
        }
    }

    fn resolve(&self, schema: &'s Value) -> &'s Value {
        let mut s = schema;
        for _ in 0..32 {
            match s.get("$ref").and_then(Value::as_str) {
                Some(r) => match r
                    .strip_prefix("#/$defs/")
                    .and_then(|name| self.root.get("$defs")?.get(name))
                {
                    Some(target) => s = target,
                    None => return s,
                },
                None => return s,
            }
        }
        s
    }

    fn node(&mut self, node: &Node, schema: &'s Value) -> Option<Value> {
        let schema = self.resolve(schema);
        if schema.as_bool() == Some(true) {
            return Some(untyped(node));
        }
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            return self.alternatives(node, branches);
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            return self.enumeration(node, allowed);
        }
        if let Some(c) = schema.get("const") {
            return self.enumeration(node, std::slice::from_ref(c));
        }
        match schema.get("type") {
            Some(Value::String(t)) => self.typed(node, t, schema),
            Some(Value::Array(types)) => {
                if node.is_null() && types.iter().any(|t| t == "null") {
                    return Some(Value::Null);
                }
                let t = types
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|t| *t != "null")
                    .unwrap_or("null");
                self.typed(node, t, schema)
            }
            _ => Some(untyped(node)),
        }
    }

    fn alternatives(&mut self, node: &Node, branches: &'s [Value]) -> Option<Value> {
        let consts: Vec<Value> = branches
            .iter()
            .filter_map(|b| self.resolve(b).get("const").cloned())
            .collect();
        if consts.len() == branches.len() {
            return self.enumeration(node, &consts);
        }
        let mut best: Option<Vec<Diagnostic>> = None;
        for branch in branches {
            if node.is_null() != (self.resolve(branch).get("type") == Some(&Value::from("null"))) {
                continue;
            }
            let saved = std::mem::take(&mut self.errors);
            let result = self.node(node, branch);
            let errs = std::mem::replace(&mut self.errors, saved);
            if errs.is_empty()
                && let Some(v) = result
            {
                return Some(v);
            }
            if best.as_ref().is_none_or(|b| errs.len() < b.len()) {
                best = Some(errs);
            }
        }
        match best {
            Some(errs) if !errs.is_empty() => {
                self.errors.extend(errs);
                None
            }
            _ => self.error(
                node,
                format!("unexpected {}", type_name(node)),
                "see the schema for what is allowed here",
            ),
        }
    }

    fn enumeration(&mut self, node: &Node, allowed: &[Value]) -> Option<Value> {
        let names: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
        if let Some(text) = node.as_scalar().filter(|_| !node.is_null()) {
            if let Some(v) = allowed.iter().find(|v| v.as_str() == Some(text)) {
                return Some(v.clone());
            }
            // A near miss of an allowed word is no secret and quoting it helps; anything else
            // is described by its kind only (see `described`).
            let lower = text.to_lowercase();
            let near = did_you_mean(text, &names).or_else(|| {
                (text.chars().count() >= 3)
                    .then(|| names.iter().find(|n| n.to_lowercase().contains(&lower)).copied())
                    .flatten()
            });
            return match near {
                Some(s) => self.error(
                    node,
                    format!("`{text}` is not one of {}", quoted(&names)),
                    format!("did you mean `{s}`?"),
                ),
                None => self.withheld(
                    node,
                    format!("{} is not one of {}", described(node), quoted(&names)),
                    format!("use one of: {}", quoted(&names)),
                ),
            };
        }
        self.error(
            node,
            format!("expected one of {}, found {}", quoted(&names), type_name(node)),
            format!("use one of: {}", quoted(&names)),
        )
    }

    fn typed(&mut self, node: &Node, t: &str, schema: &'s Value) -> Option<Value> {
        match (t, &node.kind) {
            ("object", NodeKind::Map(entries)) => self.object(node, entries, schema),
            ("array", NodeKind::Seq(items)) => {
                let item_schema = schema.get("items").unwrap_or(&Value::Bool(true));
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    self.path.push(PathSeg::Index(i));
                    match self.node(item, item_schema) {
                        Some(v) => out.push(v),
                        None => ok = false,
                    }
                    self.path.pop();
                }
                ok.then_some(Value::Array(out))
            }
            ("null", _) if node.is_null() => Some(Value::Null),
            // Containers first: a scalar where a map or list belongs deserves the container hint.
            ("object", NodeKind::Scalar { .. }) if !node.is_null() => self.withheld(
                node,
                format!("expected a map of fields, found {}", described(node)),
                "write `key: value` lines indented under this field",
            ),
            ("object", _) => self.error(
                node,
                format!("expected a map of fields, found {}", type_name(node)),
                "write `key: value` lines indented under this field",
            ),
            ("array", NodeKind::Scalar { .. }) if !node.is_null() => self.withheld(
                node,
                format!("expected a list, found {}", described(node)),
                "write a list, e.g. `[a, b]` or one `- item` per line",
            ),
            ("array", _) => self.error(
                node,
                format!("expected a list, found {}", type_name(node)),
                "write `- item` lines indented under this field",
            ),
            (_, NodeKind::Scalar { text, plain }) if !node.is_null() || t == "string" && !plain => {
                self.scalar(node, text, t, schema)
            }
            (t, _) => self.withheld(
                node,
                format!("expected {}, found {}", expected(t), type_name(node)),
                format!("write {} here", expected(t)),
            ),
        }
    }

    fn scalar(&mut self, node: &Node, text: &str, t: &str, schema: &Value) -> Option<Value> {
        let plain = matches!(node.kind, NodeKind::Scalar { plain: true, .. });
        match t {
            "string" => {
                if let Some(format) = schema.get("format").and_then(Value::as_str)
                    && let Err(e) = check_format(format, text)
                {
                    // Unit and timestamp errors quote the value: only when it has the shape of
                    // one (a near miss such as `30 parsecs`). Regular expressions are patterns
                    // matched against public pages, and the regex error points into them.
                    return if format == "regex" || numeric_like(text) {
                        self.error(node, e.0, format_hint(format))
                    } else {
                        let message = format!("expected {}, found {}", format_name(format), described(node));
                        self.withheld(node, message, format_hint(format))
                    };
                }
                Some(Value::String(text.to_owned()))
            }
            "integer" => {
                let parsed = plain
                    .then(|| text.replace('_', ""))
                    .and_then(|t| t.parse::<i64>().ok());
                let Some(n) = parsed else {
                    return self.shaped(
                        node,
                        text,
                        numeric_like,
                        |v| format!("expected a whole number, found {v}"),
                        "write digits only, without quotes or units",
                    );
                };
                let min = schema.get("minimum").and_then(Value::as_f64);
                let max = schema.get("maximum").and_then(Value::as_f64);
                if min.is_some_and(|m| (n as f64) < m) || max.is_some_and(|m| (n as f64) > m) {
                    let range = format!(
                        "{}..={}",
                        min.map_or("".into(), |m| m.to_string()),
                        max.map_or("".into(), |m| m.to_string())
                    );
                    return self.error(
                        node,
                        format!("{n} is out of range {range}"),
                        format!("use a number in {range}"),
                    );
                }
                Some(Value::from(n))
            }
            "number" => {
                match plain
                    .then(|| text.parse::<f64>().ok())
                    .flatten()
                    .filter(|f| f.is_finite())
                {
                    Some(f) => Some(Value::from(f)),
                    None => self.shaped(
                        node,
                        text,
                        numeric_like,
                        |v| format!("expected a number, found {v}"),
                        "write a plain number such as `95` or `99.9`, without quotes or units",
                    ),
                }
            }
            "boolean" => match (plain, text) {
                (true, "true" | "True" | "TRUE") => Some(Value::Bool(true)),
                (true, "false" | "False" | "FALSE") => Some(Value::Bool(false)),
                _ => self.shaped(
                    node,
                    text,
                    boolean_like,
                    |v| format!("expected true or false, found {v}"),
                    "write `true` or `false` (YAML 1.1 words such as yes/no/on/off are not accepted)",
                ),
            },
            t => self.withheld(
                node,
                format!("expected {}, found {}", expected(t), described(node)),
                format!("write {} here", expected(t)),
            ),
        }
    }
}

/// A node converted without a schema, using YAML 1.2 core-schema rules for plain scalars.
fn untyped(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Scalar { .. } if node.is_null() => Value::Null,
        NodeKind::Scalar { text, plain: true } => match text.as_str() {
            "true" | "True" | "TRUE" => Value::Bool(true),
            "false" | "False" | "FALSE" => Value::Bool(false),
            t => t
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| {
                    t.parse::<f64>()
                        .map_err(drop)
                        .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number).ok_or(()))
                })
                .unwrap_or_else(|_| Value::String(t.to_owned())),
        },
        NodeKind::Scalar { text, .. } => Value::String(text.clone()),
        NodeKind::Seq(items) => Value::Array(items.iter().map(untyped).collect()),
        NodeKind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|e| (e.key.clone(), untyped(&e.value)))
                .collect(),
        ),
    }
}
