//! The local probe engine: HTTP(S), TCP-connect and ICMP-echo probes, each timed per phase with a
//! monotonic clock, for one IP family at a time. IO.
//!
//! ```text
//! Check (compiled once from the policy) ─► LocalProber::probe(check, family, address, timeout, at)
//!    resolve (timed, one family only) ─► per address: connect ─► tls ─► request ─► body
//!    ─► Outcome { Sample { at, latency, ok, phases }, failure, address, status, cert }
//! ```
//!
//! Phases are measured between consecutive [`Stopwatch`] marks, so they add up to the total. A
//! name is resolved and only addresses of the asked family are probed: there is no fallback to
//! the other family (no happy eyeballs), so an IPv6 problem shows as an IPv6 failure.

pub mod cert;
pub mod engine;
pub mod http;
pub mod icmp;
pub mod schedule;
pub mod tcp;

use crate::{
    clock::Stopwatch,
    policy::{Probe, ProbeCheck},
    snapshot::{IpFamily, Phases, Sample, Time},
};
use std::{
    fmt,
    future::Future,
    net::{IpAddr, SocketAddr},
    task::Poll,
    time::Duration,
};

pub use http::HttpProbe;
pub use icmp::{IcmpProbe, IcmpSupport};
pub use tcp::TcpProbe;

/// Why a probe failed, in low-cardinality classes (also the `reason` label of failure counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The probe did not finish within its timeout.
    Timeout,
    /// The name did not resolve, or had no address of the asked family.
    Dns,
    /// The connection was actively refused (RST).
    Refused,
    /// Connecting failed otherwise (unreachable network or host, reset, …).
    Connect,
    /// The TLS handshake failed (including certificate verification).
    Tls,
    /// The peer broke the HTTP protocol or closed the connection mid-response.
    Protocol,
    /// The response status was not one of the expected ones.
    Status,
    /// The body did not match the expected regular expression.
    Body,
    /// The certificate expires within the policy's `certExpiryWarning`.
    CertExpiring,
    /// ICMP is not permitted here and the probe has no TCP fallback.
    IcmpUnavailable,
}

impl Failure {
    /// A short stable label for metrics and logs.
    pub fn metric_label(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Dns => "dns",
            Failure::Refused => "refused",
            Failure::Connect => "connect",
            Failure::Tls => "tls",
            Failure::Protocol => "protocol",
            Failure::Status => "status",
            Failure::Body => "body",
            Failure::CertExpiring => "cert_expiring",
            Failure::IcmpUnavailable => "icmp_unavailable",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metric_label())
    }
}

/// A failure with what the probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// The class.
    pub kind: Failure,
    /// Human-readable detail (the OS error, the status, the TLS alert, …).
    pub detail: String,
}

impl Failed {
    pub(crate) fn new(kind: Failure, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

/// Which of the resolved addresses to probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Address {
    /// The first address of the family the resolver returns.
    #[default]
    First,
    /// Every address of the family, one outcome each (a service name behind several VIPs).
    Every,
    /// This address, without resolving (an instance's own address); HTTP still sends the
    /// service URL's Host header and TLS server name. Must be of the probed family.
    Fixed(IpAddr),
}

/// The result of probing one address.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// What the store and the judge see.
    pub sample: Sample,
    /// Why it failed; `None` exactly when `sample.ok`.
    pub failure: Option<Failed>,
    /// The address probed (`None` when resolution failed before one was chosen).
    pub address: Option<SocketAddr>,
    /// The HTTP status received, if any.
    pub status: Option<u16>,
    /// The leaf certificate's notAfter (seconds since the epoch), for HTTPS.
    pub cert_not_after: Option<Time>,
    /// An ICMP probe that ran as a TCP connect because ICMP is not permitted here.
    pub fell_back_to_tcp: bool,
}

/// A probe compiled from the policy once (URL parsed, regex compiled, TLS configured).
#[derive(Debug, Clone)]
pub enum Check {
    /// HTTP or HTTPS.
    Http(Box<HttpProbe>),
    /// TCP connect.
    Tcp(TcpProbe),
    /// ICMP echo (with an optional TCP fallback).
    Icmp(IcmpProbe),
}

/// Why a policy probe could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The URL is not an absolute http:// or https:// URL.
    #[error("invalid probe URL `{url}`: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The body regex does not compile.
    #[error("invalid body regex: {0}")]
    Regex(String),
    /// A header name or value is invalid.
    #[error("invalid header `{0}`")]
    Header(String),
    /// The TLS configuration could not be built.
    #[error("TLS setup: {0}")]
    Tls(String),
    /// The probe sets none or several of `http`, `tcp`, `icmp`.
    #[error("probe `{0}` must set exactly one of http, tcp, icmp")]
    NoCheck(String),
}

impl Check {
    /// Compiles a policy probe.
    pub fn from_policy(probe: &Probe) -> Result<Self, BuildError> {
        match probe.check() {
            Some(ProbeCheck::Http(h)) => Ok(Check::Http(Box::new(HttpProbe::new(h)?))),
            Some(ProbeCheck::Tcp(t)) => Ok(Check::Tcp(TcpProbe::new(&t.host, t.port))),
            Some(ProbeCheck::Icmp(i)) => Ok(Check::Icmp(IcmpProbe::new(&i.host, i.tcp_fallback_port))),
            None => Err(BuildError::NoCheck(probe.name.clone())),
        }
    }

    fn host_port(&self) -> (&str, u16) {
        match self {
            Check::Http(h) => (h.host(), h.port()),
            Check::Tcp(t) => (&t.host, t.port),
            Check::Icmp(i) => (&i.host, i.tcp_fallback_port.unwrap_or(0)),
        }
    }
}

// === LocalProber ===

/// Runs checks on this host. Holds what is shared between probes: the ICMP sockets found usable at start.
#[derive(Debug)]
pub struct LocalProber {
    icmp: IcmpSupport,
}

impl LocalProber {
    /// A prober; detects once whether ICMP sockets may be opened (see [`IcmpSupport::detect`]).
    /// Needs a tokio runtime (the ICMP receivers are tasks).
    pub fn new() -> Self {
        Self {
            icmp: IcmpSupport::detect(),
        }
    }

    /// A prober that never uses ICMP (ICMP checks use their TCP fallback or fail).
    pub fn without_icmp() -> Self {
        Self {
            icmp: IcmpSupport::disabled("ICMP disabled by configuration"),
        }
    }

    /// What ICMP detection found, for the startup log and /status.
    pub fn icmp(&self) -> &IcmpSupport {
        &self.icmp
    }

    /// Probes `check` over `family`: one outcome per probed address (one, unless
    /// [`Address::Every`], which probes all addresses of the family concurrently). `at` is the
    /// wall-clock start stamped on the samples. The probe of each address, name resolution
    /// included, is bounded by `timeout`.
    pub async fn probe(
        &self,
        check: &Check,
        family: IpFamily,
        address: &Address,
        timeout: Duration,
        at: Time,
    ) -> Vec<Outcome> {
        let start = Stopwatch::start();
        let (host, port) = check.host_port();
        let resolved = match address {
            Address::Fixed(ip) if family_of(*ip) == family => Ok(vec![SocketAddr::new(*ip, port)]),
            Address::Fixed(ip) => Err(Failed::new(
                Failure::Dns,
                format!("{ip} is not an {family:?} address"),
            )),
            _ => match tokio::time::timeout(timeout, resolve(host, port, family)).await {
                Ok(r) => r,
                Err(_) => return vec![timed_out(at, timeout, Phases::default(), None)],
            },
        };
        let dns = match address {
            Address::Fixed(_) => Duration::ZERO,
            _ => Stopwatch::start().since(start),
        };
        let addrs = match resolved {
            Ok(a) => a,
            Err(f) => {
                let phases = Phases {
                    dns: dns.as_secs_f64(),
                    ..Phases::default()
                };
                return vec![failed(at, dns.as_secs_f64(), phases, None, f)];
            }
        };
        let addrs = match address {
            Address::First => addrs.into_iter().take(1).collect(),
            _ => addrs,
        };
        let budget = timeout.saturating_sub(dns);
        // Every address at once, so a hung address costs one timeout, not one per address.
        join_all(addrs.into_iter().map(|addr| async move {
            let mut p = Progress::new(dns, at);
            match tokio::time::timeout(budget, self.attempt(check, addr, &mut p)).await {
                Err(_) => timed_out(at, timeout, p.phases, Some(addr)),
                Ok(r) => p.finish(at, addr, r),
            }
        }))
        .await
    }

    async fn attempt(&self, check: &Check, addr: SocketAddr, p: &mut Progress) -> Result<(), Failed> {
        match check {
            Check::Http(h) => h.attempt(addr, p).await,
            Check::Tcp(_) => tcp::connect(addr, p).await.map(drop),
            Check::Icmp(i) => self.icmp.attempt(i, addr, p).await,
        }
    }
}

impl Default for LocalProber {
    fn default() -> Self {
        Self::new()
    }
}

/// Polls the futures together and returns their outputs in order (a small `join_all`; the
/// number of addresses of one name is small, so polling them all on every wake is fine).
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *output = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// The family of an address (an IPv4-mapped IPv6 address counts as IPv6: it is sent over IPv6).
pub fn family_of(ip: IpAddr) -> IpFamily {
    match ip {
        IpAddr::V4(_) => IpFamily::V4,
        IpAddr::V6(_) => IpFamily::V6,
    }
}

/// Resolves `host` to its addresses of `family` only, in resolver order.
pub async fn resolve(host: &str, port: u16, family: IpFamily) -> Result<Vec<SocketAddr>, Failed> {
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return if family_of(ip) == family {
            Ok(vec![SocketAddr::new(ip, port)])
        } else {
            Err(Failed::new(
                Failure::Dns,
                format!("{ip} is not an {family:?} address"),
            ))
        };
    }
    let all = tokio::net::lookup_host((literal, port))
        .await
        .map_err(|e| Failed::new(Failure::Dns, format!("{literal}: {e}")))?;
    let mut addrs: Vec<SocketAddr> = all.filter(|a| family_of(a.ip()) == family).collect();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(Failed::new(
            Failure::Dns,
            format!("{literal} has no {family:?} address"),
        ));
    }
    Ok(addrs)
}

// === Progress ===

/// One phase of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Dns,
    Connect,
    Tls,
    Ttfb,
    Transfer,
}

/// The phases measured so far for one address; survives a timeout, so a timed-out probe still
/// reports where the time went.
#[derive(Debug)]
pub(crate) struct Progress {
    /// Wall-clock start of the probe (for certificate expiry).
    pub(crate) at: Time,
    dns: Duration,
    start: Stopwatch,
    last: Stopwatch,
    phases: Phases,
    status: Option<u16>,
    pub(crate) cert_not_after: Option<Time>,
    fell_back_to_tcp: bool,
}

impl Progress {
    fn new(dns: Duration, at: Time) -> Self {
        let now = Stopwatch::start();
        Self {
            at,
            dns,
            start: now,
            last: now,
            phases: Phases {
                dns: dns.as_secs_f64(),
                ..Phases::default()
            },
            status: None,
            cert_not_after: None,
            fell_back_to_tcp: false,
        }
    }

    /// Ends `phase` now: the time since the previous mark goes to it.
    pub(crate) fn mark(&mut self, phase: Phase) {
        let now = Stopwatch::start();
        let d = now.since(self.last).as_secs_f64();
        self.last = now;
        let slot = match phase {
            Phase::Dns => &mut self.phases.dns,
            Phase::Connect => &mut self.phases.connect,
            Phase::Tls => &mut self.phases.tls,
            Phase::Ttfb => &mut self.phases.ttfb,
            Phase::Transfer => &mut self.phases.transfer,
        };
        *slot += d;
    }

    pub(crate) fn set_status(&mut self, status: u16) {
        self.status = Some(status);
    }

    pub(crate) fn set_cert_not_after(&mut self, t: Option<Time>) {
        self.cert_not_after = t;
    }

    pub(crate) fn set_fell_back(&mut self) {
        self.fell_back_to_tcp = true;
    }

    fn finish(self, at: Time, addr: SocketAddr, r: Result<(), Failed>) -> Outcome {
        let total = self.dns + self.last.since(self.start);
        Outcome {
            sample: Sample {
                at,
                latency: total.as_secs_f64(),
                ok: r.is_ok(),
                phases: Some(self.phases),
            },
            failure: r.err(),
            address: Some(addr),
            status: self.status,
            cert_not_after: self.cert_not_after,
            fell_back_to_tcp: self.fell_back_to_tcp,
        }
    }
}

fn failed(at: Time, latency: f64, phases: Phases, address: Option<SocketAddr>, f: Failed) -> Outcome {
    Outcome {
        sample: Sample {
            at,
            latency,
            ok: false,
            phases: Some(phases),
        },
        failure: Some(f),
        address,
        status: None,
        cert_not_after: None,
        fell_back_to_tcp: false,
    }
}

/// A timed-out probe counts the whole timeout as its latency (see [`Sample::latency`]).
fn timed_out(at: Time, timeout: Duration, phases: Phases, address: Option<SocketAddr>) -> Outcome {
    let detail = format!("no result within {timeout:?}");
    failed(
        at,
        timeout.as_secs_f64(),
        phases,
        address,
        Failed::new(Failure::Timeout, detail),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn join_all_runs_futures_together_and_keeps_their_order() {
        let start = crate::clock::timer_now();
        let out = join_all([300u64, 100, 200].map(|ms| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            ms
        }))
        .await;
        assert_eq!(out, vec![300, 100, 200]);
        assert_eq!(crate::clock::timer_now() - start, Duration::from_millis(300));
    }
}
