//! Times on the status page: the page's "now", clock and date in the policy's zone, and
//! "how long ago" in words an on-call engineer reads at a glance.

use crate::{
    clock::{Clock, SystemClock},
    run::status::Status,
    snapshot::Time,
};

/// "Now" on the page: simulated time (the newest pass) under `--cloud sim`, else the wall clock.
pub(super) fn page_now(status: &Status) -> Time {
    if status.sim.is_some() {
        let newest = status
            .policies
            .values()
            .filter_map(|p| p.last_tick)
            .fold(f64::NAN, f64::max);
        if newest.is_finite() {
            return newest;
        }
        return status.sim.as_ref().map_or(0.0, |s| s.start);
    }
    SystemClock.now()
}

/// `HH:MM:SS` in the zone `offset` seconds east of UTC.
pub(super) fn clock(t: Time, offset: f64) -> String {
    let s = crate::policy::units::Timestamp::from_unix((t + offset).floor()).to_string();
    s.get(11..19).unwrap_or_default().to_owned()
}

pub(super) fn date_time(t: Time, offset: f64) -> String {
    let s = crate::policy::units::Timestamp::from_unix((t + offset).floor()).to_string();
    format!(
        "{} {}",
        s.get(..10).unwrap_or_default(),
        s.get(11..16).unwrap_or_default()
    )
}

pub(super) fn zone(offset: f64) -> String {
    if offset == 0.0 {
        return "UTC".into();
    }
    let minutes = (offset.abs() / 60.0).round() as i64;
    let minutes = if offset < 0.0 { -minutes } else { minutes };
    format!("UTC{}", crate::policy::units::offset_text(minutes))
}

pub(super) fn ago(now: Time, t: Option<Time>) -> String {
    match t {
        None => "never".into(),
        Some(t) => {
            let d = (now - t).max(0.0);
            match d {
                d if d < 1.5 => "just now".into(),
                d if d < 120.0 => format!("{d:.0} s ago"),
                d if d < 7200.0 => format!("{:.0} min ago", d / 60.0),
                d => format!("{:.1} h ago", d / 3600.0),
            }
        }
    }
}

/// The one zone every time on the page is shown in: the policies' zone when they share one
/// (the zone of their schedules), else UTC.
pub(super) fn page_zone(status: &Status) -> f64 {
    let mut offsets = status.policies.values().map(|p| p.tz_offset);
    match offsets.next() {
        Some(first) if offsets.all(|o| o == first) => first,
        _ => 0.0,
    }
}
