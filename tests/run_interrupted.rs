//! `sloop run` resolves the actions an earlier process left in flight: a journal directory
//! holding intents without outcome (as a `kill -9` leaves it) is read at the policy's start,
//! each intent is checked against the simulated cloud's first observation, and the result is
//! journalled (an `abandoned` line with the same ID), counted in
//! `sloop_interrupted_actions_total{resolution}`, and shown on the status page.
//!
//! Every wait is on the published status (with a generous deadline), never a fixed sleep.

use sloop::{
    act::journaled,
    decision::{Action, Cause, Evidence, PlannedAction},
    journal::{ActionSink, DiskLimits, EntryOutcome, Journal, JournalEntry, read_dir},
    run::{Controller, Options, SimFactory, status::Status},
    sim::load_scenario,
};
use std::{path::PathBuf, sync::Arc, time::Duration};

const DEADLINE: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sloop-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn intent(at: f64, n: u32, action: Action) -> JournalEntry {
    let planned = PlannedAction {
        id: format!("minimal-web-{}-{n}", at.floor() as i64),
        action,
        cause: Cause::InstanceFault,
        evidence: Evidence::default(),
    };
    journaled::entry("minimal-web", at, &planned, EntryOutcome::Started, None, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intents_a_killed_process_left_are_resolved_journalled_counted_and_shown() {
    let policies = temp_dir("interrupted-policies");
    let journal_dir = temp_dir("interrupted-journal");
    std::fs::copy(repo().join("policies/minimal.yaml"), policies.join("web.yaml")).expect("policy");
    let scenario = load_scenario(&repo().join("policies/scenarios/steady-day.yaml")).expect("scenario loads");
    let at = scenario.start_unix() - 60.0;
    // What a process killed in the middle of two actions leaves: their intents, no outcome.
    {
        let earlier = Journal::on_disk(&journal_dir, DiskLimits::default(), 10).expect("journal");
        earlier
            .intend(&intent(at, 900, Action::ScaleOut { count: 1 }))
            .expect("intent written");
        earlier
            .intend(&intent(
                at,
                901,
                Action::Reboot {
                    instance: "gone-server".into(),
                    hard: false,
                },
            ))
            .expect("intent written");
    }
    let journal = Arc::new(Journal::on_disk(&journal_dir, DiskLimits::default(), 100).expect("journal"));
    assert_eq!(journal.open_intents("minimal-web").len(), 2);
    let seed = scenario.seed;
    let c = Controller::start(
        Arc::new(SimFactory::new(scenario, seed, 600.0, 0.0)),
        Options {
            journal: journal.clone(),
            ..Options::default()
        },
    );
    c.watch_dir(policies.clone(), Duration::from_millis(100));
    let state = c.app_state();
    let mut rx = c.status();
    let resolved = |s: &Status| {
        s.policies
            .get("minimal-web")
            .and_then(|p| p.interrupted.get("abandoned").copied())
            == Some(2)
    };
    let status = tokio::time::timeout(DEADLINE, async {
        loop {
            let s = rx.borrow_and_update().clone();
            if resolved(&s) {
                return s;
            }
            rx.changed().await.expect("status board open");
        }
    })
    .await
    .expect("both intents resolved within the deadline");

    let page = sloop::serve::page::render(&status, &journal, None);
    assert!(
        page.contains("interrupted by a restart: 2 abandoned"),
        "the status page shows the resolutions"
    );
    assert!(page.contains("o abandoned"), "the timeline marks them");
    let metrics = state.metrics.encode();
    for kind in ["scale-out", "reboot-soft"] {
        let line = format!(
            "sloop_interrupted_actions_total{{policy=\"minimal-web\",kind=\"{kind}\",resolution=\"abandoned\"}} 1"
        );
        assert!(metrics.contains(&line), "{line} missing from:\n{metrics}");
    }
    c.stop().await;

    let (entries, _) = read_dir(&journal_dir).expect("journal reads back");
    let abandoned: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e.outcome == EntryOutcome::Abandoned)
        .map(|e| {
            (
                e.id.clone().unwrap_or_default(),
                e.detail.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(abandoned.len(), 2, "one concluding line each: {abandoned:?}");
    assert!(
        abandoned
            .iter()
            .any(|(id, d)| id.ends_with("-900") && d.contains("no server carries its key")),
        "{abandoned:?}"
    );
    assert!(
        abandoned
            .iter()
            .any(|(id, d)| id.ends_with("-901") && d.contains("its server is gone")),
        "{abandoned:?}"
    );
    assert!(
        journal.open_intents("minimal-web").is_empty(),
        "nothing left to resolve at the next start"
    );
    let _ = std::fs::remove_dir_all(&policies);
    let _ = std::fs::remove_dir_all(&journal_dir);
}
