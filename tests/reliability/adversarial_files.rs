//! The file side of the adversarial suite (issue 19): what a full disk, a crash, `mv`, `chmod`,
//! a stray symlink and an echoing cloud do to sloop, tried on the real binary and library.
//!
//! - a journal with a non-UTF-8 byte, a cut-off line and an infinite latency is read line by
//!   line by `sloop history`, which says what it skipped and where;
//! - a running `sloop run` keeps a policy whose file became unreadable, and carries a renamed
//!   policy file on without a restart;
//! - a policy symlinked to a shadow-like file quotes none of its lines;
//! - a cloud that echoes the request (the password, the token) in its error body has them
//!   removed before anything stores or shows the message.

use super::adversarial::Daemon;
use sloop::clock::Stopwatch;
use sloop::{
    decision::{Action, ActionKind, Cause, Evidence},
    journal::{DiskLimits, EntryOutcome, Journal, JournalEntry},
};
use std::{path::Path, process::Command, time::Duration};

fn entry(at: f64) -> JournalEntry {
    JournalEntry {
        at,
        policy: "minimal-web".into(),
        id: Some(format!("minimal-web-{at}")),
        kind: ActionKind::ScaleOut,
        action: Action::ScaleOut { count: 1 },
        cause: Cause::Capacity,
        reason: None,
        outcome: EntryOutcome::Done,
        detail: None,
        duration_ms: Some(3.0),
        evidence: Evidence {
            metrics: vec![("latency_p95_s".into(), f64::INFINITY)],
            summary: "every probe failed".into(),
            ..Evidence::default()
        },
    }
}

#[test]
fn a_damaged_journal_is_read_line_by_line_and_history_says_what_it_skipped() {
    let dir = std::env::temp_dir().join(format!("sloop-adversarial-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let j = Journal::on_disk(&dir, DiskLimits::default(), 10).expect("journal");
    use sloop::journal::ActionSink;
    j.record(&entry(1_000.0));
    drop(j);
    let path = dir.join("journal.jsonl");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open");
    std::io::Write::write_all(
        &mut f,
        b"{\"at\": 1001.0, \"policy\": \"\xfe\"}\n{\"at\": 1002.0, \"pol",
    )
    .expect("damage");
    drop(f);
    // The next run appends after the cut-off line.
    let j = Journal::on_disk(&dir, DiskLimits::default(), 10).expect("journal");
    j.record(&entry(1_003.0));
    drop(j);
    let out = Command::new(env!("CARGO_BIN_EXE_sloop"))
        .args(["history", "--journal"])
        .arg(&dir)
        .output()
        .expect("sloop history");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    crate::figure(
        "adversarial damaged journal",
        &format!(
            "1 non-UTF-8 line + 1 cut-off line among 4: `sloop history` exit {:?}, {} entries shown, warning: {}",
            out.status.code(),
            stdout.lines().count(),
            stderr.lines().next().unwrap_or("")
        ),
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout.lines().count(),
        2,
        "both readable entries are shown: {stdout}"
    );
    assert!(stderr.contains("skipped 2 damaged lines"), "{stderr}");
    assert!(
        stderr.contains("journal.jsonl:2 (byte"),
        "the offset is named: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Polls the status API until `pred` holds (or panics after 30 s).
fn wait_status(d: &Daemon, what: &str, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let waited = Stopwatch::start();
    loop {
        let raw = d.get("/api/v1/status");
        let status = raw
            .split_once("\r\n\r\n")
            .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok());
        if let Some(s) = status
            && pred(&s)
        {
            return s;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "{what}: {raw}\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ticks(s: &serde_json::Value) -> u64 {
    s["policies"]["minimal-web"]["ticks"].as_u64().unwrap_or(0)
}

#[test]
fn unreadable_and_renamed_policy_files_keep_the_policy_in_force() {
    let dir = std::env::temp_dir().join(format!("sloop-adversarial-pdir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::copy("policies/minimal.yaml", dir.join("web.yaml")).expect("policy");
    let d = Daemon::start("policy-files", Some(&dir));
    let first = wait_status(&d, "managed", |s| ticks(s) > 0);
    let started = first["policies"]["minimal-web"]["ticks"].as_u64().unwrap_or(0);

    std::fs::rename(dir.join("web.yaml"), dir.join("site.yaml")).expect("mv");
    std::thread::sleep(Duration::from_secs(2));
    let moved = wait_status(&d, "still managed after mv", |s| ticks(s) > started);
    let source = moved["policies"]["minimal-web"]["source"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        moved["unmanaged"].as_object().is_none_or(|u| u.is_empty()),
        "{moved}"
    );
    assert!(
        moved["rejected"].as_object().is_none_or(|r| r.is_empty()),
        "{moved}"
    );

    // The file becomes a symlink to something that cannot be read.
    std::fs::remove_file(dir.join("site.yaml")).expect("rm");
    std::os::unix::fs::symlink(dir.join("gone.txt"), dir.join("site.yaml")).expect("symlink");
    let kept = wait_status(&d, "rejected, kept", |s| {
        s["rejected"].as_object().is_some_and(|r| !r.is_empty())
    });
    let rejection = kept["rejected"].to_string();
    let still = ticks(&kept);
    let later = wait_status(&d, "still ticking", |s| ticks(s) > still);
    crate::figure(
        "adversarial policy files",
        &format!(
            "mv web.yaml site.yaml: still managed (source {source}, {} ticks, never unmanaged); unreadable symlink: rejected and kept in force ({} ticks later)",
            ticks(&moved),
            ticks(&later)
        ),
    );
    assert!(source.ends_with("site.yaml"), "{source}");
    assert!(rejection.contains("cannot read the file"), "{rejection}");
    assert!(
        later["unmanaged"].as_object().is_none_or(|u| u.is_empty()),
        "{later}"
    );
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_policy_symlinked_to_a_shadow_file_quotes_none_of_it() {
    let dir = std::env::temp_dir().join(format!("sloop-adversarial-shadow-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let hash = "$6$PLANTEDsalt$PLANTEDhashPLANTEDhash";
    std::fs::write(
        dir.join("shadow"),
        format!("root:{hash}:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n"),
    )
    .expect("shadow");
    std::os::unix::fs::symlink(dir.join("shadow"), dir.join("web.yaml")).expect("symlink");
    let out = Command::new(env!("CARGO_BIN_EXE_sloop"))
        .arg("check")
        .arg(dir.join("web.yaml"))
        .output()
        .expect("sloop check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success());
    assert!(text.contains("not YAML-shaped"), "{text}");
    for quoted in ["PLANTED", "root", "daemon", "99999"] {
        assert!(!text.contains(quoted), "`{quoted}` was quoted: {text}");
    }
    crate::figure(
        "adversarial shadow symlink",
        &format!(
            "`sloop check` on a policy symlinked to a shadow file: {} line(s), no line of it quoted",
            text.lines().count()
        ),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fake cloud endpoint that answers every request with an error body echoing the request:
/// its headers (the token) and its body (the password).
async fn echoing_cloud() -> (String, tokio::task::JoinHandle<()>) {
    use axum::{Router, body::Bytes, http::HeaderMap, http::StatusCode};
    let app = Router::new().fallback(|headers: HeaderMap, body: Bytes| async move {
        let echoed: Vec<String> = headers
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("")))
            .collect();
        (
            StatusCode::UNAUTHORIZED,
            format!(
                r#"{{"error": {{"code": 401, "message": "The request you have made requires authentication. Request was: {} {}"}}}}"#,
                echoed.join(", ").replace('"', "'"),
                String::from_utf8_lossy(&body).replace('"', "'")
            ),
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_echoed_by_a_cloud_are_never_shown() {
    const PASSWORD: &str = "PLANTED-echo-pw-3c9d1e";
    const TOKEN: &str = "gAAAAABplanted0echo1token2fernet3shape4ABCDEFGHIJKLMNOP5678";
    // Reading the cloud's credentials registers the password for redaction.
    let clouds = format!(
        "clouds:\n  lab:\n    auth:\n      auth_url: http://127.0.0.1:5000/v3\n      username: sloop\n      password: {PASSWORD}\n      project_name: p\n      user_domain_name: Default\n      project_domain_name: Default\n"
    );
    sloop::cloud::openstack::config::parse(&clouds, "lab", "clouds.yaml").expect("clouds.yaml");
    let (url, server) = echoing_cloud().await;
    let http = reqwest::Client::new();
    let keystone = http
        .post(format!("{url}/v3/auth/tokens"))
        .body(format!(r#"{{"auth": {{"identity": {{"password": {{"user": {{"name": "sloop", "password": "{PASSWORD}"}}}}}}}}}}"#))
        .send()
        .await
        .expect("fake keystone")
        .text()
        .await
        .expect("body");
    let nova = http
        .get(format!("{url}/v2.1/servers/detail"))
        .header("x-auth-token", TOKEN)
        .send()
        .await
        .expect("fake nova")
        .text()
        .await
        .expect("body");
    assert!(
        keystone.contains(PASSWORD) && nova.contains(TOKEN),
        "the fakes echo"
    );
    let mut shown = Vec::new();
    for body in [&keystone, &nova] {
        let message = sloop::cloud::openstack::errors::message_of(body);
        let error = sloop::cloud::openstack::errors::ApiError::local(
            sloop::cloud::openstack::errors::ErrorClass::Unauthorized,
            "identity",
            "POST auth/tokens",
            body.as_str(),
        );
        shown.push(message);
        shown.push(error.to_string());
        shown.push(sloop::act::ActError::from(error).to_string());
    }
    server.abort();
    let all = shown.join("\n");
    crate::figure(
        "adversarial echoing cloud",
        &format!(
            "password and token echoed by a fake Keystone and Nova: {} of {} messages show either",
            shown
                .iter()
                .filter(|m| m.contains(PASSWORD) || m.contains(TOKEN))
                .count(),
            shown.len()
        ),
    );
    assert!(!all.contains(PASSWORD), "{all}");
    assert!(!all.contains(TOKEN), "{all}");
    assert!(
        all.contains("requires authentication"),
        "the message stays useful: {all}"
    );
    let _ = Path::new(&url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_whose_selector_overlaps_another_is_rejected() {
    use sloop::run::{Controller, Options, PolicyEvent, SimFactory};
    let scenario =
        sloop::sim::load_scenario(Path::new("policies/scenarios/steady-day.yaml")).expect("scenario");
    let seed = scenario.seed;
    let c = Controller::start(
        std::sync::Arc::new(SimFactory::new(scenario, seed, 600.0, 0.0)),
        Options::default(),
    );
    let minimal = std::fs::read_to_string("policies/minimal.yaml").expect("policy");
    // Another policy whose selector is narrower: every VM it selects the first one selects too.
    let narrower = minimal
        .replace("name: minimal-web", "name: minimal-blue")
        .replace(
            "      sloop.group: minimal-web\n",
            "      sloop.group: minimal-web\n      tier: blue\n",
        );
    assert_ne!(narrower, minimal, "minimal.yaml changed shape");
    let tx = c.events();
    for (name, text) in [("web.yaml", minimal.clone()), ("blue.yaml", narrower)] {
        tx.send(PolicyEvent::Upsert {
            name: name.into(),
            source_label: name.into(),
            text,
        })
        .await
        .expect("send");
    }
    let mut status = c.status();
    let waited = Stopwatch::start();
    let s = loop {
        let s = status.borrow_and_update().clone();
        if !s.rejected.is_empty() || waited.elapsed() > Duration::from_secs(20) {
            break s;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), status.changed()).await;
    };
    let errors = s
        .rejected
        .get("blue.yaml")
        .map(|r| r.errors.join("; "))
        .unwrap_or_default();
    crate::figure(
        "adversarial overlapping selectors",
        &format!(
            "a second policy with a narrower selector on the same cloud: rejected ({} managed)",
            s.policies.len()
        ),
    );
    assert!(errors.contains("can match the same VMs"), "{:?}", s.rejected);
    assert!(!s.policies.contains_key("minimal-blue"));
    c.stop().await;
}

#[test]
fn a_journal_too_small_for_an_hour_of_the_budget_is_warned_about_at_start() {
    let d = Daemon::start_with(
        "small-journal",
        None,
        &["--journal-max-bytes", "2048", "--journal-files", "1"],
    );
    let waited = Stopwatch::start();
    while !d.log_text().contains("cannot hold an hour") {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "no warning: {}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let line = d
        .log_text()
        .lines()
        .find(|l| l.contains("cannot hold an hour"))
        .unwrap_or("")
        .to_owned();
    crate::figure(
        "adversarial small journal",
        &format!("4 KB journal for minimal.yaml: {line}"),
    );
}

/// Counts the mutating calls that reach the cloud.
#[derive(Default)]
struct Counter {
    calls: usize,
}

impl super::cloud::Hook for Counter {
    fn call(
        &mut self,
        _call: super::cloud::Call,
        _target: &str,
        _now: sloop::snapshot::Time,
    ) -> super::cloud::Fate {
        self.calls += 1;
        super::cloud::Fate::Pass
    }
}

#[test]
fn no_action_is_executed_while_its_intent_cannot_be_written() {
    use super::cloud::{Run, Tick};
    let policy = crate::policy();
    let scenario = crate::scenario("instance-crash");
    let mut run = Run::new(&policy, &scenario, scenario.seed, Counter::default());
    // A file where the journal directory should be: nothing can be written (as root too).
    let blocked = std::env::temp_dir().join(format!("sloop-adversarial-blocked-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&blocked);
    std::fs::write(&blocked, b"not a directory").expect("blocker");
    let (journal, error) = Journal::on_disk_or_retrying(&blocked, DiskLimits::default(), 100);
    assert!(error.is_some());
    run.journal = journal;
    let (mut decided, mut skipped) = (0usize, 0usize);
    while let Some((_, tick)) = run.next() {
        if let Tick::Done(r) = tick {
            decided += r.decision.actions.len();
        }
        skipped = run
            .journal
            .recent(None, 2000)
            .iter()
            .filter(|e| e.outcome == EntryOutcome::Skipped)
            .count();
        if decided >= 3 {
            break;
        }
    }
    let blind_calls = run.cloud.hook.calls;
    std::fs::remove_file(&blocked).expect("unblock");
    let mut after = 0usize;
    while let Some((_, tick)) = run.next() {
        if let Tick::Done(r) = tick {
            after += r.decision.actions.len();
        }
        if run.cloud.hook.calls > 0 {
            break;
        }
    }
    crate::figure(
        "adversarial unwritable journal",
        &format!(
            "instance-crash with the journal unwritable: {decided} actions decided, {skipped} journalled skipped, {blind_calls} mutating calls; writable again: {} calls after {after} decided",
            run.cloud.hook.calls
        ),
    );
    assert!(decided > 0, "the scenario decided nothing");
    assert_eq!(blind_calls, 0, "an action ran without a durable intent");
    assert!(skipped > 0, "the refusal to execute is journalled");
    assert!(
        run.cloud.hook.calls > 0,
        "actions resume once the journal is writable"
    );
    assert_eq!(run.journal.unwritable(), None);
    let _ = std::fs::remove_dir_all(&blocked);
}

#[test]
fn an_unwritable_journal_makes_sloop_run_not_ready_and_says_why() {
    let blocker = std::env::temp_dir().join(format!("sloop-adversarial-journal-file-{}", std::process::id()));
    std::fs::write(&blocker, b"a file where the journal directory should be").expect("blocker");
    let journal = blocker.display().to_string();
    let d = Daemon::start_with("unwritable", None, &["--journal", &journal]);
    let waited = Stopwatch::start();
    let ready = loop {
        let r = d.get("/readyz");
        if r.contains("journal") || waited.elapsed() > Duration::from_secs(30) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let metrics = d.get("/metrics");
    let page = d.get("/");
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    assert!(ready.contains("the action journal cannot be written"), "{ready}");
    assert!(metrics.contains("sloop_journal_writable 0"), "{metrics}");
    assert!(
        page.contains("The action journal cannot be written"),
        "the page says so"
    );
    drop(d);
    let _ = std::fs::remove_file(&blocker);
}
