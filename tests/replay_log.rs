//! A recorded decision log replays byte for byte, and a tampered one is caught.

use sloop::{policy, replay, sim};
use std::{
    io::{BufReader, Cursor},
    path::Path,
    sync::{Arc, Mutex},
};

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn record() -> Vec<u8> {
    let policy = policy::load_file(Path::new("policies/election-web.yaml"))
        .unwrap()
        .policy;
    let scenario = sim::load_scenario(Path::new("policies/scenarios/instance-crash.yaml")).unwrap();
    let buf = Shared::default();
    let log = replay::LogWriter::new(Box::new(buf.clone()), &policy).unwrap();
    sim::rehearse::rehearse(&policy, &scenario, 3, Some(log), &mut |_| {});
    buf.0.lock().unwrap().clone()
}

#[test]
fn a_recorded_rehearsal_replays_identically() {
    let log = record();
    let report = replay::replay(BufReader::new(Cursor::new(&log))).unwrap();
    assert!(report.ticks > 100, "only {} ticks", report.ticks);
    assert!(report.identical(), "{report:?}");
}

#[test]
fn a_changed_decision_is_reported() {
    // The log is a gzip stream; replay reads the plain lines as well.
    let mut log = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::MultiGzDecoder::new(Cursor::new(record())),
        &mut log,
    )
    .expect("a gzip stream of text");
    // Flip one recorded action in a decision (not in the snapshot) into another.
    let mut lines: Vec<String> = log.lines().map(str::to_owned).collect();
    let target = lines
        .iter()
        .position(|l| {
            l.find("\"decision\":")
                .is_some_and(|d| l[d..].contains("\"kind\":\"drain\""))
        })
        .expect("the crash scenario should have drained something");
    let d = lines[target].find("\"decision\":").unwrap();
    let (head, tail) = lines[target].split_at(d);
    lines[target] = format!(
        "{head}{}",
        tail.replacen("\"kind\":\"drain\"", "\"kind\":\"rebuild\"", 1)
    );
    let tampered = lines.join("\n");
    let report = replay::replay(BufReader::new(Cursor::new(tampered.as_bytes()))).unwrap();
    assert_eq!(report.decision_mismatches.len(), 1, "{report:?}");
}

#[test]
fn a_tick_writes_what_changed_not_every_series_again() {
    let gz = record();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(Cursor::new(&gz)), &mut log)
        .expect("a gzip stream of text");
    let ticks: Vec<&str> = log.lines().skip(1).collect();
    // A probe series' key is written when the series first appears (a new server, a new
    // location), never again while it only gains samples and counts: every series changes
    // every tick, and rewriting them all is what made a night's log 29 MB.
    let restating = ticks.iter().skip(1).filter(|l| l.contains("\"key\":{")).count();
    assert!(
        restating * 20 < ticks.len(),
        "{restating} of {} ticks restate series keys",
        ticks.len()
    );
    let per_tick = gz.len() / ticks.len();
    eprintln!(
        "instance-crash: {} ticks, {} bytes, {per_tick} B per tick",
        ticks.len(),
        gz.len()
    );
}
