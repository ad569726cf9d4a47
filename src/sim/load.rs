//! Offered load over time: a base curve (constant, diurnal sine, piecewise-linear points or a
//! CSV trace) times autocorrelated lognormal noise times surges. Pure: the noise draws come
//! from a generator the caller owns.

use super::{
    rng::Rng,
    scenario::{BaseLoad, Scenario, Surge},
};
use std::f64::consts::TAU;

/// The load curve of one scenario, with its noise state.
#[derive(Debug, Clone)]
pub struct LoadModel {
    base: Base,
    surges: Vec<Surge>,
    noise_sigma: f64,
    noise_tau: f64,
    /// The AR(1) state: the current log-deviation of the noise multiplier.
    noise_x: f64,
    start: f64,
    utc_offset: f64,
}

#[derive(Debug, Clone)]
enum Base {
    Constant(f64),
    Diurnal {
        mean: f64,
        amplitude: f64,
        peak_hour: f64,
    },
    /// (seconds since start, rps), sorted.
    Points(Vec<(f64, f64)>),
}

impl LoadModel {
    /// The load curve of `scenario` (whose CSV trace, if any, must already be loaded).
    pub fn new(scenario: &Scenario) -> Self {
        let base = match &scenario.load.base {
            BaseLoad::Constant(rps) => Base::Constant(*rps),
            BaseLoad::Diurnal(d) => Base::Diurnal {
                mean: d.mean,
                amplitude: d.amplitude,
                peak_hour: d.peak_hour,
            },
            BaseLoad::Points(points) => {
                let mut p: Vec<(f64, f64)> = points.iter().map(|p| (p.at.secs(), p.rps)).collect();
                p.sort_by(|a, b| a.0.total_cmp(&b.0));
                Base::Points(p)
            }
            BaseLoad::Csv(_) => Base::Points(scenario.trace.clone()),
        };
        let (noise_sigma, noise_tau) = scenario
            .load
            .noise
            .as_ref()
            .map_or((0.0, 60.0), |n| (n.sigma, n.correlation.secs().max(1e-3)));
        Self {
            base,
            surges: scenario.load.surges.clone(),
            noise_sigma,
            noise_tau,
            noise_x: 0.0,
            start: scenario.start_unix(),
            utc_offset: scenario.utc_offset_secs(),
        }
    }

    /// The noiseless load at unix time `t`: base × surges.
    pub fn expected(&self, t: f64) -> f64 {
        let since = t - self.start;
        let base = match &self.base {
            Base::Constant(rps) => *rps,
            Base::Diurnal {
                mean,
                amplitude,
                peak_hour,
            } => {
                let hour = ((t + self.utc_offset) / 3600.0).rem_euclid(24.0);
                mean * (1.0 + amplitude * (TAU * (hour - peak_hour) / 24.0).cos())
            }
            Base::Points(points) => interpolate(points, since),
        };
        base * self.surge_factor(since)
    }

    /// The product of all surge multipliers at `since` seconds after the start.
    pub fn surge_factor(&self, since: f64) -> f64 {
        self.surges.iter().map(|s| surge(s, since)).product()
    }

    /// Advances the noise by `dt` seconds and returns the offered load at unix time `t`.
    pub fn advance(&mut self, t: f64, dt: f64, rng: &mut Rng) -> f64 {
        let mut factor = 1.0;
        if self.noise_sigma > 0.0 {
            // Exact AR(1) discretisation of an Ornstein–Uhlenbeck process with stationary
            // deviation sigma, so the noise statistics do not depend on the step length.
            let a = (-dt / self.noise_tau).exp();
            self.noise_x = a * self.noise_x + (1.0 - a * a).sqrt() * self.noise_sigma * rng.standard_normal();
            // Mean-corrected so the noise does not raise the average load.
            factor = (self.noise_x - self.noise_sigma * self.noise_sigma / 2.0).exp();
        }
        (self.expected(t) * factor).max(0.0)
    }
}

fn interpolate(points: &[(f64, f64)], x: f64) -> f64 {
    let Some(first) = points.first() else { return 0.0 };
    if x <= first.0 {
        return first.1;
    }
    let i = points.partition_point(|p| p.0 <= x);
    if i >= points.len() {
        return points[points.len() - 1].1;
    }
    let (a, b) = (points[i - 1], points[i]);
    if b.0 <= a.0 {
        b.1
    } else {
        a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0)
    }
}

fn surge(s: &Surge, since: f64) -> f64 {
    let (at, ramp, hold, decay) = (s.at.secs(), s.ramp.secs(), s.hold.secs(), s.decay.secs());
    let x = since - at;
    let up = |share: f64| 1.0 + (s.factor - 1.0) * share.clamp(0.0, 1.0);
    if x < 0.0 {
        1.0
    } else if x < ramp {
        up(x / ramp)
    } else if x < ramp + hold {
        s.factor
    } else if decay > 0.0 {
        up(1.0 - (x - ramp - hold) / decay)
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::units::Duration;

    fn d(s: f64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn surges_ramp_hold_and_decay_linearly() {
        let s = Surge {
            at: d(100.0),
            ramp: d(100.0),
            factor: 11.0,
            hold: d(100.0),
            decay: d(100.0),
        };
        assert_eq!(surge(&s, 50.0), 1.0);
        assert_eq!(surge(&s, 150.0), 6.0);
        assert_eq!(surge(&s, 250.0), 11.0);
        assert_eq!(surge(&s, 350.0), 6.0);
        assert_eq!(surge(&s, 450.0), 1.0);
    }

    #[test]
    fn points_interpolate_and_stay_flat_outside() {
        let p = [(0.0, 100.0), (10.0, 200.0)];
        assert_eq!(interpolate(&p, -5.0), 100.0);
        assert_eq!(interpolate(&p, 5.0), 150.0);
        assert_eq!(interpolate(&p, 50.0), 200.0);
    }
}
