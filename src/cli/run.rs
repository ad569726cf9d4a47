//! `sloop run`: settings from flags, `SLOOP_*` environment variables and an optional config
//! file (flags and environment win), structured logs, the controller and its HTTP server, and
//! graceful shutdown on SIGTERM/SIGINT.

use crate::{
    ingest::{Token, TokenBook},
    journal::Sinks,
    journal::{DiskLimits, Journal, RING_ENTRIES},
    policy::units::Duration as PolicyDuration,
    run::{
        CloudFactory, Controller, Leadership, Options, SimFactory, cloud::OpenStackFactory, status::SimInfo,
    },
    serve,
    sim::load_scenario,
};
use clap::ValueEnum;
use serde::Deserialize;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
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
#[derive(Debug, Default, clap::Args)]
pub struct RunArgs {
    /// A YAML file with any of the settings below (keys: policies, listen, cloud, cloudsYaml, scenario,
    /// speed, skip, seed, dryRun, journal, journalMaxBytes, journalFiles, logFormat,
    /// agentTokens, viewerTokenFile, configmapPolicies, leaderElect, leaseNamespace, leaseName,
    /// k8sEvents, pollInterval, tlsListen, tlsCert, tlsKey). Relative paths in it are relative
    /// to the file. A flag or `SLOOP_*` variable wins over the file, `false` included
    /// (`--dry-run=false` turns off a `dryRun: true`).
    #[arg(long, env = "SLOOP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The policy directory (every *.yaml in it; subdirectories such as scenarios/ are skipped).
    /// [default: ./policies]
    #[arg(long, env = "SLOOP_POLICIES", value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// Where the status page, /metrics and the API listen. [default: 127.0.0.1:9090]
    #[arg(long, env = "SLOOP_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
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
    pub skip: Option<String>,
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
    #[arg(long, env = "SLOOP_TLS_LISTEN", value_name = "ADDR")]
    pub tls_listen: Option<String>,
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
    pub poll_interval: Option<String>,
    /// Check the settings (flags, environment, --config) as a start would, print them and
    /// exit: 0 when they start, 2 with the reason when not. Binds nothing, reads no policy.
    #[arg(long)]
    pub check_config: bool,
}

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileConfig {
    policies: Option<PathBuf>,
    listen: Option<String>,
    cloud: Option<String>,
    clouds_yaml: Option<PathBuf>,
    scenario: Option<PathBuf>,
    speed: Option<f64>,
    skip: Option<String>,
    seed: Option<u64>,
    dry_run: Option<bool>,
    journal: Option<PathBuf>,
    journal_max_bytes: Option<u64>,
    journal_files: Option<u32>,
    log_format: Option<LogFormat>,
    agent_tokens: Option<PathBuf>,
    viewer_token_file: Option<PathBuf>,
    tls_listen: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    configmap_policies: Option<String>,
    leader_elect: Option<bool>,
    lease_namespace: Option<String>,
    lease_name: Option<String>,
    k8s_events: Option<bool>,
    poll_interval: Option<String>,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Policy directory (none when policies come from ConfigMaps only).
    pub policies: Option<PathBuf>,
    /// ConfigMap policy source.
    pub configmap_policies: Option<crate::k8s::ConfigMapSource>,
    /// Lease (namespace, name) to compete for.
    pub lease: Option<(String, String)>,
    /// Actions as Kubernetes Events.
    pub k8s_events: bool,
    /// Listen address.
    pub listen: SocketAddr,
    /// `sim` or a cloud name.
    pub cloud: String,
    /// The clouds.yaml to read the cloud from (else OS_CLIENT_CONFIG_FILE or the usual places).
    pub clouds_yaml: Option<PathBuf>,
    /// Scenario file.
    pub scenario: Option<PathBuf>,
    /// Simulated seconds per real second.
    pub speed: f64,
    /// Seconds skipped at the start of the scenario.
    pub skip: f64,
    /// Simulator seed.
    pub seed: Option<u64>,
    /// Global dry run.
    pub dry_run: bool,
    /// Journal directory.
    pub journal: PathBuf,
    /// Journal rotation.
    pub journal_limits: DiskLimits,
    /// Log format.
    pub log_format: LogFormat,
    /// Policy directory poll interval.
    pub poll: Duration,
    /// Remote agents' tokens file.
    pub agent_tokens: Option<PathBuf>,
    /// The viewer token's file.
    pub viewer_token_file: Option<PathBuf>,
    /// HTTPS listener: address, certificate chain and key files.
    pub tls: Option<(SocketAddr, PathBuf, PathBuf)>,
}

/// The HTTPS listener's settings: all three or none.
fn tls_settings(
    listen: Option<String>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Result<Option<(SocketAddr, PathBuf, PathBuf)>, String> {
    match (listen, cert, key) {
        (None, None, None) => Ok(None),
        (Some(l), Some(c), Some(k)) => {
            let addr = l.parse().map_err(|e| {
                format!("--tls-listen: `{l}` is not an address such as 0.0.0.0:9443 or [::]:9443: {e}")
            })?;
            Ok(Some((addr, c, k)))
        }
        _ => Err("--tls-listen, --tls-cert and --tls-key go together: give all three or none".into()),
    }
}

fn duration(field: &str, s: &str) -> Result<f64, String> {
    s.parse::<PolicyDuration>()
        .map(|d| d.secs())
        .map_err(|e| format!("{field}: `{s}` is not a duration such as 30s, 5m or 17h: {e}"))
}

impl RunArgs {
    /// Merges flags, environment, config file and defaults.
    pub fn resolve(self) -> Result<Settings, String> {
        let file = match &self.config {
            None => FileConfig::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let mut f: FileConfig =
                    serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let base = path.parent().unwrap_or(Path::new("."));
                let rel = |p: Option<PathBuf>| p.map(|p| if p.is_absolute() { p } else { base.join(p) });
                f.policies = rel(f.policies);
                f.scenario = rel(f.scenario);
                f.clouds_yaml = rel(f.clouds_yaml);
                f.journal = rel(f.journal);
                f.agent_tokens = rel(f.agent_tokens);
                f.viewer_token_file = rel(f.viewer_token_file);
                f.tls_cert = rel(f.tls_cert);
                f.tls_key = rel(f.tls_key);
                f
            }
        };
        let listen_text = self
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:9090".into());
        let listen = listen_text.parse().map_err(|e| {
            format!("--listen: `{listen_text}` is not an address such as 127.0.0.1:9090 or [::]:9090: {e}")
        })?;
        let speed = self.speed.or(file.speed).unwrap_or(1.0);
        if !(speed > 0.0 && speed <= 100_000.0) {
            return Err(format!("--speed: {speed} must be above 0 and at most 100000"));
        }
        let skip = match self.skip.or(file.skip) {
            Some(s) => duration("--skip", &s)?,
            None => 0.0,
        };
        let poll = match self.poll_interval.or(file.poll_interval) {
            Some(s) => duration("--poll-interval", &s)?.max(0.05),
            None => 2.0,
        };
        let defaults = DiskLimits::default();
        let configmap_policies = self
            .configmap_policies
            .or(file.configmap_policies)
            .map(|c| crate::k8s::ConfigMapSource::parse(&c))
            .transpose()?;
        let policies = match (self.policies.or(file.policies), &configmap_policies) {
            (Some(dir), _) => Some(dir),
            (None, None) => Some("policies".into()),
            (None, Some(_)) => None,
        };
        let lease = self.leader_elect.or(file.leader_elect).unwrap_or(false).then(|| {
            let ns = self
                .lease_namespace
                .or(file.lease_namespace)
                .or_else(|| std::env::var("POD_NAMESPACE").ok())
                .unwrap_or_else(|| "default".into());
            (
                ns,
                self.lease_name
                    .or(file.lease_name)
                    .unwrap_or_else(|| "sloop".into()),
            )
        });
        let cloud = self.cloud.or(file.cloud).unwrap_or_else(|| "sim".into());
        let scenario = self.scenario.or(file.scenario);
        if cloud == "sim" && scenario.is_none() {
            return Err(
                "--cloud sim needs --scenario FILE (see policies/scenarios/); give --cloud NAME for a clouds.yaml cloud".into(),
            );
        }
        Ok(Settings {
            policies,
            configmap_policies,
            lease,
            k8s_events: self.k8s_events.or(file.k8s_events).unwrap_or(false),
            listen,
            cloud,
            clouds_yaml: self.clouds_yaml.or(file.clouds_yaml),
            scenario,
            speed,
            skip,
            seed: self.seed.or(file.seed),
            dry_run: self.dry_run.or(file.dry_run).unwrap_or(false),
            journal: self.journal.or(file.journal).unwrap_or_else(|| "journal".into()),
            journal_limits: DiskLimits {
                max_bytes: self
                    .journal_max_bytes
                    .or(file.journal_max_bytes)
                    .unwrap_or(defaults.max_bytes),
                max_files: self
                    .journal_files
                    .or(file.journal_files)
                    .unwrap_or(defaults.max_files),
            },
            log_format: self.log_format.or(file.log_format).unwrap_or_default(),
            poll: Duration::from_secs_f64(poll),
            agent_tokens: self.agent_tokens.or(file.agent_tokens),
            viewer_token_file: self.viewer_token_file.or(file.viewer_token_file),
            tls: tls_settings(
                self.tls_listen.or(file.tls_listen),
                self.tls_cert.or(file.tls_cert),
                self.tls_key.or(file.tls_key),
            )?,
        })
    }
}

fn init_logs(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(super::stderr_is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Runs `sloop run`.
pub fn run(args: RunArgs) -> ExitCode {
    let check_only = args.check_config;
    let settings = match args.resolve() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if check_only {
        // What the chart's check and an operator's dry start need: the settings as resolved.
        outln!(
            "sloop run: settings start: cloud {}, listen {}, policies {}, dry run {}, leader election {}, events {}",
            settings.cloud,
            settings.listen,
            settings
                .policies
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "from ConfigMaps".into()),
            settings.dry_run,
            settings.lease.is_some(),
            settings.k8s_events,
        );
        return ExitCode::SUCCESS;
    }
    init_logs(settings.log_format);
    super::block_on("error", main(settings))
}

async fn main(s: Settings) -> Result<(), String> {
    if let Some(dir) = s.policies.as_ref().filter(|d| !d.is_dir()) {
        return Err(format!("{}: the policy directory does not exist", dir.display()));
    }
    if s.cloud != "sim" {
        // A real OpenStack cloud from clouds.yaml (--clouds-yaml, OS_CLIENT_CONFIG_FILE or the
        // usual places).
        let factory = Arc::new(OpenStackFactory {
            cloud: s.cloud.clone(),
            clouds_yaml: s
                .clouds_yaml
                .clone()
                .or_else(|| std::env::var_os("OS_CLIENT_CONFIG_FILE").map(PathBuf::from)),
            policy_dir: s.policies.clone().unwrap_or_else(|| ".".into()),
        });
        return serve_with(factory, &s, None).await;
    }
    let Some(path) = &s.scenario else {
        return Err("--cloud sim needs --scenario FILE (see policies/scenarios/)".into());
    };
    let scenario = load_scenario(path).map_err(|errors| {
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let sim = SimInfo {
        scenario: scenario.name.clone(),
        speed: s.speed,
        start: scenario.start_unix(),
        end: scenario.end_unix(),
    };
    let seed = s.seed.unwrap_or(scenario.seed);
    let factory = Arc::new(SimFactory::new(scenario, seed, s.speed, s.skip));
    serve_with(factory, &s, Some(sim)).await
}

/// Starts the controller and the server for any cloud, and waits for a signal.
async fn serve_with<F: CloudFactory>(
    factory: Arc<F>,
    s: &Settings,
    sim: Option<SimInfo>,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(s.listen)
        .await
        .map_err(|e| format!("--listen {}: {e}", s.listen))?;
    // The address bound, which differs from `--listen` for port 0 (the kernel's pick: how
    // tests run a controller without racing for a port).
    let bound = listener
        .local_addr()
        .map_err(|e| format!("--listen {}: {e}", s.listen))?;
    let tls = match &s.tls {
        None => None,
        Some((addr, cert, key)) => {
            let config = serve::tls::server_config(cert, key)?;
            let tcp = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("--tls-listen {addr}: {e}"))?;
            tracing::info!(listen = %addr, "sloop run: HTTPS listener (agents' ingest, status, metrics).");
            Some(serve::tls::TlsListener::new(tcp, config).map_err(|e| format!("--tls-listen {addr}: {e}"))?)
        }
    };
    let (journal, journal_error) = Journal::on_disk_or_retrying(&s.journal, s.journal_limits, RING_ENTRIES);
    if let Some(e) = journal_error {
        tracing::error!(error = %e, "The action journal cannot be written; no action is executed until it can (see /readyz).");
    }
    let agents = match &s.agent_tokens {
        None => None,
        Some(path) => Some(TokenBook::load(path).map_err(|e| format!("--agent-tokens: {e}"))?),
    };
    let viewer = match &s.viewer_token_file {
        None => None,
        Some(path) => Some(serve::viewer::Viewer::new(
            &Token::read_file(path).map_err(|e| format!("--viewer-token-file: {e}"))?,
        )),
    };
    let kube = Kube::connect(s).await?;
    let controller = Controller::start(
        factory.clone(),
        Options {
            journal: Arc::new(journal),
            dry_run: s.dry_run,
            sim,
            agents,
            leadership: kube.leadership,
            sinks: kube.sinks,
            tick_log: None,
            world_log: None,
            ingest_limits: Default::default(),
        },
    );
    if let Some(dir) = &s.policies {
        controller.watch_dir(dir.clone(), s.poll);
    }
    if let (Some(client), Some(source)) = (kube.client, s.configmap_policies.clone()) {
        crate::k8s::watch_configmaps(client, source, controller.events());
    }
    let app = controller.app_state();
    let conn_metrics = app.metrics.conn.clone();
    let router = serve::router_for(app, viewer);
    let limits = serve::conn::ServeLimits::default();
    let tls_server = tls
        .map(|listener| serve::Running::https_with(listener, router.clone(), limits, conn_metrics.clone()));
    let server = serve::Running::http_with(listener, router, limits, conn_metrics);
    tracing::info!(
        listen = %bound,
        cloud = %factory.label(),
        policies = %s.policies.as_deref().map(|p| p.display().to_string()).unwrap_or_else(|| "configmaps".into()),
        dry_run = s.dry_run,
        "sloop run: status page at http://{bound}/ (metrics at /metrics)."
    );
    shutdown_signal().await;
    controller.stop().await;
    let tls_stopped = match tls_server {
        Some(t) => t.stop().await,
        None => Ok(()),
    };
    server.stop().await.and(tls_stopped)
}

/// The Kubernetes parts `sloop run` was asked for.
struct Kube {
    client: Option<kube::Client>,
    leadership: Leadership,
    sinks: Sinks,
}

impl Kube {
    async fn connect(s: &Settings) -> Result<Kube, String> {
        let wanted = s.lease.is_some() || s.k8s_events || s.configmap_policies.is_some();
        if !wanted {
            return Ok(Kube {
                client: None,
                leadership: Leadership::always(),
                sinks: Sinks::default(),
            });
        }
        let client = crate::k8s::client()
            .await
            .map_err(|e| format!("Kubernetes: no usable in-cluster service account or kubeconfig: {e}"))?;
        let pod = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| format!("sloop-{}", std::process::id()));
        let leadership = match &s.lease {
            None => Leadership::always(),
            Some((ns, name)) => {
                let config = crate::k8s::LeaseConfig::new(ns.clone(), name.clone(), pod.clone());
                let elector =
                    crate::k8s::elect(client.clone(), config).map_err(|e| format!("--leader-elect: {e}"))?;
                tracing::info!(lease = %format!("{ns}/{name}"), identity = %pod, "Competing for the Lease.");
                crate::run::k8s::leadership(elector)
            }
        };
        let mut sinks = Sinks::default();
        if s.k8s_events {
            let ns = std::env::var("POD_NAMESPACE").unwrap_or_else(|_| "default".into());
            let config = crate::k8s::EventSinkConfig::for_pod(ns, pod);
            let (sink, _task) = crate::k8s::EventSink::spawn(client.clone(), config);
            sinks = sinks.with(Arc::new(crate::run::k8s::EventsSink(sink)));
        }
        Ok(Kube {
            client: Some(client),
            leadership,
            sinks,
        })
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received."),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received."),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "Cannot listen for SIGTERM; stopping on SIGINT only.");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests;
