use super::*;
use crate::decision::{Action, ActionKind, Cause, Evidence};

fn entry(at: f64, policy: &str) -> JournalEntry {
    JournalEntry {
        at,
        policy: policy.into(),
        id: Some(format!("{policy}-{at}")),
        kind: ActionKind::ScaleOut,
        action: Action::ScaleOut { count: 2 },
        cause: Cause::Capacity,
        reason: None,
        outcome: EntryOutcome::Done,
        detail: None,
        duration_ms: Some(12.5),
        evidence: Evidence {
            summary: "p95 1.2 s over 800 ms from 3 of 4 locations".into(),
            ..Evidence::default()
        },
    }
}

#[test]
fn the_ring_keeps_the_newest_entries_newest_first() {
    let j = Journal::in_memory(3);
    for i in 0..5 {
        j.record(&entry(i as f64, if i % 2 == 0 { "a" } else { "b" }));
    }
    let all: Vec<f64> = j.recent(None, 10).iter().map(|e| e.at).collect();
    assert_eq!(all, vec![4.0, 3.0, 2.0]);
    let a: Vec<f64> = j.recent(Some("a"), 10).iter().map(|e| e.at).collect();
    assert_eq!(a, vec![4.0, 2.0]);
}

#[test]
fn disk_journal_rotates_by_size_and_keeps_n_files() {
    let dir = std::env::temp_dir().join(format!("sloop-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let limits = DiskLimits {
        max_bytes: 1024,
        max_files: 2,
    };
    let j = Journal::on_disk(&dir, limits, 10).expect("journal opens");
    let line = serde_json::to_vec(&entry(0.0, "a")).expect("serialises").len() as u64 + 1;
    let per_file = 1024 / line;
    let written = per_file * 5;
    for i in 0..written {
        j.record(&entry(i as f64, "a"));
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    assert_eq!(names, vec!["journal.1.jsonl", "journal.2.jsonl", "journal.jsonl"]);
    for n in &names {
        let size = std::fs::metadata(dir.join(n)).expect("file").len();
        assert!(size <= 1024, "{n} is {size} bytes, over the cap");
    }
    let (entries, bad) = read_dir(&dir).expect("reads");
    assert_eq!(bad, 0);
    // Oldest first, contiguous, ending with the newest entry.
    let ats: Vec<f64> = entries.iter().map(|e| e.at).collect();
    assert_eq!(ats.last().copied(), Some((written - 1) as f64));
    assert!(
        ats.windows(2).all(|w| w[1] == w[0] + 1.0),
        "entries out of order: {ats:?}"
    );
    assert!((entries.len() as u64) < written, "old files were dropped");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_torn_line_is_skipped_and_counted() {
    let dir = std::env::temp_dir().join(format!("sloop-journal-torn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let j = Journal::on_disk(&dir, DiskLimits::default(), 10).expect("journal opens");
    j.record(&entry(1.0, "a"));
    drop(j);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("journal.jsonl"))
        .expect("open");
    std::io::Write::write_all(&mut f, b"{\"at\": 2.0, \"pol").expect("write");
    let (entries, bad) = read_dir(&dir).expect("reads");
    assert_eq!((entries.len(), bad), (1, 1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_intent_without_outcome_is_charged_as_applied_and_an_outcome_supersedes_its_intent() {
    let with = |id: &str, outcome| JournalEntry {
        id: Some(id.into()),
        outcome,
        ..entry(1.0, "a")
    };
    let entries = vec![
        with("a-1-1", EntryOutcome::Started),
        with("a-1-1", EntryOutcome::Failed),
        with("a-1-2", EntryOutcome::Started),
        with("a-1-3", EntryOutcome::Started),
        with("a-1-3", EntryOutcome::Done),
        JournalEntry {
            policy: "b".into(),
            ..with("b-1-1", EntryOutcome::Started)
        },
    ];
    let got: Vec<(String, bool)> = charges(&entries, "a")
        .into_iter()
        .map(|c| (c.id, c.took_effect))
        .collect();
    assert_eq!(
        got,
        vec![
            ("a-1-1".to_owned(), false),
            ("a-1-2".to_owned(), true),
            ("a-1-3".to_owned(), true)
        ],
        "one charge per action: the outcome's, or the lone intent's (may have applied)"
    );
}

#[test]
fn intents_reach_the_disk_but_not_the_ring() {
    let dir = std::env::temp_dir().join(format!("sloop-journal-intent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let j = Journal::on_disk(&dir, DiskLimits::default(), 10).expect("journal opens");
    j.intend(&JournalEntry {
        outcome: EntryOutcome::Started,
        ..entry(5.0, "a")
    })
    .expect("intent written");
    assert!(
        j.recent(None, 10).is_empty(),
        "the status page shows outcomes only"
    );
    let charged = j.persisted_charges("a");
    assert_eq!(charged.len(), 1, "{charged:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn open_intents_are_those_no_line_concludes_and_an_abandoned_one_is_charged_without_effect() {
    let with = |id: &str, outcome| JournalEntry {
        id: Some(id.into()),
        outcome,
        ..entry(1.0, "a")
    };
    let entries = vec![
        with("a-1-1", EntryOutcome::Started),
        with("a-1-1", EntryOutcome::Done),
        with("a-1-2", EntryOutcome::Started),
        with("a-1-2", EntryOutcome::Abandoned),
        with("a-1-3", EntryOutcome::Started),
        with("a-1-4", EntryOutcome::Started),
        with("a-1-4", EntryOutcome::Started),
        JournalEntry {
            policy: "b".into(),
            ..with("b-1-1", EntryOutcome::Started)
        },
    ];
    let open: Vec<String> = open_intents(&entries, "a")
        .into_iter()
        .filter_map(|e| e.id)
        .collect();
    assert_eq!(
        open,
        ["a-1-3", "a-1-4"],
        "each open intent once, other policies apart"
    );
    let abandoned = charges(&entries, "a")
        .into_iter()
        .find(|c| c.id == "a-1-2")
        .expect("an abandoned intent stays charged");
    assert!(!abandoned.took_effect, "it changed nothing");
    assert_eq!(EntryOutcome::Abandoned.label(), "abandoned");
    let line = serde_json::to_string(&with("a-1-2", EntryOutcome::Abandoned)).expect("serialises");
    assert!(line.contains("\"outcome\":\"abandoned\""), "{line}");
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sloop-journal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_non_utf8_byte_costs_one_line_not_the_journal() {
    let dir = scratch("utf8");
    let j = Journal::on_disk(&dir, DiskLimits::default(), 10).expect("journal opens");
    j.record(&entry(1.0, "a"));
    drop(j);
    let path = dir.join("journal.jsonl");
    let first_len = std::fs::metadata(&path).expect("file").len();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open");
    std::io::Write::write_all(&mut f, b"{\"at\": 2.0, \"policy\": \"\xff\"}\n").expect("write");
    drop(f);
    let j = Journal::on_disk(&dir, DiskLimits::default(), 10).expect("journal opens");
    j.record(&entry(3.0, "a"));
    let (entries, skipped) = read_dir_detailed(&dir).expect("reads");
    let ats: Vec<f64> = entries.iter().map(|e| e.at).collect();
    assert_eq!(ats, vec![1.0, 3.0], "the lines around the damage are read");
    assert_eq!(skipped.len(), 1);
    assert_eq!((skipped[0].line, skipped[0].offset), (2, first_len));
    assert!(skipped[0].reason.contains("UTF-8"), "{}", skipped[0]);
    assert_eq!(
        j.persisted_charges("a").len(),
        2,
        "the run still counts what it can read"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn after_a_cut_off_line_the_next_entry_starts_on_a_fresh_line() {
    let dir = scratch("cut");
    let j = Journal::on_disk(&dir, DiskLimits::default(), 10).expect("journal opens");
    let intent = JournalEntry {
        outcome: EntryOutcome::Started,
        ..entry(1.0, "a")
    };
    j.intend(&intent).expect("intent written");
    drop(j);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("journal.jsonl"))
        .expect("open");
    std::io::Write::write_all(&mut f, b"{\"at\": 2.0, \"pol").expect("write");
    drop(f);
    let j = Journal::on_disk(&dir, DiskLimits::default(), 10).expect("journal opens");
    j.record(&entry(1.0, "a"));
    let (entries, skipped) = read_dir_detailed(&dir).expect("reads");
    assert_eq!(entries.len(), 2, "the intent and its outcome both read back");
    assert_eq!(skipped.len(), 1, "only the fragment is lost");
    assert!(j.open_intents("a").is_empty(), "the outcome concludes the intent");
    assert_eq!(j.persisted_charges("a").len(), 1, "charged once");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn infinite_latency_evidence_reads_back() {
    let dir = scratch("inf");
    let j = Journal::on_disk(&dir, DiskLimits::default(), 10).expect("journal opens");
    let mut e = entry(1.0, "a");
    e.evidence.metrics = vec![
        ("latency_p95_s".into(), f64::INFINITY),
        ("utilisation".into(), 0.5),
    ];
    j.record(&e);
    let (entries, skipped) = read_dir_detailed(&dir).expect("reads");
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(entries, vec![e]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unwritable_journal_refuses_intents_and_says_why_until_it_is_writable() {
    let dir = scratch("unwritable");
    // A file where the directory should be: nothing can be created under it (as root too).
    std::fs::write(&dir, b"not a directory").expect("blocker");
    let (j, error) = Journal::on_disk_or_retrying(&dir, DiskLimits::default(), 10);
    assert!(error.is_some(), "opening fails");
    let intent = JournalEntry {
        outcome: EntryOutcome::Started,
        ..entry(1.0, "a")
    };
    assert!(j.intend(&intent).is_err(), "the intent is not durable");
    assert!(j.unwritable().is_some(), "and the journal says so");
    std::fs::remove_file(&dir).expect("unblock");
    j.intend(&intent).expect("writable again");
    assert_eq!(j.unwritable(), None);
    assert_eq!(j.open_intents("a").len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn admissions_are_the_done_admits_of_the_policy() {
    let admit = |at: f64, policy: &str, id: &str, outcome: EntryOutcome| JournalEntry {
        kind: ActionKind::Admit,
        action: Action::Admit { instance: id.into() },
        cause: Cause::Serving,
        outcome,
        ..entry(at, policy)
    };
    let entries = [
        admit(10.0, "a", "vm-1", EntryOutcome::Done),
        admit(11.0, "a", "vm-2", EntryOutcome::Failed),
        admit(12.0, "b", "vm-3", EntryOutcome::Done),
        entry(13.0, "a"),
        admit(14.0, "a", "vm-4", EntryOutcome::Done),
    ];
    assert_eq!(
        admissions(&entries, "a"),
        vec![(10.0, "vm-1".to_string()), (14.0, "vm-4".to_string())]
    );
}
