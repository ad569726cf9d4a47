//! Alerts and diagnoses above a policy's tiles. Diagnoses that say the same thing about several
//! servers (one instance fault per crashed server, with the same reasoning) are one banner that
//! names every server concerned.

use crate::{decision::Diagnosis, run::status::PolicyView, sim::report_html::plot::esc};
use std::fmt::Write;

/// A diagnosis as the page words it: its label, its reasoning, and what it concerns.
fn parts(d: &Diagnosis) -> (&'static str, String, Vec<String>) {
    let detail = serde_json::to_value(d)
        .ok()
        .and_then(|j| j.get("detail").and_then(|d| d.as_str().map(str::to_owned)))
        .unwrap_or_default();
    let concerns = match d {
        Diagnosis::InstanceFault { instance, .. } => vec![instance.clone()],
        Diagnosis::HostFault { host, instances, .. } => {
            let mut c = vec![format!("host {host}")];
            c.extend(instances.iter().cloned());
            c
        }
        Diagnosis::NetworkPath {
            locations, families, ..
        } => {
            let mut c: Vec<String> = locations.iter().map(|l| format!("from {l}")).collect();
            c.extend(families.iter().map(|f| format!("{f:?}")));
            c
        }
        Diagnosis::OverProvisioned { needed, serving } => vec![format!("{serving} serving, {needed} needed")],
        Diagnosis::Capacity { .. } | Diagnosis::Flood { .. } => Vec::new(),
    };
    (d.label(), detail, concerns)
}

/// A server ID as `name (id)` when the group knows it.
fn named(v: &PolicyView, id: &str) -> String {
    match v.instances.iter().find(|i| i.id == id) {
        Some(i) if i.name != i.id => format!("{} ({id})", i.name),
        _ => id.to_owned(),
    }
}

pub(super) fn notices(h: &mut String, v: &PolicyView) {
    let Some(d) = &v.decision else { return };
    for a in &d.alerts {
        let class = serde_json::to_value(a.severity)
            .ok()
            .and_then(|s| s.as_str().map(str::to_owned))
            .unwrap_or_default();
        let class = if class == "page" { "page" } else { "ticket" };
        let _ = write!(
            h,
            "<div class=\"notice {class}\">{} · {}: {}</div>",
            class.to_uppercase(),
            esc(&a.name),
            esc(&a.summary)
        );
    }
    // (label, reasoning) → what it concerns, in the decision's order.
    let mut merged: Vec<(&'static str, String, Vec<String>)> = Vec::new();
    for diag in &d.diagnoses {
        let (label, detail, concerns) = parts(diag);
        match merged.iter_mut().find(|(l, d, _)| *l == label && *d == detail) {
            Some((_, _, all)) => {
                for c in concerns {
                    if !all.contains(&c) {
                        all.push(c);
                    }
                }
            }
            None => merged.push((label, detail, concerns)),
        }
    }
    for (label, detail, concerns) in merged {
        let on = if concerns.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = concerns.iter().map(|c| named(v, c)).collect();
            format!(" <b>{}</b>", esc(&names.join(", ")))
        };
        let why = if detail.is_empty() {
            String::new()
        } else {
            format!(": {}", esc(&detail))
        };
        let _ = write!(
            h,
            "<div class=\"notice diag\">Diagnosis: {}{on}{why}</div>",
            esc(label)
        );
    }
}
