//! The HTTP server over a real socket on 127.0.0.1: every endpoint, `/metrics` through
//! `promtool check metrics`, and the status page of
//! `sloop run --cloud sim --scenario policies/scenarios/election-night.yaml --speed 60`
//! rendered by a real headless Chromium, with a screenshot written to
//! `target/screenshots/status.png`.
//!
//! promtool (Debian `prometheus`) and chromium (Debian `chromium`) are installed by `.ci/run`;
//! when one is missing these tests fail and say how to install it.

use crate::testkit::listen::FollowedLog;
use sloop::{
    ingest::{Token, TokenBook},
    run::{Controller, Options, SimFactory},
    serve,
    sim::load_scenario,
};
use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A minimal HTTP/1.1 GET (the server answers with Content-Length and closes on request).
fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> Result<(u16, String, String), String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("no status code")?;
    Ok((status, head.to_owned(), body.to_owned()))
}

fn need(tool: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(tool))
                .find(|f| f.is_file())
        })
        .unwrap_or_default();
    found.unwrap_or_else(|| {
        panic!(
            "`{tool}` is not installed: `apt-get install -y {package}` (the CI script .ci/run installs it)"
        )
    })
}

fn promtool_check(metrics: &str) {
    let promtool = need("promtool", "prometheus");
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(metrics.as_bytes())
        .expect("write metrics");
    let out = child.wait_with_output().expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- metrics ---\n{metrics}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn get_async(
    addr: SocketAddr,
    path: &'static str,
    accept: Option<&'static str>,
) -> (u16, String, String) {
    tokio::task::spawn_blocking(move || get(addr, path, accept))
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_over_a_real_socket() {
    let dir = std::env::temp_dir().join(format!("sloop-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::copy(repo().join("policies/minimal.yaml"), dir.join("web.yaml")).expect("copy");
    let scenario = load_scenario(&repo().join("policies/scenarios/steady-day.yaml")).expect("scenario");
    let seed = scenario.seed;
    let token = Token::new("a-long-enough-agent-token-for-the-test");
    let agents = TokenBook::parse("tokens", &format!("fra: {}\n", token.hash_hex())).expect("tokens parse");
    let c = Controller::start(
        Arc::new(SimFactory::new(scenario, seed, 600.0, 0.0)),
        Options {
            agents: Some(agents),
            ..Options::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = serve::Running::http(listener, serve::router(c.app_state()));

    let (code, _, body) = get_async(addr, "/healthz", None).await;
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    let (code, _, body) = get_async(addr, "/readyz", None).await;
    assert_eq!(code, 503, "not ready before any policy is loaded: {body}");

    c.watch_dir(dir.clone(), Duration::from_millis(100));
    let mut ready = false;
    for _ in 0..300 {
        if get_async(addr, "/readyz", None).await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ready,
        "/readyz turns 200 once policies are loaded and snapshotted"
    );

    let (code, head, body) = get_async(addr, "/api/v1/status", None).await;
    assert_eq!(code, 200);
    assert!(head.to_ascii_lowercase().contains("application/json"));
    let json: serde_json::Value = serde_json::from_str(&body).expect("status is JSON");
    assert!(
        json["policies"]["minimal-web"]["ticks"].as_u64().unwrap_or(0) > 0,
        "{json}"
    );
    assert_eq!(json["leader"], true);
    let tick = &json["policies"]["minimal-web"];
    assert!(
        tick["last_tick"].is_f64()
            && tick["last_tick_rfc3339"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z') && t.len() == 20),
        "epoch seconds and RFC 3339 side by side: {tick}"
    );
    let (code, _, body) = get_async(addr, "/api/v1/journal", None).await;
    assert_eq!(code, 200);
    let entries: serde_json::Value = serde_json::from_str(&body).expect("journal is JSON");
    for e in entries.as_array().expect("a list") {
        assert!(e["at_rfc3339"].is_string(), "{e}");
        let metrics = &e["evidence"]["metrics"];
        assert!(
            metrics.is_null() || metrics.is_object(),
            "evidence metrics as an object: {e}"
        );
    }

    let (code, _, body) = get_async(addr, "/", None).await;
    assert_eq!(code, 200);
    for needle in [
        "<!DOCTYPE html>",
        "minimal-web",
        "<svg class=\"plot\"",
        "Servers (",
        "Timeline",
    ] {
        assert!(body.contains(needle), "status page lacks {needle}");
    }

    let (code, head, classic) = get_async(addr, "/metrics", None).await;
    assert_eq!(code, 200);
    assert!(
        head.contains("version=0.0.4"),
        "classic text format by default: {head}"
    );
    for name in [
        "sloop_reconcile_duration_seconds_bucket",
        "sloop_reconcile_passes_total",
        "sloop_objective_state",
        "sloop_burn_rate",
        "sloop_instances",
        "sloop_leader 1",
        "sloop_build_info{version=\"",
        "process_resident_memory_bytes ",
        "sloop_probe_location_fresh",
    ] {
        assert!(classic.contains(name), "/metrics lacks {name}:\n{classic}");
    }
    promtool_check(&classic);
    let (_, head, open) = get_async(
        addr,
        "/metrics",
        Some("application/openmetrics-text; version=1.0.0"),
    )
    .await;
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert!(open.trim_end().ends_with("# EOF"), "OpenMetrics ends with # EOF");

    c.stop().await;
    server.stop().await.expect("server ran");
    let _ = std::fs::remove_dir_all(&dir);
}

// === The status page of a real `sloop run` in a headless browser ===

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn target_dir() -> PathBuf {
    // target/debug/deps/serve_http-… → target
    std::env::current_exe()
        .ok()
        .and_then(|p| p.ancestors().nth(3).map(Path::to_owned))
        .unwrap_or_else(|| repo().join("target"))
}

fn chromium(args: &[&str]) -> std::process::Output {
    let chromium = need("chromium", "chromium");
    let profile = std::env::temp_dir().join(format!("sloop-chromium-{}", std::process::id()));
    Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

#[test]
fn the_status_page_of_a_live_demo_renders_in_a_headless_browser() {
    let journal = std::env::temp_dir().join(format!("sloop-demo-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&journal);
    let child = Command::new(env!("CARGO_BIN_EXE_sloop"))
        .current_dir(repo())
        .args([
            "run",
            "--cloud",
            "sim",
            "--scenario",
            "policies/scenarios/election-night.yaml",
            "--speed",
            "60",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--journal")
        .arg(&journal)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sloop run starts");
    let mut daemon = Daemon(child);
    let log = daemon.0.stderr.take().expect("stderr piped");
    let log = FollowedLog::until_listening(log, Duration::from_secs(60)).expect("sloop run listens");
    let addr = log.addr;

    // Ready, then ~20 simulated minutes of history for the charts (20 s at 60×).
    let mut passes = 0;
    for _ in 0..600 {
        if let Ok((200, _, body)) = get(addr, "/api/v1/status", None) {
            let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            passes = json["policies"]["election-web"]["ticks"].as_u64().unwrap_or(0);
            if passes >= 120 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        passes >= 120,
        "election-web made {passes} passes; the demo is not running"
    );
    let (code, _, metrics) = get(addr, "/metrics", None).expect("metrics");
    assert_eq!(code, 200);
    promtool_check(&metrics);

    let url = format!("http://{addr}/");
    let dom = chromium(&["--dump-dom", &url]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    for needle in [
        "election-web",
        "minimal-web",
        "latency-p95",
        "per location",
        "per family",
        "error budget left",
        "Servers and sloop",
        "Probe locations and agents",
        "Timeline",
    ] {
        assert!(dom_text.contains(needle), "the rendered page lacks `{needle}`");
    }
    let charts = dom_text.matches("<svg class=\"plot\"").count();
    assert!(charts >= 5, "only {charts} charts rendered");
    let polylines = dom_text.matches("<polyline").count() + dom_text.matches("<path").count();
    assert!(polylines >= 10, "the charts have no lines ({polylines})");
    assert!(
        dom_text.matches("<tr>").count() >= 8,
        "tables of servers and locations"
    );

    let shots = target_dir().join("screenshots");
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let png = shots.join("status.png");
    let _ = std::fs::remove_file(&png);
    let shot = chromium(&[
        &format!("--screenshot={}", png.display()),
        "--window-size=1400,1800",
        &url,
    ]);
    assert!(
        shot.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(size > 50_000, "screenshot {} is only {size} bytes", png.display());
    println!("screenshot: {}", png.display());

    // Graceful shutdown on SIGTERM: exit code 0.
    let pid = daemon.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let mut status = None;
    for _ in 0..150 {
        if let Ok(Some(s)) = daemon.0.try_wait() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = status.expect("sloop run exits within 15 s of SIGTERM");
    let stderr = log.text();
    assert!(
        status.success(),
        "sloop run exits 0 on SIGTERM, got {status}:\n{stderr}"
    );
    assert!(stderr.contains("Stopped."), "logs its shutdown:\n{stderr}");
    let _ = std::fs::remove_dir_all(&journal);
}
