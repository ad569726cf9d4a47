//! The decision core and the simulator's world stay pure: no IO, no clock, no runtime. Clippy
//! forbids clock reads outside src/clock.rs; this test also keeps IO crates and modules out of
//! the files that must be replayable.

use std::path::Path;

const PURE: &[&str] = &[
    "src/decide.rs",
    "src/decision.rs",
    "src/resolve.rs",
    "src/resolve",
    "src/history.rs",
    "src/history",
    "src/snapshot.rs",
    "src/snapshot",
    "src/judge.rs",
    "src/judge",
    "src/plan.rs",
    "src/plan",
    "src/document.rs",
    "src/document",
    "src/policy/model.rs",
    "src/policy/model",
    "src/policy/validate.rs",
    "src/policy/units.rs",
    "src/policy/explain.rs",
    "src/policy/openslo.rs",
    "src/sim/world.rs",
    "src/sim/load.rs",
    "src/sim/network.rs",
    "src/sim/lifecycle.rs",
    "src/sim/faults.rs",
    "src/sim/truth.rs",
    "src/sim/rng.rs",
    "src/sim/report.rs",
    "src/sim/decider.rs",
    "src/sim/baseline",
];

const FORBIDDEN: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "std::thread",
    "tokio",
    "reqwest",
    "Instant::now",
    "SystemTime",
    "thread_rng",
];

fn files(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            files(&e.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|x| x == "rs") {
        out.push(path.to_owned());
    }
}

#[test]
fn pure_modules_do_no_io_and_read_no_clock() {
    let mut all = Vec::new();
    for p in PURE {
        let path = Path::new(p);
        assert!(path.exists(), "{p} listed as pure but missing");
        files(path, &mut all);
    }
    let mut offences = Vec::new();
    for f in &all {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for bad in FORBIDDEN {
                if code.contains(bad) {
                    offences.push(format!("{}:{}: {bad}", f.display(), n + 1));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "IO or clock in pure code:\n{}",
        offences.join("\n")
    );
}
