//! The load generator of `sloop-bench ingest`, run in its own process (the same binary
//! re-executed as the hidden `sloop-bench ingest-load`) so its CPU is not the controller's.
//!
//! Each agent reads its name and token from stdin (`NAME TOKEN` lines: tokens never go on the
//! command line, where `ps` shows them), fetches its assignments like `sloop agent` does, then
//! every `--batch-interval` posts one batch holding its share of `--rate` results spread over
//! its assigned series, stamped across the interval. A 429 is honoured (its Retry-After is
//! slept) and counted. At the end one JSON line of counts goes to stdout.

use crate::testkit::batch::{batch, scheduled};
use serde::{Deserialize, Serialize};
use sloop::{
    clock::{Clock, Stopwatch, SystemClock},
    ingest::wire::{AGENT_HEADER, ASSIGNMENTS_PATH, AssignedJob, Assignments, BatchReply, RESULTS_PATH},
};
use std::{io::BufRead, process::ExitCode, time::Duration};

/// `sloop-bench ingest-load` options (hidden; `sloop-bench ingest` starts it).
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// The controller's base URL (`http://127.0.0.1:PORT`).
    #[arg(long)]
    pub url: String,
    /// Results per second over every agent.
    #[arg(long, default_value_t = 10_000)]
    pub rate: u32,
    /// Seconds of load.
    #[arg(long, default_value_t = 60.0)]
    pub seconds: f64,
    /// Seconds between one agent's batches.
    #[arg(long, default_value_t = 1.0)]
    pub batch_interval: f64,
    /// Send what real agents send instead of `--rate`: one result per assigned series per
    /// probe interval.
    #[arg(long)]
    pub normal: bool,
}

/// What the generator saw, printed as one JSON line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadCounts {
    /// Results sent.
    pub sent: u64,
    /// Results the controller stored.
    pub accepted: u64,
    /// Results it refused inside accepted batches (series not assigned).
    pub rejected: u64,
    /// Batches posted.
    pub batches: u64,
    /// Batches answered 429.
    pub throttled: u64,
    /// Batches answered with another error status, or not answered.
    pub failed: u64,
    /// Seconds the load actually ran.
    pub seconds: f64,
}

/// Runs the generator: reads `NAME TOKEN` lines from stdin, loads, prints counts.
pub fn run(args: &LoadArgs) -> ExitCode {
    let agents: Vec<(String, String)> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_owned(), it.next()?.to_owned()))
        })
        .collect();
    if agents.is_empty() {
        eprintln!("ingest-load: no `NAME TOKEN` lines on stdin");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ingest-load: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let counts = runtime.block_on(load(args, agents));
    match counts {
        Ok(c) => {
            outln!("{}", serde_json::to_string(&c).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ingest-load: {e}");
            ExitCode::from(1)
        }
    }
}

async fn load(args: &LoadArgs, agents: Vec<(String, String)>) -> Result<LoadCounts, String> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(agents.len())
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let per_batch = ((f64::from(args.rate) * args.batch_interval) / agents.len() as f64).round() as usize;
    let mut tasks = Vec::new();
    let watch = Stopwatch::start();
    for (k, (name, token)) in agents.into_iter().enumerate() {
        let jobs = assignments(&client, &args.url, &name, &token).await?;
        if jobs.is_empty() {
            return Err(format!(
                "agent `{name}` has no assignments: is it in the policy's locations?"
            ));
        }
        let (client, url) = (client.clone(), args.url.clone());
        let (interval, seconds) = (args.batch_interval, args.seconds);
        let per_batch = (!args.normal).then_some(per_batch);
        // Agents start spread over one interval, as independent agents would.
        let offset = interval * k as f64 / 16.0;
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(offset.min(interval))).await;
            agent(client, url, name, token, jobs, per_batch, interval, seconds).await
        }));
    }
    let mut total = LoadCounts::default();
    for t in tasks {
        let c = t.await.map_err(|e| format!("agent task: {e}"))?;
        total.sent += c.sent;
        total.accepted += c.accepted;
        total.rejected += c.rejected;
        total.batches += c.batches;
        total.throttled += c.throttled;
        total.failed += c.failed;
    }
    total.seconds = watch.elapsed().as_secs_f64();
    Ok(total)
}

async fn assignments(
    client: &reqwest::Client,
    url: &str,
    name: &str,
    token: &str,
) -> Result<Vec<AssignedJob>, String> {
    let r = client
        .get(format!("{url}{ASSIGNMENTS_PATH}"))
        .bearer_auth(token)
        .header(AGENT_HEADER, name)
        .send()
        .await
        .map_err(|e| format!("GET {ASSIGNMENTS_PATH} as `{name}`: {e}"))?;
    if !r.status().is_success() {
        return Err(format!("GET {ASSIGNMENTS_PATH} as `{name}`: HTTP {}", r.status()));
    }
    let a: Assignments = r
        .json()
        .await
        .map_err(|e| format!("GET {ASSIGNMENTS_PATH} as `{name}`: {e}"))?;
    Ok(a.jobs)
}

#[allow(clippy::too_many_arguments)]
async fn agent(
    client: reqwest::Client,
    url: String,
    name: String,
    token: String,
    jobs: Vec<AssignedJob>,
    per_batch: Option<usize>,
    interval: f64,
    seconds: f64,
) -> LoadCounts {
    let mut c = LoadCounts::default();
    let start = Stopwatch::start();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(interval));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        ticker.tick().await;
        seq += 1;
        let now = SystemClock.now();
        let body = match per_batch {
            Some(n) => batch(&jobs, n, now, interval, seq),
            None => scheduled(&jobs, now, interval, seq),
        };
        let Ok(bytes) = serde_json::to_vec(&body) else {
            c.failed += 1;
            continue;
        };
        c.batches += 1;
        c.sent += body.series.iter().map(|s| s.samples.len() as u64).sum::<u64>();
        let r = client
            .post(format!("{url}{RESULTS_PATH}"))
            .bearer_auth(&token)
            .header(AGENT_HEADER, &name)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes)
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => match r.json::<BatchReply>().await {
                Ok(reply) => {
                    c.accepted += reply.accepted;
                    c.rejected += reply.rejected;
                }
                Err(_) => c.failed += 1,
            },
            Ok(r) if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                c.throttled += 1;
                let wait = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .unwrap_or(1.0)
                    .clamp(0.0, 60.0);
                tokio::time::sleep(Duration::from_secs_f64(wait)).await;
            }
            _ => c.failed += 1,
        }
    }
    c
}
