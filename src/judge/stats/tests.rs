//! Table tests with known values and property tests for `judge::stats`.

use super::*;
use proptest::prelude::*;
use statrs::stats_tests::{
    Alternative,
    mannwhitneyu::{MannWhitneyUMethod, mannwhitneyu},
};

mod shift;

const INF: f64 = f64::INFINITY;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a == b) || (a - b).abs() <= tol
}

fn one_to(n: usize) -> Vec<f64> {
    (1..=n).map(|i| i as f64).collect()
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny seedable generator so tests need no `rand`.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) from the top 53 bits.
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal by Box–Muller.
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

// === percentiles ===

struct PercentileCase {
    name: &'static str,
    why: &'static str,
    samples: Vec<f64>,
    p: f64,
    confidence: f64,
    /// (estimate, lower, upper, n)
    expect: Option<(f64, f64, f64, usize)>,
}

#[test]
fn percentile_bounds_match_known_order_statistic_ranks() {
    let shuffled_with_junk = vec![
        f64::NAN,
        7.0,
        3.0,
        10.0,
        1.0,
        -INF,
        5.0,
        9.0,
        2.0,
        8.0,
        4.0,
        6.0,
        f64::NAN,
    ];
    let cases = vec![
        PercentileCase {
            name: "median_of_ten_uses_ranks_2_and_9",
            why: "textbook 95% CI for the median of n=10 is (X(2), X(9)), coverage 97.9%",
            samples: one_to(10),
            p: 50.0,
            confidence: 0.95,
            expect: Some((5.5, 2.0, 9.0, 10)),
        },
        PercentileCase {
            name: "median_of_twenty_uses_ranks_6_and_15",
            why: "textbook table value for n=20",
            samples: one_to(20),
            p: 50.0,
            confidence: 0.95,
            expect: Some((10.5, 6.0, 15.0, 20)),
        },
        PercentileCase {
            name: "median_of_hundred_uses_ranks_40_and_61",
            why: "textbook table value for n=100 (normal approximation gives the same ranks)",
            samples: one_to(100),
            p: 50.0,
            confidence: 0.95,
            expect: Some((50.5, 40.0, 61.0, 100)),
        },
        PercentileCase {
            name: "junk_values_are_dropped_and_order_does_not_matter",
            why: "NaN and -inf from broken probes must not poison or crash the estimate",
            samples: shuffled_with_junk,
            p: 50.0,
            confidence: 0.95,
            expect: Some((5.5, 2.0, 9.0, 10)),
        },
        PercentileCase {
            name: "p90_of_ten_has_no_upper_bound",
            why: "0.9^10 = 0.35 > 2.5%: ten samples cannot show the p90 is small",
            samples: one_to(10),
            p: 90.0,
            confidence: 0.95,
            expect: Some((9.1, 7.0, INF, 10)),
        },
        PercentileCase {
            name: "p99_of_five_is_bounded_only_from_below",
            why: "five samples can prove a p99 is bad (≥ X(4)) but never that it is good",
            samples: one_to(5),
            p: 99.0,
            confidence: 0.95,
            expect: Some((4.96, 4.0, INF, 5)),
        },
        PercentileCase {
            name: "single_sample_bounds_nothing",
            why: "single samples never decide anything",
            samples: vec![7.0],
            p: 50.0,
            confidence: 0.95,
            expect: Some((7.0, -INF, INF, 1)),
        },
        PercentileCase {
            name: "p0_is_bounded_above_by_the_minimum",
            why: "edge q = 0: Binomial(n, 0) is degenerate and the sample minimum is ≥ the true minimum",
            samples: one_to(10),
            p: 0.0,
            confidence: 0.95,
            expect: Some((1.0, -INF, 1.0, 10)),
        },
        PercentileCase {
            name: "p100_is_bounded_below_by_the_maximum",
            why: "edge q = 1: the sample maximum is ≤ the true maximum",
            samples: one_to(10),
            p: 100.0,
            confidence: 0.95,
            expect: Some((10.0, 10.0, INF, 10)),
        },
        PercentileCase {
            name: "failures_recorded_as_infinity_count_as_slowest",
            why: "the judge maps failed requests to +inf; dropping them would hide an outage",
            samples: [one_to(6), vec![INF; 4]].concat(),
            p: 50.0,
            confidence: 0.95,
            expect: Some((5.5, 2.0, INF, 10)),
        },
        PercentileCase {
            name: "a_percentile_among_failures_is_infinite",
            why: "interpolating towards a failure is a failure, never NaN",
            samples: [one_to(6), vec![INF; 4]].concat(),
            p: 90.0,
            confidence: 0.95,
            expect: Some((INF, INF, INF, 10)),
        },
        PercentileCase {
            name: "no_usable_samples_gives_none",
            why: "an empty or all-NaN window is no evidence",
            samples: vec![f64::NAN, -INF],
            p: 50.0,
            confidence: 0.95,
            expect: None,
        },
        PercentileCase {
            name: "percentile_out_of_range_gives_none",
            why: "p is in percent; 150 is a caller bug, not a number to clamp",
            samples: one_to(10),
            p: 150.0,
            confidence: 0.95,
            expect: None,
        },
        PercentileCase {
            name: "nan_confidence_gives_none",
            why: "invalid arguments must not panic",
            samples: one_to(10),
            p: 50.0,
            confidence: f64::NAN,
            expect: None,
        },
    ];
    for case in cases {
        let got = percentile_with_bounds(&case.samples, case.p, case.confidence);
        match (got, case.expect) {
            (None, None) => {}
            (Some(g), Some((est, lo, hi, n))) => assert!(
                close(g.estimate, est, 1e-9) && g.lower == lo && g.upper == hi && g.n == n,
                "{}: got {g:?}, want ({est}, {lo}, {hi}, {n}) — {}",
                case.name,
                case.why
            ),
            (g, want) => panic!("{}: got {g:?}, want {want:?} — {}", case.name, case.why),
        }
    }
}

#[test]
fn p99_needs_368_samples_for_a_finite_upper_bound() {
    // 0.99^n ≤ 0.025 first holds at n = 368, as the doc comment promises.
    let at = |n| percentile_with_bounds(&one_to(n), 99.0, 0.95).unwrap().upper;
    assert_eq!(at(367), INF);
    assert!(at(368).is_finite());
}

struct ExceedsCase {
    name: &'static str,
    why: &'static str,
    samples: Vec<f64>,
    p: f64,
    threshold: f64,
    expect: Tri,
}

#[test]
fn exceeds_with_confidence_needs_the_interval_to_clear_the_threshold() {
    let mut one_outlier = vec![10.0; 999];
    one_outlier.push(5000.0);
    let cases = vec![
        ExceedsCase {
            name: "a_clearly_slow_window_is_yes",
            why: "400 samples all above the threshold: the p99's lower bound is above it",
            samples: (0..400).map(|i| 500.0 + i as f64).collect(),
            p: 99.0,
            threshold: 300.0,
            expect: Tri::Yes,
        },
        ExceedsCase {
            name: "a_large_fast_window_is_no",
            why: "1000 fast samples put the p99's upper bound under the threshold",
            samples: (0..1000).map(|i| 10.0 + (i % 7) as f64).collect(),
            p: 99.0,
            threshold: 300.0,
            expect: Tri::No,
        },
        ExceedsCase {
            name: "one_outlier_does_not_make_the_p99_bad",
            why: "single samples never trigger action",
            samples: one_outlier,
            p: 99.0,
            threshold: 300.0,
            expect: Tri::No,
        },
        ExceedsCase {
            name: "a_small_fast_window_is_unsure_not_no",
            why: "ten fast samples cannot show the p99 is good",
            samples: vec![10.0; 10],
            p: 99.0,
            threshold: 300.0,
            expect: Tri::Unsure,
        },
        ExceedsCase {
            name: "a_window_straddling_the_threshold_is_unsure",
            why: "the interval contains the threshold",
            samples: one_to(100),
            p: 50.0,
            threshold: 50.0,
            expect: Tri::Unsure,
        },
        ExceedsCase {
            name: "no_samples_is_unsure",
            why: "missing telemetry is not evidence of health",
            samples: vec![],
            p: 99.0,
            threshold: 300.0,
            expect: Tri::Unsure,
        },
    ];
    for case in cases {
        let got = exceeds_with_confidence(&case.samples, case.p, case.threshold, 0.95);
        assert_eq!(got, case.expect, "{} — {}", case.name, case.why);
    }
}

#[test]
fn the_95_percent_interval_covers_the_true_percentile_of_uniform_samples() {
    // U(0, 1) has ξ_q = q. Distribution-free bounds must cover it in ≥ 95% of trials (allow
    // sampling noise down to 90% over 400 trials: the binomial sd there is ~1.1%).
    let mut rng = SplitMix64(0x5EED);
    for (n, p) in [(20, 50.0), (50, 90.0), (200, 95.0), (400, 99.0)] {
        let covered = (0..400)
            .filter(|_| {
                let xs: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
                let e = percentile_with_bounds(&xs, p, 0.95).unwrap();
                e.lower <= p / 100.0 && p / 100.0 <= e.upper
            })
            .count();
        assert!(covered >= 360, "n={n}, p={p}: covered {covered}/400");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn bounds_bracket_the_estimate_and_never_panic(
        samples in prop::collection::vec(prop::num::f64::ANY, 0..300),
        p in 0.0..=100.0f64,
        confidence in 0.0..=1.0f64,
    ) {
        if let Some(e) = percentile_with_bounds(&samples, p, confidence) {
            prop_assert!(e.lower <= e.estimate && e.estimate <= e.upper, "{e:?}");
            let usable: Vec<f64> = samples.iter().copied().filter(|&x| !x.is_nan() && x != -INF).collect();
            let min = usable.iter().copied().fold(INF, f64::min);
            let max = usable.iter().copied().fold(-INF, f64::max);
            prop_assert!(min <= e.estimate && e.estimate <= max);
            prop_assert_eq!(e.n, usable.len());
        }
    }

    #[test]
    fn bounds_widen_as_confidence_rises(
        samples in prop::collection::vec(-1e6..1e6f64, 1..300),
        p in 0.0..=100.0f64,
        c1 in 0.0..=1.0f64,
        c2 in 0.0..=1.0f64,
    ) {
        let (lo_c, hi_c) = (c1.min(c2), c1.max(c2));
        let narrow = percentile_with_bounds(&samples, p, lo_c).unwrap();
        let wide = percentile_with_bounds(&samples, p, hi_c).unwrap();
        prop_assert!(wide.lower <= narrow.lower && wide.upper >= narrow.upper, "{narrow:?} vs {wide:?}");
    }
}

// === error ratios ===

struct RatioCase {
    name: &'static str,
    why: &'static str,
    bad: u64,
    total: u64,
    clopper_pearson: (f64, f64),
    wilson: (f64, f64),
}

#[test]
fn error_ratio_bounds_match_published_values() {
    let cases = [
        RatioCase {
            name: "zero_of_ten",
            why: "edge x = 0 is exact: upper = 1 − 0.025^(1/10)",
            bad: 0,
            total: 10,
            clopper_pearson: (0.0, 0.308_497),
            wilson: (0.0, 0.277_532),
        },
        RatioCase {
            name: "ten_of_ten",
            why: "edge x = n mirrors x = 0",
            bad: 10,
            total: 10,
            clopper_pearson: (0.691_503, 1.0),
            wilson: (0.722_468, 1.0),
        },
        RatioCase {
            name: "one_of_ten",
            why: "interior value through the Beta inverse CDF",
            bad: 1,
            total: 10,
            clopper_pearson: (0.002_529, 0.445_016),
            wilson: (0.017_875, 0.404_149),
        },
        RatioCase {
            name: "five_of_ten",
            why: "symmetric case",
            bad: 5,
            total: 10,
            clopper_pearson: (0.187_086, 0.812_914),
            wilson: (0.236_593, 0.763_407),
        },
        RatioCase {
            name: "no_traffic",
            why: "no requests is no evidence: the uninformative interval",
            bad: 0,
            total: 0,
            clopper_pearson: (0.0, 1.0),
            wilson: (0.0, 1.0),
        },
        RatioCase {
            name: "more_bad_than_total",
            why: "a counting bug upstream must not yield a confident answer",
            bad: 11,
            total: 10,
            clopper_pearson: (0.0, 1.0),
            wilson: (0.0, 1.0),
        },
    ];
    for c in cases {
        let cp = binomial_bounds(c.bad, c.total, 0.95);
        let w = wilson_bounds(c.bad, c.total, 0.95);
        assert!(
            close(cp.0, c.clopper_pearson.0, 1e-5) && close(cp.1, c.clopper_pearson.1, 1e-5),
            "{} Clopper–Pearson: got {cp:?} — {}",
            c.name,
            c.why
        );
        assert!(
            close(w.0, c.wilson.0, 1e-5) && close(w.1, c.wilson.1, 1e-5),
            "{} Wilson: got {w:?} — {}",
            c.name,
            c.why
        );
    }
}

#[test]
fn clopper_pearson_handles_large_counts() {
    // A busy service: a billion requests per window must not hang or lose precision.
    let (lo, hi) = binomial_bounds(1_000_000, 1_000_000_000, 0.99);
    assert!(lo < 1e-3 && hi > 1e-3 && hi - lo < 1e-5, "({lo}, {hi})");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ratio_bounds_contain_the_observed_ratio_and_widen_with_confidence(
        total in 1u64..5000,
        frac in 0.0..=1.0f64,
        c1 in 0.5..0.999f64,
        c2 in 0.5..0.999f64,
    ) {
        let bad = (frac * total as f64).round() as u64;
        let phat = bad as f64 / total as f64;
        let (lo_c, hi_c) = (c1.min(c2), c1.max(c2));
        for bounds in [binomial_bounds, wilson_bounds] {
            let (l1, u1) = bounds(bad, total, lo_c);
            let (l2, u2) = bounds(bad, total, hi_c);
            prop_assert!(l1 <= phat + 1e-12 && phat <= u1 + 1e-12, "({l1}, {u1}) for {bad}/{total}");
            prop_assert!(l2 <= l1 + 1e-12 && u2 + 1e-12 >= u1);
        }
        // With no failures Clopper–Pearson is exact in closed form: [0, 1 − (α/2)^(1/n)].
        // (It is not wider than Wilson everywhere: at 0/12 and 99.6 % Wilson is the wider one.)
        if bad == 0 {
            let (cl, cu) = binomial_bounds(0, total, hi_c);
            let expected = 1.0 - ((1.0 - hi_c) / 2.0).powf(1.0 / total as f64);
            prop_assert!(cl == 0.0 && (cu - expected).abs() < 1e-9, "({cl}, {cu}) vs {expected}");
        }
    }
}

// === burn rates and budget ===

#[test]
fn burn_rates_and_budget_follow_the_sre_workbook() {
    struct Case {
        name: &'static str,
        why: &'static str,
        good: u64,
        total: u64,
        target: f64,
        burn: Option<f64>,
        remaining: f64,
    }
    let cases = [
        Case {
            name: "errors_at_the_budget_rate_burn_at_one",
            why: "definition: burn rate 1 spends exactly the budget over the period",
            good: 999,
            total: 1000,
            target: 0.999,
            burn: Some(1.0),
            remaining: 0.0,
        },
        Case {
            name: "ten_times_the_budget_rate",
            why: "1% errors against a 99.9% objective",
            good: 990,
            total: 1000,
            target: 0.999,
            burn: Some(10.0),
            remaining: -9.0,
        },
        Case {
            name: "half_the_budget_spent",
            why: "budget_remaining is 1 − consumed",
            good: 9995,
            total: 10000,
            target: 0.999,
            burn: Some(0.5),
            remaining: 0.5,
        },
        Case {
            name: "no_traffic_has_no_burn_rate_and_a_whole_budget",
            why: "absence of requests is not evidence of errors",
            good: 0,
            total: 0,
            target: 0.999,
            burn: None,
            remaining: 1.0,
        },
        Case {
            name: "more_good_than_total_counts_as_no_errors",
            why: "counters scraped at slightly different instants can disagree",
            good: 1001,
            total: 1000,
            target: 0.99,
            burn: Some(0.0),
            remaining: 1.0,
        },
        Case {
            name: "a_hundred_percent_objective_has_no_budget",
            why: "1 − target = 0: no burn rate, and any error overdraws the budget",
            good: 999,
            total: 1000,
            target: 1.0,
            burn: None,
            remaining: f64::NEG_INFINITY,
        },
    ];
    for c in cases {
        let burn = burn_rate(c.good, c.total, c.target);
        match (burn, c.burn) {
            (None, None) => {}
            (Some(g), Some(w)) => assert!(close(g, w, 1e-9), "{}: burn {g} — {}", c.name, c.why),
            (g, w) => panic!("{}: burn {g:?}, want {w:?} — {}", c.name, c.why),
        }
        let rem = budget_remaining(c.good, c.total, c.target);
        assert!(
            close(rem, c.remaining, 1e-9),
            "{}: remaining {rem} — {}",
            c.name,
            c.why
        );
    }
    assert!(budget_remaining(1, 1, f64::NAN).is_nan());
}

#[test]
fn burn_rate_alert_needs_both_windows() {
    let cases = [
        (
            "both_windows_burning_fires",
            "the page condition of the workbook",
            15.0,
            15.0,
            true,
        ),
        (
            "long_only_does_not_fire",
            "the burn already stopped: the short window resets the alert",
            15.0,
            1.0,
            false,
        ),
        (
            "short_only_does_not_fire",
            "a blip has not spent enough budget to matter",
            1.0,
            20.0,
            false,
        ),
        (
            "exactly_at_threshold_does_not_fire",
            "the workbook compares with >",
            14.4,
            14.4,
            false,
        ),
        (
            "nan_does_not_fire",
            "missing data never pages",
            f64::NAN,
            20.0,
            false,
        ),
    ];
    for (name, why, long, short, expect) in cases {
        assert_eq!(burn_rate_fires(long, short, 14.4), expect, "{name} — {why}");
    }
}
