//! How the simulated cloud emits its signals: the report, scrape and processing lags a real
//! one has, so the decision core meets the same delays in rehearsal as in production.

use crate::policy::units::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Lags and granularities of the simulated cloud's signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Signals {
    /// How often the load balancer's amphora reports its statistics to Octavia
    /// (`[health_manager] heartbeat_interval`, 10 s by default). The statistics API answers the
    /// last report.
    #[serde(default = "default_stats_interval")]
    pub octavia_stats_interval: Duration,
    /// How long after a granularity period ends its Gnocchi measure becomes readable: the
    /// metricd processing delay (`[metricd] metric_processing_delay`, 60 s by default) plus
    /// Ceilometer's publishing.
    #[serde(default = "default_metricd_delay")]
    pub metricd_delay: Duration,
    /// The archive policy's granularity, when coarser than what the policy reads (Gnocchi's
    /// default policies store 300 s at the finest for `low`); a metric is then read at this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_granularity: Option<Duration>,
}

impl Default for Signals {
    fn default() -> Self {
        Self {
            octavia_stats_interval: default_stats_interval(),
            metricd_delay: default_metricd_delay(),
            archive_granularity: None,
        }
    }
}

fn default_stats_interval() -> Duration {
    Duration::from_secs(10.0)
}

fn default_metricd_delay() -> Duration {
    Duration::from_secs(60.0)
}
