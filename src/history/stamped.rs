//! Adopting the healing memory the servers carry. Before every repair the executor stamps the
//! server with the rung and the decision time (`sloop.heal`), and before every live migration
//! with its time (`sloop.migrated`), see `act::stamp`. The stamps come back in each
//! observation, and every decision adopts them, so the ladder survives what the journal does
//! not: a fresh volume, a new node, a second replica taking over the lease, a follower whose
//! dry-run passes kept no ladder. Pure: a function of the snapshot's inventory.
//!
//! Newest wins: a stamp replaces the remembered state of its instance only when it is newer
//! (in-process, the remembered state is never older than its own stamp). A stamp of an
//! attempt that took no effect (its intent is in [`History::failed`] at or after the stamp's
//! time, from `settle` or from the journal's failed outcomes) is not a repair and is ignored.
//! After a lost journal that knowledge is gone too, and such a stamp counts as a repair that
//! happened: the side an intent without outcome is taken on as well.
//!
//! A migration stamp also names, by digest, the host it moved the server off: that host was
//! found faulty. Matched against the hosts the inventory shows, it restores
//! [`History::host_faults`] as the journal would (`adopt_healing`): faulty since the first
//! believed migration off it, and only while such a fault still stands
//! ([`HOST_FAULT_HOLD`]). So a server still on that host when the controller restarts between
//! two migrations with its journal lost is moved too, not walked down the reboot ladder.
//! Unlike ladders, a fault is never renewed by a newer stamp (each migration off the host would
//! otherwise extend it), and a fault already remembered is kept: a stale one would otherwise
//! come back from the stamps after `prune` dropped it, and hold back the first diagnosis of a
//! new fault on that host.

use super::{HOST_FAULT_HOLD, History, LadderState, intent_of};
use crate::{
    decision::ActionKind,
    policy::Rung,
    snapshot::{HostDigest, Instance, Time},
};
use std::collections::BTreeMap;

/// How far from `now` a stamp is believed: the budget window, which is also how long the
/// planner keeps a recovered instance's ladder. A stamp from further in the future than that
/// is garbage, not clock skew between replicas.
const STAMP_MEMORY: f64 = 3600.0;

/// The action kind that applies a rung.
pub fn kind_of(r: Rung) -> ActionKind {
    match r {
        Rung::Drain => ActionKind::Drain,
        Rung::RebootSoft => ActionKind::RebootSoft,
        Rung::RebootHard => ActionKind::RebootHard,
        Rung::Rebuild => ActionKind::Rebuild,
        Rung::Replace => ActionKind::Replace,
    }
}

impl History {
    /// Adopts the ladder rungs (positions in `ladder`; a rung the policy no longer has is
    /// skipped), migration times and the hosts those migrations left, stamped on `inventory`'s
    /// servers within the hour around `now`.
    pub fn adopt_stamps(&mut self, ladder: &[Rung], inventory: &[Instance], now: Time) {
        let hosts: BTreeMap<HostDigest, &str> = inventory
            .iter()
            .filter_map(|i| i.host.as_deref())
            .map(|h| (HostDigest::of(h), h))
            .collect();
        let mut left: BTreeMap<&str, Time> = BTreeMap::new();
        for inst in inventory {
            let Some(stamps) = &inst.stamps else { continue };
            let believed = |kind: ActionKind, at: Time| {
                (now - at).abs() < STAMP_MEMORY
                    && self
                        .failed
                        .get(&intent_of(kind, Some(&inst.id)))
                        .is_none_or(|failed| *failed < at)
            };
            let rung = stamps
                .rung
                .filter(|(r, at)| believed(kind_of(*r), *at))
                .and_then(|(r, at)| Some((ladder.iter().position(|x| *x == r)?, r, at)));
            let migrated = stamps.migrated.filter(|at| believed(ActionKind::Migrate, *at));
            if let Some((rung, r, at)) = rung {
                let drained = r == Rung::Drain;
                match self.ladders.get_mut(&inst.id) {
                    Some(s) if s.since >= at => {}
                    Some(s) => {
                        s.rung = rung;
                        s.since = at;
                        s.drained |= drained;
                    }
                    None => {
                        self.ladders.insert(
                            inst.id.clone(),
                            LadderState {
                                rung,
                                since: at,
                                drained,
                            },
                        );
                    }
                }
            }
            if let Some(at) = migrated {
                let t = self.migrated_at.entry(inst.id.clone()).or_insert(at);
                *t = t.max(at);
                if let Some(host) = stamps.migrated_from.and_then(|d| hosts.get(&d)) {
                    let since = left.entry(host).or_insert(at);
                    *since = since.min(at);
                }
            }
        }
        for (host, since) in left {
            if now - since < HOST_FAULT_HOLD {
                self.host_faults.entry(host.to_owned()).or_insert(since);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{InstanceStatus, RepairStamps};
    use Rung::*;

    const LADDER: [Rung; 4] = [Drain, RebootSoft, RebootHard, Replace];

    fn stamped(id: &str, rung: Option<(Rung, Time)>, migrated: Option<Time>) -> Instance {
        on_host(id, None, rung, migrated, None)
    }

    fn on_host(
        id: &str,
        host: Option<&str>,
        rung: Option<(Rung, Time)>,
        migrated: Option<Time>,
        from: Option<&str>,
    ) -> Instance {
        Instance {
            id: id.into(),
            name: id.into(),
            status: InstanceStatus::Active,
            host: host.map(Into::into),
            addresses: Vec::new(),
            created_at: 0.0,
            active_since: None,
            member: None,
            created_by: None,
            stamps: Some(RepairStamps {
                rung,
                migrated,
                migrated_from: from.map(HostDigest::of),
            }),
            fault: None,
            replaces: None,
        }
    }

    #[test]
    fn a_fresh_history_continues_the_ladder_from_the_servers_stamps() {
        let now = 10_000.0;
        let mut h = History::default();
        h.adopt_stamps(
            &LADDER,
            &[
                stamped("a", Some((RebootSoft, 9_100.0)), None),
                stamped("b", Some((Drain, 9_900.0)), Some(9_500.0)),
                stamped("c", Some((RebootHard, 5_000.0)), Some(5_000.0)),
                stamped("d", Some((Rebuild, 9_800.0)), None),
                stamped("e", None, Some(9_950.0)),
            ],
            now,
        );
        let a = h.ladders.get("a").expect("a's ladder");
        assert_eq!((a.rung, a.since, a.drained), (1, 9_100.0, false));
        let b = h.ladders.get("b").expect("b's ladder");
        assert_eq!((b.rung, b.drained), (0, true), "a drain stamp marks it drained");
        assert_eq!(h.migrated_at.get("b"), Some(&9_500.0));
        assert!(!h.ladders.contains_key("c"), "older than an hour");
        assert!(!h.migrated_at.contains_key("c"), "older than an hour");
        assert!(!h.ladders.contains_key("d"), "rebuild is not on this ladder");
        assert_eq!(h.migrated_at.get("e"), Some(&9_950.0));
        assert!(!h.ladders.contains_key("e"));
    }

    #[test]
    fn newest_wins_between_memory_and_stamps() {
        let now = 10_000.0;
        let mut h = History::default();
        let state = |rung, since| LadderState {
            rung,
            since,
            drained: false,
        };
        h.ladders.insert("newer-in-memory".into(), state(2, 9_600.5));
        h.ladders.insert("same-pass".into(), state(1, 9_700.25));
        h.ladders.insert("older-in-memory".into(), state(1, 9_000.0));
        h.migrated_at.insert("moved".into(), 9_800.0);
        h.adopt_stamps(
            &LADDER,
            &[
                stamped("newer-in-memory", Some((RebootSoft, 9_500.0)), None),
                stamped("same-pass", Some((RebootSoft, 9_700.0)), None),
                stamped("older-in-memory", Some((RebootHard, 9_400.0)), Some(9_100.0)),
                stamped("moved", None, Some(9_700.0)),
            ],
            now,
        );
        assert_eq!(h.ladders["newer-in-memory"], state(2, 9_600.5));
        assert_eq!(
            h.ladders["same-pass"],
            state(1, 9_700.25),
            "its own stamp, floored"
        );
        assert_eq!(h.ladders["older-in-memory"], state(2, 9_400.0));
        assert_eq!(h.migrated_at["moved"], 9_800.0);
        assert_eq!(h.migrated_at["older-in-memory"], 9_100.0);
    }

    #[test]
    fn a_stamp_of_an_attempt_that_took_no_effect_is_not_a_repair() {
        let now = 10_000.0;
        let mut h = History::default();
        h.failed.insert("reboot-hard:a".into(), 9_400.6);
        h.failed.insert("migrate:a".into(), 9_300.0);
        h.failed.insert("reboot-soft:b".into(), 9_000.0);
        h.adopt_stamps(
            &LADDER,
            &[
                stamped("a", Some((RebootHard, 9_400.0)), Some(9_300.0)),
                stamped("b", Some((RebootSoft, 9_200.0)), None),
            ],
            now,
        );
        assert!(!h.ladders.contains_key("a"), "the hard reboot failed");
        assert!(!h.migrated_at.contains_key("a"), "the migration failed");
        assert_eq!(
            h.ladders["b"].rung, 1,
            "a later attempt of the same rung took effect"
        );
    }

    #[test]
    fn the_journal_says_which_stamped_attempts_failed() {
        let charge = |at: Time, kind, took_effect| super::super::Charge {
            at,
            kind,
            id: format!("web-{at}-1"),
            took_effect,
            instance: Some("a".into()),
            from_host: None,
        };
        let mut h = History::default();
        h.adopt_healing(
            &LADDER,
            &[
                charge(9_100.0, ActionKind::RebootSoft, true),
                charge(9_400.0, ActionKind::RebootHard, false),
            ],
            10_000.0,
        );
        h.adopt_stamps(
            &LADDER,
            &[stamped("a", Some((RebootHard, 9_400.0)), None)],
            10_000.0,
        );
        let a = &h.ladders["a"];
        assert_eq!(
            (a.rung, a.since),
            (1, 9_100.0),
            "the failed hard reboot is not adopted"
        );
    }

    #[test]
    fn the_hosts_stamped_migrations_left_are_faulty_from_the_first_while_that_stands() {
        let now = 10_000.0;
        let mut h = History::default();
        h.failed.insert("migrate:failed".into(), 9_950.0);
        h.adopt_stamps(
            &LADDER,
            &[
                // Two servers moved off h1 (now on h2), one still there.
                on_host("a", Some("h2"), None, Some(9_700.0), Some("h1")),
                on_host("b", Some("h2"), None, Some(9_600.0), Some("h1")),
                on_host("c", Some("h1"), None, None, None),
                // Off h3 long ago: that fault no longer stands.
                on_host("d", Some("h2"), None, Some(9_300.0), Some("h3")),
                on_host("e", Some("h3"), None, None, None),
                // Off a host this inventory does not show: nothing to match.
                on_host("f", Some("h2"), None, Some(9_900.0), Some("h9")),
                // An old stamp names no host.
                on_host("g", Some("h2"), None, Some(9_900.0), None),
                // Its migration failed: h4 was not left.
                on_host("failed", Some("h4"), None, Some(9_900.0), Some("h4")),
            ],
            now,
        );
        assert_eq!(h.host_faults, BTreeMap::from([("h1".to_owned(), 9_600.0)]));
        assert!(h.host_fault_stands("h1", now));
        assert_eq!(h.migrated_at.get("g"), Some(&9_900.0), "an old stamp still reads");
    }

    #[test]
    fn a_remembered_host_fault_is_kept_and_never_renewed_by_stamps() {
        let now = 10_000.0;
        let mut h = History::default();
        h.host_faults.insert("h1".into(), 9_800.0);
        let inventory = [
            on_host("a", Some("h2"), None, Some(9_500.0), Some("h1")),
            on_host("c", Some("h1"), None, None, None),
        ];
        h.adopt_stamps(&LADDER, &inventory, now);
        assert_eq!(h.host_faults["h1"], 9_800.0, "memory wins over an older stamp");
        // Later, the fault is over and pruned: the old stamp does not bring it back.
        let later = 10_200.0;
        h.host_faults.clear();
        h.adopt_stamps(&LADDER, &inventory, later);
        assert!(h.host_faults.is_empty(), "{:?}", h.host_faults);
    }
}
