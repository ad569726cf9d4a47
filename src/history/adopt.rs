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
//!   action in flight when the process is killed is still charged, as applied (its call may
//!   have reached the cloud).
//!
//! Charges found in both (same action ID) count once.

use super::History;
use crate::{decision::ActionKind, snapshot::Time};
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
    /// key so new keys never collide with old ones.
    pub fn adopt(&mut self, policy: &str, charges: &[Charge], now: Time) {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut adopted: Vec<(Time, ActionKind)> = Vec::new();
        for c in charges {
            if let Some((_, seq)) = parse_action_key(policy, &c.id) {
                self.next_action = self.next_action.max(seq);
            }
            if c.kind == ActionKind::Admit || c.at > now || now - c.at >= 3600.0 || !seen.insert(&c.id) {
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
        }
    }

    #[test]
    fn adopts_the_last_hour_once_per_id_with_cooldowns_of_effective_scaling() {
        let mut h = History::default();
        let now = 10_000.0;
        h.adopt(
            "web",
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
}
