//! The observe stage: one [`Collector`] turns a backend's capabilities ([`Sources`]) and the run
//! loop's probes into the [`Snapshot`] the decision core judges. Every backend goes through it:
//! the simulator (`sloop rehearse`, `sloop run --cloud sim`, the benches), a real OpenStack
//! cloud (`sloop run --cloud NAME`) and a one-off `sloop plan`.
//!
//! ```text
//! Inventory::list ──► TelemetrySource::readings ──► LoadSource::load ──► Inventory::hosts
//!        │ (its `at` stamps the snapshot)
//!        ▼
//! cloud's ProbeSource ─┐
//! run loop's Probes ───┴─► series + heartbeats ─► the freshness rule ─► Snapshot
//! ```
//!
//! # The freshness rule (the only one)
//!
//! A probe location's `last_seen` is the newest of: a sample from it in any series (service or
//! per-instance, from any source), and its sources' heartbeats (an agent's batch, empty ones
//! included; `now` for the controller's own engine while it runs, because every attempt it
//! makes ends in a sample, so it is never silent). The location is **fresh** when
//! `now − last_seen ≤ stale_after`, with
//!
//! ```text
//! stale_after = max(3 × the policy's shortest probe interval, floor)
//! ```
//!
//! where `floor` is the agents' `stale_after` when agents report (their batches are the
//! heartbeat), else [`STALE_FLOOR`]. Every location the policy's probes name is listed, in
//! first-mention order, with its freshness and `last_seen`. A stale location's series are left
//! out of the snapshot, so nothing downstream can take an agent that went silent for a service
//! that went down.

use super::{
    ObserveError,
    sources::{ProbeSource, Sources},
    view::{ProbeView, policy_locations, windows},
};
use crate::{
    policy::Policy,
    snapshot::{InstanceSeries, LocationStatus, ServiceSeries, Snapshot, Time},
};

/// The staleness floor (s) when no source sets its own: the agents' default `stale_after`.
pub const STALE_FLOOR: f64 = 30.0;

/// What the observe stage needs to know of a policy: the windows its objectives read, the
/// locations its probes name and their shortest interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Collector {
    latency_windows: Vec<f64>,
    count_windows: Vec<f64>,
    locations: Vec<String>,
    shortest_interval: f64,
}

impl Collector {
    /// The observe stage for `policy` (rebuild it when the policy changes).
    pub fn new(policy: &Policy) -> Self {
        let (latency_windows, count_windows) = windows(policy);
        Self {
            latency_windows,
            count_windows,
            locations: policy_locations(policy).into_iter().map(str::to_owned).collect(),
            shortest_interval: policy
                .spec
                .probes
                .iter()
                .map(|p| p.interval.secs())
                .fold(f64::INFINITY, f64::min),
        }
    }

    /// How long a location may stay silent before it is stale, with `floor` as the least.
    pub fn stale_after(&self, floor: f64) -> f64 {
        (3.0 * self.shortest_interval).max(floor)
    }

    /// One observation: the cloud's inventory, telemetry, load and hosts (in that order, the
    /// only IO), then the probe series of the cloud's own probes and `probes` under the
    /// freshness rule. Fails only when the inventory cannot be listed.
    pub async fn collect<C, P>(&self, cloud: &mut C, probes: &P, now: Time) -> Result<Snapshot, ObserveError>
    where
        C: Sources + Send,
        P: ProbeSource + Sync,
    {
        let listing = cloud.list(now).await?;
        let at = listing.at;
        // The probe view at `at` is taken right after the listing, before the slower calls: an
        // instance series keeps only its last few samples, so a view taken once a slow cloud
        // has answered the telemetry, load and host calls (tens of seconds on a loaded lab)
        // would find every retained sample newer than `at`, and no server would ever be
        // admitted for want of a passing probe.
        let view = self.probe_view(&[&*cloud as &dyn ProbeSource, probes as &dyn ProbeSource], at);
        let telemetry = cloud.readings(&listing, at).await;
        let load = cloud.load(at).await;
        let hosts = cloud.hosts(at).await;
        Ok(Snapshot {
            observed_at: at,
            service: view.service,
            instances_probed: view.instances_probed,
            locations: view.locations,
            telemetry,
            inventory: listing.instances,
            in_flight: listing.in_flight,
            load,
            hosts,
            orphan_members: listing.orphan_members,
        })
    }

    /// The probe part of a snapshot at `now` from `sources`, under the freshness rule.
    pub fn probe_view(&self, sources: &[&dyn ProbeSource], now: Time) -> ProbeView {
        let (mut service, mut instances) = (Vec::new(), Vec::new());
        let mut floor: Option<f64> = None;
        for s in sources {
            let (sv, inst) = s.summaries(&self.latency_windows, &self.count_windows, now);
            service.extend(sv);
            instances.extend(inst);
            if let Some(f) = s.stale_floor() {
                floor = Some(floor.map_or(f, |g| g.max(f)));
            }
        }
        let heartbeat = |location: &str| {
            sources
                .iter()
                .filter_map(|s| s.heartbeat(location, now))
                .reduce(f64::max)
        };
        let stale_after = self.stale_after(floor.unwrap_or(STALE_FLOOR));
        fresh_only(&self.locations, stale_after, service, instances, heartbeat, now)
    }
}

/// The freshness rule over assembled series (see the module doc): lists `locations` with their
/// freshness and keeps only the series of locations not listed as stale.
pub fn fresh_only(
    locations: &[String],
    stale_after: f64,
    mut service: Vec<ServiceSeries>,
    mut instances: Vec<InstanceSeries>,
    heartbeat: impl Fn(&str) -> Option<Time>,
    now: Time,
) -> ProbeView {
    let mut seen: Vec<Option<Time>> = locations.iter().map(|l| heartbeat(l)).collect();
    let newest = service
        .iter()
        .map(|s| (&s.key.location, s.recent.last()))
        .chain(instances.iter().map(|s| (&s.key.location, s.recent.last())));
    for (location, last) in newest {
        let (Some(i), Some(sample)) = (locations.iter().position(|l| **l == **location), last) else {
            continue;
        };
        seen[i] = Some(seen[i].map_or(sample.at, |t| t.max(sample.at)));
    }
    let locations: Vec<LocationStatus> = locations
        .iter()
        .zip(seen)
        .map(|(name, last_seen)| LocationStatus {
            name: name.clone(),
            fresh: last_seen.is_some_and(|t| now - t <= stale_after),
            last_seen,
        })
        .collect();
    let stale = |location: &str| locations.iter().any(|l| l.name == location && !l.fresh);
    service.retain(|s| !stale(&s.key.location));
    instances.retain(|s| !stale(&s.key.location));
    ProbeView {
        service,
        instances_probed: instances,
        locations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{IpFamily, Sample, SeriesKey};

    const NOW: Time = 1000.0;

    /// A probe source the case fills: series with one sample each, and heartbeats.
    #[derive(Default)]
    struct Fake {
        service: Vec<(&'static str, Time)>,
        instances: Vec<(&'static str, Time)>,
        heartbeats: Vec<(&'static str, Time)>,
        floor: Option<f64>,
    }

    fn key(location: &str) -> SeriesKey {
        SeriesKey {
            probe: "site".into(),
            location: location.into(),
            family: IpFamily::V6,
        }
    }

    fn sample(at: Time) -> Vec<Sample> {
        vec![Sample {
            at,
            latency: 0.01,
            ok: true,
            phases: None,
        }]
    }

    impl ProbeSource for Fake {
        fn summaries(&self, _: &[f64], _: &[f64], _: Time) -> (Vec<ServiceSeries>, Vec<InstanceSeries>) {
            let service = self.service.iter().map(|(l, at)| ServiceSeries {
                key: key(l),
                recent: sample(*at),
                counts: Vec::new(),
            });
            let instances = self.instances.iter().map(|(l, at)| InstanceSeries {
                instance: "vm-1".into(),
                key: key(l),
                consecutive_failures: 0,
                recent: sample(*at),
            });
            (service.collect(), instances.collect())
        }
        fn heartbeat(&self, location: &str, _: Time) -> Option<Time> {
            self.heartbeats
                .iter()
                .find(|(l, _)| *l == location)
                .map(|(_, t)| *t)
        }
        fn stale_floor(&self) -> Option<f64> {
            self.floor
        }
    }

    fn election() -> Policy {
        let text = include_str!("../../policies/election-web.yaml");
        crate::policy::parse("election-web.yaml", text.as_bytes()).expect("the shipped policy is valid")
    }

    struct Case {
        name: &'static str,
        why: &'static str,
        source: Fake,
        location: &'static str,
        fresh: bool,
        last_seen: Option<Time>,
        series_kept: usize,
    }

    #[test]
    fn one_freshness_rule_for_every_location() {
        // election-web: shortest probe interval 5 s, so the limit is max(15 s, floor).
        let cases = [
            Case {
                name: "a recent sample",
                why: "a location speaks through its newest sample",
                source: Fake {
                    service: vec![("fra", NOW - 20.0)],
                    ..Fake::default()
                },
                location: "fra",
                fresh: true,
                last_seen: Some(NOW - 20.0),
                series_kept: 1,
            },
            Case {
                name: "silent past the floor",
                why: "31 s of silence is past 30 s: listed stale, its series left out",
                source: Fake {
                    service: vec![("ams", NOW - 31.0)],
                    instances: vec![("ams", NOW - 40.0)],
                    ..Fake::default()
                },
                location: "ams",
                fresh: false,
                last_seen: Some(NOW - 31.0),
                series_kept: 0,
            },
            Case {
                name: "a per-instance sample",
                why: "per-instance series are evidence as much as service series",
                source: Fake {
                    service: vec![("fra", NOW - 50.0)],
                    instances: vec![("fra", NOW - 3.0)],
                    ..Fake::default()
                },
                location: "fra",
                fresh: true,
                last_seen: Some(NOW - 3.0),
                series_kept: 2,
            },
            Case {
                name: "a heartbeat without samples",
                why: "an agent's empty batch says it is alive and has nothing due",
                source: Fake {
                    heartbeats: vec![("nyc", NOW - 5.0)],
                    ..Fake::default()
                },
                location: "nyc",
                fresh: true,
                last_seen: Some(NOW - 5.0),
                series_kept: 0,
            },
            Case {
                name: "never heard from",
                why: "no sample and no heartbeat: stale, and no time to show",
                source: Fake::default(),
                location: "nyc",
                fresh: false,
                last_seen: None,
                series_kept: 0,
            },
            Case {
                name: "a source's own floor",
                why: "the agents' stale_after (here 60 s) widens the limit",
                source: Fake {
                    service: vec![("ams", NOW - 31.0)],
                    floor: Some(60.0),
                    ..Fake::default()
                },
                location: "ams",
                fresh: true,
                last_seen: Some(NOW - 31.0),
                series_kept: 1,
            },
        ];
        let collector = Collector::new(&election());
        for c in cases {
            let view = collector.probe_view(&[&c.source], NOW);
            let names: Vec<&str> = view.locations.iter().map(|l| l.name.as_str()).collect();
            assert_eq!(names, ["local", "fra", "ams", "nyc"], "{}: {}", c.name, c.why);
            let l = view
                .locations
                .iter()
                .find(|l| l.name == c.location)
                .expect("listed");
            assert_eq!(
                (l.fresh, l.last_seen),
                (c.fresh, c.last_seen),
                "{}: {}",
                c.name,
                c.why
            );
            let kept = view.service.len() + view.instances_probed.len();
            assert_eq!(kept, c.series_kept, "{}: {}", c.name, c.why);
        }
    }

    #[test]
    fn heartbeats_and_samples_of_several_sources_merge() {
        let cloud = Fake {
            service: vec![("fra", NOW - 40.0)],
            ..Fake::default()
        };
        let run_loop = Fake {
            heartbeats: vec![("fra", NOW - 2.0), ("local", NOW)],
            ..Fake::default()
        };
        let view = Collector::new(&election()).probe_view(&[&cloud, &run_loop], NOW);
        let fra = view.locations.iter().find(|l| l.name == "fra").expect("listed");
        assert!(fra.fresh && fra.last_seen == Some(NOW - 2.0), "{fra:?}");
        assert_eq!(
            view.service.len(),
            1,
            "the cloud's fra series counts once fra is fresh"
        );
        assert!(
            view.locations
                .iter()
                .find(|l| l.name == "local")
                .is_some_and(|l| l.fresh)
        );
    }
}
