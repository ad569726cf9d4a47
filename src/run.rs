//! `sloop run`: the long-running controller.
//!
//! ```text
//!  policy sources ──PolicyEvent──► supervisor ──► one reconcile task per policy ──► cloud
//!  (dir watcher, ConfigMaps…)      (validates)     (tick, early wake, act if leader)
//!                                                        │ journal entries    │ status, metrics
//!                                                        ▼                    ▼
//!                                                  ActionSink(s)       StatusBoard ──► HTTP server
//! ```
//!
//! Seams: [`source::PolicyEvent`] (another policy source sends into [`Controller::events`]),
//! [`leader::Leadership`] (an elector's `watch::Receiver<bool>` plus a release hook),
//! [`crate::journal::ActionSink`] (another publisher of actions, such as Kubernetes Events),
//! [`cloud::CloudFactory`] (the simulator or a real cloud).

pub mod cloud;
pub mod k8s;
pub mod leader;
pub mod source;
pub mod status;
mod supervisor;
pub mod task;
pub mod ticklog;
pub mod trend;

use crate::{
    clock::{Clock, SystemClock},
    ingest::{IngestLimits, IngestState, TokenBook},
    journal::{ActionSink, Journal, Sinks},
    serve::{AppState, metrics::Metrics},
};
pub use cloud::{CloudFactory, LiveCloud, SimFactory};
pub use leader::Leadership;
pub use source::PolicyEvent;
use status::{SimInfo, Status, StatusBoard};
use std::{path::PathBuf, sync::Arc, time::Duration};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};

/// What every task shares.
#[derive(Clone)]
pub struct Shared {
    /// The published state.
    pub board: StatusBoard,
    /// Where journal entries go.
    pub sinks: Arc<dyn ActionSink>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// May this replica act?
    pub leadership: Leadership,
    /// `now` for the tasks.
    pub clock: Arc<dyn Clock>,
    /// Set to `true` once on graceful shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// The journal, read back at a task's start to rebuild its action budget.
    pub journal: Arc<Journal>,
    /// Where every pass's timing goes, when someone measures it (`sloop-bench ingest`).
    pub tick_log: Option<ticklog::TickLog>,
    /// Where each step of a simulated world's time goes, when someone measures it.
    pub world_log: Option<ticklog::TickLog>,
    /// The agents' side, when agents are configured: tasks whose factory wants agents publish
    /// their policies to it (`observe::Probes`).
    pub ingest: Option<IngestState>,
}

/// How to start a controller.
pub struct Options {
    /// Leadership (default: always the leader).
    pub leadership: Leadership,
    /// The journal (the status page's timeline reads its ring).
    pub journal: Arc<Journal>,
    /// More sinks for actions besides the journal (e.g. Kubernetes Events).
    pub sinks: Sinks,
    /// `--dry-run`: every policy runs in dry-run mode and every cloud call is a no-op.
    pub dry_run: bool,
    /// The scenario played, for the status page.
    pub sim: Option<SimInfo>,
    /// Remote probe agents allowed to report (their tokens' hashes): mounts the ingest routes
    /// and shows the agents' freshness on the status page.
    pub agents: Option<TokenBook>,
    /// Record every pass's start lateness and duration here (`sloop-bench ingest`).
    pub tick_log: Option<ticklog::TickLog>,
    /// Record how long each step of a simulated world took here (`sloop-bench uptime`).
    pub world_log: Option<ticklog::TickLog>,
    /// Limits of the agents' ingest endpoints.
    pub ingest_limits: IngestLimits,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            leadership: Leadership::always(),
            journal: Arc::new(Journal::in_memory(crate::journal::RING_ENTRIES)),
            sinks: Sinks::default(),
            dry_run: false,
            sim: None,
            agents: None,
            tick_log: None,
            world_log: None,
            ingest_limits: IngestLimits::default(),
        }
    }
}

/// A running controller.
pub struct Controller {
    board: StatusBoard,
    journal: Arc<Journal>,
    metrics: Arc<Metrics>,
    events: mpsc::Sender<PolicyEvent>,
    shutdown: watch::Sender<bool>,
    supervisor: JoinHandle<()>,
    leadership: Leadership,
    ingest: Option<IngestState>,
}

impl Controller {
    /// Starts the supervisor; policies arrive through [`Controller::events`] (see
    /// [`Controller::watch_dir`]).
    pub fn start<F: CloudFactory>(factory: Arc<F>, opts: Options) -> Controller {
        let mut probe_metrics = None;
        let metrics = Arc::new(Metrics::build(|r| {
            if opts.agents.is_some() {
                probe_metrics = Some(crate::observe::metrics::register(r));
            }
        }));
        // Agents live in real time (their batches are stamped on receipt by the wall clock).
        let ingest = opts.agents.map(|book| {
            let state = IngestState::new(book, Arc::new(SystemClock), opts.ingest_limits);
            match probe_metrics {
                Some(m) => state.with_metrics(m),
                None => state,
            }
        });
        let board = StatusBoard::new(Status {
            version: env!("CARGO_PKG_VERSION"),
            cloud: factory.label(),
            dry_run: opts.dry_run,
            leader: opts.leadership.is_leader(),
            started_at: SystemClock.now(),
            sim: opts.sim,
            ..Status::default()
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let sinks: Arc<dyn ActionSink> = Arc::new(opts.sinks.with(opts.journal.clone()));
        let shared = Shared {
            board: board.clone(),
            sinks,
            metrics: metrics.clone(),
            leadership: opts.leadership.clone(),
            clock: factory.clock(),
            shutdown: shutdown_rx.clone(),
            dry_run: opts.dry_run,
            journal: opts.journal.clone(),
            tick_log: opts.tick_log,
            world_log: opts.world_log,
            ingest: ingest.clone(),
        };
        tokio::spawn(follow_leadership(
            opts.leadership.clone(),
            board.clone(),
            metrics.clone(),
            shutdown_rx,
        ));
        let (events, rx) = mpsc::channel(256);
        let supervisor = tokio::spawn(supervisor::run(factory, rx, shared));
        Controller {
            board,
            journal: opts.journal,
            metrics,
            events,
            shutdown,
            supervisor,
            leadership: opts.leadership,
            ingest,
        }
    }

    /// The remote agents' side, when agents are configured (the tasks publish their probe
    /// stores to it).
    pub fn ingest(&self) -> Option<&IngestState> {
        self.ingest.as_ref()
    }

    /// The channel policy sources send into.
    pub fn events(&self) -> mpsc::Sender<PolicyEvent> {
        self.events.clone()
    }

    /// Starts watching a policy directory (every `poll`).
    pub fn watch_dir(&self, dir: PathBuf, poll: Duration) {
        tokio::spawn(source::watch_dir(
            dir,
            poll,
            self.events(),
            self.shutdown.subscribe(),
        ));
    }

    /// The published state.
    pub fn status(&self) -> watch::Receiver<Arc<Status>> {
        self.board.subscribe()
    }

    /// Becomes `true` when shutdown starts (for the HTTP server and other tasks).
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// What the HTTP server reads.
    pub fn app_state(&self) -> AppState {
        AppState {
            status: self.board.subscribe(),
            journal: self.journal.clone(),
            metrics: self.metrics.clone(),
            ingest: self.ingest.clone(),
        }
    }

    /// Graceful shutdown: no new actions start, actions in flight finish, every task stops,
    /// then leadership is released.
    pub async fn stop(self) {
        tracing::info!("Shutting down: finishing actions in flight, starting none.");
        self.board.update(|s| s.shutting_down = true);
        let _ = self.shutdown.send(true);
        if let Err(e) = self.supervisor.await {
            tracing::error!(error = %e, "The supervisor ended abnormally.");
        }
        self.leadership.release().await;
        tracing::info!("Stopped.");
    }
}

async fn follow_leadership(
    leadership: Leadership,
    board: StatusBoard,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut rx = leadership.subscribe();
    loop {
        rx.borrow_and_update();
        let leader = leadership.is_leader();
        metrics.set_leader(leader);
        board.update(|s| s.leader = leader);
        tokio::select! {
            changed = rx.changed() => if changed.is_err() {
                // The elector is gone (or there never was one): final state.
                let leader = leadership.is_leader();
                metrics.set_leader(leader);
                board.update(|s| s.leader = leader);
                return;
            },
            _ = shutdown.changed() => return,
        }
    }
}
