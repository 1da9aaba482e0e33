//! Every HTTP channel against a local wiremock server: request shape (method, path,
//! headers), payload snapshots (insta), per-channel escaping and limits, status handling
//! (2xx variants, 429 hints, permanent 4xx, redirects not followed) and the Standard
//! Webhooks signature verified independently.

mod alert_support;

use alert_support::*;
use chrono::TimeZone;
use pulse::alert::engine::send;
use pulse::alert::{delivery, ChannelConfig, Delivered, DeliveryError, Department, Message};
use std::time::Duration;
use wiremock::matchers::{body_string_contains, header as h, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn channel(toml_entry: &str) -> ChannelConfig {
    let cfg = config(&format!(
        "[[products]]\nname = \"ACME Phone\"\n\n[[channels]]\nname = \"c\"\n{toml_entry}\n"
    ));
    cfg.channels[0].kind.clone()
}

async fn deliver(ch: &ChannelConfig, m: &Message) -> Result<Delivered, DeliveryError> {
    let http = delivery::http_client("pulse-test").unwrap();
    let now = chrono::Utc.with_ymd_and_hms(2026, 3, 14, 9, 30, 5).unwrap();
    send(ch, &http, m, "msg_01JPX3M8Q4ACMEPHONE6H", now).await
}

async fn only_body(server: &MockServer) -> serde_json::Value {
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1, "exactly one request");
    serde_json::from_slice(&reqs[0].body).unwrap()
}

#[tokio::test]
async fn slack_blocks_escaped_and_ok_body_required() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T1/B2/xyz"))
        .and(h("content-type", "application/json; charset=utf-8"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let ch = channel(&format!(
        "type = \"slack\"\nurl = \"{}/services/T1/B2/xyz\"",
        server.uri()
    ));
    let d = deliver(&ch, &hostile_message(Department::Marketing))
        .await
        .unwrap();
    assert_eq!(d.status, 200);
    let body = only_body(&server).await;
    let text = body.to_string();
    assert!(!text.contains("<!channel>") && !text.contains("<!here>"));
    assert!(text.contains("&lt;!channel&gt;"));
    assert!(!text.contains("javascript:"));
    for b in body["blocks"].as_array().unwrap() {
        if let Some(t) = b["text"]["text"].as_str() {
            assert!(t.chars().count() <= 3000);
        }
    }
    insta::assert_json_snapshot!("slack_payload", body);

    // 200 with another body is Slack reporting an error.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("invalid_blocks"))
        .mount(&server)
        .await;
    let ch = channel(&format!("type = \"slack\"\nurl = \"{}/s\"", server.uri()));
    let e = deliver(&ch, &hostile_message(Department::Marketing))
        .await
        .unwrap_err();
    assert!(
        !e.is_retryable() && e.to_string().contains("invalid_blocks"),
        "{e}"
    );

    // 404 no_service: permanent, and the secret path is not in the message.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no_service"))
        .mount(&server)
        .await;
    let ch = channel(&format!(
        "type = \"slack\"\nurl = \"{}/services/SECRET\"",
        server.uri()
    ));
    let e = deliver(&ch, &hostile_message(Department::Marketing))
        .await
        .unwrap_err();
    assert!(!e.is_retryable());
    assert!(!e.to_string().contains("SECRET"), "{e}");
}

#[tokio::test]
async fn discord_embed_without_mentions_and_429_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/webhooks/1/tok"))
        .and(query_param("wait", "true"))
        .and(h("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "1"})))
        .expect(1)
        .mount(&server)
        .await;
    let ch = channel(&format!(
        "type = \"discord\"\nurl = \"{}/api/webhooks/1/tok\"",
        server.uri()
    ));
    deliver(&ch, &hostile_message(Department::It))
        .await
        .unwrap();
    let body = only_body(&server).await;
    assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
    let embed = &body["embeds"][0];
    let desc = embed["description"].as_str().unwrap();
    assert!(!desc.contains("@everyone"));
    assert!(desc.chars().count() <= 4096);
    let total: usize = ["title", "description"]
        .iter()
        .map(|k| embed[k].as_str().unwrap().chars().count())
        .sum::<usize>()
        + embed["footer"]["text"].as_str().unwrap().chars().count();
    assert!(total <= 6000);
    insta::assert_json_snapshot!("discord_payload", body);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(serde_json::json!({"message": "You are being rate limited.", "retry_after": 0.5, "global": false})),
        )
        .mount(&server)
        .await;
    let ch = channel(&format!(
        "type = \"discord\"\nurl = \"{}/api/webhooks/1/tok\"",
        server.uri()
    ));
    let e = deliver(&ch, &hostile_message(Department::It))
        .await
        .unwrap_err();
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_millis(500)));
}

#[tokio::test]
async fn teams_adaptive_card_accepts_202() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/workflows/abc"))
        .and(query_param("sig", "s3cr3t"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let ch = channel(&format!(
        "type = \"teams\"\nurl = \"{}/workflows/abc?sig=s3cr3t\"",
        server.uri()
    ));
    let d = deliver(&ch, &hostile_message(Department::It))
        .await
        .unwrap();
    assert_eq!(d.status, 202);
    let body = only_body(&server).await;
    assert!(serde_json::to_vec(&body).unwrap().len() < 28 * 1024);
    let card = &body["attachments"][0]["content"];
    assert_eq!(card["version"], "1.2");
    let runs: Vec<&serde_json::Value> = card["body"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "RichTextBlock")
        .collect();
    assert_eq!(runs.len(), 3, "examples go in TextRuns");
    insta::assert_json_snapshot!("teams_payload", body);
}

#[tokio::test]
async fn ntfy_json_publish_with_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(h("authorization", "Bearer tk_test"))
        .and(body_string_contains("\"topic\":\"pulse-alerts\""))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"id": "hwQ2YpKdmg", "event": "message"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let ch = channel(&format!(
        "type = \"ntfy\"\nserver = \"{}/\"\ntopic = \"pulse-alerts\"\ntoken = \"tk_test\"",
        server.uri()
    ));
    deliver(&ch, &hostile_message(Department::Marketing))
        .await
        .unwrap();
    let body = only_body(&server).await;
    assert!(body["message"].as_str().unwrap().len() <= 4096);
    assert!(body["click"].as_str().unwrap().starts_with("https://"));
    insta::assert_json_snapshot!("ntfy_payload", body);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_json(serde_json::json!({"code": 42901, "http": 429, "error": "limit reached: too many requests"})))
        .mount(&server)
        .await;
    let ch = channel(&format!(
        "type = \"ntfy\"\nserver = \"{}/\"\ntopic = \"t\"",
        server.uri()
    ));
    let e = deliver(&ch, &hostile_message(Department::Marketing))
        .await
        .unwrap_err();
    assert!(e.is_retryable() && e.retry_after().is_none());
}

#[tokio::test]
async fn standard_webhook_signed_and_verified_independently() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .and(h("webhook-id", "msg_01JPX3M8Q4ACMEPHONE6H"))
        .and(h("webhook-timestamp", "1773480605"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let ch = channel(&format!(
        "type = \"webhook\"\nurl = \"{}/hook\"\nsecret = \"{SECRET}\"\nprevious_secret = \"whsec_jbn1GOGHSkxU+ZTXiXRgGciAJz0Rs+6A9HUlxVLdSIU=\"",
        server.uri()
    ));
    deliver(&ch, &hostile_message(Department::Marketing))
        .await
        .unwrap();
    let reqs = server.received_requests().await.unwrap();
    let r = &reqs[0];
    let sig = header(r, "webhook-signature");
    assert_eq!(sig.split(' ').count(), 2, "rotation sends both signatures");
    assert!(verify(
        header(r, "webhook-id"),
        header(r, "webhook-timestamp"),
        sig,
        &r.body
    ));
    // A tampered body does not verify.
    let mut tampered = r.body.clone();
    tampered[10] ^= 1;
    assert!(!verify(
        header(r, "webhook-id"),
        header(r, "webhook-timestamp"),
        sig,
        &tampered
    ));
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], "sentiment_shift.firing");
    insta::assert_json_snapshot!("webhook_payload", body);
}

#[tokio::test]
async fn webhook_gone_redirect_and_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/gone"))
        .respond_with(ResponseTemplate::new(410))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/moved"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/target", server.uri())),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/target"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let m = hostile_message(Department::Marketing);
    let hook = |p: &str| {
        channel(&format!(
            "type = \"webhook\"\nurl = \"{}{p}\"\nsecret = \"{SECRET}\"\ntimeout = \"1s\"",
            server.uri()
        ))
    };
    let e = deliver(&hook("/gone"), &m).await.unwrap_err();
    assert!(!e.is_retryable() && e.to_string().contains("410"), "{e}");
    let e = deliver(&hook("/moved"), &m).await.unwrap_err();
    assert!(
        !e.is_retryable() && e.to_string().contains("redirect"),
        "{e}"
    );
    let e = deliver(&hook("/slow"), &m).await.unwrap_err();
    assert!(
        e.is_retryable() && e.to_string().contains("timed out"),
        "{e}"
    );
}

#[tokio::test]
async fn jsonl_appends_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.jsonl");
    let ch = channel(&format!("type = \"jsonl\"\npath = \"{}\"", file.display()));
    let m = hostile_message(Department::It);
    deliver(&ch, &m).await.unwrap();
    deliver(&ch, &m).await.unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "msg_01JPX3M8Q4ACMEPHONE6H");
    assert_eq!(lines[0]["labels"]["department"], "it");
}
