//! The object half of the walk: known fields converted, unknown ones named with a "did you
//! mean", required ones missing reported once.

use super::{
    Walker,
    wording::{did_you_mean, first_sentence, quoted},
};
use crate::document::{
    Diagnostic, PathSeg,
    tree::{Entry, Node},
};
use serde_json::{Map, Value};

impl<'s> Walker<'s> {
    pub(super) fn object(&mut self, node: &Node, entries: &[Entry], schema: &'s Value) -> Option<Value> {
        static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
        let props = schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY);
        let additional = schema.get("additionalProperties");
        let mut out = Map::new();
        let mut ok = true;
        // Required fields that an unknown key here is probably a typo of: the "did you mean"
        // already says so, and a second "missing field" error would only repeat it.
        let mut suggested: Vec<&str> = Vec::new();
        for entry in entries {
            self.path.push(PathSeg::Key(entry.key.clone()));
            let sub = match props.get(&entry.key) {
                Some(s) => Some(s),
                None => match additional {
                    Some(Value::Bool(false)) => None,
                    Some(s @ Value::Object(_)) => Some(s),
                    _ if props.is_empty() => Some(&Value::Bool(true)),
                    _ => None,
                },
            };
            match sub {
                Some(s) => match self.node(&entry.value, s) {
                    Some(v) => {
                        out.insert(entry.key.clone(), v);
                    }
                    None => ok = false,
                },
                None => {
                    ok = false;
                    let names: Vec<&str> = props.keys().map(String::as_str).collect();
                    let suggestion = did_you_mean(&entry.key, &names);
                    suggested.extend(suggestion);
                    let hint = match suggestion {
                        Some(s) => format!("did you mean `{s}`? Valid fields here: {}", quoted(&names)),
                        None => format!("valid fields here: {}", quoted(&names)),
                    };
                    self.errors.push(
                        Diagnostic::at(
                            entry.key_pos,
                            format!("unknown field `{}`", capped(&entry.key)),
                            hint,
                        )
                        .with_path(&self.path),
                    );
                }
            }
            self.path.pop();
        }
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !entries.iter().any(|e| e.key == req) {
                ok = false;
                if suggested.contains(&req) {
                    continue;
                }
                let desc = props
                    .get(req)
                    .map(|p| self.resolve(p))
                    .and_then(|p| p.get("description"))
                    .and_then(Value::as_str);
                let hint = match desc {
                    Some(d) => format!("add `{req}:` ({})", first_sentence(d)),
                    None => format!("add `{req}:`"),
                };
                self.errors.push(
                    Diagnostic::at(node.pos, format!("missing required field `{req}`"), hint)
                        .with_path(&self.path),
                );
            }
        }
        ok.then_some(Value::Object(out))
    }
}

/// A key as quoted in a message: at most [`crate::document::MAX_QUOTED`] characters.
fn capped(key: &str) -> String {
    crate::ingest::refusals::bounded(key, crate::document::MAX_QUOTED)
}
