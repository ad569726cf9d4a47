//! The probe scheduler under tokio's paused clock: no drift, spread start times, bounded
//! concurrency, overruns counted rather than stacked, timeouts cut; then once for real against
//! a loopback server.

use crate::server;

use sloop::{
    clock::{Clock, timer_now},
    observe::{
        probe::{
            Address, Check, HttpProbe, LocalProber, Outcome,
            schedule::{Counters, Job, Limits, Prober, Scheduler},
        },
        store::{ProbeStore, Retention, SeriesId},
    },
    policy::{HttpCheck, HttpMethod, units::ByteSize},
    snapshot::{IpFamily, Sample, SeriesKey, Time},
};
use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};
use tokio::time::Instant;

/// Wall time that follows tokio's (paused) clock.
struct PausedWallClock(Instant);

impl Clock for PausedWallClock {
    fn now(&self) -> Time {
        1_900_000_000.0 + timer_now().duration_since(self.0).as_secs_f64()
    }
}

/// Takes `work` per run and records when each run of each series started.
struct SleepyProber {
    work: Duration,
    starts: Mutex<BTreeMap<String, Vec<Instant>>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl SleepyProber {
    fn new(work: Duration) -> Arc<Self> {
        Arc::new(Self {
            work,
            starts: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        })
    }
}

impl Prober for SleepyProber {
    async fn run(&self, job: &Job, at: Time) -> Vec<Outcome> {
        let name = match &job.series {
            SeriesId::Service(k) | SeriesId::Instance(_, k) => k.probe.to_string(),
        };
        self.starts
            .lock()
            .unwrap()
            .entry(name)
            .or_default()
            .push(timer_now());
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(n, Ordering::SeqCst);
        tokio::time::sleep(self.work).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let sample = Sample {
            at,
            latency: self.work.as_secs_f64(),
            ok: true,
            phases: None,
        };
        vec![Outcome {
            sample,
            failure: None,
            address: None,
            status: None,
            cert_not_after: None,
            fell_back_to_tcp: false,
        }]
    }
}

fn key(name: &str, family: IpFamily) -> SeriesKey {
    SeriesKey {
        probe: name.into(),
        location: "local".into(),
        family,
    }
}

fn job(check: &Arc<Check>, name: &str, family: IpFamily, interval: f64, timeout: f64) -> Job {
    Job {
        series: SeriesId::Service(key(name, family)),
        check: check.clone(),
        family,
        address: Address::First,
        interval: Duration::from_secs_f64(interval),
        timeout: Duration::from_secs_f64(timeout),
    }
}

fn store() -> Arc<Mutex<ProbeStore>> {
    let r = Retention {
        raw_window: 3600.0,
        max_raw: 10_000,
        expected_raw: 64,
        keep_last: 10,
        count_horizon: 0.0,
    };
    Arc::new(Mutex::new(ProbeStore::new(r, r)))
}

/// A check the fake probers never look at.
fn dummy_check() -> Arc<Check> {
    Arc::new(Check::Tcp(sloop::observe::probe::TcpProbe::new("::1", 9)))
}

async fn run_for<P: Prober>(sched: &Scheduler<P>, jobs: Vec<Job>, secs: f64) {
    sched
        .run(jobs, tokio::time::sleep(Duration::from_secs_f64(secs)))
        .await;
}

#[tokio::test(start_paused = true)]
async fn ticks_never_drift_and_are_spread_over_the_interval() {
    let prober = SleepyProber::new(Duration::from_millis(5));
    let store = store();
    let start = timer_now();
    let sched = Scheduler::new(
        prober.clone(),
        store.clone(),
        Arc::new(PausedWallClock(start)),
        Limits {
            max_in_flight: 64,
            seed: 7,
        },
    );
    let check = dummy_check();
    let jobs: Vec<Job> = (0..200)
        .map(|i| job(&check, &format!("p{i}"), IpFamily::V6, 1.0, 0.5))
        .collect();
    run_for(&sched, jobs.clone(), 60.0).await;

    let starts = prober.starts.lock().unwrap();
    assert_eq!(starts.len(), 200);
    let mut buckets = [0usize; 10];
    for (name, ts) in starts.iter() {
        assert_eq!(ts.len(), 60, "{name}: one run per second for a minute");
        let offset = ts[0].duration_since(start);
        assert!(offset < Duration::from_secs(1));
        buckets[(offset.as_secs_f64() * 10.0) as usize] += 1;
        for (k, t) in ts.iter().enumerate() {
            // Exactly offset + k·interval: the schedule does not drift with the 5 ms of work.
            assert_eq!(
                t.duration_since(ts[0]),
                Duration::from_secs(k as u64),
                "{name} run {k}"
            );
        }
    }
    // 200 jobs over ten 100 ms slots: no slot gets a herd (expected 20 each).
    println!("start offsets per 100 ms slot: {buckets:?}");
    assert!(buckets.iter().all(|&b| (5..=40).contains(&b)), "{buckets:?}");
    let c = sched.counters();
    assert_eq!(Counters::get(&c.started), 12_000);
    assert_eq!(Counters::get(&c.overruns), 0);
    let store = store.lock().unwrap();
    let series = store.get(&jobs[0].series).expect("recorded");
    assert_eq!(series.last(1000).count(), 60);
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_overruns_its_interval_is_counted_not_stacked() {
    let prober = SleepyProber::new(Duration::from_millis(2500));
    let start = timer_now();
    let sched = Scheduler::new(
        prober.clone(),
        store(),
        Arc::new(PausedWallClock(start)),
        Limits::default(),
    );
    let jobs = vec![job(&dummy_check(), "slow", IpFamily::V4, 1.0, 5.0)];
    run_for(&sched, jobs, 12.0).await;
    let c = sched.counters();
    let (started, overruns) = (Counters::get(&c.started), Counters::get(&c.overruns));
    println!("12 s at 1 s interval, 2.5 s per probe: {started} runs, {overruns} overruns");
    assert_eq!(
        prober.max_in_flight.load(Ordering::SeqCst),
        1,
        "never two runs of one job at once"
    );
    assert_eq!(
        started + overruns,
        12,
        "every tick either starts a run or counts an overrun"
    );
    assert_eq!(started, 4, "runs at ticks 0, 3, 6, 9");
    let starts = prober.starts.lock().unwrap();
    let ts = &starts["slow"];
    let gaps: Vec<u64> = ts
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).as_secs())
        .collect();
    assert_eq!(gaps, vec![3, 3, 3], "runs stay on the original grid");
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded_by_the_semaphore() {
    let prober = SleepyProber::new(Duration::from_millis(900));
    let start = timer_now();
    let sched = Scheduler::new(
        prober.clone(),
        store(),
        Arc::new(PausedWallClock(start)),
        Limits {
            max_in_flight: 4,
            seed: 1,
        },
    );
    let check = dummy_check();
    let jobs = (0..20)
        .map(|i| job(&check, &format!("p{i}"), IpFamily::V4, 1.0, 5.0))
        .collect();
    run_for(&sched, jobs, 10.0).await;
    assert_eq!(prober.max_in_flight.load(Ordering::SeqCst), 4);
    let c = sched.counters();
    println!(
        "20 jobs × 0.9 s of work each second, 4 permits: {} runs, {} overruns",
        Counters::get(&c.started),
        Counters::get(&c.overruns)
    );
    assert!(
        Counters::get(&c.overruns) > 0,
        "jobs waiting for a permit overrun their interval"
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_past_its_timeout_is_cut_and_recorded_as_a_failure() {
    let prober = SleepyProber::new(Duration::from_secs(30));
    let store = store();
    let start = timer_now();
    let sched = Scheduler::new(
        prober.clone(),
        store.clone(),
        Arc::new(PausedWallClock(start)),
        Limits::default(),
    );
    let jobs = vec![job(&dummy_check(), "hung", IpFamily::V6, 5.0, 1.0)];
    run_for(&sched, jobs.clone(), 20.0).await;
    let c = sched.counters();
    assert_eq!(Counters::get(&c.timeouts), 4);
    assert_eq!(
        Counters::get(&c.overruns),
        0,
        "a cut run frees its job for the next tick"
    );
    let store = store.lock().unwrap();
    let samples: Vec<_> = store.get(&jobs[0].series).unwrap().last(10).collect();
    assert_eq!(samples.len(), 4);
    assert!(samples.iter().all(|s| !s.ok && s.latency == 1.0), "{samples:?}");
}

#[tokio::test]
async fn real_http_probes_of_both_families_land_in_the_store() {
    let v4 = server::http("127.0.0.1:0").await;
    let v6 = server::http("[::1]:0").await;
    let http = |url: String| {
        let c = HttpCheck {
            url,
            method: HttpMethod::Get,
            headers: Default::default(),
            expect_status: vec![200],
            body_regex: Some("hello".into()),
            tls_verify: true,
            cert_expiry_warning: None,
            max_body: ByteSize::from_bytes(4096),
            follow_redirects: false,
        };
        Arc::new(Check::Http(Box::new(HttpProbe::new(&c).unwrap())))
    };
    let jobs = vec![
        job(
            &http(format!("http://{}/ok", v4.addr)),
            "web",
            IpFamily::V4,
            0.2,
            1.0,
        ),
        job(
            &http(format!("http://{}/ok", v6.addr)),
            "web",
            IpFamily::V6,
            0.2,
            1.0,
        ),
    ];
    let store = store();
    let sched = Scheduler::new(
        LocalProber::without_icmp(),
        store.clone(),
        Arc::new(sloop::clock::SystemClock),
        Limits::default(),
    );
    run_for(&sched, jobs.clone(), 1.0).await;
    let store = store.lock().unwrap();
    for j in &jobs {
        let samples: Vec<_> = store.get(&j.series).unwrap().last(100).collect();
        assert!(
            (4..=6).contains(&samples.len()),
            "{:?}: {}",
            j.family,
            samples.len()
        );
        assert!(samples.iter().all(|s| s.ok && s.phases.is_some()), "{samples:?}");
    }
}

#[test]
fn the_election_policy_becomes_local_jobs_per_family_and_per_instance_address() {
    let text = std::fs::read("policies/election-web.yaml").unwrap();
    let policy = sloop::policy::parse("election-web.yaml", &text).unwrap();
    let instance = |id: &str, v6: &str, v4: &str| sloop::snapshot::Instance {
        id: id.into(),
        name: id.into(),
        status: sloop::snapshot::InstanceStatus::Active,
        host: None,
        addresses: vec![(IpFamily::V6, v6.into()), (IpFamily::V4, v4.into())],
        created_at: 0.0,
        active_since: Some(0.0),
        member: None,
        created_by: None,
        stamps: None,
        fault: None,
        replaces: None,
    };
    let instances = [
        instance("vm-1", "2001:db8::1", "192.0.2.1"),
        instance("vm-2", "2001:db8::2", "192.0.2.2"),
    ];
    let jobs = sloop::observe::probe::schedule::jobs_for_policy(&policy, &instances).unwrap();
    let summary: Vec<String> = jobs
        .iter()
        .map(|j| {
            let (who, k) = match &j.series {
                SeriesId::Service(k) => ("service".to_owned(), k),
                SeriesId::Instance(id, k) => (id.clone(), k),
            };
            format!(
                "{} {who} {:?} {:?} every {:?}",
                k.probe, k.family, j.address, j.interval
            )
        })
        .collect();
    // `site` over both families through the service; `instance` is v6-only, so each instance is
    // probed on its IPv6 address and never on its IPv4 one.
    assert_eq!(
        summary,
        [
            "site service V6 Every every 10s",
            "site service V4 Every every 10s",
            "instance service V6 Every every 5s",
            "instance vm-1 V6 Fixed(2001:db8::1) every 5s",
            "instance vm-2 V6 Fixed(2001:db8::2) every 5s",
        ]
    );
}

/// Answers at once: measures the scheduler, not the network.
struct InstantProber;

impl Prober for InstantProber {
    async fn run(&self, _job: &Job, at: Time) -> Vec<Outcome> {
        let sample = Sample {
            at,
            latency: 0.0,
            ok: true,
            phases: None,
        };
        vec![Outcome {
            sample,
            failure: None,
            address: None,
            status: None,
            cert_not_after: None,
            fell_back_to_tcp: false,
        }]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_jobs_wake_up_close_to_their_ticks_in_real_time() {
    let sched = Scheduler::new(
        InstantProber,
        store(),
        Arc::new(sloop::clock::SystemClock),
        Limits::default(),
    );
    let check = dummy_check();
    let jobs = (0..1000)
        .map(|i| job(&check, &format!("p{i}"), IpFamily::V6, 1.0, 0.5))
        .collect();
    run_for(&sched, jobs, 2.5).await;
    let c = sched.counters();
    let ticks = Counters::get(&c.ticks);
    let mean_us = Counters::get(&c.lateness_sum_us) as f64 / ticks.max(1) as f64;
    let max_us = Counters::get(&c.lateness_max_us);
    println!(
        "1000 jobs at 1 s for 2.5 s: {ticks} ticks, wake-up lateness mean {mean_us:.0} µs, max {max_us} µs"
    );
    assert!((2000..=3000).contains(&ticks), "{ticks}");
    assert_eq!(Counters::get(&c.overruns) + Counters::get(&c.late), 0);
    assert!(mean_us < 20_000.0, "{mean_us}");
}
