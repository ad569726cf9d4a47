//! How the checker words what it expected and what it suggests.

pub(super) fn first_sentence(text: &str) -> &str {
    let t = text.split("\n\n").next().unwrap_or(text).trim();
    // Cut at the first full stop that ends a sentence, not at "e.g." or "i.e.".
    let mut end = t.len();
    for (i, _) in t.match_indices(". ") {
        let before = &t[..i];
        if !(before.ends_with("e.g") || before.ends_with("i.e") || before.ends_with("etc")) {
            end = i;
            break;
        }
    }
    t[..end].trim_end_matches('.')
}

pub(super) fn expected(t: &str) -> &'static str {
    match t {
        "string" => "text",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        "object" => "a map of fields",
        "array" => "a list",
        _ => "a value",
    }
}

pub(super) fn format_hint(format: &str) -> &'static str {
    match format {
        "duration" => "durations look like `30s`, `1m 30s`, `500ms`, `2h`, `3d`",
        "percent" => "percentages look like `99.9%`",
        "byte-size" => "sizes look like `512MiB`, `4GiB`",
        "date-time" => "timestamps look like `2026-09-27T18:00:00+02:00`",
        "regex" => "fix the regular expression (Rust regex syntax)",
        _ => "see the schema for the expected format",
    }
}

pub(super) fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The closest candidate to a misspelt name, if any is close enough to be a likely typo.
pub fn did_you_mean<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase()
    };
    let n_input = norm(input);
    if let Some(exact) = candidates.iter().find(|c| norm(c) == n_input) {
        return Some(exact);
    }
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&n_input, &norm(c)), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion_and_strangers_do_not() {
        let c = ["interval", "timeout", "family", "locations", "perInstance"];
        assert_eq!(did_you_mean("intervall", &c), Some("interval"));
        assert_eq!(did_you_mean("per_instance", &c), Some("perInstance"));
        assert_eq!(did_you_mean("colour", &c), None);
    }
}
