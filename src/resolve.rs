//! What became of the actions a killed process left half-done. Each action's intent is synced
//! to the journal before its first call (`act::journaled`); an intent that no outcome line
//! follows was in flight when the process died. The next incarnation resolves each one against
//! the cloud, the source of truth, once its first observation is in:
//!
//! | action                         | done when                                              |
//! |--------------------------------|--------------------------------------------------------|
//! | scale-out, replace             | a server carries the action's key (`sloop.action`)     |
//! | scale-in                       | its servers are gone or being deleted                  |
//! | reboot, rebuild, live-migrate  | the cloud recorded that action on the server since the |
//! |                                | intent ([`SKEW`] earlier, for clock skew)              |
//! | drain, admit                   | the server's pool member has the weight it was set to  |
//!
//! Otherwise it is **abandoned**: charged to the budget (a crash loop stays bounded) but it
//! changed nothing, so a repair is retried at the same rung. When the cloud cannot be asked
//! (the action query fails), the intent waits for the next pass, up to [`QUERY_PASSES`]
//! passes, and is then reported **unknown** and taken as done: the cautious side, as before
//! resolution existed (the call may have reached the cloud).
//!
//! Pure: the rules see the snapshot and the cloud's answer as data; the query is made by the
//! reconcile loop (`Reconciler::decide`).

use crate::{
    act::{NOVA_LIVE_MIGRATION, NOVA_REBOOT, NOVA_REBUILD, ServerAction},
    decision::Action,
    journal::{EntryOutcome, JournalEntry},
    snapshot::{InstanceStatus, Snapshot, Time},
};

/// How much earlier than the intent's decision time a recorded action may start and still be
/// its call: the skew between this controller's clock and the cloud's.
pub const SKEW: f64 = 10.0;

/// Passes an intent waits for the cloud to answer its query before it is reported unknown.
pub const QUERY_PASSES: u32 = 5;

/// What became of an interrupted action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// The cloud shows it happened.
    Done,
    /// The cloud shows it never reached it.
    Abandoned,
    /// The cloud could not be asked; taken as done.
    Unknown,
}

impl Resolution {
    /// Label for metrics (`sloop_interrupted_actions_total{resolution}`) and logs.
    pub fn label(self) -> &'static str {
        match self {
            Resolution::Done => "done",
            Resolution::Abandoned => "abandoned",
            Resolution::Unknown => "unknown",
        }
    }
}

/// One resolved intent: the journal line that concludes it, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The outcome line (same ID and decision time as the intent).
    pub entry: JournalEntry,
    /// How it was resolved.
    pub resolution: Resolution,
}

/// The server whose recorded actions decide `intent`, and since when to look: for a reboot,
/// rebuild or live migration of a server that still exists. `None` when the snapshot alone
/// decides.
pub fn query_for<'a>(intent: &'a JournalEntry, snap: &Snapshot) -> Option<(&'a str, Time)> {
    let (instance, _) = nova_action(&intent.action)?;
    snap.inventory
        .iter()
        .any(|i| i.id == *instance)
        .then_some((instance.as_str(), intent.at - SKEW))
}

/// The instance and Nova's name of the call an action makes, for those the snapshot cannot
/// tell apart from a call never sent.
fn nova_action(action: &Action) -> Option<(&String, &'static str)> {
    match action {
        Action::Reboot { instance, .. } => Some((instance, NOVA_REBOOT)),
        Action::Rebuild { instance } => Some((instance, NOVA_REBUILD)),
        Action::Migrate { instance, .. } => Some((instance, NOVA_LIVE_MIGRATION)),
        _ => None,
    }
}

/// Resolves `intent` from the snapshot and, for a reboot, rebuild or migration, the actions the
/// cloud recorded on its server since [`query_for`]'s time (`None`: not asked, or the query
/// failed). `None` when the answer is needed and missing: the caller retries next pass.
pub fn rule(intent: &JournalEntry, snap: &Snapshot, recorded: Option<&[ServerAction]>) -> Option<Resolved> {
    let id = intent.id.as_deref().unwrap_or("");
    let find = |i: &str| snap.inventory.iter().find(|x| x.id == i);
    let keyed = |tag: &str| {
        snap.inventory
            .iter()
            .filter(|i| {
                i.created_by
                    .as_deref()
                    .is_some_and(|k| k.split('/').next() == Some(tag))
            })
            .count()
    };
    let (resolution, detail) = match &intent.action {
        Action::ScaleOut { count } => match keyed(id) {
            0 => (Resolution::Abandoned, "no server carries its key".to_owned()),
            n if n as u32 >= *count => (Resolution::Done, format!("its {n} server(s) exist")),
            n => (Resolution::Done, format!("{n} of its {count} servers exist")),
        },
        Action::Replace { .. } => match keyed(id) {
            0 => (Resolution::Abandoned, "no replacement carries its key".to_owned()),
            _ => (Resolution::Done, "its replacement exists".to_owned()),
        },
        Action::ScaleIn { instances } => {
            let gone = instances
                .iter()
                .filter(|i| find(i).is_none_or(|x| x.status == InstanceStatus::Deleting))
                .count();
            match gone {
                0 => (
                    Resolution::Abandoned,
                    "its servers are all still there".to_owned(),
                ),
                n if n == instances.len() => (Resolution::Done, "its servers are gone".to_owned()),
                n => (
                    Resolution::Done,
                    format!("{n} of its {} servers are gone", instances.len()),
                ),
            }
        }
        Action::Drain { instance } | Action::Admit { instance } => {
            let drain = matches!(intent.action, Action::Drain { .. });
            match find(instance).map(|i| i.member) {
                None => (Resolution::Abandoned, "its server is gone".to_owned()),
                Some(Some(m)) if (m.weight == 0) == drain => (
                    Resolution::Done,
                    format!("its pool member has weight {}", m.weight),
                ),
                Some(m) => (
                    Resolution::Abandoned,
                    match m {
                        Some(m) => format!("its pool member still has weight {}", m.weight),
                        None => "its server has no pool member".to_owned(),
                    },
                ),
            }
        }
        a => {
            let (instance, name) = nova_action(a)?;
            if find(instance).is_none() {
                (Resolution::Abandoned, "its server is gone".to_owned())
            } else {
                let since = intent.at - SKEW;
                match recorded?.iter().find(|r| r.action == name && r.started >= since) {
                    Some(r) => (
                        Resolution::Done,
                        format!(
                            "the cloud recorded {name} at {:.0}{}",
                            r.started,
                            r.request_id
                                .as_deref()
                                .map(|q| format!(" ({q})"))
                                .unwrap_or_default()
                        ),
                    ),
                    None => (
                        Resolution::Abandoned,
                        format!("the cloud recorded no {name} since the intent"),
                    ),
                }
            }
        }
    };
    Some(resolved(intent, resolution, &detail))
}

/// The intent reported unknown after [`QUERY_PASSES`] failed queries (`error` the last).
pub fn unknown(intent: &JournalEntry, error: &str) -> Resolved {
    resolved(
        intent,
        Resolution::Unknown,
        &format!("the cloud could not be asked ({error}); taken as done"),
    )
}

fn resolved(intent: &JournalEntry, resolution: Resolution, detail: &str) -> Resolved {
    let outcome = match resolution {
        Resolution::Abandoned => EntryOutcome::Abandoned,
        Resolution::Done | Resolution::Unknown => EntryOutcome::Done,
    };
    let prefix = match resolution {
        Resolution::Done => "confirmed after restart",
        Resolution::Abandoned => "interrupted, abandoned",
        Resolution::Unknown => "interrupted, outcome unknown",
    };
    Resolved {
        entry: JournalEntry {
            outcome,
            detail: Some(format!("{prefix}: {detail}")),
            duration_ms: None,
            ..intent.clone()
        },
        resolution,
    }
}

#[cfg(test)]
mod tests;
