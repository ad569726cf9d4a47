//! The imported objectives as a commented YAML fragment.

use super::convert::{Imported, Indicator};

pub(super) fn render(file: &str, objectives: &[Imported], skipped: &[String]) -> String {
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
pub(super) fn scalar(s: &str) -> String {
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
pub(super) fn wrap_comment(out: &mut String, text: &str) {
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

pub(super) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(super) fn slug(s: &str) -> String {
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

pub(super) fn number_text(x: f64) -> String {
    let text = format!("{x:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

pub(super) fn pct(fraction: f64) -> String {
    format!("{} %", number_text(fraction * 100.0))
}
