//! Which refusals are in force, so that each is journalled once when it starts and once when
//! it ends, not on every pass it persists nor on every change of its numbers.
//!
//! A refusal is identified by what is held back and why: the action's kind, its target (none
//! for scaling, whose count and chosen servers follow the load from pass to pass), its cause and
//! the reason. One that drops out for less than [`GRACE`] and comes back is the same refusal:
//! a wanted scale-in held back by a scheduled peak comes and goes with every dip of the load.

use super::describe;
use crate::{
    decision::{Action, Refusal},
    snapshot::Time,
};
use std::collections::BTreeMap;

/// How long a refusal must stay away to count as ended (policy time, s).
pub const GRACE: Time = 300.0;

/// The identity of a refusal across passes.
pub fn key(r: &Refusal) -> String {
    let target = match &r.action {
        Action::ScaleOut { .. } | Action::ScaleIn { .. } => String::new(),
        a => describe(a),
    };
    format!(
        "{}|{target}|{:?}|{:?}",
        r.action.kind().label(),
        r.cause,
        r.reason
    )
}

/// A refusal in force.
#[derive(Debug, Clone)]
pub struct Open {
    /// When it started.
    pub since: Time,
    /// The last pass it was seen at.
    pub last_seen: Time,
    /// It as last seen (for the entry that ends it).
    pub refusal: Refusal,
}

/// The refusals in force, by [`key`].
#[derive(Debug, Default)]
pub struct RefusalBook {
    open: BTreeMap<String, Open>,
}

impl RefusalBook {
    /// One pass's refusals: returns the ones that started (to journal) and the ones that ended
    /// (gone for [`GRACE`]).
    pub fn pass<'a>(
        &mut self,
        now: Time,
        current: impl IntoIterator<Item = &'a Refusal>,
    ) -> (Vec<&'a Refusal>, Vec<Open>) {
        let mut started = Vec::new();
        for r in current {
            match self.open.get_mut(&key(r)) {
                Some(open) => {
                    open.last_seen = now;
                    open.refusal = r.clone();
                }
                None => {
                    self.open.insert(
                        key(r),
                        Open {
                            since: now,
                            last_seen: now,
                            refusal: r.clone(),
                        },
                    );
                    started.push(r);
                }
            }
        }
        let gone: Vec<String> = self
            .open
            .iter()
            .filter(|(_, o)| now - o.last_seen >= GRACE)
            .map(|(k, _)| k.clone())
            .collect();
        let ended = gone.iter().filter_map(|k| self.open.remove(k)).collect();
        (started, ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Cause, Evidence, RefusalReason};

    fn scale_in(servers: &[&str], reason: RefusalReason) -> Refusal {
        Refusal {
            action: Action::ScaleIn {
                instances: servers.iter().map(|s| (*s).to_owned()).collect(),
            },
            cause: Cause::OverProvisioned,
            reason,
            evidence: Evidence {
                summary: format!("{} servers over", servers.len()),
                ..Evidence::default()
            },
        }
    }

    #[test]
    fn a_refusal_whose_numbers_change_and_that_flickers_is_journalled_once_then_ends_once() {
        let mut book = RefusalBook::default();
        let mut starts = 0;
        let mut ends = Vec::new();
        // 20 minutes at 10 s: the scale-in held back by the scheduled peak picks other servers
        // as the load moves, and is not wanted at all one pass in five.
        for tick in 0..120 {
            let now = 1000.0 + f64::from(tick) * 10.0;
            let picks = [["a", "b"], ["c", "d"], ["a", "c"]][tick as usize % 3];
            let r = scale_in(&picks, RefusalReason::ScheduledPeak);
            let current: Vec<&Refusal> = if tick % 5 == 4 { vec![] } else { vec![&r] };
            let (s, e) = book.pass(now, current);
            starts += s.len();
            ends.extend(e);
        }
        assert_eq!((starts, ends.len()), (1, 0));
        // Then the peak window closes: gone for good, ended once, GRACE after it was last seen.
        for tick in 120..200 {
            let (s, e) = book.pass(1000.0 + f64::from(tick) * 10.0, []);
            starts += s.len();
            ends.extend(e);
        }
        assert_eq!((starts, ends.len()), (1, 1));
        assert_eq!(ends[0].since, 1000.0);
        assert_eq!(
            ends[0].last_seen,
            1000.0 + 1180.0,
            "the last pass it was there (119 is a dip)"
        );
    }

    #[test]
    fn another_reason_or_another_target_is_another_refusal() {
        let mut book = RefusalBook::default();
        let started = book
            .pass(0.0, [&scale_in(&["a"], RefusalReason::ScheduledPeak)])
            .0
            .len();
        assert_eq!(started, 1);
        let started = book
            .pass(10.0, [&scale_in(&["a"], RefusalReason::Cooldown)])
            .0
            .len();
        assert_eq!(started, 1, "a new reason is news");
        let reboot = |i: &str| Refusal {
            action: Action::Reboot {
                instance: i.into(),
                hard: false,
            },
            ..scale_in(&[], RefusalReason::Cooldown)
        };
        let started = book.pass(20.0, [&reboot("x"), &reboot("y")]).0.len();
        assert_eq!(started, 2, "healing one server is not healing another");
    }
}
