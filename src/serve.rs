//! The HTTP server of `sloop run`. It only reads published state (the status board's latest
//! `Arc<Status>`, the journal's ring, the metrics registry) and never calls the cloud or waits
//! for a reconcile pass.
//!
//! - `/`              the status page (server-rendered HTML, inline SVG, no script)
//! - `/api/v1/status` the same state as JSON
//! - `/metrics`       Prometheus / OpenMetrics text
//! - `/healthz`       the process is alive
//! - `/readyz`        policies loaded, a first snapshot taken for each, and the action journal
//!   writable (without it no action is executed)
//!
//! Every route but the agents' `POST /api/v1/agent/results` is GET-only (other methods get
//! 405): nothing here changes the controller's decisions. With a viewer token ([`viewer`]) the
//! page, every `/api/v1/*` route (`/api/v1/agents` included) and `/metrics` require it; the
//! health routes never do, and the agents' own routes take their per-agent tokens instead.
//!
//! With remote probe agents configured, their routes (`crate::ingest::router`:
//! `/api/v1/agent/assignments`, `/api/v1/agent/results`) and their status (`/api/v1/agents`)
//! are served here too, and the status page shows each agent's freshness. Other routes can be
//! merged through [`serve`]'s `extra`.

pub mod conn;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod json;
pub mod metrics;
pub mod page;
pub mod running;
pub mod tls;
pub mod viewer;

use crate::{ingest::IngestState, journal::Journal, run::status::Status};
use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use conn::{ConnMetrics, ServeLimits};
use metrics::Metrics;
pub use running::Running;
use serde::Deserialize;
use std::{future::Future, sync::Arc, time::Duration};
use tokio::{net::TcpListener, sync::watch};
use viewer::Viewer;

/// What the handlers read.
#[derive(Clone)]
pub struct AppState {
    /// The published controller state.
    pub status: watch::Receiver<Arc<Status>>,
    /// The action journal.
    pub journal: Arc<Journal>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// The remote agents' side, when agents are configured.
    pub ingest: Option<IngestState>,
}

impl AppState {
    fn snapshot(&self) -> Arc<Status> {
        self.status.borrow().clone()
    }
}

/// Every route of the server, open to anyone who can reach the listener.
pub fn router(state: AppState) -> Router {
    router_for(state, None)
}

/// Every route of the server; with `viewer`, the status page, the JSON API and `/metrics`
/// require its token.
pub fn router_for(state: AppState, viewer: Option<Viewer>) -> Router {
    let agents = state.ingest.clone().map(crate::ingest::router);
    let agents_status = state.ingest.clone().map(crate::ingest::status_router);
    let reads = Router::new()
        .route("/", get(status_page))
        .route("/api/v1/status", get(status_json))
        .route("/api/v1/journal", get(journal_json))
        .route("/metrics", get(metrics_text))
        .with_state(state.clone());
    let reads = match agents_status {
        Some(a) => reads.merge(a),
        None => reads,
    };
    let reads = match viewer {
        Some(v) => reads.route_layer(axum::middleware::from_fn_with_state(v, viewer::require)),
        None => reads,
    };
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
        .merge(reads);
    let app = match agents {
        Some(agents) => app.merge(agents),
        None => app,
    };
    app.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(10),
    ))
}

/// Serves `router` (merged with `extra`, e.g. the agents' ingest routes) on `listener` until
/// `shutdown` resolves, with the default [`conn::ServeLimits`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    extra: Option<Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = match extra {
        Some(extra) => router.merge(extra),
        None => router,
    };
    conn::serve(
        listener,
        app,
        ServeLimits::default(),
        ConnMetrics::default(),
        shutdown,
    )
    .await
}

/// Serves `router` over HTTPS on `listener` (see [`tls`]) until `shutdown` resolves.
pub async fn serve_tls(
    listener: tls::TlsListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    conn::serve(
        listener,
        router,
        ServeLimits::default(),
        ConnMetrics::default(),
        shutdown,
    )
    .await
}

/// `?window=15m|1h|3h|6h|24h`: the charts' time window.
#[derive(Debug, Deserialize)]
struct PageQuery {
    window: Option<String>,
}

async fn status_page(State(s): State<AppState>, Query(q): Query<PageQuery>) -> Html<String> {
    let status = s.snapshot();
    let agents = s.ingest.as_ref().map(|i| i.agents());
    let window = q.window.as_deref().unwrap_or(page::DEFAULT_WINDOW);
    Html(page::render_window(
        &status,
        &s.journal,
        agents.as_deref(),
        window,
    ))
}

async fn status_json(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(presented(&*s.snapshot()))
}

/// `value` as the JSON API shows it ([`json::present`]).
fn presented(value: &impl serde::Serialize) -> serde_json::Value {
    let mut v = serde_json::to_value(value).unwrap_or_default();
    json::present(&mut v);
    v
}

/// `?policy=NAME&limit=N`.
#[derive(Debug, Deserialize)]
struct JournalQuery {
    policy: Option<String>,
    limit: Option<usize>,
}

async fn journal_json(State(s): State<AppState>, Query(q): Query<JournalQuery>) -> Response {
    let limit = q.limit.unwrap_or(100).min(crate::journal::RING_ENTRIES);
    Json(presented(&s.journal.recent(q.policy.as_deref(), limit))).into_response()
}

/// OpenMetrics when the scraper asks for it (Prometheus does), else the classic text format.
async fn metrics_text(State(s): State<AppState>, headers: HeaderMap) -> Response {
    s.metrics
        .journal_writable
        .set(i64::from(s.journal.unwritable().is_none()));
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    if openmetrics {
        let ct = "application/openmetrics-text; version=1.0.0; charset=utf-8";
        ([(header::CONTENT_TYPE, ct)], s.metrics.encode()).into_response()
    } else {
        let ct = "text/plain; version=0.0.4; charset=utf-8";
        ([(header::CONTENT_TYPE, ct)], s.metrics.encode_prometheus()).into_response()
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<AppState>) -> Response {
    let status = s.snapshot();
    let journal = s.journal.unwritable();
    if status.ready() && !status.shutting_down && journal.is_none() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let why = if status.shutting_down {
            "shutting down".to_owned()
        } else if let Some(e) = journal {
            format!("the action journal cannot be written, so no action is executed ({e})")
        } else if !status.sources_synced {
            "policies not loaded yet".to_owned()
        } else {
            "waiting for a first snapshot of every policy".to_owned()
        };
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")).into_response()
    }
}
