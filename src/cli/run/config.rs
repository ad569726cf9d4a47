//! `sloop run`'s settings: one struct that clap fills from flags and `SLOOP_*` variables and
//! serde fills from the `--config` file, merged in layers: the file, then the environment, then
//! the flags (clap puts a flag over its variable; [`RunConfig::load`] puts both over the file).
//! A setting no layer gives takes its default from the accessor that reads it.

use crate::{journal::DiskLimits, k8s::ConfigMapSource, policy::units::Duration as PolicyDuration};
use clap::ValueEnum;
use serde::Deserialize;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

/// Log output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Arguments of `sloop run`. Every flag can also be set as `SLOOP_<FLAG>` in the environment
/// or in the `--config` file (camelCase keys); flags and environment take precedence.
#[derive(Debug, Default, Clone, clap::Args, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunConfig {
    /// A YAML file with any of the settings below (keys: policies, listen, cloud, cloudsYaml, scenario,
    /// speed, skip, seed, dryRun, journal, journalMaxBytes, journalFiles, logFormat,
    /// agentTokens, viewerTokenFile, configmapPolicies, leaderElect, leaseNamespace, leaseName,
    /// k8sEvents, pollInterval, tlsListen, tlsCert, tlsKey). Relative paths in it are relative
    /// to the file. A flag or `SLOOP_*` variable wins over the file, `false` included
    /// (`--dry-run=false` turns off a `dryRun: true`).
    #[arg(long, env = "SLOOP_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// The policy directory (every *.yaml in it; subdirectories such as scenarios/ are skipped).
    /// [default: ./policies]
    #[arg(long, env = "SLOOP_POLICIES", value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// Where the status page, /metrics and the API listen. [default: 127.0.0.1:9090]
    #[arg(long, env = "SLOOP_LISTEN", value_name = "ADDR", value_parser = address)]
    #[serde(default, deserialize_with = "file_address")]
    pub listen: Option<SocketAddr>,
    /// `sim` for the built-in simulator, or a cloud name from clouds.yaml (found through
    /// OS_CLIENT_CONFIG_FILE or the usual places). [default: sim]
    #[arg(long, env = "SLOOP_CLOUD", value_name = "sim|NAME")]
    pub cloud: Option<String>,
    /// A clouds.yaml to use instead of OS_CLIENT_CONFIG_FILE and the standard search path.
    #[arg(long, env = "SLOOP_CLOUDS_YAML", value_name = "PATH")]
    pub clouds_yaml: Option<PathBuf>,
    /// The scenario the simulator plays (with --cloud sim).
    #[arg(long, env = "SLOOP_SCENARIO", value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Simulated seconds per real second (with --cloud sim): 60 plays an hour a minute. [default: 1]
    #[arg(long, env = "SLOOP_SPEED", value_name = "N")]
    pub speed: Option<f64>,
    /// Start this far into the scenario (e.g. `17h`); the part skipped is decided at full speed.
    #[arg(long, env = "SLOOP_SKIP", value_name = "DURATION")]
    pub skip: Option<PolicyDuration>,
    /// Random seed of the simulator (default: the scenario's).
    #[arg(long, env = "SLOOP_SEED")]
    pub seed: Option<u64>,
    /// Decide everything, execute nothing: every action is journalled as "would".
    /// `--dry-run=false` overrides a `dryRun: true` in --config. [default: false]
    #[arg(long, env = "SLOOP_DRY_RUN", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub dry_run: Option<bool>,
    /// The action journal's directory. [default: ./journal]
    #[arg(long, env = "SLOOP_JOURNAL", value_name = "DIR")]
    pub journal: Option<PathBuf>,
    /// Rotate the journal file at this size in bytes. [default: 10485760]
    #[arg(long, env = "SLOOP_JOURNAL_MAX_BYTES")]
    pub journal_max_bytes: Option<u64>,
    /// Rotated journal files kept. [default: 5]
    #[arg(long, env = "SLOOP_JOURNAL_FILES")]
    pub journal_files: Option<u32>,
    /// Log format. [default: text]
    #[arg(long, value_enum, env = "SLOOP_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Remote probe agents allowed to report: a tokens file of `name: sha256hex` lines (made
    /// with `sloop agent-token`). Mounts the agent endpoints and shows their freshness.
    #[arg(long, env = "SLOOP_AGENT_TOKENS", value_name = "FILE")]
    pub agent_tokens: Option<PathBuf>,
    /// Require this token (first line of FILE) for the status page, the JSON API and /metrics:
    /// `Authorization: Bearer TOKEN`, or the token as a Basic password. /healthz and /readyz
    /// stay open.
    #[arg(long, env = "SLOOP_VIEWER_TOKEN_FILE", value_name = "FILE")]
    pub viewer_token_file: Option<PathBuf>,
    /// Also serve everything (agents' ingest included) over HTTPS on this address; needs
    /// --tls-cert and --tls-key. The files are read at start: a renewed certificate needs a
    /// restart.
    #[arg(long, env = "SLOOP_TLS_LISTEN", value_name = "ADDR", value_parser = address)]
    #[serde(default, deserialize_with = "file_address")]
    pub tls_listen: Option<SocketAddr>,
    /// PEM certificate chain of the HTTPS listener (leaf first).
    #[arg(long, env = "SLOOP_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the HTTPS listener.
    #[arg(long, env = "SLOOP_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Policies from ConfigMaps labelled for sloop: `NAMESPACE` or `NAMESPACE/SELECTOR` (`*` for
    /// every namespace; default selector sloop.io/policy=true). Without --policies, the
    /// directory is then not watched.
    #[arg(long, env = "SLOOP_CONFIGMAP_POLICIES", value_name = "NS[/SELECTOR]")]
    pub configmap_policies: Option<String>,
    /// Compete for a Kubernetes Lease; only the holder acts (the others observe, judge, serve).
    /// `--leader-elect=false` overrides a `leaderElect: true` in --config. [default: false]
    #[arg(long, env = "SLOOP_LEADER_ELECT", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub leader_elect: Option<bool>,
    /// Namespace of the Lease. [default: $POD_NAMESPACE, else default]
    #[arg(long, env = "SLOOP_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// Name of the Lease. [default: sloop]
    #[arg(long, env = "SLOOP_LEASE_NAME")]
    pub lease_name: Option<String>,
    /// Publish every action and refusal as a Kubernetes Event about this pod ($POD_NAME).
    /// `--k8s-events=false` overrides a `k8sEvents: true` in --config. [default: false]
    #[arg(long, env = "SLOOP_K8S_EVENTS", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub k8s_events: Option<bool>,
    /// How often the policy directory is checked for changes. [default: 2s]
    #[arg(long, env = "SLOOP_POLL_INTERVAL", value_name = "DURATION")]
    pub poll_interval: Option<PolicyDuration>,
    /// Check the settings (flags, environment, --config) as a start would, print them and
    /// exit: 0 when they start, 2 with the reason when not. Binds nothing, reads no policy.
    #[arg(long)]
    #[serde(skip)]
    pub check_config: bool,
}

/// A listen address, or what one looks like.
fn address(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|e| format!("`{text}` is not an address such as 127.0.0.1:9090 or [::]:9090: {e}"))
}

/// A listen address in the config file, refused with the same words as the flag.
fn file_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    address(&text).map(Some).map_err(serde::de::Error::custom)
}

impl RunConfig {
    /// The settings of a start: the `--config` file (if any) under `self`, the flags and
    /// environment clap read, then checked as a whole.
    pub fn load(self) -> Result<Self, String> {
        let merged = match &self.config {
            None => self,
            Some(path) => Self::from_file(path)?.under(self),
        };
        merged.check()?;
        Ok(merged)
    }

    /// The config file's layer; its relative paths are made relative to the file.
    fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut f: Self = serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut f.policies,
            &mut f.scenario,
            &mut f.clouds_yaml,
            &mut f.journal,
            &mut f.agent_tokens,
            &mut f.viewer_token_file,
            &mut f.tls_cert,
            &mut f.tls_key,
        ] {
            if let Some(rel) = p.take() {
                *p = Some(if rel.is_absolute() { rel } else { base.join(rel) });
            }
        }
        Ok(f)
    }

    /// `top`'s settings where it has them, `self`'s where not.
    fn under(self, top: Self) -> Self {
        Self {
            config: top.config.or(self.config),
            policies: top.policies.or(self.policies),
            listen: top.listen.or(self.listen),
            cloud: top.cloud.or(self.cloud),
            clouds_yaml: top.clouds_yaml.or(self.clouds_yaml),
            scenario: top.scenario.or(self.scenario),
            speed: top.speed.or(self.speed),
            skip: top.skip.or(self.skip),
            seed: top.seed.or(self.seed),
            dry_run: top.dry_run.or(self.dry_run),
            journal: top.journal.or(self.journal),
            journal_max_bytes: top.journal_max_bytes.or(self.journal_max_bytes),
            journal_files: top.journal_files.or(self.journal_files),
            log_format: top.log_format.or(self.log_format),
            agent_tokens: top.agent_tokens.or(self.agent_tokens),
            viewer_token_file: top.viewer_token_file.or(self.viewer_token_file),
            tls_listen: top.tls_listen.or(self.tls_listen),
            tls_cert: top.tls_cert.or(self.tls_cert),
            tls_key: top.tls_key.or(self.tls_key),
            configmap_policies: top.configmap_policies.or(self.configmap_policies),
            leader_elect: top.leader_elect.or(self.leader_elect),
            lease_namespace: top.lease_namespace.or(self.lease_namespace),
            lease_name: top.lease_name.or(self.lease_name),
            k8s_events: top.k8s_events.or(self.k8s_events),
            poll_interval: top.poll_interval.or(self.poll_interval),
            check_config: top.check_config || self.check_config,
        }
    }

    /// What no single field can say about itself.
    fn check(&self) -> Result<(), String> {
        let speed = self.speed();
        if !(speed > 0.0 && speed <= 100_000.0) {
            return Err(format!("--speed: {speed} must be above 0 and at most 100000"));
        }
        self.configmap_source()?;
        self.tls()?;
        if self.cloud() == "sim" && self.scenario.is_none() {
            return Err(
                "--cloud sim needs --scenario FILE (see policies/scenarios/); give --cloud NAME for a clouds.yaml cloud".into(),
            );
        }
        Ok(())
    }

    /// Where the status page, metrics and API listen.
    pub fn listen(&self) -> SocketAddr {
        self.listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9090)))
    }

    /// `sim` or a cloud name.
    pub fn cloud(&self) -> &str {
        self.cloud.as_deref().unwrap_or("sim")
    }

    /// Simulated seconds per real second.
    pub fn speed(&self) -> f64 {
        self.speed.unwrap_or(1.0)
    }

    /// Seconds skipped at the start of the scenario.
    pub fn skip(&self) -> f64 {
        self.skip.map_or(0.0, PolicyDuration::secs)
    }

    /// Global dry run.
    pub fn dry_run(&self) -> bool {
        self.dry_run.unwrap_or(false)
    }

    /// Actions as Kubernetes Events.
    pub fn k8s_events(&self) -> bool {
        self.k8s_events.unwrap_or(false)
    }

    /// Journal directory.
    pub fn journal(&self) -> PathBuf {
        self.journal.clone().unwrap_or_else(|| "journal".into())
    }

    /// Journal rotation.
    pub fn journal_limits(&self) -> DiskLimits {
        let defaults = DiskLimits::default();
        DiskLimits {
            max_bytes: self.journal_max_bytes.unwrap_or(defaults.max_bytes),
            max_files: self.journal_files.unwrap_or(defaults.max_files),
        }
    }

    /// Log format.
    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or_default()
    }

    /// Policy directory poll interval (at least 50 ms).
    pub fn poll(&self) -> Duration {
        Duration::from_secs_f64(self.poll_interval.map_or(2.0, |d| d.secs().max(0.05)))
    }

    /// The ConfigMap policy source, if any.
    pub fn configmap_source(&self) -> Result<Option<ConfigMapSource>, String> {
        self.configmap_policies
            .as_deref()
            .map(ConfigMapSource::parse)
            .transpose()
    }

    /// The policy directory: the one given, else `./policies` unless policies come from
    /// ConfigMaps only.
    pub fn policy_dir(&self) -> Option<PathBuf> {
        match (&self.policies, &self.configmap_policies) {
            (Some(dir), _) => Some(dir.clone()),
            (None, None) => Some("policies".into()),
            (None, Some(_)) => None,
        }
    }

    /// The Lease (namespace, name) to compete for, with leader election on.
    pub fn lease(&self) -> Option<(String, String)> {
        self.leader_elect.unwrap_or(false).then(|| {
            let ns = self
                .lease_namespace
                .clone()
                .or_else(|| std::env::var("POD_NAMESPACE").ok())
                .unwrap_or_else(|| "default".into());
            (ns, self.lease_name.clone().unwrap_or_else(|| "sloop".into()))
        })
    }

    /// The HTTPS listener: address, certificate chain and key files; all three or none.
    pub fn tls(&self) -> Result<Option<(SocketAddr, PathBuf, PathBuf)>, String> {
        match (self.tls_listen, &self.tls_cert, &self.tls_key) {
            (None, None, None) => Ok(None),
            (Some(l), Some(c), Some(k)) => Ok(Some((l, c.clone(), k.clone()))),
            _ => Err("--tls-listen, --tls-cert and --tls-key go together: give all three or none".into()),
        }
    }
}
