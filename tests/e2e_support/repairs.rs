//! Repairs counted twice over: what the journal says the controller started (its intents,
//! synced before the first call) and what Nova says happened to each server
//! (`GET /servers/{id}/os-instance-actions`). A kill must never make a rung or a migration
//! happen twice, nor a Nova action happen that no journal intent accounts for.

#![allow(dead_code)]

use serde_json::Value;
use sloop::{
    cloud::openstack::session::{Api, Request, Service},
    decision::ActionKind,
    journal::{self, EntryOutcome},
};
use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// The journal's healing actions by (instance, kind): IDs started, and IDs with an outcome.
#[derive(Debug, Default)]
pub struct Journalled {
    pub started: BTreeMap<(String, ActionKind), BTreeSet<String>>,
    pub done: BTreeMap<(String, ActionKind), BTreeSet<String>>,
    pub failed: BTreeMap<(String, ActionKind), BTreeSet<String>>,
    /// Intents a restarted controller found never to have reached Nova (`sloop::resolve`):
    /// they changed nothing, so the same rung is started again.
    pub abandoned: BTreeMap<(String, ActionKind), BTreeSet<String>>,
    /// Intents a restarted controller confirmed done (or took as done, unknown).
    pub resolved_done: usize,
    /// Every executed action's ID with its decision time (the budget's view).
    pub charged: BTreeMap<String, f64>,
}

impl Journalled {
    pub fn read(dir: &Path) -> Self {
        let mut me = Self::default();
        let Ok((entries, _)) = journal::read_dir(dir) else {
            return me;
        };
        for e in entries {
            let Some(id) = e.id.clone() else { continue };
            let resolution = e.detail.as_deref().is_some_and(|d| {
                d.starts_with("confirmed after restart") || d.starts_with("interrupted, outcome unknown")
            });
            if e.outcome == EntryOutcome::Done && resolution {
                me.resolved_done += 1;
            }
            if matches!(
                e.outcome,
                EntryOutcome::Started | EntryOutcome::Done | EntryOutcome::Failed | EntryOutcome::Abandoned
            ) {
                me.charged.entry(id.clone()).or_insert(e.at);
            }
            let Some(instance) = e.action.instance() else {
                continue;
            };
            if !e.kind.is_healing() && e.kind != ActionKind::Admit {
                continue;
            }
            let key = (instance.clone(), e.kind);
            let slot = match e.outcome {
                EntryOutcome::Started => &mut me.started,
                EntryOutcome::Done => &mut me.done,
                EntryOutcome::Failed => &mut me.failed,
                EntryOutcome::Abandoned => &mut me.abandoned,
                _ => continue,
            };
            slot.entry(key).or_default().insert(id);
        }
        me
    }

    /// Started repairs of `kind` (for `instance`, or all).
    pub fn count(map: &BTreeMap<(String, ActionKind), BTreeSet<String>>, kind: ActionKind) -> usize {
        map.iter()
            .filter(|((_, k), _)| *k == kind)
            .map(|(_, ids)| ids.len())
            .sum()
    }

    pub fn of(&self, instance: &str, kinds: &[ActionKind]) -> usize {
        kinds
            .iter()
            .map(|k| {
                self.started
                    .get(&(instance.to_owned(), *k))
                    .map_or(0, |s| s.len())
            })
            .sum()
    }

    /// Started without an outcome: in flight when the process died (or still running).
    pub fn open(&self) -> Vec<String> {
        self.started
            .iter()
            .flat_map(|(k, ids)| ids.iter().map(move |id| (k, id)))
            .filter(|(k, id)| {
                !self.done.get(k).is_some_and(|d| d.contains(*id))
                    && !self.failed.get(k).is_some_and(|d| d.contains(*id))
                    && !self.abandoned.get(k).is_some_and(|d| d.contains(*id))
            })
            .map(|((i, k), id)| format!("{} of {i} ({id})", k.label()))
            .collect()
    }

    /// The most charges inside any rolling hour.
    pub fn peak_hour(&self) -> usize {
        let mut at: Vec<f64> = self.charged.values().copied().collect();
        at.sort_by(f64::total_cmp);
        (0..at.len())
            .map(|i| at[i..].iter().take_while(|t| **t - at[i] < 3600.0).count())
            .max()
            .unwrap_or(0)
    }
}

/// The journal's healing lines, one per entry (`+SECONDS kind instance outcome`), seconds
/// from the first: what the figures print so a run can be followed.
pub fn timeline(dir: &Path) -> Vec<String> {
    let Ok((entries, _)) = journal::read_dir(dir) else {
        return Vec::new();
    };
    let t0 = entries.first().map_or(0.0, |e| e.at);
    entries
        .iter()
        .filter(|e| e.kind.is_healing() || e.kind == ActionKind::Admit)
        .map(|e| {
            format!(
                "+{:.0}s {} {} {}",
                e.at - t0,
                e.kind.label(),
                e.target(),
                e.outcome.label()
            )
        })
        .collect()
}

/// Nova's actions on one server (`create`, `reboot`, `live-migration`, …); empty once the
/// server is gone.
pub async fn nova_actions(api: &mut Api, id: &str) -> Vec<String> {
    let Ok(v) = api
        .call(&Request::get(
            Service::Compute,
            &["servers", id, "os-instance-actions"],
        ))
        .await
    else {
        return Vec::new();
    };
    v["instanceActions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["action"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// How many times Nova did `action` to the server.
pub fn times(actions: &[String], action: &str) -> usize {
    actions.iter().filter(|a| *a == action).count()
}

/// The invariants on repairs, for the servers in `nova` (id → Nova actions): each rung and
/// each migration at most once per server, and every Nova reboot or live migration backed by
/// a journal intent.
pub fn check(when: &str, j: &Journalled, nova: &BTreeMap<String, Vec<String>>, budget: usize) -> Vec<String> {
    let mut out = Vec::new();
    for ((instance, kind), ids) in &j.started {
        // An abandoned attempt never reached Nova: its retry is the rung's one start.
        let ids: BTreeSet<&String> = ids
            .iter()
            .filter(|id| {
                !j.abandoned
                    .get(&(instance.clone(), *kind))
                    .is_some_and(|a| a.contains(*id))
            })
            .collect();
        if *kind != ActionKind::Admit && ids.len() > 1 {
            out.push(format!(
                "{when}: {} of {instance} started {} times: {ids:?}",
                kind.label(),
                ids.len()
            ));
        }
    }
    for (id, actions) in nova {
        let reboots = times(actions, "reboot");
        let intents = j.of(id, &[ActionKind::RebootSoft, ActionKind::RebootHard]);
        if reboots > intents {
            out.push(format!(
                "{when}: Nova rebooted {id} {reboots} times, the journal started {intents}"
            ));
        }
        let moves = times(actions, "live-migration");
        let intents = j.of(id, &[ActionKind::Migrate]);
        if moves > intents || moves > 1 {
            out.push(format!(
                "{when}: Nova live-migrated {id} {moves} times, the journal started {intents}"
            ));
        }
    }
    let peak = j.peak_hour();
    if peak > budget {
        out.push(format!("{when}: {peak} actions in one hour, budget {budget}"));
    }
    out
}

/// The host of a server as the admin sees it.
pub fn host(v: &Value) -> String {
    v["OS-EXT-SRV-ATTR:host"].as_str().unwrap_or("").to_owned()
}
