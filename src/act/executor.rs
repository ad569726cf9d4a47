//! Carries out planned actions through the [`Compute`] and [`Traffic`] traits. The only code
//! that changes the cloud. Idempotent: a scale-out whose servers already exist (found by the
//! `sloop.action` key in their metadata) creates nothing twice.

use super::{ActError, Compute, ServerRequest, Traffic};
use crate::{
    decision::{Action, PlannedAction},
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

/// Executes actions in order; a failure of one does not stop the others.
pub async fn execute<C: Compute + Traffic>(
    policy: &Policy,
    snap: &Snapshot,
    actions: &[PlannedAction],
    cloud: &mut C,
) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(actions.len());
    let mut zone_seq = snap.inventory.len();
    for planned in actions {
        let mut created = Vec::new();
        let result = run(policy, snap, planned, cloud, &mut zone_seq, &mut created).await;
        out.push(Outcome {
            id: planned.id.clone(),
            result: result.map_err(|e| e.to_string()),
            created,
        });
    }
    out
}

async fn create<C: Compute>(
    policy: &Policy,
    snap: &Snapshot,
    key: &str,
    index: u32,
    cloud: &mut C,
    zone_seq: &mut usize,
    created: &mut Vec<String>,
) -> Result<(), ActError> {
    let tag = format!("{key}/{index}");
    if snap
        .inventory
        .iter()
        .any(|i| i.created_by.as_deref() == Some(tag.as_str()))
    {
        return Ok(());
    }
    let req = server_request(policy, key, index, *zone_seq);
    *zone_seq += 1;
    created.push(cloud.create_server(&req).await?);
    Ok(())
}

async fn run<C: Compute + Traffic>(
    policy: &Policy,
    snap: &Snapshot,
    planned: &PlannedAction,
    cloud: &mut C,
    zone_seq: &mut usize,
    created: &mut Vec<String>,
) -> Result<(), ActError> {
    let weight = policy.spec.traffic.as_ref().map_or(1, |t| t.weight);
    let has_pool = policy.spec.traffic.is_some();
    match &planned.action {
        Action::ScaleOut { count } => {
            let mut first_error = None;
            for i in 0..*count {
                if let Err(e) = create(policy, snap, &planned.id, i, cloud, zone_seq, created).await {
                    // Quota and fatal errors will not get better within this action.
                    let stop = matches!(e, ActError::Quota(_) | ActError::Fatal(_));
                    first_error.get_or_insert(e);
                    if stop {
                        break;
                    }
                }
            }
            first_error.map_or(Ok(()), Err)
        }
        Action::ScaleIn { instances } => {
            for id in instances {
                if has_pool {
                    cloud.remove_member(id).await?;
                }
                cloud.delete_server(id).await?;
            }
            Ok(())
        }
        Action::Drain { instance } => cloud.set_member_weight(instance, 0).await,
        Action::Admit { instance } => cloud.set_member_weight(instance, weight).await,
        Action::Reboot { instance, hard } => cloud.reboot_server(instance, *hard).await,
        Action::Rebuild { instance } => {
            cloud
                .rebuild_server(instance, &policy.spec.group.template.image)
                .await
        }
        Action::Migrate { instance, .. } => cloud.live_migrate(instance).await,
        Action::Replace { instance } => {
            create(policy, snap, &planned.id, 0, cloud, zone_seq, created).await?;
            if has_pool {
                cloud.remove_member(instance).await?;
            }
            cloud.delete_server(instance).await
        }
    }
}
