//! `sloop-bench uptime`: does the reconcile pass grow with the controller's uptime? Two figures,
//! printed, never asserted:
//!
//! 1. **Evaluation vs filled history**: one service series of the bench policy's probe store
//!    (1 s probes, counts kept for the 30-day SLO period) filled to 10 min, 1 h, 1 day and 30
//!    days of samples; at each, the time of the snapshot's evaluation of that series (latency
//!    window plus every count window) against summing the per-minute counts over each window,
//!    which is what a pass would cost if the store kept plain minute buckets.
//! 2. **Pass vs uptime**: the `sloop-bench ingest` controller (supervisor, reconcile task,
//!    agents' ingest read by the observe stage, nothing sent) on simulated time
//!    walked in 1 s steps as fast as the machine allows, so `--hours` of uptime at a 1 s tick
//!    take seconds; the pass duration per slice of uptime, and the simulated world's stepping
//!    (which the wall-clock bench counts inside each pass) beside it.

use crate::{
    probes_load::quantile,
    stats::machine,
    testkit::agent_fed::{AgentFedFactory, bench_policy},
};
use sloop::{
    clock::Stopwatch,
    ingest::{Token, TokenBook},
    observe::{
        store::{ProbeStore, SeriesId},
        view::windows,
    },
    policy::units::Duration,
    run::{Controller, Options, PolicyEvent, ticklog::TickLog},
    snapshot::{IpFamily, Sample, SeriesKey, Time},
};
use std::{process::ExitCode, sync::Arc};

/// `sloop-bench uptime` options.
#[derive(Debug, Clone, clap::Args)]
pub struct UptimeArgs {
    /// Simulated uptime of the controller (hours, at most 23).
    #[arg(long, default_value_t = 2.0)]
    hours: f64,
    /// Remote agents configured (none sends; each adds its series to every pass).
    #[arg(long, default_value_t = 10)]
    agents: u32,
    /// Minutes of uptime per printed slice.
    #[arg(long, default_value_t = 10.0)]
    slice: f64,
}

const SCENARIO: &str = include_str!("../../../policies/scenarios/steady-day.yaml");

/// Runs both figures.
pub fn run(args: &UptimeArgs) -> ExitCode {
    outln!("bench uptime: {}", machine());
    if let Err(e) = evaluation_vs_history() {
        eprintln!("bench uptime: {e}");
        return ExitCode::from(1);
    }
    sloop::cli::block_on("bench uptime", pass_vs_uptime(args))
}

/// Figure 1: the cost of evaluating one series as its history fills.
fn evaluation_vs_history() -> Result<(), String> {
    let policy = sloop::policy::parse("bench", bench_policy(&[], "1s")?.as_bytes())
        .map_err(|_| "the bench policy is invalid".to_string())?;
    let (latency, counts) = windows(&policy);
    let mut store = ProbeStore::for_policy(&policy);
    let id = SeriesId::Service(SeriesKey {
        probe: "site".into(),
        location: "local".into(),
        family: IpFamily::V6,
    });
    // Per-minute (good, total) of every sample: what a store without running totals keeps.
    let mut minutes: Vec<(u64, u64)> = Vec::new();
    let start = 1_790_000_000.0;
    let mut recorded = 0u64;
    outln!(
        "  evaluation of one series (latency window {:?} s, count windows {:?} s), 1 s probes:",
        latency,
        counts
    );
    for (label, secs) in [
        ("10 min", 600u64),
        ("1 h", 3600),
        ("1 day", 86_400),
        ("30 days", 30 * 86_400),
    ] {
        while recorded < secs {
            let at = start + recorded as f64;
            let ok = !recorded.is_multiple_of(97);
            store.record(&id, sample(at, ok));
            let m = (recorded / 60) as usize;
            if minutes.len() <= m {
                minutes.push((0, 0));
            }
            minutes[m].0 += ok as u64;
            minutes[m].1 += 1;
            recorded += 1;
        }
        let now = start + (recorded - 1) as f64;
        // Medians of 7 timings of 500 evaluations each: the machine is shared.
        let reps = 500;
        let (mut store_t, mut count_t, mut naive_t) = (Vec::new(), Vec::new(), Vec::new());
        let series = store.get(&id).ok_or("the bench series is missing")?;
        let (mut got, mut naive) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            let watch = Stopwatch::start();
            for _ in 0..reps {
                got = std::hint::black_box(store.summaries(now, &latency, &counts)).0;
            }
            store_t.push(watch.elapsed().as_secs_f64() / reps as f64 * 1e6);
            let watch = Stopwatch::start();
            for _ in 0..reps {
                for &w in &counts {
                    std::hint::black_box(series.counts(now, w));
                }
            }
            count_t.push(watch.elapsed().as_secs_f64() / reps as f64 * 1e6);
            let watch = Stopwatch::start();
            for _ in 0..reps {
                naive = counts
                    .iter()
                    .map(|&w| minute_sum(&minutes, start, now, w))
                    .collect::<Vec<_>>();
                std::hint::black_box(&naive);
            }
            naive_t.push(watch.elapsed().as_secs_f64() / reps as f64 * 1e6);
        }
        for v in [&mut store_t, &mut count_t, &mut naive_t] {
            v.sort_by(f64::total_cmp);
        }
        let (store_us, count_us, naive_us) = (store_t[3], count_t[3], naive_t[3]);
        // The store's far edge is whole minutes once a window reaches past its ring, so the
        // two agree to within one minute of samples.
        let worst = got
            .first()
            .map(|s| {
                s.counts
                    .iter()
                    .zip(&naive)
                    .map(|(c, n)| c.total.abs_diff(n.1))
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(u64::MAX);
        let heap = store.sample_bytes() as f64 / 1024.0;
        outln!(
            "    {label:>7} of history: whole evaluation {store_us:.2} µs, of which the {} counts {count_us:.2} µs; the counts by summing minute buckets {naive_us:.2} µs; totals differ by ≤ {worst} samples; {heap:.0} KiB held",
            counts.len()
        );
    }
    Ok(())
}

fn sample(at: Time, ok: bool) -> Sample {
    Sample {
        at,
        latency: 0.05,
        ok,
        phases: None,
    }
}

/// Good and total over the minutes whose start lies in `(now − window, now]`, summed bucket by
/// bucket.
fn minute_sum(minutes: &[(u64, u64)], start: Time, now: Time, window: f64) -> (u64, u64) {
    let from = (((now - window - start) / 60.0).ceil().max(0.0)) as usize;
    minutes
        .iter()
        .skip(from)
        .fold((0, 0), |(g, t), m| (g + m.0, t + m.1))
}

/// Figure 2: the reconcile pass over hours of simulated uptime.
async fn pass_vs_uptime(args: &UptimeArgs) -> Result<(), String> {
    let hours = args.hours.clamp(0.1, 23.0);
    let names: Vec<String> = (1..=args.agents.max(1))
        .map(|i| format!("bench-{i:02}"))
        .collect();
    let text = bench_policy(&names, "1s")?;
    let mut scenario = sloop::sim::parse_scenario("steady-day.yaml", SCENARIO.as_bytes())
        .map_err(|e| format!("steady-day.yaml: {e:?}"))?;
    scenario.duration = Duration::from_secs(24.0 * 3600.0);
    let mut book = TokenBook::default();
    for n in &names {
        let token = Token::generate().map_err(|e| format!("token: {e}"))?;
        book = book.with(n, &token);
    }
    let (log, world) = (TickLog::default(), TickLog::default());
    let factory = Arc::new(AgentFedFactory {
        // Faster than any pass: the task always has instants to catch up on.
        simulated: Some(1e5),
        ..AgentFedFactory::wall_clock(scenario)
    });
    let controller = Controller::start(
        factory,
        Options {
            agents: Some(book),
            tick_log: Some(log.clone()),
            world_log: Some(world.clone()),
            ..Options::default()
        },
    );
    controller
        .events()
        .send(PolicyEvent::Upsert {
            name: "bench".into(),
            source_label: "election-web.yaml (bench)".into(),
            text,
        })
        .await
        .map_err(|_| "the supervisor is gone".to_string())?;
    let want = (hours * 3600.0) as usize;
    let wall = Stopwatch::start();
    let mut seen = 0;
    while seen < want {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        seen = log.entries().len();
        if wall.elapsed().as_secs_f64() > 30.0 && seen == 0 {
            return Err("the controller never ticked (see the log above)".into());
        }
    }
    controller.stop().await;
    let ticks = log.entries();
    let steps = world.entries();
    let first = ticks.first().map_or(0.0, |t| t.at);
    outln!(
        "  reconcile pass vs uptime ({} passes at a 1 s tick over {hours} h of simulated uptime, {} agents configured, none sending; {:.0} s wall):",
        ticks.len(),
        args.agents,
        wall.elapsed().as_secs_f64()
    );
    let slice = args.slice.max(1.0) * 60.0;
    let mut from = 0.0;
    while from < hours * 3600.0 {
        let pick = |v: &[sloop::run::ticklog::TickTiming]| {
            let mut d: Vec<f64> = v
                .iter()
                .filter(|t| t.at - first >= from && t.at - first < from + slice)
                .map(|t| t.took)
                .collect();
            d.sort_by(f64::total_cmp);
            (quantile(&d, 0.5), quantile(&d, 0.99), d.len())
        };
        let (p50, p99, n) = pick(&ticks);
        let (w50, _, _) = pick(&steps);
        if n > 0 {
            outln!(
                "    uptime {:>5.0}–{:<5.0} min: pass p50 {:.3} ms, p99 {:.3} ms ({n} passes); world step p50 {:.3} ms",
                from / 60.0,
                (from + slice) / 60.0,
                p50 * 1e3,
                p99 * 1e3,
                w50 * 1e3
            );
        }
        from += slice;
    }
    Ok(())
}
