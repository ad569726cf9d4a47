//! TCP-connect probes, and the timed connect every other probe starts with. IO.

use super::{Failed, Failure, Phase, Progress};
use std::{io, net::SocketAddr};
use tokio::net::{TcpSocket, TcpStream};

/// A TCP-connect probe: success is a completed three-way handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpProbe {
    /// Host name or address literal.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl TcpProbe {
    /// A probe of `host:port`.
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: host.to_owned(),
            port,
        }
    }
}

/// Connects to `addr` from a socket of its own family and marks the connect phase (also when
/// connecting fails, so the time is accounted for).
pub(crate) async fn connect(addr: SocketAddr, p: &mut Progress) -> Result<TcpStream, Failed> {
    let r = async {
        let socket = if addr.is_ipv6() {
            TcpSocket::new_v6()?
        } else {
            TcpSocket::new_v4()?
        };
        socket.set_nodelay(true)?;
        socket.connect(addr).await
    }
    .await;
    p.mark(Phase::Connect);
    r.map_err(|e| classify(addr, &e))
}

fn classify(addr: SocketAddr, e: &io::Error) -> Failed {
    let kind = match e.kind() {
        io::ErrorKind::ConnectionRefused => Failure::Refused,
        io::ErrorKind::TimedOut => Failure::Timeout,
        _ => Failure::Connect,
    };
    Failed::new(kind, format!("connect {addr}: {e}"))
}
