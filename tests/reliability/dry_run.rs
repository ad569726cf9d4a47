//! Dry-run is inert: every shipped scenario runs with the policy in `mode: dry-run` against a
//! cloud that fails the test on any mutating call (create, delete, reboot, rebuild, migrate, repair stamps,
//! member changes), while the decisions are still made and recorded as "would" (dry-run
//! refusals), so an operator sees what enforcement would have done.

use super::cloud::{Call, Fate, Hook, Run, Tick};
use sloop::{act::ActError, decision::RefusalReason, policy::Mode, snapshot::Time};

/// Any mutating call is a failure of the test.
#[derive(Default)]
struct Tripwire {
    calls: Vec<String>,
}

impl Hook for Tripwire {
    fn call(&mut self, call: Call, target: &str, now: Time) -> Fate {
        self.calls.push(format!("t={now}: {} {target}", call.label()));
        Fate::Fail(ActError::Fatal("dry-run reached the cloud".into()))
    }
}

#[test]
fn every_scenario_in_dry_run_makes_no_mutating_call_and_records_what_it_would_do() {
    let mut policy = crate::policy();
    policy.spec.mode = Mode::DryRun;
    let mut total_would = 0;
    let mut failures = Vec::new();
    let names = crate::shipped_scenarios();
    assert!(
        names.len() >= 8,
        "expected the shipped scenarios, found {names:?}"
    );
    for name in &names {
        let scenario = crate::scenario(name);
        let mut run = Run::new(&policy, &scenario, scenario.seed, Tripwire::default());
        let (mut ticks, mut would) = (0, 0);
        while let Some((t, tick)) = run.next() {
            match tick {
                Tick::Done(r) => {
                    ticks += 1;
                    if !r.decision.actions.is_empty() {
                        failures.push(format!("{name} t={t}: actions to execute in dry-run"));
                    }
                    would += r
                        .decision
                        .refusals
                        .iter()
                        .filter(|x| x.reason == RefusalReason::DryRun)
                        .count();
                }
                Tick::Blind(e) => failures.push(format!("{name} t={t}: observation failed: {e}")),
                Tick::Killed => failures.push(format!("{name} t={t}: a tick hung")),
            }
        }
        let calls = &run.cloud.hook.calls;
        crate::figure(
            "dry-run",
            &format!(
                "{name}: {ticks} ticks, {would} would-be actions recorded, {} mutating calls",
                calls.len()
            ),
        );
        if !calls.is_empty() {
            failures.push(format!(
                "{name}: {} mutating calls, first {}",
                calls.len(),
                calls[0]
            ));
        }
        // The scenarios that act when enforced must say what they would have done.
        if matches!(
            name.as_str(),
            "instance-crash" | "noisy-neighbour" | "flood" | "election-night"
        ) && would == 0
        {
            failures.push(format!("{name}: no would-be action recorded"));
        }
        total_would += would;
    }
    crate::figure(
        "dry-run",
        &format!(
            "{} scenarios: {total_would} would-be actions, 0 mutating calls",
            names.len()
        ),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
