//! Token expiry against the real Keystone. `keystone-short` (the lab's Keystone on :5001, same
//! database and keys) issues tokens that expire after `OSLAB_SHORT_TOKEN_SECONDS` (30 s), and
//! every service validates them through :5000 as usual. Two clients wait out one lifetime:
//!
//! - one that knows the real expiry: osauth renews before each request once less than 10
//!   minutes are left, so no request ever carries the expired token (no 401, no re-auth);
//! - one whose clock runs behind Keystone's (the skew proxy): it believes its token good for
//!   decades, sends it after it expired, gets Nova's 401, and sloop re-authenticates once,
//!   transparently.
//!
//! Keystone itself confirms afterwards that both first tokens really expired.

use super::{lab, skew};
use sloop::{
    clock::Stopwatch,
    cloud::openstack::{OpenStackCloud, config, config::Secret},
};
use std::time::Duration;

/// Keystone's verdict on `subject`, asked with a valid token of the same user: 200 valid,
/// 404 expired or unknown.
async fn keystone_says(subject: &Secret, asker: &Secret) -> u16 {
    reqwest::Client::new()
        .get("http://127.0.0.1:5000/v3/auth/tokens")
        .header("X-Auth-Token", asker.expose())
        .header("X-Subject-Token", subject.expose())
        .send()
        .await
        .expect("validate token")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_renewed_before_expiry_and_an_expired_one_is_replaced_once() {
    let _lab = lab::LAB.read().await;
    let life: u64 = lab::lab_env()
        .get("OSLAB_SHORT_TOKEN_SECONDS")
        .and_then(|s| s.parse().ok())
        .expect("OSLAB_SHORT_TOKEN_SECONDS in env.sh: start the lab with tests/lab/up.sh (keystone-short)");
    let mut policy = lab::policy();
    policy.spec.traffic = None;
    policy.spec.telemetry = None;
    let short = config::load(Some("oslab-demo-short"), Some(&lab::clouds_yaml()))
        .expect("cloud oslab-demo-short in the lab's clouds.yaml");

    let mut renewing = OpenStackCloud::connect(short.clone(), policy.clone(), lab::options(), lab::clock())
        .await
        .expect("connect through keystone-short");
    let mut skewed_cfg = short.clone();
    skewed_cfg.auth_url = skew::start("http://127.0.0.1:5001").await;
    let mut skewed = OpenStackCloud::connect(skewed_cfg, policy, lab::options(), lab::clock())
        .await
        .expect("connect through the skew proxy");
    let since = Stopwatch::start();
    let first_renewing = renewing.api().current_token().await.expect("token");
    let first_skewed = skewed.api().current_token().await.expect("token");
    renewing
        .observe(lab::clock().now())
        .await
        .expect("observe, fresh token");
    skewed
        .observe(lab::clock().now())
        .await
        .expect("observe, fresh token");
    assert_eq!(skewed.api().stats().reauthentications, 0);

    // Wait out the first tokens' lifetime (plus slack for Keystone's whole-second stamps).
    let wait = Duration::from_secs(life + 3).saturating_sub(since.elapsed());
    println!(
        "  waiting {:.1}s for the {life}s tokens to expire",
        wait.as_secs_f64()
    );
    tokio::time::sleep(wait).await;

    renewing
        .observe(lab::clock().now())
        .await
        .expect("observe after the first token expired (renewed before use)");
    let stats = renewing.api().stats();
    assert_eq!(stats.reauthentications, 0, "renewal is osauth's, before expiry");
    assert_eq!(
        stats.calls.get(&("compute", "unauthorized")),
        None,
        "no expired token was sent"
    );

    skewed
        .observe(lab::clock().now())
        .await
        .expect("observe with an expired token: one transparent re-authentication");
    let stats = skewed.api().stats();
    assert_eq!(stats.reauthentications, 1);
    assert_eq!(
        stats.calls.get(&("compute", "unauthorized")),
        Some(&1),
        "Nova refused the expired token once"
    );
    let now_skewed = skewed.api().current_token().await.expect("token");
    assert_ne!(
        now_skewed.expose(),
        first_skewed.expose(),
        "a new token after the 401"
    );

    // Keystone confirms the first tokens expired, and the current one is valid.
    assert_eq!(keystone_says(&now_skewed, &now_skewed).await, 200);
    assert_eq!(
        keystone_says(&first_skewed, &now_skewed).await,
        404,
        "the skewed client's first token expired"
    );
    assert_eq!(
        keystone_says(&first_renewing, &now_skewed).await,
        404,
        "the renewing client's first token expired"
    );
    println!("  token expiry e2e took {:.1}s", since.elapsed().as_secs_f64());
}
