//! Heartbeat (dead-man's switch): the real daemon pings `[health] heartbeat_url` on a
//! local server every `heartbeat_interval`; a ping the server refuses is logged and the
//! daemon carries on pinging; POST sends a one-line status body.

mod common;
use common::{capture_stderr, sigterm, wait_for, Env};
use pulse::health::HealthConfig;
use pulse::heartbeat::Heartbeat;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHECK: &str = "/ping/5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278";

/// Wait (async) until the server has seen `n` requests.
async fn wait_requests(server: &MockServer, n: usize, limit: Duration) -> Vec<wiremock::Request> {
    let start = Instant::now();
    loop {
        let got = server.received_requests().await.unwrap();
        if got.len() >= n {
            return got;
        }
        assert!(
            start.elapsed() < limit,
            "only {} of {n} heartbeat pings within {limit:?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_pings_the_heartbeat_url_and_survives_refused_pings() {
    let server = MockServer::start().await;
    // The first two pings are refused (the check's service is having a bad minute).
    Mock::given(method("GET"))
        .and(path(CHECK))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CHECK))
        .respond_with(ResponseTemplate::new(200).set_body_string("OK"))
        .mount(&server)
        .await;
    let env = Env::new(&format!(
        r#"
[store]
path = "data/pulse.db"

[[products]]
name = "Widgetron"

[api]
listen = "127.0.0.1:0"

[health]
heartbeat_url = "{}{CHECK}"
heartbeat_interval = "1s"
heartbeat_timeout = "2s"
"#,
        server.uri()
    ));
    let mut child = env.spawn(&["run"]);
    let log = capture_stderr(&mut child);

    let got = wait_requests(&server, 4, Duration::from_secs(30)).await;
    for r in &got {
        assert_eq!(r.method.as_str(), "GET");
        assert_eq!(r.url.path(), CHECK);
        let ua = r.headers["user-agent"].to_str().unwrap();
        assert!(ua.starts_with("pulse/"), "{ua}");
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the daemon is still running"
    );
    wait_for(
        Duration::from_secs(10),
        "the refused ping in the log",
        || {
            let l = log.lock().unwrap();
            (l.contains("heartbeat ping failed") && l.contains("HTTP 500")).then_some(())
        },
    );
    {
        let l = log.lock().unwrap();
        assert!(l.contains("heartbeat ping works again"), "{l}");
        assert!(
            !l.contains("5bf66975"),
            "the check URL is a credential and is not logged: {l}"
        );
    }
    sigterm(&child);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn post_heartbeat_sends_a_status_line_and_stops_on_shutdown() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHECK))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let cfg: HealthConfig = toml::from_str(&format!(
        "heartbeat_url = \"{}{CHECK}\"\nheartbeat_interval = \"1s\"\nheartbeat_method = \"post\"\n",
        server.uri()
    ))
    .unwrap();
    assert!(cfg.validate().is_empty());
    let hb = Heartbeat::new(&cfg, "pulse/test")
        .unwrap()
        .expect("configured");
    assert_eq!(hb.ping().await.unwrap(), 200);
    let token = CancellationToken::new();
    let task = tokio::spawn(hb.run(token.clone()));
    let got = wait_requests(&server, 3, Duration::from_secs(10)).await;
    let body = String::from_utf8(got[1].body.clone()).unwrap();
    assert!(
        body.starts_with("pulse ") && body.contains("is running"),
        "{body}"
    );
    token.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("heartbeat stops on shutdown")
        .unwrap();

    // Nothing listening: an error naming only the host, never a panic.
    let dead: HealthConfig =
        toml::from_str("heartbeat_url = \"http://127.0.0.1:9/ping/secret-uuid\"\n").unwrap();
    let err = Heartbeat::new(&dead, "pulse/test")
        .unwrap()
        .unwrap()
        .ping()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("127.0.0.1:9") && !err.contains("secret-uuid"),
        "{err}"
    );
    // Not configured: no heartbeat.
    assert!(Heartbeat::new(&HealthConfig::default(), "pulse/test")
        .unwrap()
        .is_none());
}
