//! Prometheus metrics of the OpenStack client: calls by API and outcome, retries,
//! re-authentications, calls refused by an open breaker, and each breaker's state. Owned (no
//! global registry): `sloop run` registers them once and hands the handle to every backend.
//! Labels are bounded: cloud names come from the policies, APIs and outcomes are enums.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

/// `{cloud, api, outcome}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// Cloud name from clouds.yaml.
    pub cloud: String,
    /// `compute`, `load-balancer`, `metric`, `network`, `image`.
    pub api: String,
    /// `ok` or the error class.
    pub outcome: String,
}

/// `{cloud, api}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    /// Cloud name.
    pub cloud: String,
    /// API.
    pub api: String,
}

/// `{cloud}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloudLabel {
    /// Cloud name.
    pub cloud: String,
}

/// The handles (cheap to clone; clones share the counters).
#[derive(Debug, Clone, Default)]
pub struct CloudMetrics {
    calls: Family<CallLabels, Counter>,
    retries: Family<ApiLabels, Counter>,
    short_circuited: Family<ApiLabels, Counter>,
    breaker_open: Family<ApiLabels, Gauge>,
    reauthentications: Family<CloudLabel, Counter>,
}

/// Registers the OpenStack client metrics under `sloop_openstack_*`.
pub fn register(registry: &mut Registry) -> CloudMetrics {
    let m = CloudMetrics::default();
    let r = registry.sub_registry_with_prefix("sloop_openstack");
    r.register(
        "api_calls",
        "OpenStack API calls by API and outcome (ok or error class)",
        m.calls.clone(),
    );
    r.register(
        "api_retries",
        "Attempts repeated after a failure (backoff, Retry-After, 409)",
        m.retries.clone(),
    );
    r.register(
        "api_short_circuited",
        "Calls refused by an open circuit breaker without touching the network",
        m.short_circuited.clone(),
    );
    r.register(
        "api_breaker_open",
        "1 while the API's circuit breaker is open or half-open",
        m.breaker_open.clone(),
    );
    r.register(
        "reauthentications",
        "Sessions rebuilt after Keystone refused a token (401)",
        m.reauthentications.clone(),
    );
    m
}

impl CloudMetrics {
    fn api(cloud: &str, api: &str) -> ApiLabels {
        ApiLabels {
            cloud: cloud.into(),
            api: api.into(),
        }
    }

    /// One call sent.
    pub fn call(&self, cloud: &str, api: &str, outcome: &str) {
        let l = CallLabels {
            cloud: cloud.into(),
            api: api.into(),
            outcome: outcome.into(),
        };
        self.calls.get_or_create(&l).inc();
    }

    /// One retry.
    pub fn retry(&self, cloud: &str, api: &str) {
        self.retries.get_or_create(&Self::api(cloud, api)).inc();
    }

    /// One call refused by the breaker.
    pub fn short_circuit(&self, cloud: &str, api: &str) {
        self.short_circuited.get_or_create(&Self::api(cloud, api)).inc();
    }

    /// The breaker's state after a call (`closed`, `open`, `half-open`).
    pub fn breaker(&self, cloud: &str, api: &str, state: &str) {
        self.breaker_open
            .get_or_create(&Self::api(cloud, api))
            .set(i64::from(state != "closed"));
    }

    /// One re-authentication.
    pub fn reauthenticated(&self, cloud: &str) {
        self.reauthentications
            .get_or_create(&CloudLabel { cloud: cloud.into() })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn client_events_show_up_in_the_exposition() {
        let mut registry = Registry::default();
        let m = register(&mut registry);
        m.call("lab", "compute", "ok");
        m.call("lab", "compute", "transport");
        m.retry("lab", "compute");
        m.breaker("lab", "compute", "open");
        m.short_circuit("lab", "compute");
        m.reauthenticated("lab");
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for line in [
            r#"sloop_openstack_api_calls_total{cloud="lab",api="compute",outcome="transport"} 1"#,
            r#"sloop_openstack_api_retries_total{cloud="lab",api="compute"} 1"#,
            r#"sloop_openstack_api_breaker_open{cloud="lab",api="compute"} 1"#,
            r#"sloop_openstack_api_short_circuited_total{cloud="lab",api="compute"} 1"#,
            r#"sloop_openstack_reauthentications_total{cloud="lab"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }
}
