//! An intent adopted as applied that later turns out never to have reached the cloud. A
//! restarted controller adopts each intent without outcome as applied (the cautious side)
//! until the cloud has answered what became of it (`crate::resolve`); when that answer comes a
//! pass or more after the adoption (the action query failed at first) and says abandoned, the
//! repair is put back as an attempt that took no effect, exactly as if it had been known at
//! adoption: its ladder rung or migration is forgotten (the ladder retries the same rung), its
//! stamp is no longer believed, and it stays charged to the budget. Pure.

use super::{Charge, History, intent_of};
use crate::{decision::ActionKind, policy::Rung, snapshot::Time};

impl History {
    /// Takes back the repair or migration `abandoned` (a charge adopted as applied) on the
    /// cloud's word that it never happened. Only state that this attempt set is undone: a
    /// newer rung decided since stands. The instance's earlier repairs are re-adopted from
    /// `charges` (the journal's and the stamps' charges adopted at the restart).
    pub fn abandon(&mut self, ladder: &[Rung], charges: &[Charge], abandoned: &Charge, now: Time) {
        let Some(instance) = &abandoned.instance else {
            return;
        };
        let key = intent_of(abandoned.kind, Some(instance));
        if self.failed.get(&key).is_some_and(|t| *t >= abandoned.at) {
            return;
        }
        // Set by this attempt: from its journal charge (the decision time) or its stamp (the
        // same time in whole seconds).
        let from_it = |t: Time| t >= abandoned.at.floor() && t <= abandoned.at;
        let undone = if abandoned.kind == ActionKind::Migrate {
            self.migrated_at.get(instance).is_some_and(|t| from_it(*t))
                && self.migrated_at.remove(instance).is_some()
        } else {
            self.ladders.get(instance).is_some_and(|s| from_it(s.since))
                && self.ladders.remove(instance).is_some()
        };
        if undone {
            let earlier: Vec<Charge> = charges
                .iter()
                .filter(|c| {
                    c.instance.as_ref() == Some(instance) && c.id != abandoned.id && c.at < abandoned.at
                })
                .cloned()
                .collect();
            // Re-adopting must not touch what failed in-process since the restart.
            let failed = self.failed.clone();
            self.adopt_healing(ladder, &earlier, now);
            self.failed = failed;
        }
        self.failed.insert(key, abandoned.at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{history::LadderState, snapshot::Instance};
    use Rung::*;

    const LADDER: [Rung; 4] = [Drain, RebootSoft, RebootHard, Replace];

    fn repair(at: Time, kind: ActionKind, took_effect: bool) -> Charge {
        Charge {
            at,
            kind,
            id: format!("web-{at}-1"),
            took_effect,
            instance: Some("a".into()),
            from_host: None,
        }
    }

    fn stamped(rung: Rung, at: Time) -> Instance {
        Instance {
            id: "a".into(),
            name: "a".into(),
            status: crate::snapshot::InstanceStatus::Active,
            host: None,
            addresses: Vec::new(),
            created_at: 0.0,
            active_since: None,
            member: None,
            created_by: None,
            stamps: Some(crate::snapshot::RepairStamps {
                rung: Some((rung, at)),
                ..Default::default()
            }),
            fault: None,
            replaces: None,
        }
    }

    #[test]
    fn a_late_abandoned_rung_is_forgotten_so_the_ladder_retries_it() {
        let now = 10_000.0;
        let charges = [
            repair(9_000.0, ActionKind::Drain, true),
            repair(9_500.4, ActionKind::RebootSoft, true),
        ];
        let mut h = History::default();
        h.adopt_healing(&LADDER, &charges, now);
        h.adopt_stamps(&LADDER, &[stamped(RebootSoft, 9_500.0)], now);
        assert_eq!(h.ladders["a"].rung, 1, "adopted as applied at first");
        h.actions.push_back((9_500.4, ActionKind::RebootSoft));
        h.abandon(&LADDER, &charges, &charges[1], now);
        let a = &h.ladders["a"];
        assert_eq!(
            (a.rung, a.since, a.drained),
            (0, 9_000.0, true),
            "back at the drain"
        );
        h.adopt_stamps(&LADDER, &[stamped(RebootSoft, 9_500.0)], now);
        assert_eq!(h.ladders["a"].rung, 0, "its stamp is no longer believed");
        assert_eq!(h.actions_last_hour(now), 1, "still charged");
        let retry = crate::decision::Action::Reboot {
            instance: "a".into(),
            hard: false,
        };
        assert_eq!(
            h.retry_charge(&retry, now),
            Some(9_500.4),
            "a retry reuses its charge"
        );
    }

    #[test]
    fn a_newer_rung_decided_since_stands() {
        let now = 10_000.0;
        let charges = [repair(9_500.0, ActionKind::RebootSoft, true)];
        let mut h = History::default();
        h.ladders.insert(
            "a".into(),
            LadderState {
                rung: 2,
                since: 9_900.0,
                drained: false,
            },
        );
        h.abandon(&LADDER, &charges, &charges[0], now);
        assert_eq!(h.ladders["a"].rung, 2);
        assert_eq!(h.failed.get("reboot-soft:a"), Some(&9_500.0));
    }

    #[test]
    fn an_abandoned_migration_is_forgotten() {
        let now = 10_000.0;
        let charges = [repair(9_500.0, ActionKind::Migrate, true)];
        let mut h = History::default();
        h.adopt_healing(&LADDER, &charges, now);
        assert!(h.migrated_at.contains_key("a"));
        h.abandon(&LADDER, &charges, &charges[0], now);
        assert!(!h.migrated_at.contains_key("a"), "so it is migrated again");
    }
}
