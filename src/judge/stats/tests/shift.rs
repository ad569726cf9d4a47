//! Shift and change detection: Mann–Whitney, EWMA, CUSUM.

use super::*;

// === rank test ===

struct RankCase {
    name: &'static str,
    why: &'static str,
    candidate: Vec<f64>,
    peers: Vec<f64>,
    expect: Option<f64>,
}

#[test]
fn mann_whitney_matches_exact_and_published_values() {
    let cases = vec![
        RankCase {
            name: "three_slower_than_three_is_one_in_twenty",
            why: "exact: only 1 of C(6,3) = 20 arrangements is that extreme",
            candidate: vec![4.0, 5.0, 6.0],
            peers: vec![1.0, 2.0, 3.0],
            expect: Some(0.05),
        },
        RankCase {
            name: "three_faster_than_three_is_no_evidence",
            why: "one-sided: a faster instance is not slower",
            candidate: vec![1.0, 2.0, 3.0],
            peers: vec![4.0, 5.0, 6.0],
            expect: Some(1.0),
        },
        RankCase {
            name: "scipy_documentation_example",
            why: "scipy.stats.mannwhitneyu docs: U = 17, one-sided exact p = 7/126",
            candidate: vec![19.0, 22.0, 16.0, 29.0, 24.0],
            peers: vec![20.0, 11.0, 17.0, 12.0],
            expect: Some(7.0 / 126.0),
        },
        RankCase {
            name: "timeouts_recorded_as_infinity_rank_slowest",
            why: "a hung instance's +inf latencies are the strongest evidence, not junk (tied: normal \
                  approximation, z = 14.5 / 5.88)",
            candidate: vec![INF, INF, INF],
            peers: one_to(10),
            expect: Some(0.006_859_728_594_718_319),
        },
        RankCase {
            name: "all_equal_is_no_evidence",
            why: "zero variance must not divide by zero",
            candidate: vec![5.0; 4],
            peers: vec![5.0; 6],
            expect: Some(1.0),
        },
        RankCase {
            name: "two_candidate_samples_are_too_few",
            why: "below three samples a rank test cannot reach significance",
            candidate: vec![100.0, 200.0],
            peers: one_to(10),
            expect: None,
        },
        RankCase {
            name: "nan_samples_do_not_count",
            why: "after dropping NaN only two candidate samples remain",
            candidate: vec![100.0, f64::NAN, 200.0],
            peers: one_to(10),
            expect: None,
        },
    ];
    for c in cases {
        let got = mann_whitney_greater(&c.candidate, &c.peers);
        match (got, c.expect) {
            (None, None) => {}
            (Some(g), Some(w)) => assert!(close(g, w, 1e-9), "{}: got {g}, want {w} — {}", c.name, c.why),
            (g, w) => panic!("{}: got {g:?}, want {w:?} — {}", c.name, c.why),
        }
    }
}

#[test]
fn statrs_exact_greater_is_inverted_so_we_do_not_delegate() {
    // scipy docs example with the samples swapped: P(U_female ≥ 3) = 1 − 4/126. statrs 0.19.1
    // returns 4/126 when `x` is the smaller sample. If this starts failing, statrs was fixed.
    let (male, female) = ([19.0, 22.0, 16.0, 29.0, 24.0], [20.0, 11.0, 17.0, 12.0]);
    let (_, theirs) = mannwhitneyu(&female, &male, MannWhitneyUMethod::Exact, Alternative::Greater).unwrap();
    assert!(close(theirs, 4.0 / 126.0, 1e-12), "{theirs}");
    assert!(close(
        mann_whitney_greater(&female, &male).unwrap(),
        122.0 / 126.0,
        1e-12
    ));
}

#[test]
fn mann_whitney_is_fast_for_a_small_candidate_against_many_peers() {
    // statrs' Automatic mode would enumerate C(5005, 5) arrangements here.
    let mut rng = SplitMix64(7);
    let peers: Vec<f64> = (0..5000).map(|_| rng.uniform()).collect();
    let p = mann_whitney_greater(&[2.0, 3.0, 4.0, 5.0, 6.0], &peers).unwrap();
    assert!(p < 1e-10, "{p}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn asymptotic_mann_whitney_agrees_with_statrs(
        // Integer-valued samples force ties, so the normal approximation with tie correction runs.
        candidate in prop::collection::vec(0u8..20, 3..60),
        peers in prop::collection::vec(0u8..20, 3..60),
    ) {
        let x: Vec<f64> = candidate.iter().map(|&v| f64::from(v)).collect();
        let y: Vec<f64> = peers.iter().map(|&v| f64::from(v)).collect();
        let ours = mann_whitney_greater(&x, &y).unwrap();
        let (_, theirs) = mannwhitneyu(
            &x, &y, MannWhitneyUMethod::AsymptoticInclContinuityCorrection, Alternative::Greater,
        ).unwrap();
        let has_ties = {
            let mut all: Vec<f64> = x.iter().chain(&y).copied().collect();
            all.sort_by(f64::total_cmp);
            all.windows(2).any(|w| w[0] == w[1])
        };
        if has_ties && !theirs.is_nan() {
            prop_assert!(close(ours, theirs, 1e-9), "ours {ours}, statrs {theirs}");
        }
    }

    #[test]
    fn exact_mann_whitney_agrees_with_enumeration(
        seed in any::<u64>(),
        n1 in 3usize..8,
        n2 in 3usize..8,
        shift in 0.0..2.0f64,
    ) {
        // Brute force: every way to pick which n1 of the pooled ranks are the candidate's.
        // (statrs' `MannWhitneyUMethod::Exact` with `Alternative::Greater` returns the complement
        // P(U < u) when x is the smaller sample, so it cannot serve as the reference here.)
        let mut rng = SplitMix64(seed);
        let x: Vec<f64> = (0..n1).map(|_| rng.uniform() + shift).collect();
        let y: Vec<f64> = (0..n2).map(|_| rng.uniform()).collect();
        let u_obs = x.iter().map(|a| y.iter().filter(|b| a > *b).count()).sum::<usize>();
        let n = n1 + n2;
        let (mut at_least, mut all) = (0u64, 0u64);
        for mask in 0u32..(1 << n) {
            if mask.count_ones() as usize != n1 {
                continue;
            }
            // Ranks 0..n; U = Σ candidate ranks − n1(n1 − 1)/2 (0-based ranks).
            let rank_sum: usize = (0..n).filter(|r| mask & (1 << r) != 0).sum();
            let u = rank_sum - n1 * (n1 - 1) / 2;
            all += 1;
            at_least += u64::from(u >= u_obs);
        }
        let ours = mann_whitney_greater(&x, &y).unwrap();
        prop_assert!(close(ours, at_least as f64 / all as f64, 1e-12), "ours {ours}, enumeration {at_least}/{all}");
    }

}

// === sequential detectors ===

#[test]
fn ewma_starts_at_the_first_sample_and_ignores_junk() {
    let mut e = Ewma::with_half_life(1.0);
    assert!(close(e.alpha, 0.5, 1e-12), "half-life 1 halves each step");
    assert_eq!(e.update(f64::NAN), None, "junk before any sample leaves it empty");
    assert_eq!(
        e.update(10.0),
        Some(10.0),
        "first sample initialises, no bias to 0"
    );
    assert_eq!(e.update(20.0), Some(15.0));
    assert_eq!(
        e.update(INF),
        Some(15.0),
        "an infinite sample must not poison the baseline"
    );
    assert_eq!(Ewma::new(f64::NAN).alpha, 1.0);
}

#[test]
fn cusum_average_run_lengths_match_siegmund_tables() {
    let c = Cusum::new(0.5, 4.0);
    // Published one-sided values for k = 0.5, h = 4: ARL0 ≈ 336, ARL1(1σ) ≈ 8.4.
    assert!(
        (330.0..345.0).contains(&c.average_run_length(0.0)),
        "{}",
        c.average_run_length(0.0)
    );
    assert!(
        (8.0..8.8).contains(&c.average_run_length(1.0)),
        "{}",
        c.average_run_length(1.0)
    );
    assert!(close(
        Cusum::new(0.0, 4.0).average_run_length(0.0),
        5.166 * 5.166,
        1e-9
    ));
}

#[test]
fn cusum_run_lengths_in_simulation_agree_with_the_approximation() {
    // Detection delay after a 1σ shift and false-alarm spacing without one, on N(0,1) residuals.
    let mut rng = SplitMix64(42);
    let mut run_length = |shift: f64| {
        let mut c = Cusum::new(0.5, 4.0);
        (1..).find(|_| c.update(rng.normal() + shift)).unwrap() as f64
    };
    let delay = (0..2000).map(|_| run_length(1.0)).sum::<f64>() / 2000.0;
    assert!((7.0..10.0).contains(&delay), "mean detection delay {delay}");
    let arl0 = (0..300).map(|_| run_length(0.0)).sum::<f64>() / 300.0;
    assert!((260.0..420.0).contains(&arl0), "mean false-alarm spacing {arl0}");
}

#[test]
fn cusum_latches_until_reset_and_ignores_junk() {
    let mut c = Cusum::new(0.5, 4.0);
    assert!(
        !(0..1000).any(|_| c.update(0.0)),
        "in control at the target never alarms"
    );
    assert!(!c.update(f64::NAN) && c.s == 0.0);
    let alarms: Vec<bool> = (0..8).map(|_| c.update(1.5)).collect();
    assert_eq!(alarms, [false, false, false, false, true, true, true, true]);
    c.reset();
    assert!(!c.update(1.5));
}
