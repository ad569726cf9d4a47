//! The simulated cloud behind a hook that decides the fate of every call: pass, fail with an
//! API error, lose the answer after the cloud acted (a timeout), answer slowly, or kill the
//! controller before or after the cloud accepted the request. A killed call never answers:
//! its future stays `Pending`, and the harness drops the whole tick, as `kill -9` would.
//!
//! [`Run`] is the rehearsal loop of `sloop rehearse` with that wrapper in place, so the real
//! `Reconciler`, decision core and executor run unchanged.

use sloop::{
    act::{ActError, Compute, ServerAction, ServerRequest, Traffic, executor::ACTION_KEY},
    decision::{Action, ActionKind},
    journal::{DiskLimits, Journal},
    observe::{Inventory, Listing, LoadSource, ObserveError, ProbeSource, TelemetrySource},
    policy::Policy,
    reconcile::{Reconciler, TickReport},
    sim::{Scenario, SimCloud, rehearse::run_ready},
    snapshot::{Hosts, InstanceId, InstanceSeries, ServiceSeries, TelemetryReadings, Time},
};
use std::{
    collections::BTreeMap,
    future::Future,
    pin::{Pin, pin},
    task::{Context, Poll, Waker},
};

/// The mutating calls of the act traits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Call {
    Create,
    Delete,
    Reboot,
    Rebuild,
    Migrate,
    SetWeight,
    RemoveMember,
    /// A repair stamp (server metadata merge).
    Stamp,
}

impl Call {
    pub fn label(self) -> &'static str {
        match self {
            Call::Create => "create",
            Call::Delete => "delete",
            Call::Reboot => "reboot",
            Call::Rebuild => "rebuild",
            Call::Migrate => "live-migrate",
            Call::SetWeight => "member-weight",
            Call::RemoveMember => "member-remove",
            Call::Stamp => "stamp",
        }
    }
}

/// What happens to one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    /// The call goes through.
    Pass,
    /// The process dies before the request leaves.
    KillBefore,
    /// The cloud accepts the request; the process dies before it reads the answer.
    KillAfter,
    /// The API rejects the call; nothing changes.
    Fail(ActError),
    /// The cloud acts, but the answer is lost (timeout after acceptance).
    LostAnswer(ActError),
    /// The API answers after this many seconds; the world moves on meanwhile.
    Slow(f64),
}

/// Decides the fate of calls and observations.
pub trait Hook {
    fn call(&mut self, call: Call, target: &str, now: Time) -> Fate;
    fn observe(&mut self, _now: Time) -> Result<(), ObserveError> {
        Ok(())
    }
    /// The read-only query of a server's recorded actions (after a restart).
    fn query(&mut self, _target: &str, _now: Time) -> Result<(), ActError> {
        Ok(())
    }
}

/// One call as the cloud saw it.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub at: Time,
    pub call: Call,
    pub target: String,
    pub fate: Fate,
    /// The cloud changed something (the request reached it and it accepted).
    pub effect: bool,
    /// The cloud's own refusal, when the request reached it and was refused.
    pub refused: Option<ActError>,
}

/// A future that answers at once, or never (the caller was killed).
pub struct Answer<T>(Option<T>);

impl<T: Unpin> Future for Answer<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<T> {
        match self.0.take() {
            Some(v) => Poll::Ready(v),
            None => Poll::Pending,
        }
    }
}

/// `SimCloud` behind a [`Hook`].
pub struct Wrapped<H> {
    pub sim: SimCloud,
    pub hook: H,
    pub calls: Vec<CallRecord>,
    /// Whether stamps reach the simulated servers: off only to show what they prevent (a
    /// cloud that accepts the call and forgets the metadata, as before stamps existed).
    pub keep_stamps: bool,
    /// Whether migration stamps keep the digest of the host they left: off only to show what
    /// it prevents (`sloop.migrated=UNIX`, as stamps were before it).
    pub host_digests: bool,
    /// Queries of recorded server actions made (read-only, never killed).
    pub queries: usize,
}

impl<H: Hook> Wrapped<H> {
    fn dispatch<T: Unpin>(
        &mut self,
        call: Call,
        target: &str,
        op: impl FnOnce(&mut SimCloud) -> Result<T, ActError>,
    ) -> Answer<Result<T, ActError>> {
        let at = self.sim.now();
        let fate = self.hook.call(call, target, at);
        let (answer, reached) = match &fate {
            Fate::Pass => (Some(op(&mut self.sim)), None),
            Fate::Slow(secs) => {
                self.sim.advance_to(at + secs);
                (Some(op(&mut self.sim)), None)
            }
            Fate::KillBefore => (None, None),
            Fate::KillAfter => (None, Some(op(&mut self.sim).map(|_| ()))),
            Fate::Fail(e) => (Some(Err(e.clone())), None),
            Fate::LostAnswer(e) => (Some(Err(e.clone())), Some(op(&mut self.sim).map(|_| ()))),
        };
        let outcome = match (&answer, reached) {
            (_, Some(r)) => Some(r),
            (Some(r), None) if matches!(fate, Fate::Pass | Fate::Slow(_)) => {
                Some(r.as_ref().map(|_| ()).map_err(Clone::clone))
            }
            _ => None,
        };
        let effect = matches!(outcome, Some(Ok(())));
        let refused = outcome.and_then(Result::err);
        self.calls.push(CallRecord {
            at,
            call,
            target: target.to_owned(),
            fate,
            effect,
            refused,
        });
        Answer(answer)
    }
}

/// The hook decides whether the inventory can be listed; the rest of the observation is the
/// simulator's.
impl<H: Hook + Send> Inventory for Wrapped<H> {
    fn list(&mut self, now: Time) -> impl Future<Output = Result<Listing, ObserveError>> + Send {
        let r = match self.hook.observe(now) {
            Ok(()) => run_ready(self.sim.list(now)),
            Err(e) => Err(e),
        };
        Answer(Some(r))
    }
    fn hosts(&mut self, now: Time) -> impl Future<Output = Hosts> + Send {
        self.sim.hosts(now)
    }
}

impl<H: Hook + Send> TelemetrySource for Wrapped<H> {
    fn readings(&mut self, listing: &Listing, now: Time) -> impl Future<Output = TelemetryReadings> + Send {
        self.sim.readings(listing, now)
    }
}

impl<H: Hook + Send> LoadSource for Wrapped<H> {
    fn load(&mut self, now: Time) -> impl Future<Output = Option<sloop::snapshot::LoadSignal>> + Send {
        self.sim.load(now)
    }
}

impl<H: Hook> ProbeSource for Wrapped<H> {
    fn summaries(&self, l: &[f64], c: &[f64], now: Time) -> (Vec<ServiceSeries>, Vec<InstanceSeries>) {
        self.sim.summaries(l, c, now)
    }
    fn heartbeat(&self, location: &str, now: Time) -> Option<Time> {
        self.sim.heartbeat(location, now)
    }
    fn evidence_since(&self, t: Time) -> bool {
        self.sim.evidence_since(t)
    }
}

impl<H: Hook + Send> Compute for Wrapped<H> {
    fn create_server(
        &mut self,
        req: &ServerRequest,
    ) -> impl Future<Output = Result<InstanceId, ActError>> + Send {
        let key = req.metadata.get(ACTION_KEY).cloned().unwrap_or_default();
        self.dispatch(Call::Create, &key, |s| run_ready(s.create_server(req)))
    }
    fn delete_server(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.dispatch(Call::Delete, id, |s| run_ready(s.delete_server(id)))
    }
    fn reboot_server(&mut self, id: &str, hard: bool) -> impl Future<Output = Result<(), ActError>> + Send {
        self.dispatch(Call::Reboot, id, |s| run_ready(s.reboot_server(id, hard)))
    }
    fn rebuild_server(&mut self, id: &str, image: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.dispatch(Call::Rebuild, id, |s| run_ready(s.rebuild_server(id, image)))
    }
    fn live_migrate(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.dispatch(Call::Migrate, id, |s| run_ready(s.live_migrate(id)))
    }
    fn stamp_server(
        &mut self,
        id: &str,
        metadata: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), ActError>> + Send {
        let keep = self.keep_stamps;
        let mut metadata = metadata.clone();
        if !self.host_digests
            && let Some(v) = metadata.get_mut(sloop::act::stamp::MIGRATED_KEY)
            && let Some((_, at)) = v.split_once('@')
        {
            *v = at.to_owned();
        }
        self.dispatch(Call::Stamp, id, |s| match keep {
            true => run_ready(s.stamp_server(id, &metadata)),
            false => Ok(()),
        })
    }
    fn server_actions(
        &mut self,
        id: &str,
        since: Time,
    ) -> impl Future<Output = Result<Vec<ServerAction>, ActError>> + Send {
        let now = self.sim.now();
        self.queries += 1;
        let r = match self.hook.query(id, now) {
            Ok(()) => run_ready(self.sim.server_actions(id, since)),
            Err(e) => Err(e),
        };
        Answer(Some(r))
    }
}

impl<H: Hook + Send> Traffic for Wrapped<H> {
    fn set_member_weight(
        &mut self,
        id: &str,
        weight: u16,
    ) -> impl Future<Output = Result<(), ActError>> + Send {
        self.dispatch(Call::SetWeight, id, |s| {
            run_ready(s.set_member_weight(id, weight))
        })
    }
    fn remove_member(&mut self, id: &str) -> impl Future<Output = Result<(), ActError>> + Send {
        self.dispatch(Call::RemoveMember, id, |s| run_ready(s.remove_member(id)))
    }
}

/// Polls a future whose leaves answer at once or never: `None` when it hangs on a killed call.
pub fn drive<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..3 {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some(v);
        }
    }
    None
}

/// How one tick ended.
pub enum Tick {
    Done(Box<TickReport>),
    /// The observation failed: nothing was decided.
    Blind(ObserveError),
    /// The controller died inside the tick.
    Killed,
}

/// The rehearsal loop (as `sim::rehearse` runs it) with a hooked cloud and a restartable
/// controller.
pub struct Run<H> {
    pub policy: Policy,
    pub cloud: Wrapped<H>,
    pub rec: Reconciler,
    pub end: Time,
    resolution: f64,
    interval: f64,
    next_tick: Time,
    last_tick: Time,
    t: Time,
    /// Budgeted actions decided, over every incarnation of the controller: (time, kind).
    pub decided: Vec<(Time, ActionKind)>,
    /// Budgeted actions that reached the cloud (at least one call sent), over every
    /// incarnation: (time, kind).
    pub attempted: Vec<(Time, ActionKind)>,
    /// Controller restarts.
    pub restarts: u32,
    /// The action journal on disk, written as `sloop run` writes it (`act::journaled`: the
    /// intent before the first call, the outcome after), read back by the next incarnation.
    pub journal: Journal,
    journal_dir: std::path::PathBuf,
    /// Whether a restart rebuilds the budget from the journal (the cloud's stamps are always
    /// read): off only to show what the rebuild prevents.
    pub rebuild_from_journal: bool,
}

impl<H: Hook + Send> Run<H> {
    pub fn new(policy: &Policy, scenario: &Scenario, seed: u64, hook: H) -> Self {
        let sim = SimCloud::new(scenario, policy, seed);
        let rec = Reconciler::new(policy.clone());
        let interval = rec.interval();
        let start = scenario.start_unix();
        let (journal, journal_dir) = fresh_journal();
        Self {
            policy: policy.clone(),
            cloud: Wrapped {
                sim,
                hook,
                calls: Vec::new(),
                keep_stamps: true,
                host_digests: true,
                queries: 0,
            },
            rec,
            end: scenario.end_unix(),
            resolution: scenario.resolution.secs().max(0.001),
            interval,
            next_tick: start + interval,
            last_tick: start,
            t: start,
            decided: Vec::new(),
            attempted: Vec::new(),
            restarts: 0,
            journal,
            journal_dir,
            rebuild_from_journal: true,
        }
    }

    /// Advances to the next tick and runs it; `None` at the end of the scenario.
    pub fn next(&mut self) -> Option<(Time, Tick)> {
        while self.t < self.end - 1e-9 {
            self.t = (self.t + self.resolution).min(self.end).max(self.cloud.sim.now());
            self.cloud.sim.advance_to(self.t);
            if self.t + 1e-9 < self.next_tick && !self.cloud.sim.evidence_since(self.last_tick) {
                continue;
            }
            let t = self.t;
            self.last_tick = t;
            while self.next_tick <= t + 1e-9 {
                self.next_tick += self.interval;
            }
            let before = self.rec.history().clone();
            let tick = match drive(self.rec.tick_journaled(&mut self.cloud, t, &self.journal)) {
                Some(Ok(report)) => Tick::Done(Box::new(report)),
                Some(Err(e)) => Tick::Blind(e),
                None => Tick::Killed,
            };
            // The history was updated before the executor ran, so a killed tick's decision is
            // in it too. A retry of a failed action moves its charge to `t` instead of adding
            // one (`History::settle`): only new charges count.
            let after = self.rec.history();
            let older = |h: &sloop::history::History| {
                h.actions
                    .iter()
                    .filter(|(at, k)| *at < t && t - at < 3600.0 && *k != ActionKind::Admit)
                    .count()
            };
            let moved = older(&before).saturating_sub(older(after));
            let new: Vec<_> = after
                .actions
                .iter()
                .filter(|(at, k)| *at == t && *k != ActionKind::Admit)
                .copied()
                .collect();
            let fresh = new.len().saturating_sub(moved);
            self.decided.extend(new.into_iter().take(fresh));
            // Which of this pass's charged actions sent a call. A kill drops the report, but
            // the history still holds the pass's actions with their intents.
            let calls: Vec<&CallRecord> = self.cloud.calls.iter().filter(|c| c.at >= t).collect();
            let pass: Vec<(String, ActionKind, Vec<String>)> = match &tick {
                Tick::Done(report) => report
                    .decision
                    .actions
                    .iter()
                    .map(|a| {
                        let targets = match &a.action {
                            Action::ScaleIn { instances } => instances.clone(),
                            other => other.instance().into_iter().cloned().collect(),
                        };
                        (a.id.clone(), a.action.kind(), targets)
                    })
                    .collect(),
                _ => self
                    .rec
                    .history()
                    .unsettled
                    .iter()
                    .map(|(id, u)| {
                        let targets = u.intent.split_once(':').map(|(_, i)| i.to_owned());
                        (id.clone(), u.kind, targets.into_iter().collect())
                    })
                    .collect(),
            };
            for (id, kind, targets) in pass {
                let touched = calls.iter().any(|c| {
                    targets.contains(&c.target)
                        || c.target.starts_with(&format!("{id}/"))
                        || (kind == ActionKind::ScaleIn && targets.is_empty() && c.call == Call::Delete)
                });
                if kind != ActionKind::Admit && touched {
                    self.attempted.push((t, kind));
                }
            }
            return Some((t, tick));
        }
        None
    }

    /// kill -9 and start again: a fresh controller with an empty memory on the same cloud,
    /// which rebuilds its budget from the servers' stamps and the journal, as `sloop run` does.
    pub fn restart(&mut self) {
        let journal = if self.rebuild_from_journal {
            self.journal.persisted_charges(&self.policy.metadata.name)
        } else {
            Vec::new()
        };
        let open = if self.rebuild_from_journal {
            self.journal.open_intents(&self.policy.metadata.name)
        } else {
            Vec::new()
        };
        self.rec = Reconciler::new(self.policy.clone())
            .with_charges(journal)
            .with_open_intents(open);
        self.restarts += 1;
    }
}

impl<H> Run<H> {
    /// Every line the journal holds on disk, oldest first.
    pub fn journal_entries(&self) -> Vec<sloop::journal::JournalEntry> {
        sloop::journal::read_dir(&self.journal_dir)
            .map(|(entries, _)| entries)
            .unwrap_or_default()
    }
}

/// An empty on-disk journal of its own for one run.
fn fresh_journal() -> (Journal, std::path::PathBuf) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "reliability-journal-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let journal = Journal::on_disk(&dir, DiskLimits::default(), 16).expect("journal directory");
    (journal, dir)
}

impl<H> Drop for Run<H> {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.journal_dir);
    }
}

/// The most entries of `times` (sorted or not) inside any window of `width` seconds.
pub fn max_in_window(times: &[Time], width: f64) -> usize {
    let mut t: Vec<Time> = times.to_vec();
    t.sort_by(f64::total_cmp);
    let (mut best, mut lo) = (0, 0);
    for hi in 0..t.len() {
        while t[hi] - t[lo] >= width {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

/// A small seeded generator (SplitMix64) for kill points and fault choices.
pub struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
