//! How `sloop check` shows a value it rejects: quoted when it has the shape the field expects
//! (a near miss, which no secret has), otherwise described by its kind and length only. Pure.

use super::{schema_check::type_name, tree::Node, tree::NodeKind};

/// What a wrongly typed value is, without its text: a value in a field of the wrong type may
/// be a secret that slipped a level (a token under `headers:` written as a string, a password
/// where a number belongs), and `sloop check` output ends up in CI logs. Values are quoted only
/// where they have the shape the field expects (a near miss: `80ms` for a number, `yes` for a
/// boolean, `dryrun` for `dry-run`), which a secret does not.
pub fn described(node: &Node) -> String {
    match &node.kind {
        NodeKind::Scalar { text, plain } => {
            let chars = text.chars().count();
            let lines = text.lines().count();
            if *plain && text.parse::<f64>().is_ok() {
                "a number".into()
            } else if lines > 1 {
                format!("a string of {chars} characters on {lines} lines")
            } else {
                format!("a string of {chars} characters")
            }
        }
        _ => type_name(node).into(),
    }
}

/// Shaped like a number, a quantity or a timestamp (`80ms`, `99.9`, `1,5`, `10 parsecs`,
/// `1m 30s`, `2026-09-27 18:00`): starts like a number, and every word is either digits and
/// punctuation, digits followed by a unit, or a unit alone. Tokens and passwords mix letters
/// and digits within a word, so they never match.
pub fn numeric_like(text: &str) -> bool {
    let t = text.trim();
    let word = |w: &str| {
        let punct = |c: char| c.is_ascii_digit() || matches!(c, '.' | ',' | '_' | ':' | '+' | '-');
        if w.chars().all(|c| punct(c) || c == 'T' || c == 'Z') {
            return true;
        }
        let unit = w.trim_start_matches(punct);
        unit.chars().all(|c| c.is_alphabetic() || c == '%')
    };
    t.len() <= 40
        && t.chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'))
        && t.split_whitespace().all(word)
}

/// A YAML 1.1 boolean word or a 0/1.
pub fn boolean_like(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "0" | "1" | "enabled" | "disabled"
    )
}

pub fn format_name(format: &str) -> &'static str {
    match format {
        "duration" => "a duration",
        "percent" => "a percentage",
        "byte-size" => "a size",
        "date-time" => "a timestamp",
        _ => "a formatted value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_of_numbers_are_quoted_and_tokens_are_not() {
        for near in [
            "80ms",
            "1m 30s",
            "10 parsecs",
            "99.9",
            "1,5",
            "-3",
            "2026-09-27T18:00:00+02:00",
        ] {
            assert!(numeric_like(near), "{near}");
        }
        for secret in [
            "3f9a2b1c4d5e6f70",
            "PLANTED-pw-7f3a9c0e",
            "hunter2",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        ] {
            assert!(!numeric_like(secret), "{secret}");
        }
        assert!(boolean_like("Yes") && boolean_like("off") && !boolean_like("s3cr3t"));
    }
}
