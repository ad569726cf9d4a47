//! One candidate's side of the Lease protocol (see the parent module for the why): read the
//! Lease, write ourselves in under its resourceVersion when we may, publish leadership, renew,
//! step down at the deadline, release on request.

use super::{LeaseConfig, LeaseError};
use crate::clock::{self, Clock, SystemClock};
use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::Timestamp,
};
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
};
use std::time::Duration;
use tokio::{
    sync::{oneshot, watch},
    time::{Instant, sleep_until},
};

/// The Lease as we last saw it, and when (on our monotonic clock).
pub(super) struct Observed {
    resource_version: String,
    holder: Option<String>,
    duration: Duration,
    at: Instant,
}

enum Attempt {
    Leading,
    Following { holder: Option<String> },
}

pub(super) struct Candidate {
    pub(super) api: Api<Lease>,
    pub(super) config: LeaseConfig,
    pub(super) observed: Option<Observed>,
}

impl Candidate {
    pub(super) async fn run(
        mut self,
        tx: watch::Sender<bool>,
        mut stop: oneshot::Receiver<()>,
    ) -> Result<(), LeaseError> {
        // Aborted, panicked or returned: whoever still holds a receiver reads "not leader".
        let _guard = StepDownOnExit(tx.clone());
        // While leading: when leadership lapses unless a renewal succeeds first.
        let mut deadline: Option<Instant> = None;
        let mut last_holder: Option<String> = None;
        loop {
            let started = clock::timer_now();
            // A request that hangs must not keep a follower from looking again for minutes
            // (the client's own read timeout): each round gets one renew period.
            let round = tokio::time::timeout(self.config.renew_period(), self.try_acquire_or_renew());
            let attempt = tokio::select! {
                r = round => Some(r.unwrap_or_else(|_| Err(LeaseError::Timeout(self.lease())))),
                _ = lapse(deadline) => None,
                _ = &mut stop => return self.release(&tx).await,
            };
            let next = match attempt {
                Some(Ok(Attempt::Leading)) => {
                    deadline = Some(started + self.config.duration - self.config.grace);
                    if set(&tx, true) {
                        tracing::info!(lease = %self.lease(), identity = %self.config.identity, "Became leader.");
                    }
                    started + self.config.renew_period()
                }
                Some(Ok(Attempt::Following { holder })) => {
                    deadline = None;
                    self.step_down(&tx, "another replica holds the lease");
                    if holder != last_holder {
                        tracing::info!(lease = %self.lease(), holder = ?holder, "Following.");
                        last_holder = holder;
                    }
                    clock::timer_now() + self.config.retry_period()
                }
                Some(Err(e)) => {
                    tracing::warn!(lease = %self.lease(), error = %e, "Lease request failed.");
                    clock::timer_now() + self.config.retry_period()
                }
                None => {
                    deadline = None;
                    self.step_down(&tx, "no renewal succeeded in time");
                    clock::timer_now()
                }
            };
            tokio::select! {
                _ = sleep_until(next) => {}
                _ = lapse(deadline) => {
                    deadline = None;
                    self.step_down(&tx, "no renewal succeeded in time");
                }
                _ = &mut stop => return self.release(&tx).await,
            }
        }
    }

    fn lease(&self) -> String {
        format!("{}/{}", self.config.namespace, self.config.name)
    }

    fn step_down(&self, tx: &watch::Sender<bool>, why: &str) {
        if set(tx, false) {
            tracing::warn!(lease = %self.lease(), why, "Lost leadership; actions stop.");
        }
    }

    fn api_error(&self, op: &'static str, source: kube::Error) -> LeaseError {
        LeaseError::Api {
            op,
            lease: self.lease(),
            source: Box::new(source),
        }
    }

    /// One round of the protocol: read, then write ourselves in if we may.
    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, LeaseError> {
        let name = self.config.name.clone();
        let Some(lease) = self
            .api
            .get_opt(&name)
            .await
            .map_err(|e| self.api_error("get", e))?
        else {
            return self.create().await;
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let resource_version = lease.metadata.resource_version.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let now = clock::timer_now();
        let changed = self
            .observed
            .as_ref()
            .is_none_or(|o| o.resource_version != resource_version);
        if changed {
            let secs = spec.lease_duration_seconds.unwrap_or(0).max(0) as u64;
            self.observed = Some(Observed {
                resource_version: resource_version.clone(),
                holder: holder.clone(),
                duration: Duration::from_secs(secs),
                at: now,
            });
        }
        let ours = holder.as_deref() == Some(self.config.identity.as_str());
        let expired = self.observed.as_ref().is_some_and(|o| now >= o.at + o.duration);
        if !(ours || holder.is_none() || expired) {
            return Ok(Attempt::Following { holder });
        }
        let wall = now_micro();
        let transitions = spec.lease_transitions.unwrap_or(0);
        let new_spec = LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.config.duration.as_secs() as i32),
            renew_time: Some(wall.clone()),
            acquire_time: if ours {
                spec.acquire_time.clone()
            } else {
                Some(wall)
            },
            lease_transitions: Some(if ours { transitions } else { transitions + 1 }),
            ..spec
        };
        let mut updated = lease;
        updated.spec = Some(new_spec);
        match self.api.replace(&name, &PostParams::default(), &updated).await {
            Ok(written) => {
                self.remember_own_write(&written);
                Ok(Attempt::Leading)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Attempt::Following { holder }),
            Err(e) => Err(self.api_error("replace", e)),
        }
    }

    async fn create(&mut self) -> Result<Attempt, LeaseError> {
        let wall = now_micro();
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.config.identity.clone()),
                lease_duration_seconds: Some(self.config.duration.as_secs() as i32),
                acquire_time: Some(wall.clone()),
                renew_time: Some(wall),
                lease_transitions: Some(0),
                ..Default::default()
            }),
        };
        match self.api.create(&PostParams::default(), &lease).await {
            Ok(written) => {
                self.remember_own_write(&written);
                Ok(Attempt::Leading)
            }
            // Someone created it between our get and our create: they won this round.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Attempt::Following { holder: None }),
            Err(e) => Err(self.api_error("create", e)),
        }
    }

    fn remember_own_write(&mut self, written: &Lease) {
        self.observed = Some(Observed {
            resource_version: written.metadata.resource_version.clone().unwrap_or_default(),
            holder: Some(self.config.identity.clone()),
            duration: self.config.duration,
            at: clock::timer_now(),
        });
    }

    /// Graceful exit: stop acting first, then clear the holder if it is still us.
    async fn release(&mut self, tx: &watch::Sender<bool>) -> Result<(), LeaseError> {
        set(tx, false);
        let held = self
            .observed
            .as_ref()
            .is_some_and(|o| o.holder.as_deref() == Some(&self.config.identity));
        if !held {
            return Ok(());
        }
        let name = self.config.name.clone();
        let Some(mut lease) = self
            .api
            .get_opt(&name)
            .await
            .map_err(|e| self.api_error("get", e))?
        else {
            return Ok(());
        };
        let mut spec = lease.spec.take().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.acquire_time = None;
        spec.renew_time = Some(now_micro());
        lease.spec = Some(spec);
        match self.api.replace(&name, &PostParams::default(), &lease).await {
            Ok(_) => {
                tracing::info!(lease = %self.lease(), "Released the lease.");
                Ok(())
            }
            // Changed under us: someone else already holds it, nothing left to release.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(self.api_error("release", e)),
        }
    }
}

/// Sets leadership to false when the election task ends in any way, so a receiver that only
/// reads the value (not whether the sender is alive) never keeps acting on a dead election.
struct StepDownOnExit(watch::Sender<bool>);

impl Drop for StepDownOnExit {
    fn drop(&mut self) {
        self.0.send_replace(false);
    }
}

/// Publishes `leading` only when it differs, so receivers wake on changes and not on renewals.
/// Returns whether it changed.
fn set(tx: &watch::Sender<bool>, leading: bool) -> bool {
    tx.send_if_modified(|v| std::mem::replace(v, leading) != leading)
}

/// Resolves at `deadline`, or never when there is none.
async fn lapse(deadline: Option<Instant>) {
    match deadline {
        Some(d) => sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The wall clock as the API's MicroTime (written for humans and other tools; never compared).
fn now_micro() -> MicroTime {
    let micros = (SystemClock.now() * 1e6) as i64;
    MicroTime(Timestamp::from_microsecond(micros).unwrap_or(Timestamp::UNIX_EPOCH))
}
