//! The load figure of a snapshot: a request rate derived from a real source's counters, never
//! the simulator's ground truth, carrying its source and age so the core can say which signal
//! it sized from. Pure data.

use super::Time;
use serde::{Deserialize, Serialize};

/// Where a load figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadSource {
    /// Octavia's load-balancer statistics (`total_connections` and friends, summed over its
    /// listeners), read at each poll and turned into rates between the polls at which they moved.
    Octavia,
    /// A PromQL expression the policy names, evaluated by Prometheus over its scrapes.
    Prometheus,
    /// A decision log written before sources were recorded (a bare number).
    Unrecorded,
}

impl LoadSource {
    /// Short label for evidence and metrics.
    pub fn label(self) -> &'static str {
        match self {
            LoadSource::Octavia => "octavia",
            LoadSource::Prometheus => "prometheus",
            LoadSource::Unrecorded => "unrecorded",
        }
    }
}

/// Request rate at the service entry, with its provenance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LoadSignal {
    /// Requests (Octavia: new connections) per second.
    pub requests: f64,
    /// Requests the balancer answered with an error, per second (Octavia `request_errors`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<f64>,
    /// Bytes per second into the balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_in: Option<f64>,
    /// Bytes per second out of the balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_out: Option<f64>,
    /// Which source.
    pub source: LoadSource,
    /// The end of the span the rate covers (when its newer counter reading was taken; 0 when
    /// unrecorded).
    pub at: Time,
    /// Seconds the rate covers.
    pub covers: f64,
}

impl LoadSignal {
    /// Seconds between the end of the span the rate covers and `now`.
    pub fn age(&self, now: Time) -> f64 {
        (now - self.at).max(0.0)
    }
}

/// The two shapes a snapshot's load takes on disk: today's record, or the bare number of logs
/// written before the source was recorded.
#[derive(Deserialize)]
#[serde(untagged)]
enum Wire {
    Bare(f64),
    Signal {
        requests: f64,
        #[serde(default)]
        errors: Option<f64>,
        #[serde(default)]
        bytes_in: Option<f64>,
        #[serde(default)]
        bytes_out: Option<f64>,
        source: LoadSource,
        at: Time,
        covers: f64,
    },
}

impl<'de> Deserialize<'de> for LoadSignal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Wire::deserialize(d)? {
            // The old field said neither where nor when (`at` 0: unknown).
            Wire::Bare(requests) => LoadSignal {
                requests,
                errors: None,
                bytes_in: None,
                bytes_out: None,
                source: LoadSource::Unrecorded,
                at: 0.0,
                covers: 0.0,
            },
            Wire::Signal {
                requests,
                errors,
                bytes_in,
                bytes_out,
                source,
                at,
                covers,
            } => LoadSignal {
                requests,
                errors,
                bytes_in,
                bytes_out,
                source,
                at,
                covers,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Snapshot;

    #[test]
    fn a_log_line_with_the_old_bare_offered_load_still_reads() {
        let snap: Snapshot = serde_json::from_str(
            r#"{"observed_at":10.0,"service":[],"instances_probed":[],"locations":[],
                "telemetry":{"instances":{},"hypervisors":{}},"inventory":[],"in_flight":[],
                "offered_load":312.5}"#,
        )
        .unwrap();
        let load = snap.load.unwrap();
        assert_eq!(load.requests, 312.5);
        assert_eq!(load.source, LoadSource::Unrecorded);
    }

    #[test]
    fn a_signal_round_trips_with_its_source_and_age() {
        let signal = LoadSignal {
            requests: 120.0,
            errors: Some(0.5),
            bytes_in: None,
            bytes_out: Some(9e5),
            source: LoadSource::Octavia,
            at: 100.0,
            covers: 10.0,
        };
        let snap = Snapshot {
            load: Some(signal),
            ..Snapshot::default()
        };
        let text = serde_json::to_string(&snap).unwrap();
        assert!(text.contains(r#""load":{"requests":120.0"#), "{text}");
        let back: Snapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(back.load, Some(signal));
        assert_eq!(signal.age(104.0), 4.0);
    }
}
