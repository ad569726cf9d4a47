//! Burn-rate alerts fire within one decision tick of the analytic time
//! `t = burn × (1 − SLO) / e × long window` after the error ratio steps from 0 to `e`. The times
//! are simulated, so this is a correctness property, not a timing test: the decision core is
//! ticked every 10 s over a probe store fed a deterministic failure pattern.

use crate::testkit::burn::burn_alert_timing;

#[test]
fn every_workbook_row_fires_within_one_tick_of_the_analytic_time() {
    for row in 0..4 {
        for e in [1.0, 0.5] {
            let b = burn_alert_timing(row, e, 10.0).expect("experiment runs");
            let fired = b
                .fired_s
                .unwrap_or_else(|| panic!("row {row}, e {e}: never fired (analytic {:.1} s)", b.analytic_s));
            let ticks_late = (fired - b.analytic_s) / b.tick_s;
            assert!(
                (-1.0..=1.0).contains(&ticks_late),
                "row {row}, e {e}: fired at {fired:.0} s, analytic {:.1} s ({ticks_late:.2} ticks)",
                b.analytic_s
            );
        }
    }
}

#[test]
fn a_weaker_error_ratio_takes_proportionally_longer() {
    let fast = burn_alert_timing(0, 1.0, 10.0).unwrap().fired_s.unwrap();
    let slow = burn_alert_timing(0, 0.25, 10.0).unwrap().fired_s.unwrap();
    // 14.4 × 0.001 × 3600 s = 51.84 s at e = 1; four times that at e = 0.25.
    assert!((40.0..=70.0).contains(&fast), "{fast}");
    assert!((190.0..=220.0).contains(&slow), "{slow}");
}
