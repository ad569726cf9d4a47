//! Table tests with known values and property tests for `judge::queueing`.

use super::*;
use proptest::prelude::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a == b) || (a - b).abs() <= tol * b.abs().max(1.0)
}

#[test]
fn erlang_c_matches_known_values() {
    struct Case {
        name: &'static str,
        why: &'static str,
        c: u32,
        load: f64,
        expect: f64,
    }
    let cases = [
        Case {
            name: "two_servers_one_erlang",
            why: "textbook value 1/3",
            c: 2,
            load: 1.0,
            expect: 1.0 / 3.0,
        },
        Case {
            name: "mm1_waits_with_probability_rho",
            why: "for c = 1, C = ρ",
            c: 1,
            load: 0.5,
            expect: 0.5,
        },
        Case {
            name: "ten_servers_eight_erlangs",
            why: "call-centre table value",
            c: 10,
            load: 8.0,
            expect: 0.409_180,
        },
        Case {
            name: "hundred_servers_ninety_erlangs",
            why: "beyond factorial range of naive forms",
            c: 100,
            load: 90.0,
            expect: 0.216_940,
        },
        Case {
            name: "saturated_pool_always_waits",
            why: "A ≥ c has no steady state: conservative 1",
            c: 5,
            load: 5.0,
            expect: 1.0,
        },
        Case {
            name: "no_load_never_waits",
            why: "A = 0",
            c: 5,
            load: 0.0,
            expect: 0.0,
        },
        Case {
            name: "nan_load_is_treated_as_saturated",
            why: "garbage telemetry must not look healthy",
            c: 3,
            load: f64::NAN,
            expect: 1.0,
        },
        Case {
            name: "no_servers_always_waits",
            why: "c = 0 with any load",
            c: 0,
            load: 0.0,
            expect: 1.0,
        },
    ];
    for case in cases {
        let got = erlang_c(case.c, case.load);
        assert!(
            close(got, case.expect, 1e-5),
            "{}: got {got}, want {} — {}",
            case.name,
            case.expect,
            case.why
        );
    }
}

#[test]
fn erlang_c_is_stable_for_ten_thousand_servers() {
    // c! overflows f64 at 171; the recursion must not.
    for load in [5000.0, 9_900.0, 9_999.0] {
        let got = erlang_c(10_000, load);
        assert!(got.is_finite() && (0.0..=1.0).contains(&got), "A = {load}: {got}");
    }
    assert!(erlang_c(10_000, 9_999.0) > erlang_c(10_000, 9_900.0));
}

#[test]
fn mm1_response_time_is_exponential() {
    // For c = 1 the response time is exactly Exp(μ − λ): a closed form to check the tail algebra.
    let (lambda, mu) = (5.0, 10.0);
    for p in [50.0, 90.0, 95.0, 99.0, 99.9] {
        let want = -(1.0 - p / 100.0_f64).ln() / (mu - lambda);
        let got = mmc_response_quantile(1, lambda, mu, p).unwrap();
        assert!(close(got, want, 1e-9), "p{p}: got {got}, want {want}");
    }
    assert!(close(mmc_mean_response(1, lambda, mu).unwrap(), 0.2, 1e-12));
}

#[test]
fn response_time_is_undefined_without_a_steady_state_or_with_bad_input() {
    let cases = [
        (
            "saturated",
            "λ = cμ has no steady state",
            mmc_response_quantile(2, 20.0, 10.0, 95.0),
        ),
        (
            "negative_load",
            "invalid telemetry",
            mmc_response_quantile(2, -1.0, 10.0, 95.0),
        ),
        (
            "zero_service_rate",
            "division by zero",
            mmc_response_quantile(2, 1.0, 0.0, 95.0),
        ),
        (
            "p_is_percent",
            "p = 100 has an infinite quantile",
            mmc_response_quantile(2, 1.0, 10.0, 100.0),
        ),
        (
            "mean_saturated",
            "no steady state",
            mmc_mean_response(1, 10.0, 10.0),
        ),
    ];
    for (name, why, got) in cases {
        assert_eq!(got, None, "{name} — {why}");
    }
}

#[test]
fn theta_close_to_mu_does_not_cancel() {
    // θ = cμ − λ equal to μ exactly, and within rounding of it: the tail must stay continuous.
    let exact = mmc_response_quantile(2, 10.0, 10.0, 99.0).unwrap();
    let near = mmc_response_quantile(2, 10.0 + 1e-9, 10.0, 99.0).unwrap();
    assert!(exact.is_finite() && close(exact, near, 1e-6), "{exact} vs {near}");
}

struct SizingCase {
    name: &'static str,
    why: &'static str,
    lambda: f64,
    mu: f64,
    p: f64,
    target: f64,
    max: u32,
    expect: Option<u32>,
}

#[test]
fn servers_needed_finds_the_smallest_sufficient_pool() {
    let cases = [
        SizingCase {
            name: "no_load_keeps_one_server",
            why: "a service always keeps a server",
            lambda: 0.0,
            mu: 20.0,
            p: 95.0,
            target: 0.5,
            max: 10,
            expect: Some(1),
        },
        SizingCase {
            name: "target_below_service_time_is_impossible",
            why: "p95 of Exp(20) is 0.15 s; no pool beats its own service time",
            lambda: 10.0,
            mu: 20.0,
            p: 95.0,
            target: 0.1,
            max: 1000,
            expect: None,
        },
        SizingCase {
            name: "more_than_max_servers_is_none",
            why: "the load alone needs over 50 servers",
            lambda: 1000.0,
            mu: 10.0,
            p: 95.0,
            target: 1.0,
            max: 50,
            expect: None,
        },
        SizingCase {
            name: "mm1_is_enough_when_the_target_is_loose",
            why: "c = 1: p95 = ln 20 / (μ − λ) = 0.30 s ≤ 0.5 s",
            lambda: 10.0,
            mu: 20.0,
            p: 95.0,
            target: 0.5,
            max: 10,
            expect: Some(1),
        },
        SizingCase {
            name: "a_tight_target_needs_a_second_server",
            why: "c = 1 gives 0.30 s > 0.2 s, c = 2 gets close to the 0.15 s service p95",
            lambda: 10.0,
            mu: 20.0,
            p: 95.0,
            target: 0.2,
            max: 10,
            expect: Some(2),
        },
        SizingCase {
            name: "invalid_percentile_is_none",
            why: "p is in percent and must be inside (0, 100)",
            lambda: 10.0,
            mu: 20.0,
            p: 0.95 * 200.0,
            target: 0.2,
            max: 10,
            expect: None,
        },
    ];
    for case in cases {
        let got = servers_needed(case.lambda, case.mu, case.p, case.target, case.max);
        assert_eq!(got, case.expect, "{} — {}", case.name, case.why);
    }
}

#[test]
fn servers_needed_handles_a_large_surge_quickly() {
    // Election night: 9 000 req/s at 2 req/s per VM (each request 0.5 s). The stable count alone is
    // 4 501, and the walk above it must be short (square-root staffing).
    let c = servers_needed(9000.0, 2.0, 99.0, 3.0, 10_000).unwrap();
    assert!((4501..4700).contains(&c), "{c}");
    assert!(mmc_response_quantile(c, 9000.0, 2.0, 99.0).unwrap() <= 3.0);
    assert!(mmc_response_quantile(c - 1, 9000.0, 2.0, 99.0).unwrap() > 3.0);
}

#[test]
fn servers_for_utilization_rounds_up_without_rounding_noise() {
    let cases = [
        (
            "exact_division",
            "100 req/s at 10 per server and 50% is exactly 20",
            100.0,
            10.0,
            0.5,
            Some(20),
        ),
        (
            "rounds_up",
            "101 req/s needs a 21st server",
            101.0,
            10.0,
            0.5,
            Some(21),
        ),
        (
            "inexact_float",
            "0.7 has no exact binary form: 70/(10·0.7) must still be 10",
            70.0,
            10.0,
            0.7,
            Some(10),
        ),
        (
            "no_load_keeps_one",
            "a service keeps a server",
            0.0,
            10.0,
            0.7,
            Some(1),
        ),
        (
            "zero_utilisation_is_invalid",
            "would divide by zero",
            10.0,
            10.0,
            0.0,
            None,
        ),
        (
            "over_full_utilisation_is_invalid",
            "targets above 1 cannot be met",
            10.0,
            10.0,
            1.5,
            None,
        ),
        (
            "nan_load_is_invalid",
            "missing telemetry sizes nothing",
            f64::NAN,
            10.0,
            0.7,
            None,
        ),
    ];
    for (name, why, lambda, mu, util, expect) in cases {
        assert_eq!(
            servers_for_utilization(lambda, mu, util),
            expect,
            "{name} — {why}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn erlang_c_is_a_probability_decreasing_in_servers(c in 1u32..300, load in 0.0..250.0f64) {
        let now = erlang_c(c, load);
        let more = erlang_c(c + 1, load);
        prop_assert!((0.0..=1.0).contains(&now) && (0.0..=1.0).contains(&more));
        prop_assert!(more <= now + 1e-12, "C({c}) = {now}, C({}) = {more}", c + 1);
    }

    #[test]
    fn response_quantile_lies_between_its_bounds(
        c in 1u32..200,
        util in 0.01..0.99f64,
        mu in 0.5..100.0f64,
        p in 50.0..99.99f64,
    ) {
        let lambda = util * f64::from(c) * mu;
        let t = mmc_response_quantile(c, lambda, mu, p).unwrap();
        let miss = 1.0 - p / 100.0;
        let service = -miss.ln() / mu;
        let theta = f64::from(c) * mu - lambda;
        let wait_prob = erlang_c(c, lambda / mu);
        let union = -(miss / 2.0).ln() / mu + (2.0 * wait_prob / miss).ln().max(0.0) / theta;
        prop_assert!(service <= t * (1.0 + 1e-9) && t <= union * (1.0 + 1e-9), "{service} ≤ {t} ≤ {union}");
        prop_assert!(response_tail(mu, theta, wait_prob, t) <= miss * (1.0 + 1e-6));
        let more = mmc_response_quantile(c + 1, lambda, mu, p).unwrap();
        prop_assert!(more <= t * (1.0 + 1e-9), "one more server must not be slower");
    }

    #[test]
    fn servers_needed_is_minimal(
        lambda in 0.0..500.0f64,
        mu in 1.0..50.0f64,
        p in 50.0..99.9f64,
        target_factor in 1.0..20.0f64,
    ) {
        let target = target_factor * -(1.0 - p / 100.0).ln() / mu;
        if let Some(c) = servers_needed(lambda, mu, p, target, 2000) {
            prop_assert!(mmc_response_quantile(c, lambda, mu, p).unwrap() <= target);
            if c > 1 {
                let fewer = mmc_response_quantile(c - 1, lambda, mu, p);
                prop_assert!(fewer.is_none_or(|t| t > target), "c - 1 = {} also meets the target", c - 1);
            }
        }
    }

    #[test]
    fn servers_needed_is_monotone_in_load(
        l1 in 0.0..2000.0f64,
        l2 in 0.0..2000.0f64,
        mu in 1.0..50.0f64,
        p in 50.0..99.9f64,
        target_factor in 1.0..20.0f64,
    ) {
        let (small, large) = (l1.min(l2), l1.max(l2));
        let target = target_factor * -(1.0 - p / 100.0).ln() / mu;
        let fewer = servers_needed(small, mu, p, target, 5000).unwrap_or(u32::MAX);
        let more = servers_needed(large, mu, p, target, 5000).unwrap_or(u32::MAX);
        prop_assert!(fewer <= more, "λ {small} → {fewer}, λ {large} → {more}");
    }
}
