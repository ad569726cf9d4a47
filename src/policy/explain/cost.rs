//! What a policy can cost, and when its scheduled peaks yield, in plain words.

use super::{Text, words::*};
use crate::policy::model::*;

/// When a scheduled peak yields before its end (`releaseWhen`).
pub(super) fn release(peak: &ScheduledPeak, s: &Spec) -> String {
    let r = &peak.release_when;
    if r.below.fraction() <= 0.0 {
        return "It holds until its end (releaseWhen.below is 0 %).".to_owned();
    }
    let held = if peak.allow_scale_in {
        "its floor"
    } else {
        "the servers it holds"
    };
    let at = s
        .scaling
        .target_utilization
        .map_or("at full utilisation".to_owned(), |t| {
            format!("at the {} target", pct(t))
        });
    format!(
        "Once the load has come (reached {} of what {held} serve {at}, at the per-server rate sloop has learned) and then stayed below that for {}, the peak is over: its floor and its scale-in suspension end and ordinary scaling proceeds. Without a learned per-server rate it holds until its end.",
        pct(r.below),
        human(r.hold_for)
    )
}

/// The VM-hours the policy can spend a day, at its caps and at its minimum, and what each
/// scheduled peak holds at least.
pub(super) fn cost(t: &mut Text, s: &Spec) {
    t.heading("What it can cost");
    let top = ceiling_count(s);
    let min = u64::from(s.group.size.min);
    t.item(&format!(
        "At most {} VM-hours a day: the ceiling of {} running all day. At least {} VM-hours a day at size.min.",
        top * 24,
        ceiling(s),
        min * 24
    ));
    for peak in &s.scaling.schedule {
        let hours = (peak.until.unix() - peak.at.unix() + peak.prewarm.secs()) / 3600.0;
        t.item(&format!(
            "`{}` holds at least {} for {hours:.1} hours (pre-warm included): {:.0} VM-hours, fewer once it yields.",
            peak.name,
            count(peak.floor as usize, "instance"),
            f64::from(peak.floor) * hours
        ));
    }
}

/// How the scale-in step grows with the margin (`plan::margin`).
pub(super) fn fast_scale_in(s: &Spec) -> String {
    let near = (crate::plan::margin::NEAR * 100.0).round();
    let of = match (
        s.scaling.target_utilization.is_some(),
        s.scaling.latency_objective.is_some(),
    ) {
        (true, true) => "of the target utilisation and of the latency threshold",
        (true, false) => "of the target utilisation",
        (false, true) => "of the latency threshold",
        (false, false) => {
            return "The step never grows: no target utilisation or latency objective measures the margin."
                .into();
        }
    };
    format!(
        "Far below the objectives (under {near:.0} % {of}) with the load flat or falling, one step may remove more than that: a share of the excess over the stable recommendation that grows with the margin, all of it with no load. Near the objectives or while the load rises, the step stays as above."
    )
}
