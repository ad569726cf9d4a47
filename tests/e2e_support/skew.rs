//! A client clock that runs behind Keystone's, made on loopback: a proxy in front of a Keystone
//! that forwards every request unchanged and, in token answers, moves `expires_at` an hour
//! later. The token itself is Keystone's own and expires when Keystone says; only the client's
//! belief about it is off, as with a client whose clock is slow. That is the one way a client
//! that renews before expiry (osauth, 10 minutes ahead) still sends an expired token, so it is
//! how the e2e suite reaches "401 on an expired token → one re-authentication".

#![allow(dead_code)]

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, Method, Response, StatusCode, Uri},
};
use serde_json::Value;
use std::net::SocketAddr;

/// What the client is told about a token's expiry.
pub const BELIEVED_EXPIRY: &str = "2099-12-31T00:00:00.000000Z";

#[derive(Clone)]
struct Upstream {
    base: String,
    http: reqwest::Client,
}

/// Starts the proxy for the Keystone at `upstream` (e.g. `http://127.0.0.1:5001`) on a free
/// loopback port; returns its `/v3` URL. It runs until the test's runtime ends.
pub async fn start(upstream: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the skew proxy");
    let addr: SocketAddr = listener.local_addr().expect("proxy address");
    let state = Upstream {
        base: upstream.trim_end_matches('/').to_owned(),
        http: reqwest::Client::new(),
    };
    let app = Router::new().fallback(forward).with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/v3")
}

async fn forward(
    State(up): State<Upstream>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = up.http.request(method.clone(), format!("{}{path}", up.base));
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let answer = match req.body(body).send().await {
        Ok(a) => a,
        Err(e) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Body::from(format!("skew proxy: {e}")))
                .unwrap_or_default();
        }
    };
    let status = answer.status();
    let mut out = Response::builder().status(status);
    for (k, v) in answer.headers() {
        if k != "content-length" && k != "transfer-encoding" && k != "connection" {
            out = out.header(k, v);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    let token_answer = method == Method::POST && uri.path().ends_with("/auth/tokens") && status.is_success();
    let bytes = if token_answer {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(mut v) => {
                if let Some(t) = v.pointer_mut("/token/expires_at") {
                    *t = Value::String(BELIEVED_EXPIRY.into());
                }
                Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
            }
            Err(_) => bytes,
        }
    } else {
        bytes
    };
    out.body(Body::from(bytes)).unwrap_or_default()
}
