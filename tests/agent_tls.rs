//! `sloop run`'s HTTPS listener (src/serve/tls.rs) with the agent's client over real loopback
//! sockets: a private CA (made with rcgen, read from PEM files by the controller's own loader)
//! is trusted only when given, a wrong CA or the web roots alone fail with a certificate error
//! that says so, the bearer token is still required (401), and a client that does not speak
//! TLS does not disturb the listener.

use crate::agent_support;

use agent_support::*;
use sloop::{
    agent::client::{ControllerClient, SendError},
    ingest::{Token, TokenBook},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn certificate_error(e: &SendError) -> bool {
    let m = e.to_string();
    matches!(e, SendError::Unavailable(_))
        && (m.contains("UnknownIssuer") || m.contains("invalid peer certificate"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_ingest_verifies_the_controller_and_still_wants_the_token() {
    let dir = scratch("agent-tls-listener");
    let (fra, _) = token(&dir, "fra");
    let (ca_pem, config) = private_ca(&dir);
    let target = tcp_target("127.0.0.1:0").await;
    let policy = policy(target);
    let tokens = TokenBook::default().with("fra", &fra);
    let ctl = Controller::start("127.0.0.1:0".parse().unwrap(), tokens, &policy, Some(config)).await;
    let url = ctl.url(true);
    let ca = Some(("ca.pem", ca_pem.as_bytes()));

    let trusting = ControllerClient::new(&url, "fra", &fra, ca).unwrap();
    let assignments = trusting.assignments().await.expect("HTTPS with the private CA");
    assert_eq!(assignments.location, "fra");

    let (other_ca, _, _) = pki("another CA");
    let wrong = ControllerClient::new(&url, "fra", &fra, Some(("other.pem", other_ca.as_bytes()))).unwrap();
    let e = wrong
        .assignments()
        .await
        .expect_err("a certificate from another CA");
    assert!(certificate_error(&e), "a clear certificate error: {e}");

    let web_roots_only = ControllerClient::new(&url, "fra", &fra, None).unwrap();
    let e = web_roots_only
        .assignments()
        .await
        .expect_err("a private CA is not a web root");
    assert!(certificate_error(&e), "a clear certificate error: {e}");

    let stranger = Token::generate().unwrap();
    let unauthorized = ControllerClient::new(&url, "fra", &stranger, ca).unwrap();
    match unauthorized.assignments().await {
        Err(SendError::Unauthorized(m)) => assert!(m.contains("401"), "{m}"),
        other => panic!("a wrong token over HTTPS must get 401, got {other:?}"),
    }

    // Plain HTTP to the HTTPS port: the handshake fails, the connection closes, and the
    // listener keeps serving.
    let mut plain = tokio::net::TcpStream::connect(ctl.addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(15), plain.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the listener closes a connection that does not speak TLS"
    );
    assert!(
        !String::from_utf8_lossy(&buf).contains("HTTP/1.1 200"),
        "no plain HTTP answer"
    );
    trusting
        .assignments()
        .await
        .expect("still serving after a failed handshake");
    ctl.stop().await;
}

#[test]
fn unreadable_or_empty_certificate_files_are_named() {
    let dir = scratch("agent-tls-files");
    let (_, cert_pem, key_pem) = pki("files CA");
    let (cert, key, empty) = (dir.join("cert.pem"), dir.join("key.pem"), dir.join("empty.pem"));
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let missing = dir.join("missing.pem");

    let e = sloop::serve::tls::server_config(&cert, &missing).unwrap_err();
    assert!(e.contains("--tls-key") && e.contains("missing.pem"), "{e}");
    let e = sloop::serve::tls::server_config(&empty, &key).unwrap_err();
    assert!(e.contains("--tls-cert") && e.contains("empty.pem"), "{e}");
    let e = sloop::serve::tls::server_config(&cert, &empty).unwrap_err();
    assert!(e.contains("--tls-key") && e.contains("empty.pem"), "{e}");
    assert!(sloop::serve::tls::server_config(&cert, &key).is_ok());
}
