//! From Nova's and Octavia's view to sloop's: which servers belong to the group (metadata
//! selector), what state each is in, which pool member is its, and what work is still running
//! on the cloud. The cloud is the durable state: a restarted controller rebuilds all of this
//! from server metadata and task states. Pure functions of the API answers.

use super::{
    nova::ServerView,
    octavia::{MemberView, member_of},
};
use crate::{
    act::executor::ACTION_KEY,
    decision::ActionKind,
    snapshot::{InFlight, Instance, InstanceStatus, LbMember, OrphanMember},
};
use std::collections::BTreeMap;

/// Whether the server carries every selector key with its value.
pub fn selects(selector: &BTreeMap<String, String>, server: &ServerView) -> bool {
    selector.iter().all(|(k, v)| server.metadata.get(k) == Some(v))
}

/// sloop's lifecycle state for a Nova server (status refined by task state and power state).
pub fn status_of(s: &ServerView) -> InstanceStatus {
    let task = s.task_state.as_deref().unwrap_or("");
    match s.status.as_str() {
        _ if task == "deleting" => InstanceStatus::Deleting,
        "DELETED" | "SOFT_DELETED" => InstanceStatus::Deleting,
        // Waiting out its member's drain grace before the delete (`act::stamp::RETIRE_KEY`).
        _ if crate::act::stamp::retire_due(&s.metadata).is_some() => InstanceStatus::Deleting,
        "BUILD" => InstanceStatus::Building,
        "REBOOT" | "HARD_REBOOT" => InstanceStatus::Rebooting,
        "REBUILD" => InstanceStatus::Rebuilding,
        "MIGRATING" => InstanceStatus::Migrating,
        "ERROR" => InstanceStatus::Error,
        "ACTIVE" if task.starts_with("reboot") => InstanceStatus::Rebooting,
        "ACTIVE" if task.starts_with("rebuild") => InstanceStatus::Rebuilding,
        "ACTIVE" if task == "migrating" => InstanceStatus::Migrating,
        // Nova still says ACTIVE, but the hypervisor has no running guest (power state 0 after
        // a compute crash, 4 after a guest shutdown): it does not serve.
        "ACTIVE" if s.power_state.is_some_and(|p| p != 1) && task.is_empty() => InstanceStatus::Shutoff,
        "ACTIVE" => InstanceStatus::Active,
        "SHUTOFF" | "STOPPED" | "SUSPENDED" | "PAUSED" | "SHELVED" | "SHELVED_OFFLOADED" => {
            InstanceStatus::Shutoff
        }
        _ if task.is_empty() => InstanceStatus::Error,
        _ => InstanceStatus::Building,
    }
}

/// The group member as the decision core sees it.
pub fn instance_of(s: &ServerView, members: &[MemberView], member_port: Option<u16>) -> Instance {
    let addresses = s.addresses_by_family();
    let status = status_of(s);
    let member = member_port.and_then(|port| {
        let plain: Vec<String> = addresses.iter().map(|(_, a)| a.clone()).collect();
        member_of(members, &s.id, &plain, port).map(|m| LbMember {
            weight: m.weight,
            admin_up: m.admin_state_up,
            online: m.online(),
            error: m.failed(),
        })
    });
    Instance {
        id: s.id.clone(),
        name: s.name.clone(),
        status,
        host: s.host.clone(),
        addresses,
        created_at: s.created.unix(),
        // Nova's `updated` moves with every state change: for an idle ACTIVE server it is when
        // it last became ACTIVE (boot, reboot, rebuild or migration).
        active_since: (status == InstanceStatus::Active).then(|| s.updated.unix()),
        member,
        created_by: s.metadata.get(ACTION_KEY).cloned(),
        stamps: crate::act::stamp::read(&s.metadata),
        fault: (status == InstanceStatus::Error)
            .then(|| s.fault.as_ref().map(|f| f.message.clone()))
            .flatten(),

        replaces: s.metadata.get(crate::act::stamp::REPLACES_KEY).cloned(),
    }
}

/// Pool members named after a server ID (as sloop names them) that no server of `servers`
/// has, and whose address and port match none of them either: their server is gone. Members
/// named otherwise are someone else's and left alone, as are members Octavia is already
/// deleting.
pub fn orphans(servers: &[ServerView], members: &[MemberView], port: u16) -> Vec<OrphanMember> {
    let addresses: Vec<String> = servers
        .iter()
        .flat_map(|s| s.addresses_by_family().into_iter().map(|(_, a)| a))
        .collect();
    members
        .iter()
        .filter(|m| looks_like_server_id(&m.name) && m.provisioning_status != "PENDING_DELETE")
        .filter(|m| !servers.iter().any(|s| s.id == m.name))
        .filter(|m| !(m.protocol_port == port && addresses.contains(&m.address)))
        .map(|m| OrphanMember {
            server: m.name.clone(),
            address: m.address.clone(),
            weight: m.weight,
        })
        .collect()
}

/// A Nova server ID: a UUID in its 36-character hyphenated form.
fn looks_like_server_id(name: &str) -> bool {
    name.len() == 36
        && name.chars().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Work the cloud is still doing on a server, as an in-flight action. A server being built
/// carries the idempotency key of the action that asked for it, so a restarted controller
/// counts it instead of creating another.
pub fn in_flight_of(s: &ServerView) -> Option<InFlight> {
    let kind = match status_of(s) {
        InstanceStatus::Building => ActionKind::ScaleOut,
        InstanceStatus::Rebooting
            if s.status == "HARD_REBOOT" || s.task_state.as_deref() == Some("rebooting_hard") =>
        {
            ActionKind::RebootHard
        }
        InstanceStatus::Rebooting => ActionKind::RebootSoft,
        InstanceStatus::Rebuilding => ActionKind::Rebuild,
        InstanceStatus::Migrating => ActionKind::Migrate,
        InstanceStatus::Deleting => ActionKind::ScaleIn,
        _ => return None,
    };
    let (id, started_at) = match (kind, s.metadata.get(ACTION_KEY)) {
        (ActionKind::ScaleOut, Some(key)) => (key.clone(), s.created.unix()),
        _ => (
            format!("{}:{}:{}", kind.label(), s.id, s.updated),
            s.updated.unix(),
        ),
    };
    Some(InFlight {
        id,
        kind,
        instance: Some(s.id.clone()),
        started_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn server(status: &str, task: Option<&str>, power: i64) -> ServerView {
        serde_json::from_value(json!({
            "id": "s1", "name": "web-1", "status": status, "OS-EXT-STS:task_state": task,
            "OS-EXT-STS:power_state": power, "created": "2026-11-26T15:00:00Z",
            "updated": "2026-11-26T15:01:00Z",
            "metadata": {"sloop.group": "web", "sloop.action": "abc/0"}
        }))
        .unwrap()
    }

    #[test]
    fn nova_states_map_to_lifecycle_states() {
        let cases = [
            ("BUILD", Some("spawning"), 0, InstanceStatus::Building, "booting"),
            ("ACTIVE", None, 1, InstanceStatus::Active, "serving"),
            (
                "HARD_REBOOT",
                Some("rebooting_hard"),
                1,
                InstanceStatus::Rebooting,
                "hard reboot",
            ),
            (
                "ACTIVE",
                Some("rebooting"),
                1,
                InstanceStatus::Rebooting,
                "status lags the task",
            ),
            (
                "REBUILD",
                Some("rebuilding"),
                0,
                InstanceStatus::Rebuilding,
                "rebuild",
            ),
            (
                "MIGRATING",
                Some("migrating"),
                1,
                InstanceStatus::Migrating,
                "live migration",
            ),
            (
                "ACTIVE",
                None,
                0,
                InstanceStatus::Shutoff,
                "guest lost by a crashed compute",
            ),
            ("SHUTOFF", None, 4, InstanceStatus::Shutoff, "stopped"),
            ("ERROR", None, 0, InstanceStatus::Error, "failed"),
            (
                "ACTIVE",
                Some("deleting"),
                1,
                InstanceStatus::Deleting,
                "delete under way",
            ),
        ];
        for (status, task, power, want, why) in cases {
            assert_eq!(status_of(&server(status, task, power)), want, "{why}");
        }
    }

    #[test]
    fn a_building_server_is_in_flight_under_the_action_that_made_it() {
        let f = in_flight_of(&server("BUILD", Some("spawning"), 0)).unwrap();
        assert_eq!((f.id.as_str(), f.kind), ("abc/0", ActionKind::ScaleOut));
        let r = in_flight_of(&server("HARD_REBOOT", Some("rebooting_hard"), 1)).unwrap();
        assert_eq!(r.kind, ActionKind::RebootHard);
        assert!(in_flight_of(&server("ACTIVE", None, 1)).is_none());
    }

    #[test]
    fn a_server_waiting_out_its_drain_grace_is_being_deleted() {
        let mut s = server("ACTIVE", None, 1);
        s.metadata.extend(crate::act::stamp::retire(1_764_205_200.4));
        assert_eq!(
            s.metadata["sloop.retire"], "1764205201",
            "rounded up: never early"
        );
        assert_eq!(status_of(&s), InstanceStatus::Deleting);
        let f = in_flight_of(&s).expect("in flight until deleted");
        assert_eq!(f.kind, ActionKind::ScaleIn);
        assert_eq!(crate::act::stamp::retire_due(&s.metadata), Some(1_764_205_201.0));
        s.metadata.insert("sloop.retire".into(), "soon".into());
        assert_eq!(
            status_of(&s),
            InstanceStatus::Active,
            "an unreadable stamp is ignored"
        );
    }

    #[test]
    fn the_selector_must_match_every_key() {
        let s = server("ACTIVE", None, 1);
        let sel = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(selects(&sel(&[("sloop.group", "web")]), &s));
        assert!(!selects(&sel(&[("sloop.group", "web"), ("tier", "x")]), &s));
        assert!(!selects(&sel(&[("sloop.group", "api")]), &s));
    }

    #[test]
    fn a_replacement_names_the_server_it_replaces_and_a_failed_member_does_not_serve() {
        let mut s = server("ACTIVE", None, 1);
        s.metadata.insert("sloop.replaces".into(), "old-1".into());
        let member = |provisioning: &str| -> MemberView {
            serde_json::from_value(json!({
                "id": "m1", "name": "s1", "address": "10.0.0.5", "protocol_port": 80, "weight": 1,
                "operating_status": "NO_MONITOR", "provisioning_status": provisioning
            }))
            .unwrap()
        };
        let i = instance_of(&s, &[member("ACTIVE")], Some(80));
        assert_eq!(i.replaces.as_deref(), Some("old-1"));
        assert!(!i.member.expect("its member").error);
        let i = instance_of(&s, &[member("ERROR")], Some(80));
        assert!(
            i.member.expect("its member").error,
            "Octavia's provisioning ERROR is kept"
        );
        let policy = crate::policy::parse(
            "web.yaml",
            &std::fs::read("policies/election-web.yaml").expect("shipped policy"),
        )
        .expect("valid");
        assert!(
            !crate::judge::diagnose::in_rotation(&policy, &i),
            "a member Octavia failed to apply takes no traffic"
        );
    }

    #[test]
    fn members_whose_server_is_gone_are_orphans_and_other_members_are_not() {
        let gone = "0b7f6c1e-9a2d-4c3b-8e5f-1a2b3c4d5e6f";
        let member = |name: &str, address: &str, status: &str| -> MemberView {
            serde_json::from_value(json!({
                "id": format!("m-{name}"), "name": name, "address": address, "protocol_port": 80,
                "weight": 1, "provisioning_status": status
            }))
            .unwrap()
        };
        let s: ServerView = serde_json::from_value(json!({
            "id": "s1", "name": "web-1", "status": "ACTIVE", "created": "2026-11-26T15:00:00Z",
            "updated": "2026-11-26T15:01:00Z",
            "addresses": {"lab-net": [{"addr": "fd00::5", "version": 6}]}
        }))
        .unwrap();
        let live = "fd00::5";
        let members = [
            member(gone, "10.9.9.9", "ACTIVE"),
            member("s1", live, "ACTIVE"),
            member("static-backend", "10.9.9.8", "ACTIVE"),
            member("1b7f6c1e-9a2d-4c3b-8e5f-1a2b3c4d5e6f", live, "ACTIVE"),
            member(
                "2b7f6c1e-9a2d-4c3b-8e5f-1a2b3c4d5e6f",
                "10.9.9.7",
                "PENDING_DELETE",
            ),
        ];
        let found = orphans(&[s], &members, 80);
        assert_eq!(
            found,
            vec![OrphanMember {
                server: gone.into(),
                address: "10.9.9.9".into(),
                weight: 1
            }],
            "only the member of a gone server: not a live server's (by name or address), not one named by hand, not one being deleted"
        );
    }

    #[test]
    fn instances_carry_their_creator_key_and_active_time() {
        let i = instance_of(&server("ACTIVE", None, 1), &[], None);
        assert_eq!(i.created_by.as_deref(), Some("abc/0"));
        assert_eq!(i.active_since, Some(1_795_705_260.0));
        assert!(i.member.is_none());
        assert_eq!(i.stamps, None);
        let mut s = server("ACTIVE", None, 1);
        s.metadata
            .insert("sloop.heal".into(), "reboot-soft@1764205200".into());
        s.metadata.insert("sloop.migrated".into(), "1764205100".into());
        let stamps = instance_of(&s, &[], None).stamps.expect("read back");
        assert_eq!(
            stamps.rung,
            Some((crate::policy::Rung::RebootSoft, 1_764_205_200.0))
        );
        assert_eq!(stamps.migrated, Some(1_764_205_100.0));
        assert_eq!(stamps.migrated_from, None, "a stamp from before host digests");
        s.metadata
            .insert("sloop.migrated".into(), "d02434e0be28@1764205160".into());
        let stamps = instance_of(&s, &[], None).stamps.expect("read back");
        assert_eq!(stamps.migrated, Some(1_764_205_160.0));
        assert_eq!(
            stamps.migrated_from,
            Some(crate::snapshot::HostDigest::of("compute1"))
        );
    }
}
