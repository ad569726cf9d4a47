//! sloop keeps web services on OpenStack inside their service-level objectives.
//!
//! ```text
//!  policy ─┐
//!  observe ┴─► snapshot ─► judge ─► plan ─► act        (decide = judge + plan, pure)
//! ```
//!
//! Pure modules (no IO, no clock reads): `document`, `policy`, `snapshot`, `judge`, `plan`,
//! `decide`, `sim::world`, `sim::load`. IO lives in `observe`, `act`, `reconcile`, `cli`.
#![forbid(unsafe_code)]

pub mod act;
pub mod agent;
pub mod cli;
pub mod clock;
pub mod cloud;
pub mod decide;
pub mod decision;
pub mod document;
pub mod history;
pub mod ingest;
pub mod journal;
pub mod judge;
pub mod k8s;
pub mod observe;
pub mod plan;
pub mod policy;
pub mod reconcile;
pub mod redact;
pub mod replay;
pub mod resolve;
pub mod run;
pub mod serve;
pub mod sim;
pub mod snapshot;
