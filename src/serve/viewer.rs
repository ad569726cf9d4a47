//! Optional read access control for the status page, the JSON API and `/metrics`.
//!
//! Everything `sloop run` serves is read-only (GET routes only; other methods get 405), but a
//! status page names servers, hosts and addresses, which is more than an anonymous visitor on
//! the network needs. With a viewer token configured those routes require it, either as
//! `Authorization: Bearer TOKEN` (scripts, Prometheus' `authorization.credentials_file`) or as
//! the password of HTTP Basic authentication with any user name (so a browser's own login
//! prompt works). `/healthz` and `/readyz` stay open for the kubelet; the agents' routes have
//! their own per-agent tokens.
//!
//! Only the SHA-256 of the token is kept, and comparison is constant-time, as for agent tokens.

use crate::ingest::Token;
use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::Engine;
use ring::digest::{SHA256, digest};
use std::{fmt, sync::Arc};
use subtle::ConstantTimeEq;

/// The viewer token's hash.
#[derive(Clone)]
pub struct Viewer {
    hash: Arc<[u8; 32]>,
}

impl fmt::Debug for Viewer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Viewer(***)")
    }
}

impl Viewer {
    /// Keeps the hash of `token`; the token itself is dropped with the caller's copy.
    pub fn new(token: &Token) -> Self {
        Self {
            hash: Arc::new(sha256(token.expose().as_bytes())),
        }
    }

    /// Whether the request carries the token (Bearer, or Basic with it as the password).
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(presented)
            .any(|candidate| bool::from(sha256(candidate.as_bytes()).ct_eq(&*self.hash)))
    }
}

/// The secret an `Authorization` value presents, if it is a Bearer or Basic credential.
fn presented(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?.trim();
    let (scheme, rest) = text.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let pair = String::from_utf8(raw).ok()?;
        let (_user, password) = pair.split_once(':')?;
        return Some(password.to_owned());
    }
    None
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// Middleware: passes the request on when the viewer token is presented, else answers 401
/// with challenges for both schemes. The answer never echoes what was presented.
pub async fn require(State(viewer): State<Viewer>, request: Request, next: Next) -> Response {
    if viewer.admits(request.headers()) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "401: this sloop's status needs its viewer token (Authorization: Bearer TOKEN, or the \
         token as a Basic password)\n",
    )
        .into_response();
    let headers = response.headers_mut();
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"sloop\", charset=\"UTF-8\""),
    );
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"sloop\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header"),
        );
        h
    }

    fn basic(user_pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    }

    #[test]
    fn bearer_and_basic_password_are_accepted_and_nothing_else() {
        let v = Viewer::new(&Token::new("s3cret-viewer-token"));
        assert!(v.admits(&headers("Bearer s3cret-viewer-token")));
        assert!(v.admits(&headers("bearer  s3cret-viewer-token ")));
        assert!(v.admits(&headers(&basic("anyone:s3cret-viewer-token"))));
        assert!(!v.admits(&HeaderMap::new()));
        assert!(!v.admits(&headers("Bearer s3cret-viewer-toke")));
        assert!(!v.admits(&headers("Token s3cret-viewer-token")));
        assert!(!v.admits(&headers(&basic("s3cret-viewer-token:"))));
        assert!(!v.admits(&headers("Basic !!!not-base64")));
        assert!(!v.admits(&headers("Bearer")));
    }

    #[test]
    fn debug_does_not_show_the_hash() {
        let v = Viewer::new(&Token::new("s3cret-viewer-token"));
        assert_eq!(format!("{v:?}"), "Viewer(***)");
    }
}
