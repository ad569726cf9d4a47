//! One API request as sloop describes it: which API, method, path relative to the discovered
//! versioned endpoint, and whether it may be repeated (idempotent), changes nothing (read-only)
//! or should wait out 409s (Octavia `PENDING_*`).

use reqwest::Method;
use serde_json::Value;

/// The APIs sloop talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// Nova.
    Compute,
    /// Neutron.
    Network,
    /// Glance.
    Image,
    /// Octavia.
    LoadBalancer,
    /// Gnocchi.
    Metric,
}

impl Service {
    /// The catalog type, used as the metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Service::Compute => "compute",
            Service::Network => "network",
            Service::Image => "image",
            Service::LoadBalancer => "load-balancer",
            Service::Metric => "metric",
        }
    }
}

/// One API request. Paths are relative to the discovered versioned endpoint (`servers`, not
/// `v2.1/servers`).
#[derive(Debug, Clone)]
pub struct Request {
    pub(super) service: Service,
    pub(super) method: Method,
    pub(super) path: Vec<String>,
    pub(super) query: Vec<(String, String)>,
    pub(super) body: Option<Value>,
    pub(super) idempotent: bool,
    pub(super) read_only: bool,
    pub(super) retry_conflict: bool,
    pub(super) max_microversion: Option<(u16, u16)>,
}

impl Request {
    fn new(service: Service, method: Method, path: &[&str]) -> Self {
        let read_only = method == Method::GET;
        Self {
            idempotent: method != Method::POST,
            read_only,
            service,
            method,
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            query: Vec::new(),
            body: None,
            retry_conflict: false,
            max_microversion: None,
        }
    }
    /// GET.
    pub fn get(service: Service, path: &[&str]) -> Self {
        Self::new(service, Method::GET, path)
    }
    /// POST (not repeated after an ambiguous failure).
    pub fn post(service: Service, path: &[&str], body: Value) -> Self {
        Self::new(service, Method::POST, path).json(body)
    }
    /// A POST that only reads (Gnocchi's aggregates query): safe to repeat.
    pub fn query_post(service: Service, path: &[&str], body: Value) -> Self {
        let mut r = Self::post(service, path, body);
        r.idempotent = true;
        r.read_only = true;
        r
    }
    /// PUT.
    pub fn put(service: Service, path: &[&str], body: Value) -> Self {
        Self::new(service, Method::PUT, path).json(body)
    }
    /// DELETE.
    pub fn delete(service: Service, path: &[&str]) -> Self {
        Self::new(service, Method::DELETE, path)
    }
    /// Adds a query parameter.
    pub fn param(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.into(), v.into()));
        self
    }
    /// Sets the JSON body.
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    /// Retries 409 with backoff (Octavia answers 409 while its load balancer is `PENDING_*`).
    pub fn retry_conflicts(mut self) -> Self {
        self.retry_conflict = true;
        self
    }
    /// Sends at most Nova microversion `major.minor` (below the negotiated one when newer
    /// microversions dropped fields this request reads, e.g. hypervisor load after 2.87).
    pub fn max_microversion(mut self, major: u16, minor: u16) -> Self {
        self.max_microversion = Some((major, minor));
        self
    }
    /// `METHOD path`, for errors and logs (never the body or the query, which may hold data).
    pub fn what(&self) -> String {
        format!("{} {}", self.method, self.path.join("/"))
    }
}
