//! Stack Exchange source against a local server speaking the real `/2.3/search/excerpts`
//! format: gzip bodies, `has_more` paging, `fromdate` cursors, `backoff` and quota.

#[path = "common/sources.rs"]
mod sources;

use pulse::sources::stackexchange::{StackExchange, StackExchangeConfig};
use pulse::sources::{FetchError, Source, SourceError};
use sources::*;
// This platform's first poll looks back a day.
use sources::ctx_with_lookback as ctx;
use std::collections::HashMap;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PATH: &str = "/2.3/search/excerpts";

fn source(server: &MockServer) -> StackExchange {
    let config: StackExchangeConfig = toml::from_str(&format!(
        "base_url = \"{}\"\nsites = [\"stackoverflow\"]\nkey = \"k3y\"",
        server.uri()
    ))
    .unwrap();
    assert!(config.validate().is_empty());
    StackExchange::new(config)
}

/// Stack Exchange compresses every answer whatever the request says.
fn gz(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/json; charset=utf-8")
        .insert_header("content-encoding", "gzip")
        .set_body_bytes(gzip(body.as_bytes()))
}

fn widgetron() -> Vec<pulse::config::ProductConfig> {
    vec![product("Widgetron", &[])]
}

#[tokio::test]
async fn normal_page_is_decoded_and_normalised() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("q", "Widgetron"))
        .and(query_param("site", "stackoverflow"))
        .and(query_param("sort", "creation"))
        .and(query_param("key", "k3y"))
        // First poll looks back one day from "now" (2024-05-01T13:05:00Z).
        .and(query_param("fromdate", "1714482300"))
        .and(query_param("page", "1"))
        .respond_with(gz(200, &fixture("stackexchange/search_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let ctx = ctx("so", widgetron(), HashMap::new());
    let out = source(&server).poll(&ctx).await.unwrap();
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    assert_eq!(out.mentions.len(), 1);
    let m = &out.mentions[0];
    assert_eq!(m.source, "so");
    assert_eq!(m.id, "stackoverflow/q/78451400");
    assert_eq!(
        m.url.as_deref(),
        Some("https://stackoverflow.com/q/78451400")
    );
    assert_eq!(
        m.text,
        "Widgetron 0.3 drops events under load. Since upgrading, Widgetron loses about 1% of events. Anyone else?"
    );
    assert_eq!(m.published_at.to_rfc3339(), "2024-05-01T12:55:00+00:00");
    assert_eq!(m.engagement, Some(-2));
    assert_eq!(out.quota_remaining, Some(296));
    assert_accounted(&out);
    assert_eq!(
        cursor_of(&out, "stackoverflow:Widgetron"),
        serde_json::json!({"newest": "2024-05-01T12:55:00Z"})
    );
    assert_eq!(newest_of(&out, "stackoverflow:Widgetron"), at(1714568100));
}

#[tokio::test]
async fn pagination_follows_has_more_and_decodes_entities() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("page", "1"))
        .respond_with(gz(200, &fixture("stackexchange/search_page1.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("page", "2"))
        .respond_with(gz(200, &fixture("stackexchange/search_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&server)
        .poll(&ctx("so", widgetron(), HashMap::new()))
        .await
        .unwrap();
    let ids: Vec<&str> = out.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "stackoverflow/q/78451234",
            "stackoverflow/a/78451300",
            "stackoverflow/q/78451400"
        ]
    );
    let q = &out.mentions[0];
    assert_eq!(
        q.text,
        "How do I cancel a Widgetron poll in tokio? It's stuck. I call widgetron::poll() in a loop and Widgetron never returns. What am I missing?"
    );
    assert_eq!(q.author.as_deref(), Some("Zoë O'Brien"));
    // An answer is its own words, not the question's title.
    let a = &out.mentions[1];
    assert_eq!(
        a.url.as_deref(),
        Some("https://stackoverflow.com/a/78451300")
    );
    assert!(a.text.starts_with("Use a CancellationToken"), "{}", a.text);
    assert_eq!(out.quota_remaining, Some(296));
}

#[tokio::test]
async fn empty_result_keeps_the_cursor() {
    let server = MockServer::start().await;
    // From the newest creation time seen minus the overlap.
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("fromdate", "1714564500"))
        .respond_with(gz(200, &fixture("stackexchange/search_empty.json")))
        .expect(1)
        .mount(&server)
        .await;
    let cursors = cursors_at("stackoverflow:Widgetron", at(1714568100));
    let out = source(&server)
        .poll(&ctx("so", widgetron(), cursors))
        .await
        .unwrap();
    assert!(out.mentions.is_empty() && out.errors.is_empty());
    assert_eq!(out.quota_remaining, Some(295));
    assert!(
        out.cursors.is_empty(),
        "nothing new: the stored cursor stays: {:?}",
        out.cursors
    );
}

#[tokio::test]
async fn restart_rereads_the_overlap_from_the_cursor() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("fromdate", "1714482300"))
        .respond_with(gz(200, &fixture("stackexchange/search_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    // After the restart items from the newest seen (1714568100) minus the overlap are
    // asked for. The index now lists a question and an answer it indexed late (inside the
    // overlap), one older than the window (sloppily), and the item seen before.
    let mut late: serde_json::Value =
        serde_json::from_str(&fixture("stackexchange/search_page1.json")).unwrap();
    let seen: serde_json::Value =
        serde_json::from_str(&fixture("stackexchange/search_page2.json")).unwrap();
    let items = late["items"].as_array_mut().unwrap();
    let old: serde_json::Value = serde_json::from_str(
        &items[0]
            .to_string()
            .replace("78451234", "78450000")
            .replace("1714566896", "1714564000"),
    )
    .unwrap();
    items.insert(0, old);
    items.push(seen["items"][0].clone());
    late["has_more"] = false.into();
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("fromdate", "1714564500"))
        .and(query_param("page", "1"))
        .respond_with(gz(200, &late.to_string()))
        .expect(1)
        .mount(&server)
        .await;
    let first = source(&server)
        .poll(&ctx("so", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(first.mentions.len(), 1);
    // A new process: a fresh source built from config, cursors from the store.
    let second = source(&server)
        .poll(&ctx("so", widgetron(), saved(&first)))
        .await
        .unwrap();
    let ids: Vec<&str> = second.mentions.iter().map(|m| m.id.as_str()).collect();
    // The late items are read; the one seen before comes again (the store drops it); the
    // one older than the window does not.
    assert_eq!(
        ids,
        [
            "stackoverflow/q/78451234",
            "stackoverflow/a/78451300",
            "stackoverflow/q/78451400"
        ]
    );
    assert_accounted(&second);
    assert!(second.errors.is_empty() && second.warnings.is_empty());
    // Nothing newer than 1714568100: the stored cursor stays.
    assert!(second.cursors.is_empty(), "{:?}", second.cursors);
}

#[tokio::test]
async fn backoff_field_pauses_the_source_across_polls_and_restarts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(gz(200, &fixture("stackexchange/search_backoff.json")))
        .expect(1)
        .mount(&server)
        .await;
    let se = source(&server);
    let products = vec![product("Widgetron", &[]), product("Gizmo", &[])];
    let first = se
        .poll(&ctx("so", products.clone(), HashMap::new()))
        .await
        .unwrap();
    // The page is kept, `has_more` is ignored, and the second query waits for a later poll.
    assert_eq!(first.mentions.len(), 1);
    assert!(first.errors.is_empty());
    assert!(
        first.warnings[0].contains("10s backoff") && first.warnings[0].contains("1 queries left"),
        "{:?}",
        first.warnings
    );
    let cursors = saved(&first);
    assert_eq!(cursors["@paused_until"], "2024-05-01T13:05:10+00:00");
    // Same process, next poll: no request.
    let again = se
        .poll(&ctx("so", products.clone(), cursors.clone()))
        .await
        .unwrap();
    assert!(again.mentions.is_empty());
    assert!(again.warnings[0].contains("skipping this poll"));
    // After a restart the stored pause still holds.
    let restarted = source(&server)
        .poll(&ctx("so", products, cursors))
        .await
        .unwrap();
    assert!(restarted.warnings[0].contains("skipping this poll"));
}

#[tokio::test]
async fn throttle_violation_is_a_failed_poll_with_a_long_pause() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(gz(400, &fixture("stackexchange/throttle_violation.json")))
        .expect(1)
        .mount(&server)
        .await;
    let se = source(&server);
    let err = se
        .poll(&ctx("so", widgetron(), HashMap::new()))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        SourceError::Fetch(FetchError::Status { status: 400, .. })
    ));
    let again = se
        .poll(&ctx("so", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert!(
        again.warnings[0].contains("2024-05-02T11:38:54"),
        "{:?}",
        again.warnings
    );
}

#[tokio::test]
async fn quota_exhausted_waits_for_midnight() {
    let server = MockServer::start().await;
    let body = fixture("stackexchange/search_empty.json")
        .replace("\"quota_remaining\": 295", "\"quota_remaining\": 0");
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(gz(200, &body))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&server)
        .poll(&ctx("so", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(out.quota_remaining, Some(0));
    assert_eq!(saved(&out)["@paused_until"], "2024-05-02T00:00:00+00:00");
}

#[tokio::test]
async fn rate_limit_longer_than_we_wait_pauses_the_source() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .expect(1)
        .mount(&server)
        .await;
    let se = source(&server);
    let err = se
        .poll(&ctx("so", widgetron(), HashMap::new()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SourceError::Fetch(FetchError::RateLimited { .. })),
        "{err:?}"
    );
    let again = se
        .poll(&ctx("so", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert!(again.warnings[0].contains("skipping this poll"));
}

#[tokio::test]
async fn oversized_body_is_refused_after_decompression() {
    let server = MockServer::start().await;
    // ~1 KiB on the wire, 100 KiB once inflated: the cap applies to what we would parse.
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(gz(200, &oversized_json()))
        .mount(&server)
        .await;
    assert_poll_refuses_oversized(&source(&server), &ctx("so", widgetron(), HashMap::new())).await;
}

#[tokio::test]
async fn one_failing_query_does_not_stop_the_others() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("q", "Gizmo"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("q", "Widgetron"))
        .respond_with(gz(200, &fixture("stackexchange/search_page2.json")))
        .mount(&server)
        .await;
    let products = vec![product("Gizmo", &[]), product("Widgetron", &[])];
    let out = source(&server)
        .poll(&ctx("so", products, HashMap::new()))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 1);
    assert_eq!(out.errors.len(), 1);
    assert!(
        out.errors[0].starts_with("stackoverflow:Gizmo"),
        "{:?}",
        out.errors
    );
    let c = saved(&out);
    assert!(c.contains_key("stackoverflow:Widgetron"));
    // The failed query keeps only where its next poll must start (its lookback floor,
    // so the time until then is not skipped), not a newest time it never saw.
    let gizmo: serde_json::Value = serde_json::from_str(&c["stackoverflow:Gizmo"]).unwrap();
    assert!(
        gizmo.get("newest").is_none() && gizmo.get("low").is_some(),
        "{gizmo}"
    );
}

/// The README example, through the real config loader.
#[test]
fn readme_example_parses() {
    let text = r#"
[[products]]
name = "Widgetron"

[[sources]]
type = "stackexchange"
interval = "15m"
sites = ["stackoverflow", "superuser"]
# key = "env:STACKEXCHANGE_KEY"   # optional: 10,000 requests a day instead of 300
# filter = "!your-filter-id"      # optional: a filter that adds `owner` (authors)
# lookback = "1d"                 # how far back the first poll looks
# base_url = "https://api.stackexchange.com"
"#;
    let config = pulse::config::Config::parse(text, std::path::Path::new("t.toml")).unwrap();
    assert_eq!(config.sources[0].kind.type_name(), "stackexchange");
    let bad = pulse::config::Config::parse(
        &text.replace("sites = [\"stackoverflow\", \"superuser\"]", "sites = []"),
        std::path::Path::new("t.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("`sources[0].sites`: list at least one"),
        "{bad}"
    );
}
