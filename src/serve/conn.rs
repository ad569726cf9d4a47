//! The connection loop behind [`super::serve`]: HTTP/1 over any listener, with the limits a
//! server next to a public service needs against slow and idle clients.
//!
//! - a client must send a whole request head within `header_timeout` (slowloris);
//! - a connection with no request in progress and no bytes moving for `idle_timeout` is closed
//!   (idle keep-alives, clients that stop reading a response);
//! - at most `max_connections` are open, below the process' file descriptor limit so the
//!   listener, the journal and the cloud clients always have descriptors left. At the limit
//!   the connection that has waited longest without a request in progress is closed to make
//!   room, so `/healthz` still answers while a flood of idle connections is held open;
//! - on shutdown, requests in flight get `shutdown_grace` to finish, then every connection is
//!   dropped: a client that never lets go cannot hold the process.

use axum::{Router, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use prometheus_client::metrics::{counter::Counter, gauge::Gauge};
use std::{
    collections::BTreeMap,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::{Notify, watch},
    task::JoinSet,
};

/// Bounds of the connection loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServeLimits {
    /// Most connections open at once (see [`fd_bounded`]).
    pub max_connections: usize,
    /// Time a client has to send a whole request head.
    pub header_timeout: Duration,
    /// Time a connection may sit with no request in progress and no bytes moving.
    pub idle_timeout: Duration,
    /// Time requests in flight get to finish after the shutdown signal.
    pub shutdown_grace: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_connections: fd_bounded(1024),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(3),
        }
    }
}

/// Descriptors kept free for everything but HTTP clients (journal, cloud, probes, agents).
const FD_RESERVE: u64 = 256;

/// `wanted`, lowered to half of what the process' open-files limit leaves after
/// [`FD_RESERVE`] (never below 16).
pub fn fd_bounded(wanted: usize) -> usize {
    let Some(limit) = open_files_limit() else {
        return wanted;
    };
    let room = usize::try_from(limit.saturating_sub(FD_RESERVE) / 2).unwrap_or(usize::MAX);
    wanted.min(room).max(16)
}

/// The soft `Max open files` limit, from `/proc/self/limits` (Linux); `None` elsewhere or when
/// unlimited.
fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The server's connection metrics (shared handles).
#[derive(Debug, Clone, Default)]
pub struct ConnMetrics {
    /// Connections open now.
    pub open: Gauge,
    /// Connections closed to make room at the limit, or for being idle or slow.
    pub shed: Counter,
}

/// One connection's shared state: its last activity (ms on the server's timer), whether a
/// request is in progress, and the signal that closes it.
struct ConnState {
    last: AtomicU64,
    busy: AtomicUsize,
    close: Notify,
}

struct Table {
    next: u64,
    open: BTreeMap<u64, Arc<ConnState>>,
}

fn ms_since(start: tokio::time::Instant) -> u64 {
    u64::try_from(crate::clock::timer_now().duration_since(start).as_millis()).unwrap_or(u64::MAX)
}

/// Serves `router` on `listener` until `shutdown` resolves, within `limits`.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    limits: ServeLimits,
    metrics: ConnMetrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let start = crate::clock::timer_now();
    let table = Arc::new(Mutex::new(Table {
        next: 0,
        open: BTreeMap::new(),
    }));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            c = listener.accept() => c,
            () = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let state = Arc::new(ConnState {
            last: AtomicU64::new(ms_since(start)),
            busy: AtomicUsize::new(0),
            close: Notify::new(),
        });
        let id = {
            let mut t = table.lock().unwrap_or_else(|e| e.into_inner());
            if t.open.len() >= limits.max_connections.max(1) {
                // Make room: the connection idle longest (no request in progress).
                let victim = t
                    .open
                    .iter()
                    .filter(|(_, c)| c.busy.load(Ordering::Relaxed) == 0)
                    .min_by_key(|(_, c)| c.last.load(Ordering::Relaxed))
                    .map(|(id, _)| *id);
                match victim.and_then(|id| t.open.remove(&id)) {
                    Some(c) => {
                        c.close.notify_one();
                        metrics.shed.inc();
                    }
                    None => {
                        // Every connection is in a request: refuse this one.
                        metrics.shed.inc();
                        drop(io);
                        continue;
                    }
                }
            }
            t.next += 1;
            let id = t.next;
            t.open.insert(id, state.clone());
            metrics.open.set(i64::try_from(t.open.len()).unwrap_or(i64::MAX));
            id
        };
        let conn = connection(
            io,
            peer,
            router.clone(),
            limits,
            state,
            start,
            stop_rx.clone(),
            metrics.clone(),
        );
        let (table, open) = (table.clone(), metrics.open.clone());
        conns.spawn(async move {
            conn.await;
            let mut t = table.lock().unwrap_or_else(|e| e.into_inner());
            t.open.remove(&id);
            open.set(i64::try_from(t.open.len()).unwrap_or(i64::MAX));
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            connections = conns.len(),
            grace_s = limits.shutdown_grace.as_secs_f64(),
            "HTTP server: closing the connections still open after the shutdown grace."
        );
        conns.shutdown().await;
    }
    metrics.open.set(0);
    Ok(())
}

/// Runs one connection until it ends, is idle too long, is chosen to make room, or the
/// server shuts down (then a request in progress may finish).
#[allow(clippy::too_many_arguments)]
async fn connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    limits: ServeLimits,
    state: Arc<ConnState>,
    start: tokio::time::Instant,
    mut stop: watch::Receiver<bool>,
    metrics: ConnMetrics,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(Tracked {
        io,
        state: state.clone(),
        start,
    });
    let tower = TowerToHyperService::new(router);
    let in_request = state.clone();
    let service = service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let guard = Busy::enter(in_request.clone(), start);
        let call = hyper::service::Service::call(&tower, req);
        async move {
            let _guard = guard;
            call.await
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let idle_ms = u64::try_from(limits.idle_timeout.as_millis()).unwrap_or(u64::MAX);
    let tick = (limits.idle_timeout / 4).max(Duration::from_millis(50));
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = state.close.notified() => return,
            Ok(()) = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(tick) => {
                let quiet = ms_since(start).saturating_sub(state.last.load(Ordering::Relaxed));
                if state.busy.load(Ordering::Relaxed) == 0 && quiet >= idle_ms {
                    metrics.shed.inc();
                    return;
                }
            }
        }
    }
}

/// Marks a request in progress for as long as it lives.
struct Busy {
    state: Arc<ConnState>,
    start: tokio::time::Instant,
}

impl Busy {
    fn enter(state: Arc<ConnState>, start: tokio::time::Instant) -> Self {
        state.busy.fetch_add(1, Ordering::Relaxed);
        Self { state, start }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.state.last.store(ms_since(self.start), Ordering::Relaxed);
        self.state.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An IO stream that records when bytes last moved.
struct Tracked<I> {
    io: I,
    state: Arc<ConnState>,
    start: tokio::time::Instant,
}

impl<I> Tracked<I> {
    fn touch(&self) {
        self.state.last.store(ms_since(self.start), Ordering::Relaxed);
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Tracked<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Tracked<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
