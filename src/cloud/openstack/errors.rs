//! What an OpenStack API answered, classified once so retry, breaker, executor and reports
//! all agree: 401 re-authenticates, 403/quota refuses, 404 refreshes inventory, 409 waits,
//! 413/429 honour `Retry-After`, 5xx and transport failures back off.

use crate::act::ActError;
use std::{fmt, time::Duration};

/// The class of a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// 401: the token is not (or no longer) valid.
    Unauthorized,
    /// 403 without a quota message: the credentials lack a role or the policy forbids it.
    Forbidden,
    /// Quota exceeded (Nova 403/413 "Quota exceeded", Octavia 403 "Quota has been met").
    Quota,
    /// 404.
    NotFound,
    /// 409: busy (Nova task state) or immutable (Octavia `PENDING_*`).
    Conflict,
    /// 413/429 rate limiting.
    RateLimited,
    /// 5xx.
    Server,
    /// No answer: connection refused, reset or timed out.
    Transport,
    /// Any other 4xx, or an answer we cannot read: retrying will not help.
    Invalid,
    /// The circuit breaker for this API is open: the call was not made.
    BreakerOpen,
}

impl ErrorClass {
    /// A low-cardinality label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            ErrorClass::Unauthorized => "unauthorized",
            ErrorClass::Forbidden => "forbidden",
            ErrorClass::Quota => "quota",
            ErrorClass::NotFound => "not-found",
            ErrorClass::Conflict => "conflict",
            ErrorClass::RateLimited => "rate-limited",
            ErrorClass::Server => "server-error",
            ErrorClass::Transport => "transport",
            ErrorClass::Invalid => "invalid",
            ErrorClass::BreakerOpen => "breaker-open",
        }
    }

    /// Whether this failure counts against the API's health (breaker): the API itself is sick,
    /// as opposed to our request being wrong or refused.
    pub fn is_outage(self) -> bool {
        matches!(self, ErrorClass::Server | ErrorClass::Transport)
    }
}

/// A failed API call. Never holds a token or a password: messages come from response bodies and
/// transport errors, redacted by [`crate::redact`] when the error is made (a proxy or Keystone
/// error page may echo the request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The class.
    pub class: ErrorClass,
    /// The API (`compute`, `load-balancer`, `metric`, `identity`, …).
    pub service: &'static str,
    /// Method and path, e.g. `POST servers/…/action`.
    pub what: String,
    /// HTTP status, when one arrived.
    pub status: Option<u16>,
    /// What the API said (first 300 characters, HTML stripped).
    pub message: String,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.service, self.what)?;
        if let Some(s) = self.status {
            write!(f, "HTTP {s} ")?;
        }
        write!(f, "({}) {}", self.class.label(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// An error of `class` without an HTTP answer (its message redacted: transport and
    /// library errors may quote what the other end sent).
    pub fn local(class: ErrorClass, service: &'static str, what: &str, message: impl Into<String>) -> Self {
        Self {
            class,
            service,
            what: what.into(),
            status: None,
            message: crate::redact::scrub(&message.into()),
            retry_after: None,
        }
    }
}

impl From<ApiError> for ActError {
    fn from(e: ApiError) -> Self {
        let text = e.to_string();
        match e.class {
            ErrorClass::Quota => ActError::Quota(text),
            ErrorClass::NotFound => ActError::NotFound(text),
            ErrorClass::Conflict => ActError::Conflict(text),
            ErrorClass::RateLimited
            | ErrorClass::Server
            | ErrorClass::Transport
            | ErrorClass::BreakerOpen => ActError::Transient(text),
            ErrorClass::Forbidden => {
                ActError::Fatal(format!("refused (the credentials lack a role): {text}"))
            }
            ErrorClass::Unauthorized => ActError::Fatal(format!("authentication failed: {text}")),
            ErrorClass::Invalid => ActError::Fatal(text),
        }
    }
}

/// Classifies an HTTP status and its body text.
pub fn classify(status: u16, body: &str) -> ErrorClass {
    let quota = body.to_ascii_lowercase().contains("quota");
    match status {
        401 => ErrorClass::Unauthorized,
        403 | 413 if quota => ErrorClass::Quota,
        403 => ErrorClass::Forbidden,
        404 | 410 => ErrorClass::NotFound,
        409 => ErrorClass::Conflict,
        413 | 429 => ErrorClass::RateLimited,
        500..=599 => ErrorClass::Server,
        _ => ErrorClass::Invalid,
    }
}

/// `Retry-After` as seconds (the HTTP-date form is not used by OpenStack services; it is
/// treated as absent and the normal backoff applies). Capped at [`MAX_RETRY_AFTER`]: a proxy
/// that asks for `1e300` seconds (found by the `openstack_decode` fuzz target, where it made
/// `Duration::from_secs_f64` panic) must neither crash sloop nor park an API for ever.
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    let secs: f64 = value?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0)
        .then(|| Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64())))
}

/// The longest `Retry-After` honoured; the breaker probes the API again after it.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The human part of an OpenStack error body: Nova's `{"badRequest": {"message": …}}`,
/// Octavia's `faultstring`, Keystone's `error.message`, Gnocchi's `description`, or the text
/// with HTML tags removed, cut to 300 characters, with every known secret and token-shaped run
/// removed ([`crate::redact`]): an error page may echo the request.
pub fn message_of(body: &str) -> String {
    fn pick(v: &serde_json::Value) -> Option<String> {
        for key in ["message", "faultstring", "description", "title", "detail"] {
            if let Some(s) = v.get(key).and_then(|m| m.as_str()) {
                return Some(s.to_owned());
            }
        }
        None
    }
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) => pick(&v)
            .or_else(|| v.as_object().and_then(|o| o.values().find_map(pick)))
            .unwrap_or_else(|| body.to_owned()),
        Err(_) => strip_tags(body),
    };
    let text = crate::redact::scrub(&text.split_whitespace().collect::<Vec<_>>().join(" "));
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_designed_classes() {
        let cases = [
            (401, "", ErrorClass::Unauthorized, "re-authenticate once"),
            (
                403,
                r#"{"forbidden":{"message":"Policy doesn't allow x"}}"#,
                ErrorClass::Forbidden,
                "role missing",
            ),
            (
                403,
                r#"{"forbidden":{"message":"Quota exceeded for instances"}}"#,
                ErrorClass::Quota,
                "nova quota",
            ),
            (413, "Quota exceeded", ErrorClass::Quota, "old nova quota"),
            (413, "", ErrorClass::RateLimited, "rate limit without quota text"),
            (429, "", ErrorClass::RateLimited, "rate limit"),
            (404, "", ErrorClass::NotFound, "vanished"),
            (409, "", ErrorClass::Conflict, "busy"),
            (503, "", ErrorClass::Server, "sick API"),
            (400, "", ErrorClass::Invalid, "our bug"),
        ];
        for (status, body, want, why) in cases {
            assert_eq!(classify(status, body), want, "{why}");
        }
    }

    #[test]
    fn messages_come_from_the_usual_error_bodies() {
        assert_eq!(
            message_of(r#"{"itemNotFound":{"code":404,"message":"Instance x could not be found."}}"#),
            "Instance x could not be found."
        );
        assert_eq!(
            message_of(r#"{"faultcode":"Client","faultstring":"Pool p is immutable"}"#),
            "Pool p is immutable"
        );
        assert_eq!(
            message_of("<html><body><h1>404 Not Found</h1>nope</body></html>").trim(),
            "404 Not Found nope"
        );
        assert!(message_of(&"x".repeat(1000)).chars().count() <= 301);
    }

    #[test]
    fn retry_after_accepts_seconds_only() {
        assert_eq!(parse_retry_after(Some(" 7 ")), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(parse_retry_after(Some("-1")), None);
        assert_eq!(parse_retry_after(None), None);
        // Fuzz finding: huge but finite values panicked in Duration::from_secs_f64.
        assert_eq!(parse_retry_after(Some("1e300")), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after(Some("18446744073709551616")),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after(Some("inf")), None);
        assert_eq!(parse_retry_after(Some("NaN")), None);
    }

    #[test]
    fn classes_become_executor_errors() {
        let e = |class| ApiError::local(class, "compute", "GET servers", "m");
        assert!(matches!(ActError::from(e(ErrorClass::Quota)), ActError::Quota(_)));
        assert!(matches!(
            ActError::from(e(ErrorClass::Conflict)),
            ActError::Conflict(_)
        ));
        assert!(matches!(
            ActError::from(e(ErrorClass::BreakerOpen)),
            ActError::Transient(_)
        ));
        assert!(
            matches!(ActError::from(e(ErrorClass::Forbidden)), ActError::Fatal(m) if m.contains("refused"))
        );
    }
}
