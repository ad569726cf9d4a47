//! Rebuilding the budget after a restart. A controller that crash-loops must not get a fresh
//! hourly budget (nor fresh cooldowns) on every start: its first decision adopts the charges
//! of the last hour from what outlives the process.
//!
//! Two sources, because neither sees every action:
//! - the cloud, the source of truth: every server sloop creates carries the idempotency key of
//!   its action (`sloop.action` = `POLICY-UNIXTIME-SEQ/INDEX`), which names the decision time.
//!   It survives anything the controller's disk does, but only for actions that leave a server
//!   (scale-out, replace; a replacement reads as a scale-out, so its cooldown is assumed too,
//!   the safe side).
//! - the action journal, for actions that leave no server (reboot, rebuild, drain, migrate,
//!   scale-in) and for failed attempts, which are charged too. Each action's intent is synced
//!   to it before the first call and its outcome appended after (`act::journaled`), so the one
//!   action in flight when the process is killed is still charged: as the cloud says it ended
//!   (`crate::resolve`: done, or abandoned, then charged as an attempt without effect), or as
//!   applied while the cloud cannot tell (its call may have reached the cloud).
//!
//! Charges found in both (same action ID) count once.
//!
//! The same charges rebuild the healing memory: the ladder rung each instance reached (the
//! latest repair that took effect, or whose outcome never came) and the live migrations
//! started in the last hour, so a restarted controller continues at the next rung instead of
//! starting the ladder over, and does not move a server it has just moved. The hosts those
//! migrations left are remembered as faulty from the first one's decision time, so a server
//! still on such a host (its migration was decided but never started: the executor runs one
//! action at a time and the process died during an earlier one) is moved, not walked down the
//! reboot ladder as if it were faulty on its own. The servers carry the same ladder and
//! migration memory in their repair stamps (`History::adopt_stamps`, adopted by every
//! decision), the hosts migrations left included (by digest), so a lost journal no longer
//! loses it; the journal adds which stamped attempts failed.

use super::{History, LadderState};
use crate::{
    decision::ActionKind,
    policy::{Policy, Rung},
    snapshot::{InstanceId, Time},
};
use std::collections::BTreeSet;

/// One budget charge found outside the process.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// Decision time.
    pub at: Time,
    /// What was attempted.
    pub kind: ActionKind,
    /// The action's idempotency key.
    pub id: String,
    /// Whether it took effect (a failed attempt is charged but starts no cooldown).
    pub took_effect: bool,
    /// The instance a repair or migration concerned (none for scaling).
    pub instance: Option<InstanceId>,
    /// For a migration: the hypervisor it moved the instance off (the host found faulty).
    pub from_host: Option<String>,
}

/// The ladder rung an action kind applies.
pub(super) fn rung_of(kind: ActionKind) -> Option<Rung> {
    match kind {
        ActionKind::Drain => Some(Rung::Drain),
        ActionKind::RebootSoft => Some(Rung::RebootSoft),
        ActionKind::RebootHard => Some(Rung::RebootHard),
        ActionKind::Rebuild => Some(Rung::Rebuild),
        ActionKind::Replace => Some(Rung::Replace),
        _ => None,
    }
}

/// The budget identity of a repair or migration of `instance` decided at `at`, whichever
/// source it comes from: a repair stamp names no action key, so a journal charge and the stamp
/// of the same repair are matched by kind, instance and decision second instead. Stamp charges
/// carry it as their ID (and no instance: the ladder is adopted from the stamps themselves,
/// see `History::adopt_stamps`).
pub fn repair_charge_id(kind: ActionKind, instance: &str, at: Time) -> String {
    format!("stamp:{}:{instance}:{}", kind.label(), at.floor() as i64)
}

/// Parses an idempotency key `POLICY-UNIXTIME-SEQ` (with an optional `/INDEX`) of `policy`:
/// the decision time and the sequence number.
pub fn parse_action_key(policy: &str, key: &str) -> Option<(Time, u64)> {
    let key = key.split('/').next()?;
    let rest = key.strip_prefix(policy)?.strip_prefix('-')?;
    let (time, seq) = rest.split_once('-')?;
    Some((time.parse::<i64>().ok()? as Time, seq.parse().ok()?))
}

impl History {
    /// Adopts the charges of the hour before `now` (each ID once), the cooldowns their
    /// effective scale-outs and scale-ins started, and a sequence number past every adopted
    /// key so new keys never collide with old ones; then the healing memory
    /// ([`History::adopt_healing`]).
    pub fn adopt(&mut self, policy: &Policy, charges: &[Charge], now: Time) {
        self.adopt_budget(&policy.metadata.name, charges, now);
        self.adopt_healing(&policy.spec.healing.ladder, charges, now);
        self.adopt_backoff(charges, now);
    }

    /// Rebuilds the ladder state and migration times of the hour before `now` from the
    /// repairs that took effect (or may have: an intent without outcome): per instance, the
    /// rung of its latest repair, drained if any drain was among them, its latest migration,
    /// and the hosts migrations left (faulty since the first). A state already in the history
    /// that is newer wins.
    pub fn adopt_healing(&mut self, ladder: &[Rung], charges: &[Charge], now: Time) {
        let mut sorted: Vec<&Charge> = charges
            .iter()
            .filter(|c| c.at <= now && now - c.at < 3600.0)
            .collect();
        sorted.sort_by(|a, b| a.at.total_cmp(&b.at));
        for c in sorted {
            let Some(instance) = &c.instance else { continue };
            if c.kind != ActionKind::Migrate && rung_of(c.kind).is_none() {
                continue;
            }
            // The latest attempt of each repair that took no effect is remembered as failed,
            // as `settle` does in-process, so a stamp it left on the server is not taken for
            // a repair that happened (`adopt_stamps`); a later attempt that took effect
            // clears it.
            let key = super::intent_of(c.kind, Some(instance));
            if !c.took_effect {
                self.failed.insert(key, c.at);
                continue;
            }
            self.failed.remove(&key);
            if c.kind == ActionKind::Migrate {
                if let Some(host) = &c.from_host {
                    let since = self.host_faults.entry(host.clone()).or_insert(c.at);
                    *since = since.min(c.at);
                }
                let t = self.migrated_at.entry(instance.clone()).or_insert(c.at);
                *t = t.max(c.at);
                continue;
            }
            let Some(rung) = rung_of(c.kind).and_then(|r| ladder.iter().position(|x| *x == r)) else {
                continue;
            };
            let drained = c.kind == ActionKind::Drain;
            match self.ladders.get_mut(instance) {
                Some(s) if s.since > c.at => s.drained |= drained,
                Some(s) => {
                    s.drained |= drained;
                    if s.since < c.at || rung > s.rung {
                        s.rung = rung;
                        s.since = c.at;
                    }
                }
                None => {
                    self.ladders.insert(
                        instance.clone(),
                        LadderState {
                            rung,
                            since: c.at,
                            drained,
                        },
                    );
                }
            }
        }
    }

    fn adopt_budget(&mut self, policy: &str, charges: &[Charge], now: Time) {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut adopted: Vec<(Time, ActionKind)> = Vec::new();
        for c in charges {
            if let Some((_, seq)) = parse_action_key(policy, &c.id) {
                self.next_action = self.next_action.max(seq);
            }
            let repair = c.instance.as_deref().map(|i| repair_charge_id(c.kind, i, c.at));
            if c.kind == ActionKind::Admit
                || c.at > now
                || now - c.at >= 3600.0
                || !seen.insert(c.id.clone())
                || repair.is_some_and(|r| !seen.insert(r))
            {
                continue;
            }
            adopted.push((c.at, c.kind));
            if c.took_effect {
                let last = match c.kind {
                    ActionKind::ScaleOut => &mut self.last_scale_out,
                    ActionKind::ScaleIn => &mut self.last_scale_in,
                    _ => continue,
                };
                *last = Some(last.map_or(c.at, |t| t.max(c.at)));
            }
        }
        adopted.extend(self.actions.drain(..));
        adopted.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.actions = adopted.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(at: Time, kind: ActionKind, id: &str, took_effect: bool) -> Charge {
        Charge {
            at,
            kind,
            id: id.into(),
            took_effect,
            instance: None,
            from_host: None,
        }
    }

    fn repair(at: Time, kind: ActionKind, instance: &str, took_effect: bool) -> Charge {
        Charge {
            instance: Some(instance.into()),
            ..charge(at, kind, &format!("web-{at}-1"), took_effect)
        }
    }

    fn web() -> Policy {
        let mut p = crate::policy::load_file(std::path::Path::new("policies/election-web.yaml"))
            .expect("shipped policy")
            .policy;
        p.metadata.name = "web".into();
        p
    }

    #[test]
    fn adopts_the_last_hour_once_per_id_with_cooldowns_of_effective_scaling() {
        let mut h = History::default();
        let now = 10_000.0;
        h.adopt(
            &web(),
            &[
                charge(9_000.0, ActionKind::ScaleOut, "web-9000-4", true),
                charge(9_000.0, ActionKind::ScaleOut, "web-9000-4", true),
                charge(9_500.0, ActionKind::RebootSoft, "web-9500-7", false),
                charge(9_600.0, ActionKind::ScaleIn, "web-9600-8", false),
                charge(5_000.0, ActionKind::ScaleOut, "web-5000-2", true),
                charge(9_700.0, ActionKind::Admit, "web-9700-9", true),
            ],
            now,
        );
        assert_eq!(h.actions_last_hour(now), 3);
        assert_eq!(h.last_scale_out, Some(9_000.0));
        assert_eq!(h.last_scale_in, None, "a failed scale-in starts no cooldown");
        assert_eq!(h.next_action, 9);
        assert_eq!(
            parse_action_key("my-web", "my-web-1700000000-12/3"),
            Some((1.7e9, 12))
        );
        assert_eq!(parse_action_key("web", "other-1-2/0"), None);
    }

    #[test]
    fn the_ladder_continues_after_the_latest_repair_that_took_effect_and_migrations_are_remembered() {
        use Rung::*;
        let ladder = [Drain, RebootSoft, RebootHard, Replace];
        let now = 10_000.0;
        let mut h = History::default();
        h.adopt_healing(
            &ladder,
            &[
                repair(9_000.0, ActionKind::Drain, "a", true),
                repair(9_100.0, ActionKind::RebootSoft, "a", true),
                repair(9_400.0, ActionKind::RebootHard, "a", false),
                repair(9_500.0, ActionKind::RebootSoft, "b", true),
                repair(5_000.0, ActionKind::RebootHard, "c", true),
                repair(9_600.0, ActionKind::Migrate, "d", true),
                repair(9_700.0, ActionKind::Migrate, "e", false),
                repair(9_800.0, ActionKind::Rebuild, "f", true),
            ],
            now,
        );
        let a = h.ladders.get("a").expect("a's ladder");
        assert_eq!(
            (a.rung, a.since, a.drained),
            (1, 9_100.0, true),
            "a failed hard reboot advances nothing"
        );
        let b = h.ladders.get("b").expect("b's ladder");
        assert_eq!((b.rung, b.drained), (1, false), "no drain for b");
        assert!(!h.ladders.contains_key("c"), "older than an hour");
        assert!(!h.ladders.contains_key("f"), "rebuild is not on this ladder");
        assert_eq!(h.migrated_at.get("d"), Some(&9_600.0));
        assert!(
            !h.migrated_at.contains_key("e"),
            "a failed migration moved nothing"
        );
    }

    #[test]
    fn a_repair_in_the_journal_and_on_its_server_is_charged_once() {
        let mut h = History::default();
        let stamp = |kind, instance: &str, at: Time| Charge {
            id: repair_charge_id(kind, instance, at),
            ..charge(at, kind, "", true)
        };
        h.adopt(
            &web(),
            &[
                repair(9_100.4, ActionKind::RebootSoft, "a", true),
                stamp(ActionKind::RebootSoft, "a", 9_100.0),
                stamp(ActionKind::RebootHard, "b", 9_200.0),
                stamp(ActionKind::Migrate, "b", 9_300.0),
            ],
            10_000.0,
        );
        assert_eq!(
            h.actions_last_hour(10_000.0),
            3,
            "a's reboot once, b's two from stamps"
        );
        assert!(
            !h.ladders.contains_key("b"),
            "the ladder comes from the stamps themselves, not their charges"
        );
    }

    #[test]
    fn the_hosts_journalled_migrations_left_stay_faulty_from_the_first_one() {
        let off = |at: Time, instance: &str, host: &str, took_effect: bool| Charge {
            from_host: Some(host.into()),
            ..repair(at, ActionKind::Migrate, instance, took_effect)
        };
        let mut h = History::default();
        h.adopt_healing(
            &[Rung::Drain],
            &[
                off(9_700.0, "e", "compute1", true),
                off(9_600.0, "d", "compute1", true),
                off(9_650.0, "f", "compute2", false),
            ],
            9_800.0,
        );
        assert_eq!(h.host_faults.get("compute1"), Some(&9_600.0));
        assert!(h.host_fault_stands("compute1", 9_800.0));
        assert!(
            !h.host_faults.contains_key("compute2"),
            "a failed migration moved nothing"
        );
    }

    #[test]
    fn a_newer_ladder_state_in_memory_is_kept() {
        let mut h = History::default();
        h.ladders.insert(
            "a".into(),
            LadderState {
                rung: 2,
                since: 9_900.0,
                drained: false,
            },
        );
        h.adopt_healing(
            &[Rung::Drain, Rung::RebootSoft, Rung::RebootHard],
            &[
                repair(9_000.0, ActionKind::Drain, "a", true),
                repair(9_100.0, ActionKind::RebootSoft, "a", true),
            ],
            10_000.0,
        );
        let a = h.ladders.get("a").expect("kept");
        assert_eq!((a.rung, a.since, a.drained), (2, 9_900.0, true));
    }
}
