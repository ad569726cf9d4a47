//! The remedy a drained server waits for: follow it in the snapshots until the cloud has
//! completed it and fresh probes have verified the server, and drain a relapsing server before
//! its next remedy. Pure. See `docs/gray-failures.md`.

use super::{Builder, Gate, broken::takes_traffic};
use crate::{
    decision::{Action, Cause, Evidence},
    history::{LadderState, Remedy, kind_of},
    judge::diagnose::in_rotation,
    policy::{Policy, Rung},
    snapshot::{Instance, InstanceStatus, Snapshot},
};

/// A repair stamp is written on the server right before its remedy is called, and may move
/// Nova's `updated` time (which the inventory reads as "ACTIVE since") within the first
/// seconds; a restart takes longer than this. So a server ACTIVE since later than this after
/// the remedy's decision has restarted, even when no snapshot caught it rebooting.
const STAMP_SLACK: f64 = 5.0;

/// Follows the remedy each drained instance waits for: which rung it is, whether the cloud
/// took it up, when the server was ACTIVE again after it, and when fresh probes verified it.
/// The record lives in the history (`History::remedies`), so the decision log says why a server
/// came back, or why it did not.
pub(super) fn follow_remedies(policy: &Policy, snap: &Snapshot, probe: Option<&str>, b: &mut Builder<'_>) {
    let ladder = &policy.spec.healing.ladder;
    let pass_needed = policy.spec.healing.unhealthy_after.failures.max(1) as usize;
    let rung_timeout = policy.spec.healing.rung_timeout.secs();
    let history = &mut *b.history;
    let waiting: Vec<(String, Rung, f64)> = history
        .ladders
        .iter()
        .filter(|(_, s)| s.drained)
        .filter_map(|(id, s)| Some((id.clone(), *ladder.get(s.rung)?, s.since)))
        .filter(|(_, rung, _)| *rung != Rung::Drain)
        .collect();
    history
        .remedies
        .retain(|id, _| waiting.iter().any(|(w, _, _)| w == id));
    for (id, rung, decided) in waiting {
        let record = history.remedies.entry(id.clone()).or_insert_with(|| Remedy {
            rung,
            decided,
            seen_running: false,
            completed: None,
            verified: None,
        });
        if record.rung != rung || record.decided != decided {
            *record = Remedy {
                rung,
                decided,
                seen_running: false,
                completed: None,
                verified: None,
            };
        }
        let Some(inst) = snap.inventory.iter().find(|i| i.id == id) else {
            continue;
        };
        let running = snap
            .in_flight
            .iter()
            .any(|f| f.instance.as_deref() == Some(id.as_str()));
        if inst.status != InstanceStatus::Active || running {
            record.seen_running = true;
            record.completed = None;
            record.verified = None;
            continue;
        }
        if record.completed.is_none()
            && let Some(active) = inst.active_since
            && active > decided
            && (record.seen_running || active - decided > STAMP_SLACK)
        {
            record.completed = Some(active);
        }
        // A restart (or a pass interval longer than the remedy) can miss the server rebooting,
        // and a quick restart keeps its ACTIVE time within the stamp's slack. Once the rung's
        // whole time has passed with nothing in flight and the server ACTIVE, the cloud is done
        // with it: the probes taken since decide whether it serves again.
        if record.completed.is_none() && snap.observed_at - decided >= rung_timeout {
            record.completed = Some(inst.active_since.unwrap_or(decided).max(decided));
        }
        let Some(completed) = record.completed else {
            continue;
        };
        // Verified: from every location that probes it, its last probes passed, and enough of
        // them were taken after the remedy completed.
        let series: Vec<_> = snap
            .instances_probed
            .iter()
            .filter(|s| s.instance == id && Some(&*s.key.probe) == probe)
            .collect();
        let verified = match probe {
            None => true,
            Some(_) => {
                !series.is_empty()
                    && series.iter().all(|s| {
                        s.consecutive_failures == 0
                            && s.recent.iter().filter(|x| x.ok && x.at > completed).count() >= pass_needed
                    })
            }
        };
        if verified {
            record.verified = record.verified.or(Some(snap.observed_at));
        }
    }
}

/// Why a drained instance may not serve yet, or `None` when its remedy has run and its probes
/// verified it since.
pub(super) fn awaiting_remedy(b: &Builder<'_>, id: &str) -> Option<String> {
    let state = b.history.ladders.get(id).filter(|s| s.drained)?;
    let Some(record) = b.history.remedies.get(id) else {
        return Some(format!(
            "it was drained by the ladder ({} rung(s) in) and no remedy has run on it yet",
            state.rung + 1
        ));
    };
    let rung = kind_of(record.rung).label();
    match (record.completed, record.verified) {
        (None, _) => Some(format!("its {rung} has not completed yet")),
        (Some(_), None) => Some(format!(
            "its {rung} completed; its probes have not verified it since"
        )),
        (Some(_), Some(_)) => None,
    }
}

/// A server back in rotation after a remedy that relapses is drained again before its next
/// remedy: a reboot must not hit a server that takes traffic. The ladder keeps its position
/// (the next pass escalates from the remedy that did not hold), and the drain is the rung's
/// first step, not a rung of its own.
pub(super) fn redrain_first(
    policy: &Policy,
    inst: &Instance,
    state: Option<&LadderState>,
    rung: Rung,
    evidence: &Evidence,
    gate: &mut Gate<'_>,
    b: &mut Builder<'_>,
) -> bool {
    let Some(state) = state else {
        return false;
    };
    if state.drained
        || rung == Rung::Drain
        || !policy.spec.healing.ladder.contains(&Rung::Drain)
        || !in_rotation(policy, inst)
        || !takes_traffic(policy, inst)
    {
        return false;
    }
    let action = Action::Drain {
        instance: inst.id.clone(),
    };
    let mut evidence = evidence.clone();
    evidence.summary = format!("{} (drained before its {rung:?})", evidence.summary);
    if b.propose(gate, action, Cause::InstanceFault, evidence) {
        b.history.ladders.insert(
            inst.id.clone(),
            LadderState {
                drained: true,
                ..state.clone()
            },
        );
    }
    true
}
