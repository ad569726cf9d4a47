//! A controller (the real ingest router on a loopback socket, plain or TLS) and `sloop agent`
//! processes for the agent tests. Binds loopback only; every child process is killed on drop.
#![allow(dead_code)]

use sloop::{
    clock::SystemClock,
    ingest::{AgentStatus, IngestLimits, IngestState, RateLimit, Token, TokenBook, router},
    observe::store::{ProbeStore, SeriesId},
    policy::Policy,
    snapshot::{IpFamily, Sample, SeriesKey},
};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{net::TcpListener, sync::oneshot};

/// A scratch directory for one test (token files, logs), removed when dropped.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("sloop-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// A token for `agent`, written to a file in `dir`.
pub fn token(dir: &Path, agent: &str) -> (Token, PathBuf) {
    let t = Token::generate().unwrap();
    let path = dir.join(format!("{agent}.token"));
    std::fs::write(&path, format!("{}\n", t.expose())).unwrap();
    (t, path)
}

/// A loopback TCP listener that accepts and drops connections: the agents' probe target.
pub async fn tcp_target(bind: &str) -> SocketAddr {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    addr
}

/// A policy with one TCP probe of `target` every 100 ms from `local` and `fra`.
pub fn policy(target: SocketAddr) -> Policy {
    let family = if target.is_ipv4() { "v4" } else { "v6" };
    let yaml = format!(
        r#"
apiVersion: sloop/v1
kind: ServicePolicy
metadata:
  name: agent-test
spec:
  group:
    cloud: sim
    selector:
      sloop.group: agent-test
    template:
      image: debian-12-nginx
      flavor: m1.small
      networks:
        - network: public-v6
          family: v6
    size:
      min: 2
      max: 6
  traffic:
    loadBalancer: lb
    pool: pool
    listenerPort: 443
    memberPort: 80
  probes:
    - name: tcp
      tcp:
        host: "{}"
        port: {}
      interval: 100ms
      timeout: 80ms
      family: {family}
      locations: [local, fra]
  objectives:
    - name: availability
      availability:
        probe: tcp
        target: 99.5%
  scaling:
    targetUtilization: 60%
  healing:
    enabled: false
"#,
        target.ip(),
        target.port()
    );
    sloop::policy::parse("agent-test.yaml", yaml.as_bytes())
        .unwrap_or_else(|e| panic!("test policy invalid: {e:?}"))
}

/// Ingest limits for tests: batches every 200 ms, a small body limit.
pub fn limits() -> IngestLimits {
    IngestLimits {
        max_body: 64 * 1024,
        max_batch_samples: 500,
        rate: RateLimit {
            per_second: 50.0,
            burst: 100.0,
        },
        stale_after: 5.0,
        batch_interval: 0.2,
        ..IngestLimits::default()
    }
}

/// A running controller.
pub struct Controller {
    pub addr: SocketAddr,
    pub state: IngestState,
    pub store: Arc<Mutex<ProbeStore>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Controller {
    /// Serves the ingest router for `tokens` on `bind`, plain HTTP or HTTPS through `sloop run`'s
    /// TLS listener with `tls`.
    pub async fn start(
        bind: SocketAddr,
        tokens: TokenBook,
        policy: &Policy,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        assert!(bind.ip().is_loopback(), "tests bind loopback only");
        let state = IngestState::new(tokens, Arc::new(SystemClock), limits());
        let store = Arc::new(Mutex::new(ProbeStore::for_policy(policy)));
        state.publish(policy, &[], store.clone());
        let listener = TcpListener::bind(bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(state.clone());
        let task = match tls {
            None => tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            }),
            Some(config) => tokio::spawn(async move {
                let listener = sloop::serve::tls::TlsListener::new(listener, config).unwrap();
                sloop::serve::serve_tls(listener, app, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            }),
        };
        Self {
            addr,
            state,
            store,
            stop: Some(stop),
            task,
        }
    }

    /// Stops serving and closes every connection.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        self.task.abort();
    }

    /// `http://addr` or `https://localhost:port`.
    pub fn url(&self, tls: bool) -> String {
        if tls {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// Samples stored for `location`'s service series of probe `tcp`.
    pub fn samples(&self, location: &str, family: IpFamily) -> Vec<Sample> {
        let id = SeriesId::Service(SeriesKey {
            probe: "tcp".into(),
            location: location.into(),
            family,
        });
        let store = self.store.lock().unwrap();
        store
            .get(&id)
            .map(|s| s.last(usize::MAX).collect())
            .unwrap_or_default()
    }

    /// The controller's view of `agent`.
    pub fn agent(&self, agent: &str) -> AgentStatus {
        self.state.agents().into_iter().find(|a| a.name == agent).unwrap()
    }
}

/// A private CA and a `localhost` certificate it signed, written as PEM files into `dir`
/// (`ca.pem`, `cert.pem`, `key.pem`): (CA PEM, the controller's HTTPS configuration read from
/// the files by `sloop run`'s own loader).
pub fn private_ca(dir: &Path) -> (String, Arc<rustls::ServerConfig>) {
    let (ca_pem, cert_pem, key_pem) = pki("sloop test CA");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    let config = sloop::serve::tls::server_config(&cert, &key).unwrap();
    (ca_pem, config)
}

/// A CA named `name` and a `localhost` certificate it signed: (CA PEM, leaf PEM, leaf key PEM).
pub fn pki(name: &str) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, name);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// A `sloop agent` process; killed on drop. Its log goes to a file shown on failures.
pub struct Agent {
    child: Child,
    pub log: PathBuf,
}

impl Agent {
    pub fn spawn(dir: &Path, controller: &str, location: &str, token_file: &Path, extra: &[&str]) -> Self {
        let log = dir.join(format!("{location}-agent.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_sloop"))
            .args([
                "agent",
                "--controller",
                controller,
                "--location",
                location,
                "--no-icmp",
            ])
            .arg("--token-file")
            .arg(token_file)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the sloop binary runs");
        Self { child, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `cond` every 50 ms for up to `secs`; on timeout fails with `what` and the agent log.
pub async fn wait_for(what: &str, secs: u64, agent: &Agent, mut cond: impl FnMut() -> bool) {
    let watch = sloop::clock::Stopwatch::start();
    loop {
        if cond() {
            return;
        }
        if watch.elapsed() > Duration::from_secs(secs) {
            panic!("timed out waiting for {what}; agent log:\n{}", agent.log_text());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
