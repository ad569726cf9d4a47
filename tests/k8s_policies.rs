//! Policies from ConfigMaps against a fake API server on loopback: a labelled ConfigMap's YAML
//! keys arrive as `Upsert`s, changes as `Upsert`s, deletions (of the key, the ConfigMap or its
//! label) as `Remove`s; a broken watch resumes without repeating anything, and a re-list after
//! the API server forgot our resourceVersion still notices what was deleted meanwhile.

use crate::fake_k8s;

use fake_k8s::FakeK8s;
use sloop::k8s::{ConfigMapSource, PolicyEvent, watch_configmaps};
use std::time::Duration;
use tokio::sync::mpsc;

const LABEL: (&str, &str) = ("sloop.io/policy", "true");

fn source() -> ConfigMapSource {
    ConfigMapSource::parse("sloop").expect("flag")
}

async fn next(rx: &mut mpsc::Receiver<PolicyEvent>) -> PolicyEvent {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a policy event within 5 s")
        .expect("the watcher is running")
}

/// Nothing more arrives for a while (the watcher stays quiet about unchanged policies).
async fn quiet(rx: &mut mpsc::Receiver<PolicyEvent>) {
    if let Ok(ev) = tokio::time::timeout(Duration::from_millis(800), rx.recv()).await {
        panic!("unexpected policy event: {ev:?}");
    }
}

fn upsert(name: &str, text: &str) -> PolicyEvent {
    let (ns, rest) = name.split_once('/').expect("ns/cm/key");
    let (cm, key) = rest.split_once('/').expect("cm/key");
    PolicyEvent::Upsert {
        name: name.into(),
        source_label: format!("configmap/{ns}/{cm}:{key}"),
        text: text.into(),
    }
}

fn remove(name: &str) -> PolicyEvent {
    PolicyEvent::Remove { name: name.into() }
}

/// The watcher announces once that its first full list is through (readiness waits for it).
async fn synced(rx: &mut mpsc::Receiver<PolicyEvent>) {
    let ev = next(rx).await;
    assert_eq!(
        ev,
        PolicyEvent::Synced {
            source_label: "configmaps sloop/sloop.io/policy=true".into()
        }
    );
}

#[tokio::test]
async fn configmap_add_change_and_delete_become_upsert_upsert_remove() {
    let fake = FakeK8s::start().await;
    fake.put_configmap("sloop", "early", &[LABEL], &[("early.yaml", "e1")]);
    fake.put_configmap("sloop", "unlabelled", &[], &[("x.yaml", "ignored")]);
    fake.put_configmap("elsewhere", "other-ns", &[LABEL], &[("y.yaml", "ignored")]);
    let (tx, mut rx) = mpsc::channel(16);
    let _task = watch_configmaps(fake.client(), source(), tx);
    assert_eq!(next(&mut rx).await, upsert("sloop/early/early.yaml", "e1"));
    synced(&mut rx).await;

    fake.put_configmap(
        "sloop",
        "web",
        &[LABEL],
        &[("web.yaml", "v1"), ("README.md", "not a policy")],
    );
    assert_eq!(next(&mut rx).await, upsert("sloop/web/web.yaml", "v1"));
    fake.put_configmap(
        "sloop",
        "web",
        &[LABEL],
        &[("web.yaml", "v2"), ("README.md", "not a policy")],
    );
    assert_eq!(next(&mut rx).await, upsert("sloop/web/web.yaml", "v2"));
    fake.delete_configmap("sloop", "web");
    assert_eq!(next(&mut rx).await, remove("sloop/web/web.yaml"));
    quiet(&mut rx).await;
}

#[tokio::test]
async fn a_removed_key_or_label_removes_the_policy() {
    let fake = FakeK8s::start().await;
    let (tx, mut rx) = mpsc::channel(16);
    let _task = watch_configmaps(fake.client(), source(), tx);
    synced(&mut rx).await;
    fake.put_configmap("sloop", "pair", &[LABEL], &[("a.yaml", "a"), ("b.yml", "b")]);
    let mut first = vec![next(&mut rx).await, next(&mut rx).await];
    first.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        first,
        [upsert("sloop/pair/a.yaml", "a"), upsert("sloop/pair/b.yml", "b")]
    );
    fake.put_configmap("sloop", "pair", &[LABEL], &[("b.yml", "b")]);
    assert_eq!(next(&mut rx).await, remove("sloop/pair/a.yaml"));
    fake.put_configmap(
        "sloop",
        "pair",
        &[("sloop.io/policy", "false")],
        &[("b.yml", "b")],
    );
    assert_eq!(next(&mut rx).await, remove("sloop/pair/b.yml"));
    quiet(&mut rx).await;
}

#[tokio::test]
async fn a_broken_watch_resumes_without_repeating_policies() {
    let fake = FakeK8s::start().await;
    let (tx, mut rx) = mpsc::channel(16);
    let _task = watch_configmaps(fake.client(), source(), tx);
    synced(&mut rx).await;
    fake.put_configmap("sloop", "web", &[LABEL], &[("web.yaml", "v1")]);
    assert_eq!(next(&mut rx).await, upsert("sloop/web/web.yaml", "v1"));
    let watches = fake.watch_requests();
    fake.break_watches();
    fake.put_configmap("sloop", "web", &[LABEL], &[("web.yaml", "v2")]);
    assert_eq!(next(&mut rx).await, upsert("sloop/web/web.yaml", "v2"));
    quiet(&mut rx).await;
    assert!(fake.watch_requests() > watches, "the watcher did not reconnect");
}

#[tokio::test]
async fn a_relist_after_a_lost_resource_version_notices_deletions_in_the_gap() {
    let fake = FakeK8s::start().await;
    let (tx, mut rx) = mpsc::channel(16);
    let _task = watch_configmaps(fake.client(), source(), tx);
    synced(&mut rx).await;
    fake.put_configmap("sloop", "kept", &[LABEL], &[("kept.yaml", "k")]);
    fake.put_configmap("sloop", "gone", &[LABEL], &[("gone.yaml", "g")]);
    let mut first = vec![next(&mut rx).await, next(&mut rx).await];
    first.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        first,
        [
            upsert("sloop/gone/gone.yaml", "g"),
            upsert("sloop/kept/kept.yaml", "k")
        ]
    );

    // The API server restarts: watches break and cannot be reopened for a moment; meanwhile a
    // ConfigMap is deleted and the history compacted, so resuming gets 410 Gone and re-lists.
    fake.watch_unavailable(true);
    fake.break_watches();
    fake.delete_configmap("sloop", "gone");
    fake.compact();
    fake.watch_unavailable(false);
    assert_eq!(next(&mut rx).await, remove("sloop/gone/gone.yaml"));
    quiet(&mut rx).await;
}
