//! The Lemmy source against local servers playing instances, with `/api/v3/search`
//! bodies in Lemmy 0.19's format.

#[path = "common/sources.rs"]
mod sources;

use chrono::{TimeZone, Utc};
use pulse::sources::lemmy::{Lemmy, LemmyConfig};
use pulse::sources::{FetchError, Source, SourceError};
use sources::{
    assert_accounted, ctx, cursor_at, cursor_of, fixture, newest_of, product, saved, time_of,
};
use std::collections::HashMap;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn source(instances: &[&MockServer], extra: &str) -> Lemmy {
    let list: Vec<String> = instances
        .iter()
        .map(|s| format!("\"{}\"", s.uri()))
        .collect();
    let config: LemmyConfig =
        toml::from_str(&format!("instances = [{}]\n{extra}", list.join(", "))).unwrap();
    assert!(config.validate().is_empty(), "{:?}", config.validate());
    Lemmy::new(config)
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

fn widgetron() -> Vec<pulse::config::ProductConfig> {
    vec![product("Widgetron", &[])]
}

/// The documented polling call: newest first, posts and comments, remote content too.
fn search_call(limit: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/api/v3/search"))
        .and(query_param("q", "Widgetron"))
        .and(query_param("type_", "All"))
        .and(query_param("sort", "New"))
        .and(query_param("listing_type", "All"))
        .and(query_param("limit", limit))
}

fn scope(server: &MockServer) -> String {
    format!("{} widgetron", server.uri())
}

/// The cursor of a previous poll whose newest item was published at `t` (RFC 3339).
fn resume(server: &MockServer, t: &str) -> HashMap<String, String> {
    let t = time_of(&serde_json::json!(t));
    HashMap::from([(scope(server), cursor_at(t))])
}

#[tokio::test]
async fn normal_page_has_posts_and_comments() {
    let server = MockServer::start().await;
    search_call("50")
        .and(query_param("page", "1"))
        .respond_with(json(fixture("lemmy/search_page1.json")))
        .expect(2) // two polls
        .mount(&server)
        .await;
    // Read once per instance, only because an item carries a language id.
    Mock::given(method("GET"))
        .and(path("/api/v3/site"))
        .respond_with(json(fixture("lemmy/site.json")))
        .expect(1)
        .mount(&server)
        .await;
    let lemmy = source(&[&server], "");
    let out = lemmy
        .poll(&ctx("lemmy", widgetron(), HashMap::new()))
        .await
        .unwrap();
    let ids: Vec<&str> = out.mentions.iter().map(|m| m.id.as_str()).collect();
    // "widgetronics" matched Lemmy's substring search but does not name the product.
    assert_eq!(
        ids,
        [
            "https://programming.example/post/1234570",
            "https://programming.example/post/1234569",
            "https://lemmy.example/comment/9876544",
        ]
    );
    let post = &out.mentions[0];
    assert_eq!(post.source, "lemmy");
    assert_eq!(
        post.url.as_deref(),
        Some("https://programming.example/post/1234570")
    );
    assert_eq!(
        post.text,
        "Widgetron 0.3 is out. Markdown **body** with notes"
    );
    assert_eq!(post.author.as_deref(), Some("alice@programming.example"));
    assert_eq!(post.engagement, Some(57));
    assert_eq!(
        post.published_at,
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 50, 0).unwrap()
            + chrono::Duration::microseconds(111_111)
    );
    assert_eq!(out.mentions[1].text, "Widgetron on a Pi?");
    let comment = &out.mentions[2];
    assert_eq!(comment.text, "Widgetron works for me");
    assert_eq!(comment.author.as_deref(), Some("bob@lemmy.example"));
    assert_eq!(comment.engagement, Some(4));
    assert_eq!(
        post.language.as_deref(),
        Some("en"),
        "language_id 37 via /api/v3/site"
    );
    assert_eq!(comment.language, None, "language_id 0 is undetermined");
    assert_eq!((out.counts.fetched, out.counts.unmatched), (4, 1));
    assert_accounted(&out);
    // The same source object polls again: everything is inside the overlap and handed on
    // again (the store drops it), the cursor stays, and the language table is cached.
    let again = lemmy
        .poll(&ctx("lemmy", widgetron(), saved(&out)))
        .await
        .unwrap();
    let again_ids: Vec<&str> = again.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(again_ids, ids);
    assert_eq!(again.mentions[0].language.as_deref(), Some("en"));
    assert!(again.cursors.is_empty(), "{:?}", again.cursors);
    assert_eq!(
        cursor_of(&out, &scope(&server)),
        serde_json::json!({"newest": "2024-05-01T12:50:00.111111Z"})
    );
}

#[tokio::test]
async fn pages_while_either_list_is_full_and_new() {
    let server = MockServer::start().await;
    for (page, body) in [
        ("1", "search_page1.json"),
        ("2", "search_page2.json"),
        ("3", "empty.json"),
    ] {
        search_call("2")
            .and(query_param("page", page))
            .respond_with(json(fixture(&format!("lemmy/{body}"))))
            .expect(1)
            .mount(&server)
            .await;
    }
    let out = source(&[&server], "limit = 2")
        .poll(&ctx(
            "lemmy",
            widgetron(),
            // Reads down to 09:00.
            resume(&server, "2024-05-01T10:00:00Z"),
        ))
        .await
        .unwrap();
    let ids: Vec<&str> = out
        .mentions
        .iter()
        .map(|m| m.id.rsplit('/').next().unwrap())
        .collect();
    // The removed post on page 2 is not a mention, but it is accounted for.
    assert_eq!(ids, ["1234570", "1234569", "9876544", "1234500"]);
    assert_eq!(out.counts.fetched, 6);
    assert_eq!((out.counts.unmatched, out.counts.rejected), (1, 1));
    assert_accounted(&out);
    assert!(out.truncated.is_empty() && out.warnings.is_empty());
}

#[tokio::test]
async fn empty_result() {
    let server = MockServer::start().await;
    search_call("50")
        .respond_with(json(fixture("lemmy/empty.json")))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&[&server], "")
        .poll(&ctx(
            "lemmy",
            widgetron(),
            resume(&server, "2024-05-01T12:50:00.111111Z"),
        ))
        .await
        .unwrap();
    assert!(out.mentions.is_empty() && out.cursors.is_empty() && out.errors.is_empty());
}

#[tokio::test]
async fn restart_stops_at_the_stored_cursor() {
    let server = MockServer::start().await;
    search_call("50")
        .and(query_param("page", "1"))
        .respond_with(json(fixture("lemmy/search_page1.json")))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    // After the restart: the new items, the ones inside the overlap, and one older than
    // the window (11:00, before 12:50:00.111111 − 1h).
    let mut newer: serde_json::Value = serde_json::from_str(&fixture("lemmy/newer.json")).unwrap();
    let old: serde_json::Value = serde_json::from_str(&fixture("lemmy/search_page2.json")).unwrap();
    newer["posts"]
        .as_array_mut()
        .unwrap()
        .push(old["posts"][0].clone());
    search_call("50")
        .and(query_param("page", "1"))
        .respond_with(json(newer.to_string()))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    // Both lists end on page 1: page 2 is never asked for.
    search_call("50")
        .and(query_param("page", "2"))
        .respond_with(json(fixture("lemmy/empty.json")))
        .expect(0)
        .mount(&server)
        .await;
    let first = source(&[&server], "")
        .poll(&ctx("lemmy", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(first.mentions.len(), 3);
    let second = source(&[&server], "")
        .poll(&ctx("lemmy", widgetron(), saved(&first)))
        .await
        .unwrap();
    let ids: Vec<&str> = second
        .mentions
        .iter()
        .map(|m| m.id.rsplit('/').next().unwrap())
        .collect();
    // 1234570 and 9876544 are inside the overlap: handed on again (the store drops them);
    // 1234500 is older than the window.
    assert_eq!(ids, ["1234580", "1234570", "9876550", "9876544"]);
    assert_accounted(&second);
    assert_eq!(
        newest_of(&second, &scope(&server)),
        time_of(&serde_json::json!("2024-05-01T13:00:00Z"))
    );
}

#[tokio::test]
async fn private_instance_is_a_warning_and_others_continue() {
    let private = MockServer::start().await;
    let public = MockServer::start().await;
    search_call("50")
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            fixture("lemmy/instance_is_private.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&private)
        .await;
    search_call("50")
        .respond_with(json(fixture("lemmy/search_page1.json")))
        .expect(1)
        .mount(&public)
        .await;
    let out = source(&[&private, &public], "")
        .poll(&ctx("lemmy", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 3);
    assert!(out.errors.is_empty());
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].contains(&private.uri()) && out.warnings[0].contains("private"));
}

#[tokio::test]
async fn lemmy_rate_limit_body_is_a_rate_limit() {
    let server = MockServer::start().await;
    search_call("50")
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_raw(fixture("lemmy/rate_limit_error.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = source(&[&server], "")
        .poll(&ctx("lemmy", widgetron(), HashMap::new()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SourceError::Fetch(FetchError::RateLimited { .. })),
        "{err:?}"
    );
}

/// The README example, through the real config loader.
#[test]
fn readme_example_parses() {
    let text = r#"
[[products]]
name = "Widgetron"

[[sources]]
type = "lemmy"
interval = "15m"
instances = ["https://lemmy.world", "https://programming.dev"]
# limit = 50
"#;
    let config = pulse::config::Config::parse(text, std::path::Path::new("t.toml")).unwrap();
    assert_eq!(config.sources[0].kind.type_name(), "lemmy");
    let bad = pulse::config::Config::parse(
        "[[products]]\nname = \"W\"\n[[sources]]\ntype = \"lemmy\"\ninstances = [\"ftp://x.example\"]\n",
        std::path::Path::new("t.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("sources[0].instances[0]"), "{bad}");
}
