//! Agent result batches as the ingest endpoint receives them: a flood of `n` results, or what a
//! working agent sends per interval. `sloop-bench ingest`'s load generator posts them, and the
//! reliability suite's flood test (`tests/reliability/flood.rs`) posts the same.

use sloop::{
    ingest::wire::{AssignedJob, Batch, BatchSample, BatchSeries},
    snapshot::Phases,
};

/// `n` results spread over `jobs` and stamped across the `interval` before `now`: mostly fast
/// successes, a few slow ones and about one failure in a hundred.
pub fn batch(jobs: &[AssignedJob], n: usize, now: f64, interval: f64, seq: u64) -> Batch {
    let mut series = empty_series(jobs, n / jobs.len().max(1) + 1);
    let len = series.len().max(1);
    for i in 0..n {
        let x = (seq.wrapping_mul(7919).wrapping_add(i as u64 * 104_729)) % 1000;
        let at = now - interval + interval * i as f64 / n.max(1) as f64;
        series[i % len].samples.push(result(x, at));
    }
    Batch {
        sent_at: now,
        dropped_total: 0,
        series,
    }
}

/// What a real agent sends for the `interval` before `now` (its `seq`th batch): one result
/// per job at each multiple of its probe's interval, drawn from the same spread of latencies
/// as [`batch`]'s, so a flood and a working agent leave windows of the same kind (a window of
/// one repeated value sorts in linear time and would flatter the baseline).
pub fn scheduled(jobs: &[AssignedJob], now: f64, interval: f64, seq: u64) -> Batch {
    let mut series = empty_series(jobs, 1);
    for (j, (job, s)) in jobs.iter().zip(series.iter_mut()).enumerate() {
        let every = job.probe.interval.secs().max(0.1);
        let mut t = ((now - interval) / every).floor() * every + every;
        let mut k = 0u64;
        while t <= now {
            let draw = seq
                .wrapping_mul(7919)
                .wrapping_add(j as u64 * 104_729)
                .wrapping_add(k * 3571);
            s.samples.push(result(draw % 1000, t));
            t += every;
            k += 1;
        }
    }
    series.retain(|s| !s.samples.is_empty());
    Batch {
        sent_at: now,
        dropped_total: 0,
        series,
    }
}

/// One series per job, without samples yet.
fn empty_series(jobs: &[AssignedJob], capacity: usize) -> Vec<BatchSeries> {
    jobs.iter()
        .map(|j| BatchSeries {
            policy: j.policy.clone(),
            probe: j.probe.name.clone(),
            family: j.family,
            instance: j.instance.clone(),
            samples: Vec::with_capacity(capacity),
        })
        .collect()
}

/// The result drawn as `x` in 0..1000 at `at`: TTFB 4–14 ms, a failure for 7.
fn result(x: u64, at: f64) -> BatchSample {
    let phases = Phases {
        dns: 0.000_3,
        connect: 0.002,
        tls: 0.003,
        ttfb: 0.004 + x as f64 * 1e-5,
        transfer: 0.000_5,
    };
    BatchSample {
        at,
        latency: phases.dns + phases.connect + phases.tls + phases.ttfb + phases.transfer,
        ok: x != 7,
        phases: Some(phases),
        failure: None,
    }
}
