//! A small, stateful fake Kubernetes API server on 127.0.0.1, enough for sloop's Kubernetes
//! glue: Leases (get, create, replace under resourceVersion with 409 on conflicts), ConfigMaps
//! (list, and watch from a resourceVersion with label selectors, bookmarks and 410 Gone after
//! compaction) and events.k8s.io Events (create). Objects are kept as JSON; every write bumps
//! one global resourceVersion, as etcd does.
//!
//! Tests steer it directly: put or delete ConfigMaps, let "another holder" take a Lease, make
//! Lease requests fail, break open watches, compact history.
#![allow(dead_code)]

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, HashMap},
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};
use tokio::sync::{broadcast, mpsc};

/// One change to a ConfigMap, as the watch history keeps it.
#[derive(Clone, Debug)]
struct Change {
    rv: u64,
    old: Option<Value>,
    new: Option<Value>,
}

#[derive(Default)]
struct Store {
    rv: u64,
    /// Watches from a resourceVersion below this get 410 Gone.
    compacted: u64,
    leases: BTreeMap<(String, String), Value>,
    configmaps: BTreeMap<(String, String), Value>,
    history: Vec<Change>,
    events: Vec<Value>,
    fail_leases: bool,
    hang_leases: bool,
    watch_unavailable: bool,
    lease_writes: usize,
    lease_requests: usize,
    watch_requests: usize,
}

struct Shared {
    store: Mutex<Store>,
    changes: broadcast::Sender<Change>,
    /// Every send closes the open watch streams.
    breaker: broadcast::Sender<()>,
}

type App = Arc<Shared>;

/// The running server.
pub struct FakeK8s {
    pub addr: SocketAddr,
    shared: App,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeK8s {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeK8s {
    pub async fn start() -> Self {
        let (changes, _) = broadcast::channel(1024);
        let (breaker, _) = broadcast::channel(16);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::default()),
            changes,
            breaker,
        });
        let app = Router::new()
            .route(
                "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases",
                post(create_lease),
            )
            .route(
                "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}",
                get(get_lease).put(replace_lease),
            )
            .route("/api/v1/namespaces/{ns}/configmaps", get(list_or_watch_ns))
            .route("/api/v1/configmaps", get(list_or_watch_all))
            .route(
                "/apis/events.k8s.io/v1/namespaces/{ns}/events",
                post(create_event),
            )
            .fallback(|uri: axum::http::Uri| async move {
                status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("fake_k8s does not serve {uri}"),
                )
            })
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, task }
    }

    /// A kube client for this server, default namespace `default`.
    pub fn client(&self) -> kube::Client {
        let url = format!("http://{}", self.addr).parse().expect("url");
        kube::Client::try_from(kube::Config::new(url)).expect("client")
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.shared.store.lock().expect("fake_k8s lock")
    }

    // --- ConfigMaps ---

    /// Creates or replaces a ConfigMap and tells the watches.
    pub fn put_configmap(&self, ns: &str, name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) {
        let labels: BTreeMap<_, _> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let data: BTreeMap<_, _> = data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut s = self.store();
        s.rv += 1;
        let rv = s.rv;
        let key = (ns.to_string(), name.to_string());
        let old = s.configmaps.get(&key).cloned();
        let obj = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": labels,
                         "resourceVersion": rv.to_string(), "uid": format!("uid-cm-{name}")},
            "data": data,
        });
        s.configmaps.insert(key, obj.clone());
        self.record(
            &mut s,
            Change {
                rv,
                old,
                new: Some(obj),
            },
        );
    }

    pub fn delete_configmap(&self, ns: &str, name: &str) {
        let mut s = self.store();
        let Some(mut old) = s.configmaps.remove(&(ns.to_string(), name.to_string())) else {
            return;
        };
        s.rv += 1;
        let rv = s.rv;
        old["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.record(
            &mut s,
            Change {
                rv,
                old: Some(old),
                new: None,
            },
        );
    }

    fn record(&self, s: &mut Store, change: Change) {
        s.history.push(change.clone());
        let _ = self.shared.changes.send(change);
    }

    /// Closes every open watch stream (as an API server restart or a load balancer would).
    pub fn break_watches(&self) {
        let _ = self.shared.breaker.send(());
    }

    /// Forgets the watch history: a watch from an older resourceVersion gets 410 Gone.
    pub fn compact(&self) {
        let mut s = self.store();
        s.compacted = s.rv;
        s.history.clear();
    }

    /// While on, new watch requests get 503 (an API server restarting).
    pub fn watch_unavailable(&self, on: bool) {
        self.store().watch_unavailable = on;
    }

    pub fn watch_requests(&self) -> usize {
        self.store().watch_requests
    }

    // --- Leases ---

    pub fn lease(&self, ns: &str, name: &str) -> Option<Value> {
        self.store()
            .leases
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    pub fn lease_holder(&self, ns: &str, name: &str) -> Option<String> {
        self.lease(ns, name)
            .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
    }

    /// Another candidate wins: the Lease now names `holder`, freshly renewed.
    pub fn steal_lease(&self, ns: &str, name: &str, holder: &str) {
        let mut s = self.store();
        s.rv += 1;
        let rv = s.rv;
        if let Some(l) = s.leases.get_mut(&(ns.to_string(), name.to_string())) {
            l["spec"]["holderIdentity"] = json!(holder);
            l["spec"]["renewTime"] = json!("2030-01-01T00:00:00.000000Z");
            l["metadata"]["resourceVersion"] = json!(rv.to_string());
        }
    }

    /// While on, every Lease request gets 500.
    pub fn fail_leases(&self, on: bool) {
        self.store().fail_leases = on;
    }

    /// While on, Lease requests get no answer, ever (a partitioned or overloaded API server).
    pub fn hang_leases(&self, on: bool) {
        self.store().hang_leases = on;
    }

    /// Successful Lease creates and replaces so far.
    pub fn lease_writes(&self) -> usize {
        self.store().lease_writes
    }

    // --- Events ---

    pub fn events(&self) -> Vec<Value> {
        self.store().events.clone()
    }
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16(),
    });
    (code, Json(body)).into_response()
}

fn lock(app: &App) -> MutexGuard<'_, Store> {
    app.store.lock().expect("fake_k8s lock")
}

// === Leases ===

/// A request that arrives while `hang_leases` is on is never answered (a black hole: turning
/// the switch off does not release it), so only the client's own timeout gets it out.
async fn maybe_hang(app: &App) {
    let hang = lock(app).hang_leases;
    if hang {
        std::future::pending::<()>().await;
    }
}

async fn get_lease(State(app): State<App>, Path((ns, name)): Path<(String, String)>) -> Response {
    maybe_hang(&app).await;
    let mut s = lock(&app);
    s.lease_requests += 1;
    if s.fail_leases {
        return status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "injected failure",
        );
    }
    match s.leases.get(&(ns, name.clone())) {
        Some(l) => Json(l.clone()).into_response(),
        None => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("leases \"{name}\" not found"),
        ),
    }
}

async fn create_lease(
    State(app): State<App>,
    Path(ns): Path<String>,
    Json(mut body): Json<Value>,
) -> Response {
    maybe_hang(&app).await;
    let mut s = lock(&app);
    s.lease_requests += 1;
    if s.fail_leases {
        return status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "injected failure",
        );
    }
    let Some(name) = body["metadata"]["name"].as_str().map(str::to_string) else {
        return status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "metadata.name: Required value",
        );
    };
    let key = (ns.clone(), name.clone());
    if s.leases.contains_key(&key) {
        return status(
            StatusCode::CONFLICT,
            "AlreadyExists",
            &format!("leases \"{name}\" already exists"),
        );
    }
    s.rv += 1;
    body["metadata"]["resourceVersion"] = json!(s.rv.to_string());
    body["metadata"]["namespace"] = json!(ns);
    body["metadata"]["uid"] = json!(format!("uid-lease-{name}"));
    s.leases.insert(key, body.clone());
    s.lease_writes += 1;
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn replace_lease(
    State(app): State<App>,
    Path((ns, name)): Path<(String, String)>,
    Json(mut body): Json<Value>,
) -> Response {
    maybe_hang(&app).await;
    let mut s = lock(&app);
    s.lease_requests += 1;
    if s.fail_leases {
        return status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "injected failure",
        );
    }
    let key = (ns, name.clone());
    let Some(current) = s.leases.get(&key) else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("leases \"{name}\" not found"),
        );
    };
    let sent = body["metadata"]["resourceVersion"].as_str().unwrap_or("");
    if !sent.is_empty() && current["metadata"]["resourceVersion"].as_str() != Some(sent) {
        return status(
            StatusCode::CONFLICT,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on leases.coordination.k8s.io \"{name}\": the object has been \
                 modified; please apply your changes to the latest version and try again"
            ),
        );
    }
    s.rv += 1;
    body["metadata"]["resourceVersion"] = json!(s.rv.to_string());
    s.leases.insert(key, body.clone());
    s.lease_writes += 1;
    Json(body).into_response()
}

// === Events ===

async fn create_event(
    State(app): State<App>,
    Path(ns): Path<String>,
    Json(mut body): Json<Value>,
) -> Response {
    let mut s = lock(&app);
    if body["metadata"]["namespace"].as_str().is_some_and(|n| n != ns) {
        return status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "the namespace of the object does not match",
        );
    }
    s.rv += 1;
    body["metadata"]["resourceVersion"] = json!(s.rv.to_string());
    s.events.push(body.clone());
    (StatusCode::CREATED, Json(body)).into_response()
}

// === ConfigMaps: list and watch ===

async fn list_or_watch_ns(
    State(app): State<App>,
    Path(ns): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    list_or_watch(app, Some(ns), q)
}

async fn list_or_watch_all(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Response {
    list_or_watch(app, None, q)
}

/// Equality-based selectors only (`a=b,c=d`), which is what sloop uses.
fn matches(obj: &Value, ns: &Option<String>, selector: &str) -> bool {
    if let Some(ns) = ns
        && obj["metadata"]["namespace"].as_str() != Some(ns)
    {
        return false;
    }
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        let (k, v) = term.split_once('=').unwrap_or((term, ""));
        obj["metadata"]["labels"][k].as_str() == Some(v.trim_start_matches('='))
    })
}

fn list_or_watch(app: App, ns: Option<String>, q: HashMap<String, String>) -> Response {
    let selector = q.get("labelSelector").cloned().unwrap_or_default();
    if q.get("watch").map(String::as_str) == Some("true") {
        return watch(app, ns, selector, q);
    }
    let s = lock(&app);
    let items: Vec<Value> = s
        .configmaps
        .values()
        .filter(|o| matches(o, &ns, &selector))
        .cloned()
        .collect();
    Json(json!({
        "apiVersion": "v1", "kind": "ConfigMapList",
        "metadata": {"resourceVersion": s.rv.to_string()},
        "items": items,
    }))
    .into_response()
}

/// The watch event a change means for one watcher, if any.
fn translate(change: &Change, ns: &Option<String>, selector: &str) -> Option<Value> {
    let was = change.old.as_ref().is_some_and(|o| matches(o, ns, selector));
    let is = change.new.as_ref().is_some_and(|o| matches(o, ns, selector));
    let (kind, obj) = match (was, is) {
        (false, false) => return None,
        (false, true) => ("ADDED", change.new.clone()),
        (true, true) => ("MODIFIED", change.new.clone()),
        // Deleted, or its labels no longer match: the watcher sees it go.
        (true, false) => ("DELETED", change.new.clone().or_else(|| change.old.clone())),
    };
    let mut obj = obj?;
    obj["metadata"]["resourceVersion"] = json!(change.rv.to_string());
    Some(json!({"type": kind, "object": obj}))
}

fn line(v: &Value) -> Bytes {
    let mut s = v.to_string();
    s.push('\n');
    Bytes::from(s)
}

fn watch(app: App, ns: Option<String>, selector: String, q: HashMap<String, String>) -> Response {
    let from: u64 = q.get("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
    let bookmarks = q.get("allowWatchBookmarks").map(String::as_str) == Some("true");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(290u64);
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut live = app.changes.subscribe();
    let mut breaker = app.breaker.subscribe();
    let (backlog, current) = {
        let mut s = lock(&app);
        s.watch_requests += 1;
        if s.watch_unavailable {
            return status(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "injected: restarting",
            );
        }
        if from < s.compacted {
            let gone = json!({"type": "ERROR", "object": {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("too old resource version: {from} ({})", s.compacted),
                "reason": "Expired", "code": 410}});
            return Response::new(Body::from(line(&gone)));
        }
        let backlog: Vec<Value> = s
            .history
            .iter()
            .filter(|c| c.rv > from)
            .filter_map(|c| translate(c, &ns, &selector))
            .collect();
        (backlog, s.rv)
    };
    tokio::spawn(async move {
        let mut last = current;
        for ev in &backlog {
            if tx.send(line(ev)).await.is_err() {
                return;
            }
        }
        let end = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(end);
        let mut tick = tokio::time::interval(Duration::from_millis(300));
        loop {
            tokio::select! {
                change = live.recv() => {
                    let Ok(change) = change else { return };
                    if change.rv <= current {
                        continue; // already in the backlog
                    }
                    last = change.rv;
                    if let Some(ev) = translate(&change, &ns, &selector)
                        && tx.send(line(&ev)).await.is_err()
                    {
                        return;
                    }
                }
                _ = tick.tick(), if bookmarks => {
                    let bm = json!({"type": "BOOKMARK", "object": {"kind": "ConfigMap", "apiVersion": "v1",
                        "metadata": {"resourceVersion": last.max(current).to_string()}}});
                    if tx.send(line(&bm)).await.is_err() {
                        return;
                    }
                }
                _ = breaker.recv() => return,
                _ = &mut end => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Response::new(Body::from_stream(stream))
}
