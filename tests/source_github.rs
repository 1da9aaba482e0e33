//! GitHub source against a local server speaking the real `/search/issues` format: `Link`
//! paging, `created:>=` cursors, `x-ratelimit-*` headers, primary and secondary limits.

#[path = "common/sources.rs"]
mod sources;

use pulse::sources::github::{Github, GithubConfig};
use pulse::sources::{FetchError, Source, SourceError};
use sources::*;
// This platform's first poll looks back a day.
use sources::ctx_with_lookback as ctx;
use std::collections::HashMap;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PATH: &str = "/search/issues";

fn source(server: &MockServer, token: bool) -> Github {
    let mut toml = format!(
        "base_url = \"{}\"\nqualifiers = \"is:issue\"\n",
        server.uri()
    );
    if token {
        toml.push_str("token = \"ghp_test\"\n");
    }
    let config: GithubConfig = toml::from_str(&toml).unwrap();
    assert!(config.validate().is_empty());
    Github::new(config)
}

fn ok(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json; charset=utf-8")
        .insert_header("x-ratelimit-limit", "30")
        .insert_header("x-ratelimit-remaining", "27")
        .insert_header("x-ratelimit-used", "3")
        .insert_header("x-ratelimit-reset", "1714568760")
        .insert_header("x-ratelimit-resource", "search")
        .set_body_string(body.to_string())
}

fn widgetron() -> Vec<pulse::config::ProductConfig> {
    vec![product("Widgetron", &[])]
}

#[tokio::test]
async fn normal_page_with_token_and_api_headers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param(
            "q",
            "\"Widgetron\" is:issue created:>=2024-04-30T13:05:00Z",
        ))
        .and(query_param("sort", "created"))
        .and(query_param("per_page", "100"))
        .and(header("authorization", "Bearer ghp_test"))
        .and(header("accept", "application/vnd.github+json"))
        .and(header("x-github-api-version", "2022-11-28"))
        .respond_with(ok(&fixture("github/search_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&server, true)
        .poll(&ctx("gh", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    assert_eq!(out.mentions.len(), 1);
    let m = &out.mentions[0];
    assert_eq!(m.source, "gh");
    assert_eq!(m.id, "2280000003");
    assert_eq!(
        m.url.as_deref(),
        Some("https://github.com/acme/widgetron/issues/124")
    );
    assert_eq!(m.author.as_deref(), Some("carol"));
    assert_eq!(
        m.text,
        "Love Widgetron, docs could be better. The **quick start** is great."
    );
    assert_eq!(m.engagement, Some(5));
    assert_eq!(m.published_at.to_rfc3339(), "2024-05-01T12:55:00+00:00");
    assert_eq!(out.quota_remaining, Some(27));
}

#[tokio::test]
async fn pagination_follows_the_link_header() {
    let server = MockServer::start().await;
    let next = format!(
        "<{0}/search/issues?q=%22Widgetron%22+is%3Aissue&page=2>; rel=\"next\", <{0}/search/issues?q=%22Widgetron%22+is%3Aissue&page=2>; rel=\"last\"",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("page", "1"))
        .respond_with(ok(&fixture("github/search_page1.json")).insert_header("link", next.as_str()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("page", "2"))
        .respond_with(ok(&fixture("github/search_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&server, false)
        .poll(&ctx("gh", widgetron(), HashMap::new()))
        .await
        .unwrap();
    let ids: Vec<&str> = out.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["2280000001", "2280000002", "2280000003"]);
    // Template comments are stripped; Markdown text stays readable.
    assert_eq!(
        out.mentions[0].text,
        "Widgetron panics on empty feed. Steps: 1. run `widgetron poll` 2. panic Widgetron 0.3.1 on Linux"
    );
    // A pull request without a body is its title.
    assert_eq!(out.mentions[1].text, "Switch our poller to Widgetron");
    assert_eq!(
        out.mentions[1].url.as_deref(),
        Some("https://github.com/other/app/pull/77")
    );
    let c = saved(&out);
    assert!(c["Widgetron"].contains("2024-05-01T12:55:00Z"), "{c:?}");
}

#[tokio::test]
async fn page_limit_stops_paging_and_the_next_poll_resumes() {
    let server = MockServer::start().await;
    let next = format!("<{}/search/issues?page=2>; rel=\"next\"", server.uri());
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("page", "1"))
        .and(query_param(
            "q",
            "\"Widgetron\" is:issue created:>=2024-04-30T13:05:00Z",
        ))
        .respond_with(ok(&fixture("github/search_page1.json")).insert_header("link", next.as_str()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("page", "2"))
        .respond_with(ok(&fixture("github/search_page2.json")))
        .expect(0)
        .mount(&server)
        .await;
    // Oldest first: the second poll starts from the newest item the first one saw.
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param(
            "q",
            "\"Widgetron\" is:issue created:>=2024-05-01T12:40:10Z",
        ))
        .respond_with(ok(&fixture("github/search_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut c = ctx("gh", widgetron(), HashMap::new());
    c.max_pages = 1;
    let first = source(&server, false).poll(&c).await.unwrap();
    assert_eq!(first.mentions.len(), 2);
    let mut c = ctx("gh", widgetron(), saved(&first));
    c.max_pages = 1;
    let second = source(&server, false).poll(&c).await.unwrap();
    assert_eq!(second.mentions.len(), 1);
    assert_eq!(second.mentions[0].id, "2280000003");
}

#[tokio::test]
async fn empty_result() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param(
            "q",
            "\"Widgetron\" is:issue created:>=2024-04-30T13:05:00Z",
        ))
        .respond_with(ok(&fixture("github/search_empty.json")))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&server, false)
        .poll(&ctx("gh", widgetron(), HashMap::new()))
        .await
        .unwrap();
    // Nothing seen: no newest time is saved...
    assert_nothing_seen(&out);
    // ...so the next poll, an hour later, is again a first poll over the lookback window.
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param(
            "q",
            "\"Widgetron\" is:issue created:>=2024-04-30T14:05:00Z",
        ))
        .respond_with(ok(&fixture("github/search_empty.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut later = ctx("gh", widgetron(), saved(&out));
    later.now += chrono::Duration::hours(1);
    let again = source(&server, false).poll(&later).await.unwrap();
    assert!(again.mentions.is_empty() && again.errors.is_empty());
}

#[tokio::test]
async fn restart_rereads_the_overlap_from_the_cursor() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param(
            "q",
            "\"Widgetron\" is:issue created:>=2024-04-30T13:05:00Z",
        ))
        .respond_with(ok(&fixture("github/search_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    // From the newest creation time seen (12:55:00) minus the overlap. The search index
    // now also lists two issues it indexed late (12:34:56 and 12:40:10) and, sloppily, one
    // older than the window.
    let mut late: serde_json::Value =
        serde_json::from_str(&fixture("github/search_page1.json")).unwrap();
    let again: serde_json::Value =
        serde_json::from_str(&fixture("github/search_page2.json")).unwrap();
    let items = late["items"].as_array_mut().unwrap();
    let mut old = items[0].clone();
    old["id"] = 2280000000u64.into();
    old["created_at"] = "2024-05-01T11:50:00Z".into();
    items.insert(0, old);
    items.push(again["items"][0].clone());
    late["total_count"] = 4.into();
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param(
            "q",
            "\"Widgetron\" is:issue created:>=2024-05-01T11:55:00Z",
        ))
        .respond_with(ok(&late.to_string()))
        .expect(1)
        .mount(&server)
        .await;
    let first = source(&server, false)
        .poll(&ctx("gh", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(first.mentions.len(), 1);
    let second = source(&server, false)
        .poll(&ctx("gh", widgetron(), saved(&first)))
        .await
        .unwrap();
    // The late issues inside the overlap are read, and so is the one seen before (the
    // store drops it); the one older than the window is not.
    let ids: Vec<&str> = second.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["2280000001", "2280000002", "2280000003"]);
    assert_accounted(&second);
    assert!(second.truncated.is_empty() && second.warnings.is_empty());
    // Nothing newer than 12:55:00: the stored cursor stays.
    assert!(second.cursors.is_empty(), "{:?}", second.cursors);
}

#[tokio::test]
async fn secondary_limit_403_with_retry_after_pauses_without_retrying() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("retry-after", "120")
                .insert_header("x-ratelimit-remaining", "25")
                .set_body_string(fixture("github/secondary_rate_limit.json")),
        )
        // Retrying while limited can get an integration banned: exactly one request.
        .expect(1)
        .mount(&server)
        .await;
    let gh = source(&server, false);
    let products = vec![product("Widgetron", &[]), product("Gizmo", &[])];
    let err = gh
        .poll(&ctx("gh", products.clone(), HashMap::new()))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        SourceError::Fetch(FetchError::Status { status: 403, .. })
    ));
    let again = gh.poll(&ctx("gh", products, HashMap::new())).await.unwrap();
    assert!(
        again.warnings[0].contains("until 2024-05-01T13:07:00"),
        "{:?}",
        again.warnings
    );
}

#[tokio::test]
async fn primary_limit_waits_for_the_reset_time() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1714569000")
                .set_body_string(fixture("github/rate_limit_exceeded.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let gh = source(&server, false);
    assert!(gh
        .poll(&ctx("gh", widgetron(), HashMap::new()))
        .await
        .is_err());
    let again = gh
        .poll(&ctx("gh", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert!(
        again.warnings[0].contains("until 2024-05-01T13:10:00"),
        "{:?}",
        again.warnings
    );
}

#[tokio::test]
async fn last_request_of_the_window_stops_the_poll_and_persists_the_pause() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(
            ok(&fixture("github/search_page2.json"))
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1714568760"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let products = vec![product("Widgetron", &[]), product("Gizmo", &[])];
    let out = source(&server, false)
        .poll(&ctx("gh", products.clone(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 1);
    assert_eq!(out.quota_remaining, Some(0));
    assert!(
        out.warnings[0].contains("1 queries left"),
        "{:?}",
        out.warnings
    );
    let cursors = saved(&out);
    assert_eq!(cursors["@paused_until"], "2024-05-01T13:06:00+00:00");
    let restarted = source(&server, false)
        .poll(&ctx("gh", products, cursors))
        .await
        .unwrap();
    assert!(restarted.warnings[0].contains("skipping this poll"));
}

#[tokio::test]
async fn bad_token_is_an_auth_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(
            ResponseTemplate::new(401).set_body_string(fixture("github/bad_credentials.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let products = vec![product("Widgetron", &[]), product("Gizmo", &[])];
    let err = source(&server, true)
        .poll(&ctx("gh", products, HashMap::new()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SourceError::Auth(m) if m.contains("Bad credentials")),
        "{err:?}"
    );
}

#[tokio::test]
async fn one_failing_query_does_not_stop_the_others() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("q", "\"Gizmo\" is:issue created:>=2024-04-30T13:05:00Z"))
        .respond_with(ResponseTemplate::new(422).set_body_string(
            r#"{"message":"Validation Failed","errors":[{"resource":"Search","field":"q","code":"invalid","message":"bad"}],"documentation_url":"https://docs.github.com/rest/search/search"}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param(
            "q",
            "\"Widgetron\" is:issue created:>=2024-04-30T13:05:00Z",
        ))
        .respond_with(ok(&fixture("github/search_page2.json")))
        .mount(&server)
        .await;
    let products = vec![product("Gizmo", &[]), product("Widgetron", &[])];
    let out = source(&server, false)
        .poll(&ctx("gh", products, HashMap::new()))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 1);
    assert_eq!(out.errors.len(), 1);
    assert!(out.errors[0].contains("422"), "{:?}", out.errors);
}

/// The README example, through the real config loader.
#[test]
fn readme_example_parses() {
    let text = r#"
[[products]]
name = "Widgetron"

[[sources]]
type = "github"
interval = "10m"
qualifiers = "is:issue"
# token = "env:GITHUB_TOKEN"      # optional: 30 searches a minute instead of 10
# lookback = "1d"
# base_url = "https://api.github.com"
"#;
    let config = pulse::config::Config::parse(text, std::path::Path::new("t.toml")).unwrap();
    assert_eq!(config.sources[0].kind.type_name(), "github");
    let bad = pulse::config::Config::parse(
        &format!("{text}token = \"env:PULSE_TEST_SURELY_UNSET_GH\"\n"),
        std::path::Path::new("t.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("`sources[0]") && bad.contains("PULSE_TEST_SURELY_UNSET_GH"),
        "{bad}"
    );
}
