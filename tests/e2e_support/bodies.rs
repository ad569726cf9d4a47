//! The lab's servers that serve (tests/lab/bodies, `up.sh bodies`): faults on a server's body,
//! HAProxy's stats for the load balancer on a lab-net VIP, places (agent and load-generator
//! namespaces) with degradable paths, and the HTTPS ingest the agents report to. Everything a
//! test creates here is removed by a guard's `Drop`, also when the test panics.

#![allow(dead_code)]

use super::lab;
use serde_json::{Value, json};
use sloop::cloud::openstack::session::{Api, Request, Service};
use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// The host's address on the lab bridge (lab-net's IPv4 gateway): where the controller's
/// HTTPS ingest listens for the agents in their namespaces.
pub const BRIDGE_V4: &str = "10.77.0.1";
/// The host's address on the bridge in lab-net6 (its gateway), the IPv6-only network.
pub const BRIDGE_V6: &str = "fd00:5eed:6::1";

/// The lab network a rig's servers, VIP and places are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// lab-net: IPv4 and IPv6, the APIs on 127.0.0.1.
    Dual,
    /// lab-net6 (`tests/lab/up.sh ipv6`): IPv6 only; its policy's cloud reaches Keystone and
    /// every API on [::1].
    V6Only,
}

impl Net {
    pub fn name(self) -> &'static str {
        match self {
            Net::Dual => "lab-net",
            Net::V6Only => "lab-net6",
        }
    }

    /// `host:port` of the host on the bridge in this network: where the controller's HTTPS
    /// ingest listens for the agents.
    pub fn bridge_at(self, port: u16) -> String {
        match self {
            Net::Dual => format!("{BRIDGE_V4}:{port}"),
            Net::V6Only => format!("[{BRIDGE_V6}]:{port}"),
        }
    }

    /// The name the policy probes (an /etc/hosts entry for the VIP's addresses).
    pub fn service_name(self) -> &'static str {
        match self {
            Net::Dual => SERVICE_NAME,
            Net::V6Only => "sloop-bodies6-vip.lab.test",
        }
    }

    /// The URL host (`10.77.0.5`, `[fd00:5eed:6::5]`) to reach a server or VIP with these
    /// addresses on: its IPv4 address on lab-net, its IPv6 one on lab-net6.
    pub fn url_host(self, addrs: &[String]) -> Option<String> {
        match self {
            Net::Dual => addrs.iter().find(|a| a.contains('.')).cloned(),
            Net::V6Only => addrs.iter().find(|a| a.contains(':')).map(|a| format!("[{a}]")),
        }
    }
}

/// Runs `tests/lab/bodies/<script> args…`; its stdout.
pub fn lab_py(script: &str, args: &[&str]) -> String {
    lab_py_on(Net::Dual, script, args)
}

/// `lab_py` for the places of network `net` (places.py reads `LAB_NET`).
pub fn lab_py_on(net: Net, script: &str, args: &[&str]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lab/bodies")
        .join(script);
    let out = Command::new("python3")
        .arg(&path)
        .args(args)
        .env("LAB_DIR", lab::lab_dir())
        .env("LAB_NET", net.name())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        out.status.success(),
        "{script} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fault on server `id`'s body: `crash`, `hang`, `slow K`, `5xx` or `clear` (fault.py).
pub fn fault(id: &str, what: &str) {
    let mut args = vec![id];
    args.extend(what.split_whitespace());
    lab_py("fault.py", &args);
}

/// Whether the lab's bodies are running (`up.sh bodies`).
pub fn bodies_running() -> bool {
    let pid = lab::lab_dir().join("run/lab-bodies.pid");
    std::fs::read_to_string(pid)
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
        .is_some_and(|p| Path::new(&format!("/proc/{p}")).exists())
}

/// One row of HAProxy's `show stat`.
#[derive(Debug, Clone)]
pub struct Stat {
    pub proxy: String,
    pub server: String,
    /// Sessions sent to it so far.
    pub total: u64,
    pub weight: Option<u64>,
    pub status: String,
    /// `address:port` of a backend server.
    pub addr: String,
}

/// HAProxy's stats, through its admin socket.
pub fn haproxy_stats() -> Vec<Stat> {
    stats_of(&lab::lab_dir().join("run/haproxy.sock"))
}

/// Connections the [::1] relay of the IPv6-only variant (`lab-v6relay`) has taken so far,
/// every API's together.
pub fn relay_sessions() -> u64 {
    stats_of(&lab::lab_dir().join("run/v6relay.sock"))
        .iter()
        .filter(|s| s.server == "FRONTEND")
        .map(|s| s.total)
        .sum()
}

/// `show stat` of the HAProxy whose admin socket is `sock` (empty if it does not answer).
fn stats_of(sock: &Path) -> Vec<Stat> {
    let Ok(mut s) = UnixStream::connect(sock) else {
        return Vec::new();
    };
    s.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    s.write_all(b"show stat\n").expect("write stats socket");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or("")
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (px, sv, stot, w, st, ad) = (
        col("pxname"),
        col("svname"),
        col("stot"),
        col("weight"),
        col("status"),
        col("addr"),
    );
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let get = |i: Option<usize>| i.and_then(|i| f.get(i)).copied().unwrap_or("").to_owned();
            Stat {
                proxy: get(px),
                server: get(sv),
                total: get(stot).parse().unwrap_or(0),
                weight: get(w).parse().ok(),
                status: get(st),
                addr: get(ad),
            }
        })
        .collect()
}

/// The backend server of pool `pool` that sends to `address` (either family), if any.
pub fn backend_of(stats: &[Stat], pool: &str, addresses: &[String]) -> Option<Stat> {
    let proxy = format!("p_{pool}");
    stats
        .iter()
        .filter(|s| s.proxy == proxy && s.status != "MAINT")
        .find(|s| {
            let host = s.addr.rsplit_once(':').map_or("", |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            addresses.iter().any(|a| a == host)
        })
        .cloned()
}

/// A load balancer whose VIP is a reserved lab-net address (so lbsync.py serves it with HAProxy),
/// with an HTTP listener and a round-robin pool. Deleted (cascade) with its VIP port on drop.
pub struct Balancer {
    pub lb: String,
    pub pool: String,
    pub vip4: String,
    pub vip6: String,
    port: String,
    api: Api,
}

impl Balancer {
    /// The VIP as a URL host: its IPv4 address, or `[IPv6]` where it has none.
    pub fn vip_host(&self) -> String {
        if self.vip4.is_empty() {
            format!("[{}]", self.vip6)
        } else {
            self.vip4.clone()
        }
    }

    /// Creates load balancer `name` (listener on `listener_port`, pool `pool`) on a new VIP in
    /// `net` (both families on lab-net, IPv6 only on lab-net6).
    pub async fn create(net: Net, name: &str, pool: &str, listener_port: u16) -> Self {
        let mut api = lab::api("oslab-admin-demo").await;
        Self::delete_named(&mut api, name).await;
        let nets = api
            .call(&Request::get(Service::Network, &["networks"]).param("name", net.name()))
            .await
            .expect("list networks");
        let net_id = nets["networks"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no network {} (tests/lab/up.sh ipv6)", net.name()))
            .to_owned();
        let net = &net_id;
        let v = api
            .call(&Request::post(
                Service::Network,
                &["ports"],
                json!({"port": {"network_id": net, "name": format!("vip-{name}")}}),
            ))
            .await
            .expect("VIP port");
        let port = v["port"]["id"].as_str().expect("port id").to_owned();
        let ips: Vec<(String, String)> = v["port"]["fixed_ips"]
            .as_array()
            .expect("fixed_ips")
            .iter()
            .map(|i| {
                (
                    i["ip_address"].as_str().unwrap_or("").to_owned(),
                    i["subnet_id"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let (vip4, subnet4) = ips
            .iter()
            .find(|(a, _)| a.contains('.'))
            .cloned()
            .unwrap_or_default();
        let (vip6, subnet6) = ips
            .iter()
            .find(|(a, _)| a.contains(':'))
            .cloned()
            .unwrap_or_default();
        // Octavia's VIP: the IPv4 address where there is one (HAProxy also binds the port's
        // IPv6 address), else the IPv6 one.
        let (vip, subnet) = if vip4.is_empty() {
            (&vip6, &subnet6)
        } else {
            (&vip4, &subnet4)
        };
        assert!(!vip.is_empty(), "the VIP port has no address: {ips:?}");
        let body = json!({"loadbalancer": {"name": name, "vip_subnet_id": subnet, "vip_address": vip,
            "provider": "amphora"}});
        let v = api
            .call(&Request::post(
                Service::LoadBalancer,
                &["lbaas", "loadbalancers"],
                body,
            ))
            .await
            .expect("create LB");
        let lb = v["loadbalancer"]["id"].as_str().expect("LB id").to_owned();
        let mut me = Self {
            lb,
            pool: String::new(),
            vip4,
            vip6,
            port,
            api,
        };
        me.wait_active().await;
        let body = json!({"listener": {"name": format!("{name}-l"), "loadbalancer_id": me.lb,
            "protocol": "HTTP", "protocol_port": listener_port}});
        let v = me
            .api
            .call(&Request::post(Service::LoadBalancer, &["lbaas", "listeners"], body).retry_conflicts())
            .await
            .expect("create listener");
        let listener = v["listener"]["id"].as_str().expect("listener id").to_owned();
        me.wait_active().await;
        let body = json!({"pool": {"name": pool, "listener_id": listener, "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN"}});
        let v = me
            .api
            .call(&Request::post(Service::LoadBalancer, &["lbaas", "pools"], body).retry_conflicts())
            .await
            .expect("create pool");
        me.pool = v["pool"]["id"].as_str().expect("pool id").to_owned();
        me.wait_active().await;
        me
    }

    async fn wait_active(&mut self) {
        for _ in 0..240 {
            let v = self
                .api
                .call(&Request::get(
                    Service::LoadBalancer,
                    &["lbaas", "loadbalancers", &self.lb],
                ))
                .await
                .expect("GET LB");
            match v
                .pointer("/loadbalancer/provisioning_status")
                .and_then(Value::as_str)
            {
                Some("ACTIVE") => return,
                Some("ERROR") => panic!("load balancer {} went to ERROR", self.lb),
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
        panic!("load balancer {} not ACTIVE in 60 s", self.lb);
    }

    /// Removes a load balancer of that name and its VIP port, left by a crashed run.
    async fn delete_named(api: &mut Api, name: &str) {
        let list = Request::get(Service::LoadBalancer, &["lbaas", "loadbalancers"]).param("name", name);
        if let Ok(v) = api.call(&list).await {
            for lb in v["loadbalancers"].as_array().cloned().unwrap_or_default() {
                let id = lb["id"].as_str().unwrap_or_default();
                let del = Request::delete(Service::LoadBalancer, &["lbaas", "loadbalancers", id])
                    .param("cascade", "true");
                let _ = api.call(&del.retry_conflicts()).await;
            }
        }
        let list = Request::get(Service::Network, &["ports"]).param("name", format!("vip-{name}"));
        if let Ok(v) = api.call(&list).await {
            for p in v["ports"].as_array().cloned().unwrap_or_default() {
                let id = p["id"].as_str().unwrap_or_default();
                let _ = api.call(&Request::delete(Service::Network, &["ports", id])).await;
            }
        }
    }

    /// Deletes the load balancer (cascade) and its VIP port.
    pub async fn delete(mut self) {
        self.delete_now().await;
    }

    async fn delete_now(&mut self) {
        if self.lb.is_empty() {
            return;
        }
        let del = Request::delete(Service::LoadBalancer, &["lbaas", "loadbalancers", &self.lb])
            .param("cascade", "true");
        let _ = self.api.call(&del.retry_conflicts()).await;
        let _ = self
            .api
            .call(&Request::delete(Service::Network, &["ports", &self.port]))
            .await;
        self.lb.clear();
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        if self.lb.is_empty() {
            return;
        }
        // A panicking test: a fresh runtime on a plain thread does the async cleanup.
        let (lb, port) = (self.lb.clone(), self.port.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut api = lab::api("oslab-admin-demo").await;
                let del = Request::delete(Service::LoadBalancer, &["lbaas", "loadbalancers", &lb])
                    .param("cascade", "true");
                let _ = api.call(&del.retry_conflicts()).await;
                let _ = api
                    .call(&Request::delete(Service::Network, &["ports", &port]))
                    .await;
            });
        })
        .join();
    }
}

/// Namespaces on lab-net for agents or the load generator (places.py); removed on drop.
pub struct Places {
    pub names: Vec<String>,
    /// name -> (IPv4, IPv6)
    pub addrs: Vec<(String, String, String)>,
    children: Vec<Child>,
}

impl Places {
    pub fn up(names: &[&str]) -> Self {
        Self::up_on(Net::Dual, names)
    }

    /// Places with an address in `net` only (IPv6 only on lab-net6).
    pub fn up_on(net: Net, names: &[&str]) -> Self {
        let _ = lab_py_on(net, "places.py", &[&["down"], names].concat());
        let out = lab_py_on(net, "places.py", &[&["up"], names].concat());
        let addrs = out
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 3).then(|| (f[0].to_owned(), f[1].to_owned(), f[2].to_owned()))
            })
            .collect();
        Self {
            names: names.iter().map(|s| s.to_string()).collect(),
            addrs,
            children: Vec::new(),
        }
    }

    /// Runs `program args…` inside place `name`, output to `log`; killed on drop.
    pub fn spawn(&mut self, name: &str, log: &Path, program: &Path, args: &[&str]) {
        let out = std::fs::File::create(log).expect("place log");
        let err = out.try_clone().expect("log handle");
        let child = Command::new("ip")
            .args(["netns", "exec", &format!("sloop-p-{name}")])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn in namespace");
        self.children.push(child);
    }

    /// Drops `pct` % of what `name` sends over `family` (v4, v6, both), except to `keep`.
    pub fn loss(&self, name: &str, pct: u32, family: &str, keep: &[&str]) {
        let pct = pct.to_string();
        let mut args = vec!["loss", name, &pct, family, "--except"];
        args.extend_from_slice(keep);
        lab_py("places.py", &args);
    }

    pub fn restore(&self, name: &str) {
        lab_py("places.py", &["restore", name]);
    }
}

impl Drop for Places {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let _ = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/bodies/places.py"))
            .arg("down")
            .args(&names)
            .env("LAB_DIR", lab::lab_dir())
            .output();
    }
}

/// A private CA and a certificate for the controller's HTTPS ingest on the bridge address:
/// (CA file for the agents, certificate file, key file).
pub fn ingest_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sloop lab ingest CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec![BRIDGE_V4.into(), BRIDGE_V6.into(), "127.0.0.1".into()])
        .expect("params");
    let cert = params.signed_by(&key, &issuer).expect("certificate");
    let files = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&files.0, ca.pem()).expect("ca.pem");
    std::fs::write(&files.1, cert.pem()).expect("cert.pem");
    std::fs::write(&files.2, key.serialize_pem()).expect("key.pem");
    (files.0.clone(), files.1.clone(), files.2.clone())
}

/// Agent tokens for `names`: writes `dir/<name>.token` and the controller's `dir/agents.tokens`.
pub fn agent_tokens(dir: &Path, names: &[&str]) -> PathBuf {
    let mut book = String::new();
    for n in names {
        let out = Command::new(env!("CARGO_BIN_EXE_sloop"))
            .args(["agent-token", n, "--out"])
            .arg(dir.join(format!("{n}.token")))
            .output()
            .expect("sloop agent-token");
        assert!(
            out.status.success(),
            "agent-token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        book.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    let path = dir.join("agents.tokens");
    std::fs::write(&path, book).expect("tokens file");
    path
}

/// `sloop agent` for each place, reporting to `controller` over HTTPS, trusting `ca`.
pub fn start_agents(places: &mut Places, dir: &Path, controller: &str, ca: &Path) {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_sloop"));
    for name in places.names.clone() {
        let token = dir.join(format!("{name}.token"));
        let log = dir.join(format!("agent-{name}.log"));
        places.spawn(
            &name,
            &log,
            &bin,
            &[
                "agent",
                "--controller",
                controller,
                "--location",
                &name,
                "--token-file",
                token.to_str().expect("path"),
                "--ca-file",
                ca.to_str().expect("path"),
                "--no-icmp",
                "--max-backoff-secs",
                "2",
            ],
        );
    }
}

/// One GET with a deadline: Ok(status) or Err(why).
pub async fn get(client: &reqwest::Client, url: &str) -> Result<u16, String> {
    match client.get(url).send().await {
        Ok(r) => Ok(r.status().as_u16()),
        Err(e) => Err(e.to_string()),
    }
}

/// A client that never reuses connections (each request a new TCP connection, as probes do).
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(0)
        .build()
        .expect("HTTP client")
}

/// An /etc/hosts entry for the service name of the bodies' policy (both VIP addresses), so
/// the controller and the agents resolve it per family; removed on drop.
pub struct HostsEntry {
    marker: String,
}

/// The service name the bodies' policy probes.
pub const SERVICE_NAME: &str = "sloop-bodies-vip.lab.test";

impl HostsEntry {
    /// `name` resolving to `addrs` (the empty ones left out).
    pub fn add(name: &str, addrs: &[&str]) -> Self {
        let marker = format!("# sloop-e2e {name}");
        Self::remove(&marker);
        let mut text = std::fs::read_to_string("/etc/hosts").expect("/etc/hosts");
        for a in addrs.iter().filter(|a| !a.is_empty()) {
            text.push_str(&format!("{a} {name} {marker}\n"));
        }
        // in place: /etc/hosts is often a bind mount that cannot be replaced by a rename
        std::fs::write("/etc/hosts", text).expect("write /etc/hosts");
        Self { marker }
    }

    fn remove(marker: &str) {
        let text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        if text.contains(marker) {
            let kept: String = text
                .lines()
                .filter(|l| !l.contains(marker))
                .map(|l| format!("{l}\n"))
                .collect();
            let _ = std::fs::write("/etc/hosts", kept);
        }
    }
}

impl Drop for HostsEntry {
    fn drop(&mut self) {
        Self::remove(&self.marker);
    }
}
