//! The status page at `/`: what an on-call engineer looks at first. One server-rendered HTML
//! document with inline CSS and SVG, refreshed by the browser every few seconds; no script.
//!
//! Top to bottom: the controller (cloud, leader, dry-run), one line per policy with its
//! state, rejected policy changes (loud), then per policy its objectives and error budget,
//! alerts and diagnoses, latency charts per location and per family against the objective,
//! the group's size with sloop's actions, its servers, its probe locations (agents) with
//! freshness, and the timeline of actions with their reasons. Pure: a function of the state.

mod charts;
mod instances;
mod notices;
mod style;
#[cfg(test)]
mod tests;
mod tiles;
mod time;

use crate::{
    clock::{Clock, SystemClock},
    decision::{ActionKind, SloState, Verdict},
    ingest::AgentStatus,
    journal::{Journal, JournalEntry},
    policy::Mode,
    run::status::{ObjectiveInfo, PolicyView, Status},
    sim::report_html::plot::esc,
    snapshot::Time,
};
use std::{fmt::Write, sync::Arc};
use style::{AT_RISK, CSS, MET, NO_DATA, VIOLATED};
use time::{ago, clock, date_time, page_now, page_zone, zone};

/// Timeline rows per policy.
const TIMELINE_ROWS: usize = 25;
/// Seconds between browser refreshes.
const REFRESH: u32 = 5;

/// The chart windows a reader can pick (`/?window=6h`), and the one shown by default.
pub const WINDOWS: [(&str, f64); 5] = [
    ("15m", 900.0),
    ("1h", 3600.0),
    ("3h", 3.0 * 3600.0),
    ("6h", 6.0 * 3600.0),
    ("24h", 24.0 * 3600.0),
];
/// The default window's name.
pub const DEFAULT_WINDOW: &str = "3h";

/// Renders the page with the default chart window. `agents`: the remote probe agents, when any
/// are configured.
pub fn render(status: &Status, journal: &Journal, agents: Option<&[AgentStatus]>) -> String {
    render_window(status, journal, agents, DEFAULT_WINDOW)
}

/// Renders the page with the charts over `window` (one of [`WINDOWS`]; another name falls back
/// to the default).
pub fn render_window(
    status: &Status,
    journal: &Journal,
    agents: Option<&[AgentStatus]>,
    window: &str,
) -> String {
    let window = WINDOWS
        .iter()
        .find(|(n, _)| *n == window)
        .or_else(|| WINDOWS.iter().find(|(n, _)| *n == DEFAULT_WINDOW))
        .copied()
        .unwrap_or(WINDOWS[2]);
    let now = page_now(status);
    // One zone for every time on the page.
    let offset = page_zone(status);
    let mut h = String::with_capacity(256 * 1024);
    let title = match status.policies.len() {
        1 => format!(
            "sloop · {}",
            status.policies.keys().next().map_or("", |s| s.as_str())
        ),
        n => format!("sloop · {n} policies"),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH}\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>",
        esc(&title)
    );
    top_bar(&mut h, status, now, offset);
    h.push_str("<main>");
    overview(&mut h, status);
    if let Some(e) = journal.unwritable() {
        let _ = write!(
            h,
            "<div class=\"alarm\"><h3>The action journal cannot be written</h3><div>No action is executed until its intent can be written (<code>/readyz</code> says not ready).</div><pre>{}</pre></div>",
            esc(&e)
        );
    }
    rejected(&mut h, status);
    if status.policies.is_empty() {
        h.push_str("<div class=\"policy\"><div class=\"pbody empty\">No policy is managed. ");
        h.push_str(if status.sources_synced {
            "Add a policy file to the policy directory; it is picked up within seconds.</div></div>"
        } else {
            "Loading policies…</div></div>"
        });
    }
    for view in status.policies.values() {
        let entries = journal.recent(Some(&view.name), 400);
        policy(&mut h, view, &entries, now, offset, window);
    }
    unmanaged(&mut h, status);
    remote_agents(&mut h, agents);
    let _ = write!(
        h,
        "</main><footer>sloop {} · refreshes every {REFRESH} s · <a href=\"/api/v1/status\">status JSON</a> · \
         <a href=\"/api/v1/journal\">journal JSON</a> · <a href=\"/metrics\">metrics</a></footer></body></html>",
        esc(status.version)
    );
    h.push('\n');
    h
}

fn colours(s: Option<SloState>) -> (&'static str, &'static str) {
    match s {
        Some(SloState::Met) => MET,
        Some(SloState::AtRisk) => AT_RISK,
        Some(SloState::Violated) => VIOLATED,
        Some(SloState::NoData) | None => NO_DATA,
    }
}

fn state_pill(s: Option<SloState>) -> String {
    let (fg, bg) = colours(s);
    let text = s.map_or("WAITING", |s| match s {
        SloState::Met => "MET",
        SloState::AtRisk => "AT RISK",
        SloState::Violated => "VIOLATED",
        SloState::NoData => "NO DATA",
    });
    format!("<span class=\"state\" style=\"color:{fg};background:{bg}\">{text}</span>")
}

fn top_bar(h: &mut String, s: &Status, now: Time, offset: f64) {
    h.push_str("<header class=\"top\"><span class=\"brand\">sloop</span>");
    let _ = write!(h, "<span class=\"meta\">{}</span>", esc(&s.cloud));
    if let Some(sim) = &s.sim {
        let done = ((now - sim.start) / (sim.end - sim.start).max(1.0)).clamp(0.0, 1.0);
        let _ = write!(
            h,
            "<span class=\"chip sim\">simulated {} {} · {:.0} % of the scenario</span>",
            esc(&date_time(now, offset)),
            esc(&zone(offset)),
            done * 100.0
        );
    }
    let _ = write!(
        h,
        "<span class=\"meta\">times in {}</span><span class=\"spacer\"></span>",
        esc(&zone(offset))
    );
    if s.shutting_down {
        h.push_str("<span class=\"chip stop\">SHUTTING DOWN</span>");
    }
    if s.dry_run {
        h.push_str("<span class=\"chip dry\">DRY RUN: nothing is executed</span>");
    }
    h.push_str(if s.leader {
        "<span class=\"chip leader\">LEADER: acting</span>"
    } else {
        "<span class=\"chip follower\">FOLLOWER: observing only</span>"
    });
    h.push_str("</header>");
}

fn overview(h: &mut String, s: &Status) {
    if s.policies.len() < 2 {
        return;
    }
    h.push_str("<div class=\"overview\">");
    for v in s.policies.values() {
        let st = v.overall();
        let _ = write!(
            h,
            "<a class=\"ov\" href=\"#p-{n}\" style=\"border-left-color:{c}\"><b>{n}</b>{}</a>",
            state_pill(st),
            n = esc(&v.name),
            c = colours(st).0
        );
    }
    h.push_str("</div>");
}

fn rejected(h: &mut String, s: &Status) {
    for (key, r) in &s.rejected {
        let kept = match &r.kept {
            Some(p) => format!("The last good version of <b>{}</b> stays in force.", esc(p)),
            None => "Nothing from this source is in force.".into(),
        };
        let _ = write!(
            h,
            "<div class=\"alarm\"><h3>Rejected policy change: {}</h3><div>{kept}</div><pre>{}</pre></div>",
            esc(key),
            esc(&r.errors.join("\n"))
        );
    }
}

fn policy(
    h: &mut String,
    v: &PolicyView,
    journal: &[Arc<JournalEntry>],
    now: Time,
    offset: f64,
    window: (&str, f64),
) {
    let _ = write!(
        h,
        "<section class=\"policy\" id=\"p-{n}\" style=\"border-top:6px solid {c}\"><div class=\"phead\"><h2>{n}</h2>{}",
        state_pill(v.overall()),
        n = esc(&v.name),
        c = colours(v.overall()).0
    );
    if v.mode == Mode::DryRun {
        h.push_str("<span class=\"chip dry\">dry-run</span>");
    }
    if let Some(d) = &v.description {
        let _ = write!(h, "<span class=\"desc\">{}</span>", esc(d));
    }
    let _ = write!(
        h,
        "<span class=\"spacer\" style=\"flex:1\"></span><span class=\"muted small\">{} · every {:.0} s · last pass {} · {} passes</span></div><div class=\"pbody\">",
        esc(&v.source),
        v.interval,
        esc(&ago(now, v.last_tick)),
        v.ticks
    );
    if let Some(e) = &v.last_error {
        let _ = write!(h, "<div class=\"notice page\">Last pass failed: {}</div>", esc(e));
    }
    if v.finished {
        h.push_str("<div class=\"notice ticket\">The scenario has ended; this is its final state.</div>");
    }
    notices::notices(h, v);
    tiles::tiles(h, v);
    charts(h, v, journal, offset, window);
    h.push_str("<div class=\"cols\"><div>");
    instances::instances(h, v, now);
    h.push_str("</div><div>");
    agents(h, v, now);
    h.push_str("</div></div>");
    timeline(h, journal, offset);
    h.push_str("</div></section>");
}

fn verdict<'a>(v: &'a PolicyView, o: &ObjectiveInfo) -> Option<&'a Verdict> {
    v.decision
        .as_ref()?
        .verdicts
        .iter()
        .find(|x| x.objective == o.name)
}

fn charts(h: &mut String, v: &PolicyView, journal: &[Arc<JournalEntry>], offset: f64, window: (&str, f64)) {
    let Some(frame) = charts::Frame::of(v, offset, window.1) else {
        h.push_str("<div class=\"empty\">Charts appear after the first pass.</div>");
        return;
    };
    let zone = zone(offset);
    h.push_str("<div class=\"windows muted small\">chart window:");
    for (name, _) in WINDOWS {
        if name == window.0 {
            let _ = write!(h, " <b>{name}</b>");
        } else {
            let _ = write!(h, " <a href=\"?window={name}#p-{}\">{name}</a>", esc(&v.name));
        }
    }
    let _ = write!(h, " · times in {}</div><div class=\"charts\">", esc(&zone));
    let mut chart = |title: &str, svg: String| {
        let _ = write!(
            h,
            "<div class=\"chart\"><h3>{} <span class=\"muted small\">({})</span></h3>{svg}</div>",
            esc(title),
            esc(&zone)
        );
    };
    for o in &v.objectives {
        if let Some(c) = charts::by_location(&frame, &v.trend, o) {
            chart(&format!("{} · {} · per location", o.name, o.text), c.render());
        }
        if let Some(c) = charts::by_family(&frame, &v.trend, o) {
            chart(
                &format!("{} · per family, as judged (quorum {})", o.name, o.quorum),
                c.render(),
            );
        }
        if let Some(c) = charts::budget(&frame, &v.trend, o) {
            chart(&format!("{} · error budget left", o.name), c.render());
        }
    }
    if let Some(c) = charts::load(&frame, &v.trend) {
        chart("Load and capacity", c.render());
    }
    chart(
        "Servers and sloop's actions",
        charts::instances(&frame, v, journal).render(),
    );
    h.push_str("</div>");
}

fn agents(h: &mut String, v: &PolicyView, now: Time) {
    let _ = write!(h, "<h3>Probe locations and agents ({})</h3>", v.locations.len());
    if v.locations.is_empty() {
        h.push_str("<div class=\"empty\">No probe location has reported yet.</div>");
        return;
    }
    h.push_str("<table><tr><th>location</th><th>freshness</th><th>last report</th></tr>");
    for l in &v.locations {
        let (colour, text) = if l.fresh {
            (MET.0, "fresh")
        } else {
            (VIOLATED.0, "stale: not counted")
        };
        let _ = write!(
            h,
            "<tr><td><b>{}</b></td><td><span class=\"dot\" style=\"background:{colour}\"></span>{text}</td><td class=\"t\">{}</td></tr>",
            esc(&l.name),
            esc(&ago(now, l.last_seen))
        );
    }
    h.push_str("</table>");
}

fn kind_class(k: ActionKind) -> &'static str {
    match k {
        ActionKind::ScaleOut => "scale-out",
        ActionKind::ScaleIn => "scale-in",
        ActionKind::Admit => "admit",
        _ => "heal",
    }
}

fn timeline(h: &mut String, journal: &[Arc<JournalEntry>], offset: f64) {
    h.push_str("<h3 style=\"font-size:13px;margin:4px 0;color:#334155\">Timeline: actions and refusals, newest first</h3>");
    if journal.is_empty() {
        h.push_str("<div class=\"empty\">No action taken or refused yet.</div>");
        return;
    }
    let _ = write!(
        h,
        "<table><tr><th>time ({})</th><th>action</th>",
        esc(&zone(offset))
    );
    h.push_str("<th>target</th><th>outcome</th><th>why</th><th>took</th></tr>");
    for e in journal.iter().take(TIMELINE_ROWS) {
        let why = match e.reason {
            Some(r) => format!("<b>{}</b> · {}", r.label(), esc(&e.evidence.summary)),
            None => esc(&e.evidence.summary),
        };
        let detail = e.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
        let took = e.duration_ms.map(|ms| format!("{ms:.0} ms")).unwrap_or_default();
        let cause = serde_json::to_value(e.cause)
            .ok()
            .and_then(|c| c.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td class=\"t\">{}</td><td><span class=\"k {}\">{}</span></td><td class=\"mono\">{}</td>\
             <td><span class=\"o {o}\">{o}</span>{}</td><td><span class=\"muted\">{}:</span> {}</td><td class=\"n\">{took}</td></tr>",
            esc(&clock(e.at, offset)),
            kind_class(e.kind),
            e.kind.label(),
            esc(&e.target()),
            esc(&detail),
            esc(&cause),
            why,
            o = e.outcome.label(),
        );
    }
    h.push_str("</table>");
}

fn unmanaged(h: &mut String, s: &Status) {
    if s.unmanaged.is_empty() {
        return;
    }
    h.push_str("<section class=\"policy\"><div class=\"phead\"><h2>No longer managed</h2>\
        <span class=\"desc\">These policies were removed. Their servers are left running and untouched; delete them by hand if they are no longer needed.</span></div><div class=\"pbody\">");
    for (name, u) in &s.unmanaged {
        let names: Vec<String> = u
            .instances
            .iter()
            .map(|i| format!("{} ({})", i.name, i.id))
            .collect();
        let _ = write!(
            h,
            "<p><b>{}</b> · {} · {} servers left alone: <span class=\"mono\">{}</span></p>",
            esc(name),
            esc(&u.reason),
            u.instances.len(),
            esc(&names.join(", "))
        );
    }
    h.push_str("</div></section>");
}

/// The remote probe agents and their freshness (wall clock: agents report in real time).
fn remote_agents(h: &mut String, agents: Option<&[AgentStatus]>) {
    let Some(agents) = agents else { return };
    let now = SystemClock.now();
    h.push_str(
        "<section class=\"policy\"><div class=\"phead\"><h2>Remote probe agents</h2><span class=\"desc\">\
         A stale agent's data is left out of every judgement; it never reads as the service being down.</span></div><div class=\"pbody\">",
    );
    if agents.is_empty() {
        h.push_str("<div class=\"empty\">The tokens file lists no agent.</div></div></section>");
        return;
    }
    h.push_str(
        "<table><tr><th>agent</th><th>freshness</th><th>last batch</th><th>clock offset</th>\
         <th>batches</th><th>samples</th><th>rejected</th><th>dropped</th></tr>",
    );
    for a in agents {
        let (colour, text) = match (a.fresh, a.last_seen) {
            (true, _) => (MET.0, "fresh"),
            (false, None) => (NO_DATA.0, "never reported"),
            (false, Some(_)) => (VIOLATED.0, "stale: not counted"),
        };
        let offset = a
            .offset_s
            .map(|o| format!("{:+.3} s", o))
            .unwrap_or_else(|| "–".into());
        let _ = write!(
            h,
            "<tr><td><b>{}</b></td><td><span class=\"dot\" style=\"background:{colour}\"></span>{text}</td>\
             <td class=\"t\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&a.name),
            esc(&ago(now, a.last_seen)),
            esc(&offset),
            a.batches,
            a.samples,
            a.rejected,
            a.dropped_total
        );
    }
    h.push_str("</table></div></section>");
}
