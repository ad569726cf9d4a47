//! The whole lab rig of tests/e2e_bodies.rs: a load balancer on a lab-net VIP (HAProxy), the
//! controller (`sloop run --cloud`, HTTPS ingest on the bridge), two agents in their own
//! namespaces, steady traffic to the VIP, and the policy's group of servers with bodies. Every
//! part is a guard: a failing test still removes servers, members, load balancer, namespaces
//! and processes.

#![allow(dead_code)]

use super::{bodies, controller::Controller, lab};
use serde_json::Value;
use sloop::{
    cloud::openstack::session::{Api, Request, Service},
    journal::{self, JournalEntry},
    policy,
};
use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// Wall-clock seconds since the epoch (the journal's time base).
pub fn now() -> f64 {
    lab::clock().now()
}

/// Requests sent to the VIP by the steady traffic, and how many failed.
#[derive(Default)]
pub struct Traffic {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
}

pub struct Rig {
    pub dir: PathBuf,
    pub lb: Option<bodies::Balancer>,
    pub places: bodies::Places,
    pub ctl: Controller,
    pub api: Api,
    pub policy: policy::Policy,
    pub traffic: Arc<Traffic>,
    /// The network of its servers, VIP and places.
    pub net: bodies::Net,
    stop: Arc<std::sync::atomic::AtomicBool>,
    hosts: bodies::HostsEntry,
    port: u16,
}

impl Rig {
    /// Sets everything up from policy `file` (tests/data/e2e), size rewritten to `min`..`max`
    /// and `edit` applied to its text; the controller listens on `port` (HTTP, loopback) and
    /// `port + 1` (HTTPS, bridge). Waits until the group is ACTIVE, admitted and serving.
    pub async fn start(name: &str, file: &str, port: u16, edit: impl Fn(String) -> String) -> Self {
        Self::start_on(bodies::Net::Dual, name, file, port, edit).await
    }

    /// `start` on network `net`: the policy `file` must put its servers there; the VIP, the
    /// agents' places and the controller's ingest are in `net` too.
    pub async fn start_on(
        net: bodies::Net,
        name: &str,
        file: &str,
        port: u16,
        edit: impl Fn(String) -> String,
    ) -> Self {
        assert!(
            bodies::bodies_running(),
            "the lab's bodies are not running: tests/lab/up.sh bodies"
        );
        let dir = std::env::temp_dir().join(format!("sloop-e2e-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("policies")).expect("scratch dir");
        let mut api = lab::api("oslab-admin-demo").await;
        let src = lab::policy_path().with_file_name(file);
        let text = std::fs::read_to_string(&src).expect("policy template");
        let pol = policy::load_file(&src).expect("policy").policy;
        lab::clean(&mut api, &pol, None).await;
        let t = pol.spec.traffic.as_ref().expect("traffic");
        let lb = bodies::Balancer::create(net, &t.load_balancer, &t.pool, t.listener_port).await;
        let hosts = bodies::HostsEntry::add(net.service_name(), &[&lb.vip4, &lb.vip6]);
        let text = edit(text);
        std::fs::write(dir.join("policies/bodies.yaml"), text).expect("policy");
        std::fs::copy(src.with_file_name("boot.sh"), dir.join("policies/boot.sh")).expect("boot.sh");
        let policy = policy::load_file(&dir.join("policies/bodies.yaml"))
            .expect("written policy")
            .policy;

        let mut places = bodies::Places::up_on(net, &["fra", "nyc"]);
        let tokens = bodies::agent_tokens(&dir, &["fra", "nyc"]);
        let (ca, cert, key) = bodies::ingest_pki(&dir);
        let tls = net.bridge_at(port + 1);
        let extra: Vec<OsString> = vec![
            "--agent-tokens".into(),
            tokens.into(),
            "--tls-listen".into(),
            tls.clone().into(),
            "--tls-cert".into(),
            cert.into(),
            "--tls-key".into(),
            key.into(),
        ];
        // the policy's cloud, so that on lab-net6 the controller acts over IPv6 only too
        let mut ctl =
            Controller::new(dir.clone(), &format!("127.0.0.1:{port}"), extra).cloud(&policy.spec.group.cloud);
        ctl.start();
        bodies::start_agents(&mut places, &dir, &format!("https://{tls}"), &ca);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let traffic = Arc::new(Traffic::default());
        let rig = Self {
            dir,
            lb: Some(lb),
            places,
            ctl,
            api,
            policy,
            traffic,
            net,
            stop,
            hosts,
            port,
        };
        rig.steady_traffic(20);
        rig
    }

    pub fn lb(&self) -> &bodies::Balancer {
        self.lb.as_ref().expect("load balancer")
    }

    /// `rps` requests a second to the VIP from the host, each on a new connection.
    fn steady_traffic(&self, rps: u64) {
        let url = format!("http://{}/", self.lb().vip_host());
        let (traffic, stop) = (self.traffic.clone(), self.stop.clone());
        tokio::spawn(async move {
            let client = bodies::client(Duration::from_secs(2));
            let mut tick = tokio::time::interval(Duration::from_millis(1000 / rps));
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let (client, url, traffic) = (client.clone(), url.clone(), traffic.clone());
                tokio::spawn(async move {
                    traffic.sent.fetch_add(1, Ordering::Relaxed);
                    if bodies::get(&client, &url).await != Ok(200) {
                        traffic.failed.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
    }

    /// The group's servers (Nova JSON). A Nova API that does not answer in time (a loaded lab
    /// answers in seconds) is asked again, for up to two minutes.
    pub async fn servers(&mut self) -> Vec<Value> {
        let sel = self.policy.spec.group.selector.clone();
        for _ in 0..24 {
            let list = Request::get(Service::Compute, &["servers", "detail"]);
            match self.api.call(&list).await {
                Ok(v) => {
                    return v["servers"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|s| sel.iter().all(|(k, val)| s["metadata"][k].as_str() == Some(val)))
                        .collect();
                }
                Err(e) => eprintln!("list servers (asking again): {e}"),
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        panic!("the Nova API did not list servers for two minutes");
    }

    /// A server's lab-net addresses.
    pub fn addresses(server: &Value) -> Vec<String> {
        server["addresses"]
            .as_object()
            .map(|nets| {
                nets.values()
                    .flat_map(|l| l.as_array().cloned().unwrap_or_default())
                    .filter_map(|a| a["addr"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits (up to `within`) until `n` servers are ACTIVE, each a pool member HAProxy sends to
    /// at weight > 0, and each answering on its own address; returns them.
    pub async fn wait_serving(&mut self, n: usize, within: Duration) -> Vec<Value> {
        let start = now();
        let client = bodies::client(Duration::from_millis(500));
        loop {
            let servers = self.servers().await;
            let active: Vec<Value> = servers
                .iter()
                .filter(|s| s["status"] == "ACTIVE")
                .cloned()
                .collect();
            let stats = bodies::haproxy_stats();
            let mut ready = 0;
            for s in &active {
                let addrs = Self::addresses(s);
                let lb_ok = bodies::backend_of(&stats, &self.lb().pool, &addrs)
                    .is_some_and(|b| b.weight.unwrap_or(0) > 0);
                let host = self.net.url_host(&addrs).unwrap_or_default();
                let body_ok = bodies::get(&client, &format!("http://{host}:8080/")).await == Ok(200);
                if lb_ok && body_ok {
                    ready += 1;
                }
            }
            if active.len() == n && servers.len() == n && ready == n {
                return active;
            }
            assert!(
                now() - start < within.as_secs_f64(),
                "group not serving within {within:?}: {} servers, {} ACTIVE, {ready} admitted and serving\n{}",
                servers.len(),
                active.len(),
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The policy's entry of the controller's `/api/v1/status` (Null while it cannot be read).
    pub async fn status(&self) -> Value {
        let url = format!("http://127.0.0.1:{}/api/v1/status", self.port);
        let client = bodies::client(Duration::from_secs(5));
        let Ok(r) = client.get(&url).send().await else {
            return Value::Null;
        };
        let v: Value = r.json().await.unwrap_or(Value::Null);
        v["policies"][self.policy.metadata.name.as_str()].clone()
    }

    /// Names of the alerts of the controller's last decision.
    pub async fn alerts(&self) -> Vec<String> {
        self.status().await["decision"]["alerts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The controller's journal so far.
    pub fn journal(&self) -> Vec<JournalEntry> {
        journal::read_dir(&self.ctl.journal())
            .map(|(e, _)| e)
            .unwrap_or_default()
    }

    /// The end of the controller's log, for assertion messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("sloop.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Stops everything and removes what the test made.
    pub async fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.ctl.kill9();
        let pool = self.lb().pool.clone();
        lab::clean(&mut self.api, &self.policy, Some(&pool)).await;
        if let Some(lb) = self.lb.take() {
            lb.delete().await;
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.ctl.kill9();
        if self.lb.is_none() {
            return;
        }
        // A panicking test: remove its servers before the guards remove the rest.
        let policy = self.policy.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut api = lab::api("oslab-admin-demo").await;
                lab::clean(&mut api, &policy, None).await;
            });
        })
        .join();
    }
}
