//! The grace after boot, from this group's own boots. Pure.
//!
//! A server that has not answered since it became ACTIVE is booting, not broken, for as long as
//! this group's boots take: the time from ACTIVE to the first answered probe, learned from the
//! boots the controller watched (a high percentile with a margin). Until enough boots were seen,
//! and after a restart that lost them, the hold is [`FIRST_BOOT_BOUND`], longer than any boot a
//! cloud should take, so the grace is never a constant shorter than a boot. A server that has
//! answered since it became ACTIVE keeps the policy's `gracePeriod` (see `health`).

use super::health::{Health, InstanceHealth, healing_probe};
use crate::{
    history::{Boot, History},
    policy::Policy,
    snapshot::{InstanceStatus, Snapshot, Time},
};

/// How long a server that never answered gets when no boot of the group has been watched yet.
pub const FIRST_BOOT_BOUND: f64 = 600.0;
/// Boots watched before the learned percentile replaces [`FIRST_BOOT_BOUND`].
pub const MIN_BOOTS: usize = 3;
/// Boot times remembered (the newest).
pub const BOOTS_KEPT: usize = 32;
/// The percentile of the watched boots the hold starts from…
const PERCENTILE: f64 = 0.95;
/// …and the margin on it (a boot a little slower than the slowest seen is still a boot).
const MARGIN: f64 = 1.5;

/// Whether the server's last probe from any location answered, after it became ACTIVE.
fn answers(policy: &Policy, snap: &Snapshot, id: &str, since: Time) -> bool {
    let Some(probe) = healing_probe(policy) else {
        return false;
    };
    snap.instances_probed.iter().any(|s| {
        s.instance == id
            && *s.key.probe == *probe
            && s.consecutive_failures == 0
            && s.recent.last().is_some_and(|x| x.ok && x.at >= since)
    })
}

/// Watches boots: a server seen ACTIVE and not answering is booting; the first answer after
/// that is one boot-to-serve time. A server first seen already answering (it was serving
/// before this process started) gives no time.
pub fn observe(policy: &Policy, snap: &Snapshot, history: &mut History, now: Time) {
    if healing_probe(policy).is_none() {
        return;
    }
    for inst in &snap.inventory {
        let (InstanceStatus::Active, Some(since)) = (inst.status, inst.active_since) else {
            continue;
        };
        let up = answers(policy, snap, &inst.id, since);
        match history.boots.get_mut(&inst.id) {
            Some(b) if b.since == since => {
                if up && !b.served {
                    b.served = true;
                    if b.watched {
                        history.boot_to_serve.push_back(now - since);
                        while history.boot_to_serve.len() > BOOTS_KEPT {
                            history.boot_to_serve.pop_front();
                        }
                    }
                }
            }
            _ => {
                history.boots.insert(
                    inst.id.clone(),
                    Boot {
                        since,
                        served: up,
                        watched: !up,
                    },
                );
            }
        }
    }
}

/// Learns back, after a restart, the boot-to-serve times of the live servers whose last boot
/// ended in an admission this controller journaled: the first admission after the server
/// became ACTIVE is its first answer (within one pass).
pub fn adopt(history: &mut History, admissions: &[(Time, String)], inventory: &[crate::snapshot::Instance]) {
    for inst in inventory {
        let (InstanceStatus::Active, Some(since)) = (inst.status, inst.active_since) else {
            continue;
        };
        let first = admissions
            .iter()
            .filter(|(at, id)| *id == inst.id && *at >= since)
            .map(|(at, _)| *at)
            .fold(f64::INFINITY, f64::min);
        if !first.is_finite() || history.boots.get(&inst.id).is_some_and(|b| b.since == since) {
            continue;
        }
        history.boot_to_serve.push_back(first - since);
        history.boots.insert(
            inst.id.clone(),
            Boot {
                since,
                served: true,
                watched: false,
            },
        );
    }
    while history.boot_to_serve.len() > BOOTS_KEPT {
        history.boot_to_serve.pop_front();
    }
}

/// The hold for a server that has not answered since it became ACTIVE: the learned percentile
/// with its margin, never less than the policy's grace; [`FIRST_BOOT_BOUND`] (or the grace, if
/// longer) until [`MIN_BOOTS`] boots were watched.
pub fn boot_grace(policy: &Policy, history: &History) -> (f64, Option<f64>) {
    let grace = policy.spec.healing.grace_period.secs();
    if history.boot_to_serve.len() < MIN_BOOTS {
        return (grace.max(FIRST_BOOT_BOUND), None);
    }
    let mut seen: Vec<f64> = history.boot_to_serve.iter().copied().collect();
    seen.sort_by(f64::total_cmp);
    let k = ((seen.len() as f64 * PERCENTILE).ceil() as usize).clamp(1, seen.len()) - 1;
    let p = seen[k];
    (grace.max(p * MARGIN), Some(p))
}

/// Judges as starting the servers that have not answered since they became ACTIVE, while their
/// boot may still be under way.
pub fn hold_booting(
    policy: &Policy,
    snap: &Snapshot,
    history: &History,
    health: &mut [InstanceHealth],
    now: Time,
) {
    if healing_probe(policy).is_none() {
        return;
    }
    let (hold, learned) = boot_grace(policy, history);
    for h in health.iter_mut() {
        if !matches!(h.health, Health::Unhealthy | Health::Slow | Health::Unknown) {
            continue;
        }
        let Some(inst) = snap.inventory.iter().find(|i| i.id == h.id) else {
            continue;
        };
        let (InstanceStatus::Active, Some(since)) = (inst.status, inst.active_since) else {
            continue;
        };
        let never_served = history
            .boots
            .get(&h.id)
            .is_some_and(|b| b.since == since && !b.served);
        if never_served && now - since < hold {
            h.health = Health::Starting;
            h.detail = match learned {
                Some(p) => format!(
                    "has not answered since it became active {:.0}s ago; this group's boots take up to {p:.0}s (95th percentile), held for {hold:.0}s",
                    now - since
                ),
                None => format!(
                    "has not answered since it became active {:.0}s ago; no boot of this group watched yet, held for {hold:.0}s",
                    now - since
                ),
            };
            h.locations.clear();
            h.families.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        crate::policy::parse("minimal.yaml", include_bytes!("../../policies/minimal.yaml"))
            .expect("minimal policy parses")
    }

    #[test]
    fn the_hold_is_the_first_boot_bound_until_boots_are_watched() {
        let p = policy();
        let mut h = History::default();
        assert_eq!(boot_grace(&p, &h), (FIRST_BOOT_BOUND, None));
        h.boot_to_serve.extend([150.0, 170.0]);
        assert_eq!(
            boot_grace(&p, &h).1,
            None,
            "two boots are not enough to learn from"
        );
        h.boot_to_serve.push_back(190.0);
        let (hold, learned) = boot_grace(&p, &h);
        assert_eq!(learned, Some(190.0));
        assert!((hold - 285.0).abs() < 1e-9, "95th percentile × 1.5, got {hold}");
    }

    fn server(id: &str, active_since: f64) -> crate::snapshot::Instance {
        crate::snapshot::Instance {
            id: id.into(),
            name: id.into(),
            status: InstanceStatus::Active,
            host: None,
            addresses: Vec::new(),
            created_at: active_since - 30.0,
            active_since: Some(active_since),
            member: None,
            created_by: None,
            stamps: None,
            fault: None,
            replaces: None,
        }
    }

    #[test]
    fn a_restart_learns_the_boot_times_back_from_journaled_admissions() {
        let p = policy();
        let inventory = [
            server("a", 1000.0),
            server("b", 2000.0),
            server("c", 3000.0),
            server("d", 4000.0),
        ];
        let admissions = [
            (1170.0, "a".to_string()),
            (1500.0, "a".to_string()),
            (2150.0, "b".to_string()),
            // Admitted before its last boot (a reboot since): no time for that boot.
            (2900.0, "c".to_string()),
            (4190.0, "d".to_string()),
        ];
        let mut h = History::default();
        adopt(&mut h, &admissions, &inventory);
        let mut seen: Vec<f64> = h.boot_to_serve.iter().copied().collect();
        seen.sort_by(f64::total_cmp);
        assert_eq!(
            seen,
            vec![150.0, 170.0, 190.0],
            "the first admission after ACTIVE, per live server"
        );
        assert_eq!(boot_grace(&p, &h).1, Some(190.0));
        assert!(h.boots["a"].served && !h.boots.contains_key("c"));
        // Adopting twice (a second pass) adds nothing.
        adopt(&mut h, &admissions, &inventory);
        assert_eq!(h.boot_to_serve.len(), 3);
    }

    #[test]
    fn a_watched_boot_is_timed_at_its_first_answer() {
        use crate::snapshot::{InstanceSeries, Sample, SeriesKey};
        let p = policy();
        let series = |ok: bool, at: f64| InstanceSeries {
            instance: "a".into(),
            key: SeriesKey {
                probe: "web".into(),
                location: "local".into(),
                family: crate::snapshot::IpFamily::V6,
            },
            consecutive_failures: u32::from(!ok),
            recent: vec![Sample {
                at,
                latency: 0.05,
                ok,
                phases: None,
            }],
        };
        let mut snap = Snapshot::default();
        snap.inventory.push(server("a", 1000.0));
        snap.instances_probed.push(series(false, 1060.0));
        let mut h = History::default();
        observe(&p, &snap, &mut h, 1060.0);
        assert!(h.boots["a"].watched && !h.boots["a"].served);
        snap.instances_probed[0] = series(true, 1180.0);
        observe(&p, &snap, &mut h, 1180.0);
        assert_eq!(h.boot_to_serve.iter().copied().collect::<Vec<_>>(), vec![180.0]);
        // A server first seen answering gives no time.
        snap.inventory.push(crate::snapshot::Instance {
            id: "b".into(),
            ..server("a", 500.0)
        });
        let mut first = series(true, 1190.0);
        first.instance = "b".into();
        snap.instances_probed.push(first);
        observe(&p, &snap, &mut h, 1190.0);
        assert_eq!(h.boot_to_serve.len(), 1);
        assert!(h.boots["b"].served && !h.boots["b"].watched);
    }

    #[test]
    fn fast_boots_never_shorten_the_policy_grace() {
        let p = policy();
        let h = History {
            boot_to_serve: [10.0, 12.0, 11.0].into_iter().collect(),
            ..History::default()
        };
        assert_eq!(boot_grace(&p, &h).0, p.spec.healing.grace_period.secs());
    }
}
