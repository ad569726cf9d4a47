//! Network paths from each probe location to the service, per IP family: a median round-trip
//! time, jitter and loss, plus whatever a network fault adds. Pure.
//!
//! A lost round trip costs a retransmission timeout (1 s, as for a lost TCP SYN) and is retried;
//! after three losses in a row the exchange fails. So 20 % loss mostly shows as slow requests
//! beyond the objective, and 100 % loss as timeouts.

use super::{rng::Rng, scenario::LocationSpec};
use crate::snapshot::IpFamily;

/// The retransmission timeout a lost round trip costs.
pub const RTO: f64 = 1.0;
/// Losses in a row after which an exchange gives up.
const MAX_LOSSES: u32 = 3;

/// One path's current parameters (base plus fault overlay).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Path {
    /// Median round-trip time, seconds.
    pub rtt: f64,
    /// Standard deviation of the round-trip time, seconds.
    pub jitter: f64,
    /// Loss per round trip, 0..1.
    pub loss: f64,
    /// Added by faults: round-trip time, seconds.
    pub extra_delay: f64,
    /// Added by faults: loss, 0..1 (combined with the base loss as independent events).
    pub extra_loss: f64,
}

impl Path {
    /// Loss per round trip, base and fault combined.
    pub fn total_loss(&self) -> f64 {
        1.0 - (1.0 - self.loss) * (1.0 - self.extra_loss)
    }

    /// Median round-trip time including fault delay.
    pub fn median_rtt(&self) -> f64 {
        self.rtt + self.extra_delay
    }

    /// One round-trip time draw (never below 20 % of the median: light has a speed).
    pub fn sample_rtt(&self, rng: &mut Rng) -> f64 {
        let m = self.median_rtt();
        rng.normal(m, self.jitter).max(0.2 * m)
    }

    /// One exchange of one round trip: its time, or `None` when it gave up after repeated loss.
    pub fn exchange(&self, rng: &mut Rng) -> Option<f64> {
        let loss = self.total_loss();
        let mut time = 0.0;
        for _ in 0..MAX_LOSSES {
            if !rng.bernoulli(loss) {
                return Some(time + self.sample_rtt(rng));
            }
            time += RTO;
        }
        None
    }

    /// Probability that a request of `round_trips` exchanges meets no loss at all; anything
    /// else costs at least one retransmission timeout, which users experience as a failure.
    pub fn clean_probability(&self, round_trips: u32) -> f64 {
        (1.0 - self.total_loss()).powi(round_trips as i32)
    }
}

/// All paths: per location, `[v6, v4]`, and whether the location's agent reports.
#[derive(Debug, Clone)]
pub struct Network {
    names: Vec<String>,
    paths: Vec<[Path; 2]>,
    silent: Vec<bool>,
}

/// Index of a family in the `[v6, v4]` pair.
pub fn family_index(f: IpFamily) -> usize {
    match f {
        IpFamily::V6 => 0,
        IpFamily::V4 => 1,
    }
}

impl Network {
    /// The network of a scenario.
    pub fn new(locations: &[LocationSpec]) -> Self {
        let path = |p: &crate::sim::scenario::PathSpec| Path {
            rtt: p.rtt.secs(),
            jitter: p.jitter.secs(),
            loss: p.loss.fraction(),
            extra_delay: 0.0,
            extra_loss: 0.0,
        };
        Self {
            names: locations.iter().map(|l| l.name.clone()).collect(),
            paths: locations
                .iter()
                .map(|l| [path(&l.v6), path(l.v4.as_ref().unwrap_or(&l.v6))])
                .collect(),
            silent: vec![false; locations.len()],
        }
    }

    /// Location names, in scenario order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The index of a location by name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The path from location `loc` over `family`.
    pub fn path(&self, loc: usize, family: IpFamily) -> &Path {
        &self.paths[loc][family_index(family)]
    }

    /// Adds (or with negative values removes) a fault's delay and loss on a location's paths.
    pub fn degrade(&mut self, loc: usize, family: Option<IpFamily>, delay: f64, loss: f64, on: bool) {
        for (i, p) in self.paths[loc].iter_mut().enumerate() {
            if family.is_some_and(|f| family_index(f) != i) {
                continue;
            }
            if on {
                p.extra_delay += delay;
                p.extra_loss = 1.0 - (1.0 - p.extra_loss) * (1.0 - loss);
            } else {
                p.extra_delay = (p.extra_delay - delay).max(0.0);
                // Undo the independent-loss combination; a fully broken path (loss 1) is reset.
                p.extra_loss = if loss >= 1.0 {
                    0.0
                } else {
                    1.0 - (1.0 - p.extra_loss) / (1.0 - loss)
                }
                .max(0.0);
            }
        }
    }

    /// Marks a location's agent as silent or reporting.
    pub fn set_silent(&mut self, loc: usize, silent: bool) {
        self.silent[loc] = silent;
    }

    /// Whether a location's agent is silent.
    pub fn is_silent(&self, loc: usize) -> bool {
        self.silent[loc]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_path_gives_up_and_a_clean_one_answers_near_its_median() {
        let mut rng = Rng::new(3);
        let mut p = Path {
            rtt: 0.02,
            jitter: 0.002,
            loss: 0.0,
            extra_delay: 0.0,
            extra_loss: 0.0,
        };
        let t = p.exchange(&mut rng).unwrap();
        assert!((0.01..0.03).contains(&t));
        p.extra_loss = 1.0;
        assert_eq!(p.exchange(&mut rng), None);
        assert_eq!(p.clean_probability(3), 0.0);
    }
}
