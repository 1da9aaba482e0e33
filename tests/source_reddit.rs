//! The Reddit source against a local server playing both the token endpoint and the OAuth
//! API host, with Listing bodies in Reddit's format.

#[path = "common/sources.rs"]
mod sources;

use chrono::{TimeZone, Utc};
use pulse::sources::reddit::{Reddit, RedditConfig};
use pulse::sources::{FetchError, Source, SourceError};
use sources::{
    assert_accounted, at, ctx, cursor_of, cursors_at, fixture, newest_of, overlap, product, saved,
};
use std::collections::HashMap;
use std::time::Duration;
use wiremock::matchers::{
    basic_auth, body_string, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.test-token";

fn user_agent() -> String {
    format!(
        "{}:pulse:v{} (by /u/pulse_operator)",
        std::env::consts::OS,
        env!("CARGO_PKG_VERSION")
    )
}

fn config(server: &MockServer, credentials: bool) -> RedditConfig {
    let mut text = format!(
        "base_url = \"{0}\"\nauth_url = \"{0}\"\nreddit_username = \"/u/pulse_operator\"\n",
        server.uri()
    );
    if credentials {
        text.push_str("client_id = \"test-id\"\nclient_secret = \"test-secret\"\n");
    }
    let config: RedditConfig = toml::from_str(&text).unwrap();
    assert!(config.validate().is_empty(), "{:?}", config.validate());
    config
}

fn source(server: &MockServer) -> Reddit {
    Reddit::new(config(server, true))
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

fn listing(name: &str) -> ResponseTemplate {
    json(fixture(&format!("reddit/{name}")))
        .insert_header("X-Ratelimit-Used", "2")
        .insert_header("X-Ratelimit-Remaining", "598.0")
        .insert_header("X-Ratelimit-Reset", "540")
}

fn widgetron() -> Vec<pulse::config::ProductConfig> {
    vec![product("Widgetron", &["WTron"])]
}

/// The app-only token request, exactly as Reddit documents it.
async fn mount_token(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path("/api/v1/access_token"))
        .and(basic_auth("test-id", "test-secret"))
        .and(header("user-agent", user_agent().as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string("grant_type=client_credentials"))
        .respond_with(json(fixture("reddit/token.json")))
        .expect(times)
        .mount(server)
        .await;
}

/// The polling call on the OAuth host: bearer token, honest UA, `sort=new`, 100 per page.
fn search_call() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/search"))
        .and(header("authorization", format!("bearer {TOKEN}").as_str()))
        .and(header("user-agent", user_agent().as_str()))
        .and(query_param("q", "\"Widgetron\" OR \"WTron\""))
        .and(query_param("sort", "new"))
        .and(query_param("limit", "100"))
}

/// The cursor of a previous poll whose newest item was published at `t`: this poll reads
/// down to `t − overlap`.
fn resume_from(t: i64) -> HashMap<String, String> {
    cursors_at("Widgetron", at(t))
}

#[test]
fn user_agent_has_the_form_reddit_requires() {
    let c: RedditConfig = toml::from_str("reddit_username = \"u/pulse_operator\"").unwrap();
    assert_eq!(c.user_agent(), user_agent());
    let bad: RedditConfig = toml::from_str("reddit_username = \"no spaces allowed\"").unwrap();
    assert!(bad.validate().iter().any(|(k, _)| k == "reddit_username"));
    let half: RedditConfig = toml::from_str("reddit_username = \"op\"\nclient_id = \"x\"").unwrap();
    let problems = half.validate();
    assert!(
        problems.iter().any(|(k, _)| k == "client_secret"),
        "{problems:?}"
    );
}

#[tokio::test]
async fn normal_page_with_oauth() {
    let server = MockServer::start().await;
    mount_token(&server, 1).await;
    search_call()
        .and(query_param_is_missing("after"))
        .respond_with(listing("search_page1.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&server)
        .poll(&ctx("reddit", widgetron(), HashMap::new()))
        .await
        .unwrap();
    // The link post that names the product only in its URL is dropped by the re-check;
    // the first poll reads only the newest page.
    let ids: Vec<&str> = out.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["t3_1cxyz12", "t3_1cxyz10"]);
    let m = &out.mentions[0];
    assert_eq!(m.source, "reddit");
    assert_eq!(
        m.url.as_deref(),
        Some("https://www.reddit.com/r/rust/comments/1cxyz12/widgetron_03_released/")
    );
    assert_eq!(
        m.text,
        "Widgetron 0.3 released. Changelog below. * faster retries"
    );
    assert_eq!(m.author.as_deref(), Some("alice"));
    assert_eq!(m.engagement, Some(42));
    assert_eq!(
        m.published_at,
        Utc.with_ymd_and_hms(2024, 5, 1, 13, 26, 40).unwrap()
    );
    assert_eq!(m.products, vec!["Widgetron"]);
    let deleted = &out.mentions[1];
    assert_eq!(deleted.author, None);
    assert_eq!(
        deleted.text,
        "Why I moved away from WTron. Too many <crashes> & no docs."
    );
    assert_eq!(out.quota_remaining, Some(598));
    assert!(out.warnings.is_empty());
    // The link post is read and accounted for as unmatched.
    assert_eq!((out.counts.fetched, out.counts.unmatched), (3, 1));
    assert_accounted(&out);
    assert_eq!(
        cursor_of(&out, "Widgetron"),
        serde_json::json!({"newest": "2024-05-01T13:26:40Z"})
    );
}

#[tokio::test]
async fn follows_after_until_the_listing_ends() {
    let server = MockServer::start().await;
    mount_token(&server, 1).await;
    search_call()
        .and(query_param_is_missing("after"))
        .respond_with(listing("search_page1.json"))
        .expect(1)
        .mount(&server)
        .await;
    search_call()
        .and(query_param("after", "t3_1cxyz10"))
        .respond_with(listing("search_page2.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&server)
        .poll(&ctx(
            "reddit",
            widgetron(),
            resume_from(1714500000 + overlap().num_seconds()),
        ))
        .await
        .unwrap();
    let ids: Vec<&str> = out.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["t3_1cxyz12", "t3_1cxyz10", "t3_1cxyz05"]);
    assert!(out.truncated.is_empty() && out.warnings.is_empty());
    assert_accounted(&out);
    assert_eq!(newest_of(&out, "Widgetron"), at(1714570000));
}

#[tokio::test]
async fn empty_result() {
    let server = MockServer::start().await;
    mount_token(&server, 1).await;
    search_call()
        .respond_with(listing("empty.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&server)
        .poll(&ctx("reddit", widgetron(), resume_from(1714570000)))
        .await
        .unwrap();
    assert!(out.mentions.is_empty() && out.cursors.is_empty() && out.errors.is_empty());
}

#[tokio::test]
async fn restart_stops_at_the_stored_cursor() {
    let server = MockServer::start().await;
    mount_token(&server, 2).await; // one per source object: the token is not persisted
    search_call()
        .respond_with(listing("search_page1.json"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    search_call()
        .and(query_param_is_missing("after"))
        .respond_with(listing("newer.json"))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    // Reddit has no "since": the poller pages on while the listing is inside the window
    // (down to 1714570000 − 1h) and stops at the first page reaching below it.
    let mut older: serde_json::Value =
        serde_json::from_str(&fixture("reddit/search_page1.json")).unwrap();
    let children = older["data"]["children"].as_array_mut().unwrap();
    children.drain(..2); // t3_1cxyz10, older than the window
    search_call()
        .and(query_param("after", "t3_1cxyz11"))
        .respond_with(json(older.to_string()))
        .expect(1)
        .mount(&server)
        .await;
    search_call()
        .and(query_param("after", "t3_1cxyz10"))
        .respond_with(listing("empty.json"))
        .expect(0)
        .mount(&server)
        .await;
    let first = source(&server)
        .poll(&ctx("reddit", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(first.mentions.len(), 2);
    let second = source(&server)
        .poll(&ctx("reddit", widgetron(), saved(&first)))
        .await
        .unwrap();
    let ids: Vec<&str> = second.mentions.iter().map(|m| m.id.as_str()).collect();
    // t3_1cxyz12 is inside the overlap and handed on again (the store drops it);
    // t3_1cxyz10 names the product but is older than the window.
    assert_eq!(ids, ["t3_1cxyz20", "t3_1cxyz12"]);
    assert_accounted(&second);
    assert_eq!(
        cursor_of(&second, "Widgetron"),
        serde_json::json!({"newest": "2024-05-01T13:43:20Z"})
    );
}

#[tokio::test]
async fn rate_limit_body_under_http_200_is_a_rate_limit() {
    let server = MockServer::start().await;
    mount_token(&server, 1).await;
    search_call()
        .respond_with(
            json(fixture("reddit/too_many_requests.json"))
                .insert_header("X-Ratelimit-Reset", "120"),
        )
        .mount(&server)
        .await;
    let err = source(&server)
        .poll(&ctx("reddit", widgetron(), HashMap::new()))
        .await
        .unwrap_err();
    match err {
        SourceError::Fetch(FetchError::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_secs(120))
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
}

#[tokio::test]
async fn rejected_token_is_renewed_once() {
    let server = MockServer::start().await;
    mount_token(&server, 2).await;
    search_call()
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header(
                    "www-authenticate",
                    "Bearer realm=\"reddit\", error=\"invalid_token\"",
                )
                .set_body_raw(fixture("reddit/unauthorized.json"), "application/json"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    search_call()
        .respond_with(listing("search_page1.json"))
        .with_priority(2)
        .mount(&server)
        .await;
    let out = source(&server)
        .poll(&ctx("reddit", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 2);
}

#[tokio::test]
async fn bad_credentials_are_a_clear_auth_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/access_token"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_raw(fixture("reddit/unauthorized.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/search"))
        .respond_with(listing("empty.json"))
        .expect(0)
        .mount(&server)
        .await;
    let products = vec![product("Widgetron", &[]), product("Gizmo", &[])];
    let err = source(&server)
        .poll(&ctx("reddit", products, HashMap::new()))
        .await
        .unwrap_err();
    match err {
        SourceError::Auth(msg) => {
            assert!(msg.contains("client_id") && msg.contains("401"), "{msg}")
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_credentials_fall_back_and_explain_the_refusal() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/search.json"))
        .and(header("user-agent", user_agent().as_str()))
        .and(query_param("sort", "new"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_raw(fixture("reddit/forbidden.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = Reddit::new(config(&server, false))
        .poll(&ctx("reddit", widgetron(), HashMap::new()))
        .await
        .unwrap_err();
    match err {
        SourceError::Auth(msg) => {
            assert!(
                msg.contains("403") && msg.contains("client_id") && msg.contains("client_secret"),
                "{msg}"
            )
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
}

/// The README example, through the real config loader; a missing variable is a config error.
#[test]
fn readme_example_parses() {
    let text = r#"
[[products]]
name = "Widgetron"

[[sources]]
type = "reddit"
interval = "10m"
client_id = "env:PULSE_TEST_REDDIT_ID"
client_secret = "env:PULSE_TEST_REDDIT_SECRET"
reddit_username = "your_reddit_username"
"#;
    std::env::set_var("PULSE_TEST_REDDIT_ID", "abc");
    std::env::set_var("PULSE_TEST_REDDIT_SECRET", "def");
    let config = pulse::config::Config::parse(text, std::path::Path::new("t.toml")).unwrap();
    assert_eq!(config.sources[0].kind.type_name(), "reddit");
    let missing = text.replace("PULSE_TEST_REDDIT_SECRET", "PULSE_TEST_REDDIT_UNSET");
    let err = pulse::config::Config::parse(&missing, std::path::Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("PULSE_TEST_REDDIT_UNSET") && err.contains("not set"),
        "{err}"
    );
}

#[tokio::test]
async fn subreddit_comments_are_read_and_matched() {
    let server = MockServer::start().await;
    mount_token(&server, 1).await;
    search_call()
        .respond_with(listing("empty.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/rust/comments"))
        .and(header("authorization", format!("bearer {TOKEN}").as_str()))
        .and(header("user-agent", user_agent().as_str()))
        .and(query_param("limit", "100"))
        .and(query_param("raw_json", "1"))
        .and(query_param_is_missing("q"))
        .respond_with(listing("comments_rust.json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = config(&server, true);
    config.subreddits = vec!["r/rust".into()];
    assert!(config.validate().is_empty());
    let products = vec![product("Widgetron", &["WTron"]), product("Gizmo", &[])];
    // Gizmo has its own search; it finds nothing.
    Mock::given(method("GET"))
        .and(path("/search"))
        .and(query_param("q", "\"Gizmo\""))
        .respond_with(listing("empty.json"))
        .mount(&server)
        .await;
    let out = Reddit::new(config)
        .poll(&ctx("reddit", products, HashMap::new()))
        .await
        .unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let ids: Vec<&str> = out.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["t1_l5abcd2", "t1_l5abcc9"]);
    let m = &out.mentions[0];
    assert_eq!(m.text, "Gizmo is meh, but WTron saved me.");
    assert_eq!(m.products, vec!["Widgetron", "Gizmo"]);
    assert_eq!(
        m.url.as_deref(),
        Some("https://www.reddit.com/r/rust/comments/1cxyz12/widgetron_03_released/l5abcd2/")
    );
    assert_eq!(
        cursor_of(&out, "r/rust comments"),
        serde_json::json!({"newest": "2024-05-01T12:41:40Z"})
    );
    let mut bad: RedditConfig = toml::from_str("reddit_username = \"operator\"").unwrap();
    bad.subreddits = vec!["not a sub".into()];
    assert!(bad.validate().iter().any(|(k, _)| k == "subreddits[0]"));
}
