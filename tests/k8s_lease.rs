//! Leader election against a fake API server on loopback: acquire, renew, loss (another holder
//! wins, or renewals fail), release, and two candidates of which exactly one leads at any time
//! and the survivor takes over when the leader dies. Lease duration 3 s, grace 1 s, so renewals
//! every 1 s and follower looks every 0.5 s; every wait below is bounded by what the protocol
//! promises, plus a little slack for a loaded 2-core machine.

use crate::fake_k8s;

use fake_k8s::FakeK8s;
use sloop::{
    clock::Stopwatch,
    k8s::{Elector, Leadership, LeaseConfig, elect},
};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

const NS: &str = "sloop";
const LEASE: &str = "sloop-leader";
const SLACK: Duration = Duration::from_millis(700);

fn config(identity: &str) -> LeaseConfig {
    LeaseConfig {
        duration: Duration::from_secs(3),
        grace: Duration::from_secs(1),
        ..LeaseConfig::new(NS, LEASE, identity)
    }
}

/// Waits until `leadership` reads `want`, at most `within`; returns how long it took.
async fn until(leadership: &Leadership, want: bool, within: Duration) -> Duration {
    let watch = Stopwatch::start();
    let mut l = leadership.clone();
    let reached = tokio::time::timeout(within, async {
        while l.is_leader() != want {
            l.changed().await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "leadership did not become {want} within {within:?}"
    );
    watch.elapsed()
}

async fn leader(fake: &FakeK8s, identity: &str) -> Elector {
    let e = elect(fake.client(), config(identity)).expect("valid config");
    until(&e.leadership(), true, Duration::from_secs(3)).await;
    e
}

#[tokio::test]
async fn a_lone_candidate_creates_the_lease_and_keeps_renewing_it() {
    let fake = FakeK8s::start().await;
    let a = leader(&fake, "a").await;
    assert_eq!(fake.lease_holder(NS, LEASE).as_deref(), Some("a"));
    let first = fake.lease(NS, LEASE).expect("lease");
    assert_eq!(first["spec"]["leaseDurationSeconds"], 3);
    let writes = fake.lease_writes();
    // Three renew periods: at least two renewals, and leadership never wavers.
    let steady = tokio::time::timeout(Duration::from_secs(3), a.leadership().clone().changed()).await;
    assert!(steady.is_err(), "leadership changed while renewing");
    assert!(a.leadership().is_leader());
    assert!(
        fake.lease_writes() >= writes + 2,
        "renewals: {}",
        fake.lease_writes() - writes
    );
    let later = fake.lease(NS, LEASE).expect("lease");
    assert_ne!(later["spec"]["renewTime"], first["spec"]["renewTime"]);
    assert_eq!(later["spec"]["acquireTime"], first["spec"]["acquireTime"]);
    assert_eq!(later["spec"]["holderIdentity"], "a");
}

#[tokio::test]
async fn a_leader_whose_lease_another_holder_won_steps_down_within_one_renew_period() {
    let fake = FakeK8s::start().await;
    let a = leader(&fake, "a").await;
    fake.steal_lease(NS, LEASE, "intruder");
    let took = until(&a.leadership(), false, config("a").renew_period() + SLACK).await;
    println!("stepped down {took:?} after the lease was taken");
    // And it does not grab it back while the intruder's lease is fresh.
    assert_eq!(fake.lease_holder(NS, LEASE).as_deref(), Some("intruder"));
}

#[tokio::test]
async fn a_leader_that_cannot_renew_steps_down_before_others_may_take_over() {
    let fake = FakeK8s::start().await;
    let a = leader(&fake, "a").await;
    let cfg = config("a");
    fake.fail_leases(true);
    // The deadline runs from the start of the last good renewal, which is before the failure.
    let took = until(&a.leadership(), false, cfg.duration - cfg.grace + SLACK).await;
    println!(
        "stepped down {took:?} after renewals began to fail (lease duration {:?})",
        cfg.duration
    );
    assert!(
        took < cfg.duration,
        "still leading when the lease may expire for others"
    );
    // Once the API answers again, it still holds the lease and leads again.
    fake.fail_leases(false);
    until(&a.leadership(), true, cfg.renew_period() + SLACK).await;
    assert_eq!(fake.lease_holder(NS, LEASE).as_deref(), Some("a"));
}

#[tokio::test]
async fn a_leader_whose_renewal_hangs_steps_down_at_its_deadline_without_waiting_for_an_answer() {
    let fake = FakeK8s::start().await;
    let a = leader(&fake, "a").await;
    let cfg = config("a");
    fake.hang_leases(true);
    let took = until(&a.leadership(), false, cfg.duration - cfg.grace + SLACK).await;
    println!("stepped down {took:?} after the API stopped answering");
    assert!(
        took < cfg.duration,
        "still leading when the lease may expire for others"
    );
    // The hung requests never return; each round's own timeout lets it try again. (Give the
    // next round time to fall into the black hole first.)
    tokio::time::sleep(cfg.retry_period()).await;
    fake.hang_leases(false);
    let back = until(
        &a.leadership(),
        true,
        cfg.renew_period() + cfg.retry_period() + SLACK,
    )
    .await;
    println!("leading again {back:?} after the API answered again");
}

#[tokio::test]
async fn a_new_candidate_waits_a_full_duration_before_taking_an_unrenewed_lease() {
    let fake = FakeK8s::start().await;
    let ghost = leader(&fake, "ghost").await;
    drop(ghost); // crashed: the lease stays, unrenewed
    let cfg = config("b");
    let b = elect(fake.client(), cfg.clone()).expect("config");
    let took = until(&b.leadership(), true, cfg.duration + cfg.retry_period() + SLACK).await;
    println!("took over an unrenewed lease after {took:?}");
    assert!(
        took >= cfg.duration - Duration::from_millis(100),
        "took over too early: {took:?}"
    );
    assert_eq!(fake.lease_holder(NS, LEASE).as_deref(), Some("b"));
    assert_eq!(
        fake.lease(NS, LEASE).expect("lease")["spec"]["leaseTransitions"],
        1
    );
}

/// Watches two leaderships and flags any moment at which both lead.
fn referee(a: Leadership, b: Leadership) -> Arc<AtomicBool> {
    let both = Arc::new(AtomicBool::new(false));
    let flag = both.clone();
    tokio::spawn(async move {
        let (mut wa, mut wb) = (a.clone(), b.clone());
        loop {
            if a.is_leader() && b.is_leader() {
                flag.store(true, Ordering::SeqCst);
            }
            tokio::select! {
                _ = wa.changed() => {}
                _ = wb.changed() => {}
            }
        }
    });
    both
}

#[tokio::test]
async fn two_candidates_exactly_one_leads_and_the_survivor_takes_over_within_the_lease_duration() {
    let fake = FakeK8s::start().await;
    let cfg = config("a");
    let a = elect(fake.client(), config("a")).expect("config");
    let b = elect(fake.client(), config("b")).expect("config");
    let both = referee(a.leadership(), b.leadership());
    let exactly_one = tokio::time::timeout(Duration::from_secs(3), async {
        while a.leadership().is_leader() == b.leadership().is_leader() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(exactly_one.is_ok(), "no single leader emerged");
    // Several renew periods of stable leadership with one leader.
    let (winner, survivor) = if a.leadership().is_leader() {
        (a, b)
    } else {
        (b, a)
    };
    let held = tokio::time::timeout(3 * cfg.renew_period(), winner.leadership().clone().changed()).await;
    assert!(held.is_err(), "the leader lost its lease while renewing");
    assert!(!survivor.leadership().is_leader());

    // Kill the leader (no release): the survivor waits out the lease, then takes over.
    let killed = Stopwatch::start();
    let mut dead = winner.receiver();
    drop(winner);
    // Even a receiver that only reads the value (and ignores that its sender is gone) sees it.
    assert!(
        !*dead.borrow_and_update(),
        "a killed elector still reads as leader"
    );
    until(
        &survivor.leadership(),
        true,
        cfg.duration + 2 * cfg.retry_period() + SLACK,
    )
    .await;
    let took = killed.elapsed();
    println!(
        "survivor took over {took:?} after the leader was killed (lease duration {:?}, renew period {:?})",
        cfg.duration,
        cfg.renew_period()
    );
    assert!(
        !both.load(Ordering::SeqCst),
        "both candidates led at the same moment"
    );
}

#[tokio::test]
async fn a_released_lease_is_taken_over_at_the_followers_next_look() {
    let fake = FakeK8s::start().await;
    let cfg = config("a");
    let a = leader(&fake, "a").await;
    let b = elect(fake.client(), config("b")).expect("config");
    let both = referee(a.leadership(), b.leadership());
    tokio::time::sleep(cfg.renew_period()).await; // b has looked at least once and follows
    assert!(!b.leadership().is_leader());
    let la = a.leadership();
    a.release().await.expect("release");
    assert!(!la.is_leader());
    let took = until(&b.leadership(), true, cfg.retry_period() + SLACK).await;
    println!("follower took over {took:?} after the release");
    assert!(took < cfg.duration);
    assert_eq!(fake.lease_holder(NS, LEASE).as_deref(), Some("b"));
    assert!(
        !both.load(Ordering::SeqCst),
        "both candidates led at the same moment"
    );
}

#[test]
fn configurations_that_cannot_work_are_refused() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let fake = FakeK8s::start().await;
        let mut bad = config("a");
        bad.grace = Duration::from_secs(2);
        assert!(elect(fake.client(), bad).is_err());
        let mut fractional = config("a");
        fractional.duration = Duration::from_millis(2500);
        assert!(elect(fake.client(), fractional).is_err());
        assert!(elect(fake.client(), config("")).is_err());
    });
}
