//! One policy's reconcile task: ticks on the policy's interval, wakes early on new evidence,
//! executes the decided actions one at a time (checking leadership and shutdown before each),
//! journals every action and refusal, and publishes what it saw for the status page.
//!
//! The task owns the policy's probes (`observe::Probes`: the local engine and the agents'
//! ingest, as the factory wires them); each pass observes the cloud and those probes through
//! the one observe stage, then lets the probes follow the inventory. Actions go through a
//! `DryRunGate` over the connection's `Compute` and `Traffic`.
//!
//! Under a simulated cloud the task walks simulated time in the cloud's step and ticks at every
//! scheduled instant up to `now`, so a 60× demo makes the decisions a rehearsal would.

use super::{
    Shared,
    cloud::{CloudFactory, DryRunGate, LiveCloud, ProbeWiring},
    status::{PolicyView, Unmanaged},
    trend::Trend,
};
use crate::{
    act::{executor, journaled},
    clock::Stopwatch,
    decision::{Action, Decision},
    history::Failure,
    journal::EntryOutcome,
    observe::{ProbeSource, Probes},
    policy::Policy,
    reconcile::Reconciler,
    snapshot::{Instance, Snapshot, Time},
};
use std::{sync::Arc, time::Duration};
use tokio::sync::watch;

/// A new version of the policy for a running task.
#[derive(Debug, Clone)]
pub struct PolicyUpdate {
    /// The validated policy (`--dry-run` already applied).
    pub policy: Arc<Policy>,
    /// Where it was loaded from.
    pub source: String,
}

/// Why a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskEnd {
    /// Graceful shutdown.
    Shutdown,
    /// Its policy was removed (the update channel closed).
    Removed,
}

/// How often a task looks at the clock between ticks (evidence, shutdown, policy updates).
const PACE_SIM: Duration = Duration::from_millis(200);
const PACE_REAL: Duration = Duration::from_secs(1);
/// How often (policy time, s) the status page's charts get a fresh copy of the trend.
const TREND_EVERY: f64 = 10.0;
/// Under catch-up (a simulated cloud far behind `now`), yield to other tasks this often.
const YIELD_EVERY: u32 = 20;
/// On a real cloud, the time between passes while work the loop issued is still under way
/// (a server building, rebooting or being deleted; a new server not yet in the pool), when
/// shorter than the policy's interval: actions are never waited for, so their completion is
/// seen, and a new server admitted, this soon after it happens.
const FOLLOW_UP: f64 = 1.0;

mod follow;
mod journaling;
mod refusals;

use follow::{Creations, under_way};

struct Task<C: LiveCloud> {
    cloud: C,
    /// The policy's probes beside the cloud's own: the local engine and the agents' ingest,
    /// as the factory wires them.
    probes: Probes,
    rec: Reconciler,
    policy: Arc<Policy>,
    source: String,
    shared: Shared,
    view: PolicyView,
    /// The charts' history, never shared (so recording a pass appends in place); a copy goes
    /// to the status page every [`TREND_EVERY`].
    trend: Trend,
    /// When a copy of `trend` was last published.
    trend_published: Time,
    /// The profile bucket open when the learned forecast was last saved.
    forecast_saved: Option<i64>,
    /// Refusals in force, so a refusal is journalled when it starts and when it ends, not
    /// every pass.
    refusals: refusals::RefusalBook,
    /// Whether the last pass saw work under way (see [`FOLLOW_UP`]).
    following: bool,
    /// Servers this task created, until an observation shows their build ended.
    creations: Creations,
    shutdown: watch::Receiver<bool>,
}

/// Connects to the policy's cloud (retrying every [`RECONNECT`] while it fails, with the error
/// on the status page), then runs it until shutdown or removal.
pub async fn start<F: CloudFactory>(
    factory: Arc<F>,
    first: PolicyUpdate,
    mut updates: watch::Receiver<PolicyUpdate>,
    shared: Shared,
) -> TaskEnd {
    let mut shutdown = shared.shutdown.clone();
    let mut latest = first;
    loop {
        match factory.connect(&latest.policy).await {
            Ok(cloud) => {
                let probes = probes_for(factory.probes(), &latest.policy, &shared);
                return run(cloud, probes, latest, updates, shared).await;
            }
            Err(e) => {
                let name = latest.policy.metadata.name.clone();
                tracing::warn!(policy = %name, error = %e, "Cannot connect to the cloud; retrying.");
                let mut view = PolicyView::new(&latest.policy, &latest.source, 0.0);
                view.last_error = Some(crate::redact::scrub(&format!("cannot connect: {e}")));
                let view = Arc::new(view);
                shared.board.update(|s| {
                    s.policies.insert(name, view);
                });
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RECONNECT) => {}
            _ = shutdown.changed() => return TaskEnd::Shutdown,
            changed = updates.changed() => if changed.is_err() {
                let name = latest.policy.metadata.name.clone();
                shared.board.update(|s| {
                    s.policies.remove(&name);
                });
                return TaskEnd::Removed;
            },
        }
        latest = updates.borrow_and_update().clone();
    }
}

/// Time between connection attempts.
pub const RECONNECT: Duration = Duration::from_secs(30);

/// The run loop's probes for `policy`, wired as the factory asks.
fn probes_for(wiring: ProbeWiring, policy: &Policy, shared: &Shared) -> Probes {
    let local = wiring.local.then(|| shared.clock.clone());
    let ingest = shared.ingest.clone().filter(|_| wiring.agents);
    Probes::start(policy, local, ingest)
}

/// Runs one policy until shutdown or removal, with `probes` beside the cloud's own.
pub async fn run<C: LiveCloud>(
    cloud: C,
    probes: Probes,
    first: PolicyUpdate,
    mut updates: watch::Receiver<PolicyUpdate>,
    shared: Shared,
) -> TaskEnd {
    let shutdown = shared.shutdown.clone();
    let mut task = Task {
        cloud,
        probes,
        rec: Reconciler::new((*first.policy).clone())
            .with_charges(shared.journal.persisted_charges(&first.policy.metadata.name))
            .with_open_intents(shared.journal.open_intents(&first.policy.metadata.name))
            .with_forecast(shared.journal.learned_forecast(&first.policy.metadata.name)),
        view: PolicyView::new(&first.policy, &first.source, 0.0),
        policy: first.policy,
        source: first.source,
        trend: Trend::default(),
        trend_published: f64::NEG_INFINITY,
        forecast_saved: None,
        refusals: refusals::RefusalBook::default(),
        following: false,
        creations: Creations::default(),
        shutdown,
        shared,
    };
    task.view.interval = task.rec.interval();
    task.publish();
    let name = task.policy.metadata.name.clone();
    tracing::info!(policy = %name, source = %task.source, mode = ?task.policy.spec.mode, "Managing policy.");
    let clock = task.shared.clock.clone();
    let mut cursor = task.cloud.now().unwrap_or_else(|| clock.now());
    let mut next_tick = cursor;
    let mut last_tick = f64::NEG_INFINITY;
    let pace = if task.cloud.step().is_some() {
        PACE_SIM
    } else {
        PACE_REAL
    };
    let end = loop {
        if *task.shutdown.borrow() {
            break TaskEnd::Shutdown;
        }
        // The sender is dropped when the policy is removed. `changed()` below marks versions
        // seen, so the latest one is compared here rather than trusting `has_changed`.
        if updates.has_changed().is_err() {
            break TaskEnd::Removed;
        }
        let latest = updates.borrow_and_update().clone();
        if !Arc::ptr_eq(&latest.policy, &task.policy) {
            task.apply(latest);
        }
        let now = clock.now();
        let interval = task.rec.interval();
        match task.cloud.step() {
            Some(dt) => {
                let stop = task.cloud.end().map_or(now, |e| now.min(e));
                let mut ticks = 0;
                // Whole steps only, so passes fall on the same instants as in a rehearsal.
                while cursor + dt <= stop + 1e-9 && !*task.shutdown.borrow() {
                    cursor += dt;
                    task.advance_to(cursor);
                    if cursor + 1e-9 >= next_tick || task.evidence_since(last_tick) {
                        task.tick(cursor, None).await;
                        last_tick = cursor;
                        while next_tick <= cursor + 1e-9 {
                            next_tick += interval;
                        }
                        ticks += 1;
                        if ticks % YIELD_EVERY == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                }
                if task.cloud.end().is_some_and(|e| cursor + dt > e + 1e-9) && !task.view.finished {
                    tracing::info!(policy = %name, "Scenario finished; serving the final state.");
                    task.view.finished = true;
                    task.publish();
                }
            }
            None => {
                if now >= next_tick || task.evidence_since(last_tick) {
                    let late = (now >= next_tick).then_some(now - next_tick);
                    task.tick(now, late).await;
                    last_tick = now;
                    next_tick = now
                        + if task.following {
                            interval.min(FOLLOW_UP)
                        } else {
                            interval
                        };
                }
            }
        }
        // A real clock's next pass is slept towards exactly, so it starts on time rather than
        // up to one `pace` late; the loop still looks round at least every `pace`.
        let wait = match task.cloud.step() {
            Some(_) => pace,
            None => Duration::from_secs_f64((next_tick - clock.now()).clamp(0.0, pace.as_secs_f64())),
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = task.shutdown.changed() => {}
            _ = updates.changed() => {}
        }
    };
    if end == TaskEnd::Removed {
        task.stop_managing("policy removed");
    }
    tracing::info!(policy = %name, reason = ?end, "Stopped managing policy.");
    end
}

impl<C: LiveCloud> Task<C> {
    fn name(&self) -> &str {
        &self.policy.metadata.name
    }

    /// Steps a simulated cloud's world to `t` (timed into the world log, when one is kept).
    fn advance_to(&mut self, t: Time) {
        let watch = Stopwatch::start();
        self.cloud.advance_to(t);
        if let Some(log) = &self.shared.world_log {
            log.push(super::ticklog::TickTiming {
                at: t,
                late: None,
                took: watch.elapsed().as_secs_f64(),
                judged: 0,
            });
        }
    }

    /// Whether evidence arrived after `t` that should wake the loop before its next tick.
    fn evidence_since(&self, t: Time) -> bool {
        self.cloud.evidence_since(t) || self.probes.evidence_since(t)
    }

    /// Puts a new version of the policy in force, keeping history and the cloud connection.
    fn apply(&mut self, u: PolicyUpdate) {
        if u.policy == self.policy {
            self.policy = u.policy;
            if u.source != self.source {
                // The same policy from another file (renamed): nothing changes but the label.
                tracing::info!(policy = %self.policy.metadata.name, source = %u.source, "Policy document moved.");
                self.view.source.clone_from(&u.source);
                self.source = u.source;
                self.publish();
            }
            return;
        }
        tracing::info!(policy = %u.policy.metadata.name, source = %u.source, "Policy changed; new version in force.");
        self.rec.set_policy((*u.policy).clone());
        self.probes.policy_changed(&u.policy);
        let mut view = PolicyView::new(&u.policy, &u.source, self.rec.interval());
        view.ticks = self.view.ticks;
        view.last_tick = self.view.last_tick;
        view.decision = self.view.decision.take();
        view.instances = std::mem::take(&mut self.view.instances);
        view.locations = std::mem::take(&mut self.view.locations);
        view.trend = self.view.trend.clone();
        view.interrupted = std::mem::take(&mut self.view.interrupted);
        self.view = view;
        self.policy = u.policy;
        self.source = u.source;
        self.publish();
    }

    /// One pass at `now`; `late` is how long after its scheduled instant it started (for the
    /// tick log; `None` when woken early by evidence or under simulated time).
    async fn tick(&mut self, now: Time, late: Option<f64>) {
        let watch = Stopwatch::start();
        let judged = self.pass(now).await;
        if let Some(log) = &self.shared.tick_log {
            log.push(super::ticklog::TickTiming {
                at: now,
                late,
                took: watch.elapsed().as_secs_f64(),
                judged,
            });
        }
    }

    /// One pass; returns the probe samples its snapshot held (what the core had to judge).
    async fn pass(&mut self, now: Time) -> usize {
        let watch = Stopwatch::start();
        let leader = self.shared.leadership.is_leader();
        let may_act = leader && !*self.shutdown.borrow();
        let name = self.name().to_owned();
        let (snap, decision) = match self.rec.decide(&mut self.cloud, &self.probes, now, may_act).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(policy = %name, error = %e, "Observation failed; nothing decided this pass.");
                self.shared.metrics.pass_failed(&name, "inventory");
                self.view.last_error = Some(crate::redact::scrub(&e.to_string()));
                self.view.ticks += 1;
                self.view.last_tick = Some(now);
                self.publish();
                return 0;
            }
        };
        self.probes.saw(&snap.inventory);
        self.journal_resolved();
        self.following = under_way(&self.policy, &snap, &decision);
        self.follow_creations(&snap);
        if may_act {
            self.finish_drains(now).await;
        }
        // Actions that took no effect (failed, or not started because of a lost lease or a
        // shutdown) start no cooldown and advance no ladder rung (`History::settle`).
        let mut without_effect = Vec::new();
        let mut pass = executor::PassState::new(&snap);
        for planned in &decision.actions {
            // Right before each action: a lost lease or a shutdown starts nothing new.
            let skip = if *self.shutdown.borrow() {
                Some("shutting down")
            } else if !self.shared.leadership.is_leader() {
                Some("not the leader")
            } else {
                None
            };
            let e = match skip {
                Some(why) => {
                    without_effect.push(Failure::outage(planned.id.clone()));
                    journaled::entry(&name, now, planned, EntryOutcome::Skipped, Some(why.into()), None)
                }
                None => {
                    let (out, e) = journaled::execute_one(
                        self.rec.policy(),
                        &snap,
                        planned,
                        &mut DryRunGate::new(&mut self.cloud, self.shared.dry_run),
                        &mut pass,
                        &*self.shared.sinks,
                        now,
                        self.shared.dry_run,
                    )
                    .await;
                    without_effect.extend(executor::without_effect(std::slice::from_ref(&out)));
                    self.creations.issued(&out.id, &out.created, now);
                    match &out.result {
                        Err(err) => {
                            let class = err.split(':').next().unwrap_or("fatal").trim().to_owned();
                            self.shared.metrics.api_error(&name, "act", &class);
                            tracing::warn!(policy = %name, action = planned.action.kind().label(), id = %planned.id, error = %err, "Action failed.");
                        }
                        Ok(()) => {
                            tracing::info!(policy = %name, action = planned.action.kind().label(), target = %describe(&planned.action), cause = ?planned.cause, why = %planned.evidence.summary, "Action.");
                        }
                    }
                    e
                }
            };
            self.record(e);
        }
        self.rec.settle(&without_effect);
        self.save_forecast();
        self.journal_refusals(&decision, now, may_act);
        let latency: Vec<&str> = self
            .view
            .objectives
            .iter()
            .filter(|o| o.kind == "latency")
            .map(|o| o.name.as_str())
            .collect();
        self.shared
            .metrics
            .pass(&name, watch.elapsed().as_secs_f64(), &snap, &decision, &latency);
        self.trend.record(
            now,
            &decision,
            &snap.inventory,
            self.policy.spec.traffic.is_some(),
            snap.load.as_ref(),
            self.rec.history().service_rate,
        );
        self.view.ticks += 1;
        self.view.last_tick = Some(now);
        self.view.last_error = None;
        self.view.actions_last_hour = self.rec.history().actions_last_hour(now);
        let judged = samples(&snap);
        self.fill_view(snap, decision, now);
        self.publish();
        judged
    }

    /// Saves what the forecast learned each time a profile bucket closes (every 10 minutes of
    /// load reports), so a restart loses at most that.
    fn save_forecast(&mut self) {
        let slot = self.rec.history().forecast.profile.open.map(|o| o.slot);
        if slot == self.forecast_saved {
            return;
        }
        self.forecast_saved = slot;
        let forecast = &self.rec.history().forecast;
        if let Err(e) = self
            .shared
            .journal
            .save_forecast(&self.policy.metadata.name, forecast)
        {
            tracing::warn!(policy = %self.policy.metadata.name, error = %e, "Learned forecast not saved.");
        }
    }

    fn fill_view(&mut self, snap: Snapshot, decision: Decision, now: Time) {
        self.view.instances = snap.inventory;
        self.view.in_flight = snap.in_flight;
        self.view.locations = snap.locations;
        self.view.decision = Some(decision);
        // Copying the trend (thousands of points per line, a line per objective, location and
        // family) on every pass made the pass grow with the history; the charts can lag.
        if now - self.trend_published >= TREND_EVERY || now < self.trend_published {
            self.view.trend = Arc::new(self.trend.clone());
            self.trend_published = now;
        }
    }

    fn publish(&self) {
        let view = Arc::new(self.view.clone());
        let name = self.name().to_owned();
        self.shared.board.update(|s| {
            s.unmanaged.remove(&name);
            s.policies.insert(name, view);
        });
    }

    /// The policy is gone: publish it as unmanaged with its servers as last seen.
    fn stop_managing(&self, reason: &str) {
        let name = self.name().to_owned();
        let unmanaged = Unmanaged {
            reason: reason.into(),
            last_tick: self.view.last_tick,
            instances: self.view.instances.clone(),
        };
        let ids: Vec<&str> = unmanaged
            .instances
            .iter()
            .map(|i: &Instance| i.id.as_str())
            .collect();
        tracing::warn!(policy = %name, instances = ?ids, "Policy no longer managed; its servers are left running and untouched.");
        self.shared.metrics.forget(&name);
        self.shared.board.update(|s| {
            s.policies.remove(&name);
            s.unmanaged.insert(name, unmanaged);
        });
    }
}

/// The probe samples in a snapshot: service windows and per-instance recents.
fn samples(snap: &Snapshot) -> usize {
    let service: usize = snap.service.iter().map(|s| s.recent.len()).sum();
    service
        + snap
            .instances_probed
            .iter()
            .map(|s| s.recent.len())
            .sum::<usize>()
}

/// What an action concerns, for logs and refusal keys.
pub fn describe(a: &Action) -> String {
    match a {
        Action::ScaleOut { count } => format!("+{count}"),
        Action::ScaleIn { instances } => instances.join(","),
        other => other.instance().cloned().unwrap_or_default(),
    }
}
