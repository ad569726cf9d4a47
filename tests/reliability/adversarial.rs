//! The adversarial suite of issue 19, run as a new user could run it against `sloop run` (the
//! real binary, on the simulator, over loopback): a wrong-token flood with 8 KB agent headers
//! must leave the log bounded (≤ 1 MB per million refused requests); 1,100 idle and trickling
//! connections must leave `/healthz` answering, and SIGTERM must end the process within 5 s
//! while they are held open. The file-side items (damaged journals, unreadable and renamed
//! policy files, echoed secrets) are in `adversarial_files.rs`.

use crate::testkit::listen::listen_address;
use sloop::clock::Stopwatch;
use std::{
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A `sloop run` on the simulator with agents allowed, its stderr in a file.
pub struct Daemon {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `sloop run` with `policies` (a directory) and waits for `/healthz`.
    pub fn start(name: &str, policies: Option<&Path>) -> Daemon {
        Self::start_with(name, policies, &[])
    }

    /// As [`Daemon::start`], with `extra` arguments for `sloop run`.
    pub fn start_with(name: &str, policies: Option<&Path>, extra: &[&str]) -> Daemon {
        let dir = std::env::temp_dir().join(format!("sloop-adversarial-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let own = dir.join("policies");
        let policies = match policies {
            Some(p) => p.to_owned(),
            None => {
                std::fs::create_dir_all(&own).expect("policy dir");
                std::fs::copy("policies/minimal.yaml", own.join("web.yaml")).expect("policy");
                own
            }
        };
        let tokens = dir.join("agent-tokens");
        std::fs::write(&tokens, format!("fra: {}\n", "ab".repeat(32))).expect("tokens file");
        let log = dir.join("stderr.log");
        let child = Command::new(env!("CARGO_BIN_EXE_sloop"))
            .args([
                "run",
                "--cloud",
                "sim",
                "--scenario",
                "policies/scenarios/steady-day.yaml",
                "--speed",
                "1",
            ])
            .arg("--policies")
            .arg(&policies)
            .args(if extra.contains(&"--journal") {
                Vec::new()
            } else {
                vec!["--journal".to_owned(), dir.join("journal").display().to_string()]
            })
            .args(["--listen", "127.0.0.1:0", "--poll-interval", "200ms"])
            .arg("--agent-tokens")
            .arg(&tokens)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start sloop run");
        // The port the kernel picked, from the log (see `testkit::listen`).
        let mut d = Daemon {
            child,
            port: 0,
            dir,
            log,
        };
        let waited = Stopwatch::start();
        d.port = loop {
            if let Some(addr) = d.log_text().lines().find_map(listen_address) {
                break addr.port();
            }
            assert!(
                waited.elapsed() < Duration::from_secs(60),
                "sloop run did not say where it listens: {}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        while !d.get("/healthz").starts_with("HTTP/1.1 200") {
            assert!(
                waited.elapsed() < Duration::from_secs(60),
                "sloop run did not come up: {}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    /// A GET on a fresh connection: status line, headers and body ("" when not answered
    /// within 5 s).
    pub fn get(&self, path: &str) -> String {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and returns how long the process took to exit (panics after 30 s).
    pub fn terminate(&mut self) -> Duration {
        let start = Stopwatch::start();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        loop {
            if self.child.try_wait().expect("wait").is_some() {
                return start.elapsed();
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("sloop run ignored SIGTERM for 30 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Refused requests in the flood (wrong token, 8 KB `X-Sloop-Agent`), over keep-alive
/// connections.
const FLOOD_SECONDS: u64 = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_flood_leaves_the_log_bounded() {
    let d = Daemon::start("flood", None);
    let before = std::fs::metadata(&d.log).map(|m| m.len()).unwrap_or(0);
    let url = format!("http://127.0.0.1:{}/api/v1/agent/assignments", d.port);
    let huge = "A".repeat(8 * 1024);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let start = Stopwatch::start();
    let mut workers = Vec::new();
    for _ in 0..32 {
        let (client, url, huge) = (client.clone(), url.clone(), huge.clone());
        workers.push(tokio::spawn(async move {
            let mut counts = std::collections::BTreeMap::<u16, u64>::new();
            while start.elapsed() < Duration::from_secs(FLOOD_SECONDS) {
                let r = client
                    .get(&url)
                    .header("x-sloop-agent", &huge)
                    .bearer_auth("wrong-token")
                    .send()
                    .await
                    .expect("every refused request is answered");
                *counts.entry(r.status().as_u16()).or_default() += 1;
            }
            counts
        }));
    }
    let mut counts = std::collections::BTreeMap::<u16, u64>::new();
    for w in workers {
        for (status, n) in w.await.expect("worker") {
            *counts.entry(status).or_default() += n;
        }
    }
    let refused: u64 = counts.values().sum();
    // One more refusal after the flood brings the summary of its last interval out.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let _ = client
        .get(&url)
        .bearer_auth("wrong")
        .header("x-sloop-agent", "x")
        .send()
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let grown = std::fs::metadata(&d.log).map(|m| m.len()).unwrap_or(0) - before;
    let log = d.log_text();
    // The simulated service logs its own actions meanwhile: count what the flood caused.
    let refusal_bytes: usize = log
        .lines()
        .filter(|l| l.contains("refused") || l.contains("x-sloop-agent") || l.contains("AAAA"))
        .map(|l| l.len() + 1)
        .sum();
    let per_million = refusal_bytes as f64 * 1e6 / refused as f64;
    crate::figure(
        "adversarial wrong-token flood",
        &format!(
            "{refused} refused requests with an 8 KB X-Sloop-Agent in {FLOOD_SECONDS} s ({:.0}/s, statuses {counts:?}): refusal log {refusal_bytes} bytes = {:.0} bytes per million refused (limit 1 MB); whole log grew {grown} bytes",
            refused as f64 / FLOOD_SECONDS as f64,
            per_million
        ),
    );
    assert!(counts.keys().all(|s| *s == 401 || *s == 429), "{counts:?}");
    assert!(
        counts.get(&429).copied().unwrap_or(0) > 0,
        "the source is throttled: {counts:?}"
    );
    assert!(refused >= 1000, "the flood was too small to measure: {refused}");
    assert!(
        per_million <= 1e6,
        "{per_million} bytes per million refused requests"
    );
    assert!(
        !log.contains(&huge[..64]),
        "the client's header never reaches the log"
    );
    assert!(
        log.contains("Agent requests refused."),
        "the summary is logged: {log}"
    );
}

/// Idle connections and connections trickling header bytes held open at once.
const SLOW: usize = 1_100;

#[test]
fn slow_clients_leave_healthz_answering_and_sigterm_exits_within_5_s() {
    let mut d = Daemon::start("slowloris", None);
    let mut held = Vec::with_capacity(SLOW);
    for i in 0..SLOW {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", d.port)) else {
            break;
        };
        // Half never send a byte, half start a request head and trickle it.
        if i % 2 == 1 {
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        }
        held.push(s);
    }
    assert_eq!(held.len(), SLOW, "could not open the slow connections");
    let mut worst = Duration::ZERO;
    for round in 0..6 {
        for s in held.iter_mut().skip(1).step_by(2) {
            let _ = s.write_all(b"a");
        }
        let t = Stopwatch::start();
        let answer = d.get("/healthz");
        let took = t.elapsed();
        worst = worst.max(took);
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "round {round}: /healthz did not answer with {SLOW} slow connections open: {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let metrics = d.get("/metrics");
    let shed = metrics
        .lines()
        .find(|l| l.starts_with("sloop_http_connections_shed_total"))
        .unwrap_or("")
        .to_owned();
    let exit = d.terminate();
    crate::figure(
        "adversarial slow clients",
        &format!(
            "{SLOW} idle/trickling connections held: /healthz answered every time, slowest {:.0} ms; {shed}; SIGTERM exit in {:.2} s with them still open (limit 5 s)",
            worst.as_secs_f64() * 1000.0,
            exit.as_secs_f64()
        ),
    );
    assert!(!shed.is_empty(), "the shed connections are counted: {metrics}");
    assert!(exit <= Duration::from_secs(5), "SIGTERM took {exit:?}");
    drop(held);
}
