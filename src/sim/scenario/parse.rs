//! Reading scenario files: the pure parser with semantic checks, the file loader (which also
//! reads a CSV load trace next to the scenario), and the JSON Schema.

use super::{BaseLoad, Fault, Scenario};
use crate::{
    document::{self, Diagnostic, Limits, PathSeg, Pos},
    policy::units::Timestamp,
};
use std::path::Path;

/// Parses a scenario. Pure: a CSV trace is not read here (see [`load_scenario`]).
pub fn parse_scenario(file: &str, bytes: &[u8]) -> Result<Scenario, Vec<Diagnostic>> {
    let loaded = document::load::<Scenario>(file, bytes, &Limits::default())?;
    let errors = validate(&loaded.value);
    if errors.is_empty() {
        return Ok(loaded.value);
    }
    Err(errors
        .into_iter()
        .map(|(path, msg, hint)| document::locate(&loaded.tree, file, &path, msg, hint))
        .collect())
}

/// Reads a scenario file and, when its load is a CSV trace, the trace next to it.
pub fn load_scenario(path: &Path) -> Result<Scenario, Vec<Diagnostic>> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| vec![io_error(&name, &e)])?;
    let mut scenario = parse_scenario(&name, &bytes)?;
    if let BaseLoad::Csv(csv) = &scenario.load.base {
        let csv_path = path.parent().unwrap_or(Path::new(".")).join(&csv.file);
        let csv_name = csv_path.display().to_string();
        let text = std::fs::read_to_string(&csv_path).map_err(|e| vec![io_error(&csv_name, &e)])?;
        let mut trace = parse_trace(&csv_name, &text, scenario.start_unix())?;
        trace.iter_mut().for_each(|p| p.1 *= csv.scale);
        scenario.trace = trace;
    }
    Ok(scenario)
}

/// Parses a CSV load trace into (seconds since `start`, rps), sorted by time. Pure.
pub fn parse_trace(file: &str, text: &str, start: f64) -> Result<Vec<(f64, f64)>, Vec<Diagnostic>> {
    let mut points = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.split(',').map(str::trim);
        let (t, r) = (cols.next().unwrap_or(""), cols.next().unwrap_or(""));
        let time = t
            .parse::<f64>()
            .ok()
            .or_else(|| t.parse::<Timestamp>().ok().map(|ts| ts.unix() - start));
        match (time, r.parse::<f64>()) {
            (Some(t), Ok(r)) if t.is_finite() && r.is_finite() && r >= 0.0 => points.push((t, r)),
            _ if points.is_empty()
                && errors.is_empty()
                && t.parse::<f64>().is_err()
                && r.parse::<f64>().is_err() =>
            {
                // A header row.
            }
            _ => {
                let mut d = Diagnostic::at(
                    Pos { line: i + 1, col: 1 },
                    format!("`{line}` is not a `time,rps` row"),
                    "write seconds since the start (or an RFC 3339 timestamp), a comma, and requests/s ≥ 0",
                );
                d.file = file.to_owned();
                errors.push(d);
            }
        }
    }
    if points.is_empty() && errors.is_empty() {
        let mut d = Diagnostic::at(Pos::START, "the trace has no rows".into(), "add `time,rps` rows");
        d.file = file.to_owned();
        errors.push(d);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(points)
}

type Problem = (Vec<PathSeg>, String, String);

/// Semantic rules the schema cannot express.
fn validate(s: &Scenario) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    let key = |k: &str| PathSeg::Key(k.into());
    let mut bad = |path: Vec<PathSeg>, msg: String, hint: &str| out.push((path, msg, hint.into()));
    if s.duration.secs() <= 0.0 {
        bad(
            vec![key("duration")],
            "the duration must be positive".into(),
            "write e.g. `24h`",
        );
    }
    let res = s.resolution.secs();
    if !(0.01..=60.0).contains(&res) {
        bad(
            vec![key("resolution")],
            format!("resolution {res}s is outside 10ms..60s"),
            "`1s` suits most scenarios",
        );
    }
    if s.world.hypervisors.count == 0 {
        bad(
            vec![key("world"), key("hypervisors"), key("count")],
            "at least one hypervisor is needed".into(),
            "",
        );
    }
    if s.world.throughput <= 0.0 {
        bad(
            vec![key("world"), key("throughput")],
            "throughput must be positive".into(),
            "requests/s at full load",
        );
    }
    if s.locations.is_empty() {
        bad(
            vec![key("locations")],
            "at least one location is needed".into(),
            "add `local` at least",
        );
    }
    for (i, l) in s.locations.iter().enumerate() {
        if s.locations[..i].iter().any(|o| o.name == l.name) {
            bad(
                vec![key("locations"), PathSeg::Index(i), key("name")],
                format!("location `{}` twice", l.name),
                "",
            );
        }
    }
    let names: Vec<&str> = s.locations.iter().map(|l| l.name.as_str()).collect();
    for (i, f) in s.faults.iter().enumerate() {
        let at = |k: &str| vec![key("faults"), PathSeg::Index(i), key("fault"), key(k)];
        match &f.fault {
            Fault::NetworkDegraded { location, .. } | Fault::AgentSilent { location }
                if !names.contains(&location.as_str()) =>
            {
                bad(
                    at("location"),
                    format!("unknown location `{location}`"),
                    "use a name from `locations`",
                );
            }
            Fault::InstanceSlow { factor, .. } | Fault::HostDegraded { factor, .. }
                if !(0.0..=1.0).contains(factor) =>
            {
                bad(
                    at("factor"),
                    format!("factor {factor} is outside 0..1"),
                    "0.5 halves the throughput",
                );
            }
            _ => {}
        }
        if f.at.secs() > s.duration.secs() {
            let path = vec![key("faults"), PathSeg::Index(i), key("at")];
            bad(
                path,
                format!("the fault starts after the scenario ends ({})", s.duration),
                "",
            );
        }
    }
    match &s.load.base {
        BaseLoad::Diurnal(d) if !(0.0..=1.0).contains(&d.amplitude) => {
            let path = vec![key("load"), key("base"), key("diurnal"), key("amplitude")];
            bad(
                path,
                format!("amplitude {} is outside 0..1", d.amplitude),
                "0.5 swings between ×0.5 and ×1.5",
            );
        }
        BaseLoad::Points(p) if p.is_empty() => {
            bad(
                vec![key("load"), key("base"), key("points")],
                "no points".into(),
                "add `{at: 0s, rps: 200}`",
            );
        }
        _ => {}
    }
    out
}

fn io_error(file: &str, e: &std::io::Error) -> Diagnostic {
    let mut d = Diagnostic::at(
        Pos::START,
        format!("cannot read: {e}"),
        "check the path and permissions",
    );
    d.file = file.to_owned();
    d
}

/// The JSON Schema of scenario files, as checked in at
/// `policies/scenarios/sloop-scenario.schema.json` (editors validate against it).
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(Scenario).to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            "https://sloop.dev/schemas/sloop-scenario.schema.json".into(),
        );
    }
    schema
}
