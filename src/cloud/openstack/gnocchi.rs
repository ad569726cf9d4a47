//! Ceilometer metrics from Gnocchi: one `POST aggregates?groupby=…` per metric for all the
//! group's instances (or hypervisors) at once. `cpu` is a cumulative counter in nanoseconds, so
//! it is read as `rate:mean` and turned into utilisation (ns per period / period / vCPUs), as the
//! removal of `cpu_util` in Stein requires. A series without a point inside the staleness limit
//! is reported as missing, never as zero.

use super::{
    errors::{ApiError, ErrorClass},
    nova::parse_time,
    readings::{self, Latest},
    session::{Api, Request, Service},
};
use crate::{
    policy::{Aggregation, MetricScope, MetricSpec},
    snapshot::{TelemetryReadings, Time},
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The Gnocchi operation for `spec`: rate aggregations are computed from the stored mean or
/// max, so they work with any archive policy that keeps those.
pub fn operation(spec: &MetricSpec) -> String {
    let (agg, stored) = match spec.aggregation {
        Aggregation::Mean => ("mean", "mean"),
        Aggregation::Max => ("max", "max"),
        Aggregation::RateMean => ("rate:mean", "mean"),
        Aggregation::RateMax => ("rate:max", "max"),
    };
    format!("(aggregate {agg} (metric {} {stored}))", spec.name)
}

/// The latest point of one aggregated series, as (time, value). Gnocchi stamps a point with the
/// start of its period; we stamp it with the end, when the value was complete.
pub fn latest(points: &Value) -> Option<(Time, f64)> {
    points.as_array()?.iter().rev().find_map(|p| {
        let start = parse_time(p.get(0)?.as_str()?).ok()?;
        let granularity = p.get(1)?.as_f64()?;
        let value = p.get(2)?.as_f64()?;
        value.is_finite().then_some((start + granularity, value))
    })
}

/// The value sloop judges: `cpu` becomes utilisation 0..1 of the instance's vCPUs; everything
/// else is passed through.
pub fn normalise(metric: &str, value: f64, granularity: f64, vcpus: u32) -> f64 {
    if metric == "cpu" {
        value / (granularity * 1e9 * f64::from(vcpus.max(1)))
    } else {
        value
    }
}

/// The latest point of each group of an `aggregates?groupby=KEY` answer, by the group's `key`
/// value. Groups without a readable key or point are left out (read as missing).
pub fn latest_by_group(groups: &Value, key: &str) -> Latest {
    let pointer = format!("/group/{key}");
    groups
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| {
            let id = g.pointer(&pointer)?.as_str()?;
            let point = g.pointer("/measures/measures/aggregated").and_then(latest)?;
            Some((id.to_owned(), point))
        })
        .collect()
}

/// A rate of a cumulative counter below zero is a counter that started again (Ceilometer's
/// `cpu` restarts from 0 when a server reboots, is rebuilt or migrates), not negative work: that
/// period's rate is unknown, so the series reads as missing rather than as a negative figure.
fn drop_counter_resets(latest: &mut Latest, metric: &str) {
    latest.retain(|id, (_, value)| {
        let reset = *value < 0.0;
        if reset {
            tracing::debug!(%id, %metric, value, "A cumulative counter went back (restarted); its rate reads as missing.");
        }
        !reset
    });
}

/// Reads `specs` for the instances (server IDs) and hypervisors (host names) into readings by
/// id and metric; `vcpus` gives each instance's vCPUs.
pub async fn read(
    api: &mut Api,
    specs: &[MetricSpec],
    instances: &[String],
    hosts: &[String],
    vcpus: &BTreeMap<String, u32>,
    now: Time,
    staleness: f64,
) -> Result<TelemetryReadings, ApiError> {
    let mut out = TelemetryReadings::default();
    for spec in specs {
        let (ids, resource_type, key) = match spec.scope {
            MetricScope::Instance => (instances, "instance", "id"),
            MetricScope::Hypervisor => (hosts, "host", "host_name"),
        };
        if ids.is_empty() {
            continue;
        }
        let granularity = spec.granularity.secs();
        // Two extra periods: a rate needs the point before the first one it reports.
        let start = now - staleness - 2.0 * granularity;
        let body = json!({
            "operations": operation(spec),
            "resource_type": resource_type,
            "search": { "in": { key: ids } },
        });
        let req = Request::query_post(Service::Metric, &["aggregates"], body)
            .param("groupby", key)
            .param("granularity", format!("{granularity}"))
            .param("start", format!("{start:.0}"))
            .param("needed_overlap", "0");
        let groups = match api.call(&req).await {
            Ok(v) => v,
            // No measures yet for any of them (Gnocchi answers 400/404 for "metric not found").
            Err(e) if matches!(e.class, ErrorClass::NotFound | ErrorClass::Invalid) && e.status.is_some() => {
                tracing::debug!(metric = %spec.name, error = %e, "No Gnocchi series for this metric.");
                Value::Array(Vec::new())
            }
            Err(e) => return Err(e),
        };
        let target = match spec.scope {
            MetricScope::Instance => &mut out.instances,
            MetricScope::Hypervisor => &mut out.hypervisors,
        };
        let mut latest = latest_by_group(&groups, key);
        if matches!(spec.aggregation, Aggregation::RateMean) {
            drop_counter_resets(&mut latest, &spec.name);
        }
        readings::fill(target, &spec.name, ids, &latest, now, staleness, |id, v| {
            normalise(&spec.name, v, granularity, vcpus.get(id).copied().unwrap_or(1))
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::units::Duration;

    fn spec(name: &str, aggregation: Aggregation) -> MetricSpec {
        MetricSpec {
            name: name.into(),
            aggregation,
            granularity: Duration::from_secs(60.0),
            scope: MetricScope::Instance,
        }
    }

    #[test]
    fn cpu_is_read_as_a_rate_of_the_stored_mean() {
        assert_eq!(
            operation(&spec("cpu", Aggregation::RateMean)),
            "(aggregate rate:mean (metric cpu mean))"
        );
        assert_eq!(
            operation(&spec("memory.usage", Aggregation::Max)),
            "(aggregate max (metric memory.usage max))"
        );
    }

    #[test]
    fn the_latest_point_is_stamped_at_the_end_of_its_period() {
        let pts = json!([
            ["2026-11-26T15:18:00+00:00", 60.0, 1.0],
            ["2026-11-26T15:19:00+00:00", 60.0, 2.0]
        ]);
        let (at, v) = latest(&pts).unwrap();
        assert_eq!(v, 2.0);
        assert_eq!(Ok(at), parse_time("2026-11-26T15:20:00Z"));
        assert!(latest(&json!([])).is_none(), "no points: missing, not zero");
    }

    #[test]
    fn a_counter_that_went_back_reads_as_missing_not_negative() {
        let groups = json!([
            {"group": {"id": "rebooted"}, "measures": {"measures": {"aggregated": [["2026-01-01T00:00:00+00:00", 60.0, -3.0e10]]}}},
            {"group": {"id": "busy"}, "measures": {"measures": {"aggregated": [["2026-01-01T00:00:00+00:00", 60.0, 3.0e10]]}}},
        ]);
        let mut latest = latest_by_group(&groups, "id");
        assert_eq!(latest.len(), 2);
        drop_counter_resets(&mut latest, "cpu");
        assert_eq!(latest.keys().collect::<Vec<_>>(), ["busy"]);
    }

    #[test]
    fn cpu_nanoseconds_per_period_become_utilisation_per_vcpu() {
        assert_eq!(normalise("cpu", 30e9, 60.0, 1), 0.5);
        assert_eq!(normalise("cpu", 60e9, 60.0, 2), 0.5);
        assert_eq!(normalise("memory.usage", 512.0, 60.0, 2), 512.0);
    }
}
