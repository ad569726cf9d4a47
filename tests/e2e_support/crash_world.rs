//! The crash test's view of the lab, read with an admin client of its own (never through the
//! controller under test): the invariants that must hold after any kill, the state each phase
//! must converge to.

use super::lab;
use serde_json::Value;
use sloop::{
    act::executor::{ACTION_KEY, POLICY_KEY},
    cloud::openstack::session::{Api, Request, Service},
    policy::{self, Policy},
};
use std::collections::BTreeMap;

const ADMIN: &str = "oslab-admin-appcred";

/// What a phase must end in: exactly `size` servers of the group, ACTIVE, running and idle,
/// each with one ACTIVE pool member of weight 1.
pub struct Expect {
    size: usize,
}

impl Expect {
    pub fn size(size: usize) -> Self {
        Self { size }
    }
}

/// Kills and what they interrupted; invariant violations (each must stay empty).
#[derive(Default)]
pub struct Tally {
    pub kills: usize,
    pub by_phase: BTreeMap<String, usize>,
    /// Kills after which the cloud still had work under way (servers or members mid-change).
    pub mid_action: usize,
    pub violations: Vec<String>,
}

impl Tally {
    pub fn kill(&mut self, phase: &str, at: f64, busy: &[String]) {
        self.kills += 1;
        *self.by_phase.entry(phase.to_owned()).or_default() += 1;
        if !busy.is_empty() {
            self.mid_action += 1;
        }
        println!("  kill -9 in {phase} at {at:.1}s; the cloud was busy with: {busy:?}");
    }

    pub fn summary(&self) -> String {
        format!(
            "{} with work under way on the cloud, by phase {:?}; violations {}",
            self.mid_action,
            self.by_phase,
            self.violations.len()
        )
    }
}

/// The lab as the crash test sees it.
pub struct World {
    pub api: Api,
    policy: Policy,
    pool: String,
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

impl World {
    pub async fn new() -> Self {
        Self::for_policy("lab-crash.yaml").await
    }

    /// The lab as seen for the policy in `tests/data/e2e/FILE`.
    pub async fn for_policy(file: &str) -> Self {
        let path = lab::policy_path().with_file_name(file);
        let policy = policy::load_file(&path)
            .unwrap_or_else(|e| panic!("{file} is valid: {e:?}"))
            .policy;
        let mut api = lab::api(ADMIN).await;
        let (_lb, pool) = lab::ensure_pool(&mut api, &policy).await;
        Self { api, policy, pool }
    }

    pub async fn clean(&mut self) {
        lab::clean(&mut self.api, &self.policy, Some(&self.pool)).await;
        lab::cool_hosts(&mut self.api).await;
    }

    pub async fn servers(&mut self) -> Vec<Value> {
        lab::group_servers(&mut self.api, &self.policy).await
    }

    /// Everything of the project that carries this policy's mark, selected by the group or not.
    async fn marked(&mut self) -> Vec<Value> {
        let v = self
            .api
            .call(&Request::get(Service::Compute, &["servers", "detail"]))
            .await
            .expect("list servers");
        let name = self.policy.metadata.name.clone();
        v["servers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s["metadata"][POLICY_KEY].as_str() == Some(name.as_str()))
            .collect()
    }

    /// Work under way on the cloud right now (servers not idle, members not ACTIVE).
    pub async fn busy(&mut self) -> Vec<String> {
        let mut out: Vec<String> = self
            .servers()
            .await
            .iter()
            .filter(|v| s(v, "status") != "ACTIVE" || !v["OS-EXT-STS:task_state"].is_null())
            .map(|v| {
                format!(
                    "server {} {}/{}",
                    s(v, "id"),
                    s(v, "status"),
                    v["OS-EXT-STS:task_state"]
                )
            })
            .collect();
        out.extend(
            lab::members(&mut self.api, &self.pool)
                .await
                .iter()
                .filter(|m| s(m, "provisioning_status") != "ACTIVE" || m["weight"] != 1)
                .map(|m| {
                    format!(
                        "member {} {} weight {}",
                        s(m, "name"),
                        s(m, "provisioning_status"),
                        m["weight"]
                    )
                }),
        );
        out
    }

    /// The invariants that hold at any instant: no duplicate, no orphan, no dangling member.
    pub async fn check(&mut self, when: &str, tally: &mut Tally) {
        let marked = self.marked().await;
        let mut keys: BTreeMap<&str, usize> = BTreeMap::new();
        for v in &marked {
            *keys
                .entry(v["metadata"][ACTION_KEY].as_str().unwrap_or("-"))
                .or_default() += 1;
            let selected = self
                .policy
                .spec
                .group
                .selector
                .iter()
                .all(|(k, val)| v["metadata"][k].as_str() == Some(val));
            if !selected {
                tally.violations.push(format!(
                    "{when}: orphan {} (the policy's, not the group's)",
                    s(v, "id")
                ));
            }
        }
        for (k, n) in keys {
            if n > 1 {
                tally
                    .violations
                    .push(format!("{when}: {n} servers for action key {k}"));
            }
        }
        let live: Vec<&str> = marked
            .iter()
            .filter(|v| s(v, "OS-EXT-STS:task_state") != "deleting" && s(v, "status") != "DELETED")
            .map(|v| s(v, "id"))
            .collect();
        for m in lab::members(&mut self.api, &self.pool).await {
            if !live.contains(&s(&m, "name")) {
                tally.violations.push(format!(
                    "{when}: member {} ({}) points at a server that is gone or being deleted",
                    s(&m, "id"),
                    s(&m, "address")
                ));
            }
        }
    }

    /// Whether the group is in the expected state; why not, if not.
    pub async fn converged(&mut self, e: &Expect) -> Result<(), String> {
        let servers = self.servers().await;
        if servers.len() != e.size {
            return Err(format!("{} servers, want {}", servers.len(), e.size));
        }
        for v in &servers {
            let (status, power) = (s(v, "status"), &v["OS-EXT-STS:power_state"]);
            if status != "ACTIVE" || !v["OS-EXT-STS:task_state"].is_null() || power != 1 {
                return Err(format!(
                    "server {} is {status}/{} power {power}",
                    s(v, "id"),
                    v["OS-EXT-STS:task_state"]
                ));
            }
        }
        let members = lab::members(&mut self.api, &self.pool).await;
        if members.len() != e.size {
            return Err(format!("{} members, want {}", members.len(), e.size));
        }
        for m in &members {
            let mine = servers.iter().any(|v| s(v, "id") == s(m, "name"));
            if !mine
                || m["weight"] != 1
                || s(m, "provisioning_status") != "ACTIVE"
                || m["admin_state_up"] != true
            {
                return Err(format!("member {m}"));
            }
        }
        Ok(())
    }
}
