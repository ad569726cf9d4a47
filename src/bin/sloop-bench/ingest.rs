//! `sloop-bench ingest`: does a flood of agent results delay the reconcile loop? A real
//! controller (the `sloop run` machinery: supervisor, reconcile task, HTTP server with the
//! ingest routes, bearer tokens) manages the shipped election policy against the simulator on
//! the wall clock, with `--agents` remote locations added to its probes. The reconcile pass's
//! start lateness and duration are measured while nothing is sent (baseline), then while a
//! separate process (`sloop-bench ingest-load`) posts `--rate` results per second over
//! loopback HTTP for `--seconds`; the two alternate `--rounds` times, since the machine is
//! shared. Figures are printed, never asserted.

use crate::{
    ingest_load::LoadCounts,
    probes_load::quantile,
    stats::{cpu_seconds, machine, peak_rss_mib, rss_mib},
    testkit::agent_fed::{AgentFedFactory, bench_policy},
};
use sloop::{
    clock::{Clock, SystemClock},
    ingest::{IngestLimits, Token, TokenBook},
    policy::units::Timestamp,
    run::{Controller, Options, PolicyEvent, ticklog::TickLog},
    serve,
};
use std::{
    io::Write,
    process::{ExitCode, Stdio},
    sync::Arc,
    time::Duration,
};

/// `sloop-bench ingest` options.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestArgs {
    /// Agent results per second during the load phases (over every agent).
    #[arg(long, default_value_t = 10_000)]
    rate: u32,
    /// Seconds of each phase.
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// Remote agents sending (each with its own token and its share of the rate).
    #[arg(long, default_value_t = 10)]
    agents: u32,
    /// Rounds of three phases: idle, then normal agents and flood, in that order in odd rounds
    /// and reversed in even ones (ABBA), so a drift over the run does not pass for load.
    #[arg(long, default_value_t = 2)]
    rounds: u32,
    /// The reconcile interval (the policy's service probe interval is set to it).
    #[arg(long, default_value = "1s")]
    tick: String,
    /// Seconds between one agent's batches.
    #[arg(long, default_value_t = 1.0)]
    batch_interval: f64,
    /// The ingest's per-series density limit (`IngestLimits::samples_per_interval`); 0 turns
    /// it off, to measure what it saves.
    #[arg(long, default_value_t = 2.0)]
    samples_per_interval: f64,
    /// Run the load generator under `taskset -c CPUS` (e.g. `1`, with the controller started
    /// under `taskset -c 0`), to tell CPU contention from the load apart from its effect on the
    /// controller itself.
    #[arg(long)]
    load_cpus: Option<String>,
    /// Seconds each load phase runs before its `--seconds` of measurement, so the policy's
    /// 300 s windows hold that phase's traffic only (not the phases before it); with it, the
    /// idle phase is measured in the first round only, before any agent has sent.
    #[arg(long, default_value_t = 0.0)]
    settle: f64,
    /// Write every measured pass to this CSV file (phase, start time, lateness, duration,
    /// samples judged), to look at the distributions behind the printed quantiles.
    #[arg(long)]
    passes: Option<std::path::PathBuf>,
    /// Seconds measured with nothing sent right after each load phase (0: none). The samples
    /// judged are then those of the phase before, without its traffic, which tells the cost of
    /// the data from the cost of receiving it.
    #[arg(long, default_value_t = 0.0)]
    quiet: f64,
}

/// Simulated history before the first pass (longer than the policy's 300 s windows).
const WARMUP: f64 = 600.0;

const SCENARIO: &str = include_str!("../../../policies/scenarios/steady-day.yaml");

/// One figure of a phase.
type Figure = fn(&Phase) -> f64;

/// What the agents do during a phase.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Nothing is sent.
    Idle,
    /// Every agent sends one result per assigned series per probe interval.
    Normal,
    /// `--rate` results per second over all agents.
    Flood,
    /// Nothing sent, right after a normal phase: the same samples judged, no traffic.
    AfterNormal,
    /// Nothing sent, right after a flood: the same samples judged, no traffic.
    AfterFlood,
}

/// One measured phase.
struct Phase {
    kind: Kind,
    /// Wall-clock span measured, `[from, to)`.
    span: (f64, f64),
    round: u32,
    label: String,
    ticks: usize,
    late: (f64, f64, f64),
    took: (f64, f64, f64),
    cpu: f64,
    rss: f64,
    load: Option<LoadCounts>,
    /// Median samples judged per pass (service windows and per-instance recents).
    judged: f64,
}

/// Runs the benchmark and prints its figures.
pub fn run(args: &IngestArgs) -> ExitCode {
    sloop::cli::block_on("bench ingest", bench(args))
}

async fn bench(args: &IngestArgs) -> Result<(), String> {
    let names: Vec<String> = (1..=args.agents.max(1))
        .map(|i| format!("bench-{i:02}"))
        .collect();
    let text = bench_policy(&names, &args.tick)?;
    let mut scenario = sloop::sim::parse_scenario("steady-day.yaml", SCENARIO.as_bytes())
        .map_err(|e| format!("steady-day.yaml: {e:?}"))?;
    // The simulated world starts WARMUP ago, so the first observation steps through that much
    // history and every probe window is full before anything is measured.
    scenario.start = Timestamp::from_unix(SystemClock.now().floor() - WARMUP);
    let mut book = TokenBook::default();
    let mut secrets = String::new();
    for n in &names {
        let token = Token::generate().map_err(|e| format!("token: {e}"))?;
        book = book.with(n, &token);
        secrets.push_str(&format!("{n} {}\n", token.expose()));
    }
    let log = TickLog::default();
    let factory = Arc::new(AgentFedFactory::wall_clock(scenario));
    let controller = Controller::start(
        factory,
        Options {
            agents: Some(book),
            tick_log: Some(log.clone()),
            ingest_limits: IngestLimits {
                samples_per_interval: args.samples_per_interval,
                ..IngestLimits::default()
            },
            ..Options::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    let server = serve::Running::http(listener, serve::router(controller.app_state()));
    controller
        .events()
        .send(PolicyEvent::Upsert {
            name: "bench".into(),
            source_label: "election-web.yaml (bench)".into(),
            text,
        })
        .await
        .map_err(|_| "the supervisor is gone".to_string())?;
    for _ in 0..300 {
        if log.entries().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if log.entries().is_empty() {
        return Err("the controller never ticked (see the log above)".into());
    }
    outln!(
        "bench ingest: {} results/s from {} agents ({} s batches) for {} s measured after {} s settling over {url}; tick {}; {} round(s); ingest density limit {} per probe interval; {}",
        args.rate,
        names.len(),
        args.batch_interval,
        args.seconds,
        args.settle,
        args.tick,
        args.rounds,
        args.samples_per_interval,
        machine()
    );
    let mut phases = Vec::new();
    let settle = args.settle.max(0.0);
    for round in 1..=args.rounds.max(1) {
        if round == 1 || settle == 0.0 {
            let t0 = SystemClock.now();
            let c0 = cpu_seconds();
            tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
            phases.push(measure(Kind::Idle, round, &log, t0, c0, None));
        }
        let order = if round % 2 == 1 {
            [Kind::Normal, Kind::Flood]
        } else {
            [Kind::Flood, Kind::Normal]
        };
        for kind in order {
            let settled = async {
                tokio::time::sleep(Duration::from_secs_f64(settle)).await;
                (SystemClock.now(), cpu_seconds())
            };
            let (counts, (t0, c0)) = tokio::join!(
                generate(&url, args, settle + args.seconds, &secrets, kind == Kind::Normal),
                settled
            );
            phases.push(measure(kind, round, &log, t0, c0, Some(counts?)));
            if args.quiet > 0.0 {
                let (t0, c0) = (SystemClock.now(), cpu_seconds());
                tokio::time::sleep(Duration::from_secs_f64(args.quiet)).await;
                let after = if kind == Kind::Flood {
                    Kind::AfterFlood
                } else {
                    Kind::AfterNormal
                };
                phases.push(measure(after, round, &log, t0, c0, None));
            }
        }
    }
    for p in &phases {
        print_phase(p);
    }
    if let Some(path) = &args.passes {
        write_passes(path, &phases, &log)?;
        outln!("  every measured pass written to {}", path.display());
    }
    let med = |kind: Kind, f: Figure| median(phases.iter().filter(|p| p.kind == kind).map(f).collect());
    let figures: [(&str, Figure); 4] = [
        ("tick duration p50", |p| p.took.0),
        ("tick duration p99", |p| p.took.1),
        ("start lateness p50", |p| p.late.0),
        ("start lateness p99", |p| p.late.1),
    ];
    for (what, f) in figures {
        let (idle, normal, flood) = (med(Kind::Idle, f), med(Kind::Normal, f), med(Kind::Flood, f));
        outln!(
            "  {what}: idle {:.2} ms, normal agents {:.2} ms, flood {:.2} ms; flood/idle {:.2}, flood/normal {:.2} (medians over rounds)",
            idle * 1e3,
            normal * 1e3,
            flood * 1e3,
            flood / idle,
            flood / normal
        );
    }
    // Paired by round (the flood against the normal phase next to it), so a slow stretch of the
    // shared machine weighs on both sides of a ratio.
    let pairs: &[(&str, Kind, Kind)] = if args.quiet > 0.0 {
        &[
            ("flood/normal", Kind::Flood, Kind::Normal),
            ("flood/quiet after it", Kind::Flood, Kind::AfterFlood),
            ("normal/quiet after it", Kind::Normal, Kind::AfterNormal),
        ]
    } else {
        &[("flood/normal", Kind::Flood, Kind::Normal)]
    };
    for (what, f) in figures {
        for (pair, a, b) in pairs {
            let ratios: Vec<f64> = (1..=args.rounds.max(1))
                .filter_map(|round| {
                    let of = |k: Kind| phases.iter().find(|p| p.round == round && p.kind == k).map(f);
                    Some(of(*a)? / of(*b)?)
                })
                .collect();
            let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
            outln!(
                "  {what}, {pair} per round: {} (median {:.2})",
                shown.join(", "),
                median(ratios)
            );
        }
    }
    outln!("  peak RSS {:.1} MiB", peak_rss_mib().unwrap_or(f64::NAN));
    controller.stop().await;
    server.stop().await
}

/// The median, the mean of the middle two for an even count (NaN for none).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Runs the generator process for one load phase and returns its counts.
async fn generate(
    url: &str,
    args: &IngestArgs,
    seconds: f64,
    secrets: &str,
    normal: bool,
) -> Result<LoadCounts, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
    let mut command = match &args.load_cpus {
        Some(cpus) => {
            let mut c = std::process::Command::new("taskset");
            c.args(["-c", cpus]).arg(exe);
            c
        }
        None => std::process::Command::new(exe),
    };
    let mut child = command
        .args(["ingest-load", "--url", url])
        .args(["--rate", &args.rate.to_string()])
        .args(["--seconds", &seconds.to_string()])
        .args(["--batch-interval", &args.batch_interval.to_string()])
        .args(normal.then_some("--normal"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start the load generator (taskset for --load-cpus): {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(secrets.as_bytes())
            .map_err(|e| format!("load generator stdin: {e}"))?;
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .map_err(|e| format!("load generator: {e}"))?
        .map_err(|e| format!("load generator: {e}"))?;
    if !out.status.success() {
        return Err(format!("the load generator failed ({})", out.status));
    }
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).map_err(|e| format!("load generator output `{line}`: {e}"))
}

fn measure(kind: Kind, round: u32, log: &TickLog, t0: f64, cpu0: f64, load: Option<LoadCounts>) -> Phase {
    let name = match kind {
        Kind::Idle => "idle",
        Kind::Normal => "normal",
        Kind::Flood => "flood",
        Kind::AfterNormal => "quiet (n)",
        Kind::AfterFlood => "quiet (f)",
    };
    let label = format!("{name} {round}");
    let t1 = SystemClock.now();
    let ticks: Vec<_> = log
        .entries()
        .into_iter()
        .filter(|t| t.at >= t0 && t.at < t1)
        .collect();
    let spread = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (
            quantile(&v, 0.5),
            quantile(&v, 0.99),
            v.last().copied().unwrap_or(f64::NAN),
        )
    };
    Phase {
        kind,
        span: (t0, t1),
        round,
        label,
        ticks: ticks.len(),
        late: spread(ticks.iter().filter_map(|t| t.late).collect()),
        took: spread(ticks.iter().map(|t| t.took).collect()),
        cpu: (cpu_seconds() - cpu0) / (t1 - t0).max(1e-9),
        rss: rss_mib().unwrap_or(f64::NAN),
        load,
        judged: spread(ticks.iter().map(|t| t.judged as f64).collect()).0,
    }
}

/// One CSV line per pass inside a measured phase.
fn write_passes(path: &std::path::Path, phases: &[Phase], log: &TickLog) -> Result<(), String> {
    let entries = log.entries();
    let mut out = String::from("phase,at,late_ms,took_ms,judged\n");
    for p in phases {
        for t in entries.iter().filter(|t| t.at >= p.span.0 && t.at < p.span.1) {
            let late = t.late.map_or(String::new(), |l| format!("{:.4}", l * 1e3));
            out.push_str(&format!(
                "{},{:.6},{late},{:.4},{}\n",
                p.label,
                t.at,
                t.took * 1e3,
                t.judged
            ));
        }
    }
    std::fs::write(path, out).map_err(|e| format!("write {}: {e}", path.display()))
}

fn print_phase(p: &Phase) {
    let ms = |x: (f64, f64, f64)| {
        format!(
            "p50 {:.2} / p99 {:.2} / max {:.2} ms",
            x.0 * 1e3,
            x.1 * 1e3,
            x.2 * 1e3
        )
    };
    outln!(
        "  {:<11} {:>4} ticks  duration {}  lateness {}  samples judged p50 {:.0}  controller CPU {:.0} %  RSS {:.1} MiB",
        p.label,
        p.ticks,
        ms(p.took),
        ms(p.late),
        p.judged,
        p.cpu * 100.0,
        p.rss
    );
    if let Some(c) = &p.load {
        outln!(
            "              sent {} results in {} batches over {:.1} s ({:.0}/s): accepted {}, rejected {}, 429 {}, failed {}",
            c.sent,
            c.batches,
            c.seconds,
            c.sent as f64 / c.seconds.max(1e-9),
            c.accepted,
            c.rejected,
            c.throttled,
            c.failed
        );
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_of_two_rounds_is_their_mean_not_the_upper_one() {
        assert!((median(vec![1.53, 1.09]) - 1.31).abs() < 1e-12);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert!(median(Vec::new()).is_nan());
    }
}
