//! Decision logs: one JSON line per tick (`now`, snapshot, history, decision), after a header
//! line holding the policy. `sloop replay` re-runs `decide` on every line and reports any
//! difference — byte-for-byte identical on an unchanged build.

use crate::{
    decide::decide,
    decision::Decision,
    history::History,
    policy::Policy,
    snapshot::{Snapshot, Time},
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::io::{self, BufRead, Write};

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

#[derive(Serialize)]
struct LineOut<'a> {
    now: Time,
    snapshot: &'a Snapshot,
    history: &'a History,
    decision: &'a Decision,
}

#[derive(Deserialize)]
struct LineIn {
    now: Time,
    snapshot: Snapshot,
    history: Box<RawValue>,
    decision: Box<RawValue>,
}

/// Writes a decision log.
pub struct LogWriter {
    out: Box<dyn Write + Send>,
}

impl LogWriter {
    /// Starts a log by writing its header.
    pub fn new(mut out: Box<dyn Write + Send>, policy: &Policy) -> io::Result<Self> {
        let header = Header {
            format: 1,
            sloop: env!("CARGO_PKG_VERSION").into(),
            policy: policy.clone(),
        };
        serde_json::to_writer(&mut out, &header)?;
        out.write_all(b"\n")?;
        Ok(Self { out })
    }

    /// Appends one tick: the inputs of `decide` and its decision.
    pub fn record(
        &mut self,
        now: Time,
        snapshot: &Snapshot,
        history: &History,
        decision: &Decision,
    ) -> io::Result<()> {
        serde_json::to_writer(
            &mut self.out,
            &LineOut {
                now,
                snapshot,
                history,
                decision,
            },
        )?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

/// The result of replaying a log.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ReplayReport {
    /// Ticks replayed.
    pub ticks: usize,
    /// Ticks whose recomputed decision differs from the recorded one.
    pub decision_mismatches: Vec<usize>,
    /// Ticks whose recomputed history differs from the next line's recorded history.
    pub history_mismatches: Vec<usize>,
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
    let mut report = ReplayReport::default();
    let mut expected_history: Option<String> = None;
    for (i, line) in lines.enumerate() {
        let line_no = i + 2;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: LineIn = serde_json::from_str(&line).map_err(|e| ReplayError::Format {
            line: line_no,
            message: e.to_string(),
        })?;
        if let Some(expected) = expected_history.take()
            && expected != rec.history.get()
        {
            report.history_mismatches.push(line_no - 1);
        }
        let history: History = serde_json::from_str(rec.history.get()).map_err(|e| ReplayError::Format {
            line: line_no,
            message: format!("history: {e}"),
        })?;
        let (decision, next) = decide(&header.policy, &rec.snapshot, &history, rec.now);
        let recomputed = serde_json::to_string(&decision).unwrap_or_default();
        if recomputed != rec.decision.get() {
            report.decision_mismatches.push(line_no);
        }
        expected_history = Some(serde_json::to_string(&next).unwrap_or_default());
        report.ticks += 1;
    }
    Ok(report)
}
