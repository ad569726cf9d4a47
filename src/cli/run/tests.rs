//! Settings precedence: flags (and `SLOOP_*` variables, which clap reads into the same
//! fields) win over the `--config` file, a `false` included; the help names every file key;
//! unknown keys are errors naming the file and the key.

use super::RunConfig;
use clap::{Args, Command, FromArgMatches};

fn parse(args: &[&str]) -> RunConfig {
    let cmd = RunConfig::augment_args(Command::new("run"));
    let matches = cmd
        .try_get_matches_from(std::iter::once("run").chain(args.iter().copied()))
        .expect("the arguments parse");
    RunConfig::from_arg_matches(&matches).expect("the arguments convert")
}

/// A config file in a fresh temporary directory, removed with the guard.
struct ConfigFile(std::path::PathBuf);

impl ConfigFile {
    fn new(name: &str, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sloop-run-config-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("sloop.yaml");
        std::fs::write(&path, text).expect("write config");
        Self(path)
    }
    fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

const ALL_ON: &str = "cloud: prod\ndryRun: true\nleaderElect: true\nk8sEvents: true\n";

#[test]
fn a_true_in_the_config_file_applies_without_flags() {
    let file = ConfigFile::new("on", ALL_ON);
    let s = parse(&["--config", &file.arg()]).load().expect("settings");
    assert!(s.dry_run());
    assert!(s.lease().is_some());
    assert!(s.k8s_events());
}

#[test]
fn flags_set_to_false_win_over_a_true_in_the_config_file() {
    let file = ConfigFile::new("off", ALL_ON);
    let s = parse(&[
        "--config",
        &file.arg(),
        "--dry-run=false",
        "--leader-elect=false",
        "--k8s-events=no",
    ])
    .load()
    .expect("settings");
    assert!(!s.dry_run(), "--dry-run=false must win over dryRun: true");
    assert!(
        s.lease().is_none(),
        "--leader-elect=false must win over leaderElect: true"
    );
    assert!(!s.k8s_events(), "--k8s-events=no must win over k8sEvents: true");
}

#[test]
fn a_bare_flag_still_turns_a_setting_on() {
    let file = ConfigFile::new("bare", "cloud: prod\ndryRun: false\n");
    let s = parse(&[
        "--config",
        &file.arg(),
        "--dry-run",
        "--leader-elect",
        "--k8s-events",
    ])
    .load()
    .expect("settings");
    assert!(s.dry_run() && s.lease().is_some() && s.k8s_events());
    let s = parse(&["--cloud", "prod"]).load().expect("settings");
    assert!(
        !s.dry_run() && s.lease().is_none() && !s.k8s_events(),
        "all three are off by default"
    );
}

#[test]
fn config_help_lists_every_key_the_file_accepts() {
    // serde names every accepted key when it refuses an unknown one.
    let err = serde_saphyr::from_str::<super::RunConfig>("notAKey: 1\n")
        .expect_err("an unknown key is refused")
        .to_string();
    let expected = err.split("expected one of").nth(1).expect("serde lists the keys");
    let keys: Vec<&str> = expected
        .lines()
        .next()
        .unwrap_or_default()
        .split(',')
        .map(|k| k.trim().trim_matches('`'))
        .filter(|k| !k.is_empty())
        .collect();
    assert!(keys.len() >= 20, "keys parsed from `{err}`: {keys:?}");
    let cmd = RunConfig::augment_args(Command::new("run"));
    let help = cmd
        .get_arguments()
        .find(|a| a.get_id() == "config")
        .and_then(|a| a.get_long_help().or(a.get_help()))
        .expect("--config has help")
        .to_string();
    let words: Vec<&str> = help
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let missing: Vec<&&str> = keys.iter().filter(|k| !words.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "--config help does not name {missing:?}: {help}"
    );
}

#[test]
fn the_simulator_without_a_scenario_does_not_start() {
    // The chart's default once rendered `sloop run` without --cloud: a crash loop.
    let err = parse(&[]).load().expect_err("sim without a scenario");
    assert!(err.contains("--scenario"), "{err}");
    let ok = parse(&["--cloud", "sim", "--scenario", "night.yaml"]).load();
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn an_unknown_key_in_the_config_file_is_an_error_naming_the_file_and_the_key() {
    let file = ConfigFile::new("unknown", "cloud: prod\ndryRn: true\n");
    let err = parse(&["--config", &file.arg()])
        .load()
        .expect_err("an unknown key");
    assert!(err.contains(&file.arg()), "names the file: {err}");
    assert!(err.contains("dryRn"), "names the key: {err}");
}

#[test]
fn flag_only_settings_are_not_file_keys() {
    for key in ["config: other.yaml", "checkConfig: true"] {
        let file = ConfigFile::new("flag-only", &format!("cloud: prod\n{key}\n"));
        let err = parse(&["--config", &file.arg()]).load().expect_err(key);
        assert!(err.contains("unknown field"), "{key}: {err}");
    }
}

#[test]
fn the_file_gives_what_flags_do_not_and_its_paths_are_relative_to_it() {
    let file = ConfigFile::new(
        "layers",
        "cloud: prod\nlisten: 127.0.0.1:9999\njournal: j\npollInterval: 5s\nskip: 1h\n",
    );
    let s = parse(&["--config", &file.arg(), "--listen", "[::1]:9091"])
        .load()
        .expect("settings");
    assert_eq!(s.listen().to_string(), "[::1]:9091", "the flag wins");
    assert_eq!(s.cloud(), "prod");
    let dir = file.0.parent().expect("dir");
    assert_eq!(s.journal(), dir.join("j"));
    assert_eq!(s.poll(), std::time::Duration::from_secs(5));
    assert_eq!(s.skip(), 3600.0);
    let defaults = parse(&["--cloud", "prod"]).load().expect("settings");
    assert_eq!(defaults.listen().to_string(), "127.0.0.1:9090");
    assert_eq!(defaults.journal(), std::path::PathBuf::from("journal"));
    assert_eq!(defaults.poll(), std::time::Duration::from_secs(2));
}

#[test]
fn a_bad_address_or_duration_is_refused_with_the_form_to_write() {
    let cmd = RunConfig::augment_args(Command::new("run"));
    let err = cmd
        .try_get_matches_from(["run", "--listen", "nowhere"])
        .expect_err("not an address")
        .to_string();
    assert!(err.contains("127.0.0.1:9090"), "{err}");
    let file = ConfigFile::new("bad-duration", "cloud: prod\npollInterval: 5 sec\n");
    let err = parse(&["--config", &file.arg()])
        .load()
        .expect_err("not a duration");
    assert!(err.contains(&file.arg()) && err.contains("5s"), "{err}");
    let file = ConfigFile::new("bad-address", "cloud: prod\nlisten: nowhere\n");
    let err = parse(&["--config", &file.arg()])
        .load()
        .expect_err("not an address");
    assert!(
        err.contains(&file.arg()) && err.contains("127.0.0.1:9090"),
        "{err}"
    );
}
