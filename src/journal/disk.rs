//! The on-disk journal: JSON lines appended to `journal.jsonl`, rotated by size into
//! `journal.1.jsonl` … `journal.N.jsonl` (the oldest is dropped), so it never grows past
//! `max_bytes × (max_files + 1)`. A write error is logged once and the journal keeps trying on
//! the next entry; while writes fail, an action's intent cannot be made durable, so the action
//! is not executed (`crate::act::journaled`), and the condition is shown on `/readyz`, the
//! status page and the `sloop_journal_writable` metric.

use super::JournalEntry;
use std::{
    fs::{self, File, OpenOptions},
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
};

/// Size bounds of the on-disk journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskLimits {
    /// Rotate the current file once it would exceed this many bytes.
    pub max_bytes: u64,
    /// Rotated files kept besides the current one.
    pub max_files: u32,
}

impl Default for DiskLimits {
    /// 10 MiB × (5 + 1) files: months of actions for a handful of policies.
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_files: 5,
        }
    }
}

const CURRENT: &str = "journal.jsonl";

fn rotated(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("journal.{n}.jsonl"))
}

/// The appending end.
pub(super) struct DiskJournal {
    dir: PathBuf,
    file: Option<File>,
    size: u64,
    limits: DiskLimits,
    failing: bool,
    /// The error of the last write while `failing`.
    last_error: Option<String>,
    /// The current file ends mid-line: the next write starts with a newline.
    torn: bool,
}

impl DiskJournal {
    /// Opens (creating) the journal in `dir`.
    pub(super) fn open(dir: &Path, limits: DiskLimits) -> Result<Self, String> {
        fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create the journal directory: {e}", dir.display()))?;
        let path = dir.join(CURRENT);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("{}: cannot open the journal: {e}", path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let torn = ends_mid_line(&path);
        Ok(Self {
            dir: dir.to_owned(),
            file: Some(file),
            size,
            limits: DiskLimits {
                max_bytes: limits.max_bytes.max(1024),
                ..limits
            },
            failing: false,
            last_error: None,
            torn,
        })
    }

    /// A journal in `dir` that could not be opened (`error`): every append tries again, and
    /// fails (an intent is then not executed) until the directory is writable.
    pub(super) fn failed(dir: &Path, limits: DiskLimits, error: String) -> Self {
        Self {
            dir: dir.to_owned(),
            file: None,
            size: 0,
            limits: DiskLimits {
                max_bytes: limits.max_bytes.max(1024),
                ..limits
            },
            failing: true,
            last_error: Some(error),
            torn: false,
        }
    }

    /// The size bounds in force.
    pub(super) fn limits(&self) -> DiskLimits {
        self.limits
    }

    /// Why the last write failed, while writes fail.
    pub(super) fn failing(&self) -> Option<&str> {
        self.last_error.as_deref().filter(|_| self.failing)
    }

    /// Appends one entry, rotating first if it would not fit; with `durable`, waits until the
    /// line is on the disk (an intent must survive a kill -9 and a power cut that follow it).
    pub(super) fn append(&mut self, entry: &JournalEntry, durable: bool) -> Result<(), String> {
        let mut line = serde_json::to_vec(entry).map_err(|e| format!("cannot encode the entry: {e}"))?;
        line.push(b'\n');
        let result = self
            .rotate_if_needed(line.len() as u64)
            .and_then(|()| self.write(&line, durable));
        match result {
            Ok(()) => {
                if self.failing {
                    tracing::info!(dir = %self.dir.display(), "Journal writable again.");
                }
                self.failing = false;
                self.last_error = None;
                Ok(())
            }
            Err(e) => {
                if !self.failing {
                    tracing::error!(dir = %self.dir.display(), error = %e, "Journal write failed; actions are not executed until their intent can be written.");
                }
                let e = format!("{}: {e}", self.dir.display());
                self.failing = true;
                self.last_error = Some(e.clone());
                // Reopen on the next entry.
                self.file = None;
                Err(e)
            }
        }
    }

    fn write(&mut self, line: &[u8], durable: bool) -> std::io::Result<()> {
        if self.file.is_none() {
            fs::create_dir_all(&self.dir)?;
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(CURRENT))?;
            self.size = f.metadata().map(|m| m.len()).unwrap_or(0);
            self.torn = ends_mid_line(&self.dir.join(CURRENT));
            self.file = Some(f);
        }
        if let Some(f) = &mut self.file {
            if self.torn {
                f.write_all(b"\n")?;
                self.size += 1;
                self.torn = false;
            }
            // A failed write may leave part of the line behind: the reopen checks for it.
            f.write_all(line)?;
            f.flush()?;
            if durable {
                f.sync_data()?;
            }
            self.size += line.len() as u64;
        }
        Ok(())
    }

    fn rotate_if_needed(&mut self, incoming: u64) -> std::io::Result<()> {
        if self.size == 0 || self.size + incoming <= self.limits.max_bytes {
            return Ok(());
        }
        self.file = None;
        let n = self.limits.max_files;
        if n == 0 {
            fs::remove_file(self.dir.join(CURRENT))?;
        } else {
            let _ = fs::remove_file(rotated(&self.dir, n));
            for i in (1..n).rev() {
                let from = rotated(&self.dir, i);
                if from.exists() {
                    fs::rename(&from, rotated(&self.dir, i + 1))?;
                }
            }
            fs::rename(self.dir.join(CURRENT), rotated(&self.dir, 1))?;
        }
        self.size = 0;
        Ok(())
    }
}

/// A journal line that could not be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    /// The file.
    pub file: PathBuf,
    /// Byte offset of the line's start in the file.
    pub offset: u64,
    /// 1-based line number.
    pub line: usize,
    /// Why (not UTF-8, or the JSON error, bounded).
    pub reason: String,
}

impl std::fmt::Display for SkippedLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{} (byte {}): {}",
            self.file.display(),
            self.line,
            self.offset,
            self.reason
        )
    }
}

/// Reads every journal file in `dir`, oldest entry first. Lines that do not parse (a torn last
/// line after a crash) are counted and skipped.
pub fn read_dir(dir: &Path) -> Result<(Vec<JournalEntry>, usize), String> {
    read_dir_detailed(dir).map(|(entries, skipped)| (entries, skipped.len()))
}

/// Reads every journal file in `dir`, oldest entry first, line by line: a damaged line (not
/// UTF-8, torn by a crash or a full disk, or not an entry) is skipped and reported with its
/// file and offset, and every other line is still read.
pub fn read_dir_detailed(dir: &Path) -> Result<(Vec<JournalEntry>, Vec<SkippedLine>), String> {
    if !dir.is_dir() {
        return Err(format!("{}: no journal directory here", dir.display()));
    }
    let mut numbered: Vec<(u32, PathBuf)> = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let n = name
                .strip_prefix("journal.")?
                .strip_suffix(".jsonl")?
                .parse()
                .ok()?;
            Some((n, p))
        })
        .collect();
    numbered.sort_by_key(|n| std::cmp::Reverse(n.0));
    let mut files: Vec<PathBuf> = numbered.into_iter().map(|(_, p)| p).collect();
    files.push(dir.join(CURRENT));
    let (mut entries, mut skipped) = (Vec::new(), Vec::new());
    for path in files {
        let Ok(f) = File::open(&path) else { continue };
        let mut reader = BufReader::new(f);
        let (mut offset, mut number, mut raw) = (0u64, 0usize, Vec::new());
        loop {
            raw.clear();
            let n = reader
                .read_until(b'\n', &mut raw)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if n == 0 {
                break;
            }
            number += 1;
            let start = offset;
            offset += n as u64;
            let problem = match std::str::from_utf8(&raw) {
                Err(e) => Some(format!("not UTF-8 (byte {} of the line)", e.valid_up_to())),
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => match serde_json::from_str::<JournalEntry>(text) {
                    Ok(e) => {
                        entries.push(e);
                        None
                    }
                    Err(e) => Some(crate::ingest::refusals::bounded(&e.to_string(), 160)),
                },
            };
            if let Some(reason) = problem {
                skipped.push(SkippedLine {
                    file: path.clone(),
                    offset: start,
                    line: number,
                    reason,
                });
            }
        }
    }
    Ok((entries, skipped))
}

/// Whether the file at `path` ends in the middle of a line (a write cut off by a crash or a
/// full disk): the next entry must then start on a fresh line, or both would be lost.
fn ends_mid_line(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let mut last = [0u8; 1];
    f.seek(SeekFrom::End(-1)).is_ok() && f.read_exact(&mut last).is_ok() && last[0] != b'\n'
}
