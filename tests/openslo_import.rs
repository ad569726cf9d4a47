//! `sloop import openslo`: OpenSLO v1 SLOs become sloop objectives that pass `sloop check` once
//! their probes exist, and what cannot be mapped is a located error naming the field.

use sloop::policy::openslo::{ThresholdUnit, import, import_with_unit};
use std::path::Path;

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).expect("test data exists")
}

/// A policy around the imported fragment, with the probes the comments ask for.
fn host_policy(fragment: &str) -> String {
    let probe_names = regex::Regex::new(r"Needs a probe named `([^`]+)`").expect("valid regex");
    let mut probes = Vec::new();
    for cap in probe_names.captures_iter(fragment) {
        if !probes.contains(&cap[1].to_owned()) {
            probes.push(cap[1].to_owned());
        }
    }
    assert!(!probes.is_empty(), "the fragment names no probe:\n{fragment}");
    let mut text = String::from(
        "apiVersion: sloop/v1\nkind: ServicePolicy\nmetadata:\n  name: imported\nspec:\n  healing:\n    enabled: false\n  group:\n    cloud: sim\n    selector: {sloop.group: imported}\n    template:\n      image: img\n      flavor: m1.small\n      networks: [{network: net}]\n    size: {min: 1, max: 3}\n  probes:\n",
    );
    for p in &probes {
        text.push_str(&format!(
            "    - name: {p}\n      http: {{url: https://{p}.example.org/}}\n"
        ));
    }
    for line in fragment.lines() {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

fn imported(rel: &str) -> String {
    imported_with(rel, None)
}

fn imported_with(rel: &str, unit: Option<ThresholdUnit>) -> String {
    let out =
        import_with_unit(rel, &read(rel), unit).unwrap_or_else(|e| panic!("{rel} should import: {e:?}"));
    let policy = host_policy(&out);
    if let Err(errors) = sloop::policy::parse("host.yaml", policy.as_bytes()) {
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!(
            "imported objectives from {rel} do not pass check:\n{}\n---\n{policy}",
            shown.join("\n")
        );
    }
    out
}

#[test]
fn rolling_ratio_becomes_an_availability_objective_with_its_period() {
    let out = imported("tests/data/openslo/ratio-rolling.yaml");
    assert!(out.contains("  - name: web-availability\n    availability:\n      probe: web\n      target: 99.5%\n      period: 28d\n"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn calendar_window_becomes_a_rolling_period_and_says_so() {
    let out = imported("tests/data/openslo/ratio-calendar.yaml");
    // Comments wrap; join continuation lines before looking for a sentence.
    let flat = out.replace("\n  #   ", " ");
    assert!(
        flat.contains("becomes a rolling 30d: sloop budgets are rolling"),
        "{out}"
    );
    assert!(
        out.contains("name: api-errors-monthly-availability")
            && out.contains("name: api-errors-stretch-goal"),
        "{out}"
    );
    assert!(out.contains("target: 99.95%"), "{out}");
    assert!(out.contains("(1 − bad/total)"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn lte_threshold_becomes_a_latency_percentile_with_a_stated_unit() {
    let out = imported_with(
        "tests/data/openslo/threshold-latency.yaml",
        Some(ThresholdUnit::Ms),
    );
    assert!(
        out.contains("percentile: 95\n      threshold: 800ms\n      window: 10m\n"),
        "{out}"
    );
    assert!(
        out.contains("The value is in ms, as --threshold-unit says."),
        "{out}"
    );
    // The second SLO's annotation says seconds.
    assert!(out.contains("percentile: 99\n      threshold: 1500ms\n"), "{out}");
    insta::assert_snapshot!(out);
}

/// OpenSLO values are unitless: a threshold whose unit neither an annotation nor
/// `--threshold-unit` gives is an error at the value, never a guess (`0.3` seconds once became
/// `300us`).
#[test]
fn a_threshold_without_a_unit_is_an_error_at_its_value() {
    let rel = "tests/data/openslo/threshold-latency.yaml";
    let errors = import(rel, &read(rel)).expect_err("the first SLO has no unit annotation");
    assert_eq!(errors.len(), 1, "only the unannotated SLO fails: {errors:?}");
    let e = &errors[0];
    assert_eq!(e.path, "spec.objectives[0].value", "{e}");
    assert!(e.message.contains("has no unit"), "{e}");
    assert!(
        e.hint.contains("sloop.dev/threshold-unit") && e.hint.contains("--threshold-unit"),
        "{e}"
    );
    // Seconds from the flag: 0.8 s, not 800 us or 800 ms.
    let text = String::from_utf8(read(rel)).expect("utf-8");
    let seconds = text.replacen("value: 800", "value: 0.3", 1);
    let out = import_with_unit(rel, seconds.as_bytes(), Some(ThresholdUnit::S)).expect("imports with a unit");
    assert!(out.contains("threshold: 300ms"), "{out}");
    // The annotation of the second SLO (seconds) wins over the flag.
    assert!(out.contains("percentile: 99\n      threshold: 1500ms\n"), "{out}");
}

#[test]
fn multi_document_files_resolve_indicator_refs_and_skip_other_kinds() {
    let out = imported("tests/data/openslo/multi-document.yaml");
    assert!(
        out.contains("# Skipped (no sloop equivalent): Service at line 2."),
        "{out}"
    );
    assert!(
        out.contains("From OpenSLO SLO `portal-availability` (line 9)"),
        "{out}"
    );
    assert!(out.contains("target: 99.9%\n      period: 30d\n"), "{out}");
}

#[test]
fn the_list_form_of_the_openslo_examples_imports() {
    let out = imported("tests/data/openslo/list-form.yaml");
    assert!(
        out.contains("name: web-availability-list") && out.contains("period: 1w"),
        "{out}"
    );
}

/// Each unmappable input fails at the field that cannot be mapped, on the right line.
#[test]
fn unmappable_inputs_name_the_field() {
    let cases = [
        (
            "threshold-gt",
            "spec.objectives[0].op",
            19,
            "`op: gt` cannot be mapped",
        ),
        (
            "timeslices",
            "spec.budgetingMethod",
            27,
            "`Timeslices` cannot be mapped",
        ),
        (
            "composite",
            "spec.objectives[0].compositeWeight",
            15,
            "composite SLO",
        ),
        ("missing-indicator", "spec.indicator", 6, "has no indicator"),
        (
            "dangling-indicator-ref",
            "spec.indicatorRef",
            8,
            "no `kind: SLI` named `web-success`",
        ),
        ("v1alpha", "apiVersion", 2, "`openslo/v1alpha` is not supported"),
        (
            "bad-window",
            "spec.timeWindow[0].duration",
            22,
            "`4 weeks` is not an OpenSLO duration",
        ),
        ("no-slo", "", 1, "no OpenSLO `kind: SLO` document found"),
    ];
    let mut all = String::new();
    for (name, path, line, message) in cases {
        let rel = format!("tests/data/openslo/unmappable/{name}.yaml");
        let errors = import(&rel, &read(&rel)).expect_err(&rel);
        let first = &errors[0];
        assert_eq!(
            (first.path.as_str(), first.pos.line),
            (path, line),
            "{rel}: {first}"
        );
        assert!(first.message.contains(message), "{rel}: {first}");
        for e in &errors {
            assert_eq!(e.file, rel);
            assert!(
                e.pos.line >= 1 && e.pos.col >= 1 && !e.message.is_empty() && !e.hint.is_empty(),
                "{e}"
            );
        }
        for e in &errors {
            all.push_str(&format!("{e}\n"));
        }
    }
    // A target of 1.0 is reported too, not hidden behind the first error of its document.
    assert!(
        all.contains("spec.objectives[0].target: `target` must be a number strictly between 0 and 1"),
        "{all}"
    );
    insta::assert_snapshot!(all);
}

#[test]
fn hostile_input_is_refused_with_a_location() {
    for (bytes, expect) in [
        (&b"\x00\x01binary"[..], "NUL byte"),
        (&b"a: [unclosed\n"[..], "YAML syntax error"),
        (
            &b"apiVersion: openslo/v1\nkind: SLO\n---\nkind: [\n"[..],
            "YAML syntax error",
        ),
    ] {
        let errors = import("x.yaml", bytes).expect_err("hostile input is an error");
        assert!(errors[0].message.contains(expect), "{:?}", errors);
    }
    // A syntax error in the second document is reported on its line in the file.
    let errors =
        import("x.yaml", b"apiVersion: openslo/v1\nkind: SLO\n---\nkind: [\n").expect_err("syntax error");
    assert!(errors[0].pos.line >= 4, "{}", errors[0]);
}

#[test]
fn the_cli_prints_the_fragment_or_the_errors() {
    let run = |rel: &str| run_with(rel, &[]);
    let latency = "tests/data/openslo/threshold-latency.yaml";
    assert_eq!(
        run(latency).status.code(),
        Some(1),
        "a unitless threshold is an error"
    );
    let with_unit = run_with(latency, &["--threshold-unit", "ms"]);
    assert_eq!(
        with_unit.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&with_unit.stderr)
    );
    assert!(String::from_utf8_lossy(&with_unit.stdout).contains("threshold: 800ms"));
    let ok = run("tests/data/openslo/ratio-rolling.yaml");
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("objectives:\n"));
    let bad = run("tests/data/openslo/unmappable/threshold-gt.yaml");
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("threshold-gt.yaml:19:11: spec.objectives[0].op:") && stderr.contains("hint:"),
        "{stderr}"
    );
}

fn run_with(rel: &str, flags: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sloop"))
        .args(["import", "openslo"])
        .args(flags)
        .arg(rel)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("sloop runs")
}
