//! The Alertmanager channel against a local server standing in for Alertmanager's
//! `POST /api/v2/alerts`: the body is read into a strict mirror of the API's documented
//! `postableAlerts` schema (api/v2/openapi.yaml: an array of {labels, annotations,
//! startsAt, endsAt, generatorURL}; label sets are string → string; label names follow
//! Prometheus' rules) and then checked field by field; active alerts are re-sent every
//! `resend_interval` with `endsAt` in the future, and a resolved alert carries its resolve
//! time as `endsAt`.

mod alert_support;

use alert_support::{config, history, hours};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use pulse::alert::AlertEngine;
use pulse::health::{HealthFinding, Severity};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// `postableAlert` as Alertmanager's OpenAPI document defines it; unknown fields refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PostableAlert {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    #[serde(rename = "startsAt")]
    starts_at: DateTime<Utc>,
    #[serde(rename = "endsAt")]
    ends_at: DateTime<Utc>,
    #[serde(rename = "generatorURL")]
    generator_url: String,
}

fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every POST received so far, checked against the API's rules.
async fn posted(server: &MockServer) -> Vec<PostableAlert> {
    let mut out = Vec::new();
    for r in server.received_requests().await.unwrap() {
        assert_eq!(r.method.as_str(), "POST");
        assert_eq!(r.url.path(), "/am/api/v2/alerts");
        assert_eq!(
            r.headers["content-type"].to_str().unwrap(),
            "application/json"
        );
        let expected = format!("Basic {}", STANDARD.encode("pulse:s3cret"));
        assert_eq!(r.headers["authorization"].to_str().unwrap(), expected);
        let batch: Vec<PostableAlert> = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
            panic!(
                "not a postableAlerts array ({e}): {}",
                String::from_utf8_lossy(&r.body)
            )
        });
        assert_eq!(batch.len(), 1);
        for a in batch {
            assert!(!a.labels.is_empty(), "at least one label is required");
            for (k, v) in a.labels.iter().chain(a.annotations.iter()) {
                assert!(valid_label_name(k), "invalid label name {k}");
                assert!(!v.is_empty(), "empty value for {k}");
            }
            assert!(a.ends_at >= a.starts_at, "endsAt before startsAt");
            let u = url::Url::parse(&a.generator_url).expect("generatorURL is a URI");
            assert!(matches!(u.scheme(), "http" | "https"));
            out.push(a);
        }
    }
    out
}

fn am_config(base: &str) -> pulse::config::Config {
    config(&format!(
        r#"
[api]
listen = "127.0.0.1:7979"

[[products]]
name = "Widget"

[[channels]]
name = "am"
type = "alertmanager"
url = "{base}/am/"
username = "pulse"
password = "s3cret"
resend_interval = "1m"
timeout = "2s"
"#
    ))
}

/// An Alertmanager answering every POST with `response`, and an engine over `data` whose
/// one channel is that Alertmanager (the temporary directory holds the engine's database).
async fn am_engine(
    response: ResponseTemplate,
    data: pulse::alert::MemoryData,
) -> (MockServer, tempfile::TempDir, sled::Db, AlertEngine) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/am/api/v2/alerts"))
        .respond_with(response)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path().join("db")).unwrap();
    let cfg = am_config(&server.uri());
    let engine = AlertEngine::with_data(&cfg, db.clone(), Arc::new(data)).unwrap();
    (server, dir, db, engine)
}

fn finding() -> HealthFinding {
    HealthFinding {
        check: "source_failing".into(),
        severity: Severity::Critical,
        subject: "news".into(),
        since: Some(hours(70)),
        message: "source `news` has failed for 3h (18 polls in a row): https://news.example answered HTTP 500".into(),
        action: "check the platform's status and the URL or credentials in the config".into(),
    }
}

#[tokio::test]
async fn health_alert_is_posted_in_the_documented_shape_resent_while_active_then_resolved() {
    let (server, _dir, _db, mut engine) =
        am_engine(ResponseTemplate::new(200), pulse::alert::MemoryData::new()).await;

    let t = hours(73);
    let r = engine.raise_health(&[finding()], t).unwrap();
    assert_eq!(r.fired.len(), 1);
    // No [[routes]]: every channel; the first notification waits out group_wait (30s).
    assert_eq!(
        engine
            .deliver(t + Duration::seconds(10))
            .await
            .unwrap()
            .delivered,
        0
    );
    let sent_at = t + Duration::seconds(31);
    assert_eq!(engine.deliver(sent_at).await.unwrap().delivered, 1);

    let got = posted(&server).await;
    assert_eq!(got.len(), 1);
    let a = &got[0];
    let labels: Vec<(&str, &str)> = a
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("alertname", "pulse_health"),
            ("check", "source_failing"),
            ("department", "it"),
            ("product", "Pulse"),
            ("severity", "critical"),
            ("signal", "pulse_health"),
            ("source", "pulse"),
            ("subject", "news"),
        ]
    );
    assert_eq!(
        a.annotations["summary"],
        "Pulse health: source failing: news"
    );
    assert_eq!(a.annotations["problem"], finding().message);
    assert_eq!(a.annotations["action"], finding().action);
    assert!(a.annotations["description"].contains("What to do: check the platform"));
    assert_eq!(a.annotations["since"], "2026-03-03T22:00:00.000Z");
    assert!(a.annotations["alert_id"].starts_with("alt_"));
    assert_eq!(a.starts_at, t);
    // Active: endsAt four resend intervals ahead, so Alertmanager keeps it firing.
    assert_eq!(a.ends_at, sent_at + Duration::minutes(4));
    assert_eq!(a.generator_url, "http://127.0.0.1:7979/api/status");

    // Before the resend interval: nothing; after it: the same alert again, later endsAt.
    engine
        .deliver(sent_at + Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(posted(&server).await.len(), 1);
    let resend_at = sent_at + Duration::seconds(61);
    engine.deliver(resend_at).await.unwrap();
    let got = posted(&server).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].labels, got[0].labels, "labels identify the alert");
    assert_eq!(got[1].starts_at, t);
    assert_eq!(got[1].ends_at, resend_at + Duration::minutes(4));

    // Resolved: endsAt = the resolve time; re-sent for a few minutes, then no more.
    let resolved_at = t + Duration::minutes(10);
    let r = engine.raise_health(&[], resolved_at).unwrap();
    assert_eq!(r.resolved.len(), 1);
    engine.deliver(resolved_at).await.unwrap();
    let got = posted(&server).await;
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].labels, got[0].labels);
    assert_eq!(got[2].starts_at, t);
    assert_eq!(got[2].ends_at, resolved_at);
    assert!(got[2].annotations["summary"].starts_with("Resolved: "));
    engine
        .deliver(resolved_at + Duration::seconds(61))
        .await
        .unwrap();
    let got = posted(&server).await;
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].ends_at, resolved_at);
    engine
        .deliver(resolved_at + Duration::minutes(20))
        .await
        .unwrap();
    assert_eq!(
        posted(&server).await.len(),
        4,
        "resolved alerts stop after 5 minutes"
    );
}

#[tokio::test]
async fn product_alert_carries_stable_labels_and_numbers_as_annotations() {
    let (server, _dir, _db, mut engine) =
        am_engine(ResponseTemplate::new(200), history(100, Some(72))).await;
    engine.tick(hours(60)).await.unwrap();
    let r = engine.tick(hours(73)).await.unwrap();
    assert!(!r.fired.is_empty());
    engine
        .tick(hours(73) + Duration::seconds(31))
        .await
        .unwrap();
    let got = posted(&server).await;
    assert_eq!(got.len(), r.fired.len(), "one POST per alert");
    let outage = got
        .iter()
        .find(|a| a.labels.get("aspect").map(String::as_str) == Some("outage"))
        .expect("the IT outage alert");
    assert_eq!(outage.labels["alertname"], "aspect_spike");
    assert_eq!(outage.labels["product"], "Widget");
    assert_eq!(outage.labels["department"], "it");
    assert_eq!(outage.labels["direction"], "up");
    assert!(
        outage
            .labels
            .values()
            .all(|v| !v.chars().any(|c| c.is_ascii_digit())),
        "no changing numbers in labels: {:?}",
        outage.labels
    );
    assert!(outage.annotations["mentions"].parse::<u64>().unwrap() >= 60);
    assert!(outage.annotations["examples"].contains("Widget outage again"));
    assert_eq!(outage.starts_at, hours(73));
    assert!(outage.ends_at > hours(73) + Duration::seconds(31));
    assert_eq!(
        outage.generator_url,
        "http://127.0.0.1:7979/products/Widget"
    );
}

#[tokio::test]
async fn a_400_from_alertmanager_is_a_permanent_failure_with_its_reason() {
    let (_server, _dir, db, mut engine) = am_engine(
        ResponseTemplate::new(400).set_body_string("start time missing"),
        pulse::alert::MemoryData::new(),
    )
    .await;
    let t = hours(73);
    engine.raise_health(&[finding()], t).unwrap();
    let r = engine.deliver(t + Duration::seconds(31)).await.unwrap();
    assert_eq!(r.failed, 1);
    let entries = pulse::alert::engine::list_outbox(&db).unwrap();
    let err = entries[0].last_error.clone().unwrap();
    assert!(
        err.contains("HTTP 400") && err.contains("start time missing"),
        "{err}"
    );
    assert!(!err.contains("s3cret"));
}
