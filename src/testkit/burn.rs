//! Burn-rate alert timing in simulated time: the decision core ticked over a probe store fed a
//! deterministic failure pattern. `sloop-bench engine` prints the table and
//! `tests/baseline_burn_rate.rs` asserts it (the times are simulated, so asserting them is not
//! a timing test).

use sloop::{
    decide::decide,
    decision::Decision,
    history::History,
    observe::store::{ProbeStore, SeriesId},
    policy::{self, Policy, units::Duration},
    snapshot::{IpFamily, LocationStatus, Sample, SeriesKey, Snapshot, Time},
};

/// The shipped election policy.
pub fn election_policy() -> Result<Policy, String> {
    policy::parse(
        "policies/election-web.yaml",
        include_bytes!("../../policies/election-web.yaml"),
    )
    .map_err(|e| format!("shipped policy invalid: {e:?}"))
}

/// The policy's service probe series: every location and address family of every probe not
/// per instance.
pub fn series_keys(policy: &Policy) -> Vec<SeriesKey> {
    let mut keys = Vec::new();
    for p in policy.spec.probes.iter().filter(|p| !p.per_instance) {
        for loc in &p.locations {
            for fam in IpFamily::expand(p.family) {
                keys.push(SeriesKey {
                    probe: p.name.as_str().into(),
                    location: loc.as_str().into(),
                    family: *fam,
                });
            }
        }
    }
    keys
}

/// A snapshot holding only what the probe store says at `now`, as the observe stage would
/// summarise it.
pub fn snapshot_from(store: &ProbeStore, policy: &Policy, now: Time) -> Snapshot {
    let (lat, counts) = sloop::observe::view::windows(policy);
    let (service, instances_probed) = store.summaries(now, &lat, &counts);
    let mut locations: Vec<LocationStatus> = Vec::new();
    for k in series_keys(policy) {
        if !locations.iter().any(|l| *l.name == *k.location) {
            locations.push(LocationStatus {
                name: k.location.to_string(),
                fresh: true,
                last_seen: Some(now),
            });
        }
    }
    Snapshot {
        observed_at: now,
        service,
        instances_probed,
        locations,
        ..Snapshot::default()
    }
}

/// When a burn-rate row fires after the error ratio steps from 0 to `e`, against the analytic
/// `burn × (1 − SLO) / e × long window`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnTiming {
    /// The analytic time, s after the step.
    pub analytic_s: f64,
    /// The first decision tick at which the row fired, s after the step (None: not within 2×).
    pub fired_s: Option<f64>,
    /// The decision tick, s.
    pub tick_s: f64,
}

/// Feeds the election policy's site probe series a clean history as long as the row's long
/// window, then an error ratio `e` (every 1/e-th sample fails, so failures arrive once per
/// tick), and ticks the real decision core every `tick` seconds until row `row` fires. Pure
/// simulation: deterministic, no clock.
pub fn burn_alert_timing(row: usize, e: f64, tick: f64) -> Result<BurnTiming, String> {
    let mut policy = election_policy()?;
    let delta = (tick * e).max(0.1);
    for p in policy.spec.probes.iter_mut().filter(|p| !p.per_instance) {
        p.interval = Duration::from_secs(delta);
    }
    let (target, r) = policy
        .spec
        .objectives
        .iter()
        .find_map(|o| o.availability.as_ref())
        .and_then(|a| Some((a.target.fraction(), a.burn_rate_alerts.get(row)?.clone())))
        .ok_or("no such burn-rate row")?;
    let objective = policy
        .spec
        .objectives
        .iter()
        .find(|o| o.availability.is_some())
        .map(|o| o.name.clone())
        .ok_or("no availability objective")?;
    let long = r.long.secs();
    let analytic = r.burn_rate * (1.0 - target) / e * long;
    let ids: Vec<SeriesId> = series_keys(&policy).into_iter().map(SeriesId::Service).collect();
    let mut store = ProbeStore::for_policy(&policy);
    let t0 = 1_800_000_000.0;
    let history_len = long + 600.0;
    let mut t = t0 - history_len;
    let mut j: u64 = 0; // samples since the step
    let sample = |at: Time, ok: bool| Sample {
        at,
        latency: if ok { 0.05 } else { 2.0 },
        ok,
        phases: None,
    };
    while t < t0 {
        for id in &ids {
            store.record(id, sample(t, true));
        }
        t += delta;
    }
    let mut history = History::default();
    let mut now = t0;
    while now < t0 + 2.0 * analytic + 2.0 * tick {
        now += tick;
        while t <= now + 1e-9 {
            let fails = ((j + 1) as f64 * e).floor() > (j as f64 * e).floor();
            for id in &ids {
                store.record(id, sample(t, !fails));
            }
            j += 1;
            t = t0 + j as f64 * delta;
        }
        let snap = snapshot_from(&store, &policy, now);
        let (d, h): (Decision, History) = decide(&policy, &snap, &history, now);
        history = h;
        let fired = d
            .verdicts
            .iter()
            .find(|v| v.objective == objective)
            .and_then(|v| v.burn_rates.get(row))
            .is_some_and(|b| b.firing);
        if fired {
            return Ok(BurnTiming {
                analytic_s: analytic,
                fired_s: Some(now - t0),
                tick_s: tick,
            });
        }
    }
    Ok(BurnTiming {
        analytic_s: analytic,
        fired_s: None,
        tick_s: tick,
    })
}
