//! `sloop explain`: a policy in plain English, for the admin who has to trust it on election
//! night without reading Rust or the schema. Every number the controller will act on appears
//! in a sentence that says what triggers it and what it caps. Deterministic and pure.

use super::{
    model::*,
    units::{Duration, Percent},
    validate::rung_name,
};

/// Lines wrap here; sentences stay readable in an 100-column terminal.
const WIDTH: usize = 96;

/// Describes the policy in plain English: group, measurement, objectives, scaling, healing,
/// limits and mode, in the order an admin asks about them.
pub fn explain(policy: &Policy) -> String {
    let s = &policy.spec;
    let mut t = Text::default();
    headline(&mut t, policy);
    group(&mut t, s);
    measurement(&mut t, s);
    objectives(&mut t, s);
    scale_out(&mut t, s);
    scale_in(&mut t, s);
    schedule(&mut t, s);
    healing(&mut t, s);
    limits(&mut t, s);
    t.out
}

// === Text ===

/// Accumulates headed paragraphs, word-wrapped with a hanging indent.
#[derive(Default)]
struct Text {
    out: String,
}

impl Text {
    fn heading(&mut self, title: &str) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out.push_str(title);
        self.out.push('\n');
    }

    /// A paragraph starting with `- `, continuation lines indented under the text.
    fn item(&mut self, text: &str) {
        self.wrap("  - ", "    ", text);
    }

    /// A plain indented paragraph.
    fn para(&mut self, text: &str) {
        self.wrap("  ", "  ", text);
    }

    fn wrap(&mut self, first: &str, rest: &str, text: &str) {
        let mut line = String::from(first);
        let mut empty = true;
        for word in text.split_whitespace() {
            if !empty && line.len() + 1 + word.len() > WIDTH {
                self.out.push_str(&line);
                self.out.push('\n');
                line = String::from(rest);
                empty = true;
            }
            if !empty {
                line.push(' ');
            }
            line.push_str(word);
            empty = false;
        }
        self.out.push_str(&line);
        self.out.push('\n');
    }
}

// === Sections ===

fn headline(t: &mut Text, policy: &Policy) {
    t.heading(&format!("Policy `{}`", policy.metadata.name));
    if let Some(d) = &policy.metadata.description {
        t.para(d);
    }
    let mode = match policy.spec.mode {
        Mode::Enforce => {
            "Mode: enforce. sloop acts on the cloud: it creates, reboots, rebuilds, migrates and deletes VMs and changes load-balancer weights as described below."
        }
        Mode::DryRun => {
            "Mode: dry-run. sloop observes, judges and plans exactly as described below, but only records what it would do; nothing on the cloud changes."
        }
    };
    t.para(mode);
    if !policy.metadata.labels.is_empty() {
        let labels: Vec<String> = policy
            .metadata
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        t.para(&format!(
            "Labels copied to metrics and events: {}.",
            labels.join(", ")
        ));
    }
}

fn group(t: &mut Text, s: &Spec) {
    let g = &s.group;
    t.heading("The group");
    let region = g
        .region
        .as_deref()
        .map_or("its default region".to_owned(), |r| format!("region `{r}`"));
    let selector: Vec<String> = g.selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    t.item(&format!(
        "sloop owns the VMs on cloud `{}` ({region}) whose metadata matches {}. Every VM it creates carries that metadata.",
        g.cloud,
        selector.join(" and ")
    ));
    t.item(&format!(
        "It keeps between {} and {} instances (group.size); it never goes below {} and never above {}.",
        g.size.min, g.size.max, g.size.min, g.size.max
    ));
    let tpl = &g.template;
    let mut flavor = format!("flavor `{}`", tpl.flavor);
    match (tpl.vcpus, tpl.ram) {
        (Some(c), Some(r)) => flavor.push_str(&format!(" ({c} vCPUs, {r} RAM)")),
        (Some(c), None) => flavor.push_str(&format!(" ({c} vCPUs)")),
        (None, Some(r)) => flavor.push_str(&format!(" ({r} RAM)")),
        (None, None) => {}
    }
    let nets: Vec<String> = tpl
        .networks
        .iter()
        .map(|n| format!("`{}` ({})", n.network, network_words(n.family)))
        .collect();
    let mut parts = vec![format!(
        "New VMs boot image `{}` on {flavor}, attached to {}",
        tpl.image,
        list(&nets)
    )];
    if !tpl.availability_zones.is_empty() {
        parts.push(format!(
            "spread round-robin across availability zones {}",
            ticks(&tpl.availability_zones)
        ));
    }
    if !tpl.security_groups.is_empty() {
        parts.push(format!("with security groups {}", ticks(&tpl.security_groups)));
    }
    if let Some(k) = &tpl.key_pair {
        parts.push(format!("key pair `{k}`"));
    }
    if let Some(u) = &tpl.user_data {
        parts.push(format!("boot script `{u}`"));
    }
    if let Some(sg) = &tpl.server_group {
        parts.push(format!(
            "in server group `{}` ({})",
            sg.name,
            affinity_words(sg.policy)
        ));
    }
    if !tpl.metadata.is_empty() {
        let md: Vec<String> = tpl.metadata.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.push(format!("with extra metadata {}", md.join(", ")));
    }
    t.item(&format!("{}.", parts.join(", ")));
    match &s.traffic {
        Some(tr) => t.item(&format!(
            "Traffic reaches the group through Octavia load balancer `{}`, pool `{}`: clients connect on port {}, members serve on port {}, healthy members get weight {}. Draining an instance sets its weight to 0.",
            tr.load_balancer, tr.pool, tr.listener_port, tr.member_port, tr.weight
        )),
        None => t.item(
            "No load balancer is configured (no spec.traffic), so sloop cannot drain or reroute; it can only add, repair and remove VMs.",
        ),
    }
}

fn measurement(t: &mut Text, s: &Spec) {
    t.heading("How it is measured");
    for probe in &s.probes {
        t.item(&probe_sentence(probe));
    }
    match &s.telemetry {
        Some(tel) => {
            let source = match tel.source {
                TelemetrySource::Gnocchi => "Gnocchi".to_owned(),
                TelemetrySource::Prometheus => {
                    format!(
                        "Prometheus at {}",
                        tel.prometheus_url.as_deref().unwrap_or("(no URL)")
                    )
                }
            };
            let metrics: Vec<String> = tel
                .metrics
                .iter()
                .map(|m| {
                    format!(
                        "`{}` ({} at {} granularity, {})",
                        m.name,
                        aggregation_words(m.aggregation),
                        human(m.granularity),
                        match m.scope {
                            MetricScope::Instance => "per instance",
                            MetricScope::Hypervisor => "per hypervisor",
                        }
                    )
                })
                .collect();
            t.item(&format!(
                "Telemetry: Ceilometer metrics from {source}: {}. Data older than {} counts as missing.",
                list(&metrics),
                human(tel.max_staleness)
            ));
        }
        None => t.item("No telemetry is configured: decisions rest on probes alone."),
    }
}

fn probe_sentence(p: &Probe) -> String {
    let what = match p.check() {
        Some(ProbeCheck::Http(h)) => {
            let mut w = format!("HTTP {} {}", method_name(h.method), h.url);
            if !h.headers.is_empty() {
                // Header values often carry credentials (bearer tokens, API keys): names only.
                let hs: Vec<String> = h.headers.keys().map(|k| format!("{k}: ***")).collect();
                w.push_str(&format!(" with headers {}", hs.join(", ")));
            }
            let codes: Vec<String> = h.expect_status.iter().map(u16::to_string).collect();
            w.push_str(&format!(", expecting status {}", or_list(&codes)));
            if let Some(re) = &h.body_regex {
                w.push_str(&format!(
                    " and a body matching `{re}` (reading at most {})",
                    h.max_body
                ));
            }
            if !h.tls_verify {
                w.push_str(", without verifying the TLS certificate");
            }
            if let Some(c) = h.cert_expiry_warning {
                w.push_str(&format!(
                    ", failing when the certificate expires within {}",
                    human(c)
                ));
            }
            if h.follow_redirects {
                w.push_str(", following up to 5 redirects");
            }
            w
        }
        Some(ProbeCheck::Tcp(c)) => format!("TCP connect to {}:{}", c.host, c.port),
        Some(ProbeCheck::Icmp(i)) => match i.tcp_fallback_port {
            Some(port) => format!(
                "ICMP echo to {} (TCP port {port} when ICMP is not permitted)",
                i.host
            ),
            None => format!("ICMP echo to {}", i.host),
        },
        None => "an unusable check (set exactly one of http, tcp, icmp)".to_owned(),
    };
    let mut sentence = format!(
        "Probe `{}`: {what}, every {} (slower than {} counts as failed), from {} ({}), over {}.",
        p.name,
        human(p.interval),
        human(p.timeout),
        count(p.locations.len(), "location"),
        ticks(&p.locations),
        family_words(p.family)
    );
    if p.per_instance {
        sentence.push_str(" It also probes every instance directly on its own address, so each instance is judged on its own.");
    }
    sentence
}

fn objectives(t: &mut Text, s: &Spec) {
    t.heading("What it promises");
    for o in &s.objectives {
        let locations = o
            .probe()
            .and_then(|name| s.probes.iter().find(|p| p.name == name))
            .map(|p| p.locations.len());
        match o.indicator() {
            Some(Indicator::Latency(l)) => t.item(&format!(
                "`{}`: {} of requests to `{}` answer within {}, judged over {}, {}.",
                o.name,
                pct_number(l.percentile),
                l.probe,
                human(l.threshold),
                human(l.window),
                agreement(l.quorum, locations, "violated")
            )),
            Some(Indicator::Availability(a)) => {
                let budget = Duration::from_secs((1.0 - a.target.fraction()) * a.period.secs());
                let mut text = format!(
                    "`{}`: {} of `{}` probes succeed over a rolling {} (an error budget of {} of failure), {}.",
                    o.name,
                    pct(a.target),
                    a.probe,
                    human(a.period),
                    human(budget),
                    agreement(a.quorum, locations, "failures count")
                );
                let alerts: Vec<String> = a
                    .burn_rate_alerts
                    .iter()
                    .map(|row| {
                        let action = match row.severity {
                            Severity::Page => "page",
                            Severity::Ticket => "ticket",
                        };
                        format!(
                            "{action} at {}× over both {} and {}",
                            number(row.burn_rate),
                            human(row.long),
                            human(row.short)
                        )
                    })
                    .collect();
                if !alerts.is_empty() {
                    text.push_str(&format!(
                        " Alerts when the budget burns faster than sustainable (1× spends exactly the budget over the period): {}.",
                        alerts.join("; ")
                    ));
                }
                t.item(&text);
            }
            None => t.item(&format!(
                "`{}`: no indicator (set latency or availability).",
                o.name
            )),
        }
    }
}

fn scale_out(t: &mut Text, s: &Spec) {
    let sc = &s.scaling;
    t.heading("When it scales out");
    if let Some(u) = sc.target_utilization {
        let hot = (u.fraction() * 1.5).min(1.0);
        let example = (10.0 * hot / u.fraction()).ceil();
        t.item(&format!(
            "When the utilisation of serving instances (the offered load over their learned capacity) is more than 10 % above {}, sloop sizes the group to bring it back to {} (for example, 10 instances at {} become {example}); within ±10 % of the target it leaves the size alone.",
            pct(u),
            pct(u),
            pct(Percent::from_fraction(hot))
        ));
    }
    if let Some(name) = &sc.latency_objective {
        t.item(&format!(
            "When latency objective `{name}` is at risk, sloop sizes the group from the measured load and queueing, not one VM at a time."
        ));
    }
    if sc.target_utilization.is_none() && sc.latency_objective.is_none() {
        t.item("Nothing drives scaling on load (neither targetUtilization nor latencyObjective is set): the group only follows size.min and the scheduled peaks.");
    }
    let out = &sc.out;
    let step = match out.max_step_percent {
        Some(p) => format!(
            "at most {} or {} of the current size per step, whichever allows more",
            count(out.max_step as usize, "instance"),
            pct(p)
        ),
        None => format!("at most {} per step", count(out.max_step as usize, "instance")),
    };
    t.item(&format!(
        "It adds {step}, {}, and waits {} after a scale-out before the next one.",
        stabilise(out.stabilization, "lowest"),
        human(out.cooldown)
    ));
    t.item(&format!("It never grows beyond {}.", ceiling(s)));
}

fn scale_in(t: &mut Text, s: &Spec) {
    let sc = &s.scaling;
    let inn = &sc.scale_in;
    t.heading("When it scales in");
    t.item(&format!(
        "When the group is larger than the load needs and the objectives are comfortable, sloop removes {}, {}, and waits {} between scale-in steps.",
        match inn.max_step_percent {
            Some(p) => format!(
                "at most {} or {} of the current size per step, whichever allows more",
                count(inn.max_step as usize, "instance"),
                pct(p)
            ),
            None => format!("at most {} per step", count(inn.max_step as usize, "instance")),
        },
        stabilise(inn.stabilization, "highest"),
        human(inn.cooldown)
    ));
    let victims = match sc.victims {
        VictimOrder::Newest => "the newest healthy instances go first (keeping warmed-up caches)",
        VictimOrder::Oldest => "the oldest healthy instances go first (refreshing long-running VMs)",
    };
    t.item(&format!(
        "Unhealthy instances are always removed first; after them {victims}. It never goes below {} (size.min).",
        count(s.group.size.min as usize, "instance")
    ));
}

fn schedule(t: &mut Text, s: &Spec) {
    t.heading("Scheduled peaks");
    if s.scaling.schedule.is_empty() {
        t.item("None: sloop reacts to load as it comes.");
    }
    for peak in &s.scaling.schedule {
        let scale_in = if peak.allow_scale_in {
            "scale-in stays allowed above the floor"
        } else {
            "it does not scale in"
        };
        t.item(&format!(
            "`{}`: from {} until {} sloop keeps at least {} serving and {scale_in}. It starts booting {} early so the floor is serving at the start.",
            peak.name,
            peak.at,
            peak.until,
            count(peak.floor as usize, "instance"),
            human(peak.prewarm)
        ));
    }
}

fn healing(t: &mut Text, s: &Spec) {
    let h = &s.healing;
    t.heading("When an instance is unhealthy");
    if !h.enabled {
        t.item(
            "Healing is off (healing.enabled: false): sloop scales but never repairs individual instances.",
        );
    } else {
        let probe = h
            .probe
            .as_deref()
            .or_else(|| s.probes.iter().find(|p| p.per_instance).map(|p| p.name.as_str()));
        let from = probe
            .and_then(|n| s.probes.iter().find(|p| p.name == n))
            .map(|p| ticks(&p.locations));
        t.item(&format!(
            "An instance counts as unhealthy after {} in a row on probe `{}`, seen from at least {}{}, once it has been serving for {} (grace period after boot).",
            count(h.unhealthy_after.failures as usize, "failed probe"),
            probe.unwrap_or("(none)"),
            count(h.unhealthy_after.locations as usize, "location"),
            from.map_or(String::new(), |f| format!(" of {f}")),
            human(h.grace_period)
        ));
        if h.ladder.is_empty() {
            t.item("The escalation ladder is empty: unhealthy instances are reported, not repaired.");
        } else {
            let rungs: Vec<String> = h
                .ladder
                .iter()
                .enumerate()
                .map(|(i, r)| format!("({}) {}", i + 1, rung_words(*r)))
                .collect();
            t.item(&format!(
                "Remedies, in order, each given {} to make the instance healthy again (checked by probes) before the next is tried: {}.",
                human(h.rung_timeout),
                rungs.join("; ")
            ));
        }
    }
    for rule in &h.migrate_when {
        t.item(&format!(
            "Live-migrate instances off a hypervisor when `{}` stays above {} for {}.",
            rule.metric,
            number(rule.above),
            human(rule.sustained)
        ));
    }
}

fn limits(t: &mut Text, s: &Spec) {
    let l = &s.limits;
    t.heading("Caps and freezes");
    t.item(&format!(
        "At most {} per rolling hour and {} in flight at once.",
        count(l.max_actions_per_hour as usize, "mutating action"),
        l.max_concurrent_actions
    ));
    t.item(&format!(
        "It never takes an action that could leave fewer than {} serving.",
        count(l.min_healthy as usize, "healthy instance")
    ));
    let mut guards = Vec::new();
    if let Some(m) = l.max_instances {
        guards.push(count(m as usize, "instance"));
    }
    if let Some(c) = l.max_vcpus {
        guards.push(format!("{c} vCPUs"));
    }
    if let Some(r) = l.max_ram {
        guards.push(format!("{r} of RAM"));
    }
    if guards.is_empty() {
        t.item(&format!(
            "Resource-exhaustion guard: no limits beyond group.size.max, so the ceiling is {}.",
            ceiling(s)
        ));
    } else {
        t.item(&format!(
            "Resource-exhaustion guard: at most {} in total, however high the load (a flood of traffic is held at this budget and alerted on, never met with unbounded VMs). Together with group.size.max the ceiling is {}.",
            list(&guards),
            ceiling(s)
        ));
    }
    t.item(&format!(
        "Healing freezes when more than {} of the group looks unhealthy at once: a probe or network fault is likelier than a mass failure.",
        pct(l.freeze_when_unhealthy_above)
    ));
    if l.freeze_when_telemetry_missing {
        let staleness = s.telemetry.as_ref().map_or(String::new(), |tel| {
            format!(" (older than {})", human(tel.max_staleness))
        });
        t.item(&format!(
            "Healing and scale-in freeze while required telemetry is missing{staleness}."
        ));
    } else {
        t.item("Missing telemetry does not freeze anything (freezeWhenTelemetryMissing: false).");
    }
}

// === Words ===

/// The tightest instance cap and which limit sets it.
fn ceiling(s: &Spec) -> String {
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
    let min = caps.iter().map(|(n, _)| *n).min().unwrap_or(0);
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

fn agreement(quorum: u32, locations: Option<usize>, verb: &str) -> String {
    match locations {
        Some(1) => "judged from its single location".to_owned(),
        Some(n) if quorum <= 1 => format!("{verb} when any one of {n} locations sees it"),
        Some(n) => format!("{verb} only when {quorum} of {n} locations agree"),
        None => format!("{verb} only when {quorum} locations agree"),
    }
}

fn stabilise(window: Duration, which: &str) -> String {
    if window.secs() <= 0.0 {
        "acting on a recommendation at once".to_owned()
    } else {
        format!(
            "only once a recommendation has held for {} (it acts on the {which} recommendation over that window)",
            human(window)
        )
    }
}

fn rung_words(r: Rung) -> String {
    let what = match r {
        Rung::Drain => "load-balancer weight 0, so no new traffic reaches it",
        Rung::RebootSoft => "ACPI reboot",
        Rung::RebootHard => "power cycle",
        Rung::Rebuild => "rebuild from the template image",
        Rung::Replace => "create a new VM, then delete the old one",
    };
    format!("`{}` ({what})", rung_name(r))
}

fn family_words(f: Family) -> &'static str {
    match f {
        Family::V6 => "IPv6 only",
        Family::V4 => "IPv4 only",
        Family::Both => "IPv6 and IPv4, each judged separately",
    }
}

fn network_words(f: Family) -> &'static str {
    match f {
        Family::V6 => "IPv6-only",
        Family::V4 => "IPv4-only",
        Family::Both => "dual-stack",
    }
}

fn affinity_words(a: AffinityPolicy) -> &'static str {
    match a {
        AffinityPolicy::AntiAffinity => "anti-affinity: never two members on one hypervisor",
        AffinityPolicy::SoftAntiAffinity => "soft anti-affinity: prefer different hypervisors",
        AffinityPolicy::Affinity => "affinity: all members on one hypervisor",
        AffinityPolicy::SoftAffinity => "soft affinity: prefer one hypervisor",
    }
}

fn aggregation_words(a: Aggregation) -> &'static str {
    match a {
        Aggregation::Mean => "mean",
        Aggregation::Max => "maximum",
        Aggregation::RateMean => "rate of the mean",
        Aggregation::RateMax => "rate of the maximum",
    }
}

fn method_name(m: HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "GET",
        HttpMethod::Head => "HEAD",
        HttpMethod::Post => "POST",
        HttpMethod::Options => "OPTIONS",
    }
}

/// `3 instances`, `1 instance`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A number without float noise: `95`, `99.9`, `14.4`.
fn number(x: f64) -> String {
    let text = format!("{x:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A percentage written the way people say it: `99.9 %`.
fn pct(p: Percent) -> String {
    pct_number(p.fraction() * 100.0)
}

fn pct_number(x: f64) -> String {
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

fn ticks(items: &[String]) -> String {
    list(&items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>())
}

/// `a`, `a and b`, `a, b and c`.
fn list(items: &[String]) -> String {
    join_last(items, "and")
}

fn or_list(items: &[String]) -> String {
    join_last(items, "or")
}

fn join_last(items: &[String], word: &str) -> String {
    match items {
        [] => "nothing".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {word} {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse;

    fn election() -> Policy {
        let text = include_str!("../../policies/election-web.yaml");
        parse("election-web.yaml", text.as_bytes()).expect("the motivating example is valid")
    }

    /// The explanation with line wrapping undone, so assertions do not depend on where lines break.
    fn flat(p: &Policy) -> String {
        explain(p).split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn latency_objective_reads_as_the_admin_would_say_it() {
        let text = flat(&election());
        assert!(
            text.contains("95 % of requests to `site` answer within 800 ms, judged over 5 minutes, violated only when 3 of 4 locations agree"),
            "{text}"
        );
    }

    #[test]
    fn availability_objective_states_its_error_budget_and_burn_alerts() {
        let text = flat(&election());
        assert!(text.contains("99.9 % of `site` probes succeed over a rolling 30 days (an error budget of 43 minutes 12 seconds of failure)"), "{text}");
        assert!(text.contains("page at 14.4× over both 1 hour and 5 minutes; page at 6× over both 6 hours and 30 minutes; ticket at 3× over both 1 day and 2 hours; ticket at 1× over both 3 days and 6 hours."), "{text}");
    }

    #[test]
    fn scale_out_names_the_trigger_step_and_cooldown() {
        let text = flat(&election());
        assert!(
            text.contains("is more than 10 % above 60 %, sloop sizes the group to bring it back to 60 %"),
            "{text}"
        );
        assert!(text.contains("10 instances at 90 % become 15"), "{text}");
        assert!(text.contains("It adds at most 20 instances or 100 % of the current size per step, whichever allows more, acting on a recommendation at once, and waits 1 minute after a scale-out"), "{text}");
    }

    #[test]
    fn scale_in_is_slow_and_bounded_below() {
        let text = flat(&election());
        assert!(
            text.contains(
                "removes at most 2 instances per step, only once a recommendation has held for 20 minutes"
            ),
            "{text}"
        );
        assert!(
            text.contains("It never goes below 3 instances (size.min)"),
            "{text}"
        );
    }

    #[test]
    fn scheduled_peaks_keep_the_local_times_as_written() {
        let text = flat(&election());
        assert!(text.contains("`polls-close`: from 2026-09-27T17:30:00+02:00 until 2026-09-28T01:00:00+02:00 sloop keeps at least 12 instances serving and it does not scale in"), "{text}");
        assert!(text.contains("starts booting 20 minutes early"), "{text}");
    }

    #[test]
    fn healing_lists_the_trigger_and_the_ladder_in_order() {
        let text = flat(&election());
        assert!(text.contains("after 3 failed probes in a row on probe `instance`, seen from at least 2 locations of `local` and `fra`"), "{text}");
        let ladder = [
            "(1) `drain`",
            "(2) `reboot-soft`",
            "(3) `reboot-hard`",
            "(4) `replace`",
        ];
        let at: Vec<usize> = ladder
            .iter()
            .map(|r| text.find(r).unwrap_or_else(|| panic!("{r} missing: {text}")))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "ladder out of order: {text}");
        assert!(text.contains("Live-migrate instances off a hypervisor when `compute.node.cpu.steal.percent` stays above 25 for 3 minutes"), "{text}");
    }

    #[test]
    fn the_ceiling_names_every_binding_cap() {
        let text = flat(&election());
        assert!(
            text.contains("60 instances (set by group.size.max and limits.maxInstances and limits.maxVcpus 120 / 2 vCPUs per VM and limits.maxRam 240GiB / 4GiB per VM)"),
            "{text}"
        );
    }

    #[test]
    fn dry_run_and_disabled_healing_say_so() {
        let mut p = election();
        p.spec.mode = Mode::DryRun;
        p.spec.healing.enabled = false;
        p.spec.scaling.target_utilization = None;
        p.spec.scaling.latency_objective = None;
        let text = flat(&p);
        assert!(
            text.contains("Mode: dry-run. sloop observes, judges and plans"),
            "{text}"
        );
        assert!(text.contains("Healing is off"), "{text}");
        assert!(text.contains("Nothing drives scaling on load"), "{text}");
    }

    #[test]
    fn a_vcpu_budget_tighter_than_size_max_sets_the_ceiling() {
        let mut p = election();
        p.spec.limits.max_vcpus = Some(40);
        assert!(
            flat(&p).contains("never grows beyond 20 instances (set by limits.maxVcpus 40 / 2 vCPUs per VM)")
        );
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(human(Duration::from_secs(0.8)), "800 ms");
        assert_eq!(human(Duration::from_secs(90.0)), "1 minute 30 seconds");
        assert_eq!(human(Duration::from_secs(1.5)), "1.5 seconds");
        assert_eq!(human(Duration::from_secs(2_592_000.0)), "30 days");
        assert_eq!(human(Duration::from_secs(0.0)), "0 seconds");
    }

    #[test]
    fn explanation_is_deterministic_and_wrapped() {
        let p = election();
        let a = explain(&p);
        assert_eq!(a, explain(&p));
        assert!(
            a.lines()
                .all(|l| l.chars().count() <= WIDTH || !l.trim().contains(' ')),
            "{a}"
        );
    }

    #[test]
    fn election_web_snapshot() {
        insta::assert_snapshot!(explain(&election()));
    }
}
