//! sloop's output to pipes, and `sloop run`'s settings as its logs show them.
//!
//! `sloop schema | head -c 1`: a reader that goes away must not make sloop panic (plain
//! `println!` does, on EPIPE). The read end is closed before sloop writes, so every write fails.

use std::process::{Command, Stdio};

#[test]
fn closed_stdout_is_not_a_panic() {
    for args in [&["schema"][..], &["explain", "policies/election-web.yaml"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sloop"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sloop");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait for sloop");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked"),
            "sloop {args:?} panicked on a closed pipe: {stderr}"
        );
        assert!(
            out.status.success(),
            "sloop {args:?} failed: {:?} {stderr}",
            out.status
        );
        assert!(
            !stderr.contains("cannot write"),
            "a closed pipe is not worth a warning: {stderr}"
        );
    }
}

/// Starts `sloop run` on the simulator with `args` and `env`, its stderr a pipe, and returns its
/// first log lines (up to the one announcing the status page, or what came within 60 s).
fn run_log_lines(name: &str, args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    let dir = std::env::temp_dir().join(format!("sloop-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("policies")).expect("temp dir");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("policies/minimal.yaml"),
        dir.join("policies/minimal.yaml"),
    )
    .expect("copy policy");
    std::fs::write(dir.join("sloop.yaml"), "dryRun: true\n").expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sloop"))
        .args([
            "run",
            "--cloud",
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--speed",
            "600",
        ])
        .arg("--scenario")
        .arg(root.join("policies/scenarios/steady-day.yaml"))
        .arg("--policies")
        .arg(dir.join("policies"))
        .arg("--journal")
        .arg(dir.join("journal"))
        .args(args)
        .current_dir(&dir)
        .env_remove("NO_COLOR")
        .env_remove("SLOOP_DRY_RUN")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sloop run");
    let stderr = child.stderr.take().expect("stderr");
    // A reader thread, so a silent child cannot hang the test: the wait below gives up.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines: Vec<String> = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(60)) {
        let announced = line.contains("status page at");
        lines.push(line);
        if announced {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    lines
}

/// Logs written to a pipe or a file carry no ANSI colour codes: a log shipper stores them
/// verbatim.
#[test]
fn logs_to_a_pipe_have_no_colour() {
    let lines = run_log_lines("ansi", &[], &[]);
    assert!(!lines.is_empty(), "sloop run wrote no log line within 60 s");
    for line in &lines {
        assert!(
            !line.contains('\u{1b}'),
            "a log line to a pipe carries an escape code: {line:?}"
        );
    }
}

/// `SLOOP_DRY_RUN=false` in the environment wins over `dryRun: true` in the config file, as
/// documented; the start line says which mode runs.
#[test]
fn environment_false_wins_over_config_true() {
    let announced = |lines: &[String]| {
        lines
            .iter()
            .find(|l| l.contains("status page at"))
            .cloned()
            .unwrap_or_else(|| panic!("no start line in {lines:?}"))
    };
    let with_file = announced(&run_log_lines("cfg-on", &["--config", "sloop.yaml"], &[]));
    assert!(with_file.contains("dry_run=true"), "{with_file}");
    let env_off = announced(&run_log_lines(
        "cfg-env-off",
        &["--config", "sloop.yaml"],
        &[("SLOOP_DRY_RUN", "false")],
    ));
    assert!(env_off.contains("dry_run=false"), "{env_off}");
}
