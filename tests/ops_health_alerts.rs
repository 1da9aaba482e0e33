//! `pulse_health` alerts through the alert engine, against signed webhook receivers on
//! 127.0.0.1. Time is offset rather than waited for: the source really polls a local feed
//! (status stamped with the wall clock), and the engine is driven at "wall clock + 61
//! minutes", so a source failing past the one-hour threshold takes milliseconds.

mod alert_support;

use alert_support::{config as parse, header, history, hours, verify, SECRET};
use chrono::{DateTime, Duration, Utc};
use pulse::alert::AlertEngine;
use pulse::config::Config;
use pulse::daemon::{poll_source, SourceRuntime};
use pulse::pipeline::Pipeline;
use pulse::sources::HttpClient;
use pulse::store::Store;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Accepting receiver on `route`, answering 204.
async fn accept(server: &MockServer, route: &str) {
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(204))
        .mount(server)
        .await;
}

/// JSON bodies received on `route`, every signature verified as a receiver would.
async fn bodies(server: &MockServer, route: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == route)
        .map(|r| {
            assert!(
                verify(
                    header(&r, "webhook-id"),
                    header(&r, "webhook-timestamp"),
                    header(&r, "webhook-signature"),
                    &r.body
                ),
                "signature does not verify"
            );
            serde_json::from_slice(&r.body).unwrap()
        })
        .collect()
}

fn of_type<'a>(bodies: &'a [Value], t: &str) -> Vec<&'a Value> {
    bodies.iter().filter(|b| b["type"] == t).collect()
}

fn webhook(name: &str, base: &str, route: &str) -> String {
    format!(
        "[[channels]]\nname = \"{name}\"\ntype = \"webhook\"\nurl = \"{base}{route}\"\nsecret = \"{SECRET}\"\ntimeout = \"2s\"\n\n"
    )
}

/// A route waiting 30s, then grouping for 5m.
fn route(department: &str, channels: &[&str]) -> String {
    timed_route(department, channels, "30s", "5m")
}

fn timed_route(department: &str, channels: &[&str], wait: &str, interval: &str) -> String {
    let list: Vec<String> = channels.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        "[[routes]]\ndepartment = \"{department}\"\nchannels = [{}]\ngroup_wait = \"{wait}\"\ngroup_interval = \"{interval}\"\nrepeat_interval = \"12h\"\n\n",
        list.join(", ")
    )
}

/// Receivers `/it` and `/mkt` accept; the feed at `/feed.xml` answers `response`.
async fn it_mkt_and_feed(server: &MockServer, response: ResponseTemplate) {
    accept(server, "/it").await;
    accept(server, "/mkt").await;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .respond_with(response)
        .named("feed")
        .mount(server)
        .await;
}

/// Forget what was received; the receivers accept and the feed works again.
async fn recover(server: &MockServer) {
    server.reset().await;
    it_mkt_and_feed(
        server,
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/rss+xml")
            .set_body_string(FEED),
    )
    .await;
}

/// `[health]` keys that keep the disk-space check quiet unless the disk is completely
/// full: these tests count health alerts exactly, and must not depend on how full the
/// disk of the machine running them is.
const NO_DISK_CHECK: &str = "disk_free_fraction = 0.000001\ndisk_free_bytes = \"1\"\n";

const FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Widget news</title><link>https://news.example/</link>
<description>news</description>
<item><title>Widget 2.0 is out</title><link>https://news.example/1</link><guid>https://news.example/1</guid>
<pubDate>Mon, 23 Nov 2026 06:00:00 GMT</pubDate><description>Widget works great</description></item>
</channel></rss>"#;

#[tokio::test]
async fn a_source_failing_past_the_threshold_raises_one_it_alert_then_one_resolved() {
    let server = MockServer::start().await;
    it_mkt_and_feed(
        &server,
        ResponseTemplate::new(500).set_body_string("upstream down"),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let base = server.uri();
    let cfg = parse(&format!(
        "[store]\npath = \"{}\"\n\n[http]\nmax_retries = 0\ntimeout = \"2s\"\n\n[health]\ncheck_every = \"1m\"\n{NO_DISK_CHECK}\n\
         [[products]]\nname = \"Widget\"\n\n\
         [[sources]]\ntype = \"rss\"\nname = \"news\"\ninterval = \"10m\"\nurl = \"{base}/feed.xml\"\n\n{}{}{}{}",
        dir.path().join("db").display(),
        webhook("it", &base, "/it"),
        webhook("mkt", &base, "/mkt"),
        route("marketing", &["mkt"]),
        route("it", &["it"]),
    ));
    let store = Store::open(&cfg.store.path).unwrap();
    let classifier = pulse::sentiment::build(&cfg.classifier).unwrap();
    let pipeline = Pipeline::new(&cfg, store.clone(), classifier);
    let http = HttpClient::new(&cfg.http).unwrap();
    let rt = SourceRuntime {
        entry: cfg.sources[0].clone(),
        source: cfg.sources[0].kind.build().unwrap(),
    };
    let metrics = pulse::metrics::Metrics::new();
    let mut engine = AlertEngine::new(&cfg, store.clone())
        .unwrap()
        .with_metrics(metrics.clone());

    // The source fails for real against the local server.
    let polled = poll_source(&rt, &pipeline, &http, std::time::Duration::from_secs(10)).await;
    assert!(polled.error.is_some(), "{polled:?}");
    let t0 = Utc::now();
    let at = |mins: i64| t0 + Duration::minutes(mins);

    // Under the threshold: nothing.
    let r = engine.health_tick(at(30)).await.unwrap();
    assert!(r.fired.is_empty(), "{r:?}");
    // Past it: one alert, sent after group_wait, to IT only; later passes add nothing.
    let r = engine.health_tick(at(61)).await.unwrap();
    assert_eq!(r.fired.len(), 1, "{r:?}");
    for m in [62, 63, 70, 90] {
        let r = engine.health_tick(at(m)).await.unwrap();
        assert!(r.fired.is_empty() && r.resolved.is_empty(), "{r:?}");
    }
    let it = bodies(&server, "/it").await;
    assert_eq!(it.len(), 1, "{it:#?}");
    assert!(bodies(&server, "/mkt").await.is_empty());
    let fired = &it[0];
    assert_eq!(fired["type"], "pulse_health.firing");
    let d = &fired["data"];
    assert_eq!(d["labels"]["signal"], "pulse_health");
    assert_eq!(d["labels"]["department"], "it");
    assert_eq!(d["labels"]["severity"], "critical");
    assert_eq!(d["health"]["check"], "source_failing");
    assert_eq!(d["health"]["subject"], "news");
    let problem = d["health"]["problem"].as_str().unwrap();
    assert!(
        problem.contains("source `news` has failed for 1h"),
        "{problem}"
    );
    assert!(problem.contains("HTTP 500"), "{problem}");
    assert!(d["health"]["action"]
        .as_str()
        .unwrap()
        .contains("pulse poll --once"));
    assert_eq!(d["title"], "Pulse health: source failing: news");

    // The platform recovers: the next poll succeeds and the alert resolves once.
    recover(&server).await;
    let polled = poll_source(&rt, &pipeline, &http, std::time::Duration::from_secs(10)).await;
    assert!(polled.error.is_none(), "{polled:?}");
    let r = engine.health_tick(at(91)).await.unwrap();
    assert_eq!(r.resolved.len(), 1, "{r:?}");
    for m in [92, 100, 200] {
        let r = engine.health_tick(at(m)).await.unwrap();
        assert!(r.fired.is_empty() && r.resolved.is_empty(), "{r:?}");
    }
    let it = bodies(&server, "/it").await;
    assert_eq!(it.len(), 1, "exactly one resolved message: {it:#?}");
    assert_eq!(it[0]["type"], "pulse_health.resolved");
    assert_eq!(it[0]["data"]["alert_id"], fired["data"]["alert_id"]);
    assert!(it[0]["data"]["summary"]
        .as_str()
        .unwrap()
        .contains("`news` is healthy again"));
    assert!(bodies(&server, "/mkt").await.is_empty());

    // The alert engine counts what it raised and delivered (issue 6's metrics).
    let text = metrics.render(&store, &cfg, at(200)).unwrap();
    assert!(
        text.contains(
            "pulse_alerts_raised_total{product=\"Pulse\",signal=\"pulse_health\",severity=\"critical\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("pulse_alert_deliveries_total{channel=\"it\",outcome=\"delivered\"} 2"),
        "{text}"
    );
}

/// Three channels: `it` fails, `ops` shares IT's route, `mkt` is marketing's.
fn channel_failure_config(base: &str, it_route: &[&str]) -> Config {
    parse(&format!(
        "[[products]]\nname = \"Widget\"\n\n[health]\nchannel_failures = 3\n{NO_DISK_CHECK}\n{}{}{}{}{}",
        webhook("it", base, "/it"),
        webhook("ops", base, "/ops"),
        webhook("mkt", base, "/mkt"),
        route("marketing", &["mkt"]),
        route("it", it_route),
    ))
}

async fn failing_channel_run(it_route: &[&str], reported_on: &str, silent: &str) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/it"))
        .respond_with(ResponseTemplate::new(500).set_body_string("receiver broken"))
        .named("it down")
        .mount(&server)
        .await;
    accept(&server, "/ops").await;
    accept(&server, "/mkt").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = channel_failure_config(&server.uri(), it_route);
    let db = sled::open(dir.path().join("db")).unwrap();
    // A real outage in the history gives IT an alert to deliver (and fail to).
    let metrics = pulse::metrics::Metrics::new();
    let mut engine = AlertEngine::with_data(&cfg, db, Arc::new(history(100, Some(72))))
        .unwrap()
        .with_metrics(metrics.clone());
    engine.options.retry_base = std::time::Duration::from_secs(60);
    engine.options.retry_max = std::time::Duration::from_secs(120);
    engine.tick(hours(60)).await.unwrap();
    let start: DateTime<Utc> = hours(73);
    let mut now = start;
    let r = engine.tick(now).await.unwrap();
    assert!(!r.fired.is_empty(), "the outage fires: {r:?}");
    for _ in 0..12 {
        now += Duration::minutes(3);
        engine.tick(now).await.unwrap();
        engine.health_tick(now).await.unwrap();
    }
    let got = bodies(&server, reported_on).await;
    let alerts = of_type(&got, "pulse_health.firing");
    assert_eq!(alerts.len(), 1, "{got:#?}");
    let h = &alerts[0]["data"]["health"];
    assert_eq!(h["check"], "channel_failing");
    assert_eq!(h["subject"], "it");
    assert!(h["problem"]
        .as_str()
        .unwrap()
        .contains("failed its last 3 delivery attempts"));
    assert!(h["action"]
        .as_str()
        .unwrap()
        .contains("pulse alerts test it"));
    // Never through the failing channel itself, nor to anyone else.
    let it_bodies: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/it")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert!(it_bodies.len() >= 3, "the IT alert was retried");
    assert!(of_type(&it_bodies, "pulse_health.firing").is_empty());
    assert!(of_type(&bodies(&server, silent).await, "pulse_health.firing").is_empty());

    // The channel works again: its pending alert goes out and the health alert resolves.
    server.reset().await;
    accept(&server, "/it").await;
    accept(&server, "/ops").await;
    accept(&server, "/mkt").await;
    for _ in 0..6 {
        now += Duration::minutes(3);
        engine.tick(now).await.unwrap();
        engine.health_tick(now).await.unwrap();
    }
    let it_now = bodies(&server, "/it").await;
    assert!(
        of_type(&it_now, "aspect_spike.firing").len() == 1,
        "{it_now:#?}"
    );
    let got = bodies(&server, reported_on).await;
    let resolved = of_type(&got, "pulse_health.resolved");
    assert_eq!(resolved.len(), 1, "{got:#?}");
    assert_eq!(resolved[0]["data"]["health"]["subject"], "it");

    // Product alerts and failed attempts are counted too.
    let store = Store::open(&dir.path().join("metrics-store")).unwrap();
    let text = metrics.render(&store, &cfg, now).unwrap();
    assert!(
        text.contains("pulse_alerts_raised_total{product=\"Widget\",signal=\"aspect_spike\",severity=\"critical\"} 1"),
        "{text}"
    );
    let retries = text
        .lines()
        .find(|l| l.starts_with("pulse_alert_deliveries_total{channel=\"it\",outcome=\"retry\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(retries >= 3.0, "{text}");
}

#[tokio::test]
async fn a_failing_channel_is_reported_through_the_other_channel_of_its_route() {
    failing_channel_run(&["it", "ops"], "/ops", "/mkt").await;
}

#[tokio::test]
async fn a_failing_channel_alone_on_its_route_is_reported_through_every_other_channel() {
    // IT's route has only the broken channel: the report goes to the others rather than nowhere.
    failing_channel_run(&["it"], "/ops", "/it").await;
    failing_channel_run(&["it"], "/mkt", "/it").await;
}

#[test]
fn health_config_problems_are_reported_with_their_keys_and_lines() {
    let text = "[[products]]\nname = \"Widget\"\n\n[health]\nsource_failing_for = \"5s\"\nheartbeat_url = \"ftp://hc.example/ping\"\n";
    let err = Config::parse(text, Path::new("test.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 problem(s)"), "{err}");
    assert!(
        err.contains("line 5: `health.source_failing_for`: must be at least 1m"),
        "{err}"
    );
    assert!(err.contains("line 6: `health.heartbeat_url`"), "{err}");
    let err = Config::parse(
        "[[products]]\nname = \"Widget\"\n[health]\nstore_max_bytes = \"12 parsecs\"\n",
        Path::new("test.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("line 4: `health.store_max_bytes`: unknown size unit `parsecs`"),
        "{err}"
    );
    let err = Config::parse(
        "[[products]]\nname = \"Widget\"\n[health]\nheartbeat = \"x\"\n",
        Path::new("test.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("`health.heartbeat`: unknown field"), "{err}");
    let ok = parse("[[products]]\nname = \"Widget\"\n[health]\nstore_max_bytes = \"20GiB\"\nheartbeat_url = \"https://hc-ping.com/uuid\"\nheartbeat_method = \"post\"\n");
    assert_eq!(ok.health.store_max_bytes, Some(20 << 30));
    assert_eq!(ok.health.source_failing_for.as_secs(), 3600, "default 1h");
}

/// The same through the real daemon: its engine clock runs 2 h ahead
/// (`PULSE_ALERT_CLOCK_OFFSET`), so the source's first failed poll is already "2 h old".
#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_reports_a_failing_source_to_it_once_and_its_recovery_once() {
    let server = MockServer::start().await;
    it_mkt_and_feed(
        &server,
        ResponseTemplate::new(503).set_body_string("maintenance"),
    )
    .await;
    let base = server.uri();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[store]\npath = \"data/pulse.db\"\n\n[api]\nlisten = \"127.0.0.1:0\"\n\n[http]\nmax_retries = 0\ntimeout = \"2s\"\n\n\
         [health]\ncheck_every = \"1s\"\n{NO_DISK_CHECK}\n[[products]]\nname = \"Widget\"\n\n\
         [[sources]]\ntype = \"rss\"\nname = \"news\"\ninterval = \"10s\"\nurl = \"{base}/feed.xml\"\n\n{}{}{}{}",
        webhook("it", &base, "/it"),
        webhook("mkt", &base, "/mkt"),
        timed_route("marketing", &["mkt"], "1s", "1s"),
        timed_route("it", &["it"], "1s", "1s"),
    );
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pulse"))
        .current_dir(dir.path())
        .env_remove("PULSE_CONFIG")
        .env("RUST_LOG", "info")
        .env("PULSE_ALERT_CLOCK_OFFSET", "2h")
        .args(["--config", "config.toml", "run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    let wait = |route: &'static str, kind: &'static str| {
        let server = &server;
        async move {
            let start = std::time::Instant::now();
            loop {
                let got = bodies(server, route).await;
                if got.iter().any(|b| b["type"] == kind) {
                    return got;
                }
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(40),
                    "no {kind} on {route}: {got:#?}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    };
    let it = wait("/it", "pulse_health.firing").await;
    assert_eq!(it.len(), 1, "{it:#?}");
    assert_eq!(it[0]["data"]["health"]["check"], "source_failing");
    assert_eq!(it[0]["data"]["health"]["subject"], "news");

    // Recovery: the feed answers again; the next poll succeeds and the alert resolves.
    recover(&server).await;
    let it = wait("/it", "pulse_health.resolved").await;
    // A few more health passes: nothing new.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let it_after = bodies(&server, "/it").await;
    assert_eq!(it_after.len(), 1, "{it_after:#?}");
    assert_eq!(it[0]["data"]["health"]["subject"], "news");
    assert!(bodies(&server, "/mkt").await.is_empty());
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    assert!(child.wait().unwrap().success());
}
