//! TCP-connect and ICMP-echo probes on loopback (127.0.0.1 and ::1). ICMP runs where this
//! process may open ICMP sockets, and the test says clearly when it may not; the TCP fallback
//! is tested either way.

use crate::server;

use sloop::{
    observe::probe::{Address, Check, Failure, IcmpProbe, LocalProber, Outcome, TcpProbe},
    snapshot::IpFamily,
};
use std::time::Duration;

const AT: f64 = 1_900_000_000.0;

async fn one(prober: &LocalProber, check: Check, family: IpFamily) -> Outcome {
    let mut out = prober
        .probe(&check, family, &Address::First, Duration::from_secs(2), AT)
        .await;
    assert_eq!(out.len(), 1);
    out.remove(0)
}

#[tokio::test]
async fn tcp_connect_succeeds_on_each_family_and_is_refused_on_a_closed_port() {
    let prober = LocalProber::without_icmp();
    for (bind, host, family) in [
        ("127.0.0.1:0", "127.0.0.1", IpFamily::V4),
        ("[::1]:0", "::1", IpFamily::V6),
    ] {
        let srv = server::http(bind).await;
        let o = one(&prober, Check::Tcp(TcpProbe::new(host, srv.addr.port())), family).await;
        assert!(o.sample.ok, "{o:?}");
        let p = o.sample.phases.unwrap();
        assert!(
            p.connect > 0.0 && (p.dns + p.connect - o.sample.latency).abs() < 1e-6,
            "{p:?}"
        );
        println!(
            "TCP {family:?}: connect {:.1} µs, total {:.1} µs",
            p.connect * 1e6,
            o.sample.latency * 1e6
        );
        let closed = server::closed_port(bind).await;
        let o = one(&prober, Check::Tcp(TcpProbe::new(host, closed.port())), family).await;
        assert_eq!(o.failure.map(|f| f.kind), Some(Failure::Refused));
    }
}

#[tokio::test]
async fn icmp_without_permission_falls_back_to_tcp_only_when_the_policy_allows() {
    let prober = LocalProber::without_icmp();
    let srv = server::http("[::1]:0").await;
    let o = one(
        &prober,
        Check::Icmp(IcmpProbe::new("::1", Some(srv.addr.port()))),
        IpFamily::V6,
    )
    .await;
    assert!(o.sample.ok && o.fell_back_to_tcp, "{o:?}");
    assert_eq!(o.address.map(|a| a.port()), Some(srv.addr.port()));
    let o = one(&prober, Check::Icmp(IcmpProbe::new("::1", None)), IpFamily::V6).await;
    assert_eq!(o.failure.map(|f| f.kind), Some(Failure::IcmpUnavailable));
}

#[tokio::test]
async fn icmp_echo_reaches_both_loopback_addresses_where_permitted() {
    let prober = LocalProber::new();
    println!("{}", prober.icmp().describe());
    let (v4, v6) = prober.icmp().available();
    for (host, family, available) in [("127.0.0.1", IpFamily::V4, v4), ("::1", IpFamily::V6, v6)] {
        let o = one(&prober, Check::Icmp(IcmpProbe::new(host, None)), family).await;
        if available {
            assert!(o.sample.ok, "{o:?}");
            assert!(!o.fell_back_to_tcp);
            println!("ICMP {family:?} {host}: rtt {:.1} µs", o.sample.latency * 1e6);
        } else {
            println!("ICMP {family:?} not permitted here; checked that it is reported as such");
            assert_eq!(
                o.failure.as_ref().map(|f| f.kind),
                Some(Failure::IcmpUnavailable),
                "{o:?}"
            );
        }
    }
}
