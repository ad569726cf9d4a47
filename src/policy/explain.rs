//! `sloop explain`: a policy in plain English, for the admin who has to trust it on election
//! night without reading Rust or the schema. Every number the controller will act on appears
//! in a sentence that says what triggers it and what it caps. Deterministic and pure.

mod words;

use words::*;

use super::{
    model::*,
    units::{Duration, Percent},
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
            "Traffic reaches the group through Octavia load balancer `{}`, pool `{}`: clients connect on port {}, members serve on port {}, healthy members get weight {}. Draining an instance sets its weight to 0; a server that leaves the group (scale-in, replacement) keeps weight 0 for {} so open connections finish, then its member is removed and the server deleted, without holding up other actions.",
            tr.load_balancer, tr.pool, tr.listener_port, tr.member_port, tr.weight, tr.drain_grace
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

/// Where the request rate comes from, and what sizes the group without one.
fn load_source(t: &mut Text, s: &Spec) {
    let load = &s.scaling.load;
    let lb = s.traffic.as_ref().map(|tr| tr.load_balancer.as_str());
    let octavia = match load.source {
        LoadSourceKind::Auto => lb,
        LoadSourceKind::Octavia => Some(lb.unwrap_or("(none: spec.traffic is missing)")),
        LoadSourceKind::Prometheus | LoadSourceKind::None => None,
    };
    if let (LoadSourceKind::Prometheus, Some(prom)) = (load.source, &load.prometheus) {
        let url = prom
            .url
            .as_deref()
            .or(s.telemetry.as_ref().and_then(|t| t.prometheus_url.as_deref()))
            .unwrap_or("(no URL)");
        t.item(&format!(
            "The request rate is the sum of what Prometheus at {url} answers for `{}`, asked every pass; the newest sample's time is its age, and an answer older than {} (or none) counts as missing, never as zero.",
            prom.requests,
            human(load.max_age)
        ));
        if let Some(u) = &prom.utilization {
            t.item(&format!(
                "Servers without a `cpu` reading from spec.telemetry take their utilisation (a fraction of their vCPUs) from `{u}`, one series per server named by its `{}` label.",
                prom.instance_label
            ));
        }
    }
    match octavia {
        Some(lb) => t.item(&format!(
            "The request rate comes from the statistics of load balancer `{lb}`: cumulative connection, error and byte counters read every pass and turned into rates between the reads at which they moved (the balancer reports them every {}); a rate older than {} counts as missing.",
            human(load.report_interval),
            human(load.max_age)
        )),
        None if load.source == LoadSourceKind::Prometheus => {}
        None => t.item("No request rate is read (no load balancer statistics)."),
    }
    t.item("Without a request rate or before the capacity of one instance is learned, sloop sizes from CPU utilisation against the target (ceil(serving × utilisation / target), as Kubernetes' HPA does) and, when the per-instance probes show every serving instance over the latency objective's threshold together, from that latency (capacity, not a fault); every scale-out names the signal it was sized from.");
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
    } else {
        load_source(t, s);
        forecast(t, s);
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

fn forecast(t: &mut Text, s: &Spec) {
    let f = &s.scaling.forecast;
    if !f.enabled() {
        t.item("It sizes for the present load only (forecast.trend and forecast.seasonal are off): servers ordered now serve the load of one boot time later.");
        return;
    }
    let horizon = match f.horizon {
        Some(h) => human(h),
        None => format!(
            "boot-to-serve time plus the {1} scale-out cooldown (the boot time is learned as the 90th percentile of the group's last 16 new servers; {0} until three have booted)",
            human(s.healing.grace_period),
            human(s.scaling.out.cooldown)
        ),
    };
    let mut parts = Vec::new();
    if f.trend {
        parts.push("a rising request rate, extrapolated from a robust line through the last two minutes of load reports (only once the load has risen within them by more than 20 % and twice the reports' noise, and a 1 % trend test agrees)");
    }
    if f.seasonal {
        parts.push("the rate usually seen at that time of day or week, once seen on two days or weeks (learned per 10 minutes, recent days weighing most)");
    }
    t.item(&format!(
        "Scale-out is sized for the higher of the present load and the load forecast for the coming {horizon}, from {}. Each such scale-out carries the forecast as evidence; scale-in keeps those servers while the forecast asks for them and releases them once it no longer does.",
        parts.join("; and ")
    ));
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

#[cfg(test)]
mod tests;
