//! Helpers of `sloop-bench probes` that make its figures honest on a shared machine: a store
//! prefilled to steady state (so RSS is read with every series' window full, not after 15 s),
//! and a meter of the machine's own scheduling noise (a plain thread asking to sleep 1 ms), so a
//! jitter tail can be told apart from the operating system descheduling the process.

use sloop::{
    clock::Stopwatch,
    observe::{probe::schedule::Job, store::ProbeStore},
    snapshot::{Phases, Sample, Time},
};
use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

/// Records `seconds` of one-per-second samples for every job's series, ending just before
/// `now`: the state a store reaches after running that long (HTTP-like samples with phases).
pub fn prefill(store: &Mutex<ProbeStore>, jobs: &[Job], seconds: u32, now: Time) {
    let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
    for k in 0..seconds {
        let at = (now - f64::from(seconds - k)).floor();
        for (i, job) in jobs.iter().enumerate() {
            let spread = (i % 97) as f64 * 1e-5;
            let phases = Phases {
                dns: 0.000_02,
                connect: 0.000_08 + spread,
                tls: 0.0,
                ttfb: 0.000_4 + spread,
                transfer: 0.000_03,
            };
            let latency = phases.dns + phases.connect + phases.ttfb + phases.transfer;
            let sample = Sample {
                at,
                latency,
                ok: !(i + k as usize).is_multiple_of(50),
                phases: Some(phases),
            };
            store.record(&job.series, sample);
        }
    }
}

/// How late a plain OS thread wakes from 1 ms sleeps while the benchmark runs.
pub struct NoiseMeter {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<f64>>,
}

impl NoiseMeter {
    /// Starts sampling on its own thread.
    pub fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut late = Vec::with_capacity(1 << 16);
            while !flag.load(Ordering::Relaxed) {
                let t = Stopwatch::start();
                std::thread::sleep(Duration::from_millis(1));
                late.push((t.elapsed().as_secs_f64() - 1e-3).max(0.0));
            }
            late
        });
        Self { stop, thread }
    }

    /// Stops sampling: oversleep p50, p99 and max, in seconds.
    pub fn finish(self) -> (f64, f64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        let mut late = self.thread.join().unwrap_or_default();
        late.sort_by(f64::total_cmp);
        (
            quantile(&late, 0.5),
            quantile(&late, 0.99),
            late.last().copied().unwrap_or(f64::NAN),
        )
    }
}

/// Background CPU load: `n` child processes spinning (`sh -c 'while :; do :; done'`) until
/// dropped, so the jitter figures can be read with the cores busy. Children, not threads, so
/// their CPU does not count in this process's CPU-seconds per probe.
pub struct BusyLoad(Vec<std::process::Child>);

impl BusyLoad {
    /// Starts `n` spinning children (none for 0).
    pub fn start(n: u32) -> std::io::Result<Self> {
        let mut children = Self(Vec::new());
        for _ in 0..n {
            children.0.push(
                std::process::Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .stdin(std::process::Stdio::null())
                    .spawn()?,
            );
        }
        Ok(children)
    }
}

impl Drop for BusyLoad {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Resident set size now and at its peak, in MB (/proc/self/status).
pub fn memory_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0)
}

/// The `p` quantile of sorted values (NaN when empty).
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}
