//! A loopback HTTP/1.1 server written by hand for the probe tests: plain or TLS, on 127.0.0.1
//! or ::1, with paths that behave well or badly. Never binds anything but loopback.

#![allow(dead_code)]

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpListener,
};

/// A running server; connections are counted.
pub struct Server {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
}

impl Server {
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Serves plain HTTP on `bind` (`127.0.0.1:0` or `[::1]:0`).
pub async fn http(bind: &str) -> Server {
    serve(bind, None).await
}

/// Serves HTTPS with `acceptor` on `bind`.
pub async fn https(bind: &str, acceptor: tokio_rustls::TlsAcceptor) -> Server {
    serve(bind, Some(acceptor)).await
}

async fn serve(bind: &str, tls: Option<tokio_rustls::TlsAcceptor>) -> Server {
    let addr: SocketAddr = bind.parse().unwrap();
    assert!(addr.ip().is_loopback(), "tests bind loopback only");
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => handle(stream).await,
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(stream).await {
                            handle(s).await;
                        }
                    }
                }
            });
        }
    });
    Server { addr, connections }
}

/// A port on `ip` where nothing listens (bound, then released).
pub async fn closed_port(bind: &str) -> SocketAddr {
    let listener = TcpListener::bind(bind).await.unwrap();
    listener.local_addr().unwrap()
}

/// Paths:
/// - `/ok`: 200, body `hello sloop host=<Host header>`
/// - `/status/NNN`: that status
/// - `/redirect`: 302 to /ok; `/loop`: 301 to itself; `/to/URL`: 307 to URL
/// - `/slow`: waits 10 s before answering
/// - `/drip`: headers at once, then 5 chunks of 10 bytes 20 ms apart
/// - `/big`: 1 MiB of `x` followed by `END`
async fn handle<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let host = text
        .lines()
        .find_map(|l| l.strip_prefix("host: ").or_else(|| l.strip_prefix("Host: ")))
        .unwrap_or("")
        .trim()
        .to_owned();
    let head = |status: &str, len: usize, extra: &str| {
        format!("HTTP/1.1 {status}\r\ncontent-length: {len}\r\nconnection: close\r\n{extra}\r\n")
    };
    let _ = match path.as_str() {
        "/ok" => {
            let body = format!("hello sloop host={host}");
            s.write_all(format!("{}{body}", head("200 OK", body.len(), "")).as_bytes())
                .await
        }
        "/redirect" => {
            s.write_all(head("302 Found", 0, "location: /ok\r\n").as_bytes())
                .await
        }
        "/loop" => {
            s.write_all(head("301 Moved", 0, "location: loop\r\n").as_bytes())
                .await
        }
        p if p.starts_with("/to/") => {
            let location = format!("location: {}\r\n", &p["/to/".len()..]);
            s.write_all(head("307 Temporary Redirect", 0, &location).as_bytes())
                .await
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            s.write_all(head("200 OK", 0, "").as_bytes()).await
        }
        "/drip" => {
            let _ = s.write_all(head("200 OK", 50, "").as_bytes()).await;
            let _ = s.flush().await;
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = s.write_all(b"0123456789").await;
                let _ = s.flush().await;
            }
            Ok(())
        }
        "/big" => {
            let mut body = vec![b'x'; 1 << 20];
            body.extend_from_slice(b"END");
            let _ = s.write_all(head("200 OK", body.len(), "").as_bytes()).await;
            s.write_all(&body).await
        }
        p if p.starts_with("/status/") => {
            let code = &p["/status/".len()..];
            s.write_all(head(&format!("{code} Whatever"), 0, "").as_bytes())
                .await
        }
        _ => s.write_all(head("404 Not Found", 0, "").as_bytes()).await,
    };
    let _ = s.flush().await;
    let _ = s.shutdown().await;
}
