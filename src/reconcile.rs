//! The reconcile loop: observe → decide → act. The only module that sequences IO, and it holds
//! no business rules. The same loop drives the simulator, dry-run and the real cloud.

use crate::{
    act::{
        Compute, Traffic,
        executor::{self, Outcome},
        journaled,
    },
    decide::decide,
    decision::Decision,
    history::{Charge, History},
    journal::ActionSink,
    observe::{Observe, ObserveError},
    policy::{Mode, Policy},
    replay::LogWriter,
    snapshot::{Snapshot, Time},
};

/// What one tick saw, decided and did.
#[derive(Debug, Clone)]
pub struct TickReport {
    /// The observation.
    pub snapshot: Snapshot,
    /// The decision.
    pub decision: Decision,
    /// What happened to each action.
    pub outcomes: Vec<Outcome>,
}

/// The loop's state for one policy.
pub struct Reconciler {
    policy: Policy,
    /// The policy in dry-run mode, for passes that must not act (a follower, a lost lease).
    gated: Option<Policy>,
    history: History,
    log: Option<LogWriter>,
    /// Actions reported without effect since the last logged tick, for the decision log.
    unlogged_failures: Vec<String>,
    /// Charges from before this process (the journal), adopted with the cloud's stamps on the
    /// first observation; `None` once adopted.
    prior: Option<Vec<Charge>>,
}

impl Reconciler {
    /// A loop for `policy` with empty history.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            gated: None,
            history: History::default(),
            log: None,
            unlogged_failures: Vec::new(),
            prior: Some(Vec::new()),
        }
    }

    /// Budget charges of earlier incarnations of this controller (from the action journal),
    /// adopted on the first observation together with the servers' action stamps, so a
    /// restart does not hand out a fresh hourly budget (`History::adopt`).
    pub fn with_charges(mut self, charges: Vec<Charge>) -> Self {
        self.prior = Some(charges);
        self
    }

    /// Records every tick to a decision log (for `sloop replay`).
    pub fn with_decision_log(mut self, log: LogWriter) -> Self {
        self.log = Some(log);
        self
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Puts a new version of the policy in force (hot reload). The history is kept, so
    /// cooldowns, stabilisation windows and healing ladders carry over.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
        self.gated = None;
    }

    /// The decision state carried between ticks.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// How often the loop ticks: the cadence of the service-level evidence (the shortest interval
    /// of the probes that are not per-instance), between 1 s and 60 s. Per-instance failures
    /// do not wait for it: the probe engine wakes the loop as soon as an instance reaches the
    /// policy's failure streak.
    pub fn interval(&self) -> f64 {
        let probes = &self.policy.spec.probes;
        let service = probes
            .iter()
            .filter(|p| !p.per_instance)
            .map(|p| p.interval.secs());
        let all = probes.iter().map(|p| p.interval.secs());
        let shortest = service.fold(f64::INFINITY, f64::min);
        let shortest = if shortest.is_finite() {
            shortest
        } else {
            all.fold(f64::INFINITY, f64::min)
        };
        shortest.clamp(1.0, 60.0)
    }

    /// Reports the actions of the last decision that took no effect (failed, refused by the
    /// API, or never started), so they start no cooldown and advance no ladder
    /// ([`History::settle`]). Callers that execute `decide`'s actions themselves must call it.
    pub fn settle(&mut self, failed: &[String]) {
        if failed.is_empty() {
            return;
        }
        self.history.settle(failed);
        self.unlogged_failures.extend_from_slice(failed);
    }

    /// One pass: observe, decide, act.
    pub async fn tick<C: Observe + Compute + Traffic>(
        &mut self,
        cloud: &mut C,
        now: Time,
    ) -> Result<TickReport, ObserveError> {
        let (snapshot, decision) = self.decide(cloud, now, true).await?;
        let outcomes = executor::execute(&self.policy, &snapshot, &decision.actions, cloud).await;
        self.settle(&executor::without_effect(&outcomes));
        Ok(TickReport {
            snapshot,
            decision,
            outcomes,
        })
    }

    /// One pass as `sloop run` makes it: observe, decide, and execute each action between its
    /// intent and outcome lines in `sink` (`act::journaled`), so a process killed in the
    /// middle of an action leaves its intent behind for the next incarnation's budget.
    pub async fn tick_journaled<C: Observe + Compute + Traffic>(
        &mut self,
        cloud: &mut C,
        now: Time,
        sink: &dyn ActionSink,
    ) -> Result<TickReport, ObserveError> {
        let (snapshot, decision) = self.decide(cloud, now, true).await?;
        let mut outcomes = Vec::with_capacity(decision.actions.len());
        let mut pass = executor::PassState::new(&snapshot);
        for planned in &decision.actions {
            let (out, entry) = journaled::execute_one(
                &self.policy,
                &snapshot,
                planned,
                cloud,
                &mut pass,
                sink,
                now,
                false,
            )
            .await;
            sink.record(&entry);
            outcomes.push(out);
        }
        self.settle(&executor::without_effect(&outcomes));
        Ok(TickReport {
            snapshot,
            decision,
            outcomes,
        })
    }

    /// Observes and decides without acting; the caller executes `decision.actions` (one at a
    /// time, so it can stop between them). With `may_act` false (a follower, a lost lease) the
    /// pass is made as in dry-run mode: what would be done comes back as refusals with reason
    /// `dry-run`, and the history does not believe it happened.
    pub async fn decide<C: Observe>(
        &mut self,
        cloud: &mut C,
        now: Time,
        may_act: bool,
    ) -> Result<(Snapshot, Decision), ObserveError> {
        let snapshot = cloud.observe(now).await?;
        if let Some(mut prior) = self.prior.take() {
            prior.extend(executor::stamped_charges(&self.policy.metadata.name, &snapshot));
            self.history.adopt(&self.policy, &prior, now);
        }
        let policy = if may_act || self.policy.spec.mode == Mode::DryRun {
            &self.policy
        } else {
            self.gated.get_or_insert_with(|| {
                let mut p = self.policy.clone();
                p.spec.mode = Mode::DryRun;
                p
            })
        };
        let (decision, history) = decide(policy, &snapshot, &self.history, now);
        if let Some(log) = &mut self.log {
            // A broken log must not stop the controller; it is reported once and dropped.
            let failed = std::mem::take(&mut self.unlogged_failures);
            if let Err(e) = log.record(now, &snapshot, &self.history, &failed, &decision) {
                tracing::warn!(error = %e, "Decision log failed; no longer recording.");
                self.log = None;
            }
        }
        self.history = history;
        Ok((snapshot, decision))
    }
}
