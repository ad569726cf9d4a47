//! Service policies: the YAML files admins edit.
//!
//! [`parse`] is pure: text in, a validated [`Policy`] or every problem out. [`load_file`] and
//! [`load_dir`] add the file-system checks (boot scripts exist, one owner per group).

pub mod explain;
pub mod model;
pub mod openslo;
pub mod units;
pub mod validate;

use crate::document::{self, Diagnostic, PathSeg};
use document::Limits as DocLimits;
pub use model::*;
use std::path::{Path, PathBuf};

/// A problem in a policy file, located by file, line, column and field path.
pub type PolicyError = Diagnostic;

/// A validated policy and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedPolicy {
    /// The file it was read from.
    pub file: PathBuf,
    /// The validated policy.
    pub policy: Policy,
}

/// The JSON Schema of the policy language (draft 2020-12), as checked in at
/// `policies/sloop-policy.schema.json`.
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(Policy).to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            "https://sloop.dev/schemas/sloop-policy.schema.json".into(),
        );
    }
    schema
}

/// Parses and validates one policy. Pure: reports every problem it can find at once.
pub fn parse(file: &str, text: &[u8]) -> Result<Policy, Vec<PolicyError>> {
    let loaded = document::load::<Policy>(file, text, &DocLimits::default())?;
    let errors = validate::validate(&loaded.value);
    if errors.is_empty() {
        return Ok(loaded.value);
    }
    Err(errors
        .into_iter()
        .map(|e| document::locate(&loaded.tree, file, &e.path, e.message, e.hint))
        .collect())
}

/// Reads, parses and validates a policy file, including checks that need the file system.
pub fn load_file(path: &Path) -> Result<LoadedPolicy, Vec<PolicyError>> {
    let name = path.display().to_string();
    let bytes = read_bounded(path).map_err(|e| vec![io_error(&name, e)])?;
    let policy = parse(&name, &bytes)?;
    if let Some(script) = &policy.spec.group.template.user_data {
        let full = path.parent().unwrap_or(Path::new(".")).join(script);
        if !full.is_file() {
            let text = String::from_utf8_lossy(&bytes);
            let tree = document::tree::parse(&text, &DocLimits::default()).map_err(|d| vec![d])?;
            let at = [
                PathSeg::Key("spec".into()),
                PathSeg::Key("group".into()),
                PathSeg::Key("template".into()),
                PathSeg::Key("userData".into()),
            ];
            return Err(vec![document::locate(
                &tree,
                &name,
                &at,
                format!("boot script `{}` does not exist", full.display()),
                "userData is a path relative to the policy file; create the script or fix the path",
            )]);
        }
    }
    Ok(LoadedPolicy {
        file: path.to_owned(),
        policy,
    })
}

/// Loads every `*.yaml`/`*.yml` policy in a directory (not recursing into subdirectories such
/// as `scenarios/`), and checks that no two policies share a name or claim the same group.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedPolicy>, Vec<PolicyError>> {
    let name = dir.display().to_string();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| vec![io_error(&name, e)])?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    load_files(&files)
}

/// Loads several policy files and checks them against each other.
pub fn load_files(files: &[PathBuf]) -> Result<Vec<LoadedPolicy>, Vec<PolicyError>> {
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match load_file(f) {
            Ok(p) => loaded.push(p),
            Err(e) => errors.extend(e),
        }
    }
    errors.extend(cross_check(&loaded));
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(errors)
    }
}

/// Whether one server could match both group selectors: they are metadata equalities, so two
/// selectors are disjoint only when some key is in both with different values.
pub fn selectors_overlap(
    a: &std::collections::BTreeMap<String, String>,
    b: &std::collections::BTreeMap<String, String>,
) -> bool {
    a.iter().all(|(k, v)| b.get(k).is_none_or(|w| w == v))
}

/// Problems that only show when policies are seen together.
fn cross_check(policies: &[LoadedPolicy]) -> Vec<PolicyError> {
    let mut errors = Vec::new();
    for (i, b) in policies.iter().enumerate() {
        for a in &policies[..i] {
            let at = |msg: String, hint: String, field: &str| locate_in_file(&b.file, field, msg, hint);
            if a.policy.metadata.name == b.policy.metadata.name {
                errors.push(at(
                    format!(
                        "policy name `{}` is also used by {}",
                        b.policy.metadata.name,
                        a.file.display()
                    ),
                    "give every policy a unique metadata.name".into(),
                    "metadata.name",
                ));
            }
            let (ga, gb) = (&a.policy.spec.group, &b.policy.spec.group);
            if ga.cloud == gb.cloud && ga.region == gb.region && selectors_overlap(&ga.selector, &gb.selector)
            {
                let what = if ga.selector == gb.selector {
                    "same selector) is already managed by"
                } else {
                    "overlapping selector: a VM may match both) is also claimed by"
                };
                errors.push(at(
                    format!("this group (cloud `{}`, {what} {}", gb.cloud, a.file.display()),
                    "two policies must never own the same VMs; change spec.group.selector in one of them"
                        .into(),
                    "spec.group.selector",
                ));
            }
        }
    }
    errors
}

/// Locates `field` (a dotted path such as `spec.group.selector`) in a policy file that already
/// loaded once, falling back to the start of the file if it cannot be read again.
fn locate_in_file(path: &Path, field: &str, message: String, hint: String) -> PolicyError {
    let file = path.display().to_string();
    let segments: Vec<PathSeg> = field.split('.').map(|k| PathSeg::Key(k.to_owned())).collect();
    let tree = read_bounded(path).ok().and_then(|bytes| {
        document::tree::parse(&String::from_utf8_lossy(&bytes), &DocLimits::default()).ok()
    });
    match tree {
        Some(tree) => document::locate(&tree, &file, &segments, message, hint),
        None => {
            let mut d = Diagnostic::at(document::Pos::START, message, hint);
            d.file = file;
            d.path = field.into();
            d
        }
    }
}

/// Reads a file, refusing anything larger than the loader would accept anyway.
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let limit = DocLimits::default().max_bytes as u64;
    let mut buf = Vec::new();
    std::fs::File::open(path)?.take(limit + 1).read_to_end(&mut buf)?;
    Ok(buf)
}

fn io_error(file: &str, e: std::io::Error) -> PolicyError {
    let mut d = Diagnostic::at(
        document::Pos::START,
        format!("cannot read: {e}"),
        "check the path and permissions",
    );
    d.file = file.to_owned();
    d
}
