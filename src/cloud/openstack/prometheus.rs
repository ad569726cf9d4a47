//! Ceilometer metrics from Prometheus (Ceilometer's Prometheus publisher names them
//! `ceilometer_<meter with _ for .>` and labels them `resource_id`): one instant PromQL query per
//! metric for all of the group's instances (or hypervisors). Rates come from `rate()` per
//! second; `cpu` becomes utilisation as with Gnocchi. A series Prometheus does not return, or
//! returns older than the staleness limit, is missing, never zero.

use super::{
    gnocchi::normalise,
    readings::{self, Latest},
};
use crate::{
    observe::load::InstantSum,
    policy::{Aggregation, MetricScope, MetricSpec},
    snapshot::{TelemetryReadings, Time},
};
use serde::Deserialize;
use std::{collections::BTreeMap, time::Duration};

/// `ceilometer_memory_usage` for `memory.usage`.
pub fn series_name(meter: &str) -> String {
    let clean: String = meter
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("ceilometer_{clean}")
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push_str("\\\\");
        } else if c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The PromQL for `spec` over `ids`.
pub fn query(spec: &MetricSpec, ids: &[String]) -> String {
    let window = format!("{}s", spec.granularity.secs().round().max(1.0));
    let matcher = ids.iter().map(|i| regex_escape(i)).collect::<Vec<_>>().join("|");
    let sel = format!("{}{{resource_id=~\"{matcher}\"}}", series_name(&spec.name));
    match spec.aggregation {
        Aggregation::Mean => format!("avg_over_time({sel}[{window}])"),
        Aggregation::Max => format!("max_over_time({sel}[{window}])"),
        Aggregation::RateMean => format!("rate({sel}[{window}])"),
        Aggregation::RateMax => format!("max_over_time(rate({sel}[{window}])[{window}:])"),
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(default)]
    result: Vec<Sample>,
}

#[derive(Deserialize)]
struct Sample {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

/// `resource_id → (time, value)` from an instant-query answer.
pub fn parse(body: &str) -> Result<Latest, String> {
    parse_by(body, "resource_id")
}

/// `label value → (time, value)` from an instant-query answer; series without the label, and
/// values that are not finite numbers, are left out.
pub fn parse_by(body: &str, label: &str) -> Result<Latest, String> {
    let mut out = Latest::new();
    for s in samples(body)? {
        let (Some(id), Ok(v)) = (s.metric.get(label), s.value.1.parse::<f64>()) else {
            continue;
        };
        if v.is_finite() {
            out.insert(id.clone(), (s.value.0, v));
        }
    }
    Ok(out)
}

/// The sum of every finite value of an instant-query answer and its newest sample's time;
/// `None` when it has no such value (an expression over series Prometheus has not scraped).
pub fn parse_sum(body: &str) -> Result<Option<InstantSum>, String> {
    let mut sum: Option<InstantSum> = None;
    for s in samples(body)? {
        let Ok(v) = s.value.1.parse::<f64>() else { continue };
        if !v.is_finite() {
            continue;
        }
        let acc = sum.get_or_insert(InstantSum {
            value: 0.0,
            at: s.value.0,
        });
        acc.value += v;
        acc.at = acc.at.max(s.value.0);
    }
    Ok(sum)
}

fn samples(body: &str) -> Result<Vec<Sample>, String> {
    let a: Answer = serde_json::from_str(body).map_err(|e| format!("unreadable answer: {e}"))?;
    if a.status != "success" {
        return Err(a.error.unwrap_or_else(|| format!("status {}", a.status)));
    }
    Ok(a.data.map(|d| d.result).unwrap_or_default())
}

/// Evaluates `promql` at `now` on the Prometheus at `base` and sums its answer ([`parse_sum`]).
pub async fn instant_sum(
    base: &str,
    timeout: Duration,
    promql: &str,
    now: Time,
) -> Result<Option<InstantSum>, String> {
    let body = instant(base, timeout, promql, now).await?;
    parse_sum(&body).map_err(|e| format!("prometheus {base}: {e}"))
}

/// Evaluates `promql` at `now` on the Prometheus at `base`; the answer's body.
pub async fn instant(base: &str, timeout: Duration, promql: &str, now: Time) -> Result<String, String> {
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{}/api/v1/query", base.trim_end_matches('/'));
    let resp = http
        .get(&url)
        .query(&[("query", promql), ("time", &format!("{now:.3}"))])
        .send()
        .await
        .map_err(|e| format!("prometheus {url}: {e}"))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| format!("prometheus {url}: {e}"))?;
    // Prometheus answers a bad expression with 400 and an error body, which `samples` reports.
    if !status.is_success() && status.as_u16() != 400 {
        return Err(format!("prometheus {url}: HTTP {status}"));
    }
    Ok(body)
}

/// Reads `specs` from the Prometheus at `base` (e.g. `http://prometheus:9090`).
#[allow(clippy::too_many_arguments)]
pub async fn read(
    base: &str,
    timeout: Duration,
    specs: &[MetricSpec],
    instances: &[String],
    hosts: &[String],
    vcpus: &BTreeMap<String, u32>,
    now: Time,
    staleness: f64,
) -> Result<TelemetryReadings, String> {
    let mut out = TelemetryReadings::default();
    for spec in specs {
        let (ids, target) = match spec.scope {
            MetricScope::Instance => (instances, &mut out.instances),
            MetricScope::Hypervisor => (hosts, &mut out.hypervisors),
        };
        if ids.is_empty() {
            continue;
        }
        let body = instant(base, timeout, &query(spec, ids), now).await?;
        let got = parse(&body).map_err(|e| format!("prometheus {base}: {e}"))?;
        let g = spec.granularity.secs();
        let per_period = matches!(spec.aggregation, Aggregation::RateMean | Aggregation::RateMax);
        readings::fill(target, &spec.name, ids, &got, now, staleness, |id, v| {
            // `rate()` is per second; the Gnocchi normalisation expects per period.
            let v = if per_period { v * g } else { v };
            normalise(&spec.name, v, g, vcpus.get(id).copied().unwrap_or(1))
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::units::Duration as PDuration;

    fn spec(name: &str, aggregation: Aggregation) -> MetricSpec {
        MetricSpec {
            name: name.into(),
            aggregation,
            granularity: PDuration::from_secs(60.0),
            scope: MetricScope::Instance,
        }
    }

    #[test]
    fn queries_select_the_group_by_resource_id() {
        let ids = vec!["a-1".to_string(), "b.2".to_string()];
        assert_eq!(
            query(&spec("cpu", Aggregation::RateMean), &ids),
            r#"rate(ceilometer_cpu{resource_id=~"a-1|b\\.2"}[60s])"#
        );
        assert_eq!(
            query(&spec("memory.usage", Aggregation::Mean), &ids[..1]),
            r#"avg_over_time(ceilometer_memory_usage{resource_id=~"a-1"}[60s])"#
        );
    }

    #[test]
    fn answers_parse_by_resource_and_errors_are_reported() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"resource_id":"a"},"value":[1700000000.5,"0.25"]},
            {"metric":{"resource_id":"b"},"value":[1700000000.5,"NaN"]},
            {"metric":{"other":"x"},"value":[1700000000.5,"1"]}]}}"#;
        let got = parse(body).unwrap();
        assert_eq!(got.get("a"), Some(&(1_700_000_000.5, 0.25)));
        assert!(!got.contains_key("b"), "NaN is missing, not a value");
        assert_eq!(got.len(), 1);
        let err = parse(r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#).unwrap_err();
        assert!(err.contains("parse error"));
    }

    #[test]
    fn a_load_expression_sums_its_series_at_the_newest_sample() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"proxy":"web","instance":"a"},"value":[1700000000.5,"120.5"]},
            {"metric":{"proxy":"web","instance":"b"},"value":[1700000001.0,"79.5"]},
            {"metric":{"proxy":"web","instance":"c"},"value":[1700000001.0,"NaN"]}]}}"#;
        assert_eq!(
            parse_sum(body).unwrap(),
            Some(InstantSum {
                value: 200.0,
                at: 1_700_000_001.0
            })
        );
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(parse_sum(empty).unwrap(), None, "no series is no figure, not 0");
        let by = parse_by(body, "instance").unwrap();
        assert_eq!(by.get("a"), Some(&(1_700_000_000.5, 120.5)));
    }

    #[test]
    fn a_cpu_rate_per_second_becomes_utilisation() {
        // 0.5 s of CPU per second on one vCPU.
        let v = 0.5e9 * 60.0;
        assert!((normalise("cpu", v, 60.0, 1) - 0.5).abs() < 1e-12);
    }
}
