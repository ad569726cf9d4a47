//! Actions as Kubernetes Events against a fake API server on loopback: the Event carries the
//! action kind as its reason, what became of it as its action, the cause and evidence as its
//! note, Normal or Warning; publishing never waits, and a full queue drops and counts.

use crate::fake_k8s;

use fake_k8s::FakeK8s;
use serde_json::Value;
use sloop::{
    act::executor::Outcome,
    decision::{Action, Cause, Evidence, PlannedAction, Refusal, RefusalReason},
    k8s::{ActionEvent, EventSink, EventSinkConfig},
};
use std::{sync::atomic::Ordering, time::Duration};

fn planned() -> PlannedAction {
    PlannedAction {
        id: "election-web/42/scale-out".into(),
        action: Action::ScaleOut { count: 2 },
        cause: Cause::Capacity,
        evidence: Evidence {
            objective: Some("latency".into()),
            summary: "p99 latency 1.4 s over 0.8 s from 3 of 3 locations".into(),
            ..Default::default()
        },
    }
}

async fn events(fake: &FakeK8s, n: usize) -> Vec<Value> {
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let evs = fake.events();
            if evs.len() >= n {
                return evs;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    got.unwrap_or_else(|_| panic!("{n} events did not arrive within 5 s; got {:?}", fake.events()))
}

#[tokio::test]
async fn actions_and_refusals_land_as_events_with_reason_type_and_note() {
    let fake = FakeK8s::start().await;
    let (sink, _task) = EventSink::spawn(
        fake.client(),
        EventSinkConfig::for_pod("sloop", "sloop-7f9c-abcde"),
    );
    let ok = Outcome {
        id: planned().id,
        result: Ok(()),
        created: vec![],
    };
    let failed = Outcome {
        result: Err("quota".into()),
        ..ok.clone()
    };
    let refusal = Refusal {
        action: Action::Reboot {
            instance: "vm-3".into(),
            hard: true,
        },
        cause: Cause::InstanceFault,
        reason: RefusalReason::ResourceCap,
        evidence: Evidence {
            summary: "vm-3 fails every probe from 3 locations".into(),
            ..Default::default()
        },
    };
    assert!(sink.publish(ActionEvent::executed("election-web", &planned(), &ok)));
    assert!(sink.publish(ActionEvent::executed("election-web", &planned(), &failed)));
    assert!(sink.publish(ActionEvent::refused("election-web", &refusal)));
    assert!(sink.publish(ActionEvent::would("election-web", &planned())));
    let evs = events(&fake, 4).await;

    let taken = &evs[0];
    assert_eq!(taken["apiVersion"], "events.k8s.io/v1");
    assert_eq!(taken["kind"], "Event");
    assert_eq!(taken["metadata"]["namespace"], "sloop");
    assert_eq!(taken["type"], "Normal");
    assert_eq!(taken["reason"], "ScaleOut");
    assert_eq!(taken["action"], "Taken");
    assert_eq!(taken["regarding"]["kind"], "Pod");
    assert_eq!(taken["regarding"]["name"], "sloop-7f9c-abcde");
    assert_eq!(taken["reportingController"], "sloop.io/controller");
    assert_eq!(taken["reportingInstance"], "sloop-7f9c-abcde");
    assert!(
        taken["eventTime"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{taken}"
    );
    let note = taken["note"].as_str().expect("note");
    assert!(
        note.contains("election-web") && note.contains("scale-out +2"),
        "{note}"
    );
    assert!(
        note.contains("capacity") && note.contains("p99 latency 1.4 s"),
        "{note}"
    );

    assert_eq!(
        (evs[1]["type"].as_str(), evs[1]["action"].as_str()),
        (Some("Warning"), Some("Failed"))
    );
    assert_eq!(evs[2]["type"], "Warning");
    assert_eq!(evs[2]["reason"], "RebootHard");
    assert_eq!(evs[2]["action"], "RefusedResourceCap");
    assert!(
        evs[2]["note"]
            .as_str()
            .is_some_and(|n| n.contains("vm-3") && n.contains("instance-fault"))
    );
    assert_eq!(
        (evs[3]["type"].as_str(), evs[3]["action"].as_str()),
        (Some("Normal"), Some("WouldTake"))
    );
    let names: std::collections::BTreeSet<_> =
        evs.iter().map(|e| e["metadata"]["name"].to_string()).collect();
    assert_eq!(names.len(), 4, "event names must be unique");
    assert_eq!(sink.stats().published.load(Ordering::Relaxed), 4);
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_instead_of_waiting() {
    let fake = FakeK8s::start().await;
    let config = EventSinkConfig {
        queue: 2,
        burst: 1,
        per_second: 0.0, // one event, then no refill: everything after it queues, then drops
        ..EventSinkConfig::for_pod("sloop", "sloop-0")
    };
    let (sink, _task) = EventSink::spawn(fake.client(), config);
    let ok = Outcome {
        id: "x".into(),
        result: Ok(()),
        created: vec![],
    };
    let accepted = (0..10)
        .filter(|_| sink.publish(ActionEvent::executed("web", &planned(), &ok)))
        .count();
    let dropped = sink.stats().dropped.load(Ordering::Relaxed) as usize;
    assert_eq!(accepted + dropped, 10);
    // The worker may hold one event besides the two queued ones.
    assert!((2..=3).contains(&accepted), "accepted {accepted}");
    assert_eq!(events(&fake, 1).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.events().len(), 1, "the rate limit let more through");
    assert_eq!(sink.stats().published.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn an_unreachable_api_server_costs_the_loop_nothing_and_is_counted() {
    // A port nobody listens on: bind, note the port, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let client = kube::Client::try_from(kube::Config::new(
        format!("http://127.0.0.1:{port}").parse().expect("url"),
    ))
    .expect("client");
    let (sink, _task) = EventSink::spawn(client, EventSinkConfig::for_pod("sloop", "sloop-0"));
    assert!(sink.publish(ActionEvent::would("web", &planned())));
    let failed = tokio::time::timeout(Duration::from_secs(5), async {
        while sink.stats().failed.load(Ordering::Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(failed.is_ok(), "the failure was not counted");
    assert_eq!(sink.stats().published.load(Ordering::Relaxed), 0);
}

/// An action a killed controller left in flight, resolved by the next one (`sloop::resolve`),
/// becomes an Event through the journal's sink: Warning `Abandoned` with the resolution in the
/// note, or Normal `Taken` when the cloud confirmed it.
#[tokio::test]
async fn interrupted_actions_resolved_after_a_restart_land_as_events() {
    use sloop::{
        journal::{ActionSink, EntryOutcome, JournalEntry},
        run::k8s::EventsSink,
    };
    let fake = FakeK8s::start().await;
    let (sink, _task) = EventSink::spawn(
        fake.client(),
        EventSinkConfig::for_pod("sloop", "sloop-7f9c-abcde"),
    );
    let events_sink = EventsSink(sink);
    let resolved = |outcome, detail: &str| JournalEntry {
        at: 1_790_524_800.0,
        policy: "election-web".into(),
        id: Some("election-web-1790524800-7".into()),
        kind: sloop::decision::ActionKind::RebootSoft,
        action: Action::Reboot {
            instance: "vm-3".into(),
            hard: false,
        },
        cause: Cause::InstanceFault,
        reason: None,
        outcome,
        detail: Some(detail.into()),
        duration_ms: None,
        evidence: Evidence {
            summary: "vm-3 fails every probe from 3 locations".into(),
            ..Default::default()
        },
    };
    // The intent itself is never news for the cluster.
    events_sink
        .intend(&resolved(EntryOutcome::Started, ""))
        .expect("Events take no intents, so never refuse one");
    events_sink.record(&resolved(
        EntryOutcome::Abandoned,
        "interrupted, abandoned: the cloud recorded no reboot since the intent",
    ));
    events_sink.record(&resolved(
        EntryOutcome::Done,
        "confirmed after restart: the cloud recorded reboot at 1790524801 (req-1)",
    ));
    let evs = events(&fake, 2).await;
    assert_eq!(
        (
            evs[0]["type"].as_str(),
            evs[0]["action"].as_str(),
            evs[0]["reason"].as_str()
        ),
        (Some("Warning"), Some("Abandoned"), Some("RebootSoft"))
    );
    let note = evs[0]["note"].as_str().expect("note");
    assert!(
        note.contains("vm-3") && note.contains("interrupted, abandoned"),
        "{note}"
    );
    assert_eq!(
        (evs[1]["type"].as_str(), evs[1]["action"].as_str()),
        (Some("Normal"), Some("Taken"))
    );
    assert!(
        evs[1]["note"]
            .as_str()
            .is_some_and(|n| n.contains("confirmed after restart")),
        "{}",
        evs[1]
    );
}
