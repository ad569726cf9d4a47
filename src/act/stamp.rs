//! Repair stamps: the healing memory kept on the server itself, so it outlives the controller
//! and its journal (a new pod on a new node, a lost volume, another replica taking the lease).
//!
//! Before the executor sends a repair, it merges one metadata key into the server
//! (`POST /servers/{id}/metadata`, which leaves other keys alone):
//!
//! | key              | value                 | written before                                   |
//! |------------------|-----------------------|--------------------------------------------------|
//! | `sloop.heal`     | `RUNG@UNIX`           | a drain, reboot, rebuild or replacement (a rung) |
//! | `sloop.migrated` | `UNIX`                | a live migration                                 |
//!
//! `RUNG` is the policy's rung name (`drain`, `reboot-soft`, `reboot-hard`, `rebuild`,
//! `replace`) and `UNIX` the decision time in whole seconds, e.g. `reboot-hard@1764205200`:
//! at most 24 characters, far below Nova's 255, and nothing but a rung and a time (never a
//! secret). Each observation reads them back into [`RepairStamps`], and the decision core
//! adopts them (`History::adopt_stamps`). Pure: formatting and parsing only.

use crate::{
    decision::Action,
    policy::{Rung, validate::rung_name},
    snapshot::{RepairStamps, Time},
};
use std::collections::BTreeMap;

/// Metadata key of the last ladder rung started on a server: `RUNG@UNIX`.
pub const HEAL_KEY: &str = "sloop.heal";
/// Metadata key of the last live migration decided for a server: `UNIX`.
pub const MIGRATED_KEY: &str = "sloop.migrated";

fn rung_named(s: &str) -> Option<Rung> {
    [
        Rung::Drain,
        Rung::RebootSoft,
        Rung::RebootHard,
        Rung::Rebuild,
        Rung::Replace,
    ]
    .into_iter()
    .find(|r| rung_name(*r) == s)
}

/// The ladder rung an action applies, if it is one.
pub fn rung_of(action: &Action) -> Option<Rung> {
    match action {
        Action::Drain { .. } => Some(Rung::Drain),
        Action::Reboot { hard: false, .. } => Some(Rung::RebootSoft),
        Action::Reboot { hard: true, .. } => Some(Rung::RebootHard),
        Action::Rebuild { .. } => Some(Rung::Rebuild),
        Action::Replace { .. } => Some(Rung::Replace),
        _ => None,
    }
}

/// The stamp to write on the action's server before it is sent, decided at `at`: none for
/// actions that repair or move nothing (scaling, admitting).
pub fn for_action(action: &Action, at: Time) -> Option<(String, BTreeMap<String, String>)> {
    let instance = action.instance()?.clone();
    let secs = at.floor() as i64;
    let (key, value) = match action {
        Action::Migrate { .. } => (MIGRATED_KEY, secs.to_string()),
        a => (HEAL_KEY, format!("{}@{secs}", rung_name(rung_of(a)?))),
    };
    Some((instance, BTreeMap::from([(key.to_owned(), value)])))
}

/// Reads the stamps from a server's metadata; `None` when there are none. A malformed value
/// (edited by hand, another tool) is ignored, never an error: it only loses memory.
pub fn read(metadata: &BTreeMap<String, String>) -> Option<RepairStamps> {
    let secs = |s: &str| s.parse::<i64>().ok().map(|t| t as Time);
    let rung = metadata.get(HEAL_KEY).and_then(|v| {
        let (name, at) = v.split_once('@')?;
        Some((rung_named(name)?, secs(at)?))
    });
    let migrated = metadata.get(MIGRATED_KEY).and_then(|v| secs(v));
    (rung.is_some() || migrated.is_some()).then_some(RepairStamps { rung, migrated })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_stay_small() {
        let reboot = Action::Reboot {
            instance: "a".into(),
            hard: true,
        };
        let (id, meta) = for_action(&reboot, 1_764_205_200.7).expect("a rung");
        assert_eq!(id, "a");
        assert_eq!(meta[HEAL_KEY], "reboot-hard@1764205200");
        let migrate = Action::Migrate {
            instance: "b".into(),
            from_host: "h1".into(),
        };
        let (_, m) = for_action(&migrate, 1_764_205_260.0).expect("a migration");
        assert_eq!(m[MIGRATED_KEY], "1764205260");
        let mut both = meta.clone();
        both.extend(m);
        let s = read(&both).expect("stamps");
        assert_eq!(s.rung, Some((Rung::RebootHard, 1_764_205_200.0)));
        assert_eq!(s.migrated, Some(1_764_205_260.0));
        for r in [Rung::Drain, Rung::RebootSoft, Rung::Rebuild, Rung::Replace] {
            let v = format!("{}@{}", rung_name(r), i64::MAX);
            assert!(v.len() <= 255, "{v}");
            assert_eq!(
                read(&BTreeMap::from([(HEAL_KEY.into(), v)]))
                    .unwrap()
                    .rung
                    .unwrap()
                    .0,
                r
            );
        }
        assert!(for_action(&Action::ScaleOut { count: 1 }, 1.0).is_none());
        assert!(for_action(&Action::Admit { instance: "a".into() }, 1.0).is_none());
    }

    #[test]
    fn malformed_stamps_are_ignored() {
        for v in ["", "reboot", "reboot-soft@", "reboot@12", "reboot-soft@x", "@12"] {
            let meta = BTreeMap::from([(HEAL_KEY.to_owned(), v.to_owned())]);
            assert_eq!(read(&meta), None, "{v:?}");
        }
        let meta = BTreeMap::from([(MIGRATED_KEY.to_owned(), "soon".to_owned())]);
        assert_eq!(read(&meta), None);
        assert_eq!(read(&BTreeMap::new()), None);
    }
}
