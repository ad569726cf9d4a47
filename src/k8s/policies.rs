//! Policies from ConfigMaps: an alternative source to the policy directory. Every ConfigMap that
//! matches the selector (`sloop.io/policy=true` by default) contributes one policy per data key
//! ending in `.yaml` or `.yml`; other keys are ignored so a ConfigMap can carry a README.
//!
//! The watcher turns the API's list-then-watch stream into the controller's [`PolicyEvent`]s
//! (the same ones the policy directory produces): an `Upsert` when a
//! policy text appears or changes, a `Remove` when its key, its ConfigMap or the ConfigMap's
//! label goes away (also when a re-list after a broken watch no longer finds it), a `Rekey` when
//! a policy moved to another key (see `PolicyIndex::follow_moves`). Texts that did
//! not change produce nothing, so a resync does not trigger reloads. `Synced` follows the first
//! complete list, so readiness waits for it. Validation is the receiver's job, exactly as for
//! files. Names are `namespace/configmap/key`, source labels `configmap/namespace/configmap:key`.

pub use crate::run::source::PolicyEvent;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, Client, ResourceExt,
    runtime::{WatchStreamExt, watcher},
};
use std::collections::{BTreeMap, BTreeSet};
use tokio::{sync::mpsc, task::JoinHandle};

/// Which ConfigMaps hold policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigMapSource {
    /// Namespace to watch; `None` watches every namespace (needs a ClusterRole).
    pub namespace: Option<String>,
    /// Label selector, e.g. `sloop.io/policy=true`.
    pub selector: String,
}

impl ConfigMapSource {
    /// The default label that marks a policy ConfigMap.
    pub const DEFAULT_SELECTOR: &'static str = "sloop.io/policy=true";

    /// How the source names itself in logs and on the status page.
    pub fn label(&self) -> String {
        format!(
            "configmaps {}/{}",
            self.namespace.as_deref().unwrap_or("*"),
            self.selector
        )
    }

    /// Parses the `--configmap-policies` flag: `NAMESPACE` or `NAMESPACE/SELECTOR` (`*` for
    /// every namespace).
    pub fn parse(flag: &str) -> Result<Self, String> {
        let (ns, selector) = match flag.split_once('/') {
            Some((ns, sel)) => (ns, sel),
            None => (flag, Self::DEFAULT_SELECTOR),
        };
        if ns.is_empty() || selector.is_empty() {
            return Err(format!(
                "--configmap-policies {flag:?}: expected NAMESPACE or NAMESPACE/SELECTOR (e.g. \
                 sloop/{})",
                Self::DEFAULT_SELECTOR
            ));
        }
        Ok(Self {
            namespace: (ns != "*").then(|| ns.to_string()),
            selector: selector.to_string(),
        })
    }
}

/// Watches the ConfigMaps and sends policy changes to `tx` until `tx` closes. Watch errors are
/// logged and retried with the kube crate's backoff; they never end the task.
pub fn watch_configmaps(
    client: Client,
    source: ConfigMapSource,
    tx: mpsc::Sender<PolicyEvent>,
) -> JoinHandle<()> {
    let api: Api<ConfigMap> = match &source.namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    let config = watcher::Config::default().labels(&source.selector);
    tokio::spawn(async move {
        let stream = watcher(api, config).default_backoff();
        let mut stream = std::pin::pin!(stream);
        let mut index = PolicyIndex::new(source.label());
        while let Some(event) = stream.next().await {
            match event {
                Ok(event) => {
                    for change in index.apply(event) {
                        if tx.send(change).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(selector = %source.selector, error = %e, "ConfigMap watch failed; retrying.")
                }
            }
        }
    })
}

// === impl PolicyIndex ===

/// What the watcher has told us so far: the policy texts per ConfigMap. Pure bookkeeping, so the
/// diffing is unit-tested without a server.
#[derive(Debug, Default)]
pub struct PolicyIndex {
    /// The source's label, for `Synced`.
    label: String,
    /// `namespace/configmap` → key → text.
    known: BTreeMap<String, BTreeMap<String, String>>,
    /// ConfigMaps seen during a re-list in progress.
    relisting: Option<BTreeSet<String>>,
    /// The first full list has been sent.
    synced: bool,
}

impl PolicyIndex {
    /// An empty index for the source called `label`.
    pub fn new(label: String) -> Self {
        Self {
            label,
            ..Self::default()
        }
    }

    /// Feeds one watcher event; returns the policy changes it implies.
    pub fn apply(&mut self, event: watcher::Event<ConfigMap>) -> Vec<PolicyEvent> {
        match event {
            watcher::Event::Init => {
                self.relisting = Some(BTreeSet::new());
                Vec::new()
            }
            watcher::Event::InitApply(cm) => {
                let id = cm_id(&cm);
                if let Some(seen) = &mut self.relisting {
                    seen.insert(id.clone());
                }
                self.set(id, policies_of(&cm))
            }
            watcher::Event::InitDone => {
                let seen = self.relisting.take().unwrap_or_default();
                let gone: Vec<String> = self
                    .known
                    .keys()
                    .filter(|id| !seen.contains(*id))
                    .cloned()
                    .collect();
                let mut out: Vec<PolicyEvent> = gone
                    .into_iter()
                    .flat_map(|id| self.set(id, BTreeMap::new()))
                    .collect();
                if !std::mem::replace(&mut self.synced, true) {
                    out.push(PolicyEvent::Synced {
                        source_label: self.label.clone(),
                    });
                }
                out
            }
            watcher::Event::Apply(cm) => self.set(cm_id(&cm), policies_of(&cm)),
            watcher::Event::Delete(cm) => self.set(cm_id(&cm), BTreeMap::new()),
        }
    }

    /// Replaces one ConfigMap's policies, returning the difference as events.
    fn set(&mut self, id: String, now: BTreeMap<String, String>) -> Vec<PolicyEvent> {
        let before = self.known.remove(&id).unwrap_or_default();
        let mut out = Vec::new();
        for key in before.keys().filter(|k| !now.contains_key(*k)) {
            out.push(PolicyEvent::Remove {
                name: format!("{id}/{key}"),
            });
        }
        for (key, text) in &now {
            if before.get(key) != Some(text) {
                let name = format!("{id}/{key}");
                out.push(PolicyEvent::Upsert {
                    source_label: source_label(&name),
                    name,
                    text: text.clone(),
                });
            }
        }
        if !now.is_empty() {
            self.known.insert(id.clone(), now);
        }
        self.follow_moves(&id, &before, out)
    }

    /// A policy whose key went away while the same policy (by `metadata.name`) is held by
    /// another key — a renamed key, or a policy moved to another ConfigMap whose update arrived
    /// first — moved: its task keeps running under the new key (`Rekey`, then the new key's
    /// `Upsert`, which is a no-op for an unchanged text and clears a duplicate-name rejection
    /// the new key got while the old one was still there). When the old ConfigMap's update
    /// arrives first, the policy is removed and re-added, as the API gives no way to know
    /// that the other half of the move is coming.
    fn follow_moves(
        &self,
        id: &str,
        before: &BTreeMap<String, String>,
        events: Vec<PolicyEvent>,
    ) -> Vec<PolicyEvent> {
        let mut out = Vec::with_capacity(events.len());
        let mut upserts: Vec<PolicyEvent> = Vec::new();
        let mut removes = Vec::new();
        for e in events {
            match e {
                PolicyEvent::Upsert { .. } => upserts.push(e),
                PolicyEvent::Remove { name } => removes.push(name),
                other => out.push(other),
            }
        }
        for from in removes {
            let key = from
                .strip_prefix(id)
                .and_then(|k| k.strip_prefix('/'))
                .unwrap_or_default();
            let heir = before
                .get(key)
                .and_then(|text| policy_name(&from, text))
                .and_then(|name| self.holder_of(&name, &from));
            let Some((to, text)) = heir else {
                out.push(PolicyEvent::Remove { name: from });
                continue;
            };
            out.push(PolicyEvent::Rekey { from, to: to.clone() });
            let upsert = match upserts
                .iter()
                .position(|u| matches!(u, PolicyEvent::Upsert { name, .. } if *name == to))
            {
                Some(i) => upserts.remove(i),
                None => PolicyEvent::Upsert {
                    source_label: source_label(&to),
                    name: to,
                    text,
                },
            };
            out.push(upsert);
        }
        out.extend(upserts);
        out
    }

    /// The key (other than `except`) whose text declares the policy `name`, with that text.
    fn holder_of(&self, name: &str, except: &str) -> Option<(String, String)> {
        self.known.iter().find_map(|(cm, keys)| {
            keys.iter().find_map(|(key, text)| {
                let full = format!("{cm}/{key}");
                (full != except && policy_name(&full, text).as_deref() == Some(name))
                    .then(|| (full, text.clone()))
            })
        })
    }
}

/// The `metadata.name` a valid policy text declares.
fn policy_name(key: &str, text: &str) -> Option<String> {
    crate::policy::parse(key, text.as_bytes())
        .ok()
        .map(|p| p.metadata.name)
}

/// The source label of a `namespace/configmap/key` name.
fn source_label(name: &str) -> String {
    match name.rsplit_once('/') {
        Some((cm, key)) => format!("configmap/{cm}:{key}"),
        None => format!("configmap/{name}"),
    }
}

fn cm_id(cm: &ConfigMap) -> String {
    format!("{}/{}", cm.namespace().unwrap_or_default(), cm.name_any())
}

/// The policy keys of a ConfigMap.
fn policies_of(cm: &ConfigMap) -> BTreeMap<String, String> {
    cm.data
        .iter()
        .flatten()
        .filter(|(k, _)| k.ends_with(".yaml") || k.ends_with(".yml"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;

    fn cm(name: &str, data: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            data: Some(data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        }
    }

    fn names(events: &[PolicyEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                PolicyEvent::Upsert { name, .. } => format!("+{name}"),
                PolicyEvent::Remove { name } => format!("-{name}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn only_yaml_keys_are_policies_and_unchanged_texts_are_quiet() {
        let mut index = PolicyIndex::default();
        let first = index.apply(watcher::Event::Apply(cm(
            "a",
            &[("web.yaml", "x"), ("README", "r")],
        )));
        assert_eq!(names(&first), ["+ns/a/web.yaml"]);
        let again = index.apply(watcher::Event::Apply(cm(
            "a",
            &[("web.yaml", "x"), ("README", "s")],
        )));
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn a_removed_key_and_a_deleted_configmap_remove_their_policies() {
        let mut index = PolicyIndex::default();
        index.apply(watcher::Event::Apply(cm(
            "a",
            &[("one.yaml", "1"), ("two.yml", "2")],
        )));
        let shrunk = index.apply(watcher::Event::Apply(cm("a", &[("two.yml", "2b")])));
        assert_eq!(names(&shrunk), ["-ns/a/one.yaml", "+ns/a/two.yml"]);
        let deleted = index.apply(watcher::Event::Delete(cm("a", &[])));
        assert_eq!(names(&deleted), ["-ns/a/two.yml"]);
    }

    #[test]
    fn a_relist_removes_what_it_no_longer_finds_and_keeps_the_rest_quiet() {
        let mut index = PolicyIndex::new("test".into());
        index.apply(watcher::Event::Apply(cm("a", &[("a.yaml", "1")])));
        index.apply(watcher::Event::Apply(cm("b", &[("b.yaml", "1")])));
        let relist = |index: &mut PolicyIndex| {
            let mut out = index.apply(watcher::Event::Init);
            out.extend(index.apply(watcher::Event::InitApply(cm("a", &[("a.yaml", "1")]))));
            out.extend(index.apply(watcher::Event::InitDone));
            names(&out)
        };
        assert_eq!(
            relist(&mut index),
            ["-ns/b/b.yaml", "Synced { source_label: \"test\" }"]
        );
        // Later re-lists do not announce themselves again.
        assert!(relist(&mut index).is_empty());
    }

    /// The shipped minimal policy, renamed to `name`.
    fn policy(name: &str) -> String {
        include_str!("../../policies/minimal.yaml").replacen("name: minimal-web", &format!("name: {name}"), 1)
    }

    fn kinds(events: &[PolicyEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                PolicyEvent::Rekey { from, to } => format!("{from} -> {to}"),
                other => names(std::slice::from_ref(other)).remove(0),
            })
            .collect()
    }

    #[test]
    fn a_renamed_key_moves_its_policy_instead_of_removing_it() {
        let mut index = PolicyIndex::default();
        index.apply(watcher::Event::Apply(cm("a", &[("web.yaml", &policy("web"))])));
        let renamed = index.apply(watcher::Event::Apply(cm("a", &[("site.yaml", &policy("web"))])));
        assert_eq!(
            kinds(&renamed),
            ["ns/a/web.yaml -> ns/a/site.yaml", "+ns/a/site.yaml"]
        );
        // A different policy under the new key is a removal and an addition, as before.
        let other = index.apply(watcher::Event::Apply(cm("a", &[("shop.yaml", &policy("shop"))])));
        assert_eq!(kinds(&other), ["-ns/a/site.yaml", "+ns/a/shop.yaml"]);
    }

    #[test]
    fn a_policy_moved_to_another_configmap_is_rekeyed_when_the_new_one_arrives_first() {
        let mut index = PolicyIndex::default();
        index.apply(watcher::Event::Apply(cm("a", &[("web.yaml", &policy("web"))])));
        let added = index.apply(watcher::Event::Apply(cm("b", &[("web.yaml", &policy("web"))])));
        assert_eq!(kinds(&added), ["+ns/b/web.yaml"]);
        let left = index.apply(watcher::Event::Delete(cm("a", &[])));
        assert_eq!(kinds(&left), ["ns/a/web.yaml -> ns/b/web.yaml", "+ns/b/web.yaml"]);
    }

    #[test]
    fn the_flag_takes_a_namespace_and_an_optional_selector() {
        let plain = ConfigMapSource::parse("sloop").unwrap();
        assert_eq!(plain.namespace.as_deref(), Some("sloop"));
        assert_eq!(plain.selector, ConfigMapSource::DEFAULT_SELECTOR);
        let all = ConfigMapSource::parse("*/team=web").unwrap();
        assert_eq!((all.namespace, all.selector.as_str()), (None, "team=web"));
        assert!(ConfigMapSource::parse("/x").is_err());
    }
}
