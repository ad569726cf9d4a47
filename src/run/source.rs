//! Where policies come from while the controller runs. Sources send [`PolicyEvent`]s into one
//! channel that the supervisor consumes; the policy directory watcher here is one source, a
//! Kubernetes ConfigMap watcher can be another.
//!
//! The watcher polls the directory every couple of seconds and compares file contents (a
//! hash), which also catches the symlink swap Kubernetes does when a mounted ConfigMap changes
//! (no inotify event reaches the file's old inode). Three rules keep a policy in force through
//! what editors, `mv` and full disks do to files:
//!
//! - a change is applied only once two reads a settle delay apart agree, so a file rewritten
//!   in place is never put in force half-written (writers should still write a temporary file
//!   and rename it over the old one: see docs/hardening.md);
//! - a file that is there but cannot be read (permissions, a symlink to nothing or to an
//!   unreadable file) is an error, shown and counted; the last good version stays;
//! - the directory is compared as a whole, by policy name and content: a policy that moved to
//!   another file (`mv web.yaml site.yaml`, an editor's save-via-rename) keeps running as it
//!   was, and is not removed and re-added.

use crate::policy;
use std::{
    collections::BTreeMap,
    hash::{DefaultHasher, Hash, Hasher},
    path::{Path, PathBuf},
    time::Duration,
};
use tokio::sync::{mpsc, watch};

/// A change of one policy document at its source.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyEvent {
    /// A document was added or changed. The supervisor validates it before anything changes.
    Upsert {
        /// Stable key of the document at its source (a file path, `namespace/configmap/key`);
        /// the policy's own `metadata.name` is read from the text.
        name: String,
        /// Where it came from, for diagnostics (`policies/web.yaml`, `configmap ns/web`).
        source_label: String,
        /// The YAML.
        text: String,
    },
    /// The source could not even produce a document (unreadable, or checks that need the
    /// source itself failed, such as a missing boot script next to a policy file). Handled
    /// like an invalid upsert: rejected, the last good version stays in force.
    Invalid {
        /// Key, as in `Upsert`.
        name: String,
        /// Where it came from.
        source_label: String,
        /// Each problem, one line each, located by file, line and column where possible.
        errors: Vec<String>,
    },
    /// The document is gone: the policy stops being managed, its VMs are left alone.
    Remove {
        /// Key, as in `Upsert`.
        name: String,
    },
    /// The document moved to another key at its source (a renamed file) with its policy name:
    /// the policy keeps running under the new key. An `Upsert` of the new key may follow if
    /// its content changed too.
    Rekey {
        /// The old key.
        from: String,
        /// The new key.
        to: String,
    },
    /// The source has sent everything it had at start-up (readiness waits for this).
    Synced {
        /// The source's label.
        source_label: String,
    },
}

/// How often the directory watcher looks.
pub const DEFAULT_POLL: Duration = Duration::from_secs(2);

/// Longest wait between the two reads that must agree before a change is applied.
pub const SETTLE: Duration = Duration::from_millis(500);

/// Watches `dir` for `*.yaml`/`*.yml` policies (not recursing, so `scenarios/` is skipped) and
/// sends an event for each file that appeared, changed, moved or disappeared, until
/// `shutdown` or the receiver is gone.
pub async fn watch_dir(
    dir: PathBuf,
    poll: Duration,
    tx: mpsc::Sender<PolicyEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut state = DirState::default();
    let mut scans = 0;
    let mut synced = false;
    let mut dir_error = false;
    loop {
        let mut unsettled = false;
        match scan(&dir) {
            Ok(files) => {
                dir_error = false;
                let (events, pending) = state.step(files);
                unsettled = pending;
                for event in events {
                    if tx.send(event).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) if !dir_error => {
                // A missing directory is not "every policy was removed": keep managing what we
                // have and say so once.
                tracing::warn!(dir = %dir.display(), error = %e, "Cannot read the policy directory.");
                dir_error = true;
            }
            Err(_) => {}
        }
        scans += 1;
        // Ready once what was there at start-up has settled (or after a second look, so a
        // file rewritten without pause cannot hold readiness back).
        if !synced && (!unsettled || scans >= 2) {
            synced = true;
            let label = dir.display().to_string();
            if tx
                .send(PolicyEvent::Synced { source_label: label })
                .await
                .is_err()
            {
                return;
            }
        }
        let wait = if unsettled { poll.min(SETTLE) } else { poll };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One file as the scan saw it: its content hash, the policy name it declares (when valid)
/// and the event to send if it changed.
pub struct Seen {
    key: String,
    hash: u64,
    policy: Option<String>,
    event: PolicyEvent,
}

fn scan(dir: &Path) -> std::io::Result<Vec<Seen>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_yaml = matches!(path.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"));
        // A directory named *.yaml is not a policy; anything else that claims to be one is
        // read, and a read error is an error (never "the file is gone").
        if !is_yaml || path.is_dir() {
            continue;
        }
        out.push(look(&path));
    }
    Ok(out)
}

/// Reads and checks one policy file.
pub fn look(path: &Path) -> Seen {
    let key = path.display().to_string();
    let mut h = DefaultHasher::new();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let error = format!("{key}: cannot read the file: {e}; the last good version stays in force");
            // Re-read (and re-apply) once the file is readable, whatever its content.
            (1u8, &error).hash(&mut h);
            return Seen {
                key: key.clone(),
                hash: h.finish(),
                policy: None,
                event: PolicyEvent::Invalid {
                    name: key.clone(),
                    source_label: key,
                    errors: vec![error],
                },
            };
        }
    };
    bytes.hash(&mut h);
    // A boot script referenced by the policy counts as part of it.
    let (policy, event) = match policy::load_file(path) {
        Ok(loaded) => (
            Some(loaded.policy.metadata.name.clone()),
            PolicyEvent::Upsert {
                name: key.clone(),
                source_label: key.clone(),
                text: String::from_utf8_lossy(&bytes).into_owned(),
            },
        ),
        Err(errors) => {
            // Re-check next time even if the bytes stay the same (the boot script may appear).
            0u8.hash(&mut h);
            (
                None,
                PolicyEvent::Invalid {
                    name: key.clone(),
                    source_label: key.clone(),
                    errors: errors.iter().map(render).collect(),
                },
            )
        }
    };
    Seen {
        key,
        hash: h.finish(),
        policy,
        event,
    }
}

/// What the watcher has applied, and what it has seen once and waits to see again.
#[derive(Debug, Default)]
pub struct DirState {
    /// Applied: key -> (content hash, policy name when valid).
    applied: BTreeMap<String, (u64, Option<String>)>,
    /// Seen once with this hash (`None`: seen missing once).
    pending: BTreeMap<String, Option<u64>>,
}

impl DirState {
    /// The events that bring what was applied to what the directory holds now, for the changes
    /// seen twice in a row; and whether some change still waits for its second read.
    pub fn step(&mut self, now: Vec<Seen>) -> (Vec<PolicyEvent>, bool) {
        let mut unsettled = false;
        let mut ready = Vec::new();
        let present: std::collections::BTreeSet<String> = now.iter().map(|s| s.key.clone()).collect();
        for s in now {
            if self.applied.get(&s.key).map(|a| a.0) == Some(s.hash) {
                self.pending.remove(&s.key);
            } else if self.pending.get(&s.key) == Some(&Some(s.hash)) {
                self.pending.remove(&s.key);
                ready.push(s);
            } else {
                self.pending.insert(s.key.clone(), Some(s.hash));
                unsettled = true;
            }
        }
        let mut gone = Vec::new();
        for key in self.applied.keys().filter(|k| !present.contains(*k)) {
            if self.pending.get(key) == Some(&None) {
                gone.push(key.clone());
            } else {
                self.pending.insert(key.clone(), None);
                unsettled = true;
            }
        }
        // Forget a first read the next scan contradicted (a file seen once, then gone again).
        let applied = &self.applied;
        self.pending.retain(|k, v| match v {
            Some(_) => present.contains(k),
            None => applied.contains_key(k) && !present.contains(k),
        });
        let mut events = Vec::new();
        for s in ready {
            self.applied.insert(s.key.clone(), (s.hash, s.policy.clone()));
            events.push(s.event);
        }
        for key in gone {
            self.pending.remove(&key);
            let Some((_, policy)) = self.applied.remove(&key) else {
                continue;
            };
            // The same policy in another file: it moved. The new key takes it over (the
            // upsert after the rekey applies a changed content, or clears a duplicate-name
            // rejection the new file got while the old one was still there).
            let heir = policy.as_ref().and_then(|name| {
                self.applied
                    .iter()
                    .find(|(_, (_, p))| p.as_ref() == Some(name))
                    .map(|(k, _)| k.clone())
            });
            match heir {
                Some(to) => {
                    let upsert = events
                        .iter()
                        .position(|e| matches!(e, PolicyEvent::Upsert { name, .. } if *name == to));
                    let upsert = match upsert {
                        Some(i) => events.remove(i),
                        None => match look(Path::new(&to)).event {
                            e @ PolicyEvent::Upsert { .. } => e,
                            _ => continue,
                        },
                    };
                    events.push(PolicyEvent::Rekey { from: key, to });
                    events.push(upsert);
                }
                None => events.push(PolicyEvent::Remove { name: key }),
            }
        }
        (events, unsettled)
    }
}

/// One diagnostic on one line: `file:line:col: message`, with the field and the fix.
pub fn render(d: &crate::document::Diagnostic) -> String {
    d.to_string()
}

#[cfg(test)]
mod tests;
