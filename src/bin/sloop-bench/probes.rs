//! `sloop-bench probes`: the probe engine at a fixed rate against a loopback target, printing
//! CPU-seconds per 1000 probes (this process, from /proc/self/stat), RSS (/proc/self/status)
//! and schedule jitter (how late each run started after its tick, p50/p99); then many targets
//! at 1 s for memory. Figures are printed, never asserted.
//!
//! Every run goes through the real path: scheduler → LocalProber → ProbeStore + ProbeMetrics.
//! With `--port`, the target is an external server (nginx in `tests/bench/probes-vs-blackbox.sh`)
//! so its CPU is not counted; without it an in-process server answers and its CPU is included.

use crate::{probes_load as load, stats::cpu_seconds};
use sloop::{
    clock::{Clock, SystemClock, timer_now},
    observe::{
        metrics::ProbeMetrics,
        probe::{
            Address, Check, HttpProbe, IcmpProbe, LocalProber, Outcome, TcpProbe,
            schedule::{Job, Limits, Prober, Scheduler, Sink},
        },
        store::{ProbeStore, Retention, SeriesId},
    },
    policy::{HttpCheck, HttpMethod, units::ByteSize},
    snapshot::{IpFamily, SeriesKey, Time},
};
use std::{
    collections::HashMap,
    future::Future,
    process::ExitCode,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

/// `sloop-bench probes` options.
#[derive(Debug, Clone, clap::Args)]
pub struct ProbesArgs {
    /// Port of an HTTP server on 127.0.0.1 and ::1 to probe (also the TCP target); without it an
    /// in-process server answers, and its CPU counts against the engine.
    #[arg(long)]
    port: Option<u16>,
    /// Probes per second in the fixed-rate runs.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Seconds each run is measured (after a 2 s warm-up).
    #[arg(long, default_value_t = 15.0)]
    duration: f64,
    /// Which runs: all, or one of http-v4, http-v6, tcp, icmp, mixed, targets.
    #[arg(long, default_value = "all")]
    kind: String,
    /// Targets probed at 1 s in the memory run.
    #[arg(long, default_value_t = 1000)]
    targets: u32,
    /// Seconds of samples recorded into the store before the memory run starts (300 fills the
    /// 5-minute window, so RSS is read at steady state); 0 starts empty.
    #[arg(long, default_value_t = 300)]
    prefill: u32,
    /// Also run each kind with this many busy child processes spinning on the cores (a noisy
    /// neighbour), printing the figures without and with load; 0 runs without load only.
    #[arg(long, default_value_t = 0)]
    load_threads: u32,
}

const KINDS: [&str; 6] = ["http-v4", "http-v6", "tcp", "icmp", "mixed", "targets"];

/// Runs the probe benchmarks and prints their figures.
pub fn run(args: &ProbesArgs) -> ExitCode {
    let kinds: Vec<&str> = if args.kind == "all" {
        KINDS.to_vec()
    } else if KINDS.contains(&args.kind.as_str()) {
        vec![args.kind.as_str()]
    } else {
        eprintln!("--kind must be all or one of {}", KINDS.join(", "));
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        let port = match args.port {
            Some(p) => p,
            None => match in_process_server().await {
                Ok(p) => {
                    println!("note: target is an in-process server on port {p}; its CPU is included");
                    p
                }
                Err(e) => {
                    eprintln!("cannot start the in-process target: {e}");
                    return ExitCode::from(1);
                }
            },
        };
        let prober = Arc::new(LocalProber::new());
        let (icmp4, _) = prober.icmp().available();
        for kind in kinds {
            if kind == "icmp" && !icmp4 {
                println!("probes kind=icmp skipped: {}", prober.icmp().describe());
                continue;
            }
            let (n, interval) = match kind {
                "targets" => (args.targets, 1.0),
                _ => (args.rate, 1.0),
            };
            let loads = if args.load_threads > 0 { vec![0, args.load_threads] } else { vec![0] };
            for load_n in loads {
            let jobs = jobs(kind, n, interval, port, icmp4);
            let prefill = if kind == "targets" { args.prefill } else { 0 };
            let busy = match load::BusyLoad::start(load_n) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("cannot start the background load (sh): {e}");
                    return ExitCode::from(1);
                }
            };
            let f = measure(prober.clone(), jobs, args.duration, prefill).await;
            drop(busy);
            println!(
                "probes kind={kind} load_procs={load_n} jobs={n} interval={interval}s probes={} failures={} cpu_s={:.3} cpu_per_1000={:.4} jitter_p50_ms={:.3} jitter_p99_ms={:.3} jitter_max_ms={:.3} overruns={} rss_mb={:.1} hwm_mb={:.1} machine_noise_p50_ms={:.3} machine_noise_p99_ms={:.3} machine_noise_max_ms={:.3}",
                f.probes,
                f.failures,
                f.cpu_s,
                f.cpu_s / f.probes.max(1) as f64 * 1000.0,
                f.p50 * 1e3,
                f.p99 * 1e3,
                f.max * 1e3,
                f.overruns,
                f.rss_mb,
                f.hwm_mb,
                f.noise.0 * 1e3,
                f.noise.1 * 1e3,
                f.noise.2 * 1e3,
            );
            if kind == "targets" {
                println!(
                    "probes store: {n} series, {} s prefilled + {} s run, sample heap {:.1} MB ({:.1} raw samples per series; 300 s latency window at 1 s)",
                    prefill,
                    args.duration,
                    f.store_bytes as f64 / 1e6,
                    f.store_samples as f64 / f64::from(n.max(1)),
                );
            }
            }
        }
        ExitCode::SUCCESS
    })
}

/// Retention of a policy with 1 s probes and a 5 min latency window (see `ProbeStore::for_policy`).
fn retention_1s() -> Retention {
    Retention {
        raw_window: 300.0,
        max_raw: 616,
        expected_raw: 304,
        keep_last: 12,
        count_horizon: 0.0,
    }
}

fn http(url: String) -> Check {
    let check = HttpCheck {
        url,
        method: HttpMethod::Get,
        headers: Default::default(),
        expect_status: vec![200],
        body_regex: None,
        tls_verify: true,
        cert_expiry_warning: None,
        max_body: ByteSize::from_bytes(64 * 1024),
        follow_redirects: false,
    };
    match HttpProbe::new(&check) {
        Ok(h) => Check::Http(Box::new(h)),
        // The URLs are built here from a port number: they always parse.
        Err(_) => Check::Tcp(TcpProbe::new("127.0.0.1", 1)),
    }
}

/// `n` jobs of `kind` at `interval` seconds; `mixed` and `targets` rotate through every kind
/// (each target its own URL path).
fn jobs(kind: &str, n: u32, interval: f64, port: u16, icmp: bool) -> Vec<Job> {
    let shared: HashMap<&str, Arc<Check>> = [
        ("http-v4", Arc::new(http(format!("http://127.0.0.1:{port}/")))),
        ("http-v6", Arc::new(http(format!("http://[::1]:{port}/")))),
        ("tcp", Arc::new(Check::Tcp(TcpProbe::new("127.0.0.1", port)))),
        (
            "icmp",
            Arc::new(Check::Icmp(IcmpProbe::new("127.0.0.1", Some(port)))),
        ),
    ]
    .into_iter()
    .collect();
    let rotation: Vec<&str> = if icmp {
        vec!["http-v4", "http-v6", "tcp", "icmp"]
    } else {
        vec!["http-v4", "http-v6", "tcp"]
    };
    (0..n)
        .map(|i| {
            let k = match kind {
                "mixed" | "targets" => rotation[i as usize % rotation.len()],
                k => k,
            };
            let family = if k == "http-v6" {
                IpFamily::V6
            } else {
                IpFamily::V4
            };
            let check = match (kind, k) {
                ("targets", "http-v4") => Arc::new(http(format!("http://127.0.0.1:{port}/t{i}"))),
                ("targets", "http-v6") => Arc::new(http(format!("http://[::1]:{port}/t{i}"))),
                _ => shared[k].clone(),
            };
            Job {
                series: SeriesId::Service(SeriesKey {
                    probe: format!("{k}-{i}").into(),
                    location: "local".into(),
                    family,
                }),
                check,
                family,
                address: Address::First,
                interval: Duration::from_secs_f64(interval),
                timeout: Duration::from_millis(900),
            }
        })
        .collect()
}

/// What one run measured.
struct Figures {
    probes: u64,
    failures: u64,
    cpu_s: f64,
    p50: f64,
    p99: f64,
    max: f64,
    overruns: u64,
    rss_mb: f64,
    hwm_mb: f64,
    /// The machine's own scheduling noise over the run (p50, p99, max of 1 ms sleeps).
    noise: (f64, f64, f64),
    store_bytes: usize,
    store_samples: usize,
}

/// A prober that notes how late each run starts after its scheduled tick.
struct Timed {
    inner: Arc<LocalProber>,
    base: OnceLock<tokio::time::Instant>,
    offsets: OnceLock<HashMap<SeriesId, Duration>>,
    lateness: Mutex<Vec<f64>>,
}

impl Prober for Timed {
    fn run(&self, job: &Job, at: Time) -> impl Future<Output = Vec<Outcome>> + Send {
        if let (Some(base), Some(offset)) = (
            self.base.get(),
            self.offsets.get().and_then(|o| o.get(&job.series)),
        ) {
            let since = timer_now()
                .saturating_duration_since(*base + *offset)
                .as_secs_f64();
            let interval = job.interval.as_secs_f64();
            let late = since - (since / interval).floor() * interval;
            self.lateness.lock().unwrap_or_else(|e| e.into_inner()).push(late);
        }
        self.inner.run(job, at)
    }
}

/// Counts samples and failures (the scheduler's counters count runs).
#[derive(Default)]
struct Tally(Mutex<(u64, u64)>);

impl Sink for Tally {
    fn record(&self, _: &SeriesId, outcomes: &[Outcome]) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        t.0 += outcomes.len() as u64;
        t.1 += outcomes.iter().filter(|o| !o.sample.ok).count() as u64;
    }
}

async fn measure(prober: Arc<LocalProber>, jobs: Vec<Job>, secs: f64, prefill_s: u32) -> Figures {
    let store = Arc::new(Mutex::new(ProbeStore::new(retention_1s(), retention_1s())));
    if prefill_s > 0 {
        load::prefill(&store, &jobs, prefill_s, SystemClock.now());
    }
    let tally = Arc::new(Tally::default());
    let sink = Arc::new(((store.clone(), ProbeMetrics::unregistered()), tally.clone()));
    let timed = Arc::new(Timed {
        inner: prober,
        base: OnceLock::new(),
        offsets: OnceLock::new(),
        lateness: Mutex::new(Vec::new()),
    });
    let limits = Limits {
        max_in_flight: 1024,
        ..Limits::default()
    };
    let scheduler = Scheduler::with_sink(timed.clone(), sink, Arc::new(SystemClock), limits);
    let offsets = jobs
        .iter()
        .map(|j| (j.series.clone(), scheduler.offset(j)))
        .collect();
    let _ = timed.offsets.set(offsets);
    let counters = scheduler.counters();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // Lateness is measured against the scheduler's own ticks: it counts from this instant
    // (session 2 took the base before spawning the scheduler, which counted from its own later
    // start, so a slow spawn on a loaded machine shifted every run's figures by that delay).
    let base = timer_now();
    let _ = timed.base.set(base);
    let running = tokio::spawn(async move {
        scheduler
            .run_from(base, jobs, async {
                let _ = stopped.await;
            })
            .await;
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu0 = cpu_seconds();
    let (probes0, failures0) = *tally.0.lock().unwrap_or_else(|e| e.into_inner());
    let overruns0 = sloop::observe::probe::schedule::Counters::get(&counters.overruns);
    timed.lateness.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let noise = load::NoiseMeter::start();
    tokio::time::sleep(Duration::from_secs_f64(secs.max(1.0))).await;
    let noise = noise.finish();
    let cpu1 = cpu_seconds();
    let (probes1, failures1) = *tally.0.lock().unwrap_or_else(|e| e.into_inner());
    let overruns1 = sloop::observe::probe::schedule::Counters::get(&counters.overruns);
    let mut late = std::mem::take(&mut *timed.lateness.lock().unwrap_or_else(|e| e.into_inner()));
    let (rss_mb, hwm_mb) = load::memory_mb();
    let _ = stop.send(());
    let _ = running.await;
    let (store_bytes, store_samples) = {
        let s = store.lock().unwrap_or_else(|e| e.into_inner());
        (s.sample_bytes(), s.sample_count())
    };
    late.sort_by(f64::total_cmp);
    let q = |p: f64| load::quantile(&late, p);
    Figures {
        probes: probes1 - probes0,
        failures: failures1 - failures0,
        cpu_s: cpu1 - cpu0,
        p50: q(0.5),
        p99: q(0.99),
        max: late.last().copied().unwrap_or(f64::NAN),
        overruns: overruns1 - overruns0,
        rss_mb,
        hwm_mb,
        noise,
        store_bytes,
        store_samples,
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1 and ::1 (same port) answering 200 to everything.
async fn in_process_server() -> std::io::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let v4 = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = v4.local_addr()?.port();
    let v6 = tokio::net::TcpListener::bind(("::1", port)).await?;
    for listener in [v4, v6] {
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let mut seen = Vec::new();
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n")
                        .await;
                });
            }
        });
    }
    Ok(port)
}
