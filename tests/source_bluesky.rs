//! Bluesky source against a local server speaking real XRPC: `createSession` with an app
//! password, session reuse and refresh, `searchPosts` paging by `cursor`, `since` cursors.

#[path = "common/sources.rs"]
mod sources;

use chrono::Duration as ChronoDuration;
use pulse::sources::bluesky::{Bluesky, BlueskyConfig};
use pulse::sources::{FetchError, Source, SourceError};
use sources::*;
// This platform's first poll looks back a day.
use sources::ctx_with_lookback as ctx;
use std::collections::HashMap;
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SEARCH: &str = "/xrpc/app.bsky.feed.searchPosts";
const CREATE: &str = "/xrpc/com.atproto.server.createSession";
const REFRESH: &str = "/xrpc/com.atproto.server.refreshSession";

fn jwt(name: &str) -> String {
    fixture(&format!("bluesky/{name}.txt")).trim().to_string()
}

fn source(server: &MockServer) -> Bluesky {
    std::env::set_var("PULSE_TEST_BSKY_PASSWORD", "abcd-efgh-ijkl-mnop");
    let config: BlueskyConfig = toml::from_str(&format!(
        "base_url = \"{}\"\nidentifier = \"pulse-bot.bsky.social\"\napp_password = \"env:PULSE_TEST_BSKY_PASSWORD\"",
        server.uri()
    ))
    .unwrap();
    assert!(config.validate().is_empty());
    Bluesky::new(config)
}

fn json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/json; charset=utf-8")
        .insert_header("ratelimit-limit", "3000")
        .insert_header("ratelimit-remaining", "2990")
        .insert_header("ratelimit-reset", "1714569000")
        .insert_header("ratelimit-policy", "3000;w=300")
        .set_body_string(body.to_string())
}

/// Login answered once (`expect`), checked for the identifier and app password.
async fn mount_login(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path(CREATE))
        .and(body_json(serde_json::json!({
            "identifier": "pulse-bot.bsky.social",
            "password": "abcd-efgh-ijkl-mnop"
        })))
        .respond_with(json(200, &fixture("bluesky/create_session.json")))
        .expect(times)
        .mount(server)
        .await;
}

fn widgetron() -> Vec<pulse::config::ProductConfig> {
    vec![product("Widgetron", &[])]
}

#[tokio::test]
async fn missing_credentials_is_a_clear_config_error_without_requests() {
    let server = MockServer::start().await;
    let config: BlueskyConfig =
        toml::from_str(&format!("base_url = \"{}\"", server.uri())).unwrap();
    let err = Bluesky::new(config)
        .poll(&ctx("bsky", widgetron(), HashMap::new()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SourceError::Config(m) if m.contains("identifier") && m.contains("app_password")),
        "{err}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn wrong_app_password_is_an_auth_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(json(401, &fixture("bluesky/bad_login.json")))
        .expect(1)
        .mount(&server)
        .await;
    let err = source(&server)
        .poll(&ctx("bsky", widgetron(), HashMap::new()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SourceError::Auth(m) if m.contains("Invalid identifier or password")),
        "{err}"
    );
}

#[tokio::test]
async fn normal_page_with_session_reused_across_polls() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param("q", "Widgetron"))
        .and(query_param("sort", "latest"))
        .and(query_param("limit", "100"))
        .and(query_param("since", "2024-04-30T13:05:00.000Z"))
        .and(query_param_is_missing("cursor"))
        .and(header(
            "authorization",
            format!("Bearer {}", jwt("access_jwt")).as_str(),
        ))
        .respond_with(json(200, &fixture("bluesky/search_page2.json")))
        .expect(2)
        .mount(&server)
        .await;
    let bsky = source(&server);
    let out = bsky
        .poll(&ctx("bsky", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    assert_eq!(out.mentions.len(), 1);
    let m = &out.mentions[0];
    assert_eq!(m.source, "bsky");
    assert_eq!(
        m.id,
        "at://did:plc:abc123xyz/app.bsky.feed.post/3ksq2wv7cx22a"
    );
    assert_eq!(
        m.url.as_deref(),
        Some("https://bsky.app/profile/alice.bsky.social/post/3ksq2wv7cx22a")
    );
    assert_eq!(m.author.as_deref(), Some("alice.bsky.social"));
    assert_eq!(m.text, "Widgetron 0.3 is out #rust");
    assert_eq!(m.language.as_deref(), Some("en"));
    assert_eq!(m.engagement, Some(9));
    assert_eq!(m.published_at.to_rfc3339(), "2024-05-01T12:34:56.789+00:00");
    assert_eq!(out.quota_remaining, Some(2990));
    // Second poll in the same process: no new login (createSession expects exactly one).
    bsky.poll(&ctx("bsky", widgetron(), HashMap::new()))
        .await
        .unwrap();
}

#[tokio::test]
async fn expired_access_token_is_refreshed_not_relogged() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("POST"))
        .and(path(REFRESH))
        .and(header(
            "authorization",
            format!("Bearer {}", jwt("refresh_jwt")).as_str(),
        ))
        .respond_with(json(200, &fixture("bluesky/refresh_session.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(header(
            "authorization",
            format!("Bearer {}", jwt("access_jwt")).as_str(),
        ))
        .respond_with(json(200, &fixture("bluesky/search_empty.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(header(
            "authorization",
            format!("Bearer {}", jwt("access_jwt_renewed")).as_str(),
        ))
        .respond_with(json(200, &fixture("bluesky/search_empty.json")))
        .expect(1)
        .mount(&server)
        .await;
    let bsky = source(&server);
    bsky.poll(&ctx("bsky", widgetron(), HashMap::new()))
        .await
        .unwrap();
    // Three hours later the 2-hour access JWT (its `exp` claim) has lapsed.
    let mut later = ctx("bsky", widgetron(), HashMap::new());
    later.now += ChronoDuration::hours(3);
    bsky.poll(&later).await.unwrap();
}

#[tokio::test]
async fn expired_token_answer_renews_the_session_and_retries() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("POST"))
        .and(path(REFRESH))
        .respond_with(json(200, &fixture("bluesky/refresh_session.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(header(
            "authorization",
            format!("Bearer {}", jwt("access_jwt")).as_str(),
        ))
        .respond_with(json(400, &fixture("bluesky/expired_token.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(header(
            "authorization",
            format!("Bearer {}", jwt("access_jwt_renewed")).as_str(),
        ))
        .respond_with(json(200, &fixture("bluesky/search_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&server)
        .poll(&ctx("bsky", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 1);
}

#[tokio::test]
async fn pagination_follows_the_cursor() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param_is_missing("cursor"))
        .respond_with(json(200, &fixture("bluesky/search_page1.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param("cursor", "25"))
        .respond_with(json(200, &fixture("bluesky/search_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&server)
        .poll(&ctx("bsky", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 3);
    let first = &out.mentions[0];
    // A client-set createdAt in 2031 is not believed: the server's indexedAt is used.
    assert_eq!(first.published_at.to_rfc3339(), "2024-05-01T12:58:00+00:00");
    assert_eq!(first.text, "Widgetron is the best poller");
    assert_eq!(out.mentions[1].language.as_deref(), Some("de"));
    let c = saved(&out);
    assert!(c["Widgetron"].contains("2024-05-01T12:58:00Z"), "{c:?}");
}

#[tokio::test]
async fn empty_result() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param("since", "2024-04-30T13:05:00.000Z"))
        .respond_with(json(200, &fixture("bluesky/search_empty.json")))
        .expect(1)
        .mount(&server)
        .await;
    let bsky = source(&server);
    let out = bsky
        .poll(&ctx("bsky", widgetron(), HashMap::new()))
        .await
        .unwrap();
    // Nothing seen: no newest time is saved...
    assert_nothing_seen(&out);
    // ...so the next poll, an hour later, is again a first poll over the lookback window.
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param("since", "2024-04-30T14:05:00.000Z"))
        .respond_with(json(200, &fixture("bluesky/search_empty.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut later = ctx("bsky", widgetron(), saved(&out));
    later.now += ChronoDuration::hours(1);
    let again = bsky.poll(&later).await.unwrap();
    assert!(again.mentions.is_empty() && again.errors.is_empty());
}

#[tokio::test]
async fn restart_rereads_the_overlap_from_the_cursor() {
    let server = MockServer::start().await;
    // A restart logs in again (sessions live in memory only).
    mount_login(&server, 2).await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param("since", "2024-04-30T13:05:00.000Z"))
        .respond_with(json(200, &fixture("bluesky/search_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    // From the newest post seen (12:34:56.789) minus the overlap. The index now lists two
    // newer posts, the one seen before, and (sloppily) one older than the window.
    let mut newer: serde_json::Value =
        serde_json::from_str(&fixture("bluesky/search_page1.json")).unwrap();
    let seen: serde_json::Value =
        serde_json::from_str(&fixture("bluesky/search_page2.json")).unwrap();
    let old: serde_json::Value = serde_json::from_str(
        &seen["posts"][0]
            .to_string()
            .replace("3ksq2wv7cx22a", "3ksq2aaaaaa0a")
            .replace("2024-05-01T12:34:5", "2024-05-01T11:30:0"),
    )
    .unwrap();
    let posts = newer["posts"].as_array_mut().unwrap();
    posts.push(seen["posts"][0].clone());
    posts.push(old);
    newer.as_object_mut().unwrap().remove("cursor");
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param("since", "2024-05-01T11:34:56.789Z"))
        .and(query_param_is_missing("cursor"))
        .respond_with(json(200, &newer.to_string()))
        .expect(1)
        .mount(&server)
        .await;
    let first = source(&server)
        .poll(&ctx("bsky", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(first.mentions.len(), 1);
    let second = source(&server)
        .poll(&ctx("bsky", widgetron(), saved(&first)))
        .await
        .unwrap();
    // The post seen before is inside the overlap and comes again (the store drops it);
    // the one older than the window does not.
    let ids: Vec<&str> = second
        .mentions
        .iter()
        .map(|m| m.id.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(ids, ["3ksq3aaaaaa2b", "3ksq2zz7cx33b", "3ksq2wv7cx22a"]);
    assert_accounted(&second);
    assert!(second.truncated.is_empty() && second.warnings.is_empty());
    assert_eq!(
        newest_of(&second, "Widgetron"),
        time_of(&serde_json::json!("2024-05-01T12:58:00Z"))
    );
}

#[tokio::test]
async fn long_rate_limit_stops_the_other_queries() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(
            json(429, &fixture("bluesky/rate_limited.json")).insert_header("retry-after", "600"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let products = vec![product("Widgetron", &[]), product("Gizmo", &[])];
    let err = source(&server)
        .poll(&ctx("bsky", products, HashMap::new()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SourceError::Fetch(FetchError::RateLimited { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn one_failing_query_does_not_stop_the_others() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param("q", "\"Gizmo Pro\""))
        .respond_with(json(
            400,
            r#"{"error":"BadQueryString","message":"bad query"}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param("q", "Widgetron"))
        .respond_with(json(200, &fixture("bluesky/search_page2.json")))
        .mount(&server)
        .await;
    let products = vec![product("Gizmo Pro", &[]), product("Widgetron", &[])];
    let out = source(&server)
        .poll(&ctx("bsky", products, HashMap::new()))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 1);
    assert_eq!(out.errors.len(), 1);
    assert!(out.errors[0].contains("BadQueryString"), "{:?}", out.errors);
}

/// The README example, through the real config loader.
#[test]
fn readme_example_parses() {
    std::env::set_var("BLUESKY_APP_PASSWORD", "abcd-efgh-ijkl-mnop");
    let text = r#"
[[products]]
name = "Widgetron"

[[sources]]
type = "bluesky"
interval = "10m"
identifier = "pulse-bot.bsky.social"
app_password = "env:BLUESKY_APP_PASSWORD"
# lang = "en"                     # only posts in this language
# lookback = "1d"
# base_url = "https://bsky.social"
"#;
    let config = pulse::config::Config::parse(text, std::path::Path::new("t.toml")).unwrap();
    assert_eq!(config.sources[0].kind.type_name(), "bluesky");
    let bad = pulse::config::Config::parse(
        &text.replace("app_password = \"env:BLUESKY_APP_PASSWORD\"", ""),
        std::path::Path::new("t.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("`sources[0].app_password`"), "{bad}");
}
