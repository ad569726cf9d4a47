//! The one place that reads a clock.
//!
//! Everything else receives time as an argument (`now`), so the decision core is a pure function
//! and the simulator can run a day in a second. `clippy.toml` forbids clock reads elsewhere.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, as the decision core counts time.
pub type Timestamp = f64;

/// A source of time for the IO side of the program.
pub trait Clock: Send + Sync {
    /// Wall-clock time as seconds since the Unix epoch.
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }
}

/// A monotonic stopwatch for measuring how long IO took (probes, API calls, benchmarks).
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    /// Starts measuring.
    #[allow(clippy::disallowed_methods)]
    pub fn start() -> Self {
        Self(Instant::now())
    }

    /// Time since `start`.
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    /// Time from `earlier` to this stopwatch's start (zero if `earlier` started later). Taking one
    /// stopwatch per phase boundary makes consecutive phases add up exactly to the total.
    pub fn since(&self, earlier: Stopwatch) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }
}

/// The monotonic instant tokio's timers run on, for schedulers (`sleep_until`). Under
/// `#[tokio::test(start_paused = true)]` it is the paused test clock.
#[allow(clippy::disallowed_methods)]
pub fn timer_now() -> tokio::time::Instant {
    tokio::time::Instant::now()
}

/// Simulated time that runs `speed` times faster than real time from `start` (a live demo of a
/// scenario: `sloop run --cloud sim --speed 60` plays an hour a minute).
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    start: Timestamp,
    speed: f64,
    since: Stopwatch,
}

impl ScaledClock {
    /// A clock that reads `start` now and advances `speed` simulated seconds per real second.
    pub fn new(start: Timestamp, speed: f64) -> Self {
        Self {
            start,
            speed: speed.max(0.0),
            since: Stopwatch::start(),
        }
    }

    /// Simulated seconds per real second.
    pub fn speed(&self) -> f64 {
        self.speed
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        self.start + self.since.elapsed().as_secs_f64() * self.speed
    }
}
