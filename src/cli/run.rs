//! `sloop run`: settings from flags, `SLOOP_*` environment variables and an optional config
//! file (flags and environment win; [`config`]), structured logs, the controller and its HTTP
//! server, and graceful shutdown on SIGTERM/SIGINT.

mod config;

pub use config::{LogFormat, RunConfig};

use crate::{
    ingest::{Token, TokenBook},
    journal::Sinks,
    journal::{Journal, RING_ENTRIES},
    run::{
        CloudFactory, Controller, Leadership, Options, SimFactory, cloud::OpenStackFactory, status::SimInfo,
    },
    serve,
    sim::load_scenario,
};
use std::{path::PathBuf, process::ExitCode, sync::Arc};

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
pub fn run(args: RunConfig) -> ExitCode {
    let config = match args.load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if config.check_config {
        // What the chart's check and an operator's dry start need: the settings as resolved.
        outln!(
            "sloop run: settings start: cloud {}, listen {}, policies {}, dry run {}, leader election {}, events {}",
            config.cloud(),
            config.listen(),
            config
                .policy_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "from ConfigMaps".into()),
            config.dry_run(),
            config.lease().is_some(),
            config.k8s_events(),
        );
        return ExitCode::SUCCESS;
    }
    init_logs(config.log_format());
    super::block_on("error", main(config))
}

async fn main(s: RunConfig) -> Result<(), String> {
    if let Some(dir) = s.policy_dir().filter(|d| !d.is_dir()) {
        return Err(format!("{}: the policy directory does not exist", dir.display()));
    }
    if s.cloud() != "sim" {
        // A real OpenStack cloud from clouds.yaml (--clouds-yaml, OS_CLIENT_CONFIG_FILE or the
        // usual places).
        let factory = Arc::new(OpenStackFactory {
            cloud: s.cloud().to_owned(),
            clouds_yaml: s
                .clouds_yaml
                .clone()
                .or_else(|| std::env::var_os("OS_CLIENT_CONFIG_FILE").map(PathBuf::from)),
            policy_dir: s.policy_dir().unwrap_or_else(|| ".".into()),
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
        speed: s.speed(),
        start: scenario.start_unix(),
        end: scenario.end_unix(),
    };
    let seed = s.seed.unwrap_or(scenario.seed);
    let factory = Arc::new(SimFactory::new(scenario, seed, s.speed(), s.skip()));
    serve_with(factory, &s, Some(sim)).await
}

/// Starts the controller and the server for any cloud, and waits for a signal.
async fn serve_with<F: CloudFactory>(
    factory: Arc<F>,
    s: &RunConfig,
    sim: Option<SimInfo>,
) -> Result<(), String> {
    let listen = s.listen();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("--listen {listen}: {e}"))?;
    // The address bound, which differs from `--listen` for port 0 (the kernel's pick: how
    // tests run a controller without racing for a port).
    let bound = listener
        .local_addr()
        .map_err(|e| format!("--listen {listen}: {e}"))?;
    let tls = match s.tls()? {
        None => None,
        Some((addr, cert, key)) => {
            let config = serve::tls::server_config(&cert, &key)?;
            let tcp = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("--tls-listen {addr}: {e}"))?;
            tracing::info!(listen = %addr, "sloop run: HTTPS listener (agents' ingest, status, metrics).");
            Some(serve::tls::TlsListener::new(tcp, config).map_err(|e| format!("--tls-listen {addr}: {e}"))?)
        }
    };
    let (journal, journal_error) =
        Journal::on_disk_or_retrying(&s.journal(), s.journal_limits(), RING_ENTRIES);
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
            dry_run: s.dry_run(),
            sim,
            agents,
            leadership: kube.leadership,
            sinks: kube.sinks,
            tick_log: None,
            world_log: None,
            ingest_limits: Default::default(),
        },
    );
    if let Some(dir) = s.policy_dir() {
        controller.watch_dir(dir, s.poll());
    }
    if let (Some(client), Some(source)) = (kube.client, s.configmap_source()?) {
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
        policies = %s.policy_dir().map(|p| p.display().to_string()).unwrap_or_else(|| "configmaps".into()),
        dry_run = s.dry_run(),
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
    async fn connect(s: &RunConfig) -> Result<Kube, String> {
        let wanted = s.lease().is_some() || s.k8s_events() || s.configmap_policies.is_some();
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
        let leadership = match s.lease() {
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
        if s.k8s_events() {
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
