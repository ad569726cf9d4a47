//! The Prometheus telemetry source against a real Prometheus (Debian's `prometheus`, which CI
//! installs with promtool): it scrapes, once a second on loopback, a tiny exposition of
//! `ceilometer_*` series as Ceilometer's Prometheus publisher names them, and sloop's PromQL
//! source must read them: a CPU counter as utilisation, a gauge as is, a host-level meter by
//! host name; series Prometheus does not have are missing, never zero; a Prometheus that is
//! gone is a source error. The load source's PromQL is read from the same Prometheus: a
//! request-rate expression summed over its series, per-server utilisation by a label. Bounded:
//! at most 60 s of waiting for the first scrapes.

use crate::testkit::listen::{FollowedLog, prometheus_address};
use axum::{Router, routing::get};
use sloop::{
    clock::{Clock, Stopwatch, SystemClock},
    cloud::openstack::prometheus,
    policy::{Aggregation, MetricScope, MetricSpec, units::Duration as PDuration},
};
use std::{
    collections::BTreeMap,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

/// Kills the Prometheus this test started when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Granularity of the test's metrics: short, so a rate window is full of 1 s scrapes within
/// seconds (PromQL's `rate()` divides by the whole window, so a half-empty one reads low).
const WINDOW: f64 = 5.0;

fn spec(name: &str, aggregation: Aggregation, scope: MetricScope) -> MetricSpec {
    MetricSpec {
        name: name.into(),
        aggregation,
        granularity: PDuration::from_secs(WINDOW),
        scope,
    }
}

/// How many samples of srv-a's CPU counter Prometheus holds in the last window (0 before the
/// first scrape or while Prometheus starts).
async fn samples_in_window(base: &str) -> f64 {
    let q = format!("count_over_time(ceilometer_cpu{{resource_id=\"srv-a\"}}[{WINDOW}s])");
    let Ok(resp) = reqwest::Client::new()
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", q.as_str())])
        .send()
        .await
    else {
        return 0.0;
    };
    let v: serde_json::Value = resp.json().await.unwrap_or_default();
    v.pointer("/data/result/0/value/1")
        .and_then(|x| x.as_str())
        .and_then(|x| x.parse().ok())
        .unwrap_or(0.0)
}

/// Serves the exposition: `srv-a` burns half a vCPU (a cumulative nanosecond counter) and uses
/// 512 MiB; host `compute1` is 37.5 % busy. Nothing for `srv-b` or `compute2`.
async fn exposition() -> u16 {
    let started = Arc::new(Stopwatch::start());
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let secs = started.elapsed().as_secs_f64();
            let cpu_ns = secs * 0.5e9 + 1e12;
            // A balancer's request counters on two listeners: 150 and 50 requests per second.
            let (web, api) = (secs * 150.0 + 1e6, secs * 50.0 + 2e6);
            async move {
                format!(
                    "# TYPE ceilometer_cpu counter\nceilometer_cpu{{resource_id=\"srv-a\"}} {cpu_ns:.0}\n\
                     # TYPE ceilometer_memory_usage gauge\nceilometer_memory_usage{{resource_id=\"srv-a\"}} 512\n\
                     # TYPE ceilometer_hardware_cpu_util gauge\nceilometer_hardware_cpu_util{{resource_id=\"compute1\"}} 37.5\n\
                     # TYPE haproxy_frontend_http_requests_total counter\n\
                     haproxy_frontend_http_requests_total{{proxy=\"web\"}} {web:.0}\n\
                     haproxy_frontend_http_requests_total{{proxy=\"api\"}} {api:.0}\n"
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind exposition");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_promql_source_reads_ceilometer_series_from_a_real_prometheus() {
    let binary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("Debian's `prometheus` package is needed for this test (apt-get install prometheus; CI installs it)");
    let target = exposition().await;
    let dir = std::env::temp_dir().join(format!("sloop-prom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: ceilometer\n    \
             static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
        ),
    )
    .expect("write prometheus.yml");
    let child = Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg("--web.listen-address=127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start prometheus");
    let mut prom = Running(child);
    // The port Prometheus bound, from its log (it drains the rest of the log from then on).
    let log = prom.0.stderr.take().expect("stderr piped");
    let listening = FollowedLog::until(log, Duration::from_secs(60), prometheus_address)
        .expect("prometheus says where it listens");
    let base = format!("http://{}", listening.addr);

    let clock = SystemClock;
    let specs = [
        spec("cpu", Aggregation::RateMean, MetricScope::Instance),
        spec("memory.usage", Aggregation::Mean, MetricScope::Instance),
        spec("hardware.cpu.util", Aggregation::Mean, MetricScope::Hypervisor),
    ];
    let instances = vec!["srv-a".to_string(), "srv-b".to_string()];
    let hosts = vec!["compute1".to_string(), "compute2".to_string()];
    let vcpus = BTreeMap::from([("srv-a".to_string(), 1), ("srv-b".to_string(), 1)]);
    let read = |now: f64| {
        prometheus::read(
            &base,
            Duration::from_secs(5),
            &specs,
            &instances,
            &hosts,
            &vcpus,
            now,
            600.0,
        )
    };
    // Until a whole rate window is covered by scrapes (Prometheus itself takes a moment to start).
    let waited = Stopwatch::start();
    while samples_in_window(&base).await < WINDOW {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "prometheus at {base} did not hold {WINDOW} s of srv-a's samples within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "  a full window of scrapes after {:.1}s",
        waited.elapsed().as_secs_f64()
    );
    let got = read(clock.now()).await.expect("read from prometheus");
    let value = |m: &BTreeMap<String, BTreeMap<String, sloop::snapshot::Reading>>, id: &str, metric: &str| {
        m.get(id).and_then(|r| r.get(metric)).map(|r| r.value)
    };
    let cpu = value(&got.instances, "srv-a", "cpu").flatten().expect("cpu");
    assert!((cpu - 0.5).abs() < 0.05, "half a vCPU, read {cpu}");
    assert_eq!(value(&got.instances, "srv-a", "memory.usage"), Some(Some(512.0)));
    assert_eq!(
        value(&got.hypervisors, "compute1", "hardware.cpu.util"),
        Some(Some(37.5))
    );
    // Asked for and absent: an entry that says missing.
    assert_eq!(
        value(&got.instances, "srv-b", "cpu"),
        Some(None),
        "missing, never zero"
    );
    assert_eq!(value(&got.instances, "srv-b", "memory.usage"), Some(None));
    assert_eq!(
        value(&got.hypervisors, "compute2", "hardware.cpu.util"),
        Some(None)
    );
    // An instant with no sample in Prometheus' lookback (an hour ahead) reads as missing too.
    let late = read(clock.now() + 3600.0).await.expect("a query an hour ahead");
    assert_eq!(
        value(&late.instances, "srv-a", "memory.usage"),
        Some(None),
        "stale is missing"
    );

    // A load source: the request-rate expression's series are summed, at the newest sample.
    let timeout = Duration::from_secs(5);
    let requests = format!("rate(haproxy_frontend_http_requests_total[{WINDOW}s])");
    let now = clock.now();
    let load = prometheus::instant_sum(&base, timeout, &requests, now)
        .await
        .expect("the request-rate expression")
        .expect("a figure");
    println!(
        "  request rate {:.1}/s, sample {:.1} s old",
        load.value,
        now - load.at
    );
    assert!(
        (load.value - 200.0).abs() < 20.0,
        "150 + 50 requests per second, read {}",
        load.value
    );
    assert!(
        now - load.at <= 2.0,
        "the newest sample's time: {:.1} s old",
        now - load.at
    );
    let none = prometheus::instant_sum(&base, timeout, "rate(no_such_counter_total[5s])", now).await;
    assert_eq!(none, Ok(None), "no series is no figure, never 0");
    let bad = prometheus::instant_sum(&base, timeout, "rate(", now).await;
    assert!(bad.is_err(), "a broken expression is an error: {bad:?}");
    // Per-server utilisation by a label of the operator's choosing.
    let util = format!("rate(ceilometer_cpu[{WINDOW}s]) / 1e9");
    let body = prometheus::instant(&base, timeout, &util, now)
        .await
        .expect("the utilisation expression");
    let by = prometheus::parse_by(&body, "resource_id").expect("an answer");
    let (_, a) = by.get("srv-a").copied().expect("srv-a's utilisation");
    assert!((a - 0.5).abs() < 0.05, "half a vCPU, read {a}");

    drop(prom);
    let gone = read(clock.now()).await;
    assert!(
        gone.is_err(),
        "a stopped Prometheus is a source error, not zeros: {gone:?}"
    );
    assert!(
        prometheus::instant_sum(&base, timeout, &requests, clock.now())
            .await
            .is_err(),
        "a stopped Prometheus is no load figure"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
