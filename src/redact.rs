//! Redaction of text that came from the outside (cloud error bodies, proxy pages, transport
//! errors) before it is stored or shown: a Keystone or proxy error page may echo the request,
//! with the password or the `X-Auth-Token` in it.
//!
//! Every secret sloop knows is registered here when it is read (clouds.yaml passwords and
//! application-credential secrets, agent and viewer tokens, probe header values), and
//! [`scrub`] replaces each occurrence with `***`. Tokens sloop never sees as text (the Keystone
//! token lives inside the HTTP session) are caught by their shape: any run of 40 or more
//! token characters (letters, digits, `-_=+`, with a digit among them) is replaced too, which covers Fernet, JWT and
//! hex tokens; UUIDs (36 characters) and resource names stay readable.

use std::sync::{OnceLock, RwLock};

/// Shortest value registered: shorter ones (a two-letter password) would blank out ordinary
/// words of every message; the shape rule still applies to them.
const MIN_SECRET: usize = 6;
/// Most secrets kept (a policy reload registers its probe headers again).
const MAX_SECRETS: usize = 1024;
/// A run of token characters this long is taken for a token.
const TOKEN_RUN: usize = 40;

fn secrets() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Registers a secret value: from now on [`scrub`] hides it.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET {
        return;
    }
    let mut all = secrets().write().unwrap_or_else(|e| e.into_inner());
    if all.iter().any(|s| s == secret) || all.len() >= MAX_SECRETS {
        return;
    }
    all.push(secret.to_owned());
    // Longest first, so a secret that contains another is hidden whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every registered secret and every token-shaped run replaced by `***`.
pub fn scrub(text: &str) -> String {
    let mut out = text.to_owned();
    {
        let all = secrets().read().unwrap_or_else(|e| e.into_inner());
        for s in all.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
    }
    token_runs(&out)
}

fn token_char(c: char) -> bool {
    // Not `/` or `.`: a URL path of IDs is not a token (a JWT's segments still are, each).
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | '+')
}

fn token_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= TOKEN_RUN && run.chars().any(|c| c.is_ascii_digit()) {
            out.push_str("***");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_and_token_shapes_are_hidden() {
        register("PLANTED-redact-pw-1e9c");
        let fernet = "gAAAAABlZ3x0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6A7B8C9D0E1F2G3H4I5J6K7L8";
        let echoed = format!(
            r#"{{"error": {{"message": "bad request: {{\"password\": \"PLANTED-redact-pw-1e9c\"}}, X-Auth-Token: {fernet}"}}}}"#
        );
        let shown = scrub(&echoed);
        assert!(!shown.contains("PLANTED-redact-pw-1e9c"), "{shown}");
        assert!(!shown.contains(fernet), "{shown}");
        assert!(
            shown.contains("bad request"),
            "the message stays readable: {shown}"
        );
        let ordinary = "Instance 3f2a6c1e-1b2c-4d5e-8f90-0123456789ab could not be found.";
        assert_eq!(scrub(ordinary), ordinary, "UUIDs are not tokens");
        let path = "POST servers/3f2a6c1e-1b2c-4d5e-8f90-0123456789ab/action";
        assert_eq!(scrub(path), path, "paths of IDs stay readable");
    }

    #[test]
    fn short_values_are_not_registered() {
        register("abc");
        assert_eq!(scrub("abc def"), "abc def");
    }
}
