//! HTTP probes against a hand-written server on loopback (127.0.0.1 and ::1 only): phases,
//! classification of failures, timeouts, and one IP family per probe.

use crate::server;

use sloop::{
    observe::probe::{Address, Check, Failure, HttpProbe, LocalProber, Outcome},
    policy::{HttpCheck, HttpMethod, units::ByteSize},
    snapshot::IpFamily,
};
use std::{net::IpAddr, time::Duration};

const AT: f64 = 1_900_000_000.0;

fn check(url: &str) -> HttpCheck {
    HttpCheck {
        url: url.into(),
        method: HttpMethod::Get,
        headers: Default::default(),
        expect_status: vec![200],
        body_regex: None,
        tls_verify: true,
        cert_expiry_warning: None,
        max_body: ByteSize::from_bytes(1 << 20),
        follow_redirects: false,
    }
}

fn compile(c: &HttpCheck) -> Check {
    Check::Http(Box::new(HttpProbe::new(c).unwrap()))
}

async fn probe_one(c: &HttpCheck, family: IpFamily, address: Address, timeout: Duration) -> Outcome {
    let prober = LocalProber::without_icmp();
    let mut out = prober.probe(&compile(c), family, &address, timeout, AT).await;
    assert_eq!(out.len(), 1, "{out:?}");
    out.remove(0)
}

fn kind(o: &Outcome) -> Option<Failure> {
    o.failure.as_ref().map(|f| f.kind)
}

fn loopback(family: IpFamily) -> (&'static str, IpAddr) {
    match family {
        IpFamily::V4 => ("127.0.0.1:0", "127.0.0.1".parse().unwrap()),
        IpFamily::V6 => ("[::1]:0", "::1".parse().unwrap()),
    }
}

fn url(addr: std::net::SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

#[tokio::test]
async fn phases_are_all_present_and_add_up_to_the_total_on_both_families() {
    for family in [IpFamily::V6, IpFamily::V4] {
        let (bind, _) = loopback(family);
        let srv = server::http(bind).await;
        let o = probe_one(
            &check(&url(srv.addr, "/drip")),
            family,
            Address::First,
            Duration::from_secs(5),
        )
        .await;
        assert!(o.sample.ok, "{o:?}");
        assert_eq!(o.status, Some(200));
        let p = o.sample.phases.expect("phases measured");
        let sum = p.dns + p.connect + p.tls + p.ttfb + p.transfer;
        println!(
            "{family:?} {}: dns {:.1} µs, connect {:.1} µs, tls {:.1} µs, ttfb {:.1} µs, transfer {:.1} ms, \
             total {:.1} ms",
            srv.addr,
            p.dns * 1e6,
            p.connect * 1e6,
            p.tls * 1e6,
            p.ttfb * 1e6,
            p.transfer * 1e3,
            o.sample.latency * 1e3
        );
        assert!(
            (sum - o.sample.latency).abs() < 1e-6,
            "{sum} vs {}",
            o.sample.latency
        );
        assert!(p.connect > 0.0 && p.ttfb > 0.0, "{p:?}");
        assert_eq!(p.tls, 0.0, "plain HTTP has no TLS phase");
        // Five chunks 20 ms apart: the transfer phase holds the dripping, not TTFB.
        assert!(p.transfer >= 0.09, "{p:?}");
        assert!(p.ttfb < 0.09, "{p:?}");
        assert_eq!(o.address.map(|a| a.ip()), Some(loopback(family).1));
        let o = probe_one(
            &check(&url(srv.addr, "/ok")),
            family,
            Address::First,
            Duration::from_secs(5),
        )
        .await;
        let p = o.sample.phases.unwrap();
        println!(
            "{family:?} /ok: dns {:.1} µs, connect {:.1} µs, ttfb {:.1} µs, transfer {:.1} µs, total {:.1} µs",
            p.dns * 1e6,
            p.connect * 1e6,
            p.ttfb * 1e6,
            p.transfer * 1e6,
            o.sample.latency * 1e6
        );
        assert!(o.sample.ok && o.sample.latency < 0.5, "{o:?}");
    }
}

#[tokio::test]
async fn a_status_outside_the_expected_set_is_a_status_failure() {
    let srv = server::http("127.0.0.1:0").await;
    let o = probe_one(
        &check(&url(srv.addr, "/status/503")),
        IpFamily::V4,
        Address::First,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(kind(&o), Some(Failure::Status));
    assert_eq!(o.status, Some(503));
    assert!(!o.sample.ok);
    assert!(o.sample.phases.unwrap().ttfb > 0.0);
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_is_judged_as_the_response() {
    let srv = server::http("127.0.0.1:0").await;
    let mut c = check(&url(srv.addr, "/redirect"));
    let o = probe_one(&c, IpFamily::V4, Address::First, Duration::from_secs(5)).await;
    assert_eq!((kind(&o), o.status), (Some(Failure::Status), Some(302)));
    c.expect_status = vec![200, 302];
    let o = probe_one(&c, IpFamily::V4, Address::First, Duration::from_secs(5)).await;
    assert!(o.sample.ok, "{o:?}");
    assert_eq!(
        srv.connections(),
        2,
        "one connection per probe, no follow-up request"
    );
}

#[tokio::test]
async fn a_body_that_does_not_match_the_regex_is_a_body_failure() {
    let srv = server::http("[::1]:0").await;
    let mut c = check(&url(srv.addr, "/ok"));
    c.body_regex = Some("^hello sloop".into());
    assert!(
        probe_one(&c, IpFamily::V6, Address::First, Duration::from_secs(5))
            .await
            .sample
            .ok
    );
    c.body_regex = Some("goodbye".into());
    let o = probe_one(&c, IpFamily::V6, Address::First, Duration::from_secs(5)).await;
    assert_eq!(kind(&o), Some(Failure::Body));
    assert_eq!(o.status, Some(200));
}

#[tokio::test]
async fn max_body_bounds_what_is_read_before_the_regex_runs() {
    let srv = server::http("127.0.0.1:0").await;
    let mut c = check(&url(srv.addr, "/big"));
    c.body_regex = Some("END$".into());
    c.max_body = ByteSize::from_bytes(1024);
    let o = probe_one(&c, IpFamily::V4, Address::First, Duration::from_secs(5)).await;
    assert_eq!(
        kind(&o),
        Some(Failure::Body),
        "the marker is past the first KiB: {o:?}"
    );
    assert!(o.failure.unwrap().detail.contains("1024 bytes"));
    c.max_body = ByteSize::from_bytes(2 << 20);
    let o = probe_one(&c, IpFamily::V4, Address::First, Duration::from_secs(5)).await;
    assert!(o.sample.ok, "{o:?}");
}

#[tokio::test]
async fn the_host_header_is_the_service_url_even_when_probing_an_instance_address() {
    let srv = server::http("127.0.0.1:0").await;
    let port = srv.addr.port();
    let mut c = check(&format!("http://wahlen.example.test:{port}/ok"));
    c.body_regex = Some(format!("host=wahlen\\.example\\.test:{port}$"));
    let ip = "127.0.0.1".parse().unwrap();
    let o = probe_one(&c, IpFamily::V4, Address::Fixed(ip), Duration::from_secs(5)).await;
    assert!(o.sample.ok, "{o:?}");
    assert_eq!(
        o.sample.phases.unwrap().dns,
        0.0,
        "a fixed address is not resolved"
    );
}

#[tokio::test]
async fn a_slow_server_triggers_the_timeout_and_the_probe_returns_promptly() {
    let srv = server::http("[::1]:0").await;
    let timeout = Duration::from_millis(300);
    let started = sloop::clock::Stopwatch::start();
    let o = probe_one(
        &check(&url(srv.addr, "/slow")),
        IpFamily::V6,
        Address::First,
        timeout,
    )
    .await;
    let took = started.elapsed();
    assert_eq!(kind(&o), Some(Failure::Timeout), "{o:?}");
    assert_eq!(
        o.sample.latency, 0.3,
        "a timed-out probe counts the whole timeout"
    );
    assert!(
        o.sample.phases.unwrap().connect > 0.0,
        "phases measured before the timeout are kept"
    );
    assert!(took >= timeout && took < Duration::from_millis(1500), "{took:?}");
    println!(
        "timeout 300 ms: probe returned after {:.1} ms",
        took.as_secs_f64() * 1e3
    );
}

#[tokio::test]
async fn a_refused_connection_is_classified_as_refused_on_both_families() {
    for family in [IpFamily::V4, IpFamily::V6] {
        let addr = server::closed_port(loopback(family).0).await;
        let o = probe_one(
            &check(&url(addr, "/ok")),
            family,
            Address::First,
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(kind(&o), Some(Failure::Refused), "{o:?}");
        assert_eq!(o.status, None);
    }
}

#[tokio::test]
async fn each_family_is_probed_on_its_own_and_never_falls_back_to_the_other() {
    // A server on ::1 only: probing it over IPv4 must fail, not quietly use IPv6.
    let srv = server::http("[::1]:0").await;
    let o = probe_one(
        &check(&url(srv.addr, "/ok")),
        IpFamily::V4,
        Address::First,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        kind(&o),
        Some(Failure::Dns),
        "an IPv6 literal has no IPv4 address: {o:?}"
    );
    assert_eq!(o.address, None);
    assert_eq!(srv.connections(), 0);
    let o = probe_one(
        &check(&url(srv.addr, "/ok")),
        IpFamily::V6,
        Address::First,
        Duration::from_secs(5),
    )
    .await;
    assert!(o.sample.ok, "{o:?}");
    // A fixed instance address of the other family is refused up front.
    let ip = "::1".parse().unwrap();
    let o = probe_one(
        &check(&url(srv.addr, "/ok")),
        IpFamily::V4,
        Address::Fixed(ip),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(kind(&o), Some(Failure::Dns));
    assert_eq!(srv.connections(), 1);
}

#[tokio::test]
async fn a_name_is_resolved_to_addresses_of_the_asked_family_only() {
    // `localhost` resolves through /etc/hosts; whatever it lists, only the asked family is probed.
    let v4 = server::http("127.0.0.1:0").await;
    let c = check(&format!("http://localhost:{}/ok", v4.addr.port()));
    let prober = LocalProber::without_icmp();
    for family in [IpFamily::V4, IpFamily::V6] {
        let out = prober
            .probe(&compile(&c), family, &Address::Every, Duration::from_secs(2), AT)
            .await;
        assert!(!out.is_empty());
        for o in &out {
            match o.address {
                Some(a) => assert_eq!(sloop::observe::probe::family_of(a.ip()), family, "{o:?}"),
                None => assert_eq!(kind(o), Some(Failure::Dns), "{o:?}"),
            }
        }
        println!(
            "localhost over {family:?}: {:?}",
            out.iter().map(|o| (o.address, kind(o))).collect::<Vec<_>>()
        );
    }
    let out = prober
        .probe(
            &compile(&c),
            IpFamily::V4,
            &Address::Every,
            Duration::from_secs(2),
            AT,
        )
        .await;
    assert!(out.iter().any(|o| o.sample.ok), "{out:?}");
}

#[tokio::test]
async fn redirects_are_followed_when_asked_with_every_hop_in_the_phases() {
    let srv = server::http("127.0.0.1:0").await;
    let mut c = check(&url(srv.addr, "/redirect"));
    c.follow_redirects = true;
    c.body_regex = Some("hello sloop".into());
    let o = probe_one(&c, IpFamily::V4, Address::First, Duration::from_secs(5)).await;
    assert!(o.sample.ok && o.status == Some(200), "{o:?}");
    let p = o.sample.phases.unwrap();
    assert!((p.dns + p.connect + p.tls + p.ttfb + p.transfer - o.sample.latency).abs() < 1e-6);
    assert_eq!(srv.connections(), 2);

    // To another origin: the new name is resolved in the same family only.
    let target = server::http("127.0.0.1:0").await;
    let mut c = check(&url(
        srv.addr,
        &format!("/to/http://localhost:{}/ok", target.addr.port()),
    ));
    c.follow_redirects = true;
    let o = probe_one(&c, IpFamily::V4, Address::First, Duration::from_secs(5)).await;
    assert!(o.sample.ok, "{o:?}");
    assert_eq!(target.connections(), 1);
    let o = probe_one(
        &c,
        IpFamily::V6,
        Address::Fixed("127.0.0.1".parse().unwrap()),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(kind(&o), Some(Failure::Dns), "127.0.0.1 is not IPv6: {o:?}");
}

#[tokio::test]
async fn a_redirect_loop_stops_after_five_hops_and_judges_the_last_response() {
    let srv = server::http("[::1]:0").await;
    let mut c = check(&url(srv.addr, "/loop"));
    c.follow_redirects = true;
    let o = probe_one(&c, IpFamily::V6, Address::First, Duration::from_secs(5)).await;
    assert_eq!((kind(&o), o.status), (Some(Failure::Status), Some(301)), "{o:?}");
    assert_eq!(srv.connections(), 6, "the first request and five redirects");
}
