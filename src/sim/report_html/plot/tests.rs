use super::*;

#[test]
fn escaping_covers_markup_and_both_quote_styles() {
    assert_eq!(
        esc("<script>a&b\"c'</script>"),
        "&lt;script&gt;a&amp;b&quot;c&#39;&lt;/script&gt;"
    );
}

#[test]
fn nice_ticks_are_round_and_cover_the_range() {
    let cases: [(&str, f64, f64, &[f64]); 3] = [
        (
            "a requests/s range snaps to hundreds",
            0.0,
            870.0,
            &[0.0, 200.0, 400.0, 600.0, 800.0, 1000.0],
        ),
        (
            "a latency range in seconds uses decimals",
            0.0,
            0.9,
            &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
        ),
        (
            "an empty range still gets an axis",
            3.0,
            3.0,
            &[3.0, 3.2, 3.4, 3.6, 3.8, 4.0],
        ),
    ];
    for (why, lo, hi, want) in cases {
        let got = nice_ticks(lo, hi, 5);
        assert_eq!(got.len(), want.len(), "{why}: {got:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "{why}: {got:?}");
        }
    }
}

#[test]
fn numbers_are_compact() {
    assert_eq!(fmt_num(12000.0, 2000.0), "12k");
    assert_eq!(fmt_num(0.25, 0.05), "0.25");
    assert_eq!(fmt_num(800.0, 200.0), "800");
}

#[test]
fn downsampling_bounds_the_points_and_keeps_a_spike() {
    let mut points: Vec<Point> = (0..10_000).map(|i| (i as f64, Some((i % 7) as f64))).collect();
    points[4321].1 = Some(1000.0);
    points[9000].1 = None;
    let out = downsample(&points, 1500);
    assert!(out.len() <= 1500, "{}", out.len());
    assert!(out.iter().any(|p| p.1 == Some(1000.0)), "the spike survives");
    assert!(out.windows(2).all(|w| w[0].0 <= w[1].0), "x stays ordered");
    let short: Vec<Point> = points[..100].to_vec();
    assert_eq!(
        downsample(&short, 1500),
        short,
        "short series are kept as they are"
    );
}

#[test]
fn clock_labels_use_the_displayed_zone() {
    // 2026-09-27T16:00:00Z is 18:00 at +02:00.
    let axis = TimeAxis {
        start: 1_790_524_800.0,
        offset_s: 7200.0,
    };
    assert_eq!(axis.clock(0.0, false), "18:00");
    assert_eq!(axis.clock(90.0, true), "18:01:30");
    let ticks = axis.ticks(0.0, 24.0 * 3600.0);
    assert!(
        ticks.iter().any(|t| t.1 == "09-28"),
        "midnight shows the date: {ticks:?}"
    );
}
