//! The IO seam through which sloop reads the world: inventory, telemetry, load and probes,
//! each a capability trait ([`sources`]), folded into one [`Snapshot`](crate::snapshot::Snapshot)
//! per tick by the one observe stage ([`collect::Collector`]), which also holds the freshness
//! rule. Collectors never decide anything.

pub mod collect;
pub mod load;
pub mod metrics;
pub mod probe;
pub mod probes;
pub mod rates;
pub mod sources;
pub mod store;
pub mod view;

pub use collect::Collector;
pub use probes::Probes;
pub use sources::{Inventory, Listing, LoadSource, NoProbes, ProbeSource, Sources, TelemetrySource};

/// Why an observation could not be made at all (partial data is reported inside the snapshot).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObserveError {
    /// The inventory could not be listed; without it nothing may be decided.
    #[error("inventory unavailable: {0}")]
    Inventory(String),
}
