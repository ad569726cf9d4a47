//! OpenStack: Keystone auth from clouds.yaml, Nova servers, Octavia members and Gnocchi
//! telemetry, behind the same traits the simulator implements, so `Reconciler::tick` drives a
//! real cloud unchanged.
//!
//! ```text
//!  config ─► session (auth, retry, breaker) ─┬─ nova ─────┐
//!                                            ├─ octavia ──┼─► inventory ─► Snapshot   (Observe)
//!                                            └─ gnocchi ──┘   actions ◄── executor    (Compute, Traffic)
//! ```

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

pub use backend::{CloudOptions, OpenStackCloud, SharedProbeStore};
