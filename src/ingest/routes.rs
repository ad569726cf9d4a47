//! The ingest endpoints. Every agent request is authenticated from its headers before anything
//! else happens; the body of a results batch is read only after that, and never beyond the
//! size limit, so a stranger cannot make the controller buffer or parse anything.

use super::{
    IngestState,
    batch::BatchError,
    lock,
    refusals::{Refusal, SUMMARY_INTERVAL},
    tokens::{Token, valid_agent_name},
    wire::{AGENT_HEADER, AGENTS_PATH, ASSIGNMENTS_PATH, Batch, ErrorReply, RESULTS_PATH},
};
use crate::snapshot::Time;
use axum::{
    Json, Router,
    body::Body,
    extract::{ConnectInfo, State},
    http::{Extensions, HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use std::net::{IpAddr, SocketAddr};

/// The agents' own routes (`GET /api/v1/agent/assignments`, `POST /api/v1/agent/results`),
/// authenticated by each agent's token, ready to merge into the daemon's router.
pub fn router(state: IngestState) -> Router {
    Router::new()
        .route(ASSIGNMENTS_PATH, get(assignments))
        .route(RESULTS_PATH, post(results))
        .with_state(state)
}

/// The agents' status (`GET /api/v1/agents`: names, freshness, clock offsets), for viewers:
/// the daemon serves it behind the viewer token like the rest of its status, because the
/// names are valid `X-Sloop-Agent` values.
pub fn status_router(state: IngestState) -> Router {
    Router::new().route(AGENTS_PATH, get(agents)).with_state(state)
}

fn reply(status: StatusCode, error: impl Into<String>) -> Response {
    let mut r = (status, Json(ErrorReply { error: error.into() })).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    r
}

/// The remote address of the connection, when the server recorded it.
fn source(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical())
}

/// The credential of an `Authorization` value: the scheme is case-insensitive (RFC 7235).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// The agent the request authenticates as, or the 401/429 answer. A source that sent too many
/// refused requests lately is answered 429 before its headers are even read, and refusals
/// are logged as a summary per interval, never one line per request.
fn admit(state: &IngestState, headers: &HeaderMap, extensions: &Extensions) -> Result<String, Box<Response>> {
    let now = state.inner.clock.now();
    let from = source(extensions);
    if !lock(&state.inner.refusals).may_try(from, now) {
        return Err(state.refuse(Refusal::SourceThrottled, from, now));
    }
    let agent = headers
        .get(AGENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .map(Token::new);
    let (Some(agent), Some(token)) = (agent, token) else {
        return Err(state.refuse(Refusal::MissingCredentials, from, now));
    };
    if !valid_agent_name(agent) {
        return Err(state.refuse(Refusal::BadAgentName, from, now));
    }
    if !state.inner.tokens.verify(agent, &token) {
        return Err(state.refuse(Refusal::WrongToken, from, now));
    }
    if !lock(&state.inner.agents).admit(agent, now, state.inner.limits.rate) {
        return Err(state.refuse(Refusal::AgentRate, from, now));
    }
    state.log_refusals(now);
    Ok(agent.to_owned())
}

impl IngestState {
    /// Counts a refusal (metric, summary) and builds its answer, which never echoes a header.
    fn refuse(&self, reason: Refusal, from: Option<IpAddr>, now: Time) -> Box<Response> {
        lock(&self.inner.refusals).refuse(reason, from, now);
        if let Some(m) = &self.inner.metrics {
            m.refused(reason.label());
        }
        self.log_refusals(now);
        Box::new(match reason {
            Refusal::MissingCredentials => reply(
                StatusCode::UNAUTHORIZED,
                format!("missing `Authorization: Bearer …` or `{AGENT_HEADER}` header"),
            ),
            Refusal::BadAgentName | Refusal::WrongToken => {
                reply(StatusCode::UNAUTHORIZED, "the token is not valid for this agent")
            }
            Refusal::SourceThrottled => reply(
                StatusCode::TOO_MANY_REQUESTS,
                "too many refused requests from this address; slow down",
            ),
            Refusal::AgentRate => reply(
                StatusCode::TOO_MANY_REQUESTS,
                "this agent exceeded its request rate",
            ),
        })
    }

    /// Writes the refusal summary when one is due: one bounded line per (reason, source).
    fn log_refusals(&self, now: Time) {
        let Some((lines, folded)) = lock(&self.inner.refusals).summary_due(now) else {
            return;
        };
        for (reason, from, count) in lines {
            let from = from.map_or_else(|| "other sources".to_owned(), |ip| ip.to_string());
            tracing::warn!(
                reason = reason.label(),
                source = %from,
                count,
                interval_s = SUMMARY_INTERVAL,
                "Agent requests refused."
            );
        }
        if folded > 0 {
            tracing::warn!(
                count = folded,
                "Agent requests refused for other reasons or sources."
            );
        }
    }
}

async fn assignments(
    State(state): State<IngestState>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    match admit(&state, &headers, &extensions) {
        Ok(agent) => Json(state.assignments(&agent)).into_response(),
        Err(r) => *r,
    }
}

async fn agents(State(state): State<IngestState>) -> Response {
    Json(state.agents()).into_response()
}

/// A refusal sent before the request body was read: the connection cannot carry another
/// request (the unread body is still on it), so say so. Without `Connection: close` a client
/// may reuse the connection from its pool and lose its next request when the server closes it.
fn closing(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    r
}

async fn results(
    State(state): State<IngestState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Body,
) -> Response {
    let agent = match admit(&state, &headers, &extensions) {
        Ok(a) => a,
        Err(r) => return closing(*r),
    };
    let limit = state.inner.limits.max_body;
    let too_large = || {
        reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("batch body exceeds {limit} bytes; send smaller batches"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return closing(too_large());
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            let over = e
                .into_inner()
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            return if over {
                too_large()
            } else {
                reply(StatusCode::BAD_REQUEST, "the batch body could not be read")
            };
        }
    };
    let batch: Batch = match serde_json::from_slice(&bytes) {
        Ok(b) => b,
        Err(e) => return reply(StatusCode::BAD_REQUEST, format!("malformed batch: {e}")),
    };
    match state.ingest(&agent, &batch) {
        Ok(r) => Json(r).into_response(),
        Err(e @ BatchError::TooMany { .. }) => reply(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
        Err(e) => reply(StatusCode::BAD_REQUEST, format!("malformed batch: {e}")),
    }
}
