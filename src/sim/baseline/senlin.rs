//! `senlin-health`: a Senlin cluster with a `senlin.policy.health` policy and an LB policy,
//! as read from openstack-archive/senlin at ec5fae9 (the last commit before the retirement).
//!
//! - Detection every `interval` = 60 s, the policy default and the engine's enforced minimum
//!   `health_check_interval_min` (`senlin/policies/health_policy.py`, `senlin/conf/base.py`).
//! - Detection modes `NODE_STATUS_POLLING` (Nova status ERROR, SHUTOFF or DELETED is unhealthy,
//!   `senlin/profiles/os/nova/server.py` `_do_healthcheck_server`) and `NODE_STATUS_POLL_URL`
//!   (an HTTP GET of the node's health URL, skipped when the node is not ACTIVE; unhealthy after
//!   `poll_url_retry_limit` = 3 failed polls `poll_url_retry_interval` = 3 s apart, connection
//!   errors count as failures since `poll_url_conn_error_as_unhealthy` defaults to true),
//!   combined with `recovery_conditional: ANY_FAILED`, the default. The URL poll is modelled
//!   by the latest per-instance probe results from the location nearest the engine.
//! - Grace: a node updated less than `node_update_timeout` = 300 s ago counts as healthy
//!   (`_node_within_grace_period`, `senlin/engine/health_manager.py`).
//! - Fail open: any error during a check counts as healthy (the `except Exception: return
//!   True` branches of `health_manager.py`); here, a node with no poll data is healthy.
//! - Recovery `RECREATE` (`senlin/profiles/os/nova/server.py` `do_recover`): the node's server
//!   is replaced by a new one, which starts a new grace period.
//! - The LB policy (`senlin/policies/lb_policy.py`) creates an Octavia health monitor with
//!   `delay` 10, `timeout` 5, `max_retries` 3 by default and adds each node to the pool.
//!
//! Health only: a Senlin scaling policy needs an external signal (a webhook from Aodh), which is
//! the `heat-aodh` baseline's job, so this one never changes the cluster size.

use super::{HealthMonitor, Planner, live, nearest_recent};
use crate::{
    decision::{Action, Cause, Decision, Diagnosis},
    policy::Policy,
    sim::decider::Decider,
    snapshot::{Instance, InstanceStatus, Snapshot, Time},
};
use std::collections::BTreeSet;

/// Health policy detection interval, s.
pub const INTERVAL: f64 = 60.0;
/// `node_update_timeout`, s.
pub const NODE_UPDATE_TIMEOUT: f64 = 300.0;
/// `poll_url_retry_limit`.
pub const POLL_URL_RETRY_LIMIT: usize = 3;
/// LB policy health monitor: delay (s), rise, fall.
pub const HM: (f64, u32, u32) = (10.0, 3, 3);

/// What one health check concluded about a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeCheck {
    /// Healthy (or inside its grace period, or the check could not tell).
    Healthy,
    /// Unhealthy: recover it.
    Unhealthy,
}

/// Senlin's verdict on one node: `status_ok` is the Nova-status poll, `url_polls` the last URL
/// poll results (empty when they failed to run), `updated_at` the node's last update.
pub fn check_node(status: InstanceStatus, url_polls: &[bool], updated_at: Time, now: Time) -> NodeCheck {
    let status_fails = matches!(status, InstanceStatus::Error | InstanceStatus::Shutoff);
    // The URL poll is skipped (passes) for nodes that are not ACTIVE, and fails open without data.
    let url_fails = status == InstanceStatus::Active
        && url_polls.len() >= POLL_URL_RETRY_LIMIT
        && url_polls.iter().all(|ok| !ok);
    let failed = status_fails || url_fails;
    if !failed || now - updated_at < NODE_UPDATE_TIMEOUT {
        NodeCheck::Healthy
    } else {
        NodeCheck::Unhealthy
    }
}

/// The Senlin deployment.
pub struct SenlinHealth {
    planner: Planner,
    monitor: HealthMonitor,
    next_check: Time,
    recovering: BTreeSet<String>,
}

impl SenlinHealth {
    /// The deployment for `policy`'s group.
    pub fn new(_policy: &Policy) -> Self {
        Self {
            planner: Planner::new("senlin"),
            monitor: HealthMonitor::new(HM.0, HM.1, HM.2),
            next_check: f64::NEG_INFINITY,
            recovering: BTreeSet::new(),
        }
    }

    /// A node's last update: its creation, since a RECREATE makes a new server (the only
    /// operation this deployment performs on nodes).
    fn updated_at(inst: &Instance) -> Time {
        inst.created_at
    }
}

impl Decider for SenlinHealth {
    fn name(&self) -> &'static str {
        "senlin-health"
    }

    fn interval(&self) -> f64 {
        HM.0
    }

    fn decide(&mut self, snap: &Snapshot, now: Time) -> Decision {
        let mut decision = self.monitor.pass(snap, &mut self.planner, now);
        if now + 1e-9 < self.next_check {
            return decision;
        }
        self.next_check = if self.next_check.is_finite() {
            self.next_check + INTERVAL
        } else {
            now + INTERVAL
        };
        let live = live(snap);
        self.recovering.retain(|id| live.iter().any(|i| &i.id == id));
        for inst in live {
            if self.recovering.contains(&inst.id) {
                continue;
            }
            let polls = nearest_recent(snap, &inst.id, POLL_URL_RETRY_LIMIT);
            if check_node(inst.status, &polls, Self::updated_at(inst), now) == NodeCheck::Healthy {
                continue;
            }
            self.recovering.insert(inst.id.clone());
            decision.diagnoses.push(Diagnosis::InstanceFault {
                instance: inst.id.clone(),
                detail: format!("senlin health policy: node {} failed its check", inst.name),
            });
            decision.actions.push(self.planner.plan(
                now,
                Action::Replace {
                    instance: inst.id.clone(),
                    delete_old: true,
                },
                Cause::InstanceFault,
                format!("senlin RECREATE of node {}", inst.name),
            ));
        }
        decision
    }
}
