//! The faulty-host memory survives a lost journal. A host degrades without a host metric to
//! say so (no CPU steal reported), so only its instances degrading together point at it; the
//! controller migrates them one at a time and is killed right after each live migration the
//! cloud accepted, so the next migration of the same decision never starts, and every restart
//! comes up without its journal (a new pod on a new node, a lost volume, another replica
//! taking the Lease). The server left behind now degrades alone, which on its own reads as an
//! instance fault. The migration stamp of the server that moved names the host it left (by
//! digest, `act::stamp`), and adopting it keeps that host faulty, so the one left behind is
//! moved as well. The same run with stamps as they were before the digest shows the drains,
//! reboots and replacements that memory prevents, so the test can fail.

use super::cloud::{Call, Fate, Hook, Run, Tick};
use sloop::{decision::ActionKind, snapshot::Time};
use std::collections::BTreeMap;

/// Kills the controller right after the cloud accepted each live migration.
struct KillAfterMigration(usize);

impl Hook for KillAfterMigration {
    fn call(&mut self, call: Call, _: &str, _: Time) -> Fate {
        if call == Call::Migrate {
            self.0 += 1;
            Fate::KillAfter
        } else {
            Fate::Pass
        }
    }
}

/// noisy-neighbour with a host that reports no steal: no migrate rule holds, only the
/// instances degrading together diagnose the host.
fn silent_noisy_neighbour() -> sloop::sim::Scenario {
    let text = std::fs::read_to_string("policies/scenarios/noisy-neighbour.yaml").expect("shipped");
    let loud = "fault: {kind: host-degraded, host: busiest, factor: 0.35, steal: 45}";
    assert!(text.contains(loud), "noisy-neighbour.yaml changed shape");
    let text = text.replace(
        loud,
        "fault: {kind: host-degraded, host: busiest, factor: 0.35, steal: 1}",
    );
    sloop::sim::parse_scenario("silent-noisy-neighbour", text.as_bytes()).expect("parses")
}

/// What happened to the servers that were on the faulty host when it degraded.
#[derive(Debug, Default)]
struct OnFaultyHost {
    /// Kills (one after each accepted migration) and restarts without the journal.
    kills: usize,
    restarts: u32,
    /// Actions per kind on those servers from the first migration off the host (when it was
    /// found faulty) on. Before that, a server degrading alone first is rightly an instance
    /// fault (a drain), whatever the memory.
    by_kind: BTreeMap<&'static str, usize>,
    /// The same, per server.
    per_server: BTreeMap<String, Vec<&'static str>>,
    /// Actions on those servers before the host was found faulty.
    earlier: usize,
}

impl OnFaultyHost {
    fn count(&self, kinds: &[&str]) -> usize {
        kinds
            .iter()
            .map(|k| self.by_kind.get(k).copied().unwrap_or(0))
            .sum()
    }
}

fn run_with_lost_journals(host_digests: bool, seed: u64) -> OnFaultyHost {
    let policy = crate::policy();
    let scenario = silent_noisy_neighbour();
    let mut run = Run::new(&policy, &scenario, seed, KillAfterMigration(0));
    run.rebuild_from_journal = false;
    run.cloud.host_digests = host_digests;
    let mut done: Vec<(Time, String, ActionKind)> = Vec::new();
    while let Some((_, tick)) = run.next() {
        match tick {
            Tick::Killed => run.restart(),
            Tick::Done(report) => {
                for a in &report.decision.actions {
                    let ok = report.outcomes.iter().any(|o| o.id == a.id && o.result.is_ok());
                    if let (true, Some(i)) = (ok, a.action.instance()) {
                        done.push((report.decision.now, i.clone(), a.action.kind()));
                    }
                }
            }
            Tick::Blind(_) => {}
        }
    }
    let fault = run
        .cloud
        .sim
        .faults()
        .iter()
        .find(|f| f.kind == "host-degraded")
        .expect("the scenario's host fault started")
        .clone();
    // Migrations kill the tick before its report: count them from the calls the cloud took.
    let moved: Vec<_> = run
        .cloud
        .calls
        .iter()
        .filter(|c| c.call == Call::Migrate && c.effect && fault.instances.contains(&c.target))
        .map(|c| (c.at, c.target.clone(), ActionKind::Migrate))
        .collect();
    let found = moved.iter().map(|m| m.0).fold(f64::INFINITY, f64::min);
    let mut out = OnFaultyHost {
        kills: run.cloud.hook.0,
        restarts: run.restarts,
        ..OnFaultyHost::default()
    };
    for (at, instance, kind) in done.into_iter().chain(moved) {
        if kind == ActionKind::Admit || !fault.instances.contains(&instance) {
            continue;
        }
        if at < found {
            out.earlier += 1;
            continue;
        }
        *out.by_kind.entry(kind.label()).or_default() += 1;
        out.per_server.entry(instance).or_default().push(kind.label());
    }
    out
}

#[test]
fn a_server_left_on_a_faulty_host_is_moved_after_restarts_without_the_journal() {
    const LADDER: [&str; 5] = ["drain", "reboot-soft", "reboot-hard", "rebuild", "replace"];
    let base = silent_noisy_neighbour().seed;
    let (mut shown, mut tested) = (0, 0);
    for seed in base..base + crate::seeds(3) {
        let before = run_with_lost_journals(false, seed);
        let after = run_with_lost_journals(true, seed);
        for (name, r) in [
            ("stamps without host", &before),
            ("stamps with host digest", &after),
        ] {
            crate::figure(
                "host-lost-journal",
                &format!(
                    "noisy-neighbour without steal, seed {seed}, kill -9 after every live migration, journal \
                     deleted at every restart, {name}: {} kills, {} restarts; servers on the faulty host \
                     once it was found faulty: {} migrations, {} drains/reboots/rebuilds/replacements {:?} \
                     ({} actions on them before)",
                    r.kills,
                    r.restarts,
                    r.count(&["migrate"]),
                    r.count(&LADDER),
                    r.per_server,
                    r.earlier
                ),
            );
        }
        shown += usize::from(before.kills >= 1 && before.count(&LADDER) >= 1);
        if after.kills == 0 {
            // Some seeds degrade the host's servers at different ticks, so it is never
            // diagnosed (each walks the ladder alone): no migration, nothing to compare.
            crate::figure(
                "host-lost-journal",
                &format!("seed {seed}: the host was never diagnosed, no migration, nothing tested"),
            );
            continue;
        }
        tested += 1;
        assert_eq!(
            after.count(&LADDER),
            0,
            "seed {seed}: a server on the faulty host was repaired, not moved: {after:?}"
        );
        for (server, kinds) in &after.per_server {
            assert_eq!(
                kinds,
                &["migrate"],
                "seed {seed}: {server}: moved once, nothing else"
            );
        }
    }
    assert!(tested >= 1, "no seed ever migrated off the host: nothing tested");
    assert!(
        shown >= 1,
        "without the host in the stamps no server left behind walked down the ladder in any seed \
         (else this test shows nothing)"
    );
}
