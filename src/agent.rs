//! `sloop agent`: a remote probe location. It fetches its assignments from the controller, runs
//! them with the same scheduler and probes as the controller's own, and pushes the results in
//! batches. IO.
//!
//! ```text
//! fetch assignments ─► Scheduler per policy ─► BufferSink ─► Buffer (bounded, oldest dropped)
//!        ▲                                                        │ every batch interval
//!        └──── reply says the assignments changed ◄── POST batch ◄┘ (backoff + jitter on failure)
//! ```
//!
//! The controller unreachable: results wait in the buffer and go out once it is back. Clock
//! skew: every batch carries the agent's send time; the controller re-times by its receipt.

pub mod buffer;
pub mod client;

use crate::{
    clock::{Clock, SystemClock},
    ingest::wire::{AssignedJob, Assignments, Batch},
    observe::{
        probe::{
            Address, Check, LocalProber,
            schedule::{Job, Limits, Scheduler},
        },
        store::SeriesId,
    },
    snapshot::{SeriesKey, Time},
};
use buffer::{Buffer, BufferSink};
use client::{ControllerClient, SendError};
use std::{
    collections::{BTreeMap, HashMap},
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::task::JoinSet;

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The agent's location name (its token's name on the controller).
    pub location: String,
    /// Results kept while the controller is unreachable.
    pub buffer: usize,
    /// Added to the system clock (only to test the controller's skew handling).
    pub clock_offset: f64,
    /// Whether to try ICMP at all.
    pub icmp: bool,
    /// Longest wait between reconnection attempts.
    pub max_backoff: Duration,
}

/// A clock `offset` seconds off the system clock (to rehearse a badly set agent clock).
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock(pub f64);

impl Clock for OffsetClock {
    fn now(&self) -> Time {
        SystemClock.now() + self.0
    }
}

/// Exponential backoff with full jitter: waits between `base` and the current ceiling, which
/// doubles after each failure up to `max`, so many agents do not reconnect in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    ceiling: Duration,
    state: u64,
}

impl Backoff {
    /// A backoff seeded with `seed` (any value; the jitter only spreads agents apart).
    pub fn new(base: Duration, max: Duration, seed: u64) -> Self {
        Self {
            base,
            max,
            ceiling: base,
            state: seed | 1,
        }
    }

    /// The next wait.
    pub fn next_wait(&mut self) -> Duration {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let r = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        let unit = r as f64 / (1u64 << 53) as f64;
        let span = self.ceiling.saturating_sub(self.base).as_secs_f64();
        let wait = self.base + Duration::from_secs_f64(span * unit);
        self.ceiling = (self.ceiling * 2).min(self.max);
        wait
    }

    /// After a success: start from `base` again.
    pub fn reset(&mut self) {
        self.ceiling = self.base;
    }
}

/// The scheduler jobs of `assignments`, grouped by policy; jobs whose probe does not compile
/// are reported and skipped.
pub fn jobs_from(assignments: &Assignments, location: &str) -> BTreeMap<String, Vec<Job>> {
    let mut checks: HashMap<(String, String), Arc<Check>> = HashMap::new();
    let mut out: BTreeMap<String, Vec<Job>> = BTreeMap::new();
    let location: Arc<str> = location.into();
    for AssignedJob {
        policy,
        probe,
        family,
        instance,
        address,
    } in &assignments.jobs
    {
        let id = (policy.clone(), probe.name.clone());
        let check = match checks.get(&id) {
            Some(c) => c.clone(),
            None => match Check::from_policy(probe) {
                Ok(c) => {
                    let c = Arc::new(c);
                    checks.insert(id, c.clone());
                    c
                }
                Err(e) => {
                    tracing::error!(policy, probe = %probe.name, error = %e, "Assigned probe does not compile; skipped.");
                    continue;
                }
            },
        };
        let key = SeriesKey {
            probe: probe.name.as_str().into(),
            location: location.clone(),
            family: *family,
        };
        out.entry(policy.clone()).or_default().push(Job {
            series: match instance {
                None => SeriesId::Service(key),
                Some(i) => SeriesId::Instance(i.clone(), key),
            },
            check,
            family: *family,
            address: address.map_or(Address::Every, Address::Fixed),
            interval: Duration::from_secs_f64(probe.interval.secs().max(0.001)),
            timeout: Duration::from_secs_f64(probe.timeout.secs().max(0.001)),
        });
    }
    out
}

/// Runs the agent until `shutdown` completes.
pub async fn run(config: AgentConfig, client: ControllerClient, shutdown: impl Future<Output = ()>) {
    let clock: Arc<dyn Clock> = Arc::new(OffsetClock(config.clock_offset));
    let prober = Arc::new(if config.icmp {
        LocalProber::new()
    } else {
        LocalProber::without_icmp()
    });
    tracing::info!(icmp = ?prober.icmp(), location = %config.location, "Agent starting.");
    let buffer = Arc::new(Mutex::new(Buffer::new(config.buffer)));
    let seed = (clock.now().to_bits()) ^ (std::process::id() as u64).rotate_left(32);
    let mut backoff = Backoff::new(Duration::from_millis(200), config.max_backoff, seed);
    let mut running: Option<(String, JoinSet<()>)> = None;
    let mut interval = Duration::from_secs(5);
    let mut max_batch = 5_000usize;
    let mut wait = Duration::ZERO;
    let mut reported_drops = 0u64;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(wait) => {}
        }
        if running.is_none() {
            match client.assignments().await {
                Ok(a) => {
                    interval = Duration::from_secs_f64(a.batch_interval_s.clamp(0.05, 300.0));
                    max_batch = a.max_batch_samples.clamp(1, 100_000);
                    let tasks = start(&a, &config.location, &prober, &clock, &buffer);
                    tracing::info!(version = %a.version, jobs = a.jobs.len(), "Assignments fetched.");
                    running = Some((a.version, tasks));
                    backoff.reset();
                }
                Err(e) => {
                    wait = backoff.next_wait();
                    tracing::warn!(error = %e, retry_in = ?wait, "Could not fetch assignments.");
                    continue;
                }
            }
        }
        let (series, last, n, dropped) = {
            let b = buffer.lock().unwrap_or_else(|e| e.into_inner());
            let (series, last, n) = b.batch(max_batch);
            (series, last, n, b.dropped())
        };
        if dropped > reported_drops {
            tracing::warn!(
                dropped_total = dropped,
                "Buffer full while the controller is unreachable: oldest results dropped."
            );
            reported_drops = dropped;
        }
        let batch = Batch {
            sent_at: clock.now(),
            dropped_total: dropped,
            series,
        };
        match client.send(&batch).await {
            Ok(reply) => {
                if let Some(seq) = last {
                    buffer.lock().unwrap_or_else(|e| e.into_inner()).ack(seq);
                }
                backoff.reset();
                let more = buffer.lock().unwrap_or_else(|e| e.into_inner()).len() >= max_batch;
                wait = if more { Duration::ZERO } else { interval };
                if running.as_ref().is_some_and(|(v, _)| *v != reply.assignments) {
                    tracing::info!("Assignments changed; fetching them.");
                    if let Some((_, mut tasks)) = running.take() {
                        tasks.shutdown().await;
                    }
                    wait = Duration::ZERO;
                }
            }
            Err(SendError::TooLarge(e)) => {
                max_batch = (n / 2).max(1);
                tracing::warn!(error = %e, max_batch, "Batch too large; sending smaller ones.");
                wait = Duration::ZERO;
            }
            Err(SendError::Rejected(e)) => {
                tracing::error!(error = %e, samples = n, "Controller rejected a batch; its results are dropped.");
                let mut b = buffer.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(seq) = last {
                    b.ack(seq);
                    b.count_dropped(n as u64);
                }
                wait = interval;
            }
            Err(e @ SendError::Unauthorized(_)) => {
                wait = backoff.next_wait();
                tracing::error!(error = %e, retry_in = ?wait, "Check the token file and the controller's tokens file.");
            }
            Err(e @ SendError::Unavailable(_)) => {
                wait = backoff.next_wait();
                tracing::warn!(error = %e, buffered = n, retry_in = ?wait, "Could not deliver results.");
            }
        }
    }
    if let Some((_, mut tasks)) = running.take() {
        tasks.shutdown().await;
    }
    tracing::info!("Agent stopped.");
}

fn start(
    a: &Assignments,
    location: &str,
    prober: &Arc<LocalProber>,
    clock: &Arc<dyn Clock>,
    buffer: &Arc<Mutex<Buffer>>,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    for (policy, jobs) in jobs_from(a, location) {
        let sink = Arc::new(BufferSink {
            policy: policy.as_str().into(),
            buffer: buffer.clone(),
        });
        let scheduler = Scheduler::with_sink(prober.clone(), sink, clock.clone(), Limits::default());
        tasks.spawn(async move { scheduler.run(jobs, std::future::pending()).await });
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_ceiling_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5), 42);
        let waits: Vec<Duration> = (0..12).map(|_| b.next_wait()).collect();
        assert!(
            waits
                .iter()
                .all(|w| *w >= Duration::from_millis(100) && *w <= Duration::from_secs(5))
        );
        assert!(
            waits[8..].iter().any(|w| *w > Duration::from_secs(1)),
            "{waits:?}"
        );
        let mut distinct = waits.clone();
        distinct.dedup();
        assert!(distinct.len() > 6, "jitter spreads the waits: {waits:?}");
        b.reset();
        assert!(b.next_wait() <= Duration::from_millis(100));
    }
}
