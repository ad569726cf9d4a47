//! The action journal: every action sloop took (or, in dry-run, would have taken) and every
//! refusal, with the evidence that triggered it, its outcome and how long it took.
//!
//! Two stores behind one [`ActionSink`]: an in-memory ring for the status page, and a bounded
//! on-disk journal of JSON lines rotated by size (`journal.jsonl`, then `journal.1.jsonl` …
//! `journal.N.jsonl`, oldest last), which `sloop history` prints. [`ActionSink`] is also the
//! seam for other publishers (Kubernetes Events): [`Sinks`] fans one entry out to several.
//!
//! IO (files), no clock reads: entries carry the decision time they were made for.

mod disk;
mod learned;

use crate::{
    decision::{Action, ActionKind, Cause, Evidence, RefusalReason},
    snapshot::Time,
};
pub use disk::{DiskLimits, SkippedLine, read_dir, read_dir_detailed};
use serde::{Deserialize, Serialize};
use std::{
    collections::VecDeque,
    path::Path,
    sync::{Arc, Mutex},
};

/// What became of a considered action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryOutcome {
    /// Executed; the cloud accepted every call.
    Done,
    /// Executed; a call failed (see `detail`).
    Failed,
    /// Dry-run: decided with the same evidence, nothing executed.
    Would,
    /// Refused by a guard rail (see `reason`).
    Refused,
    /// Decided but not started: leadership was lost or the controller is shutting down.
    Skipped,
    /// About to be executed: the intent, written to disk (synced) before the first call. An
    /// entry with the same ID and the outcome follows, unless the process died in between;
    /// then the next incarnation asks the cloud what became of it (`crate::resolve`) and writes
    /// the outcome (`Done` with a detail, or `Abandoned`), charged to its budget either way.
    Started,
    /// An intent the process died in, whose call never reached the cloud (found after the
    /// restart, see `crate::resolve`): charged, but it changed nothing, so a repair is retried
    /// at the same rung.
    Abandoned,
    /// A refusal that ended: the action is no longer held back, or no longer wanted. Written
    /// once, when the refusal has been gone for a while (`reason` says what had held it back).
    Lifted,
}

impl EntryOutcome {
    /// Kebab-case label for metrics and the status page.
    pub fn label(self) -> &'static str {
        match self {
            EntryOutcome::Done => "done",
            EntryOutcome::Failed => "failed",
            EntryOutcome::Would => "would",
            EntryOutcome::Refused => "refused",
            EntryOutcome::Skipped => "skipped",
            EntryOutcome::Started => "started",
            EntryOutcome::Abandoned => "abandoned",
            EntryOutcome::Lifted => "lifted",
        }
    }
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Decision time (simulated time under `--cloud sim`), seconds since the Unix epoch.
    pub at: Time,
    /// The policy's `metadata.name`.
    pub policy: String,
    /// Idempotency key of an executed (or skipped) action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The kind of change.
    pub kind: ActionKind,
    /// The change itself.
    pub action: Action,
    /// Why it was considered.
    pub cause: Cause,
    /// Why it was refused (refusals and dry-run only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RefusalReason>,
    /// What became of it.
    pub outcome: EntryOutcome,
    /// The error of a failed action, or why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Wall-clock time the cloud calls took, in milliseconds (executed actions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// The observations behind it.
    pub evidence: Evidence,
}

impl JournalEntry {
    /// The budget charge this entry records, if any: an action decided and started (done,
    /// failed, skipped after the decision, abandoned, or an intent whose outcome never came),
    /// never a dry-run, a refusal or an admission. An intent without outcome is taken as
    /// applied: the call may have reached the cloud before the process died.
    pub fn charge(&self) -> Option<crate::history::Charge> {
        let charged = matches!(
            self.outcome,
            EntryOutcome::Done
                | EntryOutcome::Failed
                | EntryOutcome::Skipped
                | EntryOutcome::Started
                | EntryOutcome::Abandoned
        );
        (charged && self.kind != crate::decision::ActionKind::Admit).then(|| crate::history::Charge {
            at: self.at,
            kind: self.kind,
            id: self.id.clone().unwrap_or_default(),
            took_effect: matches!(self.outcome, EntryOutcome::Done | EntryOutcome::Started),
            instance: self.action.instance().cloned(),
            from_host: match &self.action {
                Action::Migrate { from_host, .. } => Some(from_host.clone()),
                _ => None,
            },
        })
    }

    /// What the action concerns, for one-line displays: an instance, a count or a list.
    pub fn target(&self) -> String {
        match &self.action {
            Action::ScaleOut { count } => format!("+{count}"),
            Action::ScaleIn { instances } if instances.is_empty() => "(none chosen yet)".into(),
            Action::ScaleIn { instances } => instances.join(", "),
            Action::Migrate { instance, from_host } => format!("{instance} off {from_host}"),
            other => other.instance().cloned().unwrap_or_default(),
        }
    }
}

/// Where journal entries go. Called once per entry, in order, from a policy's reconcile task.
/// Implementations must not block: one that does network IO (Kubernetes Events) hands the entry
/// to its own task, and one that fails reports it in its own logs and metrics.
pub trait ActionSink: Send + Sync {
    /// Records one entry.
    fn record(&self, entry: &JournalEntry);

    /// Records an intent ([`EntryOutcome::Started`]) before the action's first call. Only a
    /// store that outlives the process needs it (the disk journal, which syncs it); publishers
    /// of news (Events, the status ring) wait for the outcome. An error means the intent is not
    /// durable: the action must not be executed.
    fn intend(&self, _entry: &JournalEntry) -> Result<(), String> {
        Ok(())
    }
}

/// Several sinks behind one.
#[derive(Default, Clone)]
pub struct Sinks(Vec<Arc<dyn ActionSink>>);

impl Sinks {
    /// Adds a sink.
    pub fn with(mut self, sink: Arc<dyn ActionSink>) -> Self {
        self.0.push(sink);
        self
    }
}

impl ActionSink for Sinks {
    fn record(&self, entry: &JournalEntry) {
        for s in &self.0 {
            s.record(entry);
        }
    }

    fn intend(&self, entry: &JournalEntry) -> Result<(), String> {
        let mut result = Ok(());
        for s in &self.0 {
            if let Err(e) = s.intend(entry) {
                result = Err(e);
            }
        }
        result
    }
}

/// Entries kept in memory for the status page.
pub const RING_ENTRIES: usize = 2000;

/// The journal: an in-memory ring, and optionally the rotated files on disk.
pub struct Journal {
    /// Where the files are, for reading back what earlier runs wrote.
    dir: Option<std::path::PathBuf>,
    ring: Mutex<VecDeque<Arc<JournalEntry>>>,
    capacity: usize,
    disk: Option<Mutex<disk::DiskJournal>>,
}

impl Journal {
    /// A journal kept in memory only.
    pub fn in_memory(capacity: usize) -> Self {
        Self {
            dir: None,
            ring: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            capacity: capacity.max(1),
            disk: None,
        }
    }

    /// A journal that also appends to `dir` (created if missing), rotated as `limits` say.
    pub fn on_disk(dir: &Path, limits: DiskLimits, capacity: usize) -> Result<Self, String> {
        let disk = disk::DiskJournal::open(dir, limits)?;
        Ok(Self {
            dir: Some(dir.to_owned()),
            disk: Some(Mutex::new(disk)),
            ..Self::in_memory(capacity)
        })
    }

    /// A journal that appends to `dir` as [`Journal::on_disk`], or, when `dir` cannot be
    /// opened, one that tries again on every entry and refuses intents until it can (never a
    /// silent memory-only journal). The error, if any, is returned for the start-up log.
    pub fn on_disk_or_retrying(dir: &Path, limits: DiskLimits, capacity: usize) -> (Self, Option<String>) {
        match Self::on_disk(dir, limits, capacity) {
            Ok(j) => (j, None),
            Err(e) => {
                let j = Self {
                    dir: Some(dir.to_owned()),
                    disk: Some(Mutex::new(disk::DiskJournal::failed(dir, limits, e.clone()))),
                    ..Self::in_memory(capacity)
                };
                (j, Some(e))
            }
        }
    }

    /// The most bytes the on-disk journal keeps (`max_bytes × (max_files + 1)`), or `None`
    /// for a journal in memory.
    pub fn capacity_bytes(&self) -> Option<u64> {
        let disk = self.disk.as_ref()?;
        let l = disk.lock().unwrap_or_else(|p| p.into_inner()).limits();
        Some(l.max_bytes.saturating_mul(u64::from(l.max_files) + 1))
    }

    /// Why the on-disk journal cannot be written now (`None` while it can, or when there is
    /// none): intents fail, so actions are not executed.
    pub fn unwritable(&self) -> Option<String> {
        let disk = self.disk.as_ref()?;
        disk.lock()
            .unwrap_or_else(|p| p.into_inner())
            .failing()
            .map(str::to_owned)
    }

    /// The budget charges of `policy` that earlier runs wrote to disk (none for an in-memory
    /// journal or an unreadable directory: the cloud's stamps still count). Damaged lines are
    /// skipped (and logged); every readable line still counts.
    pub fn persisted_charges(&self, policy: &str) -> Vec<crate::history::Charge> {
        self.read_back()
            .map(|entries| charges(&entries, policy))
            .unwrap_or_default()
    }

    /// The intents of `policy` that earlier runs wrote to disk and never concluded: the actions
    /// in flight when a process died, oldest first, for the next one to resolve.
    pub fn open_intents(&self, policy: &str) -> Vec<JournalEntry> {
        self.read_back()
            .map(|entries| open_intents(&entries, policy))
            .unwrap_or_default()
    }

    /// Every readable entry on disk; damaged lines are logged with their file and offset.
    fn read_back(&self) -> Option<Vec<JournalEntry>> {
        let dir = self.dir.as_ref()?;
        match disk::read_dir_detailed(dir) {
            Ok((entries, skipped)) => {
                if let Some(first) = skipped.first() {
                    tracing::warn!(
                        dir = %dir.display(),
                        skipped = skipped.len(),
                        read = entries.len(),
                        first = %first,
                        "Journal lines damaged; they are skipped, every other line is used (`sloop history` lists them)."
                    );
                }
                Some(entries)
            }
            Err(e) => {
                tracing::warn!(error = %e, "Journal unreadable; the budget is rebuilt from the cloud alone.");
                None
            }
        }
    }

    /// The newest `n` entries (of `policy`, if given), newest first.
    pub fn recent(&self, policy: Option<&str>, n: usize) -> Vec<Arc<JournalEntry>> {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        ring.iter()
            .rev()
            .filter(|e| policy.is_none_or(|p| e.policy == p))
            .take(n)
            .cloned()
            .collect()
    }
}

/// The budget charges of `policy` in `entries` (oldest first): one per started action, from
/// its outcome line, or from its intent line when the process died before the outcome.
pub fn charges(entries: &[JournalEntry], policy: &str) -> Vec<crate::history::Charge> {
    let concluded: std::collections::HashSet<&str> = entries
        .iter()
        .filter(|e| e.policy == policy && e.outcome != EntryOutcome::Started)
        .filter_map(|e| e.id.as_deref())
        .collect();
    entries
        .iter()
        .filter(|e| e.policy == policy)
        .filter(|e| e.outcome != EntryOutcome::Started || !concluded.contains(e.id.as_deref().unwrap_or("")))
        .filter_map(JournalEntry::charge)
        .collect()
}

/// The intents of `policy` in `entries` (oldest first) that no later line concludes, each once.
pub fn open_intents(entries: &[JournalEntry], policy: &str) -> Vec<JournalEntry> {
    let concluded: std::collections::HashSet<&str> = entries
        .iter()
        .filter(|e| e.policy == policy && e.outcome != EntryOutcome::Started)
        .filter_map(|e| e.id.as_deref())
        .collect();
    let mut seen = std::collections::HashSet::new();
    entries
        .iter()
        .filter(|e| e.policy == policy && e.outcome == EntryOutcome::Started)
        .filter(|e| {
            e.id.as_deref()
                .is_some_and(|id| !concluded.contains(id) && seen.insert(id))
        })
        .cloned()
        .collect()
}

impl ActionSink for Journal {
    fn intend(&self, entry: &JournalEntry) -> Result<(), String> {
        match &self.disk {
            Some(disk) => disk.lock().unwrap_or_else(|p| p.into_inner()).append(entry, true),
            None => Ok(()),
        }
    }

    fn record(&self, entry: &JournalEntry) {
        {
            let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
            if ring.len() == self.capacity {
                ring.pop_front();
            }
            ring.push_back(Arc::new(entry.clone()));
        }
        if let Some(disk) = &self.disk {
            // A failure is logged and shown by the disk journal; the entry stays in the ring.
            let _ = disk
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .append(entry, false);
        }
    }
}

#[cfg(test)]
mod tests;
