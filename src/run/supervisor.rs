//! The supervisor: consumes [`PolicyEvent`]s from every policy source, validates each document
//! before anything changes, and starts, updates or stops one reconcile task per policy.
//!
//! - valid and new: a connection is made and a task starts;
//! - valid and changed: the running task gets the new version (history and cloud kept);
//! - invalid: rejected with its errors (logged, counted, shown); the last good version stays;
//! - removed: the task stops after the action in flight; the policy is reported unmanaged and
//!   its servers are left alone, never deleted;
//! - moved to another key (a renamed file): the task carries on under the new key.

use super::{
    Shared,
    cloud::CloudFactory,
    source::{PolicyEvent, render},
    status::Rejection,
    task::{self, PolicyUpdate},
};
use crate::policy::{self, Mode, Policy};
use std::{collections::BTreeMap, sync::Arc};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};

struct Managed {
    policy: Arc<Policy>,
    tx: watch::Sender<PolicyUpdate>,
    handle: JoinHandle<task::TaskEnd>,
}

struct Supervisor<F: CloudFactory> {
    factory: Arc<F>,
    shared: Shared,
    /// By source key.
    active: BTreeMap<String, Managed>,
    /// Tasks told to stop, awaited at shutdown.
    stopping: Vec<JoinHandle<task::TaskEnd>>,
    /// Whether the journal-capacity warning was given (once per run).
    warned_capacity: bool,
}

/// Bytes one journal line takes at most in practice (an entry with its evidence is 0.5–2 KB);
/// used only to warn when the journal cannot hold an hour of actions.
const JOURNAL_LINE_BYTES: u64 = 2048;

/// Runs until shutdown, then waits for every task to finish its action in flight.
pub async fn run<F: CloudFactory>(factory: Arc<F>, mut events: mpsc::Receiver<PolicyEvent>, shared: Shared) {
    let mut shutdown = shared.shutdown.clone();
    let mut sup = Supervisor {
        factory,
        shared,
        active: BTreeMap::new(),
        stopping: Vec::new(),
        warned_capacity: false,
    };
    let mut open = true;
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            ev = events.recv(), if open => match ev {
                Some(ev) => sup.handle(ev),
                None => open = false,
            },
            _ = shutdown.changed() => {}
        }
    }
    let handles = sup.active.into_values().map(|m| m.handle).chain(sup.stopping);
    for h in handles {
        if let Err(e) = h.await {
            tracing::error!(error = %e, "A reconcile task ended abnormally.");
        }
    }
}

impl<F: CloudFactory> Supervisor<F> {
    fn handle(&mut self, ev: PolicyEvent) {
        match ev {
            PolicyEvent::Upsert {
                name,
                source_label,
                text,
            } => match policy::parse(&source_label, text.as_bytes()) {
                Ok(p) => self.upsert(name, source_label, p),
                Err(errors) => {
                    let errors = errors.iter().map(render).collect();
                    self.reject(&name, &source_label, None, errors);
                }
            },
            PolicyEvent::Invalid {
                name,
                source_label,
                errors,
            } => self.reject(&name, &source_label, None, errors),
            PolicyEvent::Remove { name } => {
                self.shared.board.update(|s| {
                    s.rejected.remove(&name);
                });
                if let Some(m) = self.active.remove(&name) {
                    tracing::info!(source = %name, policy = %m.policy.metadata.name, "Policy document removed.");
                    // Dropping the sender tells the task to stop.
                    self.stopping.push(m.handle);
                }
            }
            PolicyEvent::Rekey { from, to } => {
                self.shared.board.update(|s| {
                    s.rejected.remove(&from);
                    s.rejected.remove(&to);
                });
                if let Some(m) = self.active.remove(&from) {
                    tracing::info!(from = %from, to = %to, policy = %m.policy.metadata.name, "Policy document moved; it stays in force.");
                    if let Some(displaced) = self.active.insert(to, m) {
                        self.stopping.push(displaced.handle);
                    }
                }
            }
            PolicyEvent::Synced { source_label } => {
                tracing::info!(source = %source_label, policies = self.active.len(), "Policy source synced.");
                self.shared.board.update(|s| s.sources_synced = true);
            }
        }
        self.count();
    }

    fn upsert(&mut self, key: String, source: String, mut p: Policy) {
        // A probe's request headers may carry credentials of the probed service: a cloud or
        // proxy error that echoes them must not show them.
        for probe in &p.spec.probes {
            for value in probe.http.iter().flat_map(|h| h.headers.values()) {
                let credential = value.split_once(' ').map_or(value.as_str(), |(_, c)| c);
                crate::redact::register(value);
                crate::redact::register(credential);
            }
        }
        if self.shared.dry_run {
            p.spec.mode = Mode::DryRun;
        }
        if let Some(conflict) = self.conflict(&key, &p) {
            return self.reject(&key, &source, Some(p.metadata.name.as_str()), vec![conflict]);
        }
        let p = Arc::new(p);
        let update = PolicyUpdate {
            policy: p.clone(),
            source: source.clone(),
        };
        match self.active.get_mut(&key) {
            Some(m) if m.policy.metadata.name == p.metadata.name => {
                m.policy = p;
                // The task ignores an update equal to what it has.
                let _ = m.tx.send(update);
            }
            existing => {
                if let Some(old) = existing.is_some().then(|| self.active.remove(&key)).flatten() {
                    self.stopping.push(old.handle);
                }
                let (tx, rx) = watch::channel(update.clone());
                let handle = tokio::spawn(task::start(self.factory.clone(), update, rx, self.shared.clone()));
                self.active.insert(
                    key.clone(),
                    Managed {
                        policy: p,
                        tx,
                        handle,
                    },
                );
            }
        }
        self.shared.board.update(|s| {
            s.rejected.remove(&key);
        });
        self.check_journal_capacity();
    }

    /// Warns (once) when the journal's files cannot hold an hour of every policy's action
    /// budget (an intent and an outcome line per action): older charges would rotate out and a
    /// restart would under-count the budget.
    fn check_journal_capacity(&mut self) {
        let Some(capacity) = self.shared.journal.capacity_bytes() else {
            return;
        };
        let per_hour: u64 = self
            .active
            .values()
            .map(|m| u64::from(m.policy.spec.limits.max_actions_per_hour))
            .sum();
        let needed = per_hour * 2 * JOURNAL_LINE_BYTES;
        if needed > capacity && !self.warned_capacity {
            self.warned_capacity = true;
            tracing::warn!(
                capacity_bytes = capacity,
                needed_bytes = needed,
                actions_per_hour = per_hour,
                "The journal (--journal-max-bytes x (--journal-files + 1)) cannot hold an hour of the policies' action budgets; raise them, or a restart may under-count the budget."
            );
        }
    }

    /// Another source's policy with the same name, or a group whose VMs this one's selector
    /// could also match.
    fn conflict(&self, key: &str, p: &Policy) -> Option<String> {
        self.active.iter().filter(|(k, _)| k.as_str() != key).find_map(|(k, m)| {
            let (a, b) = (&m.policy.spec.group, &p.spec.group);
            if m.policy.metadata.name == p.metadata.name {
                Some(format!(
                    "policy name `{}` is already used by {k}; give every policy a unique metadata.name",
                    p.metadata.name
                ))
            } else if a.cloud == b.cloud && a.region == b.region && policy::selectors_overlap(&a.selector, &b.selector) {
                Some(format!(
                    "this group's selector can match the same VMs as `{}` from {k} (cloud `{}`): a VM carrying both selectors' metadata would belong to both; add a key with different values to one of them (e.g. `sloop.group`), so that two policies never own the same VMs",
                    m.policy.metadata.name, b.cloud
                ))
            } else {
                None
            }
        })
    }

    fn reject(&mut self, key: &str, source: &str, named: Option<&str>, errors: Vec<String>) {
        let kept = self.active.get(key).map(|m| m.policy.metadata.name.clone());
        tracing::warn!(
            source = %source,
            kept = kept.as_deref().unwrap_or("none"),
            errors = %errors.join("; "),
            "Policy rejected; the last good version stays in force."
        );
        // The policy's name when one is known (the version in force, or the document's own
        // `metadata.name`), else the source key: bounded by the policy sources either way.
        let label = kept
            .clone()
            .or_else(|| named.map(str::to_owned))
            .unwrap_or_else(|| key.to_owned());
        self.shared.metrics.reload_error(&label);
        let rejection = Rejection {
            source: source.to_owned(),
            errors,
            kept,
        };
        let key = key.to_owned();
        self.shared.board.update(|s| {
            s.rejected.insert(key, rejection);
        });
    }

    fn count(&self) {
        let status = self.shared.board.get();
        self.shared
            .metrics
            .set_policies(self.active.len(), status.rejected.len(), status.unmanaged.len());
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::selectors_overlap;

    fn sel(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn selectors_overlap_unless_a_shared_key_differs() {
        let web = sel(&[("sloop.group", "web")]);
        let cases = [
            (sel(&[("sloop.group", "web")]), true, "identical"),
            (
                sel(&[("sloop.group", "web"), ("tier", "blue")]),
                true,
                "narrower: its VMs match both",
            ),
            (
                sel(&[("tier", "blue")]),
                true,
                "other keys only: a VM may carry both",
            ),
            (sel(&[]), true, "empty: matches every VM"),
            (
                sel(&[("sloop.group", "api")]),
                false,
                "same key, other value: disjoint",
            ),
        ];
        for (other, overlap, why) in cases {
            assert_eq!(selectors_overlap(&web, &other), overlap, "{why}");
            assert_eq!(selectors_overlap(&other, &web), overlap, "{why} (either order)");
        }
    }
}
