//! The reliability suite of issue 7: crash safety, API faults, fail-safe freezes, inert
//! dry-runs, bad input and secrets, each against the real reconcile loop, decision core and
//! executor. Every test prints its figures (`cargo test --test reliability -- --nocapture`,
//! and into `target/tmp/reliability-figures-PID.txt`).
//!
//! `SLOOP_RELIABILITY_SEEDS=N` multiplies the seeded runs of the crash and fault tests (the
//! long-running form documented in the README); the default keeps CI fast.

#[path = "../support/mod.rs"]
mod support;
// Support shared with the benchmarks (`sloop-bench`), outside the product.
#[path = "../../src/testkit/mod.rs"]
mod testkit;

mod adversarial;
mod adversarial_files;
mod api_faults;
mod bad_input;
mod check_secrets;
mod cloud;
mod converge;
mod crash;
mod dry_run;
mod flood;
mod freezes;
mod host_restarts;
mod interrupted;
mod ladder_restarts;
mod restarts;
mod secrets;

use sloop::{
    policy::{self, Policy},
    sim::{self, Scenario},
};
use std::path::Path;

/// The shipped election-web policy, loaded the way the CLI loads it.
pub fn policy() -> Policy {
    policy::load_file(Path::new("policies/election-web.yaml"))
        .expect("shipped policy is valid")
        .policy
}

/// A shipped scenario by name (`policies/scenarios/NAME.yaml`).
pub fn scenario(name: &str) -> Scenario {
    let path = format!("policies/scenarios/{name}.yaml");
    sim::load_scenario(Path::new(&path)).unwrap_or_else(|e| panic!("{path}: {e:?}"))
}

/// Election night from 17:00 to 23:00 with the surge squeezed (1 h plateau, 1 h decay): the
/// pre-warm, the ×15 scale-out after the polls close and the scale-in after it, without the
/// quiet day around it.
pub fn election_evening() -> Scenario {
    let text = std::fs::read_to_string("policies/scenarios/election-night.yaml").expect("shipped");
    let text = text
        .replace(
            "start: 2026-09-27T00:00:00+02:00",
            "start: 2026-09-27T17:00:00+02:00",
        )
        .replace("duration: 28h", "duration: 6h")
        .replace(
            "at: 18h, ramp: 20m, factor: 15, hold: 3h, decay: 2h",
            "at: 1h, ramp: 20m, factor: 15, hold: 1h, decay: 1h",
        );
    assert!(
        text.contains("17:00:00") && text.contains("hold: 1h,"),
        "election-night.yaml changed shape"
    );
    sim::parse_scenario("election-evening", text.as_bytes()).expect("shortened scenario parses")
}

/// Every shipped scenario name.
pub fn shipped_scenarios() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("policies/scenarios")
        .expect("policies/scenarios")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "yaml").then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

/// How many seeded runs a randomised test makes: `base` × `SLOOP_RELIABILITY_SEEDS` (default 1).
pub fn seeds(base: u64) -> u64 {
    let k = std::env::var("SLOOP_RELIABILITY_SEEDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1)
        .max(1);
    base * k
}

/// Prints one figure line in a greppable form, and appends it to
/// `target/tmp/reliability-figures-PID.txt`, which CI prints after `cargo test` (whose output
/// capture would otherwise hide the figures of passing tests).
pub fn figure(test: &str, text: &str) {
    use std::io::Write;
    let line = format!("[reliability] {test}: {text}");
    println!("{line}");
    let file = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("reliability-figures-{}.txt", std::process::id()));
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .and_then(|mut f| writeln!(f, "{line}"));
    if let Err(e) = appended {
        println!("[reliability] (could not append to {}: {e})", file.display());
    }
}
