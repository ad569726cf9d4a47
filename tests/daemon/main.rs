//! The daemon's IO: probes, agents and ingest, the HTTP server, Kubernetes, `sloop run`.
//!
//! One test binary for many files: each binary links the whole dependency graph, so the
//! files under `tests/` are modules of a few binaries (declared in Cargo.toml) rather than a
//! binary each. Run one file's tests with `cargo test --test <binary> <file>::`.

// Fixtures several files share, declared once.
#[path = "../agent_support/mod.rs"]
mod agent_support;
#[path = "../support/fake_k8s.rs"]
mod fake_k8s;
#[path = "../probe_support/server.rs"]
mod server;
// Support shared with the benchmarks (`sloop-bench`), outside the product.
#[path = "../../src/testkit/mod.rs"]
mod testkit;

#[path = "../agent_process.rs"]
mod agent_process;
#[path = "../agent_stale.rs"]
mod agent_stale;
#[path = "../agent_tls.rs"]
mod agent_tls;
#[path = "../k8s_events.rs"]
mod k8s_events;
#[path = "../k8s_lease.rs"]
mod k8s_lease;
#[path = "../k8s_policies.rs"]
mod k8s_policies;
#[path = "../k8s_run.rs"]
mod k8s_run;
#[path = "../probe_http.rs"]
mod probe_http;
#[path = "../probe_run_cloud.rs"]
mod probe_run_cloud;
#[path = "../probe_schedule.rs"]
mod probe_schedule;
#[path = "../probe_tcp.rs"]
mod probe_tcp;
#[path = "../probe_tls.rs"]
mod probe_tls;
#[path = "../prometheus_source.rs"]
mod prometheus_source;
#[path = "../run_controller.rs"]
mod run_controller;
#[path = "../run_interrupted.rs"]
mod run_interrupted;
#[path = "../serve_http.rs"]
mod serve_http;
#[path = "../serve_viewer.rs"]
mod serve_viewer;
