//! A loopback stand-in for the OpenStack lab that answers with recorded responses, and the
//! recorder that captures them: in record mode it forwards every request to the lab service
//! named by the path prefix (`/p8774/...` → `http://127.0.0.1:8774/...`) and keeps the answer;
//! in replay mode it serves the answers recorded for `METHOD path`, in the order recorded (the
//! last one repeats). Service URLs inside answers (Keystone's catalog, version documents) are
//! rewritten to point back at the stand-in, and Keystone's token is stored masked.

#![allow(dead_code)]

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

/// The lab's service ports (keystone, nova, neutron, glance, gnocchi, octavia, placement).
const PORTS: &[u16] = &[5000, 8774, 9696, 9292, 8041, 9876, 8778];
/// Where the stand-in's own address goes in a stored answer.
const BASE: &str = "{BASE}";
/// Response headers worth keeping.
const KEPT: &[&str] = &[
    "content-type",
    "x-subject-token",
    "openstack-api-version",
    "x-openstack-nova-api-version",
];

/// One recorded answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Every answer by `METHOD path`, in the order they came.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Recording {
    pub answers: BTreeMap<String, Vec<Answer>>,
}

struct Inner {
    record: bool,
    base: String,
    recording: Recording,
    served: BTreeMap<String, usize>,
    unknown: Vec<String>,
    http: reqwest::Client,
}

/// The running stand-in.
pub struct FakeCloud {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCloud {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeCloud {
    /// A recorder in front of the lab.
    pub async fn record() -> Self {
        Self::start(true, Recording::default()).await
    }

    /// A stand-in answering from `recording`.
    pub async fn replay(recording: Recording) -> Self {
        Self::start(false, recording).await
    }

    async fn start(record: bool, recording: Recording) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let inner = Arc::new(Mutex::new(Inner {
            record,
            base: base.clone(),
            recording,
            served: BTreeMap::new(),
            unknown: Vec::new(),
            http: reqwest::Client::new(),
        }));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, inner, task }
    }

    /// Keystone's URL through the stand-in.
    pub fn auth_url(&self) -> String {
        format!("{}/p5000/v3", self.base)
    }

    /// What was recorded so far.
    pub fn recording(&self) -> Recording {
        self.inner.lock().unwrap().recording.clone()
    }

    /// Requests a replay had no answer for.
    pub fn unknown(&self) -> Vec<String> {
        self.inner.lock().unwrap().unknown.clone()
    }
}

fn to_base(body: &str, base: &str) -> String {
    let mut out = body.to_owned();
    for p in PORTS {
        out = out.replace(&format!("http://127.0.0.1:{p}"), &format!("{base}/p{p}"));
        out = out.replace(&format!("http://localhost:{p}"), &format!("{base}/p{p}"));
    }
    out
}

fn respond(a: &Answer, base: &str) -> Response {
    let mut headers = HeaderMap::new();
    for (k, v) in &a.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
            headers.insert(k, v);
        }
    }
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, headers, a.body.replace(BASE, base)).into_response()
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let key = format!("{method} {path}");
    let (record, base, http) = {
        let g = inner.lock().unwrap();
        (g.record, g.base.clone(), g.http.clone())
    };
    if !record {
        let mut g = inner.lock().unwrap();
        let Some(answers) = g.recording.answers.get(&key).cloned() else {
            g.unknown.push(key);
            return (StatusCode::NOT_FOUND, "not recorded").into_response();
        };
        let n = g.served.entry(key).or_default();
        let a = &answers[(*n).min(answers.len() - 1)];
        *n += 1;
        return respond(a, &base);
    }
    // `/p9876/v2/...`, or just `/p9876` for a catalog endpoint without a path.
    let Some((port, rest)) = path
        .strip_prefix("/p")
        .map(|p| p.split_once('/').unwrap_or((p, "")))
        .and_then(|(port, rest)| Some((port.parse::<u16>().ok()?, rest)))
    else {
        return (StatusCode::NOT_FOUND, "no service prefix").into_response();
    };
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let url = format!("http://127.0.0.1:{port}/{rest}{query}");
    let mut req = http.request(method, url).body(body.to_vec());
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = resp.status().as_u16();
    let kept: Vec<(String, String)> = resp
        .headers()
        .iter()
        .filter(|(k, _)| KEPT.contains(&k.as_str()))
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let text = resp.text().await.unwrap_or_default();
    let live = Answer {
        status,
        headers: kept.clone(),
        body: to_base(&text, &base),
    };
    // A replayed token must not expire: the recorded one lives only hours.
    let text = if path.ends_with("/auth/tokens") {
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(mut v) => {
                if let Some(t) = v.pointer_mut("/token/expires_at") {
                    *t = "2099-12-31T00:00:00.000000Z".into();
                }
                v.to_string()
            }
            Err(_) => text,
        }
    } else {
        text
    };
    let stored = Answer {
        status,
        headers: kept
            .into_iter()
            .map(|(k, v)| {
                if k == "x-subject-token" {
                    (k, "recorded-token".into())
                } else {
                    (k, v)
                }
            })
            .collect(),
        body: to_base(&text, BASE),
    };
    inner
        .lock()
        .unwrap()
        .recording
        .answers
        .entry(key)
        .or_default()
        .push(stored);
    respond(&live, &base)
}
