//! API faults for long stretches: 500s, timeouts (some after the cloud acted), slow answers,
//! 429 with Retry-After, 401 after token expiry, 409 on an immutable load balancer, quota
//! exceeded, and an unavailable inventory. What the loop guarantees, whatever the API does:
//! the budget charges stay within the hourly budget (failed attempts are charged; a retry of
//! the same intent reuses its charge), the executor never retries within a tick (every call
//! belongs to a decided action), failures are reported per action with their class and the
//! API's words, nothing is decided blind, and after recovery whatever the loop next decides
//! is done within two ticks, with no objective violated while it decides nothing. The figure
//! "next action needed at tick N" counts ticks after recovery until the loop next decided an
//! action: after a timeout or slow outage that is late (N ≈ 113) because the window's own
//! actions took effect (answers lost after the cloud acted, slow successes), so nothing was
//! needed; it is not a convergence delay. Failed attempts start no cooldown and walk no
//! ladder (`converge.rs` plants a need at the recovery and proves the two ticks). Jittered
//! backoff and the circuit breaker on the HTTP level belong to the OpenStack backend
//! (`src/cloud/openstack/`), not to this loop.

use super::cloud::{Call, CallRecord, Dice, Fate, Hook, Run, Tick, max_in_window};
use sloop::{
    act::ActError,
    decision::{Action, SloState},
    observe::ObserveError,
    sim::Scenario,
    snapshot::Time,
};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    ServerError,
    Timeout,
    Slow,
    RateLimited,
    TokenExpired,
    Immutable,
    Quota,
    InventoryDown,
}

impl Fault {
    fn label(self) -> &'static str {
        match self {
            Fault::ServerError => "500",
            Fault::Timeout => "timeout",
            Fault::Slow => "slow-30s",
            Fault::RateLimited => "429",
            Fault::TokenExpired => "401",
            Fault::Immutable => "409",
            Fault::Quota => "quota",
            Fault::InventoryDown => "inventory-down",
        }
    }
}

/// Injects one fault over a window.
struct FaultHook {
    fault: Fault,
    from: Time,
    until: Time,
    dice: Dice,
    injected: usize,
}

impl Hook for FaultHook {
    fn call(&mut self, call: Call, target: &str, now: Time) -> Fate {
        if now < self.from || now >= self.until {
            return Fate::Pass;
        }
        let fate = match self.fault {
            Fault::ServerError => Fate::Fail(ActError::Transient(format!(
                "500 Internal Server Error from nova-api ({target})"
            ))),
            Fault::Timeout if self.dice.unit() < 0.5 => Fate::LostAnswer(ActError::Transient(
                "no answer within 30s (the request may have been applied)".into(),
            )),
            Fault::Timeout => Fate::Fail(ActError::Transient("connect timeout after 10s".into())),
            Fault::Slow => Fate::Slow(30.0),
            Fault::RateLimited => Fate::Fail(ActError::Transient(
                "429 Too Many Requests (Retry-After: 30)".into(),
            )),
            Fault::TokenExpired => Fate::Fail(ActError::Fatal(
                "401 Unauthorized: the token expired and re-authentication failed".into(),
            )),
            Fault::Immutable if matches!(call, Call::SetWeight | Call::RemoveMember) => Fate::Fail(
                ActError::Conflict("409 Conflict: load balancer is in PENDING_UPDATE and immutable".into()),
            ),
            Fault::Quota if call == Call::Create => Fate::Fail(ActError::Quota(
                "403 Quota exceeded for instances: requested 1, but already used 40 of 40".into(),
            )),
            Fault::Immutable | Fault::Quota | Fault::InventoryDown => return Fate::Pass,
        };
        self.injected += 1;
        fate
    }

    fn observe(&mut self, now: Time) -> Result<(), ObserveError> {
        if self.fault == Fault::InventoryDown && now >= self.from && now < self.until {
            self.injected += 1;
            return Err(ObserveError::Inventory("503 from nova-api: servers list".into()));
        }
        Ok(())
    }
}

/// The calls an action makes when nothing fails (an upper bound for one execution): a repair
/// or a migration is preceded by its stamp on the server (`act::stamp`).
fn calls_for(action: &Action, has_pool: bool) -> usize {
    let pool = usize::from(has_pool);
    let stamp = usize::from(sloop::act::stamp::for_action(action, 0.0).is_some());
    stamp
        + match action {
            Action::ScaleOut { count } => *count as usize,
            Action::ScaleIn { instances } => instances.len() * (1 + pool),
            // sloop's replacement is the create only: the old server is deleted by a later
            // decision, once the new one serves.
            Action::Replace { delete_old, .. } => 1 + usize::from(*delete_old) * (1 + pool),
            _ => 1,
        }
}

fn is_compute(c: Call) -> bool {
    !matches!(c, Call::SetWeight | Call::RemoveMember)
}

/// Within one pass, an API that failed service-wide must get no further call.
fn hammered(calls: &[CallRecord], t: Time, problems: &mut Vec<String>) {
    let mut down = [false, false];
    for c in calls {
        let svc = usize::from(is_compute(c.call));
        if down[svc] {
            problems.push(format!(
                "t={t}: {} {} sent after the API failed in this pass",
                c.call.label(),
                c.target
            ));
        }
        let error = match &c.fate {
            Fate::Fail(e) | Fate::LostAnswer(e) => Some(e),
            _ => c.refused.as_ref(),
        };
        down[svc] |= match error {
            Some(ActError::Transient(_) | ActError::Quota(_) | ActError::Fatal(_)) => true,
            Some(ActError::Conflict(_)) => !is_compute(c.call),
            _ => false,
        };
    }
}

#[derive(Debug, Default)]
struct Figures {
    injected: usize,
    calls_in_window: usize,
    peak_actions_per_hour: usize,
    failed_outcomes: usize,
    blind_ticks: usize,
    /// Ticks after recovery (the first tick after it is 1) until the loop next decided an
    /// action: until then nothing was needed (the window's own actions had taken effect).
    ticks_to_next_need: Option<usize>,
    /// Ticks after recovery until an action decided after it succeeded.
    ticks_to_first_success: Option<usize>,
    /// Kinds of the first actions decided after recovery.
    next_kinds: Vec<&'static str>,
    /// Ticks after recovery, before the next action, with an objective violated. After the
    /// slow outage these are the availability objective still counting the surge's errors in
    /// its window, with latency met and nothing diagnosed: nothing an action would remedy.
    violated_before_need: usize,
    /// Of those, ticks where the judge diagnosed something.
    diagnosed_before_need: usize,
}

fn fault_run(scenario: &Scenario, fault: Fault, from_min: f64, minutes: f64) -> (Figures, Vec<String>) {
    let policy = crate::policy();
    let start = scenario.start_unix();
    let (from, until) = (start + from_min * 60.0, start + (from_min + minutes) * 60.0);
    let hook = FaultHook {
        fault,
        from,
        until,
        dice: Dice::new(scenario.seed),
        injected: 0,
    };
    let mut run = Run::new(&policy, scenario, scenario.seed, hook);
    let has_pool = policy.spec.traffic.is_some();
    let mut problems = Vec::new();
    let mut fig = Figures::default();
    let mut ticks_after = 0;
    while let Some((t, tick)) = run.next() {
        let calls_now: Vec<_> = run.cloud.calls.iter().filter(|c| c.at >= t).cloned().collect();
        if t >= from && t < until {
            fig.calls_in_window += calls_now.len();
        }
        if t >= until {
            ticks_after += 1;
        }
        match tick {
            Tick::Killed => problems.push(format!("t={t}: a call hung (no fault here kills)")),
            Tick::Blind(_) => {
                fig.blind_ticks += 1;
                if !calls_now.is_empty() {
                    problems.push(format!("t={t}: {} calls without an observation", calls_now.len()));
                }
            }
            Tick::Done(report) => {
                let budget: usize = report
                    .decision
                    .actions
                    .iter()
                    .map(|a| calls_for(&a.action, has_pool))
                    .sum();
                if calls_now.len() > budget {
                    problems.push(format!(
                        "t={t}: {} calls for {} decided actions allowing {budget}: the executor retried",
                        calls_now.len(),
                        report.decision.actions.len()
                    ));
                }
                hammered(&calls_now, t, &mut problems);
                let failed_calls = calls_now
                    .iter()
                    .filter(|c| !matches!(c.fate, Fate::Pass | Fate::Slow(_)))
                    .count();
                let failed: Vec<_> = report
                    .outcomes
                    .iter()
                    .filter_map(|o| o.result.as_ref().err())
                    .collect();
                fig.failed_outcomes += failed.len();
                if failed_calls > 0 && failed.is_empty() {
                    problems.push(format!("t={t}: {failed_calls} calls failed, no outcome says so"));
                }
                for e in &failed {
                    let classed = [
                        "transient:",
                        "conflict:",
                        "quota exceeded:",
                        "not found:",
                        "fatal:",
                    ]
                    .iter()
                    .any(|p| e.starts_with(p));
                    if !classed {
                        problems.push(format!("t={t}: outcome error without a class: {e}"));
                    }
                }
                let violated = report
                    .decision
                    .verdicts
                    .iter()
                    .any(|v| v.state == SloState::Violated);
                if t >= until
                    && fig.ticks_to_next_need.is_none()
                    && report.decision.actions.is_empty()
                    && violated
                {
                    fig.violated_before_need += 1;
                    fig.diagnosed_before_need += usize::from(!report.decision.diagnoses.is_empty());
                }
                if t >= until && fig.ticks_to_next_need.is_none() && !report.decision.actions.is_empty() {
                    fig.ticks_to_next_need = Some(ticks_after);
                    fig.next_kinds = report
                        .decision
                        .actions
                        .iter()
                        .map(|a| a.action.kind().label())
                        .collect();
                }
                if t >= until
                    && fig.ticks_to_first_success.is_none()
                    && report.outcomes.iter().any(|o| o.result.is_ok())
                {
                    fig.ticks_to_first_success = Some(ticks_after);
                }
            }
        }
    }
    fig.injected = run.cloud.hook.injected;
    let times: Vec<Time> = run.decided.iter().map(|(t, _)| *t).collect();
    fig.peak_actions_per_hour = max_in_window(&times, 3600.0);
    let budget = policy.spec.limits.max_actions_per_hour as usize;
    if fig.peak_actions_per_hour > budget {
        problems.push(format!(
            "{} budgeted actions in one hour > maxActionsPerHour {budget}",
            fig.peak_actions_per_hour
        ));
    }
    (fig, problems)
}

#[test]
fn long_api_outages_never_exceed_the_budget_nor_hide_their_reasons() {
    let evening = crate::election_evening();
    let crash = crate::scenario("instance-crash");
    let noisy = crate::scenario("noisy-neighbour");
    // (scenario, fault, window start in minutes, window length): each window covers the
    // moments the scenario needs actions (the surge at 60 min, the crash at 30, the host at 30).
    let mut cases: Vec<(&str, &Scenario, Fault, f64, f64)> = Vec::new();
    for f in [
        Fault::ServerError,
        Fault::Timeout,
        Fault::Slow,
        Fault::RateLimited,
        Fault::TokenExpired,
        Fault::Immutable,
        Fault::Quota,
        Fault::InventoryDown,
    ] {
        cases.push(("election-evening", &evening, f, 50.0, 60.0));
    }
    for f in [Fault::ServerError, Fault::Immutable, Fault::TokenExpired] {
        cases.push(("instance-crash", &crash, f, 25.0, 40.0));
    }
    for f in [Fault::Timeout, Fault::ServerError] {
        cases.push(("noisy-neighbour", &noisy, f, 25.0, 45.0));
    }
    let mut failures = Vec::new();
    let mut injected: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, scenario, fault, from, len) in cases {
        let (fig, problems) = fault_run(scenario, fault, from, len);
        *injected.entry(fault.label()).or_default() += fig.injected;
        crate::figure(
            "api-faults",
            &format!(
                "{name} {} for {len} min: {} injected, {} calls in the window, {} failed outcomes reported, {} blind ticks, peak {} budgeted actions/h; after recovery: next action needed at tick {} {:?} ({} ticks before it with an objective violated, {} of them with a diagnosis), first success at tick {}",
                fault.label(),
                fig.injected,
                fig.calls_in_window,
                fig.failed_outcomes,
                fig.blind_ticks,
                fig.peak_actions_per_hour,
                fig.ticks_to_next_need.map_or("-".into(), |n| n.to_string()),
                fig.next_kinds,
                fig.violated_before_need,
                fig.diagnosed_before_need,
                fig.ticks_to_first_success.map_or("-".into(), |n| n.to_string()),
            ),
        );
        // Convergence (the two-tick claim itself is converge.rs's, with a need planted at the
        // recovery): whatever the loop needs after recovery, it gets done within two ticks.
        match (fig.ticks_to_next_need, fig.ticks_to_first_success) {
            (Some(need), Some(done)) if done <= need + 1 => {}
            (None, _) => {}
            (need, done) => failures.push(format!(
                "{name} {}: action needed at tick {need:?} after recovery, first success at {done:?}",
                fault.label()
            )),
        }
        if fault != Fault::Slow && fault != Fault::InventoryDown && fig.injected == 0 {
            failures.push(format!(
                "{name} {}: the window saw no call to fault",
                fault.label()
            ));
        }
        failures.extend(
            problems
                .into_iter()
                .map(|p| format!("{name} {}: {p}", fault.label())),
        );
    }
    crate::figure(
        "api-faults",
        &format!(
            "faults injected by kind: {injected:?}; total {}",
            injected.values().sum::<usize>()
        ),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
