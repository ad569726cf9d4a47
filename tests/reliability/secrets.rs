//! Secrets never leave: distinctive secrets are planted where an operator keeps them — a
//! clouds.yaml password and application-credential secret (file and `OS_*` environment), an
//! agent token, and a bearer token in a probe's request headers — and every output sloop
//! produces today is searched for them: `check` (valid and invalid, text and JSON),
//! `explain`, `rehearse` (text, JSON, HTML report, decision log), `replay`, `agent-token`, a
//! `sloop agent` retrying against an unreachable controller, `sloop run` on the simulator (its
//! logs, action journal, status page, status and journal API, and /metrics), and the tracing
//! logs at `RUST_LOG=trace`.

use crate::testkit::listen::FollowedLog;
use std::{
    path::{Path, PathBuf},
    process::Command,
};

const PASSWORD: &str = "PLANTED-pw-7f3a9c0e";
const APP_SECRET: &str = "PLANTED-acs-51e0d2bb";
const AGENT_TOKEN: &str = "PLANTED-agent-9d1c4e77";
const PROBE_TOKEN: &str = "PLANTED-bearer-a8b4c6f1";
const SECRETS: [&str; 4] = [PASSWORD, APP_SECRET, AGENT_TOKEN, PROBE_TOKEN];

fn workdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sloop-secrets-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("boot")).expect("temp dir");
    dir
}

fn plant(dir: &Path) -> (PathBuf, PathBuf) {
    let clouds = format!(
        "clouds:\n  lab:\n    auth:\n      auth_url: https://keystone.example:5000/v3\n      username: sloop\n      password: {PASSWORD}\n      application_credential_id: 4f1e\n      application_credential_secret: {APP_SECRET}\n    region_name: RegionOne\n"
    );
    std::fs::write(dir.join("clouds.yaml"), clouds).expect("clouds.yaml");
    std::fs::copy("policies/boot/web.sh", dir.join("boot/web.sh")).expect("boot script");
    let shipped = std::fs::read_to_string("policies/election-web.yaml").expect("policy");
    let with_header = shipped.replacen(
        "        url: https://wahlen.example.de/\n",
        &format!("        url: https://wahlen.example.de/\n        headers:\n          Authorization: Bearer {PROBE_TOKEN}\n"),
        1,
    );
    assert_ne!(with_header, shipped, "election-web.yaml changed shape");
    let valid = dir.join("policy.yaml");
    std::fs::write(&valid, &with_header).expect("policy");
    // Invalid: the token where a map belongs, an unknown field next to it, and a password
    // where a duration belongs; `check` must quote none of them.
    let broken = with_header
        .replacen(
            &format!("        headers:\n          Authorization: Bearer {PROBE_TOKEN}\n"),
            &format!("        headers: Bearer {PROBE_TOKEN}\n        token: {AGENT_TOKEN}\n"),
            1,
        )
        .replacen("timeout: 2s", &format!("timeout: {PASSWORD}"), 1);
    let invalid = dir.join("broken.yaml");
    std::fs::write(&invalid, broken).expect("broken policy");
    (valid, invalid)
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sloop"));
    c.args(args)
        .current_dir(dir)
        .env("RUST_LOG", "trace")
        .env("OS_CLOUD", "lab")
        .env("OS_CLIENT_CONFIG_FILE", dir.join("clouds.yaml"))
        .env("OS_PASSWORD", PASSWORD)
        .env("OS_APPLICATION_CREDENTIAL_SECRET", APP_SECRET)
        .env("SLOOP_AGENT_TOKEN", AGENT_TOKEN);
    c
}

fn sloop(dir: &Path, args: &[&str]) -> String {
    let out = command(dir, args).output().expect("run sloop");
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A plain HTTP/1.1 GET on loopback; the status line, headers and body ("" when unreachable).
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// `sloop run` on the simulator (instance-crash at 600× speed, agents allowed) for a while:
/// its logs, the action journal, the status page and API, and /metrics.
fn run_for_a_while(dir: &Path, policy: &Path, scenario: &str) -> Vec<(String, String)> {
    let policies = dir.join("run-policies");
    std::fs::create_dir_all(policies.join("boot")).expect("policy dir");
    std::fs::copy(policy, policies.join("policy.yaml")).expect("policy");
    std::fs::copy("policies/boot/web.sh", policies.join("boot/web.sh")).expect("boot script");
    let tokens = dir.join("agent-tokens");
    std::fs::write(&tokens, format!("fra: {}\n", "ab".repeat(32))).expect("tokens file");
    let journal = dir.join("journal");
    let args = [
        "run",
        "--cloud",
        "sim",
        "--scenario",
        scenario,
        "--speed",
        "600",
        "--policies",
        policies.to_str().expect("utf-8"),
        "--journal",
        journal.to_str().expect("utf-8"),
        "--listen",
        "127.0.0.1:0",
        "--agent-tokens",
        tokens.to_str().expect("utf-8"),
    ];
    let mut child = command(dir, &args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start sloop run");
    let log = child.stderr.take().expect("stderr piped");
    let log = match FollowedLog::until_listening(log, std::time::Duration::from_secs(60)) {
        Ok(log) => log,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sloop run: {e}");
        }
    };
    let port = log.addr.port();
    std::thread::sleep(std::time::Duration::from_secs(8));
    let mut outputs: Vec<(String, String)> = ["/", "/api/v1/status", "/api/v1/journal", "/metrics"]
        .iter()
        .map(|p| (format!("run {p}"), http_get(port, p)))
        .collect();
    let _ = child.kill();
    let out = child.wait_with_output().expect("run output");
    outputs.push((
        "run logs".into(),
        format!("{}\n{}", String::from_utf8_lossy(&out.stdout), log.text()),
    ));
    let mut journal_text = String::new();
    for entry in std::fs::read_dir(&journal).into_iter().flatten().flatten() {
        journal_text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    outputs.push(("run journal".into(), journal_text));
    outputs
}

/// `sloop agent` against a port nothing listens on, retrying for three seconds: its connection
/// errors and retry logs must not carry the token it sends.
fn agent_for_a_while(dir: &Path, token_file: &str) -> String {
    let args = [
        "agent",
        "--controller",
        "http://127.0.0.1:9",
        "--location",
        "fra",
        "--token-file",
        token_file,
        "--max-backoff-secs",
        "0.2",
        "--no-icmp",
    ];
    let mut child = command(dir, &args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start sloop agent");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let _ = child.kill();
    let out = child.wait_with_output().expect("agent output");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.trim().is_empty(),
        "the agent said nothing in 3 s at RUST_LOG=trace"
    );
    text
}

#[test]
fn planted_secrets_appear_in_no_output() {
    let dir = workdir();
    let (valid, invalid) = plant(&dir);
    let scenario = std::fs::canonicalize("policies/scenarios/instance-crash.yaml").expect("scenario");
    let scenario = scenario.to_str().expect("utf-8 path");
    let (valid, invalid) = (valid.to_str().expect("utf-8"), invalid.to_str().expect("utf-8"));
    let html = dir.join("report.html");
    let log = dir.join("decisions.jsonl");
    let mut outputs: Vec<(String, String)> = vec![
        ("check".into(), sloop(&dir, &["check", valid])),
        (
            "check --format json".into(),
            sloop(&dir, &["check", "--format", "json", valid]),
        ),
        ("check (invalid)".into(), sloop(&dir, &["check", invalid])),
        (
            "check (invalid, json)".into(),
            sloop(&dir, &["check", "--format", "json", invalid]),
        ),
        ("explain".into(), sloop(&dir, &["explain", valid])),
        (
            "rehearse --json".into(),
            sloop(&dir, &["rehearse", valid, "--scenario", scenario, "--json"]),
        ),
        (
            "rehearse".into(),
            sloop(
                &dir,
                &[
                    "rehearse",
                    valid,
                    "--scenario",
                    scenario,
                    "--report",
                    html.to_str().expect("utf-8"),
                    "--decision-log",
                    log.to_str().expect("utf-8"),
                ],
            ),
        ),
    ];
    outputs.push((
        "replay".into(),
        sloop(&dir, &["replay", log.to_str().expect("utf-8")]),
    ));
    let token_file = dir.join("agent.token");
    std::fs::write(&token_file, format!("{AGENT_TOKEN}\n")).expect("token file");
    let token_file = token_file.to_str().expect("utf-8");
    outputs.push((
        "agent-token --hash-of".into(),
        sloop(&dir, &["agent-token", "fra", "--hash-of", token_file]),
    ));
    outputs.push((
        "agent (controller unreachable)".into(),
        agent_for_a_while(&dir, token_file),
    ));
    let run = run_for_a_while(&dir, Path::new(valid), scenario);
    let served = run
        .iter()
        .filter(|(n, t)| n.starts_with("run /") && t.starts_with("HTTP/1.1 200"))
        .count();
    crate::figure(
        "secrets",
        &format!(
            "sloop run: {served} of 4 status endpoints answered; journal {} bytes",
            run[5].1.len()
        ),
    );
    let firsts: Vec<_> = run.iter().map(|(n, t)| (n, t.lines().next())).collect();
    assert!(served >= 3, "sloop run served too little to search: {firsts:?}");
    outputs.extend(run);
    let report = std::fs::read_to_string(&html).unwrap_or_else(|e| panic!("HTML report not written: {e}"));
    outputs.push(("HTML report".into(), report));
    // The decision log is a gzip stream (flushed every tick); search what it says.
    let mut text = String::new();
    let raw = std::fs::File::open(&log).unwrap_or_else(|e| panic!("decision log not written: {e}"));
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(raw), &mut text)
        .unwrap_or_else(|e| panic!("decision log unreadable: {e}"));
    outputs.push(("decision log".into(), text));
    let mut leaks = Vec::new();
    let mut bytes = 0;
    for (name, text) in &outputs {
        bytes += text.len();
        // `check` on a broken file names the line and field of a value typed into the wrong
        // field but shows neither it nor its source line's value (check_secrets.rs).
        for s in SECRETS {
            if text.contains(s) {
                let line = text.lines().find(|l| l.contains(s)).unwrap_or_default();
                let shown: String = line.chars().take(160).collect();
                leaks.push(format!("{name} leaks {s}: {shown}"));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    crate::figure(
        "secrets",
        &format!(
            "{} outputs ({bytes} bytes) searched for {} planted secrets: {} leaks",
            outputs.len(),
            SECRETS.len(),
            leaks.len()
        ),
    );
    // The searched outputs must be real: a rehearsal that failed would hide nothing.
    assert!(
        outputs
            .iter()
            .any(|(n, t)| n == "decision log" && t.lines().count() > 100)
    );
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

/// A secret put under a misspelt or unknown key of a policy: `sloop check` names the file,
/// line and field, and never echoes the value (text and JSON output).
#[test]
fn check_names_an_unknown_field_without_quoting_its_value() {
    let planted = "PLANTED-check-s3cr3t-9f8e7d";
    let text = std::fs::read_to_string("policies/election-web.yaml").expect("shipped policy");
    let text = text.replacen(
        "  name: election-web\n",
        &format!("  name: election-web\n  passwrod: {planted}\n"),
        1,
    );
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("check-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let file = dir.join("web.yaml");
    std::fs::write(&file, text).expect("write policy");
    let line = 10;
    for format in ["text", "json"] {
        let (accepted, all) = crate::check_secrets::check(&file, format);
        assert!(!accepted, "check accepted an unknown field:\n{all}");
        assert!(all.contains("passwrod"), "the field is not named:\n{all}");
        assert!(all.contains("web.yaml"), "the file is not named:\n{all}");
        assert!(
            all.contains(&line.to_string()),
            "line {line} is not named:\n{all}"
        );
        assert!(!all.contains(planted), "check {format} quotes the secret:\n{all}");
        crate::figure(
            "secrets",
            &format!("check --format {format} on a planted secret under `passwrod`: named, value not shown"),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
