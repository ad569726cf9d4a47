//! Path faults on the lab's servers that serve (issue 18): the service is fine, only a path to
//! it is not. The `fra` agent's namespace loses every packet it sends (a regional fault), then
//! both agents lose every IPv4 packet (an IPv4-only fault; the local engine is fine). Either
//! way sloop must say it is the network path (alert `network-path`) and touch no server: no
//! healing, no scaling, the same servers ACTIVE. Loss is made with iptables `statistic` in the
//! agent's namespace (the kernel has no netem), sparing the controller's ingest address so the
//! agents' reports still arrive. Needs `tests/lab/up.sh`; bounded (60 s per fault to alert).
//! `cargo test --features e2e --test e2e e2e_paths:: -- --nocapture`.

use crate::{bodies, lab, rig};
use rig::{Rig, now};
use std::time::Duration;

/// Applies a fault, waits up to 60 s for the `network-path` alert, holds it 10 s more, and
/// returns (seconds to the alert, actions the controller took meanwhile).
async fn path_fault(
    rig: &mut Rig,
    name: &str,
    apply: impl Fn(&bodies::Places),
) -> (Option<f64>, Vec<String>) {
    let before = rig.journal().len();
    let t0 = now();
    apply(&rig.places);
    let mut alerted = None;
    while now() - t0 < 60.0 && alerted.is_none() {
        if rig.alerts().await.iter().any(|a| a == "network-path") {
            alerted = Some(now() - t0);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if alerted.is_some() {
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    let acted: Vec<String> = rig.journal()[before..]
        .iter()
        .map(|e| format!("{:?} {:?}", e.kind, e.action.instance()))
        .collect();
    println!(
        "{name} path fault: network-path alert after {}; actions meanwhile: {acted:?}",
        alerted.map_or("never".into(), |a| format!("{a:.1} s"))
    );
    for p in ["fra", "nyc"] {
        rig.places.restore(p);
    }
    (alerted, acted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regional_and_ipv4_only_path_faults_are_diagnosed_and_touch_no_server() {
    // one policy, load balancer and /etc/hosts name for every case: one case at a time
    let _lab = lab::LAB.write().await;
    let mut rig = Rig::start("bodies-paths", "lab-bodies.yaml", 19189, |t| t).await;
    let servers = rig.wait_serving(2, Duration::from_secs(600)).await;
    let mut ids: Vec<String> = servers
        .iter()
        .map(|s| s["id"].as_str().unwrap_or("").to_owned())
        .collect();
    ids.sort();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (regional, regional_acts) = path_fault(&mut rig, "regional (fra, all families)", |p| {
        p.loss("fra", 100, "both", &[bodies::BRIDGE_V4])
    })
    .await;
    // the fault's series recover before the next case
    tokio::time::sleep(Duration::from_secs(15)).await;
    let (v4, v4_acts) = path_fault(&mut rig, "IPv4-only (fra and nyc)", |p| {
        for name in ["fra", "nyc"] {
            p.loss(name, 100, "v4", &[bodies::BRIDGE_V4]);
        }
    })
    .await;
    let mut after: Vec<String> = rig
        .servers()
        .await
        .iter()
        .filter(|s| s["status"] == "ACTIVE")
        .map(|s| s["id"].as_str().unwrap_or("").to_owned())
        .collect();
    after.sort();
    let log = rig.log_tail();
    rig.finish().await;
    assert!(
        regional.is_some(),
        "no network-path alert for the regional fault\n{log}"
    );
    assert!(
        regional_acts.is_empty(),
        "the regional fault made the controller act: {regional_acts:?}"
    );
    assert!(
        v4.is_some(),
        "no network-path alert for the IPv4-only fault\n{log}"
    );
    assert!(
        v4_acts.is_empty(),
        "the IPv4-only fault made the controller act: {v4_acts:?}"
    );
    assert_eq!(after, ids, "the same servers, all ACTIVE");
}
