//! The decision core, the policy language, the simulator and the CLI, tested from outside.
//!
//! One test binary for many files: each binary links the whole dependency graph, so the
//! files under `tests/` are modules of a few binaries (declared in Cargo.toml) rather than a
//! binary each. Run one file's tests with `cargo test --test <binary> <file>::`.

// Support shared with the benchmarks (`sloop-bench`), outside the product.
#[path = "../../src/testkit/mod.rs"]
mod testkit;

#[path = "../baseline_burn_rate.rs"]
mod baseline_burn_rate;
#[path = "../baseline_rehearse.rs"]
mod baseline_rehearse;
#[path = "../baseline_rules.rs"]
mod baseline_rules;
#[path = "../cli_pipe.rs"]
mod cli_pipe;
#[path = "../decide_table.rs"]
mod decide_table;
#[path = "../openslo_import.rs"]
mod openslo_import;
#[path = "../parity.rs"]
mod parity;
#[path = "../policy_examples.rs"]
mod policy_examples;
#[path = "../policy_invalid.rs"]
mod policy_invalid;
#[path = "../policy_props.rs"]
mod policy_props;
#[path = "../purity.rs"]
mod purity;
#[path = "../rehearse_scenarios.rs"]
mod rehearse_scenarios;
#[path = "../replay_log.rs"]
mod replay_log;
#[path = "../sim_driver.rs"]
mod sim_driver;
#[path = "../sim_speed.rs"]
mod sim_speed;
#[path = "../sim_world.rs"]
mod sim_world;

/// With `autotests = false`, a new file under `tests/` runs only once a binary names it: this
/// fails when one is left out, so no test file is silently never run.
#[test]
fn every_test_file_belongs_to_a_test_binary() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut declared = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    for binary in ["decisions", "daemon", "e2e"] {
        declared += &std::fs::read_to_string(root.join(format!("tests/{binary}/main.rs"))).expect("main.rs");
    }
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root.join("tests")).expect("tests/") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        if name.ends_with(".rs")
            && !declared.contains(&format!("\"tests/{name}\""))
            && !declared.contains(&format!("\"../{name}\""))
        {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "tests/ files no test binary runs (add them to tests/decisions/main.rs, tests/daemon/main.rs, tests/e2e/main.rs or a [[test]] in Cargo.toml): {missing:?}"
    );
}
