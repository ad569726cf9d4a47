//! Any bytes through the OpenSLO importer, which splits documents itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(errors) = sloop::policy::openslo::import("fuzz.yaml", data) {
        for e in &errors {
            assert!(e.pos.line >= 1 && e.pos.col >= 1, "unlocated error: {e}");
        }
    }
});
