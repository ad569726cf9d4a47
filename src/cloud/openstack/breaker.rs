//! When to try an API call again, and when to stop calling a sick API at all. Pure: time and
//! randomness come in as arguments, so the rules are table-tested without a clock.

use super::errors::ErrorClass;
use std::time::Duration;

/// Retry limits for one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all (the first call included) for 5xx and transport failures.
    pub attempts: u32,
    /// First backoff delay.
    pub base: Duration,
    /// Longest backoff delay, and the longest `Retry-After` we wait out in-line.
    pub max_delay: Duration,
    /// Attempts in all for 409 on calls that may retry conflicts (Octavia `PENDING_*`).
    pub conflict_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            base: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            conflict_attempts: 20,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Give up and report the error.
    GiveUp,
}

/// The decision after attempt number `attempt` (1-based) failed with `class`. `idempotent`
/// calls may be repeated after an ambiguous failure (5xx, timeout); a server create may not,
/// because it may have happened: the next inventory finds it by its `sloop.action` key.
/// `jitter` is uniform in [0, 1).
pub fn next(
    p: &RetryPolicy,
    class: ErrorClass,
    attempt: u32,
    idempotent: bool,
    retry_conflict: bool,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Next {
    match class {
        ErrorClass::Server | ErrorClass::Transport if idempotent && attempt < p.attempts => {
            Next::RetryAfter(backoff(p, attempt, jitter))
        }
        ErrorClass::Conflict if retry_conflict && attempt < p.conflict_attempts => {
            Next::RetryAfter(backoff(p, attempt.min(3), jitter))
        }
        ErrorClass::RateLimited if attempt < p.attempts => match retry_after {
            Some(d) if d <= p.max_delay => Next::RetryAfter(d),
            Some(_) => Next::GiveUp,
            None => Next::RetryAfter(backoff(p, attempt, jitter)),
        },
        _ => Next::GiveUp,
    }
}

/// Exponential backoff with "equal jitter": half the delay is fixed, half random, so retries of
/// many callers spread out but none retries immediately.
pub fn backoff(p: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let exp = p.base.as_secs_f64() * 2f64.powi(attempt.saturating_sub(1).min(20) as i32);
    let capped = exp.min(p.max_delay.as_secs_f64());
    Duration::from_secs_f64(capped * (0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
}

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerPolicy {
    /// Failed calls in a row (after their retries) that open the breaker.
    pub failures: u32,
    /// How long it stays open before one trial call is let through.
    pub open_for: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failures: 3,
            open_for: Duration::from_secs(30),
        }
    }
}

/// The state of one API's breaker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BreakerState {
    /// Calls go through; `failures` in a row so far.
    Closed {
        /// Consecutive failed calls.
        failures: u32,
    },
    /// Calls fail at once until `until` (seconds since the epoch).
    Open {
        /// When a trial call may go through.
        until: f64,
    },
    /// One trial call is under way; its result closes or re-opens the breaker.
    HalfOpen,
}

/// A circuit breaker for one API, so a dead service is not hammered every tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Breaker {
    policy: BreakerPolicy,
    state: BreakerState,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(policy: BreakerPolicy) -> Self {
        Self {
            policy,
            state: BreakerState::Closed { failures: 0 },
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether a call may be made at `now`; `Err(seconds)` says how long it stays open.
    pub fn allow(&mut self, now: f64) -> Result<(), f64> {
        match self.state {
            BreakerState::Open { until } if now < until => Err(until - now),
            BreakerState::Open { .. } => {
                self.state = BreakerState::HalfOpen;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Records the outcome of a call made at `now`: `healthy` is false only for outages
    /// (5xx, transport), since a 404 or 409 proves the API is up.
    pub fn record(&mut self, now: f64, healthy: bool) {
        self.state = match (self.state, healthy) {
            (_, true) => BreakerState::Closed { failures: 0 },
            (BreakerState::HalfOpen, false) => self.open(now),
            (BreakerState::Closed { failures }, false) if failures + 1 >= self.policy.failures => {
                self.open(now)
            }
            (BreakerState::Closed { failures }, false) => BreakerState::Closed {
                failures: failures + 1,
            },
            (open @ BreakerState::Open { .. }, false) => open,
        };
    }

    fn open(&self, now: f64) -> BreakerState {
        BreakerState::Open {
            until: now + self.policy.open_for.as_secs_f64(),
        }
    }

    /// `closed`, `open` or `half-open`, for metrics and reasons.
    pub fn label(&self) -> &'static str {
        match self.state {
            BreakerState::Closed { .. } => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered_within_half_to_full() {
        let p = RetryPolicy::default();
        assert_eq!(ms(backoff(&p, 1, 0.0)), 125);
        assert_eq!(ms(backoff(&p, 1, 1.0)), 250);
        assert_eq!(ms(backoff(&p, 3, 1.0)), 1000);
        assert_eq!(ms(backoff(&p, 30, 1.0)), 10_000, "capped at max_delay");
        assert_eq!(ms(backoff(&p, 30, 0.0)), 5_000, "never less than half");
    }

    #[test]
    fn retry_decisions_follow_the_error_classes() {
        let p = RetryPolicy::default();
        let s = Duration::from_secs;
        struct Case {
            why: &'static str,
            class: ErrorClass,
            attempt: u32,
            idempotent: bool,
            conflict: bool,
            retry_after: Option<Duration>,
            retries: bool,
        }
        let cases = [
            Case {
                why: "5xx on a GET backs off",
                class: ErrorClass::Server,
                attempt: 1,
                idempotent: true,
                conflict: false,
                retry_after: None,
                retries: true,
            },
            Case {
                why: "5xx is bounded",
                class: ErrorClass::Server,
                attempt: 3,
                idempotent: true,
                conflict: false,
                retry_after: None,
                retries: false,
            },
            Case {
                why: "a create is never repeated blindly",
                class: ErrorClass::Transport,
                attempt: 1,
                idempotent: false,
                conflict: false,
                retry_after: None,
                retries: false,
            },
            Case {
                why: "Octavia 409 waits out PENDING_*",
                class: ErrorClass::Conflict,
                attempt: 5,
                idempotent: true,
                conflict: true,
                retry_after: None,
                retries: true,
            },
            Case {
                why: "Nova 409 is retried next tick",
                class: ErrorClass::Conflict,
                attempt: 1,
                idempotent: true,
                conflict: false,
                retry_after: None,
                retries: false,
            },
            Case {
                why: "429 honours Retry-After",
                class: ErrorClass::RateLimited,
                attempt: 1,
                idempotent: false,
                conflict: false,
                retry_after: Some(s(2)),
                retries: true,
            },
            Case {
                why: "a Retry-After beyond the cap gives up",
                class: ErrorClass::RateLimited,
                attempt: 1,
                idempotent: true,
                conflict: false,
                retry_after: Some(s(600)),
                retries: false,
            },
            Case {
                why: "quota never retries",
                class: ErrorClass::Quota,
                attempt: 1,
                idempotent: true,
                conflict: true,
                retry_after: None,
                retries: false,
            },
            Case {
                why: "403 never retries",
                class: ErrorClass::Forbidden,
                attempt: 1,
                idempotent: true,
                conflict: true,
                retry_after: None,
                retries: false,
            },
            Case {
                why: "404 refreshes inventory instead",
                class: ErrorClass::NotFound,
                attempt: 1,
                idempotent: true,
                conflict: true,
                retry_after: None,
                retries: false,
            },
        ];
        for c in cases {
            let got = next(
                &p,
                c.class,
                c.attempt,
                c.idempotent,
                c.conflict,
                c.retry_after,
                0.5,
            );
            assert_eq!(matches!(got, Next::RetryAfter(_)), c.retries, "{}", c.why);
        }
        assert_eq!(
            next(&p, ErrorClass::RateLimited, 1, true, false, Some(s(2)), 0.9),
            Next::RetryAfter(s(2)),
            "the server's delay, not ours"
        );
    }

    #[test]
    fn breaker_opens_after_consecutive_outages_and_recovers_through_one_trial() {
        let mut b = Breaker::new(BreakerPolicy {
            failures: 3,
            open_for: Duration::from_secs(30),
        });
        for t in [0.0, 1.0] {
            assert!(b.allow(t).is_ok());
            b.record(t, false);
        }
        assert_eq!(b.label(), "closed");
        b.record(2.0, false);
        assert_eq!(b.label(), "open");
        assert_eq!(
            b.allow(12.0),
            Err(20.0),
            "refuses while open and says for how long"
        );
        assert!(b.allow(32.0).is_ok(), "one trial after open_for");
        assert_eq!(b.label(), "half-open");
        b.record(32.0, false);
        assert!(
            matches!(b.state(), BreakerState::Open { until } if until == 62.0),
            "a failed trial re-opens"
        );
        assert!(b.allow(62.5).is_ok());
        b.record(62.5, true);
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let mut b = Breaker::new(BreakerPolicy::default());
        b.record(0.0, false);
        b.record(1.0, false);
        b.record(2.0, true);
        b.record(3.0, false);
        b.record(4.0, false);
        assert_eq!(b.label(), "closed");
    }
}
