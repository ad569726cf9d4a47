//! The hypervisor listing against the lab: an admin sees both fake computes (up, enabled, with
//! their load), page by page; a member's listing is refused and recorded as "not permitted",
//! which neither fails the observation nor trips anything.

use super::lab;
use sloop::{
    cloud::openstack::{hypervisors, session::Service},
    snapshot::Hosts,
};

const ADMIN: &str = "oslab-admin-appcred";

fn read_only_policy() -> sloop::policy::Policy {
    let mut policy = lab::policy();
    policy.spec.traffic = None;
    policy.spec.telemetry = None;
    policy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hypervisors_are_listed_for_admins_and_not_permitted_for_members() {
    let _lab = lab::LAB.read().await;
    let policy = read_only_policy();

    let mut admin = lab::cloud(ADMIN, policy.clone()).await;
    let snap = admin.observe(lab::clock().now()).await.expect("observe as admin");
    let Hosts::Listed { hosts } = &snap.hosts else {
        panic!("the admin sees the hypervisors: {:?}", snap.hosts)
    };
    let mut names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["compute1", "compute2"]);
    for h in hosts {
        assert!(h.up && h.enabled, "{h:?}");
        assert!(
            h.vcpus.is_some_and(|v| v > 0),
            "load fields (asked at 2.87): {h:?}"
        );
        assert!(h.running_vms.is_some() && h.memory_mb.is_some(), "{h:?}");
        assert!(h.vcpu_load().is_some_and(|l| l >= 0.0), "{h:?}");
    }
    // One hypervisor per page: two full pages and an empty one.
    let ok = |c: &sloop::cloud::openstack::OpenStackCloud| {
        c.api()
            .stats()
            .calls
            .get(&("compute", "ok"))
            .copied()
            .unwrap_or(0)
    };
    let before = ok(&admin);
    let paged = hypervisors::list(admin.api_mut(), 1)
        .await
        .expect("paged listing");
    assert_eq!(paged, snap.hosts.clone(), "the same hosts, page by page");
    assert_eq!(ok(&admin) - before, 3, "pages fetched with limit=1");

    let mut member = lab::cloud("oslab-demo", policy).await;
    let snap = member
        .observe(lab::clock().now())
        .await
        .expect("a refused hypervisor listing does not fail the observation");
    assert_eq!(snap.hosts, Hosts::NotPermitted);
    let forbidden = |c: &sloop::cloud::openstack::OpenStackCloud| {
        c.api()
            .stats()
            .calls
            .get(&("compute", "forbidden"))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(forbidden(&member), 1);
    assert_eq!(member.api().breaker_label(Service::Compute), "closed");
    let snap = member.observe(lab::clock().now()).await.expect("observe again");
    assert_eq!(snap.hosts, Hosts::NotPermitted);
    assert_eq!(
        forbidden(&member),
        1,
        "the refusal is remembered, not asked every tick"
    );
    for i in &snap.inventory {
        assert_eq!(i.host, None, "a member does not see server hosts: {}", i.id);
    }
}
