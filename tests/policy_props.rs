//! Properties of the policy parser: it never panics on anything an admin (or an attacker) can
//! put in a file, every error it reports is located and explained, and a valid policy survives
//! a serialise/parse round trip unchanged.

#[path = "support/mutate.rs"]
mod mutate;

use mutate::{Mutation, apply, mutation};
use proptest::prelude::*;
use sloop::policy::{Policy, PolicyError, parse};

const EXAMPLES: [&str; 3] = [
    include_str!("../policies/election-web.yaml"),
    include_str!("../policies/minimal.yaml"),
    include_str!("../policies/reference.yaml"),
];

fn config() -> ProptestConfig {
    // Modest, so the suite stays fast on a 2-core machine; the fuzz target digs deeper.
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn assert_located(errors: &[PolicyError]) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty(), "an Err carries at least one problem");
    for e in errors {
        prop_assert!(e.pos.line >= 1 && e.pos.col >= 1, "unlocated: {e}");
        prop_assert!(!e.message.trim().is_empty(), "no message: {e:?}");
        prop_assert!(!e.hint.trim().is_empty(), "no hint: {e}");
        prop_assert_eq!(&e.file, "p.yaml");
    }
    Ok(())
}

fn check_any(bytes: &[u8]) -> Result<(), TestCaseError> {
    match parse("p.yaml", bytes) {
        Ok(_) => Ok(()),
        Err(errors) => assert_located(&errors),
    }
}

/// Scalars that break parsers: empty, YAML specials, huge numbers, anchors, tabs, unicode.
fn nasty_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("~".to_owned()),
        Just("null".to_owned()),
        Just("-1".to_owned()),
        Just("99999999999999999999999".to_owned()),
        Just("1e309".to_owned()),
        Just("NaN".to_owned()),
        Just(".inf".to_owned()),
        Just("*undefined".to_owned()),
        Just("&a [*a]".to_owned()),
        Just("{".to_owned()),
        Just("[1, [2, [3".to_owned()),
        Just("\"unterminated".to_owned()),
        Just("0.0000001s".to_owned()),
        Just("18446744073709551616ms".to_owned()),
        Just("100.0000000001%".to_owned()),
        Just("9999-99-99T99:99:99+99:99".to_owned()),
        Just("1e400GiB".to_owned()),
        Just("\t".to_owned()),
        Just("ä€𝄞".to_owned()),
        "[ -~]{0,20}",
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic_and_errors_are_located(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_any(&bytes)?;
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[ -~\n\t]{0,400}") {
        check_any(text.as_bytes())?;
    }

    #[test]
    fn mutated_example_policies_never_panic_and_errors_are_located(
        example in 0..EXAMPLES.len(),
        mutations in proptest::collection::vec(mutation(nasty_scalar().boxed()), 1..4),
    ) {
        check_any(&apply(EXAMPLES[example], &mutations))?;
    }

    #[test]
    fn valid_policies_round_trip_through_serialisation(
        min in 1u32..5,
        extra in 0u32..50,
        percentile in prop_oneof![Just("50"), Just("90"), Just("95"), Just("99")],
        threshold_ms in 50u32..5000,
        target in prop_oneof![Just("99%"), Just("99.5%"), Just("99.9%"), Just("99.95%")],
        interval_s in 1u32..6,
        mode in prop_oneof![Just("enforce"), Just("dry-run")],
        family in prop_oneof![Just("v6"), Just("v4"), Just("both")],
        util in 10u32..95,
    ) {
        let text = format!(
            "apiVersion: sloop/v1\nkind: ServicePolicy\nmetadata:\n  name: prop\nspec:\n  mode: {mode}\n  group:\n    cloud: sim\n    selector: {{sloop.group: prop}}\n    template:\n      image: img\n      flavor: m1.small\n      networks: [{{network: net, family: {family}}}]\n    size: {{min: {min}, max: {max}}}\n  traffic: {{loadBalancer: lb, pool: pool, listenerPort: 443, memberPort: 80}}\n  probes:\n    - name: site\n      http: {{url: https://prop.example.org/}}\n      interval: {interval_s}s\n      timeout: 1s\n      family: {family}\n      locations: [local, fra, ams]\n      perInstance: true\n  objectives:\n    - name: latency\n      latency: {{probe: site, percentile: {percentile}, threshold: {threshold_ms}ms, window: 30m, quorum: 3}}\n    - name: availability\n      availability: {{probe: site, target: \"{target}\"}}\n  scaling:\n    targetUtilization: {util}%\n    latencyObjective: latency\n",
            max = min + extra,
        );
        let policy = parse("p.yaml", text.as_bytes()).map_err(|e| TestCaseError::fail(format!("generated policy is invalid: {e:?}\n{text}")))?;
        round_trip(&policy)?;
    }
}

fn round_trip(policy: &Policy) -> Result<(), TestCaseError> {
    let yaml = serde_saphyr::to_string(policy).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let again = parse("p.yaml", yaml.as_bytes())
        .map_err(|e| TestCaseError::fail(format!("serialised policy does not parse: {e:?}\n{yaml}")))?;
    prop_assert_eq!(policy, &again, "round trip changed the policy:\n{}", yaml);
    Ok(())
}

#[test]
fn example_policies_round_trip_through_serialisation() {
    for text in EXAMPLES {
        let policy = parse("p.yaml", text.as_bytes()).expect("examples are valid");
        round_trip(&policy).expect("round trip");
    }
}

#[test]
fn the_mutator_really_breaks_policies() {
    // Guards the property above against a mutator that silently does nothing.
    let broken = apply(EXAMPLES[1], &[Mutation::ReplaceValue(6, "{".into())]);
    assert!(
        parse("p.yaml", &broken).is_err(),
        "{}",
        String::from_utf8_lossy(&broken)
    );
    let deleted = apply(EXAMPLES[1], &[Mutation::DeleteLine(0), Mutation::Truncate(3)]);
    assert_eq!(String::from_utf8_lossy(&deleted).lines().count(), 3);
}
