//! Decision logs: one JSON line per tick with `now`, the snapshot, the history and the
//! decision, after a header line holding the policy. `sloop replay` re-runs `decide` on every
//! line and reports any difference — byte-for-byte identical on an unchanged build.
//!
//! Two encodings keep a day of ticks in tens of megabytes instead of gigabytes, without losing
//! anything `decide` reads:
//! - a server that did not change since the previous tick is written as `{"same": id}`;
//! - a series' `recent` samples are written as a delta against the previous tick (`keep` drops
//!   that many from the front, `add` appends), samples as `[at, latency, ok]` (phase timings
//!   are not logged: the decision core never reads them);
//! - the history is written in full on the first tick and every [`CHECKPOINT`] ticks, and as a
//!   digest otherwise; replay chains the history `decide` returns and checks every digest.

use crate::{
    decide::decide,
    decision::Decision,
    history::{Failure, History},
    policy::Policy,
    snapshot::{Snapshot, Time},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json, value::RawValue};
use std::{
    collections::HashMap,
    io::{self, BufRead, Write},
};

/// Ticks between full copies of the history.
pub const CHECKPOINT: u64 = 720;

/// The first line of a decision log.
#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    /// Log format version.
    pub format: u32,
    /// sloop version that wrote it.
    pub sloop: String,
    /// The policy decided on.
    pub policy: Policy,
}

/// FNV-1a over the JSON form: a stable digest with no dependency and no randomness.
pub fn digest(history: &History) -> String {
    let text = serde_json::to_string(history).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Identity of a series across ticks.
fn series_id(kind: &str, s: &Value) -> String {
    format!(
        "{kind}|{}|{}",
        s.get("instance").map(Value::to_string).unwrap_or_default(),
        s["key"]
    )
}

fn compact_sample(s: &Value) -> Value {
    json!([s["at"], s["latency"], s["ok"]])
}

fn expand_sample(v: &Value) -> Value {
    json!({"at": v[0], "latency": v[1], "ok": v[2]})
}

/// Per-series memory of the previous tick's samples, on both sides of the log.
#[derive(Default)]
struct Deltas {
    prev: HashMap<String, Vec<Value>>,
    /// The previous tick's inventory entries by server ID.
    servers: HashMap<String, Value>,
}

/// Replaces inventory entries that did not change since the previous tick by `{"same": id}`.
fn encode_inventory(snapshot: &mut Value, prev: &mut HashMap<String, Value>) {
    let Some(list) = snapshot.get_mut("inventory").and_then(Value::as_array_mut) else {
        return;
    };
    let mut seen = HashMap::new();
    for entry in list {
        let Some(id) = entry.get("id").and_then(Value::as_str).map(str::to_owned) else {
            continue;
        };
        let unchanged = prev.get(&id) == Some(&*entry);
        seen.insert(id.clone(), std::mem::replace(entry, json!({"same": id})));
        if !unchanged {
            *entry = seen[&id].clone();
        }
    }
    *prev = seen;
}

/// Restores the inventory entries written as `{"same": id}`.
fn decode_inventory(snapshot: &mut Value, prev: &mut HashMap<String, Value>) -> Result<(), String> {
    let Some(list) = snapshot.get_mut("inventory").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    let mut seen = HashMap::new();
    for entry in list {
        if let Some(id) = entry.get("same").and_then(Value::as_str) {
            *entry = prev
                .get(id)
                .cloned()
                .ok_or(format!("server {id} is `same` but was not seen before"))?;
        }
        if let Some(id) = entry.get("id").and_then(Value::as_str) {
            seen.insert(id.to_owned(), entry.clone());
        }
    }
    *prev = seen;
    Ok(())
}

impl Deltas {
    /// Replaces every `recent` array of the snapshot JSON by a delta against the previous tick.
    fn encode(&mut self, snapshot: &mut Value) {
        encode_inventory(snapshot, &mut self.servers);
        let mut seen = HashMap::new();
        for (field, kind) in [("service", "s"), ("instances_probed", "i")] {
            let Some(list) = snapshot.get_mut(field).and_then(Value::as_array_mut) else {
                continue;
            };
            for series in list {
                let id = series_id(kind, series);
                let cur: Vec<Value> = series["recent"]
                    .as_array()
                    .map(|a| a.iter().map(compact_sample).collect())
                    .unwrap_or_default();
                let prev = self.prev.get(&id).map(Vec::as_slice).unwrap_or(&[]);
                // The window slides: find where the current samples start in the previous ones.
                let keep = (0..=prev.len())
                    .find(|&k| {
                        let overlap = &prev[k..];
                        overlap.len() <= cur.len() && overlap == &cur[..overlap.len()]
                    })
                    .unwrap_or(prev.len());
                let added = cur[prev.len() - keep..].to_vec();
                series["recent"] = json!({"keep": keep, "add": added});
                seen.insert(id, cur);
            }
        }
        self.prev = seen;
    }

    /// Restores the `recent` arrays of a delta-encoded snapshot JSON.
    fn decode(&mut self, snapshot: &mut Value) -> Result<(), String> {
        decode_inventory(snapshot, &mut self.servers)?;
        let mut seen = HashMap::new();
        for (field, kind) in [("service", "s"), ("instances_probed", "i")] {
            let Some(list) = snapshot.get_mut(field).and_then(Value::as_array_mut) else {
                continue;
            };
            for series in list {
                let id = series_id(kind, series);
                let keep = series["recent"]["keep"]
                    .as_u64()
                    .ok_or("a series has no `recent.keep`")? as usize;
                let add = series["recent"]["add"]
                    .as_array()
                    .ok_or("a series has no `recent.add`")?;
                let prev = self.prev.get(&id).map(Vec::as_slice).unwrap_or(&[]);
                if keep > prev.len() {
                    return Err(format!("series {id} keeps {keep} samples but had {}", prev.len()));
                }
                let cur: Vec<Value> = prev[keep..].iter().chain(add).cloned().collect();
                series["recent"] = Value::Array(cur.iter().map(expand_sample).collect());
                seen.insert(id, cur);
            }
        }
        self.prev = seen;
        Ok(())
    }
}

/// Writes a decision log.
pub struct LogWriter {
    out: Box<dyn Write + Send>,
    deltas: Deltas,
    ticks: u64,
}

impl LogWriter {
    /// Starts a log by writing its header.
    pub fn new(mut out: Box<dyn Write + Send>, policy: &Policy) -> io::Result<Self> {
        // Probe header values often carry credentials and no decision reads them: the log
        // keeps their names only (`tests/reliability` secrets).
        let mut policy = policy.clone();
        for probe in &mut policy.spec.probes {
            if let Some(http) = &mut probe.http {
                for value in http.headers.values_mut() {
                    *value = "***".into();
                }
            }
        }
        let header = Header {
            format: 2,
            sloop: env!("CARGO_PKG_VERSION").into(),
            policy,
        };
        serde_json::to_writer(&mut out, &header)?;
        out.write_all(b"\n")?;
        Ok(Self {
            out,
            deltas: Deltas::default(),
            ticks: 0,
        })
    }

    /// Appends one tick: the inputs of `decide` and its decision. `failed` are the IDs of the
    /// previous tick's actions reported without effect, which changed the history between the
    /// two decisions ([`History::settle`]); replay applies them the same way.
    pub fn record(
        &mut self,
        now: Time,
        snapshot: &Snapshot,
        history: &History,
        failed: &[Failure],
        decision: &Decision,
    ) -> io::Result<()> {
        let mut snap = serde_json::to_value(snapshot)?;
        self.deltas.encode(&mut snap);
        let mut line = json!({"now": now, "snapshot": snap, "history_digest": digest(history)});
        if !failed.is_empty() {
            line["failed"] = json!(failed);
        }
        if self.ticks.is_multiple_of(CHECKPOINT) {
            line["history"] = serde_json::to_value(history)?;
        }
        // The decision is written last and exactly as serialised, so replay compares bytes.
        let text = serde_json::to_string(&line)?;
        self.out.write_all(&text.as_bytes()[..text.len() - 1])?;
        writeln!(self.out, ",\"decision\":{}}}", serde_json::to_string(decision)?)?;
        self.ticks += 1;
        self.out.flush()
    }
}

#[derive(Deserialize)]
struct LineIn {
    now: Time,
    snapshot: Value,
    #[serde(default)]
    history: Option<History>,
    history_digest: String,
    #[serde(default)]
    failed: Vec<Failure>,
    decision: Box<RawValue>,
}

/// The result of replaying a log.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ReplayReport {
    /// Ticks replayed.
    pub ticks: usize,
    /// Lines whose recomputed decision differs from the recorded one.
    pub decision_mismatches: Vec<usize>,
    /// Lines whose recorded history differs from the one the previous decision returned.
    pub history_mismatches: Vec<usize>,
    /// The first differing decision: line, then recorded and recomputed text around the first
    /// byte that differs.
    pub first_difference: Option<(usize, String, String)>,
}

/// The two texts from a little before their first difference, for a readable report.
fn around_difference(a: &str, b: &str) -> (String, String) {
    let at = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let cut = |s: &str| {
        let mut start = at.saturating_sub(120);
        while !s.is_char_boundary(start) {
            start -= 1;
        }
        s[start..].chars().take(240).collect::<String>()
    };
    (cut(a), cut(b))
}

impl ReplayReport {
    /// True when every tick reproduced exactly.
    pub fn identical(&self) -> bool {
        self.decision_mismatches.is_empty() && self.history_mismatches.is_empty()
    }
}

/// Why a log could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Reading failed.
    #[error("cannot read the log: {0}")]
    Io(#[from] io::Error),
    /// A line is not a decision-log line.
    #[error("line {line}: {message}")]
    Format {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Re-runs `decide` on every recorded tick and compares the outputs byte for byte.
pub fn replay(input: impl BufRead) -> Result<ReplayReport, ReplayError> {
    let mut lines = input.lines();
    let header_text = lines.next().ok_or(ReplayError::Format {
        line: 1,
        message: "empty log".into(),
    })??;
    let header: Header = serde_json::from_str(&header_text).map_err(|e| ReplayError::Format {
        line: 1,
        message: format!("not a decision-log header: {e}"),
    })?;
    if header.format != 2 {
        return Err(ReplayError::Format {
            line: 1,
            message: format!("log format {} is not supported", header.format),
        });
    }
    let mut report = ReplayReport::default();
    let mut deltas = Deltas::default();
    let mut chained: Option<History> = None;
    for (i, line) in lines.enumerate() {
        let line_no = i + 2;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| ReplayError::Format {
            line: line_no,
            message,
        };
        let mut rec: LineIn = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        deltas.decode(&mut rec.snapshot).map_err(bad)?;
        let snapshot: Snapshot =
            serde_json::from_value(rec.snapshot).map_err(|e| bad(format!("snapshot: {e}")))?;
        let chained_settled = chained.take().map(|mut h| {
            h.settle(&rec.failed);
            h
        });
        let history = match (rec.history, chained_settled) {
            (Some(recorded), previous) => {
                if previous.is_some_and(|p| digest(&p) != digest(&recorded)) {
                    report.history_mismatches.push(line_no);
                }
                recorded
            }
            (None, Some(previous)) => previous,
            (None, None) => return Err(bad("the first tick carries no history".into())),
        };
        if digest(&history) != rec.history_digest {
            report.history_mismatches.push(line_no);
        }
        let (decision, next) = decide(&header.policy, &snapshot, &history, rec.now);
        let recomputed = serde_json::to_string(&decision).unwrap_or_default();
        if recomputed != rec.decision.get() {
            report.decision_mismatches.push(line_no);
            if report.first_difference.is_none() {
                let (recorded, now) = around_difference(rec.decision.get(), &recomputed);
                report.first_difference = Some((line_no, recorded, now));
            }
        }
        chained = Some(next);
        report.ticks += 1;
    }
    report.history_mismatches.dedup();
    Ok(report)
}
