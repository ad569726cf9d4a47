//! The end-to-end suites against the OpenStack lab (`tests/lab/up.sh`), built only with
//! `--features e2e`.
//!
//! One binary for every suite: each binary links the whole dependency graph, so the suites are
//! modules of this one, and their shared helpers (`tests/e2e_support/`) are compiled once. The
//! suites share one lab and some share names on it (a policy, a load balancer): run one suite
//! at a time, selected by its module name, e.g.
//! `cargo test --features e2e --test e2e e2e_repair:: -- --nocapture`
//! (`.ci/run` runs each of its suites that way, in turn).
#![cfg(feature = "e2e")]

// Helpers shared by the suites (each suite `use`s the ones it needs).
#[path = "../e2e_support/fake_agents.rs"]
mod agents;
#[path = "../e2e_support/bodies.rs"]
mod bodies;
#[path = "../e2e_support/controller.rs"]
mod controller;
#[path = "../e2e_support/lab.rs"]
mod lab;
#[path = "../e2e_support/repairs.rs"]
mod repairs;
#[path = "../e2e_support/rig.rs"]
mod rig;
#[path = "../e2e_support/skew.rs"]
mod skew;
#[path = "../e2e_support/crash_world.rs"]
mod world;

// The suites.
#[path = "../e2e_bodies.rs"]
mod e2e_bodies;
#[path = "../e2e_crash.rs"]
mod e2e_crash;
#[path = "../e2e_heal_crash.rs"]
mod e2e_heal_crash;
#[path = "../e2e_openstack.rs"]
mod e2e_openstack;
#[path = "../e2e_paths.rs"]
mod e2e_paths;
#[path = "../e2e_pool_timing.rs"]
mod e2e_pool_timing;
#[path = "../e2e_repair.rs"]
mod e2e_repair;
#[path = "../e2e_surge.rs"]
mod e2e_surge;
