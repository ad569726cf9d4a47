//! The server's read-only contract and its optional viewer token, over a real socket on
//! 127.0.0.1: with a token, the page, the JSON API and /metrics need it (Bearer or Basic
//! password), `/api/v1/agents` included, the health routes stay open, the agents keep their own
//! tokens (with the scheme in any case), and no route accepts a write.

use sloop::{
    ingest::{Token, TokenBook},
    run::{Controller, Options, SimFactory},
    serve::{self, viewer::Viewer},
    sim::load_scenario,
};
use std::{path::PathBuf, sync::Arc, time::Duration};

const VIEWER: &str = "viewer-token-planted-7f3a";
const AGENT: &str = "agent-token-planted-for-fra-91c2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_need_the_viewer_token_and_nothing_writes() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let scenario = load_scenario(&repo.join("policies/scenarios/steady-day.yaml")).expect("scenario");
    let seed = scenario.seed;
    let agents =
        TokenBook::parse("tokens", &format!("fra: {}\n", Token::new(AGENT).hash_hex())).expect("tokens");
    let c = Controller::start(
        Arc::new(SimFactory::new(scenario, seed, 600.0, 0.0)),
        Options {
            agents: Some(agents),
            ..Options::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = serve::router_for(c.app_state(), Some(Viewer::new(&Token::new(VIEWER))));
    let server = serve::Running::http(listener, router);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");

    // `/api/v1/agents` names the agents (valid `X-Sloop-Agent` values), their freshness and
    // clock offsets: a status route like the others.
    for path in [
        "/",
        "/api/v1/status",
        "/api/v1/journal",
        "/api/v1/agents",
        "/metrics",
    ] {
        let url = format!("{base}{path}");
        let anonymous = http.get(&url).send().await.expect("GET");
        assert_eq!(anonymous.status(), 401, "{path} without a token");
        let challenges: Vec<_> = anonymous
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        assert!(
            challenges.iter().any(|c| c.starts_with("Basic"))
                && challenges.iter().any(|c| c.starts_with("Bearer")),
            "{path}: a browser and a script are both told how to authenticate: {challenges:?}"
        );
        let wrong = http
            .get(&url)
            .bearer_auth("not-the-token")
            .send()
            .await
            .expect("GET");
        assert_eq!(wrong.status(), 401, "{path} with a wrong token");
        let body = wrong.text().await.expect("body");
        assert!(
            !body.contains("not-the-token"),
            "a 401 never echoes what was presented: {body}"
        );
        let agent = http.get(&url).bearer_auth(AGENT).send().await.expect("GET");
        assert_eq!(
            agent.status(),
            401,
            "{path}: an agent token is not a viewer token"
        );

        let bearer = http.get(&url).bearer_auth(VIEWER).send().await.expect("GET");
        assert_eq!(bearer.status(), 200, "{path} with the Bearer token");
        let basic = http
            .get(&url)
            .basic_auth("ops", Some(VIEWER))
            .send()
            .await
            .expect("GET");
        assert_eq!(basic.status(), 200, "{path} with the token as a Basic password");

        for method in [
            reqwest::Method::POST,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            let write = http
                .request(method.clone(), &url)
                .bearer_auth(VIEWER)
                .send()
                .await
                .expect("request");
            assert_eq!(
                write.status(),
                405,
                "{method} {path} is refused: the server is read-only"
            );
        }
    }

    for path in ["/healthz", "/readyz"] {
        let r = http.get(format!("{base}{path}")).send().await.expect("GET");
        assert_ne!(r.status(), 401, "{path} stays open for the kubelet");
    }

    let assignments = http
        .get(format!("{base}/api/v1/agent/assignments"))
        .header("x-sloop-agent", "fra")
        .bearer_auth(AGENT)
        .send()
        .await
        .expect("GET");
    assert_eq!(
        assignments.status(),
        200,
        "agents authenticate with their own token"
    );
    // RFC 7235: the scheme is case-insensitive, as on the viewer routes.
    let lower_case = http
        .get(format!("{base}/api/v1/agent/assignments"))
        .header("x-sloop-agent", "fra")
        .header("authorization", format!("bearer {AGENT}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(lower_case.status(), 200, "`bearer` in lower case is accepted");
    let viewer_as_agent = http
        .get(format!("{base}/api/v1/agent/assignments"))
        .header("x-sloop-agent", "fra")
        .bearer_auth(VIEWER)
        .send()
        .await
        .expect("GET");
    assert_eq!(
        viewer_as_agent.status(),
        401,
        "the viewer token is not an agent token"
    );

    server.stop().await.expect("server ran");
    c.stop().await;
}
