//! One planned action executed between its two journal lines: the intent, written durably
//! before the first call, and the outcome after the last. A `kill -9` between them leaves the
//! intent alone in the journal; the next incarnation charges it to its budget
//! (`journal::charges`, `History::adopt`) and asks the cloud what became of it
//! (`crate::resolve`): done, or abandoned (then retried as an attempt without effect). The
//! cloud stays the source of truth for what exists; the journal only remembers what was
//! attempted.
//!
//! Shared by `sloop run` and the reliability harness, so the write order the crash tests check
//! is the one the controller uses.

use super::{
    Compute, Traffic,
    executor::{self, Outcome, PassState},
};
use crate::{
    clock::Stopwatch,
    decision::PlannedAction,
    journal::{ActionSink, EntryOutcome, JournalEntry},
    policy::Policy,
    snapshot::{Snapshot, Time},
};

/// The journal entry of `planned`, decided at `now`, with what became of it.
pub fn entry(
    policy: &str,
    now: Time,
    planned: &PlannedAction,
    outcome: EntryOutcome,
    detail: Option<String>,
    duration_ms: Option<f64>,
) -> JournalEntry {
    JournalEntry {
        at: now,
        policy: policy.to_owned(),
        id: Some(planned.id.clone()),
        kind: planned.action.kind(),
        action: planned.action.clone(),
        cause: planned.cause,
        reason: None,
        outcome,
        detail,
        duration_ms,
        evidence: planned.evidence.clone(),
    }
}

/// Executes `planned` (decided at `now`): journals the intent through `sink` unless this is a
/// dry run (and returns it `Skipped`, unexecuted, when the intent cannot be written), executes, and returns the outcome with its journal entry (`Done`, `Failed`, or
/// `Would` in a dry run), which the caller records once it has counted it. `pass` carries the
/// breaker across the actions of one pass.
#[allow(clippy::too_many_arguments)]
pub async fn execute_one<C: Compute + Traffic>(
    policy: &Policy,
    snap: &Snapshot,
    planned: &PlannedAction,
    cloud: &mut C,
    pass: &mut PassState,
    sink: &dyn ActionSink,
    now: Time,
    dry_run: bool,
) -> (Outcome, JournalEntry) {
    let name = &policy.metadata.name;
    if !dry_run && let Err(e) = sink.intend(&entry(name, now, planned, EntryOutcome::Started, None, None)) {
        // Without a durable intent a crash could leave an action nobody knows about (charged
        // nowhere, resolved never): do not start it.
        let why = format!("not executed: its intent could not be written to the journal ({e})");
        let outcome = Outcome {
            id: planned.id.clone(),
            result: Err(why.clone()),
            created: Vec::new(),
        };
        return (
            outcome,
            entry(name, now, planned, EntryOutcome::Skipped, Some(why), None),
        );
    }
    let watch = Stopwatch::start();
    let outcome = executor::execute_in(policy, snap, planned, cloud, pass).await;
    let ms = Some(watch.elapsed().as_secs_f64() * 1000.0);
    let e = match &outcome.result {
        Err(err) => entry(name, now, planned, EntryOutcome::Failed, Some(err.clone()), ms),
        Ok(()) if dry_run => entry(name, now, planned, EntryOutcome::Would, None, ms),
        Ok(()) => entry(name, now, planned, EntryOutcome::Done, None, ms),
    };
    (outcome, e)
}
