//! One authenticated OpenStack API client per cloud: an `osauth::Session` built on our own
//! reqwest client (timeouts, custom CA), with what osauth lacks wrapped around every call —
//! one transparent re-authentication on 401, bounded retries with jittered backoff, `Retry-After`,
//! a circuit breaker per API, and counters for metrics. Token renewal before expiry is osauth's
//! (it re-authenticates when less than 10 minutes of validity remain).

mod auth;
mod send;

pub use super::request::{Request, Service};
use super::{
    breaker::{self, Breaker, BreakerPolicy, Next, RetryPolicy},
    config::CloudConfig,
    errors::{ApiError, ErrorClass},
    metrics::CloudMetrics,
};
use crate::{clock::Clock, sim::rng::Rng};
pub use auth::from_osauth;
use osauth::{ApiVersion, Session, services::COMPUTE};
pub use send::decode;
use serde_json::Value;
use std::{collections::BTreeMap, sync::Arc, time::Duration};

/// Timeouts and resilience settings.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Retries per call.
    pub retry: RetryPolicy,
    /// Breaker per API.
    pub breaker: BreakerPolicy,
    /// The newest Nova microversion sloop asks for (it negotiates down to what the cloud offers).
    pub compute_microversion: (u16, u16),
}

impl Default for ApiOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
            compute_microversion: (2, 90),
        }
    }
}

/// Counters for metrics: calls by (API, outcome), retries, re-authentications, writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiStats {
    /// Calls sent, by (API, `ok` or error class).
    pub calls: BTreeMap<(&'static str, &'static str), u64>,
    /// Attempts repeated after a failure.
    pub retries: u64,
    /// Sessions rebuilt after a 401.
    pub reauthentications: u64,
    /// Requests sent that change something (anything but GET and read-only queries).
    pub writes: u64,
    /// Calls refused by an open breaker without touching the network.
    pub short_circuited: u64,
    /// The last 64 writes as `METHOD path` (an audit trail for reports and tests).
    pub recent_writes: std::collections::VecDeque<String>,
}

/// The oldest Nova microversion sloop works with: 2.25 (`os-migrateLive` without
/// `disk_over_commit`, `block_migration: auto`).
pub const MIN_COMPUTE: (u16, u16) = (2, 25);

/// An authenticated client for one cloud.
pub struct Api {
    config: CloudConfig,
    options: ApiOptions,
    http: reqwest::Client,
    session: Session,
    compute: ApiVersion,
    clock: Arc<dyn Clock>,
    breakers: BTreeMap<Service, Breaker>,
    stats: ApiStats,
    metrics: CloudMetrics,
    rng: Rng,
}

impl std::fmt::Debug for Api {
    // osauth's auth types print their secrets; never show the session.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("cloud", &self.config.name)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// Authenticates against `config` and negotiates the Nova microversion.
    pub async fn connect(
        config: CloudConfig,
        options: ApiOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ApiError> {
        let http = auth::http_client(&config, &options)?;
        let session = auth::build_session(&config, &http).await?;
        let seed = (clock.now().fract() * 1e9) as u64;
        let mut api = Self {
            compute: ApiVersion(2, 1),
            config,
            options,
            http,
            session,
            clock,
            breakers: BTreeMap::new(),
            stats: ApiStats::default(),
            metrics: CloudMetrics::default(),
            rng: Rng::new(seed),
        };
        api.compute = api.negotiate_compute().await?;
        Ok(api)
    }

    /// The time on the clock this client was connected with (drain graces are counted on it).
    pub fn now(&self) -> crate::clock::Timestamp {
        self.clock.now()
    }

    async fn negotiate_compute(&self) -> Result<ApiVersion, ApiError> {
        let range = self
            .session
            .get_api_versions(COMPUTE)
            .await
            .map_err(|e| from_osauth(e, "compute", "GET /"))?;
        let (want_major, want_minor) = self.options.compute_microversion;
        let want = ApiVersion(want_major, want_minor);
        let min = ApiVersion(MIN_COMPUTE.0, MIN_COMPUTE.1);
        match range {
            Some((_, max)) if max >= min => Ok(if max < want { max } else { want }),
            Some((_, max)) => Err(ApiError::local(
                ErrorClass::Invalid,
                "compute",
                "GET /",
                format!("the cloud offers Nova microversions up to {max}; sloop needs at least {min}"),
            )),
            None => Err(ApiError::local(
                ErrorClass::Invalid,
                "compute",
                "GET /",
                "the cloud does not support Nova microversions; sloop needs at least 2.25",
            )),
        }
    }

    /// Counts into `metrics` (from `metrics::register`) from now on.
    pub fn set_metrics(&mut self, metrics: CloudMetrics) {
        self.metrics = metrics;
    }

    /// The Nova microversion in use.
    pub fn compute_microversion(&self) -> (u16, u16) {
        (self.compute.0, self.compute.1)
    }

    /// The cloud's name.
    pub fn cloud_name(&self) -> &str {
        &self.config.name
    }

    /// The counters so far.
    pub fn stats(&self) -> &ApiStats {
        &self.stats
    }

    /// The breaker state of one API (`closed`, `open`, `half-open`).
    pub fn breaker_label(&self, service: Service) -> &'static str {
        self.breakers.get(&service).map_or("closed", Breaker::label)
    }

    /// A session sharing this client's token, for the `openstack` crate's typed calls.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Sends `req`, with the retries, re-authentication and breaker described above; returns
    /// the JSON body (`Null` when empty).
    pub async fn call(&mut self, req: &Request) -> Result<Value, ApiError> {
        let label = req.service.label();
        let policy = self.options.breaker;
        let now = self.clock.now();
        if let Err(left) = self
            .breakers
            .entry(req.service)
            .or_insert_with(|| Breaker::new(policy))
            .allow(now)
        {
            self.stats.short_circuited += 1;
            self.metrics.short_circuit(&self.config.name, label);
            return Err(ApiError::local(
                ErrorClass::BreakerOpen,
                label,
                &req.what(),
                format!("circuit open after repeated failures; next trial in {left:.0}s"),
            ));
        }
        let result = self.call_with_retries(req).await;
        let healthy = match &result {
            Ok(_) => true,
            Err(e) => !e.class.is_outage(),
        };
        let now = self.clock.now();
        if let Some(b) = self.breakers.get_mut(&req.service) {
            let before = b.label();
            b.record(now, healthy);
            self.metrics.breaker(&self.config.name, label, b.label());
            if b.label() != before {
                tracing::warn!(
                    api = label,
                    from = before,
                    to = b.label(),
                    "Circuit breaker changed state."
                );
            }
        }
        result
    }

    async fn call_with_retries(&mut self, req: &Request) -> Result<Value, ApiError> {
        let label = req.service.label();
        let mut reauthenticated = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if !req.read_only {
                self.stats.writes += 1;
                if self.stats.recent_writes.len() == 64 {
                    self.stats.recent_writes.pop_front();
                }
                self.stats.recent_writes.push_back(req.what());
            }
            let result = self.send_once(req).await;
            let outcome = match &result {
                Ok(_) => "ok",
                Err(e) => e.class.label(),
            };
            *self.stats.calls.entry((label, outcome)).or_default() += 1;
            self.metrics.call(&self.config.name, label, outcome);
            let err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if err.class == ErrorClass::Unauthorized && !reauthenticated {
                tracing::info!(api = label, what = %req.what(), "Token refused (401); re-authenticating once.");
                reauthenticated = true;
                self.reauthenticate().await?;
                continue;
            }
            let jitter = self.rng.uniform();
            let next = breaker::next(
                &self.options.retry,
                err.class,
                attempt,
                req.idempotent,
                req.retry_conflict,
                err.retry_after,
                jitter,
            );
            match next {
                Next::GiveUp => return Err(err),
                Next::RetryAfter(delay) => {
                    self.stats.retries += 1;
                    self.metrics.retry(&self.config.name, label);
                    tracing::debug!(api = label, what = %req.what(), class = err.class.label(), ?delay, "Retrying.");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}
