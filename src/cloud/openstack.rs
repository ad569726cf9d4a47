//! OpenStack: Keystone auth from clouds.yaml, Nova servers, Octavia members and Gnocchi
//! telemetry, behind the same traits the simulator implements, so `Reconciler::tick` drives a
//! real cloud unchanged.
//!
//! ```text
//!  config ─► session (auth, retry, breaker) ─┬─ nova ─────┐
//!                                            ├─ octavia ──┼─► Listing, readings  (Inventory, TelemetrySource)
//!                                            └─ gnocchi ──┘   actions ◄── executor (Compute, Traffic)
//! ```
//!
//! The observe stage (`observe::Collector`) turns the listing and readings into a snapshot,
//! with the run loop's probes beside them.

mod backend;
pub mod breaker;
pub mod config;
pub mod errors;
pub mod gnocchi;
pub mod hypervisors;
pub mod inventory;
pub mod metrics;
pub mod nova;
pub mod octavia;
pub mod prometheus;
pub mod readings;
pub mod request;
pub mod resolve;
pub mod session;

pub use backend::{CloudOptions, OpenStackCloud};
