//! Small phrases `explain` builds its sentences from: numbers, durations, lists, enum words.

use super::super::{
    model::*,
    units::{Duration, Percent},
    validate::rung_name,
};

/// The tightest instance cap.
pub(super) fn ceiling_count(s: &Spec) -> u64 {
    caps(s).iter().map(|(n, _)| *n).min().unwrap_or(0)
}

/// The tightest instance cap and which limit sets it.
pub(super) fn ceiling(s: &Spec) -> String {
    let caps = caps(s);
    let min = ceiling_count(s);
    let binding: Vec<&str> = caps
        .iter()
        .filter(|(n, _)| *n == min)
        .map(|(_, why)| why.as_str())
        .collect();
    format!(
        "{} (set by {})",
        count(min as usize, "instance"),
        binding.join(" and ")
    )
}

/// Every instance cap with the limit that sets it.
fn caps(s: &Spec) -> Vec<(u64, String)> {
    let tpl = &s.group.template;
    let l = &s.limits;
    let mut caps: Vec<(u64, String)> = vec![(s.group.size.max as u64, "group.size.max".into())];
    if let Some(m) = l.max_instances {
        caps.push((m as u64, "limits.maxInstances".into()));
    }
    if let (Some(max), Some(per)) = (l.max_vcpus, tpl.vcpus.filter(|v| *v > 0)) {
        caps.push((
            (max / per) as u64,
            format!("limits.maxVcpus {max} / {per} vCPUs per VM"),
        ));
    }
    if let (Some(max), Some(per)) = (l.max_ram, tpl.ram.filter(|r| r.bytes() > 0)) {
        caps.push((
            max.bytes() / per.bytes(),
            format!("limits.maxRam {max} / {per} per VM"),
        ));
    }
    caps
}

pub(super) fn agreement(quorum: u32, locations: Option<usize>, verb: &str) -> String {
    match locations {
        Some(1) => "judged from its single location".to_owned(),
        Some(n) if quorum <= 1 => format!("{verb} when any one of {n} locations sees it"),
        Some(n) => format!("{verb} only when {quorum} of {n} locations agree"),
        None => format!("{verb} only when {quorum} locations agree"),
    }
}

pub(super) fn stabilise(window: Duration, which: &str) -> String {
    if window.secs() <= 0.0 {
        "acting on a recommendation at once".to_owned()
    } else {
        format!(
            "only once a recommendation has held for {} (it acts on the {which} recommendation over that window)",
            human(window)
        )
    }
}

pub(super) fn rung_words(r: Rung) -> String {
    let what = match r {
        Rung::Drain => "load-balancer weight 0, so no new traffic reaches it",
        Rung::RebootSoft => "ACPI reboot",
        Rung::RebootHard => "power cycle",
        Rung::Rebuild => "rebuild from the template image",
        Rung::Replace => "create a new VM, then delete the old one",
    };
    format!("`{}` ({what})", rung_name(r))
}

pub(super) fn family_words(f: Family) -> &'static str {
    match f {
        Family::V6 => "IPv6 only",
        Family::V4 => "IPv4 only",
        Family::Both => "IPv6 and IPv4, each judged separately",
    }
}

pub(super) fn network_words(f: Family) -> &'static str {
    match f {
        Family::V6 => "IPv6-only",
        Family::V4 => "IPv4-only",
        Family::Both => "dual-stack",
    }
}

pub(super) fn affinity_words(a: AffinityPolicy) -> &'static str {
    match a {
        AffinityPolicy::AntiAffinity => "anti-affinity: never two members on one hypervisor",
        AffinityPolicy::SoftAntiAffinity => "soft anti-affinity: prefer different hypervisors",
        AffinityPolicy::Affinity => "affinity: all members on one hypervisor",
        AffinityPolicy::SoftAffinity => "soft affinity: prefer one hypervisor",
    }
}

pub(super) fn aggregation_words(a: Aggregation) -> &'static str {
    match a {
        Aggregation::Mean => "mean",
        Aggregation::Max => "maximum",
        Aggregation::RateMean => "rate of the mean",
        Aggregation::RateMax => "rate of the maximum",
    }
}

pub(super) fn method_name(m: HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "GET",
        HttpMethod::Head => "HEAD",
        HttpMethod::Post => "POST",
        HttpMethod::Options => "OPTIONS",
    }
}

/// `3 instances`, `1 instance`.
pub(super) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A number without float noise: `95`, `99.9`, `14.4`.
pub(super) fn number(x: f64) -> String {
    let text = format!("{x:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A percentage written the way people say it: `99.9 %`.
pub(super) fn pct(p: Percent) -> String {
    pct_number(p.fraction() * 100.0)
}

pub(super) fn pct_number(x: f64) -> String {
    format!("{} %", number(x))
}

/// A duration in words: `800 ms`, `5 minutes`, `1 hour 30 minutes`, `30 days`.
pub fn human(d: Duration) -> String {
    let ms = (d.secs().max(0.0) * 1000.0).round() as u64;
    if ms == 0 {
        return "0 seconds".into();
    }
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let secs = ms / 1000;
    let (days, hours, minutes, seconds) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    let mut parts = Vec::new();
    for (n, unit) in [(days, "day"), (hours, "hour"), (minutes, "minute")] {
        if n > 0 {
            parts.push(count(n as usize, unit));
        }
    }
    let rest_ms = ms % 1000;
    if rest_ms > 0 {
        parts.push(format!(
            "{} seconds",
            number(seconds as f64 + rest_ms as f64 / 1000.0)
        ));
    } else if seconds > 0 {
        parts.push(count(seconds as usize, "second"));
    }
    parts.join(" ")
}

pub(super) fn ticks(items: &[String]) -> String {
    list(&items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>())
}

/// `a`, `a and b`, `a, b and c`.
pub(super) fn list(items: &[String]) -> String {
    join_last(items, "and")
}

pub(super) fn or_list(items: &[String]) -> String {
    join_last(items, "or")
}

pub(super) fn join_last(items: &[String], word: &str) -> String {
    match items {
        [] => "nothing".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {word} {last}", init.join(", ")),
    }
}
