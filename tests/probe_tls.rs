//! HTTPS probes against a self-signed loopback server (certificates from rcgen): the TLS phase,
//! verification on and off, and certificate expiry against `certExpiryWarning`.

use crate::server;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sloop::{
    observe::probe::{Address, Check, Failure, HttpProbe, LocalProber, Outcome, cert},
    policy::{
        HttpCheck, HttpMethod,
        units::{ByteSize, Duration as PolicyDuration},
    },
    snapshot::IpFamily,
};
use std::{sync::Arc, time::Duration};

/// 2030-01-01T00:00:00Z, the test certificate's notAfter.
const NOT_AFTER: f64 = 1_893_456_000.0;
const DAY: f64 = 86_400.0;

fn self_signed() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "wahlen.example.test".into()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2030, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

async fn tls_server(bind: &str) -> (server::Server, CertificateDer<'static>) {
    let (cert, key) = self_signed();
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
    (
        server::https(bind, tokio_rustls::TlsAcceptor::from(Arc::new(config))).await,
        cert,
    )
}

fn check(url: String, verify: bool) -> HttpCheck {
    HttpCheck {
        url,
        method: HttpMethod::Get,
        headers: Default::default(),
        expect_status: vec![200],
        body_regex: Some("^hello sloop host=wahlen.example.test:".into()),
        tls_verify: verify,
        cert_expiry_warning: None,
        max_body: ByteSize::from_bytes(1 << 20),
        follow_redirects: false,
    }
}

async fn probe(c: &HttpCheck, family: IpFamily, address: Address, at: f64) -> Outcome {
    let check = Check::Http(Box::new(HttpProbe::new(c).unwrap()));
    let mut out = LocalProber::without_icmp()
        .probe(&check, family, &address, Duration::from_secs(5), at)
        .await;
    assert_eq!(out.len(), 1);
    out.remove(0)
}

#[tokio::test]
async fn https_without_verification_measures_a_tls_phase_on_both_families() {
    for (bind, ip, family) in [
        ("[::1]:0", "::1", IpFamily::V6),
        ("127.0.0.1:0", "127.0.0.1", IpFamily::V4),
    ] {
        let (srv, _) = tls_server(bind).await;
        let c = check(
            format!("https://wahlen.example.test:{}/ok", srv.addr.port()),
            false,
        );
        let o = probe(
            &c,
            family,
            Address::Fixed(ip.parse().unwrap()),
            NOT_AFTER - 100.0 * DAY,
        )
        .await;
        assert!(o.sample.ok, "{o:?}");
        let p = o.sample.phases.unwrap();
        let sum = p.dns + p.connect + p.tls + p.ttfb + p.transfer;
        assert!((sum - o.sample.latency).abs() < 1e-6);
        assert!(p.tls > 0.0 && p.connect > 0.0 && p.ttfb > 0.0, "{p:?}");
        assert_eq!(o.cert_not_after, Some(NOT_AFTER));
        println!(
            "HTTPS {family:?}: connect {:.1} µs, tls {:.1} µs, ttfb {:.1} µs, transfer {:.1} µs, total {:.1} µs",
            p.connect * 1e6,
            p.tls * 1e6,
            p.ttfb * 1e6,
            p.transfer * 1e6,
            o.sample.latency * 1e6
        );
    }
}

#[tokio::test]
async fn a_self_signed_certificate_fails_verification_as_tls() {
    let (srv, _) = tls_server("127.0.0.1:0").await;
    let c = check(format!("https://localhost:{}/ok", srv.addr.port()), true);
    let o = probe(
        &c,
        IpFamily::V4,
        Address::Fixed("127.0.0.1".parse().unwrap()),
        NOT_AFTER - 100.0 * DAY,
    )
    .await;
    assert_eq!(o.failure.as_ref().map(|f| f.kind), Some(Failure::Tls), "{o:?}");
    assert!(o.failure.unwrap().detail.to_lowercase().contains("certificate"));
    assert_eq!(o.status, None, "no request is sent over an unverified connection");
}

#[tokio::test]
async fn a_certificate_expiring_within_the_warning_fails_as_cert_expiring() {
    let (srv, _) = tls_server("127.0.0.1:0").await;
    let mut c = check(
        format!("https://wahlen.example.test:{}/ok", srv.addr.port()),
        false,
    );
    c.cert_expiry_warning = Some(PolicyDuration::from_secs(30.0 * DAY));
    let ip = Address::Fixed("127.0.0.1".parse().unwrap());
    let o = probe(&c, IpFamily::V4, ip.clone(), NOT_AFTER - 10.0 * DAY).await;
    assert_eq!(
        o.failure.as_ref().map(|f| f.kind),
        Some(Failure::CertExpiring),
        "{o:?}"
    );
    assert_eq!(o.status, Some(200), "the request itself succeeded");
    let o = probe(&c, IpFamily::V4, ip, NOT_AFTER - 60.0 * DAY).await;
    assert!(o.sample.ok, "{o:?}");
}

#[test]
fn not_after_is_read_from_the_certificate_der() {
    let (cert, _) = self_signed();
    assert_eq!(cert::not_after(cert.as_ref()), Some(NOT_AFTER));
    let mut params = rcgen::CertificateParams::new(vec!["x".into()]).unwrap();
    params.not_after = rcgen::date_time_ymd(2071, 6, 30); // past 2049: GeneralizedTime
    let key = rcgen::KeyPair::generate().unwrap();
    let der = params.self_signed(&key).unwrap().der().clone();
    assert_eq!(cert::not_after(der.as_ref()), Some(3_202_848_000.0));
}
