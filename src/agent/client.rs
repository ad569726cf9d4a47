//! The agent's HTTP(S) client for the controller: rustls (ring) with the bundled web roots
//! plus an optional private CA, the bearer token on every request, and controller answers
//! sorted into what the agent should do next.

use crate::ingest::{
    Token,
    wire::{AGENT_HEADER, ASSIGNMENTS_PATH, Assignments, Batch, BatchReply, ErrorReply, RESULTS_PATH},
};
use reqwest::{
    Certificate, StatusCode,
    header::{AUTHORIZATION, HeaderMap, HeaderValue},
};
use std::time::Duration;

/// What went wrong talking to the controller, by what the agent does about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Unreachable, timed out, 5xx or 429: keep the results and retry with backoff.
    #[error("controller unavailable: {0}")]
    Unavailable(String),
    /// 401/403: the controller does not accept this agent's token.
    #[error("controller refused the agent's credentials: {0}")]
    Unauthorized(String),
    /// 413: the batch was too large; send smaller ones.
    #[error("batch too large: {0}")]
    TooLarge(String),
    /// 400 or another 4xx: the controller will never accept this batch.
    #[error("controller rejected the request: {0}")]
    Rejected(String),
}

/// Why the client could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The CA file holds no usable certificate.
    #[error("{file}: {reason}")]
    Ca {
        /// The CA file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The controller URL is not http(s).
    #[error("controller URL `{0}` must start with http:// or https://")]
    Url(String),
    /// The token or agent name cannot be sent as a header.
    #[error("the agent name or the token contains characters not allowed in an HTTP header")]
    Header,
    /// reqwest could not build a client.
    #[error("HTTP client: {0}")]
    Build(String),
}

/// A client bound to one controller, agent name and token.
#[derive(Debug, Clone)]
pub struct ControllerClient {
    http: reqwest::Client,
    base: String,
}

impl ControllerClient {
    /// A client for `controller` (base URL) that authenticates as `agent` with `token`,
    /// trusting `ca` (PEM, with its file name for errors) in addition to the web roots.
    pub fn new(
        controller: &str,
        agent: &str,
        token: &Token,
        ca: Option<(&str, &[u8])>,
    ) -> Result<Self, ClientError> {
        if !(controller.starts_with("http://") || controller.starts_with("https://")) {
            return Err(ClientError::Url(controller.to_owned()));
        }
        let mut headers = HeaderMap::new();
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| ClientError::Header)?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        headers.insert(
            AGENT_HEADER,
            HeaderValue::from_str(agent).map_err(|_| ClientError::Header)?,
        );
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("sloop-agent/", env!("CARGO_PKG_VERSION")));
        if let Some((file, pem)) = ca {
            let certs = Certificate::from_pem_bundle(pem).map_err(|e| ClientError::Ca {
                file: file.to_owned(),
                reason: e.to_string(),
            })?;
            if certs.is_empty() {
                return Err(ClientError::Ca {
                    file: file.to_owned(),
                    reason: "no PEM certificate in the file".into(),
                });
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        Ok(Self {
            http: builder.build().map_err(|e| ClientError::Build(e.to_string()))?,
            base: controller.trim_end_matches('/').to_owned(),
        })
    }

    /// Fetches this agent's assignments.
    pub async fn assignments(&self) -> Result<Assignments, SendError> {
        let url = format!("{}{ASSIGNMENTS_PATH}", self.base);
        let r = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| unavailable(&url, e))?;
        let r = check(&url, r).await?;
        r.json()
            .await
            .map_err(|e| SendError::Rejected(format!("{url}: {e}")))
    }

    /// Sends one batch of results.
    pub async fn send(&self, batch: &Batch) -> Result<BatchReply, SendError> {
        let url = format!("{}{RESULTS_PATH}", self.base);
        let r = self
            .http
            .post(&url)
            .json(batch)
            .send()
            .await
            .map_err(|e| unavailable(&url, e))?;
        let r = check(&url, r).await?;
        r.json()
            .await
            .map_err(|e| SendError::Unavailable(format!("{url}: {e}")))
    }
}

fn unavailable(url: &str, e: reqwest::Error) -> SendError {
    // reqwest's Display omits the cause (connection refused, certificate unknown, …).
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    SendError::Unavailable(format!("{url}: {msg}"))
}

async fn check(url: &str, r: reqwest::Response) -> Result<reqwest::Response, SendError> {
    let status = r.status();
    if status.is_success() {
        return Ok(r);
    }
    let text = r.text().await.unwrap_or_default();
    let detail = serde_json::from_str::<ErrorReply>(&text)
        .map(|e| e.error)
        .unwrap_or_else(|_| text.chars().take(200).collect());
    let msg = format!("{url}: {status}: {detail}");
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SendError::Unauthorized(msg),
        StatusCode::PAYLOAD_TOO_LARGE => SendError::TooLarge(msg),
        StatusCode::TOO_MANY_REQUESTS => SendError::Unavailable(msg),
        s if s.is_server_error() => SendError::Unavailable(msg),
        _ => SendError::Rejected(msg),
    })
}
