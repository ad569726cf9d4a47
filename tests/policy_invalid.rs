//! `sloop check` against malformed policies, run through the built binary the way an admin
//! runs it: every case must exit 1, name `file:line:col`, give a hint, and print exactly what
//! the snapshot says. Each file in `tests/data/policies/invalid/` holds one problem, named by
//! its first line.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

const INVALID_DIR: &str = "tests/data/policies/invalid";

fn sloop(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sloop"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the sloop binary runs")
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `sloop check` on one invalid case and checks the contract every case shares.
fn check_invalid(file: &str) -> String {
    let rel = format!("{INVALID_DIR}/{file}");
    let out = sloop(&["check", &rel], repo());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{rel} should be rejected with exit 1; stderr:\n{stderr}"
    );
    let located =
        regex::Regex::new(&format!(r"(?m)^error: {}:\d+:\d+: ", regex::escape(&rel))).expect("valid regex");
    assert!(
        located.is_match(&stderr),
        "{rel}: no `file:line:col` in:\n{stderr}"
    );
    assert!(stderr.contains("\n  hint: "), "{rel}: no hint in:\n{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{rel}: nothing belongs on stdout when a check fails"
    );
    stderr
}

macro_rules! invalid {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                insta::assert_snapshot!(stringify!($test), check_invalid($file));
            }
        )*

        /// Every file in the invalid directory has a test above, so none is silently skipped.
        const CASES: &[&str] = &[$($file),*];
    };
}

invalid! {
    alias_bomb => "alias-bomb.yaml",
    bad_duration_bare_number => "bad-duration-bare-number.yaml",
    bad_duration_negative => "bad-duration-negative.yaml",
    bad_duration_unit => "bad-duration-unit.yaml",
    bad_percent_no_sign => "bad-percent-no-sign.yaml",
    bad_percent_over_100 => "bad-percent-over-100.yaml",
    bad_regex => "bad-regex.yaml",
    bad_size_unit => "bad-size-unit.yaml",
    bad_timestamp_impossible_date => "bad-timestamp-impossible-date.yaml",
    bad_timestamp_no_offset => "bad-timestamp-no-offset.yaml",
    binary_garbage => "binary-garbage.yaml",
    comments_only => "comments-only.yaml",
    dangling_healing_probe => "dangling-healing-probe.yaml",
    dangling_latency_objective => "dangling-latency-objective.yaml",
    dangling_objective_probe => "dangling-objective-probe.yaml",
    deep_nesting => "deep-nesting.yaml",
    drain_without_traffic => "drain-without-traffic.yaml",
    duplicate_key => "duplicate-key.yaml",
    empty => "empty.yaml",
    enum_typo_family => "enum-typo-family.yaml",
    enum_typo_rung => "enum-typo-rung.yaml",
    healing_probe_not_per_instance => "healing-probe-not-per-instance.yaml",
    invalid_policy_name => "invalid-policy-name.yaml",
    invalid_utf8 => "invalid-utf8.yaml",
    migrate_metric_not_hypervisor => "migrate-metric-not-hypervisor.yaml",
    min_greater_than_max => "min-greater-than-max.yaml",
    missing_required_field => "missing-required-field.yaml",
    multiple_documents => "multiple-documents.yaml",
    objective_sets_two_indicators => "objective-sets-two-indicators.yaml",
    percentile_out_of_range => "percentile-out-of-range.yaml",
    port_out_of_range => "port-out-of-range.yaml",
    probe_sets_two_checks => "probe-sets-two-checks.yaml",
    prometheus_without_url => "prometheus-without-url.yaml",
    quorum_exceeds_locations => "quorum-exceeds-locations.yaml",
    scalar_document => "scalar-document.yaml",
    schedule_ends_before_start => "schedule-ends-before-start.yaml",
    tab_indentation => "tab-indentation.yaml",
    timeout_longer_than_interval => "timeout-longer-than-interval.yaml",
    top_level_list => "top-level-list.yaml",
    typo_probe_field => "typo-probe-field.yaml",
    typo_snake_case => "typo-snake-case.yaml",
    typo_spec_level => "typo-spec-level.yaml",
    typo_template_level => "typo-template-level.yaml",
    unknown_field_top => "unknown-field-top.yaml",
    user_data_missing => "user-data-missing.yaml",
    vcpu_guard_without_flavor_size => "vcpu-guard-without-flavor-size.yaml",
    window_too_short_for_percentile => "window-too-short-for-percentile.yaml",
    wrong_api_version => "wrong-api-version.yaml",
    wrong_kind => "wrong-kind.yaml",
    wrong_type_list_for_scalar => "wrong-type-list-for-scalar.yaml",
    wrong_type_map_for_list => "wrong-type-map-for-list.yaml",
    wrong_type_quoted_number => "wrong-type-quoted-number.yaml",
    wrong_type_size_min => "wrong-type-size-min.yaml",
    yaml11_boolean => "yaml11-boolean.yaml",
    yaml_syntax_unclosed_quote => "yaml-syntax-unclosed-quote.yaml",
}

#[test]
fn every_invalid_file_has_a_case_and_there_are_enough() {
    let mut on_disk: Vec<String> = std::fs::read_dir(repo().join(INVALID_DIR))
        .expect("invalid dir exists")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "add a line to `invalid!` for each new file");
    assert!(
        CASES.len() >= 30,
        "the issue asks for a broad set of malformed policies"
    );
}

#[test]
fn each_invalid_case_reports_exactly_one_problem() {
    // One problem per file keeps the cases honest: a case that trips two checks tests neither.
    for file in CASES {
        let stderr = check_invalid(file);
        assert!(
            stderr.ends_with("1 problem found\n"),
            "{file} reports more than one problem:\n{stderr}"
        );
    }
}

/// A file far over the size limit is generated here rather than checked in.
#[test]
fn a_ten_megabyte_file_is_refused_before_parsing() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("policy-huge");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let mut text =
        String::from("apiVersion: sloop/v1\nkind: ServicePolicy\nmetadata:\n  name: huge\n  labels:\n");
    let mut i = 0;
    while text.len() < 10 << 20 {
        text.push_str(&format!("    label-{i}: {}\n", "x".repeat(100)));
        i += 1;
    }
    std::fs::write(dir.join("huge.yaml"), &text).expect("write huge file");
    let out = sloop(&["check", "huge.yaml"], &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: huge.yaml:1:1: file is larger than the limit of 1048576 bytes"),
        "{stderr}"
    );
    assert!(stderr.contains("\n  hint: "), "{stderr}");
}

#[test]
fn the_example_policies_pass_together() {
    let out = sloop(&["check", "policies/"], repo());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["election-web", "minimal-web", "reference-portal"] {
        assert!(
            stdout.contains(&format!("({name})")),
            "{name} missing from:\n{stdout}"
        );
    }
}

#[test]
fn two_policies_claiming_the_same_group_are_rejected_as_a_directory() {
    let dir = "tests/data/policies/same-group";
    for file in ["blue.yaml", "green.yaml"] {
        let alone = sloop(&["check", &format!("{dir}/{file}")], repo());
        assert_eq!(alone.status.code(), Some(0), "{file} is valid on its own");
    }
    let out = sloop(&["check", dir], repo());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("spec.group.selector: this group (cloud `sim`, same selector) is already managed by"),
        "{stderr}"
    );
    assert!(
        stderr.contains("blue.yaml") && stderr.contains("green.yaml"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
}

#[test]
fn json_output_lists_located_errors_for_ci() {
    let rel = format!("{INVALID_DIR}/quorum-exceeds-locations.yaml");
    let out = sloop(&["check", "--format", "json", &rel], repo());
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["policies"], serde_json::json!([]));
    let errors = doc["errors"].as_array().expect("errors is a list");
    assert_eq!(errors.len(), 1, "{doc:#}");
    let e = &errors[0];
    assert_eq!(e["file"], rel.as_str());
    assert_eq!(e["line"], 56);
    assert_eq!(e["col"], 17);
    assert_eq!(e["path"], "spec.objectives[0].latency.quorum");
    assert!(
        e["message"].as_str().is_some_and(|m| m.contains("quorum 5")),
        "{e}"
    );
    assert!(e["hint"].as_str().is_some_and(|h| !h.is_empty()), "{e}");
    let mut keys: Vec<&str> = e
        .as_object()
        .expect("error is an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["col", "file", "hint", "line", "message", "path"]);
}

#[test]
fn json_output_for_valid_policies_names_them() {
    let out = sloop(&["check", "--format", "json", "policies/minimal.yaml"], repo());
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(
        doc,
        serde_json::json!({
            "valid": true,
            "policies": [{ "file": "policies/minimal.yaml", "name": "minimal-web" }],
            "errors": [],
        })
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["check"][..],
        &["check", "--format", "xml", "policies/"],
        &["chekc", "policies/"],
        &[],
    ] {
        let out = sloop(args, repo());
        assert_eq!(
            out.status.code(),
            Some(2),
            "sloop {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_missing_file_is_an_invalid_input_not_a_crash() {
    let out = sloop(&["check", "tests/data/policies/does-not-exist.yaml"], repo());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("does-not-exist.yaml:1:1: cannot read"),
        "{stderr}"
    );
}
