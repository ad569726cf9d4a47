//! The IO seam through which sloop reads the world: probes, telemetry and inventory, folded
//! into one [`Snapshot`] per tick. Collectors never decide anything.

pub mod load;
pub mod metrics;
pub mod probe;
pub mod rates;
pub mod store;
pub mod view;

use crate::snapshot::{Snapshot, Time};
use std::future::Future;

/// Why an observation could not be made at all (partial data is reported inside the snapshot).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObserveError {
    /// The inventory could not be listed; without it nothing may be decided.
    #[error("inventory unavailable: {0}")]
    Inventory(String),
}

/// Produces the snapshot the decision core judges.
pub trait Observe {
    /// Everything observed up to `now`.
    fn observe(&mut self, now: Time) -> impl Future<Output = Result<Snapshot, ObserveError>> + Send;
}
