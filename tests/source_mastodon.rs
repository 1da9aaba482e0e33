//! The Mastodon source against local servers playing instances, with Status arrays in
//! Mastodon's format.

#[path = "common/sources.rs"]
mod sources;

use chrono::DateTime;
use chrono::{TimeZone, Utc};
use pulse::sources::mastodon::{Mastodon, MastodonConfig};
use pulse::sources::Source;
use sources::{
    assert_accounted, ctx, cursor_of, fixture, newest_of, overlap, product_excluding, saved,
    time_of,
};
use std::collections::HashMap;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn source(instances: &[&MockServer], extra: &str) -> Mastodon {
    let list: Vec<String> = instances
        .iter()
        .map(|s| format!("\"{}\"", s.uri()))
        .collect();
    let config: MastodonConfig =
        toml::from_str(&format!("instances = [{}]\n{extra}", list.join(", "))).unwrap();
    assert!(config.validate().is_empty(), "{:?}", config.validate());
    Mastodon::new(config)
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_raw(body, "application/json")
        .insert_header("X-RateLimit-Limit", "300")
        .insert_header("X-RateLimit-Remaining", "297")
        .insert_header("X-RateLimit-Reset", "2024-05-01T12:45:00.000000Z")
}

fn widgetron() -> Vec<pulse::config::ProductConfig> {
    vec![product_excluding("Widgetron", &[], &["toaster"])]
}

fn tag_call(tag: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET")).and(path(format!("/api/v1/timelines/tag/{tag}")))
}

fn scope(server: &MockServer, tag: &str) -> String {
    format!("{} #{tag}", server.uri())
}

/// The lowest Snowflake status id of a moment: milliseconds in the top 48 bits.
fn snowflake(t: DateTime<Utc>) -> String {
    ((t.timestamp_millis() as u64) << 16).to_string()
}

/// 12:40:10.123Z, the newest status of `tag_widgetron.json`.
fn first_newest() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 40, 10).unwrap() + chrono::Duration::milliseconds(123)
}

/// The cursor the first poll of `tag_widgetron.json` saves.
fn after_first_poll(server: &MockServer) -> HashMap<String, String> {
    HashMap::from([(
        scope(server, "widgetron"),
        serde_json::json!({"newest": "2024-05-01T12:40:10.123Z", "last_id": "112299000000000003"})
            .to_string(),
    )])
}

#[tokio::test]
async fn normal_page_with_default_tags_from_names() {
    let server = MockServer::start().await;
    tag_call("widgetron")
        .and(query_param("limit", "40"))
        .and(query_param_is_missing("min_id"))
        .respond_with(json(fixture("mastodon/tag_widgetron.json")))
        .expect(1)
        .mount(&server)
        .await;
    // "Widget Pro" becomes the tag #widgetpro.
    tag_call("widgetpro")
        .respond_with(json(fixture("mastodon/tag_widgetpro.json")))
        .expect(1)
        .mount(&server)
        .await;
    let products = vec![product_excluding(
        "Widgetron",
        &["Widget Pro"],
        &["toaster"],
    )];
    let out = source(&[&server], "")
        .poll(&ctx("mastodon", products, HashMap::new()))
        .await
        .unwrap();
    // The toaster post is vetoed by `exclude`; #WidgetPro names the product through its tag.
    let ids: Vec<&str> = out.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "https://fosstodon.example/users/alice/statuses/112299000000000003",
            "https://fosstodon.example/users/bruno/statuses/112299000000000002",
            "https://fosstodon.example/users/dina/statuses/112299000000000010",
        ]
    );
    let m = &out.mentions[0];
    assert_eq!(m.source, "mastodon");
    assert_eq!(
        m.text,
        "Trying #rust #widgetron today. Retries just work & the docs are great!"
    );
    assert_eq!(
        m.url.as_deref(),
        Some("https://fosstodon.example/@alice/112299000000000003")
    );
    assert_eq!(m.author.as_deref(), Some("alice@fosstodon.example"));
    assert_eq!(m.language.as_deref(), Some("en"));
    assert_eq!(m.engagement, Some(11));
    assert_eq!(
        m.published_at,
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 40, 10).unwrap() + chrono::Duration::milliseconds(123)
    );
    let de = &out.mentions[1];
    assert_eq!(de.language.as_deref(), Some("de"));
    assert_eq!(
        de.text,
        "Fehlerbericht. Widgetron stürzt bei mir ständig ab. Schade. #widgetron"
    );
    let pro = &out.mentions[2];
    assert_eq!(pro.text, "Loving my new #WidgetPro https://example.com/r");
    assert_eq!(pro.products, vec!["Widgetron"]);
    assert_eq!(
        out.quota_remaining,
        Some(297),
        "X-RateLimit-Remaining is reported"
    );
    // The toaster post is read and accounted for, not silently skipped.
    assert_eq!(out.counts.fetched, 4);
    assert_accounted(&out);
    assert_eq!(
        cursor_of(&out, &scope(&server, "widgetron")),
        serde_json::json!({"newest": "2024-05-01T12:40:10.123Z", "last_id": "112299000000000003"})
    );
    assert_eq!(
        cursor_of(&out, &scope(&server, "widgetpro")),
        serde_json::json!({"newest": "2024-05-01T12:50:00Z", "last_id": "112299000000000010"})
    );
}

#[tokio::test]
async fn pages_forward_with_min_id_until_a_short_page() {
    let server = MockServer::start().await;
    // The first page starts at the Snowflake of `newest − overlap`; the next ones go on
    // from the newest id of the page before.
    tag_call("widgetron")
        .and(query_param("limit", "2"))
        .and(query_param(
            "min_id",
            snowflake(first_newest() - overlap()).as_str(),
        ))
        .respond_with(json(fixture("mastodon/newer_page1.json")))
        .expect(1)
        .mount(&server)
        .await;
    tag_call("widgetron")
        .and(query_param("limit", "2"))
        .and(query_param("min_id", "112299000000000005"))
        .respond_with(json(fixture("mastodon/newer_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let cursors = after_first_poll(&server);
    let out = source(&[&server], "limit = 2")
        .poll(&ctx("mastodon", widgetron(), cursors))
        .await
        .unwrap();
    let ids: Vec<String> = out
        .mentions
        .iter()
        .map(|m| m.id.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "112299000000000005",
            "112299000000000004",
            "112299000000000006"
        ]
    );
    assert_eq!(out.mentions[1].language, None);
    assert!(out.truncated.is_empty() && out.warnings.is_empty());
    assert_eq!(
        cursor_of(&out, &scope(&server, "widgetron")),
        serde_json::json!({"newest": "2024-05-01T13:10:00Z", "last_id": "112299000000000006"})
    );
}

#[tokio::test]
async fn explicit_tags_replace_the_defaults() {
    let server = MockServer::start().await;
    tag_call("wtron")
        .respond_with(json(fixture("mastodon/newer_page2.json")))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&[&server], "tags = [\"#WTron\"]")
        .poll(&ctx("mastodon", widgetron(), HashMap::new()))
        .await
        .unwrap();
    // The text names Widgetron, so it is kept although the tag is not a product name.
    assert_eq!(out.mentions.len(), 1);
    assert!(saved(&out).contains_key(&scope(&server, "wtron")));
}

#[tokio::test]
async fn empty_timeline() {
    let server = MockServer::start().await;
    tag_call("widgetron")
        .and(query_param(
            "min_id",
            snowflake(first_newest() - overlap()).as_str(),
        ))
        .respond_with(json(fixture("mastodon/empty.json")))
        .expect(1)
        .mount(&server)
        .await;
    let cursors = after_first_poll(&server);
    let out = source(&[&server], "")
        .poll(&ctx("mastodon", widgetron(), cursors))
        .await
        .unwrap();
    assert!(out.mentions.is_empty() && out.cursors.is_empty() && out.errors.is_empty());
}

#[tokio::test]
async fn restart_asks_only_for_newer_statuses() {
    let server = MockServer::start().await;
    tag_call("widgetron")
        .and(query_param_is_missing("min_id"))
        .respond_with(json(fixture("mastodon/tag_widgetron.json")))
        .expect(1)
        .mount(&server)
        .await;
    // From the Snowflake of 12:40:10.123 − 1h the instance lists the new statuses, the ones
    // inside the overlap, and (sloppily) one older than that.
    let mut statuses: Vec<serde_json::Value> =
        serde_json::from_str(&fixture("mastodon/newer_page1.json")).unwrap();
    let seen: Vec<serde_json::Value> =
        serde_json::from_str(&fixture("mastodon/tag_widgetron.json")).unwrap();
    let old: serde_json::Value = serde_json::from_str(
        &seen[0]
            .to_string()
            .replace("112299000000000003", "112299000000000000"),
    )
    .unwrap();
    statuses.extend(seen);
    let mut old = old;
    old["created_at"] = "2024-05-01T11:30:00.000Z".into();
    statuses.push(old);
    tag_call("widgetron")
        .and(query_param(
            "min_id",
            snowflake(first_newest() - overlap()).as_str(),
        ))
        .respond_with(json(serde_json::Value::from(statuses).to_string()))
        .expect(1)
        .mount(&server)
        .await;
    let first = source(&[&server], "")
        .poll(&ctx("mastodon", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(first.mentions.len(), 2);
    let second = source(&[&server], "")
        .poll(&ctx("mastodon", widgetron(), saved(&first)))
        .await
        .unwrap();
    let ids: Vec<&str> = second
        .mentions
        .iter()
        .map(|m| m.id.rsplit('/').next().unwrap())
        .collect();
    // 03 and 02 are inside the overlap: handed on again (the store drops them); the
    // toaster post (01) is vetoed; 00 is older than the window.
    assert_eq!(
        ids,
        [
            "112299000000000005",
            "112299000000000004",
            "112299000000000003",
            "112299000000000002"
        ]
    );
    assert_accounted(&second);
    assert_eq!(
        newest_of(&second, &scope(&server, "widgetron")),
        time_of(&serde_json::json!("2024-05-01T13:05:00Z"))
    );
    assert_eq!(
        cursor_of(&second, &scope(&server, "widgetron"))["last_id"],
        "112299000000000005"
    );
}

#[tokio::test]
async fn closed_instance_is_a_warning_and_others_continue() {
    let closed = MockServer::start().await;
    let open = MockServer::start().await;
    tag_call("widgetron")
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_raw(fixture("mastodon/unauthorized.json"), "application/json"),
        )
        .expect(1)
        .mount(&closed)
        .await;
    // Every tag of a closed instance is closed too: it is asked once.
    tag_call("wtron")
        .respond_with(json(fixture("mastodon/empty.json")))
        .expect(0)
        .mount(&closed)
        .await;
    tag_call("widgetron")
        .respond_with(json(fixture("mastodon/tag_widgetron.json")))
        .expect(1)
        .mount(&open)
        .await;
    tag_call("wtron")
        .respond_with(json(fixture("mastodon/empty.json")))
        .expect(1)
        .mount(&open)
        .await;
    let products = vec![product_excluding("Widgetron", &["WTron"], &["toaster"])];
    let out = source(&[&closed, &open], "")
        .poll(&ctx("mastodon", products, HashMap::new()))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 2);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0].contains(&closed.uri())
            && out.warnings[0].contains("401")
            && out.warnings[0].contains("sign-in"),
        "{}",
        out.warnings[0]
    );
}

#[tokio::test]
async fn one_failing_instance_is_an_error_entry() {
    let broken = MockServer::start().await;
    let good = MockServer::start().await;
    tag_call("widgetron")
        .respond_with(ResponseTemplate::new(502))
        .mount(&broken)
        .await;
    tag_call("widgetron")
        .respond_with(json(fixture("mastodon/tag_widgetron.json")))
        .mount(&good)
        .await;
    let out = source(&[&broken, &good], "")
        .poll(&ctx("mastodon", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 2);
    assert_eq!(out.errors.len(), 1);
    assert!(out.errors[0].contains(&broken.uri()) && out.errors[0].contains("502"));
    assert!(saved(&out).contains_key(&scope(&good, "widgetron")));
    assert!(!saved(&out).contains_key(&scope(&broken, "widgetron")));
}

/// The README example, through the real config loader.
#[test]
fn readme_example_parses() {
    let text = r#"
[[products]]
name = "Widgetron"

[[sources]]
type = "mastodon"
interval = "15m"
instances = ["https://mastodon.social", "https://fosstodon.org"]
# tags = ["widgetron"]
# limit = 40
"#;
    let config = pulse::config::Config::parse(text, std::path::Path::new("t.toml")).unwrap();
    assert_eq!(config.sources[0].kind.type_name(), "mastodon");
    let bad = pulse::config::Config::parse(
        "[[products]]\nname = \"W\"\n[[sources]]\ntype = \"mastodon\"\ninstances = []\nlimit = 80\n",
        std::path::Path::new("t.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("sources[0].instances") && bad.contains("sources[0].limit"),
        "{bad}"
    );
}

#[tokio::test]
async fn unknown_hashtag_is_an_empty_timeline() {
    let server = MockServer::start().await;
    tag_call("widgetron")
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw(r#"{"error":"Record not found"}"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&[&server], "")
        .poll(&ctx("mastodon", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert!(out.mentions.is_empty() && out.errors.is_empty() && out.warnings.is_empty());
}
