//! One authenticated OpenStack API client per cloud: an `osauth::Session` built on our own
//! reqwest client (timeouts, custom CA), with what osauth lacks wrapped around every call —
//! one transparent re-authentication on 401, bounded retries with jittered backoff, `Retry-After`,
//! a circuit breaker per API, and counters for metrics. Token renewal before expiry is osauth's
//! (it re-authenticates when less than 10 minutes of validity remain).

pub use super::request::{Request, Service};
use super::{
    breaker::{self, Breaker, BreakerPolicy, Next, RetryPolicy},
    config::{Auth, CloudConfig, Secret},
    errors::{self, ApiError, ErrorClass},
    metrics::CloudMetrics,
};
use crate::{clock::Clock, sim::rng::Rng};
use osauth::{
    ApiVersion, ErrorKind, InterfaceType, ServiceRequestBuilder, Session,
    common::IdOrName,
    identity::{ApplicationCredential, Password},
    services::{COMPUTE, GenericService, IMAGE, NETWORK, ServiceType, VersionSelector},
};
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
        let http = http_client(&config, &options)?;
        let session = build_session(&config, &http).await?;
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

    /// The token in use (for the e2e test that revokes it). Wrapped: it never prints.
    pub async fn current_token(&self) -> Result<Secret, ApiError> {
        let probe = self.http.get(&self.config.auth_url);
        let req = self
            .session
            .auth_type()
            .authenticate(&self.http, probe)
            .await
            .map_err(|e| from_osauth(e, "identity", "POST auth/tokens"))?
            .build()
            .map_err(|e| ApiError::local(ErrorClass::Invalid, "identity", "token", e.to_string()))?;
        let token = req
            .headers()
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::local(ErrorClass::Invalid, "identity", "token", "no token header"))?;
        Ok(Secret::new(token))
    }

    /// Builds a new session (new token). Called once after a 401.
    pub async fn reauthenticate(&mut self) -> Result<(), ApiError> {
        self.session = build_session(&self.config, &self.http).await?;
        self.stats.reauthentications += 1;
        self.metrics.reauthenticated(&self.config.name);
        Ok(())
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

    async fn send_once(&self, req: &Request) -> Result<Value, ApiError> {
        let s = &self.session;
        let m = req.method.clone();
        let sent = match req.service {
            Service::Compute => send(s.request(COMPUTE, m, &req.path).api_version(self.compute), req).await,
            Service::Network => send(s.request(NETWORK, m, &req.path), req).await,
            Service::Image => send(s.request(IMAGE, m, &req.path), req).await,
            Service::LoadBalancer => {
                let svc = GenericService::new("load-balancer", VersionSelector::Major(2));
                send(s.request(svc, m, &req.path), req).await
            }
            Service::Metric => {
                let svc = GenericService::new("metric", VersionSelector::Major(1));
                send(s.request(svc, m, &req.path), req).await
            }
        };
        let label = req.service.label();
        let resp = sent.map_err(|e| from_osauth(e, label, &req.what()))?;
        let status = resp.status().as_u16();
        let retry_after = errors::parse_retry_after(
            resp.headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
        );
        let body = resp.text().await.map_err(|e| {
            ApiError::local(
                ErrorClass::Transport,
                label,
                &req.what(),
                format!("reading the body: {e}"),
            )
        })?;
        if (200..300).contains(&status) {
            if body.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&body).map_err(|e| {
                ApiError::local(
                    ErrorClass::Invalid,
                    label,
                    &req.what(),
                    format!("unreadable JSON: {e}"),
                )
            });
        }
        Err(ApiError {
            class: errors::classify(status, &body),
            service: label,
            what: req.what(),
            status: Some(status),
            message: errors::message_of(&body),
            retry_after,
        })
    }
}

async fn send<S: ServiceType + Send>(
    b: ServiceRequestBuilder<S>,
    req: &Request,
) -> Result<reqwest::Response, osauth::Error> {
    let mut b = b;
    if !req.query.is_empty() {
        b = b.query(&req.query);
    }
    if let Some(body) = &req.body {
        b = b.json(body);
    }
    b.send_unchecked().await
}

/// Maps osauth's own failures (token requests, endpoint discovery, transport) to our classes.
pub fn from_osauth(e: osauth::Error, service: &'static str, what: &str) -> ApiError {
    let class = match e.kind() {
        ErrorKind::AuthenticationFailed => ErrorClass::Unauthorized,
        ErrorKind::AccessDenied => ErrorClass::Forbidden,
        ErrorKind::Conflict => ErrorClass::Conflict,
        ErrorKind::ProtocolError | ErrorKind::OperationTimedOut => ErrorClass::Transport,
        ErrorKind::InternalServerError => ErrorClass::Server,
        ErrorKind::ResourceNotFound => ErrorClass::NotFound,
        _ => ErrorClass::Invalid,
    };
    let (service, what) = if class == ErrorClass::Unauthorized {
        ("identity", "POST auth/tokens")
    } else {
        (service, what)
    };
    ApiError::local(class, service, what, e.to_string())
}

fn http_client(config: &CloudConfig, options: &ApiOptions) -> Result<reqwest::Client, ApiError> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout)
        .user_agent(concat!("sloop/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &config.cacert {
        let bad = |m: String| {
            ApiError::local(
                ErrorClass::Invalid,
                "identity",
                "cacert",
                format!("{}: {m}", path.display()),
            )
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))? {
            b = b.add_root_certificate(cert);
        }
    }
    if !config.verify {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build()
        .map_err(|e| ApiError::local(ErrorClass::Invalid, "identity", "http client", e.to_string()))
}

async fn build_session(config: &CloudConfig, http: &reqwest::Client) -> Result<Session, ApiError> {
    let invalid = |e: osauth::Error| from_osauth(e, "identity", "POST auth/tokens");
    let mut session = match &config.auth {
        Auth::Password {
            username,
            password,
            user_domain,
            project_name,
            project_id,
            project_domain,
        } => {
            let mut auth =
                Password::new(&config.auth_url, username, password.expose(), user_domain).map_err(invalid)?;
            let project = match (project_id, project_name) {
                (Some(id), _) => Some(IdOrName::Id(id.clone())),
                (None, Some(name)) => Some(IdOrName::Name(name.clone())),
                (None, None) => None,
            };
            if let Some(p) = project {
                auth.set_project_scope(p, IdOrName::Name(project_domain.clone()));
            }
            Session::new_with_client(http.clone(), auth)
                .await
                .map_err(invalid)?
        }
        Auth::ApplicationCredential {
            id,
            name,
            user_id,
            secret,
        } => {
            let auth = match (id, name, user_id) {
                (Some(id), _, _) => ApplicationCredential::new(&config.auth_url, id, secret.expose()),
                (None, Some(name), Some(user)) => {
                    ApplicationCredential::with_user_id(&config.auth_url, name, secret.expose(), user)
                }
                _ => {
                    return Err(ApiError::local(
                        ErrorClass::Invalid,
                        "identity",
                        "config",
                        format!(
                            "{}: cloud `{}` needs application_credential_id, or a name with user_id",
                            config.source, config.name
                        ),
                    ));
                }
            }
            .map_err(invalid)?;
            Session::new_with_client(http.clone(), auth)
                .await
                .map_err(invalid)?
        }
    };
    if let Some(region) = &config.region {
        session.set_region(region.clone());
    }
    if let Some(interface) = &config.interface {
        let it: InterfaceType = interface.parse().map_err(|e: osauth::Error| {
            ApiError::local(
                ErrorClass::Invalid,
                "identity",
                "config",
                format!("interface: {e}"),
            )
        })?;
        session.set_endpoint_interface(it);
    }
    Ok(session)
}
