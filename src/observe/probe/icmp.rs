//! ICMP echo probes with surge-ping, and the start-up check of whether this process may open
//! ICMP sockets at all (CAP_NET_RAW for raw sockets, or `net.ipv4.ping_group_range` covering our
//! group for unprivileged datagram sockets). Where it may not, a probe with `tcpFallbackPort`
//! runs as a TCP connect to that port instead, and says so in its outcome. IO.

use super::{Failed, Failure, Phase, Progress, tcp};
use std::{
    fmt,
    net::SocketAddr,
    sync::atomic::{AtomicU16, Ordering},
};
use surge_ping::{Client, Config, ICMP, PingIdentifier, PingSequence, SurgeError};

/// An ICMP echo probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpProbe {
    /// Host name or address literal.
    pub host: String,
    /// Where to connect instead when ICMP is not permitted; no fallback when `None`.
    pub tcp_fallback_port: Option<u16>,
}

impl IcmpProbe {
    /// A probe of `host`.
    pub fn new(host: &str, tcp_fallback_port: Option<u16>) -> Self {
        Self {
            host: host.to_owned(),
            tcp_fallback_port,
        }
    }
}

/// The ICMP sockets this process could open, one per family, or why not.
pub struct IcmpSupport {
    v4: Result<Client, String>,
    v6: Result<Client, String>,
    ident: AtomicU16,
    seq: AtomicU16,
}

impl fmt::Debug for IcmpSupport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl IcmpSupport {
    /// Tries to open an ICMP socket per family (datagram first, then raw). Needs a tokio
    /// runtime: each socket gets a receiving task.
    pub fn detect() -> Self {
        let open = |kind| {
            Client::new(&Config::builder().kind(kind).build()).map_err(|e| {
                let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
                    .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
                    .unwrap_or_else(|_| "unreadable".into());
                let first = e.to_string().lines().next().unwrap_or_default().to_owned();
                format!(
                    "{first} (needs CAP_NET_RAW, or net.ipv4.ping_group_range covering this group; it is `{range}`)"
                )
            })
        };
        let support = Self {
            v4: open(ICMP::V4),
            v6: open(ICMP::V6),
            ident: AtomicU16::new(1),
            seq: AtomicU16::new(1),
        };
        match support.available() {
            (true, true) => tracing::info!(detail = %support.describe(), "ICMP probes available."),
            _ => tracing::warn!(
                detail = %support.describe(),
                "ICMP probes unavailable; probes with tcpFallbackPort connect over TCP instead, others fail."
            ),
        }
        support
    }

    /// No ICMP at all.
    pub fn disabled(why: &str) -> Self {
        Self {
            v4: Err(why.into()),
            v6: Err(why.into()),
            ident: AtomicU16::new(1),
            seq: AtomicU16::new(1),
        }
    }

    /// Whether ICMP echo can be sent over IPv4 and over IPv6.
    pub fn available(&self) -> (bool, bool) {
        (self.v4.is_ok(), self.v6.is_ok())
    }

    /// One line for the startup log: per family, the socket type in use or why there is none.
    pub fn describe(&self) -> String {
        let one = |c: &Result<Client, String>| match c {
            Ok(c) => format!("available ({:?} socket)", c.get_socket().get_type()),
            Err(e) => format!("unavailable: {e}"),
        };
        format!("ICMP over IPv4 {}; over IPv6 {}", one(&self.v4), one(&self.v6))
    }

    pub(crate) async fn attempt(
        &self,
        probe: &IcmpProbe,
        addr: SocketAddr,
        p: &mut Progress,
    ) -> Result<(), Failed> {
        let client = if addr.is_ipv6() { &self.v6 } else { &self.v4 };
        let client = match (client, probe.tcp_fallback_port) {
            (Ok(c), _) => c,
            (Err(_), Some(port)) => {
                p.set_fell_back();
                return tcp::connect(SocketAddr::new(addr.ip(), port), p).await.map(drop);
            }
            (Err(why), None) => return Err(Failed::new(Failure::IcmpUnavailable, why.clone())),
        };
        let ident = PingIdentifier(self.ident.fetch_add(1, Ordering::Relaxed));
        let seq = PingSequence(self.seq.fetch_add(1, Ordering::Relaxed));
        let mut pinger = client.pinger(addr.ip(), ident).await;
        // The caller's timeout bounds the probe; this one only has to be longer.
        pinger.timeout(std::time::Duration::from_secs(3600));
        // Our own stopwatch brackets send and reply: surge-ping stamps the send after the send
        // future completes, which undercounts loopback round trips.
        let r = pinger.ping(seq, &[0u8; 16]).await;
        p.mark(Phase::Ttfb);
        r.map(drop).map_err(|e| match e {
            SurgeError::Timeout { .. } => Failed::new(Failure::Timeout, e.to_string()),
            _ => Failed::new(Failure::Connect, format!("ping {}: {e}", addr.ip())),
        })
    }
}
