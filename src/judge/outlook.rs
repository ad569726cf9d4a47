//! What the load is about to do: the input through which a forecast reaches the scaling rules.
//! No forecast is built into the judge yet, so [`Capacity::outlook`](super::Capacity) is `None`
//! and the rules that read it fall back on [`observed_trend`], which only says where the
//! load has been going over the last minutes. Pure.

use crate::snapshot::Time;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Where the load is heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trend {
    /// Up by more than the tolerance.
    Rising,
    /// Within the tolerance.
    Flat,
    /// Down by more than the tolerance.
    Falling,
}

/// A forecast of the load, as the scaling rules read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outlook {
    /// The highest load (requests/s) expected over the next boot-to-serve time.
    pub ahead_rps: f64,
    /// Where the load is heading.
    pub trend: Trend,
}

/// Relative change between the two windows of [`observed_trend`] that counts as a trend (the
/// utilisation tolerance band, so a wobble the sizing ignores is no trend either).
const TOLERANCE: f64 = 0.1;
/// Length of each window compared, s.
const WINDOW: f64 = 120.0;
/// How far back the earlier window ends, s.
const LOOKBACK: f64 = 480.0;

/// The trend of the remembered loads: the mean of the last two minutes against the mean of two
/// minutes eight minutes earlier. `None` when either window has fewer than two figures.
pub fn observed_trend(loads: &VecDeque<(Time, f64)>, now: Time) -> Option<Trend> {
    let mean = |from: f64, to: f64| {
        let seen: Vec<f64> = loads
            .iter()
            .filter(|(t, _)| *t > from && *t <= to)
            .map(|(_, l)| *l)
            .collect();
        (seen.len() >= 2).then(|| seen.iter().sum::<f64>() / seen.len() as f64)
    };
    let recent = mean(now - WINDOW, now)?;
    let earlier = mean(now - LOOKBACK - WINDOW, now - LOOKBACK)?;
    Some(if recent > earlier * (1.0 + TOLERANCE) {
        Trend::Rising
    } else if recent < earlier * (1.0 - TOLERANCE) {
        Trend::Falling
    } else {
        Trend::Flat
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loads(f: impl Fn(f64) -> f64) -> VecDeque<(Time, f64)> {
        (0..=90).map(|k| (k as f64 * 10.0, f(k as f64 * 10.0))).collect()
    }

    #[test]
    fn the_trend_compares_the_last_minutes_with_eight_minutes_earlier() {
        assert_eq!(observed_trend(&loads(|t| 100.0 + t), 900.0), Some(Trend::Rising));
        assert_eq!(
            observed_trend(&loads(|t| 1000.0 - t), 900.0),
            Some(Trend::Falling)
        );
        assert_eq!(
            observed_trend(&loads(|t| 100.0 + (t / 10.0) % 3.0), 900.0),
            Some(Trend::Flat),
            "a wobble within 10 % is no trend"
        );
        assert_eq!(
            observed_trend(&loads(|t| t), 100.0),
            None,
            "too little memory to say"
        );
    }
}
