//! `pulse alerts`, `pulse alerts test CHANNEL` and `pulse silence` through the real binary.

mod alert_support;

use alert_support::*;
use pulse::alert::AlertEngine;
use pulse::store::Store;
use std::path::Path;
use std::process::{Command, Output};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn pulse(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pulse"))
        .current_dir(dir)
        .env_remove("PULSE_CONFIG")
        .arg("--config")
        .arg(dir.join("config.toml"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
async fn alerts_test_reports_the_http_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T/B/x"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/broken"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no_service"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[store]\npath = \"db\"\n[[products]]\nname = \"Widget\"\n[[channels]]\nname = \"team-slack\"\ntype = \"slack\"\nurl = \"{0}/services/T/B/x\"\n[[channels]]\nname = \"old\"\ntype = \"slack\"\nurl = \"{0}/broken\"\n",
            server.uri()
        ),
    )
    .unwrap();
    let o = pulse(
        dir.path(),
        &["alerts", "test", "team-slack", "--department", "it"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("team-slack (slack): delivered, HTTP 200 ok"),
        "{}",
        text(&o)
    );
    let body: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert!(body["text"]
        .as_str()
        .unwrap()
        .contains("Pulse test message for it"));

    let o = pulse(dir.path(), &["alerts", "test", "old"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("HTTP 404: no_service"), "{}", text(&o));
    let o = pulse(dir.path(), &["alerts", "test", "nope"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("no channel named `nope`"), "{}", text(&o));
}

#[tokio::test]
async fn alerts_list_and_silences() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg_text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alerts/two_departments.toml"),
    )
    .unwrap()
    .replace("{base}", &server.uri())
    .replace("{secret}", SECRET);
    std::fs::write(dir.path().join("config.toml"), &cfg_text).unwrap();
    {
        let store = Store::open(&dir.path().join("db")).unwrap();
        store
            .insert_batch(&history_records(80, Some(72)), true)
            .unwrap();
        let cfg = config(&cfg_text);
        let mut engine = AlertEngine::new(&cfg, store.clone()).unwrap();
        engine.tick(hours(60)).await.unwrap();
        engine.tick(hours(73)).await.unwrap();
        engine.db().flush().unwrap();
    }

    let o = pulse(dir.path(), &["alerts", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(rows.len() >= 3, "{rows:?}");
    for r in &rows {
        for key in [
            "alert_id",
            "at",
            "product",
            "signal",
            "department",
            "channel",
            "delivery",
            "attempts",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        assert_eq!(r["delivery"], "delivered");
        assert_eq!(r["at"], "2026-03-04T01:00:00Z");
    }
    assert!(rows
        .iter()
        .any(|r| r["department"] == "it" && r["channel"] == "it" && r["aspect"] == "outage"));
    assert!(rows
        .iter()
        .any(|r| r["department"] == "marketing" && r["channel"] == "mkt"));
    let o = pulse(
        dir.path(),
        &["alerts", "--since", "2026-03-05", "--format", "json"],
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(rows.is_empty());

    let o = pulse(
        dir.path(),
        &[
            "silence",
            "add",
            "product=Widget",
            "department=it",
            "--for",
            "2h",
            "--comment",
            "maintenance",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("silenced product=Widget department=it until"),
        "{}",
        text(&o)
    );
    let o = pulse(dir.path(), &["silence", "list", "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["matchers"], "department=it product=Widget");
    assert_eq!(rows[0]["active"], true);
    assert_eq!(rows[0]["comment"], "maintenance");
    let o = pulse(dir.path(), &["silence", "add", "colour=red"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("unknown label `colour`"), "{}", text(&o));
}
