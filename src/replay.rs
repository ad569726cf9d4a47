//! Decision logs: one JSON line per tick with `now`, the snapshot, the history and the
//! decision, after a header line holding the policy. `sloop replay` re-runs `decide` on every
//! line and reports any difference — byte-for-byte identical on an unchanged build.
//!
//! Encodings keep a day of ticks small, without losing anything `decide` reads:
//! - a server that did not change since the previous tick is written as `{"same": id}`;
//! - a series' `recent` samples are written as a delta against the previous tick (`keep` drops
//!   that many from the front, `add` appends), samples as `[at, latency, ok]` (phase timings
//!   are not logged: the decision core never reads them);
//! - the snapshot so encoded, and the decision, are written as a structural diff against the
//!   previous tick's ([`diff`]): counters as steps, unchanged parts not at all;
//! - the decision carries a digest of its exact text, so replay still compares bytes;
//! - the history is written in full on the first tick and every [`CHECKPOINT`] ticks, and as a
//!   digest otherwise; replay chains the history `decide` returns and checks every digest.
//!
//! The lines are written as one gzip stream, flushed at every tick (a log cut off by a crash
//! reads up to its last whole tick). Replay also reads plain text, and format 2 logs (no
//! structural diff, the decision as text).

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

mod diff;

/// The format this build writes.
pub const FORMAT: u32 = 3;

/// The deflate level, chosen by measurement on the election night's 71 MB of log text
/// (BENCHMARKS.md, "Decision log"): level 1 writes 20.6 MB, over the 20 MB target; level 6
/// 17.8 MB for three times level 1's compression CPU; level 9 gains 3 % more for twice level 6's.
const GZIP_LEVEL: u32 = 6;

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
    digest_of(history)
}

/// FNV-1a over `value`'s JSON text, hashed as it is written (no copy of the text is made).
fn digest_of(value: &impl Serialize) -> String {
    let mut h = Fnv::default();
    // Writing into the hasher cannot fail; a value that cannot be serialised hashes as far as
    // it got, as the text form did.
    let _ = serde_json::to_writer(&mut h, value);
    format!("{:016x}", h.0)
}

fn fnv(text: &str) -> String {
    let mut h = Fnv::default();
    h.add(text.as_bytes());
    format!("{:016x}", h.0)
}

/// The FNV-1a state, fed through [`Write`].
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl Write for Fnv {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.add(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
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

/// How many samples the window dropped from its front since `prev`: where the current samples
/// start in the previous ones. Samples carry their time, so the first current sample is looked
/// up once (linear) instead of trying every offset (quadratic in the window).
fn slide(prev: &[Value], cur: &[Value]) -> usize {
    let fits = |k: usize| {
        let overlap = &prev[k..];
        overlap.len() <= cur.len() && overlap == &cur[..overlap.len()]
    };
    if let Some(first) = cur.first()
        && let Some(k) = prev.iter().position(|s| s == first)
        && fits(k)
    {
        return k;
    }
    // No overlap found by the first sample (repeated samples, or none kept): the full search.
    (0..=prev.len()).find(|&k| fits(k)).unwrap_or(prev.len())
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
                let keep = slide(prev, &cur);
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
    /// The previous tick's snapshot (after the window and inventory encodings) and decision.
    prev_snapshot: Value,
    prev_decision: Value,
}

impl LogWriter {
    /// Starts a log by writing its header; everything goes through a gzip stream on `out`.
    pub fn new(out: Box<dyn Write + Send>, policy: &Policy) -> io::Result<Self> {
        let mut out: Box<dyn Write + Send> = Box::new(flate2::write::GzEncoder::new(
            out,
            flate2::Compression::new(GZIP_LEVEL),
        ));
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
            format: FORMAT,
            sloop: env!("CARGO_PKG_VERSION").into(),
            policy,
        };
        serde_json::to_writer(&mut out, &header)?;
        out.write_all(b"\n")?;
        Ok(Self {
            out,
            deltas: Deltas::default(),
            ticks: 0,
            prev_snapshot: Value::Null,
            prev_decision: Value::Null,
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
        let snap_diff = diff::diff(&self.prev_snapshot, &snap).unwrap_or_else(|| json!({}));
        self.prev_snapshot = snap;
        let mut line = json!({"now": now, "snapshot": snap_diff, "history_digest": digest(history)});
        if !failed.is_empty() {
            line["failed"] = json!(failed);
        }
        if self.ticks.is_multiple_of(CHECKPOINT) {
            line["history"] = serde_json::to_value(history)?;
        }
        // The decision is written last: the digest of its exact text, so replay compares bytes,
        // and its diff against the previous one, so a difference can be shown.
        // The digest is of the exact text, hashed as it is written; the value for the diff is
        // built directly (the same value the text would parse back to: floats round-trip).
        let decision_digest = digest_of(decision);
        let decision_value = serde_json::to_value(decision)?;
        let decision_diff = diff::diff(&self.prev_decision, &decision_value).unwrap_or_else(|| json!({}));
        self.prev_decision = decision_value;
        let text = serde_json::to_string(&line)?;
        self.out.write_all(&text.as_bytes()[..text.len() - 1])?;
        writeln!(
            self.out,
            ",\"decision_digest\":\"{decision_digest}\",\"decision\":{decision_diff}}}"
        )?;
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
    /// Format 3: the digest of the decision's text.
    #[serde(default)]
    decision_digest: Option<String>,
    /// Format 2: the decision's text; format 3: its diff against the previous tick's.
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

/// Re-runs `decide` on every recorded tick and compares the outputs byte for byte. Reads the
/// gzip stream sloop writes, or the same lines as plain text.
pub fn replay(mut input: impl BufRead) -> Result<ReplayReport, ReplayError> {
    if input.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        replay_lines(io::BufReader::new(flate2::bufread::MultiGzDecoder::new(input)))
    } else {
        replay_lines(input)
    }
}

fn replay_lines(input: impl BufRead) -> Result<ReplayReport, ReplayError> {
    let mut lines = input.lines();
    let header_text = lines.next().ok_or(ReplayError::Format {
        line: 1,
        message: "empty log".into(),
    })??;
    let header: Header = serde_json::from_str(&header_text).map_err(|e| ReplayError::Format {
        line: 1,
        message: format!("not a decision-log header: {e}"),
    })?;
    if !(2..=FORMAT).contains(&header.format) {
        return Err(ReplayError::Format {
            line: 1,
            message: format!("log format {} is not supported", header.format),
        });
    }
    let diffed = header.format >= 3;
    let mut report = ReplayReport::default();
    let mut deltas = Deltas::default();
    let mut chained: Option<History> = None;
    let (mut prev_snapshot, mut prev_decision) = (Value::Null, Value::Null);
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
        if diffed {
            prev_snapshot =
                diff::patch(&prev_snapshot, &rec.snapshot).map_err(|e| bad(format!("snapshot: {e}")))?;
            rec.snapshot = prev_snapshot.clone();
        }
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
        // Format 3: the exact text by its digest, and the recorded content (patched from the
        // diffs) against the recomputed one; format 2: the text itself.
        let mismatch = if diffed {
            let step: Value =
                serde_json::from_str(rec.decision.get()).map_err(|e| bad(format!("decision: {e}")))?;
            prev_decision = diff::patch(&prev_decision, &step).map_err(|e| bad(format!("decision: {e}")))?;
            let recomputed_value: Value = serde_json::from_str(&recomputed).unwrap_or_default();
            let same = rec.decision_digest.as_deref() == Some(fnv(&recomputed).as_str())
                && recomputed_value == prev_decision;
            (!same).then(|| (prev_decision.to_string(), recomputed_value.to_string()))
        } else {
            (recomputed != rec.decision.get()).then(|| (rec.decision.get().to_owned(), recomputed.clone()))
        };
        if let Some((recorded_text, recomputed_text)) = mismatch {
            report.decision_mismatches.push(line_no);
            if report.first_difference.is_none() {
                let (recorded, now) = around_difference(&recorded_text, &recomputed_text);
                report.first_difference = Some((line_no, recorded, now));
            }
        }
        chained = Some(next);
        report.ticks += 1;
    }
    report.history_mismatches.dedup();
    Ok(report)
}
