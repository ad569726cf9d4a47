//! From the latest point of each resource's series to the readings of a snapshot, one way for
//! every telemetry source (Gnocchi, Prometheus): each asked resource gets an entry, and a value
//! only where its point is recent enough. Missing stays missing, never zero.

use crate::snapshot::{Reading, Time};
use std::collections::BTreeMap;

/// The latest (time, value) of one metric, by resource (server ID or host name).
pub type Latest = BTreeMap<String, (Time, f64)>;

/// Readings by resource, then metric (the shape of `TelemetryReadings`' maps).
pub type ByResource = BTreeMap<String, BTreeMap<String, Reading>>;

/// Records metric `name` for every one of `ids` into `target`: the value from `latest` after
/// `value(id, raw)` when its point is at most `staleness` old at `now`, otherwise missing.
pub fn fill(
    target: &mut ByResource,
    name: &str,
    ids: &[String],
    latest: &Latest,
    now: Time,
    staleness: f64,
    value: impl Fn(&str, f64) -> f64,
) {
    for id in ids {
        let reading = match latest.get(id) {
            Some(&(at, raw)) if now - at <= staleness => Reading {
                value: Some(value(id, raw)),
                at: Some(at),
            },
            _ => Reading {
                value: None,
                at: None,
            },
        };
        target
            .entry(id.clone())
            .or_default()
            .insert(name.to_owned(), reading);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_and_absent_series_are_missing_and_fresh_ones_are_converted() {
        let ids: Vec<String> = ["fresh", "stale", "absent"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let latest = Latest::from([("fresh".into(), (990.0, 2.0)), ("stale".into(), (100.0, 3.0))]);
        let mut out = ByResource::new();
        fill(&mut out, "cpu", &ids, &latest, 1000.0, 60.0, |_, v| v * 10.0);
        assert_eq!(out["fresh"]["cpu"].value, Some(20.0));
        assert_eq!(out["fresh"]["cpu"].at, Some(990.0));
        for id in ["stale", "absent"] {
            assert_eq!(out[id]["cpu"].value, None, "{id}: missing, not zero");
        }
    }
}
