//! One HTTP exchange for [`Api`]: the request built on the osauth session (Nova with its
//! microversion), and the answer decoded into JSON or a classified [`ApiError`].

use super::{
    super::errors::{self, ApiError, ErrorClass},
    Api, Request, Service, from_osauth,
};
use osauth::{
    ApiVersion, ServiceRequestBuilder,
    services::{COMPUTE, GenericService, IMAGE, NETWORK, ServiceType, VersionSelector},
};
use serde_json::Value;
use std::time::Duration;

impl Api {
    pub(super) async fn send_once(&self, req: &Request) -> Result<Value, ApiError> {
        let s = &self.session;
        let m = req.method.clone();
        let sent = match req.service {
            Service::Compute => {
                let version = match req.max_microversion {
                    Some((major, minor)) => self.compute.min(ApiVersion(major, minor)),
                    None => self.compute,
                };
                send(s.request(COMPUTE, m, &req.path).api_version(version), req).await
            }
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
        decode(status, retry_after, &body, label, &req.what())
    }
}

/// An answer of any OpenStack API as sloop reads it: a 2xx body as JSON (`Null` when empty), any
/// other status as an error classified by status and body. Never panics on any input.
pub fn decode(
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
    service: &'static str,
    what: &str,
) -> Result<Value, ApiError> {
    if (200..300).contains(&status) {
        if body.trim().is_empty() {
            return Ok(Value::Null);
        }
        return serde_json::from_str(body).map_err(|e| {
            ApiError::local(
                ErrorClass::Invalid,
                service,
                what,
                format!("unreadable JSON: {e}"),
            )
        });
    }
    Err(ApiError {
        class: errors::classify(status, body),
        service,
        what: what.to_owned(),
        status: Some(status),
        message: errors::message_of(body),
        retry_after,
    })
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
