//! Bad input: mutated scenario files (and CSV load traces) through the scenario parser, and
//! mutated agent result batches through the ingest decoding and validation. They must return
//! a value or located, explained errors, never panic. The cargo-fuzz targets
//! `fuzz/fuzz_targets/{scenario_parse,ingest_payload}.rs` dig deeper (README, "Safety
//! guarantees").

#[path = "../support/mutate.rs"]
mod mutate;

use mutate::{apply, mutation};
use proptest::prelude::*;
use sloop::{
    document::Diagnostic,
    ingest::{batch::validate, wire::Batch},
    sim::{parse_scenario, scenario::parse_trace},
};

const SCENARIOS: [&str; 4] = [
    include_str!("../../policies/scenarios/election-night.yaml"),
    include_str!("../../policies/scenarios/instance-crash.yaml"),
    include_str!("../../policies/scenarios/noisy-neighbour.yaml"),
    include_str!("../../policies/scenarios/csv-trace.yaml"),
];
const TRACE: &str = include_str!("../../policies/scenarios/csv-trace.csv");

fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("~".to_owned()),
        Just("-1".to_owned()),
        Just("1e309".to_owned()),
        Just("NaN".to_owned()),
        Just("99999999999h".to_owned()),
        Just("0s".to_owned()),
        Just("-5m".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("&a [*a, *a]".to_owned()),
        Just("{".to_owned()),
        Just("9999-99-99T99:99:99+99:99".to_owned()),
        Just("200%".to_owned()),
        Just("ä€𝄞".to_owned()),
        "[ -~]{0,16}",
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
    ]
}

fn located(file: &str, errors: &[Diagnostic]) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty(), "an Err carries at least one problem");
    for e in errors {
        prop_assert!(e.pos.line >= 1 && e.pos.col >= 1, "unlocated: {e:?}");
        prop_assert!(!e.message.trim().is_empty(), "no message: {e:?}");
        prop_assert_eq!(&e.file, file);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_parse_or_fail_with_located_errors(
        which in 0usize..SCENARIOS.len(),
        mutations in proptest::collection::vec(mutation(nasty().boxed()), 1..5),
    ) {
        let bytes = apply(SCENARIOS[which], &mutations);
        if let Err(errors) = parse_scenario("s.yaml", &bytes) {
            located("s.yaml", &errors)?;
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_scenario_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Err(errors) = parse_scenario("s.yaml", &bytes) {
            located("s.yaml", &errors)?;
        }
    }

    #[test]
    fn mutated_load_traces_parse_or_fail_with_located_errors(
        mutations in proptest::collection::vec(mutation(nasty().boxed()), 1..5),
    ) {
        let bytes = apply(TRACE, &mutations);
        let text = String::from_utf8_lossy(&bytes);
        if let Err(errors) = parse_trace("t.csv", &text, 0.0) {
            located("t.csv", &errors)?;
        }
    }

    #[test]
    fn mutated_agent_batches_decode_and_validate_without_panic(
        mutations in proptest::collection::vec(mutation(nasty().boxed()), 1..5),
    ) {
        let bytes = apply(BATCH, &mutations);
        if let Ok(batch) = serde_json::from_slice::<Batch>(&bytes) {
            let _ = validate(&batch, 10_000);
        }
    }
}

/// A valid batch, pretty-printed so line mutations hit single fields.
const BATCH: &str = r#"{
  "sent_at": 1790000000.5,
  "dropped_total": 0,
  "series": [
    {
      "policy": "election-web",
      "probe": "site",
      "family": "v6",
      "samples": [
        {
          "at": 1790000000.1,
          "latency": 0.12,
          "ok": true
        },
        {
          "at": 1790000010.1,
          "latency": 2.0,
          "ok": false,
          "failure": "timeout"
        }
      ]
    },
    {
      "policy": "election-web",
      "probe": "instance",
      "family": "v6",
      "instance": "vm-1",
      "samples": [
        {
          "at": 1790000000.3,
          "latency": 0.04,
          "ok": true
        }
      ]
    }
  ]
}"#;

#[test]
fn the_batch_template_is_valid() {
    let batch: Batch = serde_json::from_str(BATCH).expect("template decodes");
    assert!(
        matches!(validate(&batch, 10_000), Ok(3)),
        "{:?}",
        validate(&batch, 10_000)
    );
}
