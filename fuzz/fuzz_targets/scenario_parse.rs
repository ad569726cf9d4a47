//! Any bytes through the scenario parser (and the CSV load-trace parser): `Ok` or located
//! errors, never a panic, a hang or unbounded memory. Seed the corpus with
//! `policies/scenarios/*.yaml` and `*.csv`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(errors) = sloop::sim::parse_scenario("fuzz.yaml", data) {
        for e in &errors {
            assert!(e.pos.line >= 1 && e.pos.col >= 1, "unlocated error: {e:?}");
            assert!(!e.message.is_empty(), "unexplained error: {e:?}");
        }
    }
    let text = String::from_utf8_lossy(data);
    if let Err(errors) = sloop::sim::scenario::parse_trace("fuzz.csv", &text, 0.0) {
        for e in &errors {
            assert!(e.pos.line >= 1 && e.pos.col >= 1, "unlocated error: {e:?}");
        }
    }
});
