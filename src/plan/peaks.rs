//! Scheduled peaks: the floor each holds in its window, and when it yields (`releaseWhen`).
//! Pure.
//!
//! A scheduled peak is a floor for when the load is unknown. The peak *arrives* once the load
//! reaches the release share of the capacity it holds; from then on, once the load (and the
//! forecast, when [`Capacity::outlook`] has one) stays below that share for `releaseWhen.for`,
//! the peak yields for the rest of its window: no floor, no scale-in suspension. Before the
//! peak arrives it never yields (a quiet afternoon before the polls close is exactly when
//! the floor must hold), and without a learned per-server rate or a load figure it never
//! yields at all: it holds until `until`, as before there was a rule.

use crate::{
    history::History,
    judge::{Capacity, Judgement},
    policy::{Policy, ScheduledPeak},
    snapshot::Time,
};

/// Whether `peak`'s window (pre-warm included) covers `now`.
fn in_window(peak: &ScheduledPeak, now: Time) -> bool {
    now >= peak.at.unix() - peak.prewarm.secs() && now < peak.until.unix()
}

/// The scheduled-peak floor in force at `now` (pre-warm included), and whether scale-in is
/// suspended by it. Peaks that have yielded hold nothing.
pub fn in_force(policy: &Policy, history: &History, now: Time) -> (u32, bool) {
    let mut floor = 0;
    let mut no_scale_in = false;
    for peak in &policy.spec.scaling.schedule {
        let released = history
            .peaks
            .get(&peak.name)
            .is_some_and(|h| h.released_at.is_some());
        if in_window(peak, now) && !released {
            floor = floor.max(peak.floor);
            no_scale_in |= !peak.allow_scale_in;
        }
    }
    (floor, no_scale_in)
}

/// The load as a share of the capacity `peak` holds: its floor, or the serving group while it
/// suspends scale-in, at the target utilisation and the learned per-server rate. The forecast,
/// when there is one, counts if it is higher. `None` without a load or a learned rate.
pub fn load_share(policy: &Policy, peak: &ScheduledPeak, c: &Capacity, rate: Option<f64>) -> Option<f64> {
    let mu = rate.filter(|mu| *mu > 0.0)?;
    let load = c.load?;
    let load = c.outlook.as_ref().map_or(load, |o| load.max(o.ahead_rps));
    let held = if peak.allow_scale_in {
        peak.floor
    } else {
        peak.floor.max(c.serving)
    };
    let target = policy
        .spec
        .scaling
        .target_utilization
        .map_or(1.0, |p| p.fraction());
    let capacity = f64::from(held.max(1)) * mu * target.max(0.01);
    Some(load / capacity)
}

/// Moves every peak in its window on towards yielding, and forgets peaks whose window is over.
pub(super) fn track(policy: &Policy, j: &Judgement, history: &mut History, now: Time) {
    let rate = history.service_rate.or(j.capacity.observed_service_rate);
    for peak in &policy.spec.scaling.schedule {
        // Only the window proper: during pre-warm the load is the quiet before the peak.
        if now < peak.at.unix() || now >= peak.until.unix() {
            continue;
        }
        let below = peak.release_when.below.fraction();
        let hold = history.peaks.entry(peak.name.clone()).or_default();
        if hold.released_at.is_some() {
            continue;
        }
        let share = load_share(policy, peak, &j.capacity, rate);
        match share {
            Some(s) if s >= below => {
                hold.arrived = true;
                hold.quiet_since = None;
            }
            Some(_) if hold.arrived && below > 0.0 => {
                let since = *hold.quiet_since.get_or_insert(now);
                if now - since >= peak.release_when.hold_for.secs() {
                    hold.released_at = Some(now);
                }
            }
            _ => hold.quiet_since = None,
        }
    }
    history.peaks.retain(|name, _| {
        policy
            .spec
            .scaling
            .schedule
            .iter()
            .any(|p| &p.name == name && in_window(p, now))
    });
}
