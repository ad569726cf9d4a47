//! Fluent fixtures for decision-core tests: a policy and snapshots that read like the situation
//! they describe (`Fixture::healthy(6).instance_down("vm-2")`).
#![allow(dead_code)]

use sloop::{
    policy::{Policy, units::Timestamp},
    snapshot::*,
};
use std::collections::BTreeMap;

/// The election-web policy as shipped.
pub fn election_policy() -> Policy {
    let bytes = include_bytes!("../../policies/election-web.yaml");
    sloop::policy::parse("policies/election-web.yaml", bytes).expect("shipped policy is valid")
}

/// An instant well outside the policy's scheduled peak.
pub fn quiet_noon() -> Time {
    "2026-06-01T12:00:00+02:00".parse::<Timestamp>().unwrap().unix()
}

pub const LOCATIONS: [&str; 4] = ["local", "fra", "ams", "nyc"];
pub const INSTANCE_LOCATIONS: [&str; 2] = ["local", "fra"];
pub const MU: f64 = 100.0;

/// Builder for a snapshot of a group behind the election-web policy.
#[derive(Clone)]
pub struct Fixture {
    pub now: Time,
    pub n: usize,
    pub hosts: usize,
    pub base_latency: f64,
    pub latency: BTreeMap<(String, IpFamily), f64>,
    pub failing_service: Vec<(String, IpFamily)>,
    pub down: BTreeMap<String, Vec<String>>,
    pub slow: BTreeMap<String, f64>,
    pub util: f64,
    pub load: Option<f64>,
    pub cpu_missing: bool,
    pub steal: BTreeMap<String, f64>,
    pub stale: Vec<String>,
    pub error_status: Vec<String>,
    pub spikes: usize,
    /// Instances not (yet) in the load balancer's pool: new servers waiting to be admitted.
    pub outside_pool: Vec<String>,
    /// Instances live-migrated by sloop: (from host, to host, seconds ago), with the
    /// migration stamp (`sloop.migrated`) that says so on the server.
    pub migrated: BTreeMap<String, (String, String, f64)>,
    /// Instances Nova reports SHUTOFF.
    pub shutoff_status: Vec<String>,
    /// Instances whose member is drained (weight 0).
    pub drained: Vec<String>,
    /// Hosts whose compute service the hypervisor listing reports down (the listing is only
    /// in the snapshot when some host is set here).
    pub dead_hosts: Vec<String>,
    /// Servers sloop created that ended in ERROR before serving: (id, Nova's fault message).
    pub failed_creates: Vec<(String, String)>,
    /// Replacements sloop created (`sloop.replaces`): (new id, replaced id, host, in the pool).
    pub replacements: Vec<(String, String, String, bool)>,
    /// Pool members whose server is gone: (server id, address).
    pub orphans: Vec<(String, String)>,
    /// Instances Nova is deleting (their member, if any, keeps its weight).
    pub deleting: Vec<String>,
    /// Share of every server's direct probes that fail (drops and timeouts of a busy group),
    /// spread over the window.
    pub busy: f64,
    /// Servers whose busy failures came last, in a row (so they look unhealthy).
    pub streaking: Vec<String>,
    /// Servers ACTIVE for the given seconds that have not answered yet (booting).
    pub booting: BTreeMap<String, f64>,
    /// Per-server CPU utilisation where it differs from the group's (a dead process idles).
    pub cpu: BTreeMap<String, f64>,
}

impl Fixture {
    /// `n` healthy instances at 50 % utilisation on three hosts, fast from everywhere.
    pub fn healthy(n: usize) -> Self {
        Self {
            now: quiet_noon(),
            n,
            hosts: 3,
            base_latency: 0.12,
            latency: BTreeMap::new(),
            failing_service: Vec::new(),
            down: BTreeMap::new(),
            slow: BTreeMap::new(),
            util: 0.5,
            load: Some(n as f64 * MU * 0.5),
            cpu_missing: false,
            steal: BTreeMap::new(),
            stale: Vec::new(),
            error_status: Vec::new(),
            spikes: 0,
            outside_pool: Vec::new(),
            migrated: BTreeMap::new(),
            shutoff_status: Vec::new(),
            drained: Vec::new(),
            dead_hosts: Vec::new(),
            failed_creates: Vec::new(),
            replacements: Vec::new(),
            orphans: Vec::new(),
            deleting: Vec::new(),
            busy: 0.0,
            streaking: Vec::new(),
            booting: BTreeMap::new(),
            cpu: BTreeMap::new(),
        }
    }
    /// `id`'s CPU reads `u` (0..1) instead of the group's utilisation.
    pub fn cpu_of(mut self, id: &str, u: f64) -> Self {
        self.cpu.insert(id.into(), u);
        self
    }
    /// The whole group is busy: `share` of every server's direct probes fail, `streaking`
    /// ones have theirs last, in a row.
    pub fn busy(mut self, share: f64, streaking: &[&str]) -> Self {
        self.busy = share;
        self.streaking = streaking.iter().map(|s| s.to_string()).collect();
        self
    }
    /// `id` became ACTIVE `secs` ago and has refused every probe since (it is booting).
    pub fn booting(mut self, id: &str, secs: f64) -> Self {
        self.booting.insert(id.into(), secs);
        self
    }
    /// Nova reports `id` SHUTOFF.
    pub fn instance_shutoff(mut self, id: &str) -> Self {
        self.shutoff_status.push(id.into());
        self
    }
    /// `id`'s member has weight 0.
    pub fn drained(mut self, id: &str) -> Self {
        self.drained.push(id.into());
        self
    }
    /// The compute service of `host` is down in the hypervisor listing.
    pub fn host_down(mut self, host: &str) -> Self {
        self.dead_hosts.push(host.into());
        self
    }
    /// A server sloop created (action key `key`) ended in ERROR with `fault` before it served.
    pub fn failed_create(mut self, id: &str, fault: &str) -> Self {
        self.failed_creates.push((id.into(), fault.into()));
        self
    }
    /// The pool has a member at `address` for server `server`, which is gone.
    pub fn orphan_member(mut self, server: &str, address: &str) -> Self {
        self.orphans.push((server.into(), address.into()));
        self
    }
    /// Nova is deleting `id`.
    pub fn deleting(mut self, id: &str) -> Self {
        self.deleting.push(id.into());
        self
    }
    /// `new` is an ACTIVE replacement of `old` on `host`, in the pool when `serving`.
    pub fn replacement(mut self, new: &str, old: &str, host: &str, serving: bool) -> Self {
        self.replacements
            .push((new.into(), old.into(), host.into(), serving));
        self
    }
    /// `id` was moved off `from` to `to` `secs_ago`, and carries the stamp of that migration.
    pub fn migrated_off(mut self, id: &str, from: &str, to: &str, secs_ago: f64) -> Self {
        self.migrated
            .insert(id.into(), (from.into(), to.into(), secs_ago));
        self
    }
    /// `id` is a new server that has not joined the pool yet.
    pub fn outside_pool(mut self, id: &str) -> Self {
        self.outside_pool.push(id.into());
        self
    }
    pub fn at(mut self, now: Time) -> Self {
        self.now = now;
        self
    }
    /// Every service probe from everywhere answers in `secs`.
    pub fn all_slow(mut self, secs: f64) -> Self {
        self.base_latency = secs;
        self
    }
    pub fn slow_from(mut self, loc: &str, fam: IpFamily, secs: f64) -> Self {
        self.latency.insert((loc.into(), fam), secs);
        self
    }
    pub fn failing_from(mut self, loc: &str, fam: IpFamily) -> Self {
        self.failing_service.push((loc.into(), fam));
        self
    }
    /// The instance fails its direct probes from `locs`.
    pub fn instance_down_from(mut self, id: &str, locs: &[&str]) -> Self {
        self.down
            .insert(id.into(), locs.iter().map(|s| s.to_string()).collect());
        self
    }
    pub fn instance_down(self, id: &str) -> Self {
        self.instance_down_from(id, &INSTANCE_LOCATIONS)
    }
    pub fn instance_slow(mut self, id: &str, factor: f64) -> Self {
        self.slow.insert(id.into(), factor);
        self
    }
    pub fn instance_error(mut self, id: &str) -> Self {
        self.error_status.push(id.into());
        self
    }
    pub fn util(mut self, u: f64) -> Self {
        self.util = u;
        self.load = Some(self.n as f64 * MU * u);
        self
    }
    pub fn load(mut self, rps: f64) -> Self {
        self.load = Some(rps);
        self
    }
    pub fn without_cpu(mut self) -> Self {
        self.cpu_missing = true;
        self
    }
    pub fn host_steal(mut self, host: &str, pct: f64) -> Self {
        self.steal.insert(host.into(), pct);
        self
    }
    pub fn stale(mut self, loc: &str) -> Self {
        self.stale.push(loc.into());
        self
    }
    /// A few slow outliers in the latest samples of every series.
    pub fn spikes(mut self, k: usize) -> Self {
        self.spikes = k;
        self
    }

    pub fn id(i: usize) -> String {
        format!("vm-{i}")
    }
    pub fn host_of(&self, i: usize) -> String {
        format!("h{}", i % self.hosts)
    }

    pub fn build(&self) -> Snapshot {
        let now = self.now;
        let mut snap = Snapshot {
            observed_at: now,
            ..Snapshot::default()
        };
        for i in 0..self.n {
            let id = Self::id(i);
            snap.inventory.push(Instance {
                id: id.clone(),
                name: id.clone(),
                status: if self.error_status.contains(&id) {
                    InstanceStatus::Error
                } else if self.shutoff_status.contains(&id) {
                    InstanceStatus::Shutoff
                } else if self.deleting.contains(&id) {
                    InstanceStatus::Deleting
                } else {
                    InstanceStatus::Active
                },
                host: Some(match self.migrated.get(&id) {
                    Some((_, to, _)) => to.clone(),
                    None => self.host_of(i),
                }),
                addresses: vec![(IpFamily::V6, format!("2001:db8::{i}"))],
                created_at: now - 7200.0 + i as f64,
                active_since: Some(match self.booting.get(&id) {
                    Some(secs) => now - secs,
                    None => now - 7000.0 + i as f64,
                }),
                member: (!self.outside_pool.contains(&id)).then_some(LbMember {
                    weight: if self.drained.contains(&id) { 0 } else { 1 },
                    admin_up: true,
                    online: true,
                    error: false,
                }),
                created_by: None,
                stamps: self.migrated.get(&id).map(|(from, _, ago)| RepairStamps {
                    migrated: Some((now - ago).floor()),
                    migrated_from: Some(HostDigest::of(from)),
                    ..RepairStamps::default()
                }),
                fault: None,
                replaces: None,
            });
            let mut cpu = BTreeMap::new();
            cpu.insert(
                "cpu".to_string(),
                Reading {
                    value: (!self.cpu_missing).then_some(self.cpu.get(&id).copied().unwrap_or(self.util)),
                    at: Some(now),
                },
            );
            snap.telemetry.instances.insert(id.clone(), cpu);
            for (l, loc) in INSTANCE_LOCATIONS.into_iter().enumerate() {
                // A path that fails for the service fails for the servers behind it too.
                let down = self.down.get(&id).is_some_and(|l| l.iter().any(|x| x == loc))
                    || self.booting.contains_key(&id)
                    || self.failing_service.contains(&(loc.to_string(), IpFamily::V6));
                let factor = self.slow.get(&id).copied().unwrap_or(1.0);
                let busy_failures = (self.busy * 12.0).round() as usize;
                let streak = self.streaking.contains(&id);
                let busy_fails = |k: usize| {
                    if streak {
                        k >= 12 - busy_failures
                    } else {
                        (k * 7 + i * 5 + l * 3) % 12 < busy_failures && k != 11
                    }
                };
                let recent: Vec<Sample> = (0..12)
                    .map(|k| {
                        let jitter = 0.004 * ((k * 7 + i * 3) % 11) as f64;
                        let failed = down || busy_fails(k);
                        Sample {
                            at: now - 60.0 + 5.0 * k as f64,
                            latency: if failed { 1.0 } else { (0.04 + jitter) * factor },
                            ok: !failed,
                            phases: None,
                        }
                    })
                    .collect();
                let trailing = recent.iter().rev().take_while(|x| !x.ok).count() as u32;
                snap.instances_probed.push(InstanceSeries {
                    instance: id.clone(),
                    key: SeriesKey {
                        probe: "instance".into(),
                        location: loc.into(),
                        family: IpFamily::V6,
                    },
                    consecutive_failures: trailing,
                    recent,
                });
            }
        }
        for (h, pct) in &self.steal {
            let mut m = BTreeMap::new();
            m.insert(
                "compute.node.cpu.steal.percent".to_string(),
                Reading {
                    value: Some(*pct),
                    at: Some(now),
                },
            );
            snap.telemetry.hypervisors.insert(h.clone(), m);
        }
        for h in 0..self.hosts {
            let host = format!("h{h}");
            snap.telemetry.hypervisors.entry(host).or_insert_with(|| {
                let mut m = BTreeMap::new();
                m.insert(
                    "compute.node.cpu.steal.percent".to_string(),
                    Reading {
                        value: Some(1.0),
                        at: Some(now),
                    },
                );
                m
            });
        }
        for loc in LOCATIONS {
            snap.locations.push(LocationStatus {
                name: loc.into(),
                fresh: !self.stale.iter().any(|s| s == loc),
                last_seen: Some(now),
            });
            for fam in [IpFamily::V6, IpFamily::V4] {
                let key = (loc.to_string(), fam);
                let failing = self.failing_service.contains(&key);
                let base = self.latency.get(&key).copied().unwrap_or(self.base_latency);
                let recent: Vec<Sample> = (0..30)
                    .map(|k| {
                        let jitter = 1.0 + 0.1 * ((k * 13 + loc.len()) % 7) as f64 / 7.0;
                        let spike = k >= 30 - self.spikes;
                        Sample {
                            at: now - 295.0 + 10.0 * k as f64,
                            latency: if spike {
                                3.0
                            } else if failing {
                                2.0
                            } else {
                                base * jitter
                            },
                            ok: !failing && !spike,
                            phases: None,
                        }
                    })
                    .collect();
                let bad = if failing { 30 } else { self.spikes as u64 };
                let counts = [300.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0, 259200.0]
                    .iter()
                    .map(|w| {
                        let total = (*w / 10.0) as u64;
                        WindowCount {
                            window: *w,
                            good: total - bad.min(total),
                            total,
                        }
                    })
                    .collect();
                snap.service.push(ServiceSeries {
                    key: SeriesKey {
                        probe: "site".into(),
                        location: loc.into(),
                        family: fam,
                    },
                    recent,
                    counts,
                });
            }
        }
        for (k, (id, fault)) in self.failed_creates.iter().enumerate() {
            snap.inventory.push(Instance {
                id: id.clone(),
                name: id.clone(),
                status: InstanceStatus::Error,
                host: None,
                addresses: Vec::new(),
                created_at: now - 30.0,
                active_since: None,
                member: None,
                created_by: Some(format!("election-web-{}-{k}/0", (now - 30.0) as i64)),
                stamps: None,
                fault: Some(fault.clone()),
                replaces: None,
            });
        }
        for (k, (id, old, host, serving)) in self.replacements.iter().enumerate() {
            snap.inventory.push(Instance {
                id: id.clone(),
                name: id.clone(),
                status: InstanceStatus::Active,
                host: Some(host.clone()),
                addresses: vec![(IpFamily::V6, format!("2001:db8::f{k}"))],
                created_at: now - 20.0,
                active_since: Some(now - 10.0),
                member: serving.then_some(LbMember {
                    weight: 1,
                    admin_up: true,
                    online: true,
                    error: false,
                }),
                created_by: Some(format!("election-web-{}-{k}/0", (now - 20.0) as i64)),
                stamps: None,
                fault: None,
                replaces: Some(old.clone()),
            });
        }
        snap.orphan_members = self
            .orphans
            .iter()
            .map(|(server, address)| sloop::snapshot::OrphanMember {
                server: server.clone(),
                address: address.clone(),
                weight: 1,
            })
            .collect();
        if !self.dead_hosts.is_empty() {
            snap.hosts = Hosts::Listed {
                hosts: (0..self.hosts)
                    .map(|h| {
                        let name = format!("h{h}");
                        Host {
                            up: !self.dead_hosts.contains(&name),
                            node: name.clone(),
                            name,
                            enabled: true,
                            running_vms: None,
                            vcpus_used: None,
                            vcpus: None,
                            memory_used_mb: None,
                            memory_mb: None,
                        }
                    })
                    .collect(),
            };
        }
        snap.load = self.load.map(|requests| sloop::snapshot::LoadSignal {
            requests,
            errors: None,
            bytes_in: None,
            bytes_out: None,
            source: sloop::snapshot::LoadSource::Octavia,
            at: self.now,
            covers: 10.0,
        });
        snap
    }
}
