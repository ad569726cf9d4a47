//! Where policies come from while the controller runs. Sources send [`PolicyEvent`]s into one
//! channel that the supervisor consumes; the policy directory watcher here is one source, a
//! Kubernetes ConfigMap watcher can be another.
//!
//! The watcher polls the directory every couple of seconds and compares file contents (a
//! hash), which also catches the symlink swap Kubernetes does when a mounted ConfigMap changes
//! (no inotify event reaches the file's old inode).

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
    /// The source has sent everything it had at start-up (readiness waits for this).
    Synced {
        /// The source's label.
        source_label: String,
    },
}

/// How often the directory watcher looks.
pub const DEFAULT_POLL: Duration = Duration::from_secs(2);

/// Watches `dir` for `*.yaml`/`*.yml` policies (not recursing, so `scenarios/` is skipped) and
/// sends an event for each file that appeared, changed or disappeared, until `shutdown` or the
/// receiver is gone.
pub async fn watch_dir(
    dir: PathBuf,
    poll: Duration,
    tx: mpsc::Sender<PolicyEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut synced = false;
    let mut dir_error = false;
    loop {
        match scan(&dir) {
            Ok(files) => {
                dir_error = false;
                for event in diff(&mut seen, files) {
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
        if !synced {
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
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One file as the scan saw it: its content hash and the event to send if that changed.
struct Seen {
    key: String,
    hash: u64,
    event: PolicyEvent,
}

fn scan(dir: &Path) -> std::io::Result<Vec<Seen>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_yaml = matches!(path.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"));
        if !is_yaml || !path.is_file() {
            continue;
        }
        let key = path.display().to_string();
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let mut h = DefaultHasher::new();
        bytes.hash(&mut h);
        // A boot script referenced by the policy counts as part of it.
        let event = match policy::load_file(&path) {
            Ok(_) => PolicyEvent::Upsert {
                name: key.clone(),
                source_label: key.clone(),
                text: String::from_utf8_lossy(&bytes).into_owned(),
            },
            Err(errors) => PolicyEvent::Invalid {
                name: key.clone(),
                source_label: key.clone(),
                errors: errors.iter().map(render).collect(),
            },
        };
        if matches!(event, PolicyEvent::Invalid { .. }) {
            // Re-check next time even if the bytes stay the same (the boot script may appear).
            0u8.hash(&mut h);
        }
        out.push(Seen {
            key,
            hash: h.finish(),
            event,
        });
    }
    Ok(out)
}

/// The events that turn `seen` into `now`, updating `seen`.
fn diff(seen: &mut BTreeMap<String, u64>, now: Vec<Seen>) -> Vec<PolicyEvent> {
    let mut events = Vec::new();
    let keys: Vec<String> = now.iter().map(|s| s.key.clone()).collect();
    for s in now {
        if seen.get(&s.key) != Some(&s.hash) {
            seen.insert(s.key, s.hash);
            events.push(s.event);
        }
    }
    let gone: Vec<String> = seen.keys().filter(|k| !keys.contains(k)).cloned().collect();
    for k in gone {
        seen.remove(&k);
        events.push(PolicyEvent::Remove { name: k });
    }
    events
}

/// One diagnostic on one line: `file:line:col: message`, with the field and the fix.
pub fn render(d: &crate::document::Diagnostic) -> String {
    d.to_string()
}
