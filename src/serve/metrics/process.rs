//! The process metrics every Prometheus exporter has (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_open_fds`, `process_max_fds`,
//! `process_start_time_seconds`), read from `/proc` at each scrape. No crate: these are four
//! small text files. Off Linux (no `/proc`), the metrics are simply absent.

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{counter::ConstCounter, gauge::ConstGauge},
};
use std::path::Path;

/// Clock ticks per second in `/proc/*/stat`: `USER_HZ`, which Linux fixes at 100 for this
/// interface on every architecture it exports `/proc` for (whatever the kernel's `HZ`).
const USER_HZ: f64 = 100.0;

/// One reading of the process's figures.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProcessFigures {
    /// User plus system CPU time (s).
    pub cpu_seconds: f64,
    /// Resident set size (bytes).
    pub rss_bytes: f64,
    /// Open file descriptors.
    pub open_fds: f64,
    /// The soft limit on open file descriptors.
    pub max_fds: Option<f64>,
    /// Process start, Unix seconds.
    pub start_time: f64,
}

/// Reads `/proc/<pid>` (`self` for this process). `None` without a readable `/proc`.
pub fn read(proc_dir: &Path) -> Option<ProcessFigures> {
    let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: fields count from the
    // last `)`. After it: state (3), …, utime (14), stime (15), …, starttime (22).
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
    let cpu_seconds = (field(14)? + field(15)?) / USER_HZ;
    let start_ticks = field(22)?;
    let boot = std::fs::read_to_string(proc_dir.join("../stat"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<f64>().ok())?;
    let rss_kib = std::fs::read_to_string(proc_dir.join("status"))
        .ok()?
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0);
    let open_fds = std::fs::read_dir(proc_dir.join("fd")).map_or(0, |d| d.count()) as f64;
    let max_fds = std::fs::read_to_string(proc_dir.join("limits"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))?
                .split_whitespace()
                .nth(3)?
                .parse::<f64>()
                .ok()
        });
    Some(ProcessFigures {
        cpu_seconds,
        rss_bytes: rss_kib * 1024.0,
        open_fds,
        max_fds,
        start_time: boot + start_ticks / USER_HZ,
    })
}

/// Encodes the figures of `/proc/self` at each scrape.
#[derive(Debug)]
pub struct ProcessCollector;

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(v);
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(p) = read(Path::new("/proc/self")) else {
            return Ok(());
        };
        let cpu = ConstCounter::new(p.cpu_seconds);
        cpu.encode(e.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        gauge(
            &mut e,
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            p.rss_bytes,
        )?;
        gauge(
            &mut e,
            "process_open_fds",
            "Number of open file descriptors",
            p.open_fds,
        )?;
        if let Some(max) = p.max_fds {
            gauge(
                &mut e,
                "process_max_fds",
                "Maximum number of open file descriptors",
                max,
            )?;
        }
        gauge(
            &mut e,
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds",
            p.start_time,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_reads_sensibly() {
        let p = read(Path::new("/proc/self")).expect("/proc/self on Linux");
        assert!(p.rss_bytes > 1e6, "RSS {} B", p.rss_bytes);
        assert!(p.open_fds >= 3.0, "{} fds", p.open_fds);
        assert!(p.max_fds.is_some_and(|m| m >= p.open_fds));
        // Started after 2020 and not in the future by more than a clock step.
        let now = std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .expect("clock")
            .as_secs_f64();
        assert!(
            p.start_time > 1.577e9 && p.start_time <= now + 5.0,
            "{}",
            p.start_time
        );
        assert!(p.cpu_seconds >= 0.0 && p.cpu_seconds < 1e6);
    }

    #[test]
    fn a_command_name_with_spaces_and_parentheses_is_skipped() {
        let dir = std::env::temp_dir().join(format!("sloop-proc-{}", std::process::id()));
        let me = dir.join("self");
        std::fs::create_dir_all(me.join("fd")).expect("dir");
        std::fs::write(dir.join("stat"), "cpu 1 2 3\nbtime 1700000000\n").expect("stat");
        let mut stat = String::from("42 (a (b) c) S");
        for n in 4..=30 {
            stat.push_str(&format!(
                " {}",
                if n == 14 {
                    250
                } else if n == 15 {
                    50
                } else if n == 22 {
                    1000
                } else {
                    0
                }
            ));
        }
        std::fs::write(me.join("stat"), stat).expect("stat");
        std::fs::write(me.join("status"), "Name:\tx\nVmRSS:\t  2048 kB\n").expect("status");
        std::fs::write(
            me.join("limits"),
            "Max open files            1024                 4096                 files\n",
        )
        .expect("limits");
        let p = read(&me).expect("reads");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            p,
            ProcessFigures {
                cpu_seconds: 3.0,
                rss_bytes: 2048.0 * 1024.0,
                open_fds: 0.0,
                max_fds: Some(1024.0),
                start_time: 1_700_000_010.0,
            }
        );
    }
}
