//! The Hacker News (Algolia) source against a local server serving Algolia-format bodies.

#[path = "common/sources.rs"]
mod sources;

use chrono::{TimeZone, Utc};
use pulse::sources::hackernews::{HackerNews, HackerNewsConfig};
use pulse::sources::{FetchError, Source, SourceError};
use sources::{
    assert_accounted, at, ctx, cursor_of, cursors_at, fixture, newest_of, overlap, product, saved,
    time_of,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PATH: &str = "/api/v1/search_by_date";

fn source(server: &MockServer) -> HackerNews {
    let config: HackerNewsConfig =
        toml::from_str(&format!("base_url = \"{}/api/v1\"", server.uri())).unwrap();
    assert!(config.validate().is_empty());
    HackerNews::new(config)
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

fn widgetron() -> Vec<pulse::config::ProductConfig> {
    vec![product("Widgetron", &[])]
}

/// The documented polling call: quoted query, stories and comments, 100 hits per page.
fn polling_call() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("query", "\"Widgetron\""))
        .and(query_param("tags", "(story,comment)"))
        .and(query_param("hitsPerPage", "100"))
}

#[tokio::test]
async fn normal_page_is_normalised_and_rechecked() {
    let server = MockServer::start().await;
    polling_call()
        .and(query_param("page", "0"))
        .and(query_param_is_missing("numericFilters"))
        .respond_with(json(fixture("hackernews/page0.json")))
        .expect(1)
        .mount(&server)
        .await;
    let ctx = ctx("hn", widgetron(), HashMap::new());
    let out = source(&server).poll(&ctx).await.unwrap();
    // The first poll takes the newest page only (nbPages says 2); the loose
    // "widgetronic" hit is dropped by the re-check.
    assert_eq!(out.mentions.len(), 2, "{:?}", out.mentions);
    let story = &out.mentions[0];
    assert_eq!(story.source, "hn");
    assert_eq!(story.id, "40210100");
    assert_eq!(
        story.url.as_deref(),
        Some("https://news.ycombinator.com/item?id=40210100")
    );
    assert_eq!(story.author.as_deref(), Some("alice"));
    assert_eq!(story.text, "Show HN: Widgetron 0.3, a tiny Rust poller");
    assert_eq!(story.engagement, Some(57));
    assert_eq!(
        story.published_at,
        Utc.with_ymd_and_hms(2024, 5, 1, 13, 26, 40).unwrap()
    );
    assert_eq!(story.products, vec!["Widgetron"]);
    let comment = &out.mentions[1];
    assert_eq!(comment.text, "I tried Widgetron's retry logic. Works well.");
    assert_eq!(comment.engagement, None);
    assert_eq!(comment.language, None);
    // The widgetronic hit is read and accounted for as unmatched, not silently skipped.
    assert_eq!((out.counts.fetched, out.counts.unmatched), (3, 1));
    assert_accounted(&out);
    let cursor = cursor_of(&out, "widgetron");
    assert_eq!(time_of(&cursor["newest"]), at(1714570000));
    // A first poll takes the newest page only: nothing is left to resume.
    assert!(cursor.get("resume").is_none(), "{cursor}");
    assert!(out.truncated.is_empty());
    assert!(out.errors.is_empty() && out.warnings.is_empty());
}

#[tokio::test]
async fn pages_until_nb_pages_when_resuming() {
    let server = MockServer::start().await;
    // The poll re-reads from `newest − overlap`.
    let filter = "created_at_i>=1714500000";
    polling_call()
        .and(query_param("numericFilters", filter))
        .and(query_param("page", "0"))
        .respond_with(json(fixture("hackernews/page0.json")))
        .expect(1)
        .mount(&server)
        .await;
    polling_call()
        .and(query_param("numericFilters", filter))
        .and(query_param("page", "1"))
        .respond_with(json(fixture("hackernews/page1.json")))
        .expect(1)
        .mount(&server)
        .await;
    let cursors = cursors_at("widgetron", at(1714500000) + overlap());
    let out = source(&server)
        .poll(&ctx("hn", widgetron(), cursors))
        .await
        .unwrap();
    assert_accounted(&out);
    assert!(out.truncated.is_empty() && out.warnings.is_empty());
    assert_eq!(newest_of(&out, "widgetron"), at(1714570000));
    let ids: Vec<&str> = out.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["40210100", "40210044", "40209990"]);
    assert_eq!(
        out.mentions[2].text,
        "Ask HN: Is Widgetron production ready?. We run it on 3 hosts & it's been quiet."
    );
}

#[tokio::test]
async fn page_cap_is_reported() {
    let server = MockServer::start().await;
    polling_call()
        .and(query_param("numericFilters", "created_at_i>=1714500000"))
        .and(query_param("page", "0"))
        .respond_with(json(fixture("hackernews/page0.json")))
        .expect(1)
        .mount(&server)
        .await;
    let cursors = cursors_at("widgetron", at(1714500000) + overlap());
    let mut ctx = ctx("hn", widgetron(), cursors);
    ctx.max_pages = 1;
    let out = source(&server).poll(&ctx).await.unwrap();
    assert_eq!(out.mentions.len(), 2);
    assert_eq!(out.truncated, ["widgetron"]);
    assert_eq!(
        out.warnings,
        ["widgetron: more than 1 pages of new items; the next poll goes on where this one stopped"]
    );
    // The cursor says where the next poll goes on: the next page of the same query, down
    // to the floor this poll did not reach.
    let cursor = cursor_of(&out, "widgetron");
    assert_eq!(time_of(&cursor["newest"]), at(1714570000));
    assert_eq!(time_of(&cursor["resume"]["floor"]), at(1714500000));
    assert_eq!(cursor["resume"]["token"], "1");

    // The next poll goes on at page 1 of that query first, and reads the rest...
    server.reset().await;
    polling_call()
        .and(query_param("numericFilters", "created_at_i>=1714500000"))
        .and(query_param("page", "1"))
        .respond_with(json(fixture("hackernews/page1.json")))
        .expect(1)
        .mount(&server)
        .await;
    // ...then reads the top again, down to the floor the last walk did not reach.
    polling_call()
        .and(query_param("numericFilters", "created_at_i>=1714500000"))
        .and(query_param("page", "0"))
        .respond_with(json(fixture("hackernews/empty.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut next = sources::ctx("hn", widgetron(), saved(&out));
    next.max_pages = 2;
    let rest = source(&server).poll(&next).await.unwrap();
    let ids: Vec<&str> = rest.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["40209990"]);
    assert!(rest.truncated.is_empty() && rest.warnings.is_empty());
    let cursor = cursor_of(&rest, "widgetron");
    assert!(cursor.get("resume").is_none(), "{cursor}");
}

#[tokio::test]
async fn empty_result_keeps_the_cursor() {
    let server = MockServer::start().await;
    polling_call()
        .respond_with(json(fixture("hackernews/empty.json")))
        .expect(1)
        .mount(&server)
        .await;
    let cursors = cursors_at("widgetron", at(1714570000));
    let out = source(&server)
        .poll(&ctx("hn", widgetron(), cursors))
        .await
        .unwrap();
    assert!(out.mentions.is_empty());
    assert!(
        out.cursors.is_empty(),
        "nothing new: the stored cursor stays"
    );
    assert!(out.errors.is_empty());
}

#[tokio::test]
async fn restart_resumes_from_the_stored_cursor() {
    let server = MockServer::start().await;
    polling_call()
        .and(query_param_is_missing("numericFilters"))
        .respond_with(json(fixture("hackernews/page0.json")))
        .expect(1)
        .mount(&server)
        .await;
    // After the restart the poll asks from the newest time seen minus the overlap
    // (1714570000 − 3600). The answer holds a late hit inside the overlap (40210160) and
    // one older than the floor (40209990, which a sloppy index might still return).
    let mut newer: serde_json::Value =
        serde_json::from_str(&fixture("hackernews/newer.json")).unwrap();
    let hits = newer["hits"].as_array_mut().unwrap();
    let mut late = hits[1].clone();
    late["objectID"] = "40210160".into();
    late["created_at_i"] = 1714568000.into();
    hits.push(late);
    let page1: serde_json::Value = serde_json::from_str(&fixture("hackernews/page1.json")).unwrap();
    hits.push(page1["hits"][0].clone());
    polling_call()
        .and(query_param("numericFilters", "created_at_i>=1714566400"))
        .and(query_param("page", "0"))
        .respond_with(json(newer.to_string()))
        .expect(1)
        .mount(&server)
        .await;
    let first = source(&server)
        .poll(&ctx("hn", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(first.mentions.len(), 2);
    // A new source object and context: nothing survives but the saved cursors.
    let second = source(&server)
        .poll(&ctx("hn", widgetron(), saved(&first)))
        .await
        .unwrap();
    let ids: Vec<&str> = second.mentions.iter().map(|m| m.id.as_str()).collect();
    // Everything inside the overlap is handed on again (40210100 was seen: the store's
    // dedup drops it), the late 40210160 included; 40209990 is older than the floor.
    assert_eq!(ids, ["40210200", "40210150", "40210100", "40210160"]);
    assert_eq!(second.counts.fetched, 4);
    assert_accounted(&second);
    assert_eq!(newest_of(&second, "widgetron"), at(1714571000));
}

#[tokio::test]
async fn one_failing_query_does_not_stop_the_others() {
    let server = MockServer::start().await;
    polling_call()
        .respond_with(json(fixture("hackernews/page0.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("query", "\"Gizmo\""))
        .respond_with(
            ResponseTemplate::new(400).set_body_string(r#"{"message":"bad query","status":400}"#),
        )
        .expect(1)
        .mount(&server)
        .await;
    let products = vec![product("Widgetron", &[]), product("Gizmo", &[])];
    let out = source(&server)
        .poll(&ctx("hn", products, HashMap::new()))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 2);
    assert_eq!(out.errors.len(), 1);
    assert!(
        out.errors[0].contains("Gizmo") && out.errors[0].contains("400"),
        "{:?}",
        out.errors
    );
    assert!(saved(&out).contains_key("widgetron") && !saved(&out).contains_key("gizmo"));
}

/// The README example, through the real config loader.
#[test]
fn readme_example_parses() {
    let text = r#"
[[products]]
name = "Widgetron"

[[sources]]
type = "hackernews"
interval = "10m"
# base_url = "https://hn.algolia.com/api/v1"
# hits_per_page = 100
"#;
    let config = pulse::config::Config::parse(text, std::path::Path::new("t.toml")).unwrap();
    assert_eq!(config.sources[0].name, "hackernews");
    assert_eq!(config.sources[0].kind.type_name(), "hackernews");
    let bad = pulse::config::Config::parse(
        &format!("{text}hits_per_page = 0\nquery = \"x\"\n"),
        std::path::Path::new("t.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("sources[0].query"), "{bad}");
}

#[tokio::test]
async fn long_rate_limit_stops_the_poll_without_waiting() {
    let server = MockServer::start().await;
    // Longer than http.max_retry_wait: not waited for inside the poll.
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .expect(1)
        .mount(&server)
        .await;
    let products = vec![product("Widgetron", &[]), product("Gizmo", &[])];
    let started = Instant::now();
    let err = source(&server)
        .poll(&ctx("hn", products, HashMap::new()))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    match err {
        SourceError::Fetch(FetchError::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_secs(3600))
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
}
