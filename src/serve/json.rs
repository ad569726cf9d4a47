//! The JSON API's presentation of the published state and the journal: every time in epoch
//! seconds keeps its field, and gains a sibling `<field>_rfc3339` (UTC, `2026-09-27T16:14:05Z`)
//! a person or `jq` can read; evidence metrics, stored as `[name, value]` pairs, are shown as
//! an object `{name: value}`. The stored forms (journal file, decision log) do not change.

use crate::policy::units::Timestamp;
use serde_json::{Map, Value};

/// Fields that hold Unix seconds wherever they appear in the status or journal JSON.
const TIME_FIELDS: [&str; 10] = [
    "now",
    "at",
    "started_at",
    "last_tick",
    "last_seen",
    "created_at",
    "active_since",
    "observed_at",
    "start",
    "end",
];

/// Unix seconds as RFC 3339 in UTC, to the second.
pub fn rfc3339(unix: f64) -> String {
    Timestamp::from_unix(unix.floor()).to_string()
}

/// Adds the RFC 3339 siblings and turns evidence pairs into objects, throughout `v`.
pub fn present(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let mut added = Vec::new();
            for (k, field) in map.iter_mut() {
                if TIME_FIELDS.contains(&k.as_str())
                    && let Some(t) = field.as_f64()
                    // Durations and offsets are small; epoch times are past 2001.
                    && t > 1e9
                {
                    added.push((format!("{k}_rfc3339"), Value::String(rfc3339(t))));
                }
                if k == "evidence"
                    && let Some(metrics) = field.get_mut("metrics")
                {
                    *metrics = pairs_to_object(metrics);
                }
                present(field);
            }
            map.extend(added);
        }
        Value::Array(items) => items.iter_mut().for_each(present),
        _ => {}
    }
}

fn pairs_to_object(pairs: &Value) -> Value {
    let Some(list) = pairs.as_array() else {
        return pairs.clone();
    };
    let mut out = Map::new();
    for p in list {
        if let (Some(name), Some(value)) = (p.get(0).and_then(Value::as_str), p.get(1)) {
            out.insert(name.to_owned(), value.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_gain_rfc3339_and_evidence_metrics_become_objects() {
        let mut v = json!({
            "started_at": 1_790_525_585.25,
            "interval": 10.0,
            "policies": {"web": {"last_tick": 1_790_525_645.0, "instances": [{"created_at": 1_790_000_000.0}]}},
            "entries": [{"at": 1_790_525_585.9, "evidence": {"metrics": [["utilisation", 0.75], ["latency_p95_s", "inf"]], "summary": "x"}}]
        });
        present(&mut v);
        assert_eq!(v["started_at"], json!(1_790_525_585.25), "epoch seconds stay");
        assert_eq!(v["started_at_rfc3339"], "2026-09-27T16:13:05Z");
        assert_eq!(v["policies"]["web"]["last_tick_rfc3339"], "2026-09-27T16:14:05Z");
        assert_eq!(
            v["policies"]["web"]["instances"][0]["created_at_rfc3339"],
            "2026-09-21T14:13:20Z"
        );
        assert_eq!(v["entries"][0]["at_rfc3339"], "2026-09-27T16:13:05Z");
        assert!(v.get("interval_rfc3339").is_none());
        assert_eq!(
            v["entries"][0]["evidence"]["metrics"],
            json!({"utilisation": 0.75, "latency_p95_s": "inf"})
        );
    }
}
