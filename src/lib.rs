//! sloop keeps web services on OpenStack inside their service-level objectives.
//!
//! ```text
//!  policy ──────────────────────────┐
//!  observe (inventory, telemetry,   ▼
//!   load, probes) ─► snapshot ─► judge ─► plan ─► act     (decide = judge + plan, pure)
//! ```
//!
//! The decision core is pure (no IO, no clock reads, no unseeded randomness): `document`,
//! `policy`, `snapshot`, `history`, `judge`, `plan`, `decide`, `decision`, `resolve`, and the
//! simulator's world (`sim`). Around it:
//!
//! - `observe`: the capability traits (inventory, telemetry, load, probes) and the one
//!   `Collector` that turns them into a snapshot; the probe engine and store.
//! - `cloud`: the OpenStack backend (Keystone, Nova, Neutron, Octavia, Gnocchi, Prometheus).
//! - `act`: the executor that carries out actions, stamps and journals them; `journal`,
//!   `replay` and `redact` keep what happened, re-run it and keep secrets out of it.
//! - `reconcile`: one observe → decide → act pass; `run`: the long-running controller (tasks per
//!   policy, policy sources, leader election); `serve`: its HTTP server; `ingest` and `agent`:
//!   remote probe locations; `k8s`: Lease, ConfigMaps and Events.
//! - `cli`: the commands; `clock`: the one place that reads a clock.
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
