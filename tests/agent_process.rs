//! `sloop agent` as a separate process reporting to a controller over real loopback sockets:
//! authentication, size and syntax checks that leave a good agent undisturbed, a controller
//! restart with buffering and counted drops, clock skew, and TLS with a private CA.

use crate::agent_support;

use agent_support::*;
use sloop::{
    clock::{Clock, SystemClock},
    ingest::{
        TokenBook,
        wire::{AGENT_HEADER, ASSIGNMENTS_PATH, Assignments, RESULTS_PATH},
    },
    snapshot::IpFamily,
};
use std::net::SocketAddr;

fn loopback(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reports_and_bad_requests_neither_get_in_nor_disturb_it() {
    let dir = scratch("agent-report");
    let (fra, fra_file) = token(&dir, "fra");
    let (nyc, _) = token(&dir, "nyc");
    let tokens = TokenBook::default().with("fra", &fra).with("nyc", &nyc);
    let target = tcp_target("127.0.0.1:0").await;
    let policy = policy(target);
    let ctl = Controller::start(loopback("127.0.0.1:0"), tokens, &policy, None).await;
    let start = SystemClock.now();
    let agent = Agent::spawn(&dir, &ctl.url(false), "fra", &fra_file, &[]);
    wait_for("5 samples from fra", 30, &agent, || {
        ctl.samples("fra", IpFamily::V4).len() >= 5
    })
    .await;
    assert!(ctl.agent("fra").fresh);
    let view = ctl.state.probe_view("agent-test", SystemClock.now()).unwrap();
    assert!(
        view.service
            .iter()
            .any(|s| &*s.key.location == "fra" && !s.recent.is_empty())
    );
    assert!(view.locations.iter().any(|l| l.name == "fra" && l.fresh));
    assert!(
        ctl.samples("fra", IpFamily::V4)
            .iter()
            .all(|s| s.ok && s.at >= start - 1.0),
        "the TCP target accepts; samples are stamped on the controller's clock"
    );

    let http = reqwest::Client::new();
    let results = format!("{}{RESULTS_PATH}", ctl.url(false));
    let post = |token: Option<&str>, agent: &str, body: Vec<u8>| {
        let mut r = http
            .post(&results)
            .header(AGENT_HEADER, agent)
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let good = br#"{"sent_at": 1e9, "dropped_total": 0, "series": []}"#.to_vec();
    let status = |r: reqwest::Response| r.status().as_u16();

    // Authentication: missing, wrong, and another agent's token.
    assert_eq!(status(post(None, "fra", good.clone()).await.unwrap()), 401);
    assert_eq!(
        status(post(Some("not-the-token"), "fra", good.clone()).await.unwrap()),
        401
    );
    assert_eq!(
        status(post(Some(nyc.expose()), "fra", good.clone()).await.unwrap()),
        401
    );
    assert_eq!(
        status(post(Some(fra.expose()), "ams", good.clone()).await.unwrap()),
        401
    );
    let r = http
        .get(format!("{}{ASSIGNMENTS_PATH}", ctl.url(false)))
        .header(AGENT_HEADER, "fra")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");

    // Oversize: a body over the byte limit, and a well-formed batch over the sample limit.
    let huge = vec![b' '; 200 * 1024];
    let r = post(Some(nyc.expose()), "nyc", huge).await.unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert!(r.text().await.unwrap().contains("exceeds 65536 bytes"));
    let sample = r#"{"at": 1e9, "latency": 0.01, "ok": true}"#;
    let many = format!(
        r#"{{"sent_at": 1e9, "dropped_total": 0, "series": [{{"policy": "agent-test", "probe": "tcp", "family": "v4", "samples": [{}]}}]}}"#,
        vec![sample; 501].join(",")
    );
    let r = post(Some(nyc.expose()), "nyc", many.into_bytes()).await.unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert!(r.text().await.unwrap().contains("limit is 500"));

    // Malformed: not JSON, unknown fields, impossible numbers.
    for (body, needle) in [
        (b"{not json".to_vec(), "malformed batch"),
        (br#"{"sent_at": 1e9, "series": []}"#.to_vec(), "dropped_total"),
        (
            br#"{"sent_at": 1e9, "dropped_total": 0, "series": [], "extra": 1}"#.to_vec(),
            "unknown field",
        ),
        (
            br#"{"sent_at": 1e9, "dropped_total": 0, "series": [{"policy": "agent-test", "probe": "tcp", "family": "v4", "samples": [{"at": 1e9, "latency": -1, "ok": true}]}]}"#.to_vec(),
            "latency",
        ),
    ] {
        let r = post(Some(nyc.expose()), "nyc", body).await.unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let text = r.text().await.unwrap();
        assert!(text.contains(needle), "{text}");
    }

    // An agent may only fill series assigned to it: nyc is not among the probe's locations.
    let r = http
        .get(format!("{}{ASSIGNMENTS_PATH}", ctl.url(false)))
        .header(AGENT_HEADER, "nyc")
        .bearer_auth(nyc.expose())
        .send()
        .await
        .unwrap();
    let a: Assignments = r.json().await.unwrap();
    assert!(a.jobs.is_empty(), "{a:?}");
    let forged = format!(
        r#"{{"sent_at": 1e9, "dropped_total": 0, "series": [{{"policy": "agent-test", "probe": "tcp", "family": "v4", "samples": [{sample}]}}]}}"#
    );
    let r = post(Some(nyc.expose()), "nyc", forged.into_bytes())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains(r#""rejected":1"#));
    assert!(ctl.samples("nyc", IpFamily::V4).is_empty());

    // None of that disturbed the good agent: it keeps reporting.
    let before = ctl.agent("fra").batches;
    wait_for("fra to keep reporting", 30, &agent, || {
        ctl.agent("fra").batches >= before + 5
    })
    .await;
    assert!(ctl.agent("fra").fresh);
    assert_eq!(ctl.agent("fra").rejected, 0);
    assert!(!agent.log_text().contains("ERROR"), "{}", agent.log_text());
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_controller_gets_the_buffered_results_and_the_drop_count() {
    let dir = scratch("agent-restart");
    let (fra, fra_file) = token(&dir, "fra");
    let target = tcp_target("[::1]:0").await;
    let policy = policy(target);
    let ctl = Controller::start(
        loopback("[::1]:0"),
        TokenBook::default().with("fra", &fra),
        &policy,
        None,
    )
    .await;
    let addr = ctl.addr;
    let agent = Agent::spawn(
        &dir,
        &ctl.url(false),
        "fra",
        &fra_file,
        &["--buffer", "30", "--max-backoff-secs", "1"],
    );
    wait_for("samples from fra over IPv6", 30, &agent, || {
        ctl.samples("fra", IpFamily::V6).len() >= 3
    })
    .await;

    ctl.stop().await;
    let down_at = SystemClock.now();
    // The outage: 10 probes a second against a 30-result buffer for 4 s overflows it; with at
    // most 1 s between reconnection attempts, results from the outage are still buffered.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let up_at = SystemClock.now();
    let ctl = Controller::start(addr, TokenBook::default().with("fra", &fra), &policy, None).await;
    wait_for("the agent to reconnect and report drops", 60, &agent, || {
        ctl.state
            .agents()
            .iter()
            .any(|a| a.name == "fra" && a.dropped_total > 0)
    })
    .await;
    let samples = ctl.samples("fra", IpFamily::V6);
    let during = samples.iter().filter(|s| s.at > down_at && s.at < up_at).count();
    assert!(
        during > 0,
        "results probed during the outage were buffered and delivered: {samples:?}"
    );
    assert!(during <= 30, "the buffer holds at most 30 results");
    assert!(ctl.agent("fra").fresh);
    assert!(agent.log_text().contains("Could not deliver results"));
    assert!(agent.log_text().contains("oldest results dropped"));
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_clock_an_hour_ahead_is_retimed_to_the_controller_clock() {
    let dir = scratch("agent-skew");
    let (fra, fra_file) = token(&dir, "fra");
    let target = tcp_target("127.0.0.1:0").await;
    let policy = policy(target);
    let ctl = Controller::start(
        loopback("127.0.0.1:0"),
        TokenBook::default().with("fra", &fra),
        &policy,
        None,
    )
    .await;
    let start = SystemClock.now();
    let agent = Agent::spawn(
        &dir,
        &ctl.url(false),
        "fra",
        &fra_file,
        &["--clock-offset-secs", "3600"],
    );
    wait_for("10 samples from the skewed agent", 30, &agent, || {
        ctl.samples("fra", IpFamily::V4).len() >= 10
    })
    .await;
    let now = SystemClock.now();
    let samples = ctl.samples("fra", IpFamily::V4);
    assert!(
        samples.iter().all(|s| s.at >= start - 1.0 && s.at <= now),
        "samples stamped an hour ahead were moved onto the controller's clock: {:?}",
        samples.iter().map(|s| s.at - start).collect::<Vec<_>>()
    );
    let offset = ctl.agent("fra").offset_s.unwrap();
    assert!((offset + 3600.0).abs() < 5.0, "measured offset {offset}");
    // Re-timed samples keep their spacing: 100 ms apart, give or take scheduling.
    let gaps: Vec<f64> = samples.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps.iter().all(|g| *g >= 0.0), "time order kept: {gaps:?}");
    ctl.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reports_over_tls_trusting_a_private_ca() {
    let dir = scratch("agent-tls");
    let (fra, fra_file) = token(&dir, "fra");
    let (ca_pem, acceptor) = private_ca(&dir);
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let target = tcp_target("127.0.0.1:0").await;
    let policy = policy(target);
    let tokens = TokenBook::default().with("fra", &fra);
    let ctl = Controller::start(loopback("127.0.0.1:0"), tokens, &policy, Some(acceptor)).await;

    // Without the CA the agent cannot verify the controller and delivers nothing.
    let untrusting = Agent::spawn(&dir, &ctl.url(true), "fra", &fra_file, &[]);
    wait_for("the certificate error in the log", 30, &untrusting, || {
        untrusting.log_text().contains("Could not fetch assignments")
    })
    .await;
    assert!(ctl.samples("fra", IpFamily::V4).is_empty());
    drop(untrusting);

    let ca = ca_file.to_str().unwrap();
    let agent = Agent::spawn(&dir, &ctl.url(true), "fra", &fra_file, &["--ca-file", ca]);
    wait_for("samples over TLS", 30, &agent, || {
        ctl.samples("fra", IpFamily::V4).len() >= 5
    })
    .await;
    assert!(ctl.agent("fra").fresh);
    ctl.stop().await;
}
