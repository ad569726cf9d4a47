//! Overload, functionally (the timing is `sloop-bench ingest`'s job): one agent floods the
//! ingest endpoint of a running controller over a real loopback socket with valid tokens and
//! full batches, many requests in flight at once, for a bounded number of requests. Required:
//! the excess is answered with the documented statuses (429 with Retry-After past the agent's
//! request budget, 413 for a batch over the sample limit, 401 for a wrong token, never a 5xx),
//! the reconcile loop keeps ticking through it, results denser than the probe interval are
//! refused, and the probe store stays within its retention however many were sent.

use crate::testkit::{
    agent_fed::{AgentFedFactory, bench_policy},
    batch::batch,
};
use sloop::{
    clock::{Clock, SystemClock},
    ingest::{
        Token, TokenBook,
        wire::{AGENT_HEADER, ASSIGNMENTS_PATH, Assignments, BatchReply, RESULTS_PATH},
    },
    observe::store::ProbeStore,
    policy::units::Timestamp,
    run::{Controller, Options, PolicyEvent, ticklog::TickLog},
    serve,
};
use std::{collections::BTreeMap, sync::Arc, time::Duration};

/// Requests in the flood (at least; it goes on until the loop has ticked during it).
const FLOOD: usize = 400;
/// Requests in flight at once.
const IN_FLIGHT: usize = 16;
/// Samples per flood batch.
const PER_BATCH: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_flood_is_throttled_while_the_loop_keeps_ticking_in_bounded_memory() {
    let agent = "flood-a";
    let text = bench_policy(&[agent.to_owned()], "1s").expect("bench policy");
    let policy = sloop::policy::parse("flood.yaml", text.as_bytes()).expect("valid");
    let mut scenario = crate::scenario("steady-day");
    scenario.start = Timestamp::from_unix(SystemClock.now().floor());
    let token = Token::generate().expect("token");
    let log = TickLog::default();
    let factory = Arc::new(AgentFedFactory::wall_clock(scenario));
    let controller = Controller::start(
        factory,
        Options {
            agents: Some(TokenBook::default().with(agent, &token)),
            tick_log: Some(log.clone()),
            ..Options::default()
        },
    );
    let ingest = controller.ingest().expect("agents configured").clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = serve::Running::http(listener, serve::router(controller.app_state()));
    controller
        .events()
        .send(PolicyEvent::Upsert {
            name: "flood".into(),
            source_label: "flood.yaml".into(),
            text,
        })
        .await
        .expect("supervisor");
    wait_until("a first tick", || !log.entries().is_empty()).await;

    let client = reqwest::Client::new();
    let post = |body: Vec<u8>, token: String| {
        client
            .post(format!("{url}{RESULTS_PATH}"))
            .bearer_auth(token)
            .header(AGENT_HEADER, agent)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
    };
    let jobs = client
        .get(format!("{url}{ASSIGNMENTS_PATH}"))
        .bearer_auth(token.expose())
        .header(AGENT_HEADER, agent)
        .send()
        .await
        .expect("assignments")
        .json::<Assignments>()
        .await
        .expect("assignments JSON")
        .jobs;
    assert!(!jobs.is_empty(), "the agent has nothing assigned");

    let ticks_before = log.entries().len();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let (mut sent, mut accepted, mut refused, mut without_retry_after) = (0usize, 0u64, 0u64, 0usize);
    // Refused before the body was read: the connection must not go back to the client's pool.
    let mut without_close = 0usize;
    let deadline = SystemClock.now() + 120.0;
    while sent < FLOOD || log.entries().len() < ticks_before + 3 {
        assert!(
            SystemClock.now() < deadline,
            "the reconcile loop did not tick 3 times during the flood ({} ticks, {sent} requests)",
            log.entries().len() - ticks_before
        );
        let mut wave = Vec::new();
        for _ in 0..IN_FLIGHT {
            let b = batch(&jobs, PER_BATCH, SystemClock.now(), 1.0, sent as u64);
            wave.push(post(
                serde_json::to_vec(&b).expect("encode"),
                token.expose().to_owned(),
            ));
            sent += 1;
        }
        for r in futures_join(wave).await {
            let r = r.expect("every flood request is answered");
            let status = r.status().as_u16();
            *statuses.entry(status).or_default() += 1;
            if status == 429 && r.headers().get(reqwest::header::RETRY_AFTER).is_none() {
                without_retry_after += 1;
            }
            let closes = r
                .headers()
                .get(reqwest::header::CONNECTION)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
            if status == 429 && !closes {
                without_close += 1;
            }
            if status == 200 {
                let reply = r.json::<BatchReply>().await.expect("reply");
                accepted += reply.accepted;
                refused += reply.rejected;
            }
        }
    }
    let ticks_during = log.entries().len() - ticks_before;

    // A wrong token is refused even mid-flood; after the Retry-After, an oversize batch is 413.
    let wrong = post(b"{}".to_vec(), "not-the-token".into())
        .await
        .expect("answered");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let limit = ingest.limits().max_batch_samples;
    let big = batch(&jobs, limit + 1, SystemClock.now(), 1.0, 0);
    let oversize = post(
        serde_json::to_vec(&big).expect("encode"),
        token.expose().to_owned(),
    )
    .await
    .expect("answered");

    let cap = ProbeStore::for_policy(&policy).retention().0.max_raw;
    let view = ingest
        .probe_view(&policy.metadata.name, SystemClock.now())
        .expect("policy published");
    let longest = view.service.iter().map(|s| s.recent.len()).max().unwrap_or(0);
    let series = view.service.len();
    crate::figure(
        "flood",
        &format!(
            "{sent} requests of {PER_BATCH} results ({IN_FLIGHT} in flight): statuses {statuses:?}; of the results admitted {accepted} stored, {refused} refused as denser than the probe interval; {ticks_during} ticks during the flood; longest service series {longest} samples (retention cap {cap}) over {series} series"
        ),
    );
    let mut failures = Vec::new();
    if statuses.keys().any(|s| *s != 200 && *s != 429) {
        failures.push(format!("statuses other than 200/429 under flood: {statuses:?}"));
    }
    if statuses.get(&429).copied().unwrap_or(0) == 0 {
        failures.push("no request was throttled (429): the per-agent budget is not enforced".into());
    }
    if without_close > 0 {
        failures.push(format!("{without_close} 429 answers without `Connection: close`"));
    }
    if without_retry_after > 0 {
        failures.push(format!("{without_retry_after} 429 answers without Retry-After"));
    }
    if wrong.status().as_u16() != 401 {
        failures.push(format!("a wrong token got {} mid-flood", wrong.status()));
    }
    if oversize.status().as_u16() != 413 {
        failures.push(format!(
            "a batch of {} samples got {}",
            limit + 1,
            oversize.status()
        ));
    }
    if longest > cap {
        failures.push(format!(
            "a series holds {longest} samples, over its retention cap {cap}"
        ));
    }
    if accepted + refused < (cap * 4) as u64 {
        failures.push(format!(
            "only {} results admitted: the flood never tested the store's bounds",
            accepted + refused
        ));
    }
    if refused == 0 {
        failures.push("no result was refused as too dense: the per-series limit is not enforced".into());
    }
    controller.stop().await;
    server.stop().await.expect("server ran");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Awaits every request of a wave (they run concurrently on the client's pool).
async fn futures_join<F: std::future::Future + Send + 'static>(fs: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send,
{
    let handles: Vec<_> = fs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("request task"));
    }
    out
}

async fn wait_until(what: &str, ok: impl Fn() -> bool) {
    for _ in 0..600 {
        if ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
