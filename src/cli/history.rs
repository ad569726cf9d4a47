//! `sloop history`: prints the action journal that `sloop run` keeps on disk.

use crate::{
    clock::{Clock, SystemClock},
    journal::{JournalEntry, read_dir_detailed},
    policy::units::{Duration, Timestamp},
};
use std::{path::PathBuf, process::ExitCode};

/// Damaged lines listed one by one; the rest are counted.
const SKIPPED_SHOWN: usize = 20;

/// Arguments of `sloop history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The journal directory of `sloop run --journal`.
    #[arg(long, env = "SLOOP_JOURNAL", default_value = "journal", value_name = "DIR")]
    journal: PathBuf,
    /// Only this policy.
    #[arg(long)]
    policy: Option<String>,
    /// Only entries since this instant (RFC 3339, e.g. 2026-09-27T18:00:00+02:00) or this long
    /// ago by the wall clock (e.g. 2h). Simulated runs record simulated time: use an instant.
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only the last N entries.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Print JSON lines instead of text.
    #[arg(long)]
    json: bool,
}

fn since(s: &str) -> Result<f64, String> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t.unix());
    }
    s.parse::<Duration>()
        .map(|d| SystemClock.now() - d.secs())
        .map_err(|_| format!("--since: `{s}` is neither an RFC 3339 instant nor a duration such as 2h"))
}

/// One entry on one line.
pub fn line(e: &JournalEntry) -> String {
    let when = Timestamp::from_unix(e.at.floor()).to_string();
    let cause = serde_json::to_value(e.cause)
        .ok()
        .and_then(|c| c.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut s = format!(
        "{when}  {:<16} {:<11} {:<24} {:<8} {cause}",
        e.policy,
        e.kind.label(),
        e.target(),
        e.outcome.label()
    );
    if let Some(r) = e.reason {
        s.push_str(&format!(" / {}", r.label()));
    }
    if let Some(ms) = e.duration_ms {
        s.push_str(&format!("  {ms:.0} ms"));
    }
    if let Some(d) = &e.detail {
        s.push_str(&format!("  ({d})"));
    }
    if !e.evidence.summary.is_empty() {
        s.push_str(&format!("  — {}", e.evidence.summary));
    }
    s
}

/// Runs `sloop history`.
pub fn run(args: &HistoryArgs) -> ExitCode {
    let from = match args.since.as_deref().map(since).transpose() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (entries, skipped) = match read_dir_detailed(&args.journal) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let mut shown: Vec<&JournalEntry> = entries
        .iter()
        .filter(|e| args.policy.as_ref().is_none_or(|p| &e.policy == p))
        .filter(|e| from.is_none_or(|f| e.at >= f))
        .collect();
    if let Some(n) = args.limit {
        shown = shown.split_off(shown.len().saturating_sub(n));
    }
    for e in &shown {
        if args.json {
            outln!("{}", serde_json::to_string(e).unwrap_or_default());
        } else {
            outln!("{}", line(e));
        }
    }
    if !skipped.is_empty() {
        eprintln!(
            "warning: read {} journal entries; skipped {} damaged lines:",
            entries.len(),
            skipped.len()
        );
        for s in skipped.iter().take(SKIPPED_SHOWN) {
            eprintln!("  {s}");
        }
        if skipped.len() > SKIPPED_SHOWN {
            eprintln!("  … and {} more", skipped.len() - SKIPPED_SHOWN);
        }
    }
    if shown.is_empty() && !args.json {
        eprintln!("no journal entries match");
    }
    ExitCode::SUCCESS
}
