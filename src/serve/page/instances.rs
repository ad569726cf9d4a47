//! The servers table of the status page: the ones that need a look first, the routine rest
//! summarised so a group of hundreds stays one screen.

use super::time::ago;
use crate::{
    run::status::PolicyView,
    sim::report_html::plot::esc,
    snapshot::{Instance, InstanceStatus, Time},
};
use std::fmt::Write;

fn status_colour(s: InstanceStatus) -> &'static str {
    match s {
        InstanceStatus::Active => "#16a34a",
        InstanceStatus::Building
        | InstanceStatus::Rebooting
        | InstanceStatus::Rebuilding
        | InstanceStatus::Migrating => "#f59e0b",
        InstanceStatus::Deleting | InstanceStatus::Shutoff => "#64748b",
        InstanceStatus::Error => "#dc2626",
    }
}

/// Servers shown in full; beyond that, the healthy routine ones are summarised.
const SERVER_ROWS: usize = 14;

/// Servers that need a look come first: not active, out of rotation, offline or busy.
fn attention(v: &PolicyView, i: &Instance) -> u8 {
    let busy = v
        .in_flight
        .iter()
        .any(|f| f.instance.as_deref() == Some(i.id.as_str()));
    let member_bad = i.member.is_some_and(|m| m.weight == 0 || !m.online);
    match (i.status, member_bad, busy) {
        (InstanceStatus::Error, _, _) => 0,
        (InstanceStatus::Active, false, false) => 3,
        (InstanceStatus::Active, _, _) => 1,
        _ => 2,
    }
}

pub(super) fn instances(h: &mut String, v: &PolicyView, now: Time) {
    let _ = write!(
        h,
        "<h3>Servers ({} · {} in rotation)</h3>",
        v.instances.len(),
        v.in_rotation()
    );
    if v.instances.is_empty() {
        h.push_str("<div class=\"empty\">No servers seen yet.</div>");
        return;
    }
    let mut order: Vec<&Instance> = v.instances.iter().collect();
    order.sort_by_key(|i| attention(v, i));
    h.push_str("<table><tr><th>name</th><th>state</th><th>host</th><th>LB weight</th><th>age</th><th>busy with</th></tr>");
    for i in order.iter().take(SERVER_ROWS) {
        instance_row(h, v, i, now);
    }
    let rest = &order[order.len().min(SERVER_ROWS)..];
    if !rest.is_empty() {
        let routine = rest.iter().filter(|i| attention(v, i) == 3).count();
        let hosts: std::collections::BTreeSet<&str> = rest.iter().filter_map(|i| i.host.as_deref()).collect();
        let _ = write!(
            h,
            "<tr><td colspan=\"6\" class=\"muted\">… and {} more ({routine} active and in rotation) on {} hosts; \
             every server is in <a href=\"/api/v1/status\">the status JSON</a></td></tr>",
            rest.len(),
            hosts.len()
        );
    }
    h.push_str("</table>");
}

fn instance_row(h: &mut String, v: &PolicyView, i: &Instance, now: Time) {
    let status = serde_json::to_value(i.status)
        .ok()
        .and_then(|s| s.as_str().map(str::to_owned))
        .unwrap_or_default();
    let weight = match i.member {
        None => "<span class=\"muted\">not in pool</span>".to_owned(),
        Some(m) => format!(
            "<span class=\"weight\"><i style=\"width:{}%;background:{}\"></i></span>{}{}",
            if m.weight > 0 { 100 } else { 0 },
            if m.online { "#2563eb" } else { "#dc2626" },
            m.weight,
            if m.online {
                ""
            } else {
                " <span class=\"muted\">offline</span>"
            }
        ),
    };
    let busy = v
        .in_flight
        .iter()
        .find(|f| f.instance.as_deref() == Some(i.id.as_str()))
        .map(|f| f.kind.label())
        .unwrap_or("");
    let _ = write!(
        h,
        "<tr><td><b>{}</b><div class=\"mono muted\">{}</div></td><td><span class=\"dot\" style=\"background:{}\"></span>{}</td>\
         <td class=\"mono\">{}</td><td>{weight}</td><td class=\"t\">{}</td><td>{}</td></tr>",
        esc(&i.name),
        esc(&i.id),
        status_colour(i.status),
        esc(&status),
        esc(i.host.as_deref().unwrap_or("–")),
        esc(&ago(now, Some(i.created_at)).replace(" ago", "")),
        esc(busy)
    );
}
