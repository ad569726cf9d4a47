//! Crash safety: the controller is killed at seeded random calls — before the request leaves,
//! or after the cloud accepted it but before the answer arrived — and restarted with an empty
//! history on the same cloud, through spawn, delete, reboot, live-migrate and pool changes.
//! The cloud's state and server metadata must be enough for the new incarnation: no duplicate
//! servers, no orphaned or stranded servers, no pool member on a deleted server, every
//! interrupted operation visible to (and adopted by) the next observation, and the action
//! budget held across restarts. What the new incarnation reports about each interrupted
//! action (done or abandoned, asked of the cloud) is checked in `interrupted.rs`.

use super::cloud::{Call, Fate, Hook, Run, Tick, max_in_window};
use crate::cloud::Dice;
use sloop::{
    act::ActError,
    policy::Policy,
    sim::{Scenario, world::Op},
    snapshot::{InstanceStatus, Snapshot, Time},
};
use std::collections::BTreeMap;

/// A kill the hook decided.
#[derive(Debug, Clone)]
struct Kill {
    at: Time,
    call: Call,
    target: String,
    after: bool,
}

/// Kills the controller at a share of its calls until `quiet_from`.
struct KillHook {
    dice: Dice,
    share: f64,
    quiet_from: Time,
    kills: Vec<Kill>,
}

impl Hook for KillHook {
    fn call(&mut self, call: Call, target: &str, now: Time) -> Fate {
        if now >= self.quiet_from || self.dice.unit() >= self.share {
            return Fate::Pass;
        }
        let after = self.dice.unit() < 0.5;
        self.kills.push(Kill {
            at: now,
            call,
            target: target.to_owned(),
            after,
        });
        if after { Fate::KillAfter } else { Fate::KillBefore }
    }
}

/// What went wrong in one run; every count must stay 0.
#[derive(Debug, Default)]
struct Violations {
    duplicate_servers: Vec<String>,
    members_on_deleted: Vec<String>,
    over_max: Vec<String>,
    overlapping_ops: Vec<String>,
    not_adopted: Vec<String>,
    stranded: Vec<String>,
    untracked: Vec<String>,
    budget: Vec<String>,
}

impl Violations {
    fn total(&self) -> usize {
        self.duplicate_servers.len()
            + self.members_on_deleted.len()
            + self.over_max.len()
            + self.overlapping_ops.len()
            + self.not_adopted.len()
            + self.stranded.len()
            + self.untracked.len()
            + self.budget.len()
    }
}

/// Figures of one run.
#[derive(Debug, Default)]
struct Tally {
    kills: usize,
    kills_after: usize,
    by_call: BTreeMap<&'static str, usize>,
    adopted: usize,
    abandoned: usize,
    calls: usize,
}

/// Checks that hold after every tick, killed or not.
fn check_world(run: &Run<KillHook>, t: Time, v: &mut Violations) {
    let world = run.cloud.sim.world();
    let mut keys: BTreeMap<&str, usize> = BTreeMap::new();
    for vm in world.vms() {
        if let Some(k) = vm.metadata.get("sloop.action") {
            *keys.entry(k).or_default() += 1;
        }
        if vm.status == InstanceStatus::Deleting && vm.member.is_some() {
            v.members_on_deleted
                .push(format!("t={t}: {} is deleting but still a member", vm.id));
        }
    }
    for (k, n) in keys {
        if n > 1 {
            v.duplicate_servers
                .push(format!("t={t}: {n} servers carry action key {k}"));
        }
    }
    let live = world.vms().iter().filter(|vm| vm.op != Op::Delete).count() as u32;
    if let Some(max) = run.policy.spec.limits.max_instances
        && live > max
    {
        v.over_max
            .push(format!("t={t}: {live} servers > maxInstances {max}"));
    }
}

/// After a kill that the cloud had already accepted: the next observation must show the
/// operation, so the new incarnation adopts it instead of starting it again.
fn check_adopted(kill: &Kill, snap: &Snapshot, run: &Run<KillHook>) -> Result<(), String> {
    let world = run.cloud.sim.world();
    let busy = |id: &str| snap.in_flight.iter().any(|f| f.instance.as_deref() == Some(id));
    let ok = match kill.call {
        Call::Create => snap
            .inventory
            .iter()
            .any(|i| i.created_by.as_deref() == Some(kill.target.as_str())),
        Call::Delete => busy(&kill.target) || !snap.inventory.iter().any(|i| i.id == kill.target),
        Call::Reboot | Call::Rebuild | Call::Migrate => {
            busy(&kill.target) || world.vm(&kill.target).is_none_or(|vm| vm.op == Op::Idle)
        }
        Call::SetWeight | Call::RemoveMember => true,
        // A stamp the cloud took is on the server the next observation reads.
        Call::Stamp => snap
            .inventory
            .iter()
            .find(|i| i.id == kill.target)
            .is_none_or(|i| i.stamps.is_some()),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "t={}: {} {} accepted before the kill (after={}), invisible to the restarted controller",
            kill.at,
            kill.after,
            kill.call.label(),
            kill.target
        ))
    }
}

fn crash_run(name: &str, policy: &Policy, scenario: &Scenario, seed: u64, share: f64) -> (Tally, Violations) {
    let quiet_from = scenario.end_unix() - 40.0 * 60.0;
    let hook = KillHook {
        dice: Dice::new(seed.wrapping_mul(31) ^ 0xc0ffee),
        share,
        quiet_from,
        kills: Vec::new(),
    };
    let mut run = Run::new(policy, scenario, seed, hook);
    let mut v = Violations::default();
    let mut tally = Tally::default();
    let mut pending: Option<Kill> = None;
    let mut last_snapshot = None;
    while let Some((t, tick)) = run.next() {
        check_world(&run, t, &mut v);
        let busy_calls = run
            .cloud
            .calls
            .iter()
            .rev()
            .take_while(|c| c.at >= t)
            .filter(|c| {
                matches!(
                    c.call,
                    Call::Reboot | Call::Rebuild | Call::Migrate | Call::Delete
                )
            })
            .filter_map(|c| match &c.refused {
                Some(ActError::Conflict(m)) if m.contains("while it is in state") => {
                    Some(format!("t={t}: {} {}: {m}", c.call.label(), c.target))
                }
                _ => None,
            })
            .collect::<Vec<_>>();
        v.overlapping_ops.extend(busy_calls);
        match tick {
            Tick::Killed => {
                let kill = run.cloud.hook.kills.last().cloned().expect("a kill was recorded");
                tally.kills += 1;
                *tally.by_call.entry(kill.call.label()).or_default() += 1;
                let accepted = run
                    .cloud
                    .calls
                    .last()
                    .is_some_and(|c| c.effect && matches!(c.fate, Fate::KillAfter));
                if accepted {
                    tally.kills_after += 1;
                    if let Some(missed) = pending.take() {
                        // Killed again before any tick finished: check the older one now.
                        let snap = run.cloud.sim.snapshot(t);
                        match check_adopted(&missed, &snap, &run) {
                            Ok(()) => tally.adopted += 1,
                            Err(e) => v.not_adopted.push(e),
                        }
                    }
                    pending = Some(kill);
                } else {
                    tally.abandoned += 1;
                }
                run.restart();
            }
            Tick::Done(report) => {
                if let Some(kill) = pending.take() {
                    match check_adopted(&kill, &report.snapshot, &run) {
                        Ok(()) => tally.adopted += 1,
                        Err(e) => v.not_adopted.push(e),
                    }
                }
                last_snapshot = Some(report.snapshot);
            }
            Tick::Blind(e) => panic!("{name}: the simulated inventory failed: {e}"),
        }
    }
    tally.calls = run.cloud.calls.len();
    // After 40 quiet minutes every server the group owns is tracked, and none that serves is
    // left outside the pool (created, or half-deleted, and then forgotten).
    let world = run.cloud.sim.world();
    let snap = last_snapshot.expect("at least one tick completed");
    let now = world.now();
    for vm in world.vms() {
        if vm.metadata.get("sloop.policy") == Some(&policy.metadata.name)
            && !snap.inventory.iter().any(|i| i.id == vm.id)
        {
            v.untracked
                .push(format!("{} is not in the last observation", vm.id));
        }
        let serves = vm.answer(now) == sloop::sim::world::Answer::Serves;
        if vm.status == InstanceStatus::Active && serves && !vm.in_rotation() && now - vm.serving_at > 600.0 {
            v.stranded
                .push(format!("{} serves but has been out of the pool since", vm.id));
        }
    }
    // Actions that reached the cloud: a pass killed before an action's first call did not
    // take it, and its restart decides it afresh.
    let times: Vec<Time> = run.attempted.iter().map(|(t, _)| *t).collect();
    let peak = max_in_window(&times, 3600.0);
    let budget = policy.spec.limits.max_actions_per_hour as usize;
    if peak > budget {
        v.budget.push(format!(
            "{peak} budgeted actions reached the cloud in one hour across {} restarts > maxActionsPerHour {budget}",
            run.restarts
        ));
    }
    (tally, v)
}

#[test]
fn kill_nine_at_random_calls_leaves_no_duplicates_orphans_or_dangling_members() {
    let shipped = crate::policy();
    // Without the polls-close floor (which forbids scale-in until 01:00) the evening also
    // scales in after the surge: deletes and member removals under fire.
    let mut unscheduled = shipped.clone();
    unscheduled.spec.scaling.schedule.clear();
    let cases: Vec<(&str, &Policy, Scenario)> = vec![
        ("instance-crash", &shipped, crate::scenario("instance-crash")),
        ("noisy-neighbour", &shipped, crate::scenario("noisy-neighbour")),
        ("flood", &shipped, crate::scenario("flood")),
        ("api-brownout", &shipped, crate::scenario("api-brownout")),
        ("election-evening", &shipped, crate::election_evening()),
        (
            "election-evening-unscheduled",
            &unscheduled,
            crate::election_evening(),
        ),
    ];
    let mut total = Tally::default();
    let mut failures = Vec::new();
    let mut runs = 0;
    for (name, policy, scenario) in &cases {
        for i in 0..crate::seeds(3) {
            let seed = scenario.seed.wrapping_add(i * 7919);
            let share = [0.5, 0.25, 0.1][(i % 3) as usize];
            let (tally, v) = crash_run(name, policy, scenario, seed, share);
            runs += 1;
            crate::figure(
                "crash",
                &format!(
                    "{name} seed {seed}: {} kills ({} after the cloud accepted), {} calls, by call {:?}",
                    tally.kills, tally.kills_after, tally.calls, tally.by_call
                ),
            );
            if v.total() > 0 {
                failures.push(format!("{name} seed {seed}: {v:#?}"));
            }
            total.kills += tally.kills;
            total.kills_after += tally.kills_after;
            total.adopted += tally.adopted;
            total.abandoned += tally.abandoned;
            total.calls += tally.calls;
            for (k, n) in tally.by_call {
                *total.by_call.entry(k).or_default() += n;
            }
        }
    }
    crate::figure(
        "crash",
        &format!(
            "{runs} runs: {} kills survived ({} after acceptance, all adopted: {}; {} before the request, re-decided), by call {:?}; duplicates 0, orphans 0, dangling members 0",
            total.kills, total.kills_after, total.adopted, total.abandoned, total.by_call
        ),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for call in [
        "create",
        "delete",
        "reboot",
        "live-migrate",
        "member-weight",
        "member-remove",
    ] {
        assert!(
            total.by_call.get(call).copied().unwrap_or(0) > 0,
            "no kill ever hit a {call} call: the harness does not cover it ({:?})",
            total.by_call
        );
    }
}
