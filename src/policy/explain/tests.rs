use super::*;
use crate::policy::parse;

fn election() -> Policy {
    let text = include_str!("../../../policies/election-web.yaml");
    parse("election-web.yaml", text.as_bytes()).expect("the motivating example is valid")
}

/// The explanation with line wrapping undone, so assertions do not depend on where lines break.
fn flat(p: &Policy) -> String {
    explain(p).split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn latency_objective_reads_as_the_admin_would_say_it() {
    let text = flat(&election());
    assert!(
        text.contains("95 % of requests to `site` answer within 800 ms, judged over 5 minutes, violated only when 3 of 4 locations agree"),
        "{text}"
    );
}

#[test]
fn availability_objective_states_its_error_budget_and_burn_alerts() {
    let text = flat(&election());
    assert!(text.contains("99.9 % of `site` probes succeed over a rolling 30 days (an error budget of 43 minutes 12 seconds of failure)"), "{text}");
    assert!(text.contains("page at 14.4× over both 1 hour and 5 minutes; page at 6× over both 6 hours and 30 minutes; ticket at 3× over both 1 day and 2 hours; ticket at 1× over both 3 days and 6 hours."), "{text}");
}

#[test]
fn scale_out_names_the_trigger_step_and_cooldown() {
    let text = flat(&election());
    assert!(
        text.contains("is more than 10 % above 60 %, sloop sizes the group to bring it back to 60 %"),
        "{text}"
    );
    assert!(text.contains("10 instances at 90 % become 15"), "{text}");
    assert!(text.contains("It adds at most 20 instances or 100 % of the current size per step, whichever allows more, acting on a recommendation at once, and waits 1 minute after a scale-out"), "{text}");
}

#[test]
fn scale_in_is_slow_and_bounded_below() {
    let text = flat(&election());
    assert!(
        text.contains(
            "removes at most 2 instances per step, only once a recommendation has held for 20 minutes"
        ),
        "{text}"
    );
    assert!(
        text.contains("It never goes below 3 instances (size.min)"),
        "{text}"
    );
}

#[test]
fn scheduled_peaks_keep_the_local_times_as_written() {
    let text = flat(&election());
    assert!(text.contains("`polls-close`: from 2026-09-27T17:30:00+02:00 until 2026-09-28T01:00:00+02:00 sloop keeps at least 12 instances serving and it does not scale in"), "{text}");
    assert!(text.contains("starts booting 20 minutes early"), "{text}");
}

#[test]
fn healing_lists_the_trigger_and_the_ladder_in_order() {
    let text = flat(&election());
    assert!(text.contains("after 3 failed probes in a row on probe `instance`, seen from at least 2 locations of `local` and `fra`"), "{text}");
    let ladder = [
        "(1) `drain`",
        "(2) `reboot-soft`",
        "(3) `reboot-hard`",
        "(4) `replace`",
    ];
    let at: Vec<usize> = ladder
        .iter()
        .map(|r| text.find(r).unwrap_or_else(|| panic!("{r} missing: {text}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "ladder out of order: {text}");
    assert!(text.contains("Live-migrate instances off a hypervisor when `compute.node.cpu.steal.percent` stays above 25 for 3 minutes"), "{text}");
}

#[test]
fn the_ceiling_names_every_binding_cap() {
    let text = flat(&election());
    assert!(
        text.contains("60 instances (set by group.size.max and limits.maxInstances and limits.maxVcpus 120 / 2 vCPUs per VM and limits.maxRam 240GiB / 4GiB per VM)"),
        "{text}"
    );
}

#[test]
fn dry_run_and_disabled_healing_say_so() {
    let mut p = election();
    p.spec.mode = Mode::DryRun;
    p.spec.healing.enabled = false;
    p.spec.scaling.target_utilization = None;
    p.spec.scaling.latency_objective = None;
    let text = flat(&p);
    assert!(
        text.contains("Mode: dry-run. sloop observes, judges and plans"),
        "{text}"
    );
    assert!(text.contains("Healing is off"), "{text}");
    assert!(text.contains("Nothing drives scaling on load"), "{text}");
}

#[test]
fn a_vcpu_budget_tighter_than_size_max_sets_the_ceiling() {
    let mut p = election();
    p.spec.limits.max_vcpus = Some(40);
    assert!(
        flat(&p).contains("never grows beyond 20 instances (set by limits.maxVcpus 40 / 2 vCPUs per VM)")
    );
}

#[test]
fn durations_read_as_words() {
    assert_eq!(human(Duration::from_secs(0.8)), "800 ms");
    assert_eq!(human(Duration::from_secs(90.0)), "1 minute 30 seconds");
    assert_eq!(human(Duration::from_secs(1.5)), "1.5 seconds");
    assert_eq!(human(Duration::from_secs(2_592_000.0)), "30 days");
    assert_eq!(human(Duration::from_secs(0.0)), "0 seconds");
}

#[test]
fn explanation_is_deterministic_and_wrapped() {
    let p = election();
    let a = explain(&p);
    assert_eq!(a, explain(&p));
    assert!(
        a.lines()
            .all(|l| l.chars().count() <= WIDTH || !l.trim().contains(' ')),
        "{a}"
    );
}

#[test]
fn election_web_snapshot() {
    insta::assert_snapshot!(explain(&election()));
}

#[test]
fn the_forecast_is_explained_with_its_horizon_and_can_be_off() {
    let mut p = election();
    let text = flat(&p);
    assert!(
        text.contains(
            "the load forecast for the coming boot-to-serve time plus the 1 minute scale-out cooldown"
        ),
        "{text}"
    );
    p.spec.scaling.forecast.trend = false;
    p.spec.scaling.forecast.seasonal = false;
    assert!(flat(&p).contains("It sizes for the present load only"));
}
