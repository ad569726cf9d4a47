//! The simulator: an in-process OpenStack-like world that the real reconcile loop runs against.
//!
//! ```text
//!  scenario.yaml ─► Scenario ─► World (pure: hosts, VMs, load, queues, faults, truth)
//!                                  ▲ step(dt)          │ probe samples, telemetry counters
//!                                  │                   ▼
//!                 Compute/Traffic ─┴── SimCloud ──► observe::Collector ─► Snapshot ─► decide
//! ```
//!
//! Pure: `rng`, `load`, `network`, `world`, `lifecycle`, `faults`, `probe`, `truth` (time advances
//! only through `World::step`; randomness is seeded). `scenario` reads files only in
//! `load_scenario`; `driver` (with `telemetry`) adapts the world to the observe capabilities and
//! the act traits without real IO.

pub mod baseline;
pub mod decider;
pub mod driver;
pub mod explore;
pub mod faults;
pub mod lb_stats;
pub mod lifecycle;
pub mod listing;
pub mod load;
pub mod network;
pub mod probe;
pub mod rehearse;
pub mod report;
pub mod report_html;
pub mod rng;
pub mod scenario;
pub mod summary;
pub mod telemetry;
pub mod truth;
pub mod world;

pub use driver::SimCloud;
pub use faults::InjectedFault;
pub use scenario::{Scenario, load_scenario, parse_scenario};
pub use truth::{MinuteTruth, PathTruth, Truth};
pub use world::World;
