//! The on-disk journal: JSON lines appended to `journal.jsonl`, rotated by size into
//! `journal.1.jsonl` … `journal.N.jsonl` (the oldest is dropped), so it never grows past
//! `max_bytes × (max_files + 1)`. A write error is logged once and the journal keeps trying on
//! the next entry: the controller must not stop because a disk filled up.

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
        Ok(Self {
            dir: dir.to_owned(),
            file: Some(file),
            size,
            limits: DiskLimits {
                max_bytes: limits.max_bytes.max(1024),
                ..limits
            },
            failing: false,
        })
    }

    /// Appends one entry, rotating first if it would not fit; with `durable`, waits until the
    /// line is on the disk (an intent must survive a kill -9 and a power cut that follow it).
    pub(super) fn append(&mut self, entry: &JournalEntry, durable: bool) {
        let Ok(mut line) = serde_json::to_vec(entry) else {
            return;
        };
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
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "Journal write failed; entries stay in memory.");
                }
                self.failing = true;
                // Reopen on the next entry.
                self.file = None;
            }
        }
    }

    fn write(&mut self, line: &[u8], durable: bool) -> std::io::Result<()> {
        if self.file.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(CURRENT))?;
            self.size = f.metadata().map(|m| m.len()).unwrap_or(0);
            self.file = Some(f);
        }
        if let Some(f) = &mut self.file {
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

/// Reads every journal file in `dir`, oldest entry first. Lines that do not parse (a torn last
/// line after a crash) are counted and skipped.
pub fn read_dir(dir: &Path) -> Result<(Vec<JournalEntry>, usize), String> {
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
    let (mut entries, mut bad) = (Vec::new(), 0);
    for path in files {
        let Ok(f) = File::open(&path) else { continue };
        for line in BufReader::new(f).lines() {
            let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<JournalEntry>(&line) {
                Ok(e) => entries.push(e),
                Err(_) => bad += 1,
            }
        }
    }
    Ok((entries, bad))
}
