//! The short-term trend of the request rate: a Theil–Sen line through the last
//! [`WINDOW`] seconds of load reports, with a Mann–Kendall style agreement (the share of
//! report pairs that rise) saying how sure it is. Pure.
//!
//! Why Theil–Sen and not Holt's damped trend: the slope is the median of the pairwise slopes,
//! so up to 29 % of the reports can be wild (a counter reset, a lost heartbeat, a burst) without
//! moving it; it needs no smoothing constants to tune and no state beyond the reports
//! themselves; and its residual spread and pair agreement are evidence an operator can read.
//! Holt's level and trend would have to be carried in the history, and its two constants trade
//! lag against noise with no figure to show for the choice.

use crate::snapshot::Time;
use serde::{Deserialize, Serialize};

/// Seconds of load reports the line is fitted to: long enough for a dozen Octavia heartbeats
/// (10 s each), short enough that a surge which started a minute ago dominates the fit.
pub const WINDOW: f64 = 120.0;

/// A rise seen within the window smaller than this share of the load is no surge: the full
/// width of HPA's ±10 % tolerance band. Load noise is correlated over minutes, so a slow
/// wander looks like a line over two minutes; measured on 5 % noise correlated over 5 min
/// (the shipped scenarios'), a 10 % threshold read it as a rise on 0.2–0.3 % of the ticks of a
/// day (a server bought and sold each time), 15 % and 20 % on none.
pub const TOLERANCE: f64 = 0.2;

fn tolerance_of(level: f64) -> f64 {
    TOLERANCE * level.max(0.0)
}

/// Fewest reports a line is fitted to.
const MIN_POINTS: usize = 5;

/// One-sided normal quantile of the Mann–Kendall test a rise must pass (1 %).
const Z: f64 = 2.326;

/// Share of report pairs that must rise for a rise to count, for `n` reports: under no trend
/// half do, and the Mann–Kendall statistic S = rising − falling has variance
/// n(n−1)(2n+5)/18, so a rise is significant at 1 % once S > Z·sd (about 0.75 of the pairs for
/// the 13 reports of a two-minute window at Octavia's 10 s heartbeat, 0.98 for 5).
pub fn min_agreement(n: usize) -> f64 {
    let n = n as f64;
    let pairs = n * (n - 1.0) / 2.0;
    let sd = (n * (n - 1.0) * (2.0 * n + 5.0) / 18.0).sqrt();
    0.5 + Z * sd / (2.0 * pairs)
}

/// A line through the recent load reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// Requests/s gained per second (the median pairwise slope).
    pub slope: f64,
    /// The line's value at the newest report (requests/s).
    pub level: f64,
    /// When the newest report's span ended.
    pub at: Time,
    /// Robust spread of the reports around the line: 1.4826 × the median absolute residual
    /// (a standard deviation for Gaussian noise), requests/s.
    pub spread: f64,
    /// Share of report pairs whose later one is higher (0–1).
    pub agreement: f64,
    /// Reports the line went through.
    pub points: usize,
}

impl Trend {
    /// The line's value `at` (seconds since the epoch).
    pub fn at_time(&self, at: Time) -> f64 {
        self.level + self.slope * (at - self.at)
    }

    /// Whether the rate is rising: over the window already, by more than `tolerance` of its
    /// level and by more than twice the reports' spread, with [`min_agreement`]. A rise is
    /// extrapolated only once it has been seen, so a slow wander of the load (noise correlated
    /// over minutes, whose spread around the line is small) is not stretched over a long
    /// horizon into a surge.
    pub fn rises(&self) -> bool {
        let seen = self.slope * WINDOW;
        self.slope > 0.0
            && self.agreement >= min_agreement(self.points)
            && seen > tolerance_of(self.level)
            && seen > 2.0 * self.spread
    }
}

/// Fits a line to the reports of the last [`WINDOW`] seconds before the newest one. `None`
/// with fewer than [`MIN_POINTS`] reports or when they span less than half the window.
pub fn fit(reports: &[(Time, f64)]) -> Option<Trend> {
    let &(last, _) = reports.last()?;
    let pts: Vec<(Time, f64)> = reports
        .iter()
        .copied()
        .filter(|(t, y)| last - t <= WINDOW && y.is_finite())
        .collect();
    if pts.len() < MIN_POINTS || last - pts[0].0 < WINDOW / 2.0 {
        return None;
    }
    let mut slopes = Vec::with_capacity(pts.len() * (pts.len() - 1) / 2);
    let mut rising = 0usize;
    for (i, a) in pts.iter().enumerate() {
        for b in &pts[i + 1..] {
            if b.0 > a.0 {
                let s = (b.1 - a.1) / (b.0 - a.0);
                rising += usize::from(s > 0.0);
                slopes.push(s);
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    let agreement = rising as f64 / slopes.len() as f64;
    let slope = median(&mut slopes);
    let mut offsets: Vec<f64> = pts.iter().map(|(t, y)| y - slope * (t - last)).collect();
    let level = median(&mut offsets);
    let mut residuals: Vec<f64> = pts
        .iter()
        .map(|(t, y)| (y - (level + slope * (t - last))).abs())
        .collect();
    let spread = 1.4826 * median(&mut residuals);
    Some(Trend {
        slope,
        level,
        at: last,
        spread,
        agreement,
        points: pts.len(),
    })
}

/// The median (mean of the middle two for an even count). `xs` is reordered.
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded, uniform ±`amp` wobble (xorshift), so the tests need no RNG crate.
    fn noise(seed: u64, n: usize, amp: f64) -> Vec<f64> {
        let mut s = seed.max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s % 10_000) as f64 / 5_000.0 - 1.0) * amp
            })
            .collect()
    }

    #[test]
    fn a_ramp_is_found_and_extrapolated_one_horizon_ahead() {
        // 300 → rising 5 requests/s every second, reported every 10 s, ±3 % noise.
        let wobble = noise(7, 13, 9.0);
        let reports: Vec<(f64, f64)> = (0..13)
            .map(|k| {
                let t = 1000.0 + 10.0 * k as f64;
                (t, 300.0 + 5.0 * (t - 1000.0) + wobble[k])
            })
            .collect();
        let trend = fit(&reports).expect("a line");
        assert!((trend.slope - 5.0).abs() < 0.3, "slope {}", trend.slope);
        assert!(trend.agreement > 0.95);
        let now = 1120.0;
        assert!(trend.rises());
        let ahead = trend.at_time(now + 180.0);
        assert!((ahead - 1800.0).abs() < 60.0, "forecast {ahead}");
    }

    #[test]
    fn noise_alone_is_no_trend() {
        for seed in 1..50 {
            let wobble = noise(seed, 13, 30.0);
            let reports: Vec<(f64, f64)> = (0..13).map(|k| (10.0 * k as f64, 300.0 + wobble[k])).collect();
            let trend = fit(&reports).expect("a line");
            assert!(
                !trend.rises(),
                "seed {seed}: ±10 % noise read as a rise: {trend:?}"
            );
        }
    }

    #[test]
    fn a_slow_wander_is_not_stretched_into_a_surge() {
        // +0.4 requests/s on 300 (a 16 % wander over two minutes, nearly noiseless): over a 5 min
        // horizon that would read as +40 %, but the window saw less than the band's width.
        let reports: Vec<(f64, f64)> = (0..13)
            .map(|k| (10.0 * k as f64, 300.0 + 2.0 * k as f64))
            .collect();
        let trend = fit(&reports).expect("a line");
        assert!((trend.slope - 0.2).abs() < 1e-9);
        assert!(!trend.rises());
    }

    #[test]
    fn the_agreement_needed_is_mann_kendalls_one_percent() {
        assert!((min_agreement(13) - 0.745).abs() < 0.005, "{}", min_agreement(13));
        assert!(min_agreement(5) > 0.95);
        assert!(min_agreement(25) < min_agreement(13));
    }

    #[test]
    fn one_wild_report_does_not_make_a_trend() {
        let mut reports: Vec<(f64, f64)> = (0..13).map(|k| (10.0 * k as f64, 300.0)).collect();
        reports[12].1 = 3000.0;
        let trend = fit(&reports).expect("a line");
        assert!(trend.slope.abs() < 1e-9);
        assert!(!trend.rises());
    }

    #[test]
    fn too_few_or_too_short_reports_fit_nothing() {
        assert!(fit(&[(0.0, 1.0), (10.0, 2.0), (20.0, 3.0)]).is_none());
        let short: Vec<(f64, f64)> = (0..8).map(|k| (5.0 * k as f64, k as f64)).collect();
        assert!(fit(&short).is_none(), "35 s is under half the window");
    }
}
