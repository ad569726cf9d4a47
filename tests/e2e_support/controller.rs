//! `sloop run --cloud oslab-admin-appcred` (or another lab cloud) as a child process the crash tests kill with SIGKILL,
//! and the seeded dice that choose when.

#![allow(dead_code)]

use super::lab;
use std::{
    ffi::OsString,
    path::PathBuf,
    process::{Child, Command, Stdio},
};

/// The real binary, restarted after every kill with the same flags, policy directory and
/// journal (its log appended to `dir/sloop.log`).
pub struct Controller {
    pub dir: PathBuf,
    child: Option<Child>,
    pub starts: u32,
    listen: String,
    extra: Vec<OsString>,
    /// `--cloud`: the clouds.yaml entry it acts through.
    cloud: String,
}

impl Controller {
    /// A controller for the policies in `dir/policies`, journalling to `dir/journal`,
    /// listening on `listen`, with `extra` flags.
    pub fn new(dir: PathBuf, listen: &str, extra: Vec<OsString>) -> Self {
        Self {
            dir,
            child: None,
            starts: 0,
            listen: listen.to_owned(),
            extra,
            cloud: "oslab-admin-appcred".to_owned(),
        }
    }

    /// Acts through clouds.yaml entry `cloud` instead of `oslab-admin-appcred`.
    pub fn cloud(mut self, cloud: &str) -> Self {
        self.cloud = cloud.to_owned();
        self
    }

    /// The journal directory (outlives every run).
    pub fn journal(&self) -> PathBuf {
        self.dir.join("journal")
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("sloop.log"))
            .expect("controller log");
        let err = log.try_clone().expect("log handle");
        let child = Command::new(env!("CARGO_BIN_EXE_sloop"))
            .arg("run")
            .args(["--cloud", &self.cloud])
            .arg("--policies")
            .arg(self.dir.join("policies"))
            .args(["--listen", &self.listen])
            .arg("--journal")
            .arg(self.journal())
            .args(&self.extra)
            .env("OS_CLIENT_CONFIG_FILE", lab::clouds_yaml())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("start sloop run");
        self.child = Some(child);
        self.starts += 1;
    }

    /// SIGKILL: no chance to finish anything or write anything down.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A controller's working directory, staged: `dir/policies` holding a copy of the lab policy
/// `policy` (tests/data/e2e) and its boot script, agent tokens written to `dir/agents.tokens`
/// for the locations of `agents`, and a free loopback address to listen on.
pub struct Staged {
    pub dir: PathBuf,
    pub policy_file: PathBuf,
    pub tokens_file: PathBuf,
    pub listen: String,
}

impl Staged {
    /// Stages `policy` in a fresh `$TMP/<prefix>-<pid>`; `write_tokens` writes the agents'
    /// tokens file and returns what the agents present.
    pub fn new<T>(prefix: &str, policy: &str, write_tokens: impl FnOnce(&std::path::Path) -> T) -> (Self, T) {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let policies = dir.join("policies");
        std::fs::create_dir_all(&policies).expect("policy dir");
        let src = lab::policy_path().with_file_name(policy);
        let policy_file = policies.join(policy);
        std::fs::copy(&src, &policy_file).expect("copy policy");
        std::fs::copy(src.with_file_name("boot.sh"), policies.join("boot.sh")).expect("boot.sh");
        let tokens_file = dir.join("agents.tokens");
        let tokens = write_tokens(&tokens_file);
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let listen = format!("127.0.0.1:{}", l.local_addr().expect("local address").port());
        let staged = Self {
            dir,
            policy_file,
            tokens_file,
            listen,
        };
        (staged, tokens)
    }

    /// The controller of this directory, with the agents' tokens.
    pub fn controller(&self) -> Controller {
        Controller::new(
            self.dir.clone(),
            &self.listen,
            vec!["--agent-tokens".into(), self.tokens_file.clone().into()],
        )
    }
}

/// A small seeded generator (xorshift), so a failing run can be repeated with its seed.
pub struct Dice(pub u64);

impl Dice {
    pub fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
