//! Repair stamps: the healing memory kept on the server itself, so it outlives the controller
//! and its journal (a new pod on a new node, a lost volume, another replica taking the lease).
//!
//! Before the executor sends a repair, it merges one metadata key into the server
//! (`POST /servers/{id}/metadata`, which leaves other keys alone):
//!
//! | key              | value                 | written before                                   |
//! |------------------|-----------------------|--------------------------------------------------|
//! | `sloop.heal`     | `RUNG@UNIX`           | a drain, reboot, rebuild or replacement (a rung) |
//! | `sloop.migrated` | `HOST@UNIX`           | a live migration                                 |
//! | `sloop.retire`   | `UNIX`                | a delete that waits for its member's drain grace |
//! | `sloop.replaces` | server ID             | set at create on a replacement, naming the old   |
//!
//! `RUNG` is the policy's rung name (`drain`, `reboot-soft`, `reboot-hard`, `rebuild`,
//! `replace`), `UNIX` the decision time in whole seconds, e.g. `reboot-hard@1764205200`, and
//! `HOST` the [`HostDigest`] of the hypervisor the migration moves the server off (12 hex
//! digits, e.g. `d02434e0be28@1764205260`): the host was found faulty, and the digest lets a
//! controller that lost its journal remember that without writing the hypervisor's name into
//! metadata the tenant can read. Stamps written before the digest (`sloop.migrated=UNIX`)
//! still read, without a host. At most 33 characters, far below Nova's 255, and nothing but
//! a rung, a digest and a time (never a secret). Each observation reads them back into
//! [`RepairStamps`], and the decision core adopts them (`History::adopt_stamps`). Pure:
//! formatting and parsing only.

use crate::{
    decision::Action,
    policy::{Rung, validate::rung_name},
    snapshot::{HostDigest, RepairStamps, Time},
};
use std::collections::BTreeMap;

/// Metadata key of the last ladder rung started on a server: `RUNG@UNIX`.
pub const HEAL_KEY: &str = "sloop.heal";
/// Metadata key of the last live migration decided for a server: `HOST@UNIX` (or `UNIX`).
pub const MIGRATED_KEY: &str = "sloop.migrated";
/// Metadata key of a server that leaves the group once its pool member's drain grace ends:
/// `UNIX`, the time (whole seconds, rounded up) from which it may be deleted. The inventory
/// reads a server carrying it as being deleted, so nothing re-admits or repairs it meanwhile,
/// and a restarted controller finishes the deletion.
pub const RETIRE_KEY: &str = "sloop.retire";

/// Metadata key a replacement is created with, naming the server it replaces: the old server
/// stays (drained) until the replacement serves, and only then is deleted. It is written with
/// the create itself, so there is no moment at which the cloud holds a replacement without it,
/// and a restarted controller finds which server replaces which (Nova refuses metadata on the
/// ERROR server being replaced, so the link lives on the new one).
pub const REPLACES_KEY: &str = "sloop.replaces";

/// The retirement stamp for a deletion due at `due`.
pub fn retire(due: Time) -> BTreeMap<String, String> {
    BTreeMap::from([(RETIRE_KEY.to_owned(), (due.ceil() as i64).to_string())])
}

/// When a server carrying [`RETIRE_KEY`] may be deleted; `None` without a readable stamp.
pub fn retire_due(metadata: &BTreeMap<String, String>) -> Option<Time> {
    metadata.get(RETIRE_KEY)?.parse::<i64>().ok().map(|t| t as Time)
}

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
        Action::Migrate { from_host, .. } if from_host.is_empty() => (MIGRATED_KEY, secs.to_string()),
        Action::Migrate { from_host, .. } => (MIGRATED_KEY, format!("{}@{secs}", HostDigest::of(from_host))),
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
    let migration = metadata.get(MIGRATED_KEY).and_then(|v| match v.split_once('@') {
        Some((host, at)) => Some((secs(at)?, Some(HostDigest::parse(host)?))),
        None => Some((secs(v)?, None)),
    });
    let (migrated, migrated_from) = migration.map_or((None, None), |(at, from)| (Some(at), from));
    (rung.is_some() || migrated.is_some()).then_some(RepairStamps {
        rung,
        migrated,
        migrated_from,
    })
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
        assert_eq!(m[MIGRATED_KEY], format!("{}@1764205260", HostDigest::of("h1")));
        assert!(
            !m[MIGRATED_KEY].contains("h1"),
            "the host's name stays out of tenant metadata"
        );
        let mut both = meta.clone();
        both.extend(m);
        let s = read(&both).expect("stamps");
        assert_eq!(s.rung, Some((Rung::RebootHard, 1_764_205_200.0)));
        assert_eq!(s.migrated, Some(1_764_205_260.0));
        assert_eq!(s.migrated_from, Some(HostDigest::of("h1")));
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
        let digest = HostDigest::of("h1").to_string();
        for v in [
            "soon".to_owned(),
            String::new(),
            "@".to_owned(),
            "@1764205260".to_owned(),
            format!("{digest}@"),
            format!("{digest}@soon"),
            "h1@1764205260".to_owned(),
            format!("{}@1764205260", digest.to_uppercase()),
            format!("{digest}x@1764205260"),
            format!("{digest}@1764205260@1"),
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}@1".to_owned(),
        ] {
            let meta = BTreeMap::from([(MIGRATED_KEY.to_owned(), v.clone())]);
            assert_eq!(read(&meta), None, "{v:?}");
        }
        assert_eq!(read(&BTreeMap::new()), None);
    }

    #[test]
    fn migration_stamps_without_a_host_still_read() {
        let old = BTreeMap::from([(MIGRATED_KEY.to_owned(), "1764205260".to_owned())]);
        let s = read(&old).expect("an old stamp");
        assert_eq!((s.migrated, s.migrated_from), (Some(1_764_205_260.0), None));
        let nowhere = Action::Migrate {
            instance: "b".into(),
            from_host: String::new(),
        };
        let (_, m) = for_action(&nowhere, 1_764_205_260.0).expect("a migration");
        assert_eq!(m[MIGRATED_KEY], "1764205260", "no host known, none named");
        let with_rung = BTreeMap::from([
            (MIGRATED_KEY.to_owned(), "garbage".to_owned()),
            (HEAL_KEY.to_owned(), "drain@5".to_owned()),
        ]);
        let s = read(&with_rung).expect("the rung still reads");
        assert_eq!(
            (s.rung, s.migrated, s.migrated_from),
            (Some((Rung::Drain, 5.0)), None, None)
        );
    }
}
