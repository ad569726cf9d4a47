//! Remote probe agents played by the test: every second each location asks the controller for
//! its assignment over the real ingest endpoint and posts one result per assigned series —
//! a failure for the instances the test marks as failing, a success for every other. Nothing in
//! the lab answers on a server's address, so this is how the healing ladder gets its evidence.
//! While the controller is down (killed), requests fail and the agents simply try again.

#![allow(dead_code)]

use sloop::{
    clock::{Clock, SystemClock},
    ingest::{
        Token,
        wire::{AGENT_HEADER, ASSIGNMENTS_PATH, Assignments, Batch, BatchReply, BatchSample, BatchSeries},
    },
    observe::probe::Failure,
};
use std::{
    collections::BTreeSet,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

/// The agents' locations (the policy's probes list them).
pub const LOCATIONS: [&str; 2] = ["fra", "nyc"];

/// What the agents have done, for the figures.
#[derive(Debug, Default, Clone)]
pub struct AgentStats {
    /// Batches the controller accepted.
    pub batches: u64,
    /// Samples accepted / rejected by the controller.
    pub accepted: u64,
    pub rejected: u64,
    /// Failure samples posted.
    pub failures_posted: u64,
    /// Requests that found no controller (killed, restarting).
    pub unreachable: u64,
}

/// The running agents; stopped when dropped.
pub struct Agents {
    failing: Arc<Mutex<BTreeSet<String>>>,
    stats: Arc<Mutex<AgentStats>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Agents {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Writes a token per location to the controller's tokens file (`name: sha256hex`); returns
/// the tokens.
pub fn write_tokens(path: &Path) -> Vec<(String, Token)> {
    let tokens: Vec<(String, Token)> = LOCATIONS
        .iter()
        .map(|l| (l.to_string(), Token::generate().expect("random token")))
        .collect();
    let text: String = tokens
        .iter()
        .map(|(l, t)| format!("{l}: {}\n", t.hash_hex()))
        .collect();
    std::fs::write(path, text).expect("write agent tokens");
    tokens
}

impl Agents {
    /// Starts reporting to the controller at `base` (http://127.0.0.1:PORT).
    pub fn start(base: String, tokens: Vec<(String, Token)>) -> Self {
        let failing = Arc::new(Mutex::new(BTreeSet::new()));
        let stats = Arc::new(Mutex::new(AgentStats::default()));
        let (f, s) = (failing.clone(), stats.clone());
        let task = tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()
                .expect("http client");
            let mut round = 0u64;
            loop {
                for (location, token) in &tokens {
                    let failing = f.lock().expect("failing set").clone();
                    let r = report(&http, &base, location, token, &failing, round).await;
                    let mut st = s.lock().expect("stats");
                    match r {
                        Some((reply, failures)) => {
                            st.batches += 1;
                            st.accepted += reply.accepted;
                            st.rejected += reply.rejected;
                            st.failures_posted += failures;
                        }
                        None => st.unreachable += 1,
                    }
                }
                round += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Self { failing, stats, task }
    }

    /// From now on, these instances fail from every location (and all others answer).
    pub fn fail(&self, ids: &[String]) {
        *self.failing.lock().expect("failing set") = ids.iter().cloned().collect();
    }

    /// Instances currently failing.
    pub fn failing(&self) -> BTreeSet<String> {
        self.failing.lock().expect("failing set").clone()
    }

    /// `id` answers again (repaired).
    pub fn heal(&self, id: &str) {
        self.failing.lock().expect("failing set").remove(id);
    }

    pub fn stats(&self) -> AgentStats {
        self.stats.lock().expect("stats").clone()
    }
}

/// One round of one location: fetch the assignment, post one sample per series (the service
/// probe every other round, its interval being 2 s). `None` when the controller is not there.
async fn report(
    http: &reqwest::Client,
    base: &str,
    location: &str,
    token: &Token,
    failing: &BTreeSet<String>,
    round: u64,
) -> Option<(BatchReply, u64)> {
    let auth = format!("Bearer {}", token.expose());
    let a: Assignments = http
        .get(format!("{base}{ASSIGNMENTS_PATH}"))
        .header("authorization", &auth)
        .header(AGENT_HEADER, location)
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .json()
        .await
        .ok()?;
    let now = SystemClock.now();
    let mut failures = 0;
    let series: Vec<BatchSeries> = a
        .jobs
        .iter()
        .filter(|j| j.instance.is_some() || round.is_multiple_of(2))
        .map(|j| {
            let fails = j.instance.as_ref().is_some_and(|i| failing.contains(i));
            failures += u64::from(fails);
            let sample = BatchSample {
                at: now,
                latency: if fails { 0.5 } else { 0.004 },
                ok: !fails,
                phases: None,
                failure: fails.then_some(Failure::Timeout),
            };
            BatchSeries {
                policy: j.policy.clone(),
                probe: j.probe.name.to_string(),
                family: j.family,
                instance: j.instance.clone(),
                samples: vec![sample],
            }
        })
        .collect();
    let batch = Batch {
        sent_at: now,
        dropped_total: 0,
        series,
    };
    let reply: BatchReply = http
        .post(format!("{base}{}", sloop::ingest::wire::RESULTS_PATH))
        .header("authorization", &auth)
        .header(AGENT_HEADER, location)
        .json(&batch)
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .json()
        .await
        .ok()?;
    Some((reply, failures))
}
