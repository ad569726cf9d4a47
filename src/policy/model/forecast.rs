//! `spec.scaling.forecast`: whether scale-out is sized for the load one boot time ahead.

use crate::policy::units::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The load forecast that sizes scale-out ahead of the servers' boot time. Scale-out is sized
/// for the larger of the present load and the forecast; scale-in never removes what the
/// forecast still asks for, and releases it once the forecast no longer does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForecastSpec {
    /// Extrapolate a rising request rate one horizon ahead (a robust line through the last two
    /// minutes of load reports; a rise counts once it has moved the load by more than 20 % and
    /// by more than twice the reports' spread within those two minutes, and the share of
    /// rising report pairs passes a 1 % Mann–Kendall test).
    #[serde(default = "yes")]
    pub trend: bool,
    /// Learn the request rate per 10 minutes of the day and of the week, and pre-warm for the
    /// highest rate expected within the horizon once that time has been seen on two days (weeks).
    #[serde(default = "yes")]
    pub seasonal: bool,
    /// How far ahead to look. Omitted: the group's learned boot-to-serve time (90th percentile
    /// of its last 16 new servers, from the third on; `healing.gracePeriod` until then) plus
    /// `out.cooldown`, since what is ordered now must carry the load until the servers of the
    /// next step, one cooldown later, serve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon: Option<Duration>,
}

fn yes() -> bool {
    true
}

impl Default for ForecastSpec {
    fn default() -> Self {
        Self {
            trend: true,
            seasonal: true,
            horizon: None,
        }
    }
}

impl ForecastSpec {
    /// Whether it is the default (left out of a written policy).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Whether any part is on.
    pub fn enabled(&self) -> bool {
        self.trend || self.seasonal
    }
}
