//! An optional record of every reconcile pass's timing, for `sloop-bench ingest`: when each pass
//! started, how late that was against its schedule, how long it took and how many probe samples
//! its snapshot held. Bounded: past
//! [`TICK_LOG_CAP`] entries new ones are dropped (a benchmark reads it long before that).

use crate::snapshot::Time;
use std::sync::{Arc, Mutex};

/// Entries kept at most.
pub const TICK_LOG_CAP: usize = 1 << 20;

/// One pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TickTiming {
    /// Policy clock when the pass started.
    pub at: Time,
    /// How long after its scheduled instant the pass started (seconds); `None` for a pass woken
    /// early by new evidence.
    pub late: Option<f64>,
    /// How long the pass took (seconds, observe to publish, actions included).
    pub took: f64,
    /// Probe samples in the pass's snapshot (service windows and per-instance recents): what
    /// the decision core had to judge. 0 for a pass whose observation failed, and for steps of
    /// a simulated world.
    pub judged: usize,
}

/// A shared, bounded list of pass timings.
#[derive(Debug, Clone, Default)]
pub struct TickLog(Arc<Mutex<Vec<TickTiming>>>);

impl TickLog {
    /// Appends one pass (dropped when full).
    pub fn push(&self, t: TickTiming) {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if v.len() < TICK_LOG_CAP {
            v.push(t);
        }
    }

    /// Every pass recorded so far.
    pub fn entries(&self) -> Vec<TickTiming> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
