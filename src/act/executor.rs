//! Carries out planned actions through the [`Compute`] and [`Traffic`] traits. The only code
//! that changes the cloud. Idempotent: a scale-out whose servers already exist (found by the
//! `sloop.action` key in their metadata) creates nothing twice.
//!
//! It never retries: retries with backoff belong to the cloud backend, and a failed action is
//! re-decided from the next observation. Within one pass, a service that failed for a reason
//! that is not about one resource (unavailable, rate-limited, unauthorised, an immutable load
//! balancer, quota) gets no further calls: the rest of the pass's calls to it are reported as
//! skipped instead of hammering an API that just said no (`tests/reliability` api_faults).

use super::{ActError, Compute, ServerRequest, Traffic};
use crate::{
    decision::ActionKind,
    decision::{Action, PlannedAction},
    history::{Charge, Failure, kind_of, parse_action_key, repair_charge_id},
    policy::Policy,
    snapshot::Snapshot,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What happened to one planned action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The action's idempotency key.
    pub id: String,
    /// `ok`, or the error class of the first failing call.
    pub result: Result<(), String>,
    /// Servers created by it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<String>,
}

impl Outcome {
    /// Whether the action certainly changed nothing it should have: it failed (or was skipped)
    /// and created no server. A multi-call action that got part of the way (a replacement
    /// whose new server exists) took effect, and a failure whose answer was lost may have
    /// applied; the next observation shows that (an operation in flight keeps the instance
    /// busy), so neither repeats blindly.
    pub fn took_no_effect(&self) -> bool {
        self.result.is_err() && self.created.is_empty()
    }
}

/// The actions that took no effect, classified, for [`crate::history::History::settle`].
pub fn without_effect(outcomes: &[Outcome]) -> Vec<Failure> {
    outcomes
        .iter()
        .filter(|o| o.took_no_effect())
        .map(|o| match &o.result {
            Err(e) => Failure::of_error(o.id.clone(), e),
            Ok(()) => Failure::outage(o.id.clone()),
        })
        .collect()
}

/// The budget charges the cloud itself remembers: one per action key found on the group's
/// servers (`sloop.action`), dated by the decision time the key names, which read as
/// scale-outs (see [`crate::history::Charge`]); and one per repair stamp (`sloop.heal`,
/// `sloop.migrated`: only the latest repair and migration of each server), matched with the
/// journal's charge of the same repair by [`repair_charge_id`]. A replacement whose old server
/// still exists reads as two charges without the journal (its stamp and its new server's key):
/// the safe side.
pub fn stamped_charges(policy: &str, snap: &Snapshot) -> Vec<Charge> {
    let created = snap
        .inventory
        .iter()
        .filter_map(|i| i.created_by.as_deref())
        .filter_map(|tag| {
            let (at, _) = parse_action_key(policy, tag)?;
            Some(Charge {
                at,
                kind: ActionKind::ScaleOut,
                id: tag.split('/').next()?.to_owned(),
                took_effect: true,
                instance: None,
                from_host: None,
            })
        });
    let repaired = snap.inventory.iter().flat_map(|i| {
        let stamps = i.stamps.unwrap_or_default();
        let rung = stamps.rung.map(|(r, at)| (kind_of(r), at));
        let migrated = stamps.migrated.map(|at| (ActionKind::Migrate, at));
        [rung, migrated].into_iter().flatten().map(|(kind, at)| Charge {
            at,
            kind,
            id: repair_charge_id(kind, &i.id, at),
            took_effect: true,
            instance: None,
            from_host: None,
        })
    });
    created.chain(repaired).collect()
}

/// Metadata key holding the idempotency key of the action that created a server.
pub const ACTION_KEY: &str = "sloop.action";
/// Metadata key holding the policy name.
pub const POLICY_KEY: &str = "sloop.policy";

/// The request for the `index`-th server of action `key`.
pub fn server_request(policy: &Policy, key: &str, index: u32, zone_seq: usize) -> ServerRequest {
    let template = &policy.spec.group.template;
    let mut metadata: BTreeMap<String, String> = template.metadata.clone();
    metadata.extend(policy.spec.group.selector.clone());
    metadata.insert(POLICY_KEY.into(), policy.metadata.name.clone());
    metadata.insert(ACTION_KEY.into(), format!("{key}/{index}"));
    let zones = &template.availability_zones;
    ServerRequest {
        name: format!(
            "{}-{}",
            policy.metadata.name,
            key.rsplit('-').next().unwrap_or(key)
        ) + &format!("-{index}"),
        template: template.clone(),
        availability_zone: (!zones.is_empty()).then(|| zones[zone_seq % zones.len()].clone()),
        metadata,
    }
}

/// The APIs behind the two traits.
#[derive(Debug, Clone, Copy)]
enum Service {
    Compute,
    Traffic,
}

/// One pass's breaker: the first service-wide failure of each API, which stops further calls
/// to it for the rest of the pass.
#[derive(Debug, Default)]
struct Breaker {
    compute: Option<ActError>,
    traffic: Option<ActError>,
}

impl Breaker {
    fn slot(&mut self, s: Service) -> &mut Option<ActError> {
        match s {
            Service::Compute => &mut self.compute,
            Service::Traffic => &mut self.traffic,
        }
    }

    /// `Err` when `s` already failed in this pass: the call is skipped, with the same class.
    fn check(&mut self, s: Service) -> Result<(), ActError> {
        let skipped = |m: &String| format!("skipped, the API failed earlier in this pass: {m}");
        match self.slot(s) {
            None => Ok(()),
            Some(ActError::Transient(m)) => Err(ActError::Transient(skipped(m))),
            Some(ActError::Conflict(m)) => Err(ActError::Conflict(skipped(m))),
            Some(ActError::Quota(m)) => Err(ActError::Quota(skipped(m))),
            Some(ActError::NotFound(m)) => Err(ActError::NotFound(skipped(m))),
            Some(ActError::Fatal(m)) => Err(ActError::Fatal(skipped(m))),
        }
    }

    /// Remembers a service-wide failure. Not-found concerns one resource, and a compute
    /// conflict one server's state; a traffic conflict is the whole load balancer (immutable
    /// while it applies a change).
    fn note<T>(&mut self, s: Service, r: Result<T, ActError>) -> Result<T, ActError> {
        if let Err(e) = &r {
            let service_wide = match e {
                ActError::Transient(_) | ActError::Quota(_) | ActError::Fatal(_) => true,
                ActError::Conflict(_) => matches!(s, Service::Traffic),
                ActError::NotFound(_) => false,
            };
            if service_wide && self.slot(s).is_none() {
                *self.slot(s) = Some(e.clone());
            }
        }
        r
    }
}

/// Executes actions in order; a failure of one does not stop the others, except that an API
/// that failed service-wide gets no more calls in this pass (see [`Breaker`]).
pub async fn execute<C: Compute + Traffic>(
    policy: &Policy,
    snap: &Snapshot,
    actions: &[PlannedAction],
    cloud: &mut C,
) -> Vec<Outcome> {
    let mut pass = PassState::new(snap);
    let mut out = Vec::with_capacity(actions.len());
    for planned in actions {
        out.push(execute_in(policy, snap, planned, cloud, &mut pass).await);
    }
    out
}

/// What the actions of one pass share when a caller executes them one at a time: the
/// breaker (an API that failed service-wide gets no more calls in the pass) and the
/// availability-zone rotation.
#[derive(Debug)]
pub struct PassState {
    zone_seq: usize,
    breaker: Breaker,
}

impl PassState {
    /// The state at the start of a pass over `snap`.
    pub fn new(snap: &Snapshot) -> Self {
        Self {
            zone_seq: snap.inventory.len(),
            breaker: Breaker::default(),
        }
    }
}

/// Executes one action of the pass `state` belongs to.
pub async fn execute_in<C: Compute + Traffic>(
    policy: &Policy,
    snap: &Snapshot,
    planned: &PlannedAction,
    cloud: &mut C,
    state: &mut PassState,
) -> Outcome {
    let mut created = Vec::new();
    let mut ctx = Pass {
        zone_seq: &mut state.zone_seq,
        created: &mut created,
        breaker: &mut state.breaker,
    };
    let result = run(policy, snap, planned, cloud, &mut ctx).await;
    Outcome {
        id: planned.id.clone(),
        result: result.map_err(|e| e.to_string()),
        created,
    }
}

/// What one action's execution shares with the rest of the pass.
struct Pass<'a> {
    zone_seq: &'a mut usize,
    created: &'a mut Vec<String>,
    breaker: &'a mut Breaker,
}

/// Creates the `index`-th server of action `key` unless it exists; a replacement names the
/// server it replaces in its metadata ([`super::stamp::REPLACES_KEY`]).
async fn create<C: Compute>(
    policy: &Policy,
    snap: &Snapshot,
    key: &str,
    index: u32,
    replaces: Option<&str>,
    cloud: &mut C,
    ctx: &mut Pass<'_>,
) -> Result<(), ActError> {
    let tag = format!("{key}/{index}");
    if snap
        .inventory
        .iter()
        .any(|i| i.created_by.as_deref() == Some(tag.as_str()))
    {
        return Ok(());
    }
    ctx.breaker.check(Service::Compute)?;
    let mut req = server_request(policy, key, index, *ctx.zone_seq);
    if let Some(old) = replaces {
        req.metadata
            .insert(super::stamp::REPLACES_KEY.to_owned(), old.to_owned());
    }
    *ctx.zone_seq += 1;
    let id = ctx
        .breaker
        .note(Service::Compute, cloud.create_server(&req).await)?;
    ctx.created.push(id);
    Ok(())
}

async fn compute<F: std::future::Future<Output = Result<(), ActError>>>(
    breaker: &mut Breaker,
    call: impl FnOnce() -> F,
) -> Result<(), ActError> {
    breaker.check(Service::Compute)?;
    let r = call().await;
    breaker.note(Service::Compute, r)
}

async fn traffic<F: std::future::Future<Output = Result<(), ActError>>>(
    breaker: &mut Breaker,
    call: impl FnOnce() -> F,
) -> Result<(), ActError> {
    breaker.check(Service::Traffic)?;
    let r = call().await;
    breaker.note(Service::Traffic, r)
}

/// Writes the repair stamp of `planned` on its server before the first call of the repair
/// ([`super::stamp`]), as the journal writes the intent first: a `kill -9` between the stamp
/// and the call leaves the repair charged, on the server itself.
///
/// A failed stamp blocks the repair: the action fails with the stamp's error, takes no effect
/// and is re-decided from the next observation. The stamp goes to the same Nova API as a
/// reboot or a migration, so a failing stamp mostly means the repair would fail too, and a
/// repair sent without its stamp is one a lost journal could not account for. One exception:
/// Nova refuses metadata updates (409) on a server in ERROR or with a task running, exactly the
/// servers a hard reboot or a rebuild must still reach; then the repair goes ahead unstamped,
/// with a warning, and the journal's intent is its record.
async fn stamp<C: Compute>(
    policy: &Policy,
    snap: &Snapshot,
    planned: &PlannedAction,
    cloud: &mut C,
    breaker: &mut Breaker,
) -> Result<(), ActError> {
    let at = parse_action_key(&policy.metadata.name, &planned.id).map_or(snap.observed_at, |(t, _)| t);
    let Some((server, metadata)) = super::stamp::for_action(&planned.action, at) else {
        return Ok(());
    };
    breaker.check(Service::Compute)?;
    let r = cloud.stamp_server(&server, &metadata).await;
    match breaker.note(Service::Compute, r) {
        Err(ActError::Conflict(e)) => {
            tracing::warn!(%server, action = %planned.id, error = %e,
                "Nova refused the repair stamp in this server state; repairing unstamped (the journal records it).");
            Ok(())
        }
        r => r,
    }
}

async fn run<C: Compute + Traffic>(
    policy: &Policy,
    snap: &Snapshot,
    planned: &PlannedAction,
    cloud: &mut C,
    ctx: &mut Pass<'_>,
) -> Result<(), ActError> {
    let weight = policy.spec.traffic.as_ref().map_or(1, |t| t.weight);
    let has_pool = policy.spec.traffic.is_some();
    stamp(policy, snap, planned, cloud, ctx.breaker).await?;
    let b = &mut *ctx.breaker;
    match &planned.action {
        Action::ScaleOut { count } => {
            let mut first_error = None;
            for i in 0..*count {
                if let Err(e) = create(policy, snap, &planned.id, i, None, cloud, ctx).await {
                    first_error.get_or_insert(e);
                }
            }
            first_error.map_or(Ok(()), Err)
        }
        Action::ScaleIn { instances } => {
            for id in instances {
                if has_pool {
                    traffic(b, || cloud.remove_member(id)).await?;
                }
                compute(b, || cloud.delete_server(id)).await?;
            }
            Ok(())
        }
        Action::Drain { instance } => traffic(b, || cloud.set_member_weight(instance, 0)).await,
        Action::Admit { instance } => traffic(b, || cloud.set_member_weight(instance, weight)).await,
        Action::Reboot { instance, hard } => compute(b, || cloud.reboot_server(instance, *hard)).await,
        Action::Rebuild { instance } => {
            let image = &policy.spec.group.template.image;
            compute(b, || cloud.rebuild_server(instance, image)).await
        }
        Action::Migrate { instance, .. } => compute(b, || cloud.live_migrate(instance)).await,
        // sloop's: only the new server; the old one stays (drained) until its replacement
        // serves, and the decision core deletes it then (`plan/replace.rs`), reading the pair
        // from the cloud. The baselines': the old one goes right after the create.
        Action::Replace { instance, delete_old } => {
            create(policy, snap, &planned.id, 0, Some(instance), cloud, ctx).await?;
            if !delete_old {
                return Ok(());
            }
            let b = &mut *ctx.breaker;
            if has_pool {
                traffic(b, || cloud.remove_member(instance)).await?;
            }
            compute(b, || cloud.delete_server(instance)).await
        }
    }
}
