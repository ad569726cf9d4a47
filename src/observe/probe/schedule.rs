//! Runs many probe jobs on their intervals: jitter by a fixed per-job phase offset (no
//! thundering herd), no drift, bounded concurrency, and overruns counted instead of stacked. IO.
//!
//! ```text
//! job ─► offset = hash(seed, series) mod interval
//!        tick k at start + offset + k·interval ─► previous run still going? overruns += 1
//!                                               └► spawn: permit ─► Prober::run ─► ProbeStore
//! ```
//!
//! The next tick is the previous *scheduled* tick plus the interval, never "now + interval", so
//! late wake-ups do not accumulate. A tick that is missed entirely (the runtime stalled for more
//! than an interval) is skipped and counted as `late`.

use super::{Address, BuildError, Check, Failed, Failure, LocalProber, Outcome};
use crate::{
    clock::{Clock, timer_now},
    observe::store::{ProbeStore, SeriesId},
    policy::Policy,
    snapshot::{Instance, IpFamily, Sample, SeriesKey, Time},
};
use std::{
    future::Future,
    hash::{DefaultHasher, Hash, Hasher},
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::{sync::Semaphore, task::JoinSet};

/// How far past its timeout a run may go before the scheduler cuts it.
pub const GRACE: Duration = Duration::from_millis(250);

/// One series to probe on an interval.
#[derive(Debug, Clone)]
pub struct Job {
    /// Where the samples go.
    pub series: SeriesId,
    /// What to probe.
    pub check: Arc<Check>,
    /// Over which family.
    pub family: IpFamily,
    /// Which addresses.
    pub address: Address,
    /// Time between probe starts (at least 1 ms).
    pub interval: Duration,
    /// Per-probe timeout, enforced by the prober per address; the scheduler cuts a run that
    /// exceeds it by more than [`GRACE`] (a prober that ignores it) and records a timeout.
    pub timeout: Duration,
}

/// The location name of this controller's own probes.
pub const LOCAL: &str = "local";

/// The jobs this controller runs for `policy`: each probe that lists the `local` location, per
/// family it asks for, through the service (every address of the name) and, for `perInstance`
/// probes, also straight to each instance address of that family (with the service's Host
/// header).
/// Remote locations are the agents' business (see [`jobs_for_location`]).
pub fn jobs_for_policy(policy: &Policy, instances: &[Instance]) -> Result<Vec<Job>, BuildError> {
    jobs_for_location(policy, instances, LOCAL)
}

/// The jobs of `policy` that `location` runs: the same expansion as [`jobs_for_policy`], for
/// probes that list `location`, with the series labelled by it (an agent runs these).
pub fn jobs_for_location(
    policy: &Policy,
    instances: &[Instance],
    location: &str,
) -> Result<Vec<Job>, BuildError> {
    let mut jobs = Vec::new();
    let location: std::sync::Arc<str> = location.into();
    for probe in policy
        .spec
        .probes
        .iter()
        .filter(|p| p.locations.iter().any(|l| **l == *location))
    {
        let check = Arc::new(Check::from_policy(probe)?);
        for &family in IpFamily::expand(probe.family) {
            let key = SeriesKey {
                probe: probe.name.as_str().into(),
                location: location.clone(),
                family,
            };
            let job = |series, address| Job {
                series,
                check: check.clone(),
                family,
                address,
                interval: Duration::from_secs_f64(probe.interval.secs().max(0.001)),
                timeout: Duration::from_secs_f64(probe.timeout.secs().max(0.001)),
            };
            jobs.push(job(SeriesId::Service(key.clone()), Address::Every));
            if !probe.per_instance {
                continue;
            }
            for i in instances {
                let addrs = i.addresses.iter().filter(|(f, _)| *f == family);
                for ip in addrs.filter_map(|(_, a)| a.parse().ok()) {
                    jobs.push(job(
                        SeriesId::Instance(i.id.clone(), key.clone()),
                        Address::Fixed(ip),
                    ));
                }
            }
        }
    }
    Ok(jobs)
}

/// Runs one job once; the seam between the scheduler and the network.
pub trait Prober: Send + Sync + 'static {
    /// Probes `job`, stamping `at` (wall clock) on the samples.
    fn run(&self, job: &Job, at: Time) -> impl Future<Output = Vec<Outcome>> + Send;
}

impl Prober for LocalProber {
    fn run(&self, job: &Job, at: Time) -> impl Future<Output = Vec<Outcome>> + Send {
        self.probe(&job.check, job.family, &job.address, job.timeout, at)
    }
}

impl<P: Prober> Prober for Arc<P> {
    fn run(&self, job: &Job, at: Time) -> impl Future<Output = Vec<Outcome>> + Send {
        P::run(self, job, at)
    }
}

/// What the scheduler did, for metrics and tests.
#[derive(Debug, Default)]
pub struct Counters {
    /// Runs started.
    pub started: AtomicU64,
    /// Samples recorded.
    pub samples: AtomicU64,
    /// Samples that failed.
    pub failures: AtomicU64,
    /// Runs cut by the scheduler's timeout.
    pub timeouts: AtomicU64,
    /// Ticks skipped because the job's previous run was still going.
    pub overruns: AtomicU64,
    /// Ticks skipped because the scheduler woke up more than an interval late.
    pub late: AtomicU64,
    /// Ticks handled (a run started or an overrun counted).
    pub ticks: AtomicU64,
    /// Sum over ticks of how late the scheduler woke up, in microseconds.
    pub lateness_sum_us: AtomicU64,
    /// The latest wake-up so far, in microseconds after its scheduled tick.
    pub lateness_max_us: AtomicU64,
}

impl Counters {
    /// Reads one counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Scheduler settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Probes running at once, across all jobs.
    pub max_in_flight: usize,
    /// Seeds the per-job phase offsets (same seed, same offsets).
    pub seed: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            seed: 0x0051_009e,
        }
    }
}

/// Where the outcomes of a run go: the controller's [`ProbeStore`], an agent's send buffer,
/// metrics, or several of them.
pub trait Sink: Send + Sync + 'static {
    /// Takes the outcomes of one run of the job that fills `series`.
    fn record(&self, series: &SeriesId, outcomes: &[Outcome]);
}

impl Sink for Mutex<ProbeStore> {
    fn record(&self, series: &SeriesId, outcomes: &[Outcome]) {
        let mut store = self.lock().unwrap_or_else(|e| e.into_inner());
        for o in outcomes {
            store.record(series, o.sample);
        }
    }
}

impl<A: Sink, B: Sink> Sink for (A, B) {
    fn record(&self, series: &SeriesId, outcomes: &[Outcome]) {
        self.0.record(series, outcomes);
        self.1.record(series, outcomes);
    }
}

impl<S: Sink + ?Sized> Sink for Arc<S> {
    fn record(&self, series: &SeriesId, outcomes: &[Outcome]) {
        S::record(self, series, outcomes);
    }
}

struct Shared<P> {
    prober: P,
    sink: Arc<dyn Sink>,
    clock: Arc<dyn Clock>,
    permits: Arc<Semaphore>,
    counters: Arc<Counters>,
}

/// Runs jobs until shut down.
pub struct Scheduler<P> {
    shared: Arc<Shared<P>>,
    seed: u64,
}

impl<P: Prober> Scheduler<P> {
    /// A scheduler that records into `store`, stamping samples with `clock`.
    pub fn new(prober: P, store: Arc<Mutex<ProbeStore>>, clock: Arc<dyn Clock>, limits: Limits) -> Self {
        Self::with_sink(prober, store, clock, limits)
    }

    /// A scheduler that hands every run's outcomes to `sink`.
    pub fn with_sink(prober: P, sink: Arc<dyn Sink>, clock: Arc<dyn Clock>, limits: Limits) -> Self {
        let shared = Shared {
            prober,
            sink,
            clock,
            permits: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            counters: Arc::default(),
        };
        Self {
            shared: Arc::new(shared),
            seed: limits.seed,
        }
    }

    /// The live counters.
    pub fn counters(&self) -> Arc<Counters> {
        self.shared.counters.clone()
    }

    /// The phase offset of `job` within its interval: uniform over the interval, stable for a
    /// given seed and series.
    pub fn offset(&self, job: &Job) -> Duration {
        let mut h = DefaultHasher::new();
        self.seed.hash(&mut h);
        job.series.hash(&mut h);
        job.family.hash(&mut h);
        let interval = job.interval.max(Duration::from_millis(1));
        let nanos = interval.as_nanos().min(u128::from(u64::MAX)) as u64;
        Duration::from_nanos(h.finish() % nanos)
    }

    /// Starts one job on its own (phase offset from now); aborting the handle stops it and
    /// cancels its probe in flight. For job sets that change while running ([`super::engine`]).
    pub fn spawn(&self, job: Job) -> tokio::task::JoinHandle<()> {
        let first = timer_now() + self.offset(&job);
        tokio::spawn(job_loop(Arc::new(job), first, self.shared.clone()))
    }

    /// Runs `jobs` until `shutdown` completes; probes in flight are then cancelled.
    pub async fn run(&self, jobs: Vec<Job>, shutdown: impl Future<Output = ()>) {
        self.run_from(timer_now(), jobs, shutdown).await;
    }

    /// [`Scheduler::run`] with every job's ticks counted from `start` (tick k of a job is at
    /// `start + offset + k·interval`), so a caller measuring lateness knows the real ticks.
    pub async fn run_from(
        &self,
        start: tokio::time::Instant,
        jobs: Vec<Job>,
        shutdown: impl Future<Output = ()>,
    ) {
        let mut tasks = JoinSet::new();
        for job in jobs {
            let first = start + self.offset(&job);
            tasks.spawn(job_loop(Arc::new(job), first, self.shared.clone()));
        }
        shutdown.await;
        tasks.shutdown().await;
    }
}

/// One job's ticks. The run in flight is a boxed future driven by this same task (not a task of
/// its own): it is freed the moment it completes, where a spawned run's task cell (sized for the
/// largest probe future) stayed allocated until the next tick reaped its handle, one per job.
async fn job_loop<P: Prober>(job: Arc<Job>, first: tokio::time::Instant, shared: Arc<Shared<P>>) {
    let interval = job.interval.max(Duration::from_millis(1));
    let mut next = first;
    let mut in_flight: Option<Pin<Box<dyn Future<Output = ()> + Send>>> = None;
    loop {
        let tick = tokio::time::sleep_until(next);
        tokio::pin!(tick);
        while let Some(run) = in_flight.as_mut() {
            tokio::select! {
                biased;
                () = &mut tick => break,
                () = run.as_mut() => in_flight = None,
            }
        }
        if in_flight.is_none() {
            tick.await;
        }
        let now = timer_now();
        let late_us = now
            .saturating_duration_since(next)
            .as_micros()
            .min(u128::from(u64::MAX)) as u64;
        let c = &shared.counters;
        c.ticks.fetch_add(1, Ordering::Relaxed);
        c.lateness_sum_us.fetch_add(late_us, Ordering::Relaxed);
        c.lateness_max_us.fetch_max(late_us, Ordering::Relaxed);
        if in_flight.is_none() {
            in_flight = Some(Box::pin(run_once(job.clone(), shared.clone())));
        } else {
            c.overruns.fetch_add(1, Ordering::Relaxed);
        }
        next += interval;
        while next <= now {
            next += interval;
            c.late.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn run_once<P: Prober>(job: Arc<Job>, shared: Arc<Shared<P>>) {
    let Ok(_permit) = shared.permits.clone().acquire_owned().await else {
        return;
    };
    let c = &shared.counters;
    c.started.fetch_add(1, Ordering::Relaxed);
    let at = shared.clock.now();
    let outcomes = match tokio::time::timeout(job.timeout + GRACE, shared.prober.run(&job, at)).await {
        Ok(o) => o,
        Err(_) => {
            c.timeouts.fetch_add(1, Ordering::Relaxed);
            vec![Outcome {
                sample: Sample {
                    at,
                    latency: job.timeout.as_secs_f64(),
                    ok: false,
                    phases: None,
                },
                failure: Some(Failed::new(Failure::Timeout, "cut by the scheduler")),
                address: None,
                status: None,
                cert_not_after: None,
                fell_back_to_tcp: false,
            }]
        }
    };
    for o in &outcomes {
        c.samples.fetch_add(1, Ordering::Relaxed);
        if !o.sample.ok {
            c.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
    shared.sink.record(&job.series, &outcomes);
}
