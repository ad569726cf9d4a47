//! The checked-in artefacts admins rely on stay true to the code: the JSON Schema editors use,
//! the reference policy that claims to show every field, and the `# yaml-language-server`
//! line that connects each example to the schema.

use serde_json::Value;
use std::{collections::BTreeSet, path::Path};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn checked_in_schema_matches_the_model() {
    let path = repo().join("policies/sloop-policy.schema.json");
    let on_disk = std::fs::read_to_string(&path).expect("schema is checked in");
    assert!(
        on_disk.trim_end() == sloop::cli::schema_text().trim_end(),
        "policies/sloop-policy.schema.json is stale; regenerate it with\n    cargo run -q -- schema > policies/sloop-policy.schema.json"
    );
}

/// Every field path the schema allows, such as `spec.probes[].http.bodyRegex`. Free-form maps
/// (labels, selector, headers) count as one field; their keys are the admin's.
fn schema_fields(root: &Value) -> BTreeSet<String> {
    fn resolve<'a>(root: &'a Value, mut s: &'a Value) -> &'a Value {
        while let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/$defs/");
            s = &root["$defs"][name];
        }
        s
    }
    fn walk(root: &Value, schema: &Value, path: &str, out: &mut BTreeSet<String>) {
        let schema = resolve(root, schema);
        if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
            for b in branches {
                walk(root, b, path, out);
            }
        }
        if let Some(items) = schema.get("items") {
            walk(root, items, &format!("{path}[]"), out);
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, sub) in props {
                let p = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                out.insert(p.clone());
                walk(root, sub, &p, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, "", &mut out);
    out
}

fn document_fields(value: &Value, path: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                out.insert(p.clone());
                document_fields(v, &p, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                document_fields(item, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn reference_policy_uses_every_field_of_the_model() {
    let text = std::fs::read_to_string(repo().join("policies/reference.yaml")).expect("reference policy");
    sloop::policy::parse("reference.yaml", text.as_bytes()).expect("reference policy is valid");
    let doc: Value = serde_saphyr::from_str(&text).expect("reference policy is YAML");
    let mut used = BTreeSet::new();
    document_fields(&doc, "", &mut used);
    let schema = sloop::policy::json_schema();
    let fields = schema_fields(&schema);
    assert!(
        fields.len() > 80,
        "the walk found only {} fields; is the schema shape unexpected?",
        fields.len()
    );
    let free_form = [
        "metadata.labels",
        "spec.group.selector",
        "spec.group.template.metadata",
        "spec.probes[].http.headers",
    ];
    let missing: Vec<&String> = fields
        .iter()
        .filter(|f| !used.contains(*f) && !free_form.iter().any(|ff| f.starts_with(&format!("{ff}."))))
        .collect();
    assert!(
        missing.is_empty(),
        "policies/reference.yaml does not show: {missing:?}"
    );
}

#[test]
fn every_example_policy_points_editors_at_the_schema() {
    for entry in std::fs::read_dir(repo().join("policies")).expect("policies dir") {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable policy");
        assert!(
            text.starts_with("# yaml-language-server: $schema=./sloop-policy.schema.json\n"),
            "{} must start with the yaml-language-server schema line",
            path.display()
        );
    }
}

#[test]
fn minimal_policy_stays_minimal() {
    // The shortest useful policy: only required fields plus what makes it useful (a load
    // balancer for draining, a per-instance probe for healing, a scaling target).
    let text = std::fs::read_to_string(repo().join("policies/minimal.yaml")).expect("minimal policy");
    let policy = sloop::policy::parse("minimal.yaml", text.as_bytes()).expect("minimal policy is valid");
    let lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .count();
    assert!(lines <= 40, "minimal.yaml has {lines} lines of YAML");
    assert!(policy.spec.traffic.is_some() && policy.spec.probes.iter().any(|p| p.per_instance));
}
