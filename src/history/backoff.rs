//! Actions that keep failing back off, per action kind and target (its intent, [`intent`]):
//! after the n-th failure in a row the next attempt waits `BASE · 2^(n-1)`, capped at `CAP`,
//! and stretched by a jitter of up to ±20 % that is a hash of the intent and n, so the core
//! stays pure and a replay decides the same, while many targets that failed together do not
//! retry together. A success (an attempt not reported failed) clears the intent's backoff.
//!
//! Why failures are classified: a 409 for the server's state is a fact about the rung, not a
//! passing condition (Nova refuses a soft reboot of an ERROR server every time), so the ladder
//! moves past it at once; quota and "no valid host" are facts about the cloud that repeating
//! the call does not change, so they page once with their numbers. Pure.

use super::{Charge, History, intent, intent_of};
use crate::{decision::Action, snapshot::Time};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The wait after the first failure.
pub const BACKOFF_BASE: f64 = 10.0;
/// The longest wait between two attempts.
pub const BACKOFF_CAP: f64 = 900.0;
/// The longest wait after an outage: the API, not the action, failed; the executor's breaker
/// already spares it within a pass, and the action is needed as soon as it answers again
/// (`tests/reliability` converge: within two 10 s ticks of recovery).
pub const OUTAGE_CAP: f64 = 20.0;
/// Failures in a row after which an action's failure pages.
pub const ALERT_AFTER: u32 = 3;

/// Why an action took no effect, as far as the decision core cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// The API was unavailable, slow or not asked (5xx, transport, breaker, lost lease): the
    /// same attempt may work later and reuses its budget charge.
    #[default]
    Outage,
    /// Refused for the server's current state (Nova 409 "while it is in vm_state …"): this rung
    /// cannot work on it; the ladder moves on and never repeats it.
    State,
    /// A quota blocks it.
    Quota,
    /// The scheduler found no host for a new server.
    NoValidHost,
    /// Refused for another reason (forbidden, invalid, not found): needs a human.
    Refused,
}

impl FailureClass {
    /// Classifies an executor error text (`act::ActError`'s display: `conflict: …`,
    /// `quota exceeded: …`) or a Nova fault message.
    pub fn of_error(text: &str) -> Self {
        let lower = text.to_ascii_lowercase();
        if lower.contains("no valid host") {
            FailureClass::NoValidHost
        } else if lower.starts_with("quota") || lower.contains("quota exceeded") {
            FailureClass::Quota
        } else if lower.starts_with("conflict") {
            // Nova: "Cannot 'reboot' instance … while it is in vm_state error"; the simulator
            // and the OpenStack backend both say the server's state. A busy Octavia pool
            // (`PENDING_*`, immutable) is passing, like an outage.
            if lower.contains("vm_state") || lower.contains("in state") || lower.contains("compute service") {
                FailureClass::State
            } else {
                FailureClass::Outage
            }
        } else if lower.contains("authentication failed") {
            // An expired or revoked token fails every call alike: the API's state, not this
            // action's (the session re-authenticates).
            FailureClass::Outage
        } else if lower.starts_with("fatal") || lower.starts_with("not found") {
            FailureClass::Refused
        } else {
            FailureClass::Outage
        }
    }

    /// A short label for alerts and logs.
    pub fn label(self) -> &'static str {
        match self {
            FailureClass::Outage => "outage",
            FailureClass::State => "refused for the server's state",
            FailureClass::Quota => "quota",
            FailureClass::NoValidHost => "no valid host",
            FailureClass::Refused => "refused",
        }
    }
}

/// One action of the last decision that took no effect, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "FailureRecord")]
pub struct Failure {
    /// The action's ID.
    pub id: String,
    /// Why.
    #[serde(default)]
    pub class: FailureClass,
    /// What the cloud said, cut short (numbers of a quota, the state refused), never a secret:
    /// API messages carry neither tokens nor passwords.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// A failure as recorded: a bare action ID (decision logs written before failures were
/// classified; an outage) or the full record.
#[derive(Deserialize)]
#[serde(untagged)]
enum FailureRecord {
    Id(String),
    Full {
        id: String,
        #[serde(default)]
        class: FailureClass,
        #[serde(default)]
        detail: String,
    },
}

impl From<FailureRecord> for Failure {
    fn from(r: FailureRecord) -> Self {
        match r {
            FailureRecord::Id(id) => Failure::outage(id),
            FailureRecord::Full { id, class, detail } => Failure { id, class, detail },
        }
    }
}

impl Failure {
    /// An action that was not attempted or met an unavailable API.
    pub fn outage(id: impl Into<String>) -> Self {
        Failure {
            id: id.into(),
            class: FailureClass::Outage,
            detail: String::new(),
        }
    }

    /// An action that failed with the executor's error text `error`.
    pub fn of_error(id: impl Into<String>, error: &str) -> Self {
        let class = FailureClass::of_error(error);
        Failure {
            id: id.into(),
            class,
            detail: match class {
                FailureClass::Quota => quota_numbers(error).unwrap_or_else(|| cut(error)),
                _ => cut(error),
            },
        }
    }
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// "quota allows 10 instances, 11 needed" from Nova's "Quota exceeded for instances: Requested
/// 1, but already used 10 of 10 instances".
pub fn quota_numbers(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let what = lower
        .split("quota exceeded for ")
        .nth(1)?
        .split(':')
        .next()?
        .trim()
        .to_owned();
    let number_after = |key: &str| -> Option<u64> {
        let rest = lower.split(key).nth(1)?;
        rest.trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let requested = number_after("requested")?;
    let used = number_after("already used")?;
    let allowed = number_after(" of ")?;
    Some(format!(
        "quota allows {allowed} {what}, {} needed",
        used + requested
    ))
}

/// An intent that failed and waits before its next attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backoff {
    /// Failures in a row.
    pub failures: u32,
    /// When the last failed attempt was decided.
    pub last: Time,
    /// No new attempt before this time.
    pub until: Time,
    /// Why the last attempt failed.
    #[serde(default)]
    pub class: FailureClass,
    /// What the cloud said.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// Whether this run of failures has paged already (one alert per run, not one per pass).
    #[serde(default)]
    pub alerted: bool,
}

/// The wait after the `failures`-th failure in a row of `intent`: exponential, capped (lower
/// for an outage), with a jitter that is a pure function of both.
pub fn delay(intent: &str, failures: u32, class: FailureClass) -> f64 {
    let cap = if class == FailureClass::Outage {
        OUTAGE_CAP
    } else {
        BACKOFF_CAP
    };
    let exp = BACKOFF_BASE * 2f64.powi(failures.saturating_sub(1).min(20) as i32);
    // FNV-1a: stable across runs and Rust versions, unlike the std hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in intent.bytes().chain(failures.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let jitter = 0.8 + 0.4 * ((h >> 11) as f64 / (1u64 << 53) as f64);
    (exp * jitter).min(cap)
}

impl History {
    /// Records one more failure of `intent` decided at `at`.
    pub fn back_off(&mut self, intent: &str, at: Time, class: FailureClass, detail: &str) {
        let b = self.backoff.entry(intent.to_owned()).or_insert(Backoff {
            failures: 0,
            last: at,
            until: at,
            class,
            detail: String::new(),
            alerted: false,
        });
        b.failures += 1;
        b.last = at;
        b.until = at + delay(intent, b.failures, class);
        if b.class != class {
            b.alerted = false;
        }
        b.class = class;
        b.detail = detail.to_owned();
    }

    /// Until when `action` must wait, if it is backing off at `now`.
    pub fn backing_off(&self, action: &Action, now: Time) -> Option<&Backoff> {
        self.backoff.get(&intent(action)).filter(|b| now < b.until)
    }

    /// Rebuilds the backoffs of the hour before `now` from the charges that outlive a restart:
    /// per intent, the failed attempts since its last one that took effect.
    pub fn adopt_backoff(&mut self, charges: &[Charge], now: Time) {
        let mut sorted: Vec<&Charge> = charges
            .iter()
            .filter(|c| c.at <= now && now - c.at < 3600.0)
            .collect();
        sorted.sort_by(|a, b| a.at.total_cmp(&b.at));
        let mut runs: BTreeMap<String, Vec<Time>> = BTreeMap::new();
        for c in sorted {
            let key = intent_of(c.kind, c.instance.as_deref());
            let run = runs.entry(key).or_default();
            if c.took_effect {
                run.clear();
            } else {
                run.push(c.at);
            }
        }
        for (key, run) in runs {
            if run.is_empty() || self.backoff.contains_key(&key) {
                continue;
            }
            let last = *run.last().expect("not empty");
            let failures = run.len() as u32;
            self.backoff.insert(
                key.clone(),
                Backoff {
                    failures,
                    last,
                    until: last + delay(&key, failures, FailureClass::Outage),
                    class: FailureClass::Outage,
                    detail: String::new(),
                    // The run paged before the restart if it was long enough to.
                    alerted: failures >= ALERT_AFTER,
                },
            );
        }
    }

    /// Forgets backoffs whose wait ended long ago: a failure an hour old says nothing about now.
    pub(super) fn prune_backoff(&mut self, now: Time) {
        self.backoff.retain(|_, b| now - b.last < 3600.0 || now < b.until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_to_the_cap_with_bounded_jitter() {
        let d: Vec<f64> = (1..=10)
            .map(|n| delay("scale-out", n, FailureClass::Quota))
            .collect();
        for (n, w) in d.iter().enumerate() {
            let exp = BACKOFF_BASE * 2f64.powi(n as i32);
            assert!(*w >= (0.8 * exp).min(BACKOFF_CAP) - 1e-9, "{n}: {w}");
            assert!(*w <= (1.2 * exp).min(BACKOFF_CAP) + 1e-9, "{n}: {w}");
        }
        assert_eq!(d[9], BACKOFF_CAP);
        let q = FailureClass::Quota;
        assert_eq!(delay("scale-out", 3, q), delay("scale-out", 3, q), "pure");
        assert_eq!(delay("scale-out", 9, FailureClass::Outage), OUTAGE_CAP);
        assert_ne!(
            delay("reboot-hard:a", 2, q),
            delay("reboot-hard:b", 2, q),
            "targets that failed together do not retry together"
        );
    }

    #[test]
    fn errors_are_classified_by_what_the_cloud_said() {
        let c = FailureClass::of_error;
        assert_eq!(
            c(
                "conflict: compute POST servers/x/action: HTTP 409 (conflict) Cannot 'reboot' instance x while it is in vm_state error"
            ),
            FailureClass::State
        );
        assert_eq!(
            c("conflict: load-balancer PUT members: HTTP 409 (conflict) Pool p is immutable"),
            FailureClass::Outage
        );
        assert_eq!(
            c("quota exceeded: Quota exceeded for instances"),
            FailureClass::Quota
        );
        assert_eq!(
            c("server s is in ERROR: No valid host was found. There are not enough hosts available."),
            FailureClass::NoValidHost
        );
        assert_eq!(c("transient: HTTP 503"), FailureClass::Outage);
        assert_eq!(
            c("fatal: refused (the credentials lack a role)"),
            FailureClass::Refused
        );
    }

    #[test]
    fn quota_messages_give_their_numbers() {
        assert_eq!(
            quota_numbers("quota exceeded: compute POST servers: HTTP 403 (quota) Quota exceeded for instances: Requested 4, but already used 8 of 8 instances").as_deref(),
            Some("quota allows 8 instances, 12 needed")
        );
        assert_eq!(quota_numbers("Quota exceeded"), None);
    }

    #[test]
    fn old_logs_with_bare_ids_read_as_outages() {
        let f: Vec<Failure> =
            serde_json::from_str(r#"["a", {"id": "b", "class": "quota", "detail": "d"}]"#).expect("parses");
        assert_eq!(f[0], Failure::outage("a"));
        assert_eq!((f[1].class, f[1].detail.as_str()), (FailureClass::Quota, "d"));
    }

    #[test]
    fn failed_attempts_back_off_across_a_restart() {
        use crate::decision::ActionKind;
        let charge = |at: Time, took_effect: bool| Charge {
            at,
            kind: ActionKind::ScaleOut,
            id: format!("web-{at}-1"),
            took_effect,
            instance: None,
            from_host: None,
        };
        let mut h = History::default();
        h.adopt_backoff(
            &[
                charge(9_000.0, false),
                charge(9_100.0, true),
                charge(9_200.0, false),
                charge(9_300.0, false),
            ],
            9_305.0,
        );
        let b = h.backoff.get("scale-out").expect("backing off");
        assert_eq!((b.failures, b.last), (2, 9_300.0));
        assert!(h.backing_off(&Action::ScaleOut { count: 1 }, 9_305.0).is_some());
        assert!(
            h.backing_off(&Action::ScaleOut { count: 1 }, 9_300.0 + OUTAGE_CAP)
                .is_none()
        );
    }
}
