//! The reconcile loop: observe → decide → act. The only module that sequences IO, and it holds
//! no business rules. The same loop drives the simulator, dry-run and the real cloud.

use crate::{
    act::{
        ActError, Compute, Traffic,
        executor::{self, Outcome},
        journaled,
    },
    decide::decide,
    decision::Decision,
    history::{Charge, Failure, History},
    journal::{ActionSink, JournalEntry},
    observe::{Collector, NoProbes, ObserveError, ProbeSource, Sources},
    policy::{Mode, Policy},
    replay::LogWriter,
    resolve::{self, Resolution, Resolved},
    snapshot::{InstanceId, Snapshot, Time},
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
    /// Actions an earlier incarnation left in flight, resolved in this pass (already recorded
    /// in the sink by [`Reconciler::tick_journaled`]).
    pub resolved: Vec<Resolved>,
}

/// The loop's state for one policy.
pub struct Reconciler {
    policy: Policy,
    /// The observe stage for the policy in force.
    collector: Collector,
    /// The policy in dry-run mode, for passes that must not act (a follower, a lost lease).
    gated: Option<Policy>,
    history: History,
    log: Option<LogWriter>,
    /// Actions reported without effect since the last logged tick, for the decision log.
    unlogged_failures: Vec<Failure>,
    /// Charges from before this process (the journal), adopted with the cloud's stamps on the
    /// first observation; `None` once adopted.
    prior: Option<Vec<Charge>>,
    /// Intents earlier incarnations left without outcome, not yet resolved, with the passes
    /// whose query failed and the last error (`crate::resolve`).
    open: Vec<(JournalEntry, u32, String)>,
    /// The charges adopted at the restart, kept while intents are open: a late abandonment
    /// re-adopts its instance's earlier repairs from them (`History::abandon`).
    adopted: Vec<Charge>,
    /// Resolutions of the last observation, for the caller to journal.
    resolved: Vec<Resolved>,
}

impl Reconciler {
    /// A loop for `policy` with empty history.
    pub fn new(policy: Policy) -> Self {
        Self {
            collector: Collector::new(&policy),
            policy,
            gated: None,
            history: History::default(),
            log: None,
            unlogged_failures: Vec::new(),
            prior: Some(Vec::new()),
            open: Vec::new(),
            adopted: Vec::new(),
            resolved: Vec::new(),
        }
    }

    /// Intents earlier incarnations left without outcome (`Journal::open_intents`): each is
    /// resolved against the cloud from the first observation on, and its resolution adopted
    /// instead of the intent's charge (`crate::resolve`).
    pub fn with_open_intents(mut self, intents: Vec<JournalEntry>) -> Self {
        self.open = intents.into_iter().map(|e| (e, 0, String::new())).collect();
        self
    }

    /// The interrupted actions resolved by the last observation (each once), for the caller
    /// to journal, count and publish.
    pub fn take_resolved(&mut self) -> Vec<Resolved> {
        std::mem::take(&mut self.resolved)
    }

    /// Intents still waiting for the cloud's answer.
    pub fn unresolved(&self) -> usize {
        self.open.len()
    }

    /// Budget charges of earlier incarnations of this controller (from the action journal),
    /// adopted on the first observation together with the servers' action stamps, so a
    /// restart does not hand out a fresh hourly budget (`History::adopt`).
    pub fn with_charges(mut self, charges: Vec<Charge>) -> Self {
        self.prior = Some(charges);
        self
    }

    /// What the load forecast learned in an earlier run (`Journal::learned_forecast`): the
    /// daily and weekly profile and the boot times carry over a restart.
    pub fn with_forecast(mut self, learned: Option<crate::judge::forecast::ForecastState>) -> Self {
        if let Some(state) = learned {
            self.history.forecast = state;
        }
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
        self.collector = Collector::new(&policy);
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
    pub fn settle(&mut self, failed: &[Failure]) {
        if failed.is_empty() {
            return;
        }
        self.history.settle(failed);
        self.unlogged_failures.extend_from_slice(failed);
    }

    /// One pass: observe (the cloud's own capabilities, no other probes), decide, act.
    pub async fn tick<C: Sources + Compute + Traffic + Send>(
        &mut self,
        cloud: &mut C,
        now: Time,
    ) -> Result<TickReport, ObserveError> {
        let (snapshot, decision) = self.decide(cloud, &NoProbes, now, true).await?;
        self.finish_drains_logged(cloud, now).await;
        let outcomes = executor::execute(&self.policy, &snapshot, &decision.actions, cloud).await;
        self.settle(&executor::without_effect(&outcomes));
        Ok(TickReport {
            snapshot,
            decision,
            outcomes,
            resolved: self.take_resolved(),
        })
    }

    /// One pass as `sloop run` makes it: observe, decide, and execute each action between its
    /// intent and outcome lines in `sink` (`act::journaled`), so a process killed in the
    /// middle of an action leaves its intent behind for the next incarnation's budget.
    pub async fn tick_journaled<C: Sources + Compute + Traffic + Send>(
        &mut self,
        cloud: &mut C,
        now: Time,
        sink: &dyn ActionSink,
    ) -> Result<TickReport, ObserveError> {
        let (snapshot, decision) = self.decide(cloud, &NoProbes, now, true).await?;
        let resolved = self.take_resolved();
        for r in &resolved {
            sink.record(&r.entry);
        }
        self.finish_drains_logged(cloud, now).await;
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
            resolved,
        })
    }

    /// Deletes the servers whose drain grace has passed by `now` ([`Traffic::finish_drains`]):
    /// the deferred end of earlier scale-ins and replacements. Nothing in dry-run mode. Call
    /// once per pass, before its actions; an error leaves them for the next pass.
    pub async fn finish_drains<C: Traffic>(
        &mut self,
        cloud: &mut C,
        now: Time,
    ) -> Result<Vec<InstanceId>, ActError> {
        if self.policy.spec.mode == Mode::DryRun {
            return Ok(Vec::new());
        }
        cloud.finish_drains(now).await
    }

    async fn finish_drains_logged<C: Traffic>(&mut self, cloud: &mut C, now: Time) {
        let name = self.policy.metadata.name.clone();
        match self.finish_drains(cloud, now).await {
            Ok(done) if !done.is_empty() => {
                tracing::info!(policy = %name, servers = ?done, "Drain grace over: members removed and servers deleted.");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(policy = %name, error = %e, "Finishing drained removals failed; retrying next pass.")
            }
        }
    }

    /// Resolves the open intents against `snapshot` and, for reboots, rebuilds and migrations,
    /// the actions the cloud recorded (queried here, the IO; the rules are pure). Returns the
    /// resolutions made; those still unanswered wait for the next pass, up to
    /// [`resolve::QUERY_PASSES`], then are reported unknown.
    async fn resolve_open<C: Compute>(&mut self, cloud: &mut C, snapshot: &Snapshot) -> Vec<Resolved> {
        let mut made = Vec::new();
        let mut waiting = Vec::new();
        for (intent, failures, last) in std::mem::take(&mut self.open) {
            let answer = match resolve::query_for(&intent, snapshot) {
                Some((server, since)) => Some(cloud.server_actions(server, since).await),
                None => None,
            };
            let recorded = match &answer {
                Some(Ok(actions)) => Some(actions.as_slice()),
                _ => None,
            };
            match resolve::rule(&intent, snapshot, recorded) {
                Some(r) => made.push(r),
                None => {
                    let error = match answer {
                        Some(Err(e)) => e.to_string(),
                        _ => last,
                    };
                    if failures + 1 >= resolve::QUERY_PASSES {
                        made.push(resolve::unknown(&intent, &error));
                    } else {
                        waiting.push((intent, failures + 1, error));
                    }
                }
            }
        }
        for r in &made {
            let id = r.entry.id.as_deref().unwrap_or("");
            match r.resolution {
                Resolution::Abandoned => {
                    tracing::warn!(policy = %r.entry.policy, id, action = r.entry.kind.label(), target = %r.entry.target(), detail = r.entry.detail.as_deref().unwrap_or(""), "Interrupted action abandoned: it never reached the cloud.")
                }
                _ => {
                    tracing::info!(policy = %r.entry.policy, id, action = r.entry.kind.label(), target = %r.entry.target(), resolution = r.resolution.label(), detail = r.entry.detail.as_deref().unwrap_or(""), "Interrupted action resolved.")
                }
            }
        }
        self.open = waiting;
        made
    }

    /// Observes (through the observe stage, with `probes` beside the cloud's own) and decides
    /// without acting; the caller executes `decision.actions` (one at a
    /// time, so it can stop between them). With `may_act` false (a follower, a lost lease) the
    /// pass is made as in dry-run mode: what would be done comes back as refusals with reason
    /// `dry-run`, and the history does not believe it happened.
    ///
    /// The first observation also resolves the intents earlier incarnations left without
    /// outcome ([`Reconciler::with_open_intents`]); [`Reconciler::take_resolved`] hands the
    /// resolutions to the caller.
    pub async fn decide<C, P>(
        &mut self,
        cloud: &mut C,
        probes: &P,
        now: Time,
        may_act: bool,
    ) -> Result<(Snapshot, Decision), ObserveError>
    where
        C: Sources + Compute + Send,
        P: ProbeSource + Sync,
    {
        let snapshot = self.collector.collect(cloud, probes, now).await?;
        let resolved = if self.open.is_empty() {
            Vec::new()
        } else {
            self.resolve_open(cloud, &snapshot).await
        };
        if let Some(mut prior) = self.prior.take() {
            // A resolved intent is charged as its resolution says, not as applied.
            for r in &resolved {
                prior.retain(|c| Some(&c.id) != r.entry.id.as_ref());
                prior.extend(r.entry.charge());
            }
            prior.extend(executor::stamped_charges(&self.policy.metadata.name, &snapshot));
            self.history.adopt(&self.policy, &prior, now);
            self.adopted = prior;
        } else {
            let ladder = self.policy.spec.healing.ladder.clone();
            for r in resolved.iter().filter(|r| r.resolution == Resolution::Abandoned) {
                if let Some(c) = r.entry.charge() {
                    self.history.abandon(&ladder, &self.adopted, &c, now);
                }
            }
        }
        if self.open.is_empty() {
            self.adopted = Vec::new();
        }
        self.resolved.extend(resolved);
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
