//! Any bytes through the policy parser: it must return `Ok` or located errors, never panic,
//! hang or exhaust memory. Seed the corpus with `policies/*.yaml` and the invalid cases.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(errors) = sloop::policy::parse("fuzz.yaml", data) {
        for e in &errors {
            assert!(e.pos.line >= 1 && e.pos.col >= 1, "unlocated error: {e}");
            assert!(
                !e.message.is_empty() && !e.hint.is_empty(),
                "unexplained error: {e:?}"
            );
        }
    }
});
