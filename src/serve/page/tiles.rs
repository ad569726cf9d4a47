//! The tiles under a policy's heading: each objective's judged value and error budget, the
//! servers in rotation, and the actions of the last hour. A value that cannot be shown as a
//! number (no samples yet, an overspent budget) says so in words, never `inf` or a negative
//! percentage.

use super::{colours, verdict};
use crate::{
    decision::SloState,
    run::status::{ObjectiveInfo, PolicyView},
    serve::{
        metrics::state_label,
        page::style::{AT_RISK, MET, VIOLATED},
    },
    sim::report_html::plot::esc,
};
use std::fmt::Write;

/// The value the judge weighs, as text, or why there is none.
pub(super) fn judged_value(v: &PolicyView, o: &ObjectiveInfo) -> Result<String, &'static str> {
    let Some(verdict) = verdict(v, o) else {
        return Err("no pass has judged it yet");
    };
    let sampled: Vec<f64> = verdict
        .per_series
        .iter()
        .filter(|s| s.samples > 0)
        .map(|s| s.estimate)
        .collect();
    if sampled.is_empty() {
        return Err("no probe samples in the objective's window");
    }
    // The quorum-th worst judged series.
    let mut est: Vec<f64> = sampled.into_iter().filter(|e| e.is_finite()).collect();
    if est.is_empty() {
        return Err("too few samples for an estimate");
    }
    est.sort_by(|a, b| b.total_cmp(a));
    let q = (o.quorum.max(1) as usize).min(est.len()) - 1;
    Ok(if o.kind == "latency" {
        format!("{:.0} ms", est[q] * 1000.0)
    } else {
        format!("{:.3} %", (1.0 - est[q]) * 100.0)
    })
}

/// The error budget line of a tile: what is left, or how far past it the objective is.
pub(super) fn budget(left: f64) -> String {
    if !left.is_finite() {
        return "<div class=\"sub\">error budget: n/a (no estimate)</div>".into();
    }
    if left < 0.0 {
        return format!(
            "<div class=\"sub\">error budget <b>exhausted</b>: {:.0} % of it spent</div>\
             <div class=\"bar\"><i style=\"width:0%\"></i></div>",
            (1.0 - left) * 100.0
        );
    }
    let colour = if left > 0.5 {
        MET.0
    } else if left > 0.2 {
        AT_RISK.0
    } else {
        VIOLATED.0
    };
    format!(
        "<div class=\"sub\">error budget left <b>{:.1} %</b></div><div class=\"bar\"><i style=\"width:{:.1}%;background:{colour}\"></i></div>",
        left * 100.0,
        (left * 100.0).min(100.0)
    )
}

pub(super) fn tiles(h: &mut String, v: &PolicyView) {
    h.push_str("<div class=\"tiles\">");
    for o in &v.objectives {
        let verdict = verdict(v, o);
        let st = verdict.map(|x| x.state);
        let (fg, _) = colours(st);
        let value = match judged_value(v, o) {
            Ok(value) => esc(&value),
            Err(why) => format!("no data <span class=\"muted\" style=\"font-size:12px\">({why})</span>"),
        };
        let _ = write!(
            h,
            "<div class=\"tile\" style=\"border-top-color:{fg}\"><div class=\"label\">{}</div>\
             <div class=\"value\" style=\"color:{fg}\">{value}</div><div class=\"sub\">{} · {} · {}/{} locations violating</div>",
            esc(&o.name),
            state_label(st.unwrap_or(SloState::NoData)),
            esc(&o.text),
            verdict.map_or(0, |x| x.violating_locations),
            verdict.map_or(0, |x| x.judged_locations),
        );
        if let Some(b) = verdict.and_then(|x| x.budget_remaining) {
            h.push_str(&budget(b));
        }
        h.push_str("</div>");
    }
    // What the load needs against what runs: the cost of the margin, in servers.
    let needs = v
        .trend
        .needed
        .back()
        .map_or(String::new(), |(_, n)| format!(" · the load needs {n:.0}"));
    let _ = write!(
        h,
        "<div class=\"tile\"><div class=\"label\">servers</div><div class=\"value\">{} <span class=\"muted\" style=\"font-size:15px\">of {} in rotation</span></div>\
         <div class=\"sub\">group size {}–{}{needs}</div></div>",
        v.in_rotation(),
        v.instances.len(),
        v.size.0,
        v.size.1
    );
    // Actions a killed predecessor left in flight, as this incarnation resolved them.
    let interrupted = if v.interrupted.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = v.interrupted.iter().map(|(k, n)| format!("{n} {k}")).collect();
        format!(" · interrupted by a restart: {}", parts.join(", "))
    };
    let _ = write!(
        h,
        "<div class=\"tile\"><div class=\"label\">actions</div><div class=\"value\">{}</div><div class=\"sub\">in the last hour · {} in flight{}</div></div>",
        v.actions_last_hour,
        v.in_flight.len(),
        esc(&interrupted)
    );
    h.push_str("</div>");
}
