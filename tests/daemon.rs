//! The real daemon against a local fake source: it stores mentions, answers the CLI
//! through its API while it holds the store, and exits cleanly on SIGTERM.

mod common;
use common::{fixture, sigterm, wait_for, Env};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test(flavor = "multi_thread")]
async fn daemon_polls_stores_serves_and_stops() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/rss+xml")
                .set_body_bytes(std::fs::read(fixture("foundation/feed.xml")).unwrap()),
        )
        .mount(&server)
        .await;
    let config = format!(
        r#"
[store]
path = "data/pulse.db"

[[products]]
name = "Widgetron"

[[sources]]
type = "rss"
name = "news"
interval = "10s"
url = "{}/feed.xml"

[api]
listen = "127.0.0.1:0"
"#,
        server.uri()
    );
    let env = Env::new(&config);
    let mut daemon = env.spawn(&["run"]);

    let env_ref = &env;

    // The daemon holds the store: queries go through its API.
    let rows = wait_for(Duration::from_secs(30), "mentions from the daemon", || {
        let out = env_ref.run(&["mentions", "Widgetron", "--format", "json"]);
        if !out.status.success() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (v.as_array()?.len() == 2).then_some(v)
    });
    assert_eq!(rows[0]["id"], "https://news.example.com/widgetron-outage");
    assert_eq!(rows[0]["source"], "news");
    assert_eq!(rows[1]["text"], "Widgetron 2.0 launches to rave reviews. Users say the new Widgetron is fast and delightful.");
    assert_eq!(rows[0]["label"], "negative");
    assert_eq!(rows[1]["label"], "positive");

    let status = env.json(&["status"]);
    assert_eq!(status["mode"], "daemon");
    assert_eq!(status["daemon_pid"], daemon.id());
    assert_eq!(status["sources"][0]["source"], "news");
    assert!(status["sources"][0]["polls"].as_u64().unwrap() >= 1);
    assert_eq!(status["sources"][0]["stored_total"], 2);
    let products = env.json(&["products"]);
    assert_eq!(products[0]["mentions"], 2);

    sigterm(&daemon);
    let exit = wait_for(Duration::from_secs(25), "daemon exit", || {
        daemon.try_wait().unwrap()
    });
    assert!(exit.success(), "daemon exit status {exit:?}");
    assert!(
        !env.path("data/pulse.db.daemon.json").exists(),
        "daemon info removed"
    );

    // Without a daemon the CLI reads the store itself, and the data is all there.
    let status = env.json(&["status"]);
    assert_eq!(status["mode"], "store");
    let rows = env.json(&["mentions", "Widgetron"]);
    assert_eq!(rows.as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_source_is_counted_and_daemon_keeps_running() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<rss><channel><item>truncated"))
        .mount(&server)
        .await;
    let config = format!(
        "[store]\npath = \"db\"\n[[products]]\nname = \"Widgetron\"\n[[sources]]\ntype = \"rss\"\ninterval = \"10s\"\nurl = \"{}/feed.xml\"\n[api]\nlisten = \"127.0.0.1:0\"\n",
        server.uri()
    );
    let env = Env::new(&config);
    let mut daemon = env.spawn(&["run"]);
    let status = wait_for(Duration::from_secs(30), "a failed poll in status", || {
        let out = env.run(&["status", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (v["sources"][0]["errors"].as_u64()? >= 1).then_some(v)
    });
    let err = status["sources"][0]["last_error"].as_str().unwrap();
    assert!(err.contains("malformed feed"), "{err}");
    assert!(daemon.try_wait().unwrap().is_none(), "daemon still running");
    sigterm(&daemon);
    let exit = wait_for(Duration::from_secs(25), "daemon exit", || {
        daemon.try_wait().unwrap()
    });
    assert!(exit.success());
}
