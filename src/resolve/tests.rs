use super::*;
use crate::{
    decision::{ActionKind, Cause, Evidence},
    snapshot::{Instance, LbMember},
};

const AT: Time = 10_000.0;

fn intent(action: Action) -> JournalEntry {
    let planned = crate::decision::PlannedAction {
        id: "web-10000-7".into(),
        action,
        cause: Cause::InstanceFault,
        evidence: Evidence::default(),
    };
    crate::act::journaled::entry("web", AT, &planned, EntryOutcome::Started, None, None)
}

fn server(id: &str) -> Instance {
    Instance {
        id: id.into(),
        name: id.into(),
        status: InstanceStatus::Active,
        host: None,
        addresses: Vec::new(),
        created_at: 0.0,
        active_since: None,
        member: Some(LbMember {
            weight: 1,
            admin_up: true,
            online: true,
            error: false,
        }),
        created_by: None,
        stamps: None,
        fault: None,
        replaces: None,
    }
}

fn snap(inventory: Vec<Instance>) -> Snapshot {
    Snapshot {
        observed_at: AT + 30.0,
        inventory,
        ..Snapshot::default()
    }
}

fn created_by(id: &str, key: &str) -> Instance {
    Instance {
        created_by: Some(key.into()),
        ..server(id)
    }
}

fn recorded(action: &str, started: Time) -> ServerAction {
    ServerAction {
        action: action.into(),
        started,
        request_id: Some("req-1".into()),
    }
}

/// (why, intent, snapshot, recorded actions, expected resolution; `None` = ask again).
type Case = (
    &'static str,
    Action,
    Vec<Instance>,
    Option<Vec<ServerAction>>,
    Option<Resolution>,
);

#[test]
fn each_kind_of_interrupted_action_resolves_from_what_the_cloud_shows() {
    use Resolution::*;
    let reboot = Action::Reboot {
        instance: "a".into(),
        hard: false,
    };
    let migrate = Action::Migrate {
        instance: "a".into(),
        from_host: "h1".into(),
    };
    let rebuild = Action::Rebuild { instance: "a".into() };
    let drained = |w| Instance {
        member: Some(LbMember {
            weight: w,
            admin_up: true,
            online: true,
            error: false,
        }),
        ..server("a")
    };
    let deleting = Instance {
        status: InstanceStatus::Deleting,
        ..server("a")
    };
    let cases: Vec<Case> = vec![
        (
            "both servers carry the key",
            Action::ScaleOut { count: 2 },
            vec![
                created_by("n1", "web-10000-7/0"),
                created_by("n2", "web-10000-7/1"),
            ],
            None,
            Some(Done),
        ),
        (
            "one of two was created before the kill: the call reached the cloud",
            Action::ScaleOut { count: 2 },
            vec![created_by("n1", "web-10000-7/0")],
            None,
            Some(Done),
        ),
        (
            "no server carries the key (another action's key does not count)",
            Action::ScaleOut { count: 1 },
            vec![created_by("n1", "web-10000-70/0")],
            None,
            Some(Abandoned),
        ),
        (
            "the replacement exists",
            Action::Replace {
                instance: "a".into(),
                delete_old: false,
            },
            vec![server("a"), created_by("n1", "web-10000-7/0")],
            None,
            Some(Done),
        ),
        (
            "no replacement",
            Action::Replace {
                instance: "a".into(),
                delete_old: false,
            },
            vec![server("a")],
            None,
            Some(Abandoned),
        ),
        (
            "the victim is gone",
            Action::ScaleIn {
                instances: vec!["a".into()],
            },
            vec![],
            None,
            Some(Done),
        ),
        (
            "the victim is being deleted",
            Action::ScaleIn {
                instances: vec!["a".into()],
            },
            vec![deleting],
            None,
            Some(Done),
        ),
        (
            "the victim is still there",
            Action::ScaleIn {
                instances: vec!["a".into()],
            },
            vec![server("a")],
            None,
            Some(Abandoned),
        ),
        (
            "drained: weight 0",
            Action::Drain { instance: "a".into() },
            vec![drained(0)],
            None,
            Some(Done),
        ),
        (
            "not drained: weight 1",
            Action::Drain { instance: "a".into() },
            vec![drained(1)],
            None,
            Some(Abandoned),
        ),
        (
            "admitted: weight 1",
            Action::Admit { instance: "a".into() },
            vec![drained(1)],
            None,
            Some(Done),
        ),
        (
            "not admitted: weight 0",
            Action::Admit { instance: "a".into() },
            vec![drained(0)],
            None,
            Some(Abandoned),
        ),
        (
            "Nova rebooted it after the intent",
            reboot.clone(),
            vec![server("a")],
            Some(vec![recorded("create", 1.0), recorded("reboot", AT + 2.0)]),
            Some(Done),
        ),
        (
            "Nova's clock a few seconds behind ours",
            reboot.clone(),
            vec![server("a")],
            Some(vec![recorded("reboot", AT - 4.0)]),
            Some(Done),
        ),
        (
            "only an older reboot (the previous rung): this one never reached Nova",
            reboot.clone(),
            vec![server("a")],
            Some(vec![recorded("reboot", AT - 300.0)]),
            Some(Abandoned),
        ),
        (
            "a migration is not a reboot",
            reboot.clone(),
            vec![server("a")],
            Some(vec![recorded("live-migration", AT + 1.0)]),
            Some(Abandoned),
        ),
        (
            "the query failed: ask again next pass",
            reboot.clone(),
            vec![server("a")],
            None,
            None,
        ),
        (
            "the server is gone: nothing to ask",
            reboot,
            vec![],
            None,
            Some(Abandoned),
        ),
        (
            "Nova migrated it",
            migrate.clone(),
            vec![server("a")],
            Some(vec![recorded("live-migration", AT + 1.0)]),
            Some(Done),
        ),
        (
            "no migration recorded",
            migrate,
            vec![server("a")],
            Some(vec![]),
            Some(Abandoned),
        ),
        (
            "Nova rebuilt it",
            rebuild.clone(),
            vec![server("a")],
            Some(vec![recorded("rebuild", AT)]),
            Some(Done),
        ),
        (
            "no rebuild recorded",
            rebuild,
            vec![server("a")],
            Some(vec![recorded("reboot", AT)]),
            Some(Abandoned),
        ),
    ];
    for (why, action, inventory, answer, expect) in cases {
        let i = intent(action);
        let s = snap(inventory);
        let got = rule(&i, &s, answer.as_deref());
        assert_eq!(got.as_ref().map(|r| r.resolution), expect, "{why}");
        if let Some(r) = got {
            assert_eq!(r.entry.id, i.id, "{why}: the same action ID");
            assert_eq!(r.entry.at, AT, "{why}: dated by its decision");
            let outcome = if expect == Some(Abandoned) {
                EntryOutcome::Abandoned
            } else {
                EntryOutcome::Done
            };
            assert_eq!(r.entry.outcome, outcome, "{why}");
            assert!(
                r.entry
                    .detail
                    .as_deref()
                    .is_some_and(|d| d.contains("restart") || d.contains("interrupted")),
                "{why}"
            );
        }
    }
}

#[test]
fn only_reboots_rebuilds_and_migrations_of_existing_servers_need_the_query() {
    let s = snap(vec![server("a")]);
    let reboot = intent(Action::Reboot {
        instance: "a".into(),
        hard: true,
    });
    assert_eq!(query_for(&reboot, &s), Some(("a", AT - SKEW)));
    let gone = intent(Action::Migrate {
        instance: "b".into(),
        from_host: "h".into(),
    });
    assert_eq!(
        query_for(&gone, &s),
        None,
        "a gone server is resolved from the snapshot"
    );
    assert_eq!(
        query_for(&intent(Action::Drain { instance: "a".into() }), &s),
        None
    );
    assert_eq!(query_for(&intent(Action::ScaleOut { count: 1 }), &s), None);
}

#[test]
fn an_unknown_outcome_is_taken_as_done_and_charged_as_applied() {
    let i = intent(Action::Reboot {
        instance: "a".into(),
        hard: false,
    });
    let r = unknown(&i, "transient: 503 from compute");
    assert_eq!(r.resolution, Resolution::Unknown);
    assert_eq!(r.entry.outcome, EntryOutcome::Done);
    let c = r.entry.charge().expect("charged");
    assert!(c.took_effect, "the cautious side: it may have happened");
    assert_eq!(c.kind, ActionKind::RebootSoft);
    let a = rule(&i, &snap(vec![server("a")]), Some(&[])).expect("resolved");
    let c = a.entry.charge().expect("an abandoned action stays charged");
    assert!(!c.took_effect);
}
