//! A server on its own task, stopped gracefully on request: what `sloop run`, the ingest
//! bench and the tests that talk to a real socket all need, written once.

use super::{
    conn::{self, ConnMetrics, ServeLimits},
    tls::TlsListener,
};
use axum::Router;
use std::io;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// A server running until [`Running::stop`]. Dropping it without `stop` leaves the server
/// task running until the runtime ends (the shutdown signal then never comes), which is what
/// a test that ends with its runtime wants.
pub struct Running {
    what: &'static str,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl Running {
    /// Serves `router` over plain HTTP on `listener`, with the default limits.
    pub fn http(listener: TcpListener, router: Router) -> Running {
        Self::http_with(listener, router, ServeLimits::default(), ConnMetrics::default())
    }

    /// Serves `router` over plain HTTP on `listener` within `limits`.
    pub fn http_with(
        listener: TcpListener,
        router: Router,
        limits: ServeLimits,
        metrics: ConnMetrics,
    ) -> Running {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(conn::serve(listener, router, limits, metrics, async {
            let _ = stopped.await;
        }));
        Running {
            what: "HTTP server",
            stop,
            task,
        }
    }

    /// Serves `router` over HTTPS on `listener`, with the default limits.
    pub fn https(listener: TlsListener, router: Router) -> Running {
        Self::https_with(listener, router, ServeLimits::default(), ConnMetrics::default())
    }

    /// Serves `router` over HTTPS on `listener` within `limits`.
    pub fn https_with(
        listener: TlsListener,
        router: Router,
        limits: ServeLimits,
        metrics: ConnMetrics,
    ) -> Running {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(conn::serve(listener, router, limits, metrics, async {
            let _ = stopped.await;
        }));
        Running {
            what: "HTTPS server",
            stop,
            task,
        }
    }

    /// Stops accepting, lets the requests in flight finish (within the limits' shutdown
    /// grace), and says how the server ended.
    pub async fn stop(self) -> Result<(), String> {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("{}: {e}", self.what)),
            Err(e) => Err(format!("{} task: {e}", self.what)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    #[tokio::test]
    async fn answers_until_stopped_then_refuses() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = Running::http(listener, Router::new().route("/", get(|| async { "up" })));
        let ask = || async move {
            let mut s = tokio::net::TcpStream::connect(addr).await?;
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .await?;
            let mut out = String::new();
            s.read_to_string(&mut out).await?;
            Ok::<_, io::Error>(out)
        };
        let reply = ask().await.expect("served");
        assert!(
            reply.starts_with("HTTP/1.1 200") && reply.ends_with("up"),
            "{reply}"
        );
        server.stop().await.expect("clean stop");
        assert!(ask().await.is_err(), "the listener is closed after stop");
    }
}
