//! The ingest endpoints. Every agent request is authenticated from its headers before anything
//! else happens; the body of a results batch is read only after that, and never beyond the
//! size limit, so a stranger cannot make the controller buffer or parse anything.

use super::{
    IngestState,
    batch::BatchError,
    lock,
    tokens::Token,
    wire::{AGENT_HEADER, AGENTS_PATH, ASSIGNMENTS_PATH, Batch, ErrorReply, RESULTS_PATH},
};
use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};

/// The ingest routes (`GET /api/v1/agent/assignments`, `POST /api/v1/agent/results`,
/// `GET /api/v1/agents`), ready to merge into the daemon's router.
pub fn router(state: IngestState) -> Router {
    Router::new()
        .route(ASSIGNMENTS_PATH, get(assignments))
        .route(RESULTS_PATH, post(results))
        .route(AGENTS_PATH, get(agents))
        .with_state(state)
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

/// The agent the request authenticates as, or the 401/429 answer.
fn admit(state: &IngestState, headers: &HeaderMap) -> Result<String, Box<Response>> {
    let agent = headers
        .get(AGENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(Token::new);
    let (Some(agent), Some(token)) = (agent, token) else {
        return Err(Box::new(reply(
            StatusCode::UNAUTHORIZED,
            format!("missing `Authorization: Bearer …` or `{AGENT_HEADER}` header"),
        )));
    };
    if !state.inner.tokens.verify(agent, &token) {
        tracing::warn!(
            agent,
            "Agent request with a wrong token or an unknown agent name."
        );
        return Err(Box::new(reply(
            StatusCode::UNAUTHORIZED,
            "the token is not valid for this agent",
        )));
    }
    let now = state.inner.clock.now();
    if !lock(&state.inner.agents).admit(agent, now, state.inner.limits.rate) {
        return Err(Box::new(reply(
            StatusCode::TOO_MANY_REQUESTS,
            format!("agent `{agent}` exceeded its request rate"),
        )));
    }
    Ok(agent.to_owned())
}

async fn assignments(State(state): State<IngestState>, headers: HeaderMap) -> Response {
    match admit(&state, &headers) {
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

async fn results(State(state): State<IngestState>, headers: HeaderMap, body: Body) -> Response {
    let agent = match admit(&state, &headers) {
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
