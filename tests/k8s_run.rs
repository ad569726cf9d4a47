//! Two `sloop run` controllers against one fake Kubernetes API server, wired through the same
//! seams as `--leader-elect --configmap-policies --k8s-events` (`sloop::run::k8s`, with a 3 s
//! Lease instead of the flags' 15 s): both read the policy
//! from a ConfigMap, both observe and judge, exactly one acts (only its journal has executed
//! actions, only its Events reach the API server); kill it and the other takes over within the
//! lease duration and starts acting. Simulated clouds at 600x real time; Lease of 3 s.

use crate::fake_k8s;

use fake_k8s::FakeK8s;
use sloop::{
    clock::Stopwatch,
    journal::{EntryOutcome, Sinks},
    k8s::{ConfigMapSource, EventSink, EventSinkConfig, LeaseConfig, elect, watch_configmaps},
    run::{
        Controller, Options, SimFactory,
        k8s::{EventsSink, leadership},
        status::Status,
    },
    sim::load_scenario,
};
use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tokio::sync::watch;

const DEADLINE: Duration = Duration::from_secs(60);
const POLICY: &str = "minimal-web";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A policy that wants to scale out at once (its minimum is above the scenario's 4 servers).
fn wants_more() -> String {
    std::fs::read_to_string(repo().join("policies/minimal.yaml"))
        .expect("policies/minimal.yaml")
        .replace("min: 2", "min: 6")
        .replace("max: 6", "max: 8")
}

/// One replica: its own simulated cloud; the Lease, the Event publisher and the ConfigMap
/// policy source from `sloop::k8s`, plugged in through `sloop::run::k8s`. Also returns its raw
/// leadership signal.
fn replica(fake: &FakeK8s, identity: &str) -> (Controller, watch::Receiver<bool>) {
    let scenario = load_scenario(&repo().join("policies/scenarios/steady-day.yaml")).expect("scenario");
    let seed = scenario.seed;
    let client = fake.client();
    let lease = LeaseConfig {
        duration: Duration::from_secs(3),
        grace: Duration::from_secs(1),
        ..LeaseConfig::new("sloop", "sloop", identity)
    };
    let elector = elect(client.clone(), lease).expect("elect");
    let leads = elector.receiver();
    let (events, _task) = EventSink::spawn(client.clone(), EventSinkConfig::for_pod("sloop", identity));
    let controller = Controller::start(
        Arc::new(SimFactory::new(scenario, seed, 600.0, 0.0)),
        Options {
            leadership: leadership(elector),
            sinks: Sinks::default().with(Arc::new(EventsSink(events))),
            ..Options::default()
        },
    );
    watch_configmaps(
        client,
        ConfigMapSource::parse("sloop").expect("flag"),
        controller.events(),
    );
    (controller, leads)
}

async fn wait_for(rx: &mut watch::Receiver<Arc<Status>>, what: &str, ok: impl Fn(&Status) -> bool) {
    let waited = tokio::time::timeout(DEADLINE, async {
        loop {
            if ok(&rx.borrow_and_update()) {
                return;
            }
            if rx.changed().await.is_err() {
                panic!("status closed while waiting for: {what}");
            }
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for: {what}");
}

fn executed(c: &Controller) -> usize {
    let journal = c.app_state().journal;
    journal
        .recent(Some(POLICY), 1000)
        .iter()
        .filter(|e| matches!(e.outcome, EntryOutcome::Done | EntryOutcome::Failed))
        .count()
}

/// Flags any moment at which both replicas may act.
fn referee(a: watch::Receiver<bool>, b: watch::Receiver<bool>) -> Arc<AtomicBool> {
    let both = Arc::new(AtomicBool::new(false));
    let flag = both.clone();
    tokio::spawn(async move {
        let (mut a, mut b) = (a, b);
        loop {
            if *a.borrow_and_update() && *b.borrow_and_update() {
                flag.store(true, Ordering::SeqCst);
            }
            tokio::select! {
                r = a.changed() => if r.is_err() { return },
                r = b.changed() => if r.is_err() { return },
            }
        }
    });
    both
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_controllers_one_acts_and_the_other_takes_over_when_it_dies() {
    let fake = FakeK8s::start().await;
    fake.put_configmap(
        "sloop",
        "web",
        &[("sloop.io/policy", "true")],
        &[("web.yaml", &wants_more())],
    );
    let (a, la) = replica(&fake, "a");
    let (b, lb) = replica(&fake, "b");
    let (mut sa, mut sb) = (a.status(), b.status());
    let both = referee(la, lb);
    // Both manage the policy from the ConfigMap and tick; one of them leads.
    for (rx, who) in [(&mut sa, "a"), (&mut sb, "b")] {
        wait_for(rx, &format!("{who} manages {POLICY} from the ConfigMap"), |s| {
            s.sources_synced && s.policies.get(POLICY).is_some_and(|p| p.ticks >= 3)
        })
        .await;
    }
    let leader_is_a = tokio::time::timeout(DEADLINE, async {
        loop {
            let (la, lb) = (sa.borrow().leader, sb.borrow().leader);
            if la != lb {
                return la;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("one leader");
    let (leader, follower, mut follower_status, name, other) = if leader_is_a {
        (a, b, sb, "a", "b")
    } else {
        (b, a, sa, "b", "a")
    };
    assert_eq!(fake.lease_holder("sloop", "sloop").as_deref(), Some(name));

    // The leader scales out; the follower judges the same policy and executes nothing.
    tokio::time::timeout(DEADLINE, async {
        while executed(&leader) == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the leader acts");
    assert_eq!(executed(&follower), 0, "the follower executed actions");
    let decision = follower_status.borrow().policies[POLICY].decision.clone();
    assert!(
        decision.is_some_and(|d| !d.verdicts.is_empty()),
        "the follower judges"
    );
    // Its actions are Events on the API server, reported by the leader only.
    tokio::time::timeout(DEADLINE, async {
        while fake.events().is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("an Event for the leader's action");
    for ev in fake.events() {
        assert_eq!(ev["reportingInstance"], name, "{ev}");
        assert_eq!(ev["regarding"]["name"], name, "{ev}");
    }

    // Kill the leader (no graceful release): the follower takes over within the lease
    // duration of the leader's last renewal, and starts acting.
    let killed = Stopwatch::start();
    drop(leader);
    wait_for(&mut follower_status, &format!("{other} leads"), |s| s.leader).await;
    let took = killed.elapsed();
    println!("{other} took over {took:?} after {name} was killed (lease duration 3 s)");
    assert!(
        took <= Duration::from_millis(3000 + 500 + 700),
        "takeover took {took:?}"
    );
    tokio::time::timeout(DEADLINE, async {
        while executed(&follower) == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the new leader acts");
    assert!(
        !both.load(Ordering::SeqCst),
        "both replicas led at the same moment"
    );
    assert_eq!(fake.lease_holder("sloop", "sloop").as_deref(), Some(other));
    follower.stop().await;
    assert_eq!(
        fake.lease_holder("sloop", "sloop"),
        None,
        "a graceful stop releases the lease"
    );
}
