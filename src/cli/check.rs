//! `sloop check`, `sloop explain` and `sloop import openslo`: the policy author's tools.

use super::Format;
use crate::{
    document::Diagnostic,
    policy::{self, LoadedPolicy},
};
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

/// Validates files and directories together (so duplicate groups across files are found).
pub fn run(paths: &[PathBuf], format: Format) -> ExitCode {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            match policy::load_dir(path) {
                Ok(loaded) => files.extend(loaded.into_iter().map(|l| l.file)),
                Err(e) => errors.extend(e),
            }
        } else {
            files.push(path.clone());
        }
    }
    let result = if errors.is_empty() {
        policy::load_files(&files)
    } else {
        Err(errors)
    };
    let (ok, errors): (Vec<LoadedPolicy>, Vec<Diagnostic>) = match result {
        Ok(ok) => (ok, Vec::new()),
        Err(e) => (Vec::new(), e),
    };
    match format {
        Format::Json => {
            let doc = serde_json::json!({
                "valid": errors.is_empty(),
                "policies": ok.iter().map(|l| serde_json::json!({
                    "file": l.file.display().to_string(),
                    "name": l.policy.metadata.name,
                })).collect::<Vec<_>>(),
                "errors": errors,
            });
            outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Format::Text => {
            for e in &errors {
                eprintln!("{}", render(e));
            }
            if errors.is_empty() {
                for l in &ok {
                    outln!("ok: {} ({})", l.file.display(), l.policy.metadata.name);
                }
            } else {
                eprintln!(
                    "{} problem{} found",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" }
                );
            }
        }
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A diagnostic with the offending source line and a caret under the column.
pub fn render(d: &Diagnostic) -> String {
    let mut out = format!("error: {d}");
    let line = std::fs::read(&d.file).ok().and_then(|bytes| {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        text.lines().nth(d.pos.line.saturating_sub(1)).map(str::to_owned)
    });
    // The value of a field sloop does not know, or of a field given the wrong type, is never
    // quoted: a misspelt `password:`, or a token a level off (`headers: Bearer …`), would
    // otherwise print its secret into a terminal or a CI log. The key, file, line and column
    // are enough to find it.
    let line = line.map(|l| {
        if d.withhold_value || d.message.starts_with("unknown field") {
            withhold_value(&l)
        } else {
            l
        }
    });
    let line = line.filter(|_| !d.withhold_line);
    if let Some(line) = line.filter(|l| l.len() <= 200 && !l.chars().any(char::is_control)) {
        let gutter = d.pos.line.to_string();
        let caret_at = line.chars().take(d.pos.col.saturating_sub(1)).count();
        out.push_str(&format!(
            "\n {gutter} | {line}\n {} | {}^",
            " ".repeat(gutter.len()),
            " ".repeat(caret_at)
        ));
    }
    out
}

/// The source line up to its key's colon (or a list item's dash), the value replaced by a note.
fn withhold_value(line: &str) -> String {
    match line.find(':') {
        Some(colon) if !line[colon + 1..].trim().is_empty() => {
            format!("{} (value not shown)", &line[..=colon])
        }
        Some(_) => line.to_owned(),
        None => {
            let item = line.trim_start();
            let lead = line.len() - item.len() + if item.starts_with("- ") { 2 } else { 0 };
            format!("{}(value not shown)", &line[..lead])
        }
    }
}

/// Prints a policy in plain English.
pub fn explain(path: &Path) -> ExitCode {
    match policy::load_file(path) {
        Ok(l) => {
            out!("{}", policy::explain::explain(&l.policy));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{}", render(e));
            }
            ExitCode::from(1)
        }
    }
}

/// Converts OpenSLO SLO documents into sloop objectives.
pub fn import_openslo(path: &Path, threshold_unit: Option<policy::openslo::ThresholdUnit>) -> ExitCode {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {name}: cannot read: {e}");
            return ExitCode::from(1);
        }
    };
    match policy::openslo::import_with_unit(&name, &bytes, threshold_unit) {
        Ok(yaml) => {
            out!("{yaml}");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{}", render(e));
            }
            ExitCode::from(1)
        }
    }
}
